//! Digest client (RFC 3261 §22.2–22.4, RFC 7616, RFC 8760): answers 401
//! WWW-Authenticate and 407 Proxy-Authenticate challenges with per-realm credentials.
//!
//! ```text
//!  HA1 = H(username ":" realm ":" password)            (-sess: H(HA1 ":" nonce ":" cnonce))
//!  HA2 = H(method ":" digest-uri)                      (qop=auth)
//!  response = H(HA1 ":" nonce ":" nc ":" cnonce ":" qop ":" HA2)   (RFC 7616 §3.4.1)
//!  response = H(HA1 ":" nonce ":" HA2)                  (no qop, RFC 2069 compatibility)
//! ```
//! Sans-IO: the caller supplies the client nonce (`cnonce`), so no randomness is drawn here.

use std::collections::HashMap;

use md5::Md5;
use sha2::{Digest, Sha256, Sha512_256};

use crate::message::typed::AuthParams;
use crate::message::{Header, HeaderName, Request, Response};

/// Digest algorithms, weakest first (RFC 7616 §3.3, RFC 8760 §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Algorithm {
    /// MD5 (the default when `algorithm` is absent).
    Md5,
    /// MD5-sess.
    Md5Sess,
    /// SHA-256.
    Sha256,
    /// SHA-256-sess.
    Sha256Sess,
    /// SHA-512-256.
    Sha512_256,
    /// SHA-512-256-sess.
    Sha512_256Sess,
}

impl Algorithm {
    fn parse(v: Option<&[u8]>) -> Option<Self> {
        let Some(v) = v else {
            return Some(Algorithm::Md5);
        };
        let table = [
            (&b"MD5"[..], Algorithm::Md5),
            (b"MD5-sess", Algorithm::Md5Sess),
            (b"SHA-256", Algorithm::Sha256),
            (b"SHA-256-sess", Algorithm::Sha256Sess),
            (b"SHA-512-256", Algorithm::Sha512_256),
            (b"SHA-512-256-sess", Algorithm::Sha512_256Sess),
        ];
        table
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(v))
            .map(|(_, a)| *a)
    }

    /// The token written in the `algorithm` parameter.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Md5Sess => "MD5-sess",
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Sha256Sess => "SHA-256-sess",
            Algorithm::Sha512_256 => "SHA-512-256",
            Algorithm::Sha512_256Sess => "SHA-512-256-sess",
        }
    }

    fn is_sess(self) -> bool {
        matches!(
            self,
            Algorithm::Md5Sess | Algorithm::Sha256Sess | Algorithm::Sha512_256Sess
        )
    }

    /// Lower-case hex of the hash of `data`.
    fn hex(self, data: &[u8]) -> String {
        let bytes: Vec<u8> = match self {
            Algorithm::Md5 | Algorithm::Md5Sess => Md5::digest(data).to_vec(),
            Algorithm::Sha256 | Algorithm::Sha256Sess => Sha256::digest(data).to_vec(),
            Algorithm::Sha512_256 | Algorithm::Sha512_256Sess => Sha512_256::digest(data).to_vec(),
        };
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// One parsed Digest challenge (RFC 7616 §3.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// realm.
    pub realm: String,
    /// nonce.
    pub nonce: String,
    /// opaque, echoed back.
    pub opaque: Option<String>,
    /// algorithm.
    pub algorithm: Algorithm,
    /// Whether `qop` offers `auth` (auth-int is not used).
    pub qop_auth: bool,
    /// `stale=true`: the nonce expired but the credentials were right (RFC 7616 §3.3).
    pub stale: bool,
    /// Came in Proxy-Authenticate (answer in Proxy-Authorization).
    pub proxy: bool,
}

fn text(v: &[u8]) -> String {
    String::from_utf8_lossy(v).into_owned()
}

impl Challenge {
    /// Parses a Digest challenge; `None` for other schemes, unknown algorithms or missing
    /// realm/nonce.
    pub fn parse(a: &AuthParams<'_>, proxy: bool) -> Option<Self> {
        if !a.is_digest() {
            return None;
        }
        let qop_auth = a.params.value("qop").is_some_and(|q| {
            q.split(|b| *b == b',')
                .any(|t| crate::message::scan::trim_lws(t) == b"auth")
        });
        Some(Challenge {
            realm: text(a.params.value("realm")?),
            nonce: text(a.params.value("nonce")?),
            opaque: a.params.value("opaque").map(text),
            algorithm: Algorithm::parse(a.params.value("algorithm"))?,
            qop_auth,
            stale: a
                .params
                .value("stale")
                .is_some_and(|s| s.eq_ignore_ascii_case(b"true")),
            proxy,
        })
    }
}

