//! RFC 4475 "SIP Torture Test Messages": one test per message, named after its file.
//!
//! Each message is fed as one UDP datagram (RFC 4475 §1). `valid` messages must parse with
//! the values the RFC states; `invalid` requests are rejected with the status the RFC calls
//! for (invalid responses are dropped); `valid-but-app-rejects` messages parse and the
//! UA-layer check (`message::validate`) gives the RFC's answer.

use sip_proxy::message::validate::{
    check_request, check_response, Rejection, ResponseVerdict, Role, UaPolicy,
};
use sip_proxy::message::{Error, HeaderName, Message, Method, Request, Response, Uri};
use sip_proxy::transaction::stateless::reject_malformed;

fn load(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/data/rfc4475/{name}.dat",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn request(bytes: &[u8]) -> Request<'_> {
    match Message::parse(bytes) {
        Ok(Message::Request(r)) => r,
        other => panic!("expected a request, got {other:?}"),
    }
}

fn response(bytes: &[u8]) -> Response<'_> {
    match Message::parse(bytes) {
        Ok(Message::Response(r)) => r,
        other => panic!("expected a response, got {other:?}"),
    }
}

/// An invalid request: parsing fails, the stateless answer has `status` and is built
/// from the raw headers (RFC 3261 §8.2, §16.3 step 1).
fn rejected(name: &str, status: u16) -> Error {
    let bytes = load(name);
    let err = Message::parse(&bytes).expect_err("the RFC calls this message invalid");
    assert_eq!(err.status(), status, "{err:?}");
    let answer = reject_malformed(&bytes, err, b"sl1").expect("a stateless answer");
    let expected = format!("SIP/2.0 {status} ");
    assert!(
        answer.starts_with(expected.as_bytes()),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    err
}

fn ua(role: Role) -> UaPolicy {
    UaPolicy::gateway(role)
}

fn app_rejects(name: &str, role: Role) -> Rejection {
    let bytes = load(name);
    let req = request(&bytes);
    check_request(&req, &ua(role)).expect_err("the application rejects this request")
}

fn header<'r>(r: &'r Rejection, name: &str) -> &'r [u8] {
    &r.headers
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no {name}"))
        .1
}

fn sip_uri_user(uri: &Uri<'_>) -> Vec<u8> {
    uri.as_sip()
        .expect("sip uri")
        .user_unescaped()
        .expect("user")
        .into_owned()
}

