//! Typed views of the attributes the interworking reads.

use std::fmt;

use super::session::{Attributes, Media};
use super::SdpError;

/// `a=rtpmap:<pt> <name>/<clock>[/<channels>]` (RFC 8866 §6.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpMap {
    /// Payload type.
    pub pt: u8,
    /// Encoding name as written (`PCMU`, `opus`, `telephone-event`).
    pub encoding: String,
    /// Clock rate in Hz.
    pub clock_rate: u32,
    /// Channels, if written.
    pub channels: Option<u8>,
}

impl RtpMap {
    /// Parses the attribute value.
    pub fn parse(value: &str) -> Option<Self> {
        let (pt, rest) = value.split_once(' ')?;
        let mut parts = rest.trim().split('/');
        let encoding = parts.next()?.to_owned();
        let clock_rate = parts.next()?.parse().ok()?;
        let channels = match parts.next() {
            Some(c) => Some(c.parse().ok()?),
            None => None,
        };
        Some(Self {
            pt: pt.parse().ok()?,
            encoding,
            clock_rate,
            channels,
        })
    }

    /// Whether this is `name` at `clock_rate`, comparing names case-insensitively
    /// (RFC 4855 §3: media subtype names are case-insensitive).
    pub fn is(&self, name: &str, clock_rate: u32) -> bool {
        self.encoding.eq_ignore_ascii_case(name) && self.clock_rate == clock_rate
    }
}

impl fmt::Display for RtpMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}/{}", self.pt, self.encoding, self.clock_rate)?;
        match self.channels {
            Some(c) => write!(f, "/{c}"),
            None => Ok(()),
        }
    }
}

/// The codecs a media section offers, in preference order, with static payload types
/// (RFC 3551 §6) filled in when no `a=rtpmap` names them.
pub fn codecs(media: &Media) -> Vec<RtpMap> {
    let maps: Vec<RtpMap> = media
        .attr_values("rtpmap")
        .filter_map(RtpMap::parse)
        .collect();
    media
        .formats
        .iter()
        .filter_map(|f| f.parse::<u8>().ok())
        .filter_map(|pt| {
            maps.iter()
                .find(|m| m.pt == pt)
                .cloned()
                .or_else(|| static_codec(pt))
        })
        .collect()
}

/// RFC 3551 §6 static payload types the gateway can carry.
fn static_codec(pt: u8) -> Option<RtpMap> {
    let (name, rate) = match pt {
        0 => ("PCMU", 8000),
        8 => ("PCMA", 8000),
        9 => ("G722", 8000),
        18 => ("G729", 8000),
        _ => return None,
    };
    Some(RtpMap {
        pt,
        encoding: name.to_owned(),
        clock_rate: rate,
        channels: None,
    })
}

/// The `a=fmtp` parameters for payload type `pt`.
pub fn fmtp(media: &Media, pt: u8) -> Option<&str> {
    let prefix = pt.to_string();
    media.attr_values("fmtp").find_map(|v| {
        let (p, params) = v.split_once(' ')?;
        (p == prefix).then_some(params.trim())
    })
}

/// Media direction (RFC 8866 §6.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// `a=sendrecv` (the default).
    SendRecv,
    /// `a=sendonly`.
    SendOnly,
    /// `a=recvonly`.
    RecvOnly,
    /// `a=inactive`.
    Inactive,
}

impl Direction {
    /// The direction a media section declares (sendrecv when none is written).
    pub fn of(media: &Media) -> Self {
        for a in media.attrs() {
            match a.name.as_str() {
                "sendonly" => return Self::SendOnly,
                "recvonly" => return Self::RecvOnly,
                "inactive" => return Self::Inactive,
                "sendrecv" => return Self::SendRecv,
                _ => {}
            }
        }
        Self::SendRecv
    }

    /// The direction an answer takes for an offer with this direction (RFC 3264 §6.1).
    pub fn answer(self) -> Self {
        match self {
            Self::SendOnly => Self::RecvOnly,
            Self::RecvOnly => Self::SendOnly,
            other => other,
        }
    }

    /// The attribute name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SendRecv => "sendrecv",
            Self::SendOnly => "sendonly",
            Self::RecvOnly => "recvonly",
            Self::Inactive => "inactive",
        }
    }
}

/// DTLS role attribute `a=setup` (RFC 4145 §4, RFC 8842 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setup {
    /// `active`: this side starts the DTLS handshake (client).
    Active,
    /// `passive`: this side waits for the handshake (server).
    Passive,
    /// `actpass`: either; only in offers.
    ActPass,
}

impl Setup {
    /// Parses the attribute value.
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim() {
            "active" => Some(Self::Active),
            "passive" => Some(Self::Passive),
            "actpass" => Some(Self::ActPass),
            _ => None,
        }
    }

    /// The attribute value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Passive => "passive",
            Self::ActPass => "actpass",
        }
    }
}

/// `a=fingerprint:<hash> <hex>` (RFC 8122 §5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    /// Hash function name, lower case (`sha-256`).
    pub hash: String,
    /// Upper-case hex octets separated by colons.
    pub value: String,
}

impl Fingerprint {
    /// Parses the attribute value.
    pub fn parse(value: &str) -> Option<Self> {
        let (hash, fp) = value.trim().split_once(' ')?;
        let fp = fp.trim();
        let well_formed = !fp.is_empty()
            && fp
                .split(':')
                .all(|o| o.len() == 2 && o.bytes().all(|b| b.is_ascii_hexdigit()));
        well_formed.then(|| Self {
            hash: hash.to_ascii_lowercase(),
            value: fp.to_ascii_uppercase(),
        })
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.hash, self.value)
    }
}