/// Why a challenge was not answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DigestError {
    /// The response carries no Digest challenge this client can answer.
    #[error("no usable Digest challenge")]
    NoChallenge,
    /// No credentials are configured for the challenged realm(s).
    #[error("no credentials for realm {0:?}")]
    NoCredentials(String),
    /// The request already carried our credentials for this realm and the challenge is not
    /// `stale`: the password is wrong (RFC 3261 §22.2); ask the user.
    #[error("credentials for realm {0:?} were rejected")]
    CredentialsRejected(String),
}

/// A username and password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// Username (for IMS: the private identity).
    pub username: String,
    /// Password.
    pub password: String,
}

/// Answers challenges; remembers the last challenge per realm and its nonce count.
#[derive(Debug, Clone, Default)]
pub struct DigestClient {
    credentials: HashMap<String, Credentials>,
    /// realm → (challenge, last nc used with its nonce).
    sessions: HashMap<String, (Challenge, u32)>,
}

impl DigestClient {
    /// A client with no credentials.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the credentials used for `realm`.
    pub fn set_credentials(&mut self, realm: &str, username: &str, password: &str) {
        let c = Credentials {
            username: username.into(),
            password: password.into(),
        };
        self.credentials.insert(realm.into(), c);
    }

    /// Answers a 401/407 to `request`: one Authorization / Proxy-Authorization header per
    /// challenged realm we hold credentials for, choosing the strongest algorithm offered
    /// for each realm (RFC 8760 §2.4). The caller re-sends `request` with these headers (in
    /// place of its old ones for the same realms), a new CSeq and a new branch.
    pub fn answer(
        &mut self,
        request: &Request<'_>,
        resp: &Response<'_>,
        cnonce: &str,
    ) -> Result<Vec<Header<'static>>, DigestError> {
        let mut best: HashMap<String, Challenge> = HashMap::new();
        for (name, proxy) in [
            (HeaderName::WwwAuthenticate, false),
            (HeaderName::ProxyAuthenticate, true),
        ] {
            for c in resp
                .headers
                .auth(name)
                .iter()
                .filter_map(|a| Challenge::parse(a, proxy))
            {
                match best.get(&c.realm) {
                    Some(prev) if prev.algorithm >= c.algorithm => {}
                    _ => {
                        best.insert(c.realm.clone(), c);
                    }
                }
            }
        }
        if best.is_empty() {
            return Err(DigestError::NoChallenge);
        }
        let mut headers = Vec::new();
        let mut missing = None;
        for (realm, challenge) in best {
            if !self.credentials.contains_key(&realm) {
                missing = Some(realm);
                continue;
            }
            if !challenge.stale && already_answered(request, &realm, challenge.proxy) {
                return Err(DigestError::CredentialsRejected(realm));
            }
            self.sessions.insert(realm.clone(), (challenge, 0));
            if let Some(h) =
                self.authorization(&realm, request.method.as_bytes(), &request.uri, cnonce)
            {
                headers.push(h);
            }
        }
        match (headers.is_empty(), missing) {
            (true, Some(realm)) => Err(DigestError::NoCredentials(realm)),
            (true, None) => Err(DigestError::NoChallenge),
            (false, _) => Ok(headers),
        }
    }

    /// Credentials for a new request to `realm` using the last challenge (nonce reuse with
    /// an incremented nc, RFC 7616 §3.4.5), e.g. a re-REGISTER.
    pub fn authorization(
        &mut self,
        realm: &str,
        method: &[u8],
        uri: &[u8],
        cnonce: &str,
    ) -> Option<Header<'static>> {
        let creds = self.credentials.get(realm)?;
        let (challenge, nc) = self.sessions.get_mut(realm)?;
        *nc += 1;
        let value = credentials_value(challenge, creds, method, uri, *nc, cnonce);
        let name = if challenge.proxy {
            "Proxy-Authorization"
        } else {
            "Authorization"
        };
        Some(Header::new(name.as_bytes().to_vec(), value.into_bytes()))
    }
}

/// Whether `request` already carries Digest credentials for `realm`.
fn already_answered(request: &Request<'_>, realm: &str, proxy: bool) -> bool {
    let name = if proxy {
        HeaderName::ProxyAuthorization
    } else {
        HeaderName::Authorization
    };
    request
        .headers
        .auth(name)
        .iter()
        .any(|a| a.params.value("realm") == Some(realm.as_bytes()))
}