#[test]
fn sha256sums_match_copies() {
    use sha2::{Digest, Sha256};
    let sums = std::fs::read_to_string(format!(
        "{}/tests/data/rfc4475/SHA256SUMS",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let mut n = 0;
    for line in sums.lines() {
        let (hex, file) = line.split_once("  ").unwrap();
        let bytes = load(file.trim_end_matches(".dat"));
        let digest: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(digest, hex, "{file}");
        n += 1;
    }
    assert_eq!(n, 49);
}

// ---- RFC 4475 §3.1.1: valid messages -------------------------------------------------

#[test]
fn wsinv() {
    let bytes = load("wsinv");
    let r = request(&bytes);
    assert_eq!(r.method, Method::Invite);
    let h = &r.headers;
    assert_eq!(h.to().unwrap().tag(), Some(&b"1918181833n"[..]));
    let from = h.from().unwrap();
    assert_eq!(from.tag(), Some(&b"98asjd8"[..]));
    assert_eq!(from.display_name_unquoted().unwrap(), b"J Rosenberg \\\"");
    assert_eq!(h.max_forwards(), Some(68));
    assert_eq!(h.call_id(), Some(&b"wsinv.ndaksdj@192.0.2.1"[..]));
    let cseq = h.cseq().unwrap();
    assert_eq!((cseq.seq, cseq.method()), (9, Method::Invite));
    let vias = h.vias().unwrap();
    assert_eq!(vias.len(), 3);
    assert_eq!(
        (vias[0].transport, vias[0].host, vias[0].branch()),
        (&b"UDP"[..], &b"192.0.2.2"[..], Some(&b"390skdjuw"[..]))
    );
    assert_eq!(
        (vias[1].transport, vias[1].host),
        (&b"TCP"[..], &b"spindle.example.com"[..])
    );
    assert_eq!(vias[2].branch(), Some(&b"z9hG4bK30239"[..]));
    let contact = &h.contacts().unwrap()[0];
    assert_eq!(contact.params.value("q"), Some(&b"0.33"[..]));
    assert_eq!(contact.params.value("newparam"), Some(&b"newvalue"[..]));
    assert!(contact.params.contains("secondparam"));
    // Folded lines are joined in the unfolded view; the raw value is kept for forwarding.
    let nf = h.get_raw(b"NewFangledHeader").unwrap();
    assert_eq!(
        &*nf.unfolded(),
        b"newfangled value continued newfangled value"
    );
    assert_eq!(
        &*h.get_raw(b"UnknownHeaderWithUnusualValue").unwrap().value,
        b";;,,;;,;"
    );
    assert_eq!(&*h.get(HeaderName::Subject).unwrap().value, b"");
    assert_eq!(r.body.len(), 150);
    // Forwarded byte for byte: printing keeps every untouched value.
    let printed = r.to_bytes();
    assert!(printed.windows(nf.value.len()).any(|w| w == &*nf.value));
    assert!(check_request(&r, &ua(Role::Endpoint)).is_ok());
}

#[test]
fn intmeth() {
    let bytes = load("intmeth");
    let r = request(&bytes);
    assert_eq!(
        r.method,
        Method::Extension("!interesting-Method0123456789_*+`.%indeed'~".into())
    );
    let to = r.headers.to().unwrap();
    assert_eq!(
        to.display_name_unquoted().unwrap(),
        b"BEL:\x07 NUL:\x00 DEL:\x7f"
    );
    let from = r.headers.from().unwrap();
    assert_eq!(from.tag(), Some(&b"_token~1'+`*%!-."[..]));
    assert_eq!(r.headers.max_forwards(), Some(255));
    assert!(r.headers.get_raw(b"extensionHeader-!.%*+_`'~").is_some());
    // Endpoint: 501 Not Implemented with Allow (RFC 3261 §8.2.1).
    let rej = app_rejects("intmeth", Role::Endpoint);
    assert_eq!(rej.status, 501);
    assert!(header(&rej, "Allow").starts_with(b"INVITE"));
}

#[test]
fn esc01() {
    let bytes = load("esc01");
    let r = request(&bytes);
    assert_eq!(sip_uri_user(&r.uri().unwrap()), b"sips:user@example.com");
    assert_eq!(sip_uri_user(&r.headers.to().unwrap().uri), b"user");
    assert_eq!(
        sip_uri_user(&r.headers.from().unwrap().uri),
        b"I have spaces"
    );
    let contact = &r.headers.contacts().unwrap()[0];
    let uri = contact.uri.as_sip().unwrap();
    assert_eq!(sip_uri_user(&contact.uri), b"caller");
    // No recursive unescaping: value%25%41 is not valueA.
    assert_eq!(uri.params.0[1].value, Some(&b"v%61lue%25%34%31"[..]));
    assert_eq!(
        &*sip_proxy::message::scan::unescape(uri.params.0[1].value.unwrap()),
        b"value%41"
    );
}

#[test]
fn escnull() {
    let bytes = load("escnull");
    let r = request(&bytes);
    let aor = sip_uri_user(&r.headers.to().unwrap().uri);
    assert_eq!(aor, b"null-\0-null");
    let contacts = r.headers.contacts().unwrap();
    let users: Vec<Vec<u8>> = contacts.iter().map(|c| sip_uri_user(&c.uri)).collect();
    assert_eq!(users, vec![b"\0".to_vec(), b"\0\0".to_vec()]);
    assert!(check_request(&r, &ua(Role::Registrar)).is_ok());
}

#[test]
fn esc02() {
    let bytes = load("esc02");
    let r = request(&bytes);
    assert_eq!(r.method, Method::Extension("RE%47IST%45R".into()));
    assert_eq!(
        r.headers.to().unwrap().display_name,
        Some(&b"\"%Z%45\""[..])
    );
    assert_eq!(
        r.headers.contacts().unwrap().len(),
        2,
        "C%6Fntact is not Contact"
    );
    assert_eq!(app_rejects("esc02", Role::Endpoint).status, 501);
}

#[test]
fn lwsdisp() {
    let bytes = load("lwsdisp");
    let r = request(&bytes);
    assert_eq!(r.headers.from().unwrap().display_name, Some(&b"caller"[..]));
}

#[test]
fn longreq() {
    let bytes = load("longreq");
    let r = request(&bytes);
    assert!(r.headers.to().unwrap().display_name.unwrap().len() > 100);
    assert_eq!(r.headers.vias().unwrap().len(), 34);
    assert!(r.headers.from().unwrap().tag().unwrap().len() > 100);
    assert_eq!(r.body.len() as u64, r.headers.content_length().unwrap());
}

#[test]
fn dblreq() {
    let bytes = load("dblreq");
    let r = request(&bytes);
    assert_eq!(r.method, Method::Register);
    assert!(
        r.body.is_empty(),
        "trailing INVITE octets are not part of the message"
    );
    assert!(!r.to_bytes().windows(6).any(|w| w == b"INVITE"));
}

#[test]
fn semiuri() {
    let bytes = load("semiuri");
    let r = request(&bytes);
    let uri = r.uri().unwrap();
    assert_eq!(sip_uri_user(&uri), b"user;par=u@example.net");
    assert_eq!(uri.as_sip().unwrap().host, b"example.com");
    assert_eq!(r.headers.values(HeaderName::Accept).unwrap().len(), 6);
}

#[test]
fn transports() {
    let bytes = load("transports");
    let r = request(&bytes);
    let t: Vec<&[u8]> = r
        .headers
        .vias()
        .unwrap()
        .iter()
        .map(|v| v.transport)
        .collect();
    assert_eq!(t, vec![&b"UDP"[..], b"SCTP", b"TLS", b"UNKNOWN", b"TCP"]);
}

#[test]
fn mpart01() {
    let bytes = load("mpart01");
    let r = request(&bytes);
    assert_eq!(r.body.len(), 553);
    assert!(r.body.contains(&0));
    assert!(r.headers.content_type().unwrap().is("multipart", "mixed"));
}

#[test]
fn unreason() {
    let bytes = load("unreason");
    let r = response(&bytes);
    assert_eq!(r.status, 200);
    assert!(!std::str::from_utf8(&r.reason).unwrap().is_ascii());
}

#[test]
fn noreason() {
    let bytes = load("noreason");
    let r = response(&bytes);
    assert_eq!((r.status, &*r.reason), (100, &b""[..]));
}

// ---- RFC 4475 §3.1.2: invalid messages -----------------------------------------------

#[test]
fn badinv01() {
    assert_eq!(rejected("badinv01", 400), Error::BadHeader(HeaderName::Via));
}

#[test]
fn clerr() {
    assert_eq!(rejected("clerr", 400), Error::BodyTruncated);
}

#[test]
fn ncl() {
    assert_eq!(
        rejected("ncl", 400),
        Error::BadHeader(HeaderName::ContentLength)
    );
}

#[test]
fn scalar02() {
    assert_eq!(
        rejected("scalar02", 400),
        Error::BadHeader(HeaderName::CSeq)
    );
}

#[test]
fn scalarlg() {
    // Invalid response: dropped (no answer is ever sent to a response).
    let bytes = load("scalarlg");
    let err = Message::parse(&bytes).expect_err("overlarge CSeq");
    assert_eq!(err, Error::BadHeader(HeaderName::CSeq));
    assert_eq!(reject_malformed(&bytes, err, b"x"), None);
}

#[test]
fn quotbal() {
    assert_eq!(rejected("quotbal", 400), Error::BadHeader(HeaderName::To));
}

#[test]
fn ltgtruri() {
    assert_eq!(rejected("ltgtruri", 400), Error::BadRequestUri);
}

#[test]
fn lwsruri() {
    assert_eq!(rejected("lwsruri", 400), Error::BadStartLine);
}

#[test]
fn lwsstart() {
    assert_eq!(rejected("lwsstart", 400), Error::BadStartLine);
}

#[test]
fn trws() {
    assert_eq!(rejected("trws", 400), Error::BadStartLine);
}

#[test]
fn escruri() {
    assert_eq!(rejected("escruri", 400), Error::BadRequestUri);
}

#[test]
fn baddate() {
    // Allowed outcome: Date does not matter to processing, so it is ignored and kept.
    let bytes = load("baddate");
    let r = request(&bytes);
    assert!(r.headers.get_raw(b"Date").unwrap().value.ends_with(b"EST"));
}

#[test]
fn regbadct() {
    assert_eq!(
        rejected("regbadct", 400),
        Error::BadHeader(HeaderName::Contact)
    );
}

#[test]
fn badaspec() {
    assert_eq!(rejected("badaspec", 400), Error::BadHeader(HeaderName::To));
}

#[test]
fn baddn() {
    assert_eq!(rejected("baddn", 400), Error::BadHeader(HeaderName::From));
}

#[test]
fn badvers() {
    assert_eq!(rejected("badvers", 505), Error::UnsupportedVersion);
}

#[test]
fn mismatch01() {
    assert_eq!(rejected("mismatch01", 400), Error::CSeqMethodMismatch);
}

#[test]
fn mismatch02() {
    // 501 or 400 are both allowed; the parser answers 400.
    assert_eq!(rejected("mismatch02", 400), Error::CSeqMethodMismatch);
}

#[test]
fn bigcode() {
    let bytes = load("bigcode");
    assert_eq!(Message::parse(&bytes), Err(Error::BadStartLine));
    assert_eq!(
        reject_malformed(&bytes, Error::BadStartLine, b"x"),
        None,
        "dropped"
    );
}

// ---- RFC 4475 §3.2: transaction identifier -------------------------------------------

#[test]
fn badbranch() {
    let bytes = load("badbranch");
    let r = request(&bytes);
    let via = r.headers.top_via().unwrap();
    assert_eq!(via.branch(), Some(&b"z9hG4bK"[..]));
    assert!(
        !via.has_rfc3261_branch(),
        "a bare magic cookie falls back to RFC 2543 matching"
    );
    let key = sip_proxy::transaction::TransactionKey::for_server(&r).unwrap();
    assert!(matches!(
        key,
        sip_proxy::transaction::TransactionKey::Rfc2543 { .. }
    ));
}

// ---- RFC 4475 §3.3: application-layer semantics --------------------------------------

#[test]
fn insuf() {
    assert!(matches!(rejected("insuf", 400), Error::MissingHeader(_)));
}

#[test]
fn unkscm() {
    assert_eq!(app_rejects("unkscm", Role::Endpoint).status, 416);
    assert_eq!(app_rejects("unkscm", Role::Proxy).status, 416);
}

#[test]
fn novelsc() {
    assert_eq!(app_rejects("novelsc", Role::Endpoint).status, 416);
}

#[test]
fn unksm2() {
    let bytes = load("unksm2");
    let r = request(&bytes);
    assert!(matches!(r.headers.to().unwrap().uri, Uri::Other { .. }));
    assert!(check_request(&r, &ua(Role::Proxy)).is_ok());
    assert_eq!(app_rejects("unksm2", Role::Registrar).status, 400);
}

#[test]
fn bext01() {
    let uas = app_rejects("bext01", Role::Endpoint);
    assert_eq!(uas.status, 420);
    assert_eq!(
        header(&uas, "Unsupported"),
        b"nothingSupportsThis, nothingSupportsThisEither"
    );
    let proxy = app_rejects("bext01", Role::Proxy);
    assert_eq!(proxy.status, 420);
    assert_eq!(
        header(&proxy, "Unsupported"),
        b"noProxiesSupportThis, norDoAnyProxiesSupportThis"
    );
}

#[test]
fn invut() {
    let rej = app_rejects("invut", Role::Endpoint);
    assert_eq!(rej.status, 415);
    assert_eq!(header(&rej, "Accept"), b"application/sdp");
    let bytes = load("invut");
    assert!(check_request(&request(&bytes), &ua(Role::Proxy)).is_ok());
}

#[test]
fn regaut01() {
    let bytes = load("regaut01");
    let r = request(&bytes);
    let auth = r.headers.auth(HeaderName::Authorization);
    assert_eq!(auth[0].scheme, b"NoOneKnowsThisScheme");
    // A non-registrar endpoint does not allow REGISTER; a registrar ignores the unknown scheme.
    assert_eq!(app_rejects("regaut01", Role::Endpoint).status, 405);
    assert!(check_request(&r, &ua(Role::Registrar)).is_ok());
}

#[test]
fn multi01() {
    assert!(matches!(
        rejected("multi01", 400),
        Error::DuplicateHeader(_)
    ));
}

#[test]
fn mcl01() {
    assert_eq!(
        rejected("mcl01", 400),
        Error::DuplicateHeader(HeaderName::ContentLength)
    );
}

#[test]
fn bcast() {
    let bytes = load("bcast");
    let r = response(&bytes);
    assert_eq!(check_response(&r, Role::Endpoint), ResponseVerdict::Drop);
    assert_eq!(check_response(&r, Role::Proxy), ResponseVerdict::Drop);
}

#[test]
fn zeromf() {
    assert_eq!(app_rejects("zeromf", Role::Proxy).status, 483);
    let bytes = load("zeromf");
    assert!(check_request(&request(&bytes), &ua(Role::Endpoint)).is_ok());
}

#[test]
fn cparam01() {
    let bytes = load("cparam01");
    let r = request(&bytes);
    let c = &r.headers.contacts().unwrap()[0];
    assert!(c.params.contains("unknownparam"), "a contact-param");
    assert!(!c.uri.as_sip().unwrap().params.contains("unknownparam"));
    assert!(check_request(&r, &ua(Role::Registrar)).is_ok());
}

#[test]
fn cparam02() {
    let bytes = load("cparam02");
    let r = request(&bytes);
    let c = &r.headers.contacts().unwrap()[0];
    assert!(
        c.uri.as_sip().unwrap().params.contains("unknownparam"),
        "a url-parameter"
    );
    assert!(!c.params.contains("unknownparam"));
    assert!(check_request(&r, &ua(Role::Registrar)).is_ok());
}

#[test]
fn regescrt() {
    let bytes = load("regescrt");
    let r = request(&bytes);
    let c = &r.headers.contacts().unwrap()[0];
    assert_eq!(
        c.uri.as_sip().unwrap().headers,
        Some(&b"Route=%3Csip:sip.example.com%3E"[..])
    );
    assert!(check_request(&r, &ua(Role::Registrar)).is_ok());
}

#[test]
fn sdp01() {
    let rej = app_rejects("sdp01", Role::Endpoint);
    assert_eq!(rej.status, 406);
    assert!(header(&rej, "Warning").starts_with(b"399 "));
}

// ---- RFC 4475 §3.4: backward compatibility -------------------------------------------

#[test]
fn inv2543() {
    let bytes = load("inv2543");
    let r = request(&bytes);
    assert!(r.headers.get(HeaderName::ContentLength).is_none());
    assert!(r.headers.max_forwards().is_none());
    assert!(r.headers.from().unwrap().tag().is_none());
    assert!(
        r.body.starts_with(b"v=0"),
        "body is the rest of the datagram"
    );
    assert!(r.headers.top_via().unwrap().branch().is_none());
    let key = sip_proxy::transaction::TransactionKey::for_server(&r).unwrap();
    assert!(matches!(
        key,
        sip_proxy::transaction::TransactionKey::Rfc2543 { .. }
    ));
}

/// Every torture message survives parse → print → parse unchanged.
#[test]
fn all_messages_roundtrip() {
    let dir = format!("{}/tests/data/rfc4475", env!("CARGO_MANIFEST_DIR"));
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "dat") {
            let bytes = std::fs::read(&path).unwrap();
            assert_eq!(
                sip_proxy::message::fuzz::roundtrip(&bytes),
                Ok(()),
                "{}",
                path.display()
            );
            n += 1;
        }
    }
    assert_eq!(n, 49);
}

/// INDEX.tsv drives the suite: every row has a test named after its file, and the parser's
/// verdict agrees with the row's class. The one `invalid` message that parses is `baddate`,
/// where the RFC allows ignoring a Date that does not matter to processing.
#[test]
fn index_tsv_rows_have_named_tests_and_matching_verdicts() {
    let index = std::fs::read_to_string(format!(
        "{}/tests/data/rfc4475/INDEX.tsv",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let source = include_str!("rfc4475_torture.rs");
    let mut rows = 0;
    for line in index.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (file, class) = (cols[0], cols[3]);
        let name = file.trim_end_matches(".dat");
        assert!(
            source.contains(&format!("fn {name}()")),
            "no test for {file}"
        );
        let parses = Message::parse(&load(name)).is_ok();
        match class {
            "valid" | "valid-but-app-rejects" => assert!(parses, "{file} must parse"),
            "invalid" => assert_eq!(parses, name == "baddate", "{file}"),
            other => panic!("unknown class {other}"),
        }
        rows += 1;
    }
    assert_eq!(rows, 49);
}