/// SDES crypto suites rtcgate offers and accepts toward IMS (RFC 4568, RFC 7714).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CryptoSuite {
    /// AES_CM_128_HMAC_SHA1_80
    AesCm128HmacSha1_80,
    /// AES_CM_128_HMAC_SHA1_32
    AesCm128HmacSha1_32,
    /// AEAD_AES_128_GCM
    AeadAes128Gcm,
    /// AEAD_AES_256_GCM
    AeadAes256Gcm,
}

impl CryptoSuite {
    /// The SDES name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            Self::AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
            Self::AeadAes128Gcm => "AEAD_AES_128_GCM",
            Self::AeadAes256Gcm => "AEAD_AES_256_GCM",
        }
    }

    /// Parses an SDES suite name.
    pub fn parse(name: &str) -> Option<Self> {
        [
            Self::AesCm128HmacSha1_80,
            Self::AesCm128HmacSha1_32,
            Self::AeadAes128Gcm,
            Self::AeadAes256Gcm,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }
}

/// `a=crypto:<tag> <suite> inline:<key||salt base64>[|lifetime][|MKI:len] [params]`
/// (RFC 4568 §9.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crypto {
    /// The tag that pairs offer and answer lines.
    pub tag: u32,
    /// The suite.
    pub suite: CryptoSuite,
    /// Base64 master key and salt, exactly as written.
    pub key_b64: String,
}

impl Crypto {
    /// Parses the attribute value. Lines with an unknown suite, an MKI (not supported by
    /// the SRTP engine), several keys or session parameters are refused with a reason, so
    /// the caller can skip them and pick another line.
    pub fn parse(value: &str) -> Result<Self, SdpError> {
        let bad = |why: &'static str| SdpError::Crypto(why);
        let mut parts = value.split_ascii_whitespace();
        let tag = parts
            .next()
            .and_then(|t| t.parse().ok())
            .ok_or(bad("bad tag"))?;
        let suite = parts
            .next()
            .and_then(CryptoSuite::parse)
            .ok_or(bad("unsupported suite"))?;
        let key_params = parts.next().ok_or(bad("missing key"))?;
        if parts.next().is_some() {
            return Err(bad("session parameters not supported"));
        }
        if key_params.contains(';') {
            return Err(bad("several keys not supported"));
        }
        let inline = key_params
            .strip_prefix("inline:")
            .ok_or(bad("key method must be inline"))?;
        let mut fields = inline.split('|');
        let key_b64 = fields.next().unwrap_or_default().to_owned();
        for f in fields {
            if f.contains(':') {
                return Err(bad("MKI not supported"));
            }
        }
        if key_b64.is_empty() {
            return Err(bad("empty key"));
        }
        Ok(Self {
            tag,
            suite,
            key_b64,
        })
    }
}

impl fmt::Display for Crypto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} inline:{}",
            self.tag,
            self.suite.as_str(),
            self.key_b64
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtpmap_round_trips() {
        for v in [
            "111 opus/48000/2",
            "0 PCMU/8000",
            "126 telephone-event/8000",
        ] {
            assert_eq!(RtpMap::parse(v).unwrap().to_string(), v);
        }
        assert!(RtpMap::parse("x PCMU/8000").is_none());
        assert!(RtpMap::parse("0 PCMU").is_none());
        assert!(RtpMap::parse("0 PCMU/8000/x").is_none());
        assert!(RtpMap::parse("0 pcmu/8000").unwrap().is("PCMU", 8000));
    }

    #[test]
    fn crypto_lines_parse_or_say_why_not() {
        let c = Crypto::parse(
            "1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20",
        )
        .unwrap();
        assert_eq!((c.tag, c.suite), (1, CryptoSuite::AesCm128HmacSha1_80));
        assert_eq!(c.key_b64, "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz");
        let refused = [
            ("1 F8_128_HMAC_SHA1_80 inline:abc", "unsupported suite"),
            (
                "1 AES_CM_128_HMAC_SHA1_80 inline:abc|2^20|1:4",
                "MKI not supported",
            ),
            (
                "1 AES_CM_128_HMAC_SHA1_80 inline:abc UNENCRYPTED_SRTP",
                "session parameters not supported",
            ),
            ("x AES_CM_128_HMAC_SHA1_80 inline:abc", "bad tag"),
            (
                "1 AES_CM_128_HMAC_SHA1_80 inline:a;inline:b",
                "several keys not supported",
            ),
        ];
        for (line, why) in refused {
            assert_eq!(Crypto::parse(line), Err(SdpError::Crypto(why)), "{line}");
        }
    }

    #[test]
    fn fingerprints_are_normalised_and_checked() {
        let f = Fingerprint::parse("SHA-256 ab:CD:01").unwrap();
        assert_eq!(f.to_string(), "sha-256 AB:CD:01");
        assert!(Fingerprint::parse("sha-256 zz:01").is_none());
        assert!(Fingerprint::parse("sha-256").is_none());
    }

    #[test]
    fn answer_direction_mirrors_the_offer() {
        assert_eq!(Direction::SendOnly.answer(), Direction::RecvOnly);
        assert_eq!(Direction::RecvOnly.answer(), Direction::SendOnly);
        assert_eq!(Direction::Inactive.answer(), Direction::Inactive);
        assert_eq!(Direction::SendRecv.answer(), Direction::SendRecv);
    }
}