/// The `response` value (RFC 7616 §3.4.1–3.4.2).
pub fn response_digest(
    c: &Challenge,
    creds: &Credentials,
    method: &[u8],
    uri: &[u8],
    nc: u32,
    cnonce: &str,
) -> String {
    let alg = c.algorithm;
    let mut a1 = format!("{}:{}:{}", creds.username, c.realm, creds.password);
    if alg.is_sess() {
        a1 = format!("{}:{}:{cnonce}", alg.hex(a1.as_bytes()), c.nonce);
    }
    let ha1 = alg.hex(a1.as_bytes());
    let mut a2 = method.to_vec();
    a2.push(b':');
    a2.extend_from_slice(uri);
    let ha2 = alg.hex(&a2);
    let kd = if c.qop_auth {
        format!("{ha1}:{}:{nc:08x}:{cnonce}:auth:{ha2}", c.nonce)
    } else {
        format!("{ha1}:{}:{ha2}", c.nonce)
    };
    alg.hex(kd.as_bytes())
}

/// Quotes a value for a quoted-string (RFC 3261 §25.1 quoted-pair for `"` and `\`).
fn quote(v: &str) -> String {
    let mut s = String::with_capacity(v.len() + 2);
    s.push('"');
    for ch in v.chars() {
        if ch == '"' || ch == '\\' {
            s.push('\\');
        }
        s.push(ch);
    }
    s.push('"');
    s
}

/// The full credentials value (RFC 7616 §3.4, RFC 3261 §22.4).
fn credentials_value(
    c: &Challenge,
    creds: &Credentials,
    method: &[u8],
    uri: &[u8],
    nc: u32,
    cnonce: &str,
) -> String {
    let response = response_digest(c, creds, method, uri, nc, cnonce);
    let uri = String::from_utf8_lossy(uri);
    let mut v = format!(
        "Digest username={}, realm={}, nonce={}, uri={}, response=\"{response}\", algorithm={}",
        quote(&creds.username),
        quote(&c.realm),
        quote(&c.nonce),
        quote(&uri),
        c.algorithm.as_str()
    );
    if c.qop_auth {
        v.push_str(&format!(
            ", cnonce={}, qop=auth, nc={nc:08x}",
            quote(cnonce)
        ));
    }
    if let Some(o) = &c.opaque {
        v.push_str(&format!(", opaque={}", quote(o)));
    }
    v
}

#[cfg(test)]
mod rfc7616 {
    //! RFC 7616 §3.9.1 and RFC 2617 §3.5 known-answer vectors.
    use super::*;

    fn mufasa() -> Credentials {
        Credentials {
            username: "Mufasa".into(),
            password: "Circle of Life".into(),
        }
    }

    fn challenge(algorithm: Algorithm, realm: &str, nonce: &str) -> Challenge {
        Challenge {
            realm: realm.into(),
            nonce: nonce.into(),
            opaque: None,
            algorithm,
            qop_auth: true,
            stale: false,
            proxy: false,
        }
    }

    const NONCE: &str = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
    const CNONCE: &str = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";

    /// RFC 7616 §3.9.1, MD5.
    #[test]
    fn section_3_9_1_md5() {
        let c = challenge(Algorithm::Md5, "http-auth@example.org", NONCE);
        let r = response_digest(&c, &mufasa(), b"GET", b"/dir/index.html", 1, CNONCE);
        assert_eq!(r, "8ca523f5e9506fed4657c9700eebdbec");
    }

    /// RFC 7616 §3.9.1, SHA-256.
    #[test]
    fn section_3_9_1_sha256() {
        let c = challenge(Algorithm::Sha256, "http-auth@example.org", NONCE);
        let r = response_digest(&c, &mufasa(), b"GET", b"/dir/index.html", 1, CNONCE);
        assert_eq!(
            r,
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
        );
    }

    /// RFC 2617 §3.5.
    #[test]
    fn rfc2617_section_3_5() {
        let c = challenge(
            Algorithm::Md5,
            "testrealm@host.com",
            "dcd98b7102dd2f0e8b11d0f600bfb0c093",
        );
        // RFC 2617's password is "Circle Of Life" (capital O), unlike RFC 7616's.
        let creds = Credentials {
            username: "Mufasa".into(),
            password: "Circle Of Life".into(),
        };
        let r = response_digest(&c, &creds, b"GET", b"/dir/index.html", 1, "0a4f113b");
        assert_eq!(r, "6629fae49393a05397450978507c4ef1");
    }
}
