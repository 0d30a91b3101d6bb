//! Typed header views on an IMS-style message, compact forms, and byte-for-byte forwarding
//! of untouched headers (RFC 3261 §7.3, §20; RFC 3262; RFC 3325; RFC 3327; RFC 3608;
//! RFC 4028).

use sip_proxy::message::uri::Uri;
use sip_proxy::message::{HeaderName, Message, Method, Request};

const REGISTER_200: &[u8] = b"SIP/2.0 200 OK\r\n\
v: SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bKreg1;received=198.51.100.1;rport=5071\r\n\
f: <sip:+15550001111@ims.example.net>;tag=f1\r\n\
t: <sip:+15550001111@ims.example.net>;tag=t1\r\n\
i: reg-77@192.0.2.1\r\n\
CSeq: 2 REGISTER\r\n\
m: <sip:gw@192.0.2.1:5060;transport=tcp>;expires=600;+sip.instance=\"<urn:uuid:0001>\"\r\n\
Path: <sip:term@pcscf.ims.example.net;lr>\r\n\
Service-Route: <sip:orig@scscf1.ims.example.net;lr>,\r\n <sip:orig@scscf2.ims.example.net;lr>\r\n\
P-Associated-URI: <sip:+15550001111@ims.example.net>, <tel:+15550001111>\r\n\
k: path, gruu\r\n\
l: 0\r\n\
\r\n";

fn parse(bytes: &[u8]) -> Message<'_> {
    Message::parse(bytes).expect("test message parses")
}

#[test]
fn compact_forms_and_registration_headers() {
    let m = parse(REGISTER_200);
    let h = m.headers();
    let via = h.top_via().unwrap();
    assert_eq!(
        (via.transport, via.port, via.received(), via.rport()),
        (
            &b"TCP"[..],
            Some(5060),
            Some(&b"198.51.100.1"[..]),
            Some(Some(5071))
        )
    );
    assert!(via.is_reliable());
    assert_eq!(h.from().unwrap().tag(), Some(&b"f1"[..]));
    assert_eq!(h.to().unwrap().tag(), Some(&b"t1"[..]));
    assert_eq!(h.call_id(), Some(&b"reg-77@192.0.2.1"[..]));
    let c = &h.contacts().unwrap()[0];
    assert_eq!(c.params.value("expires"), Some(&b"600"[..]));
    assert_eq!(
        c.params.value("+sip.instance"),
        Some(&b"<urn:uuid:0001>"[..])
    );
    assert_eq!(
        c.uri.as_sip().unwrap().params.value("transport"),
        Some(&b"tcp"[..])
    );
    let path = h.name_addrs(HeaderName::Path).unwrap();
    assert!(path[0].uri.as_sip().unwrap().is_loose_route());
    let sr = h.name_addrs(HeaderName::ServiceRoute).unwrap();
    assert_eq!(sr.len(), 2, "folded, comma-separated Service-Route");
    assert_eq!(sr[1].uri.as_sip().unwrap().host, b"scscf2.ims.example.net");
    assert_eq!(
        h.tokens(HeaderName::Supported).unwrap(),
        vec![b"path".to_vec(), b"gruu".to_vec()]
    );
    assert_eq!(h.content_length(), Some(0));
    assert_eq!(
        &*h.get_raw(b"p-associated-uri").unwrap().value,
        &b"<sip:+15550001111@ims.example.net>, <tel:+15550001111>"[..]
    );
}

const INVITE: &[u8] = b"INVITE tel:+15551234567;phone-context=ims.example.net SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKinv1\r\n\
Max-Forwards: 69\r\n\
Route: <sip:pcscf.ims.example.net;lr>, <sip:scscf.ims.example.net;lr>\r\n\
Record-Route: <sip:edge.example.net;lr>\r\n\
From: \"Alice \\\"A\\\"\" <sip:+15550001111@ims.example.net>;tag=a1\r\n\
To: <tel:+15551234567>\r\n\
Call-ID: c1\r\n\
CSeq: 10 INVITE\r\n\
Contact: <sip:gw@192.0.2.1>\r\n\
P-Preferred-Identity: \"Alice\" <sip:+15550001111@ims.example.net>\r\n\
P-Asserted-Identity: <sip:+15550001111@ims.example.net>, <tel:+15550001111>\r\n\
Require: 100rel\r\n\
Supported: timer, 100rel\r\n\
Session-Expires: 1800;refresher=uac\r\n\
Min-SE: 90\r\n\
Proxy-Authorization: Digest username=\"alice\", realm=\"ims\", nonce=\"n\", uri=\"tel:+15551234567\", response=\"00\"\r\n\
Content-Type: application/sdp;charset=utf-8\r\n\
Content-Length: 5\r\n\
\r\n\
v=0\r\n";

fn invite() -> Request<'static> {
    match parse(INVITE) {
        Message::Request(r) => r.into_owned(),
        Message::Response(_) => panic!("request expected"),
    }
}

#[test]
fn ims_invite_views() {
    let r = invite();
    let h = &r.headers;
    let Uri::Tel(tel) = r.uri().unwrap() else {
        panic!("tel URI")
    };
    assert!(tel.is_global());
    assert_eq!(
        tel.params.value("phone-context"),
        Some(&b"ims.example.net"[..])
    );
    assert_eq!(h.max_forwards(), Some(69));
    assert_eq!(h.name_addrs(HeaderName::Route).unwrap().len(), 2);
    assert_eq!(h.name_addrs(HeaderName::RecordRoute).unwrap().len(), 1);
    assert_eq!(
        h.from().unwrap().display_name_unquoted().unwrap(),
        b"Alice \"A\""
    );
    assert!(matches!(h.to().unwrap().uri, Uri::Tel(_)));
    let pai = h.name_addrs(HeaderName::PAssertedIdentity).unwrap();
    assert_eq!(pai.len(), 2);
    assert!(matches!(pai[1].uri, Uri::Tel(_)));
    let ppi = h.name_addrs(HeaderName::PPreferredIdentity).unwrap();
    assert_eq!(ppi[0].display_name, Some(&b"\"Alice\""[..]));
    assert_eq!(
        h.tokens(HeaderName::Require).unwrap(),
        vec![b"100rel".to_vec()]
    );
    let se = h.session_expires().unwrap();
    assert_eq!((se.delta, se.refresher()), (1800, Some(&b"uac"[..])));
    assert_eq!(h.min_se(), Some(90));
    let auth = h.auth(HeaderName::ProxyAuthorization);
    assert!(auth[0].is_digest());
    assert_eq!(auth[0].params.value("uri"), Some(&b"tel:+15551234567"[..]));
    let ct = h.content_type().unwrap();
    assert!(ct.is("application", "sdp"));
    assert_eq!(ct.params.value("charset"), Some(&b"utf-8"[..]));
    assert_eq!(&*r.body, b"v=0\r\n");
    assert_eq!(r.method, Method::Invite);
}

#[test]
fn untouched_headers_are_forwarded_byte_for_byte() {
    let mut r = invite();
    // A proxy-like edit: decrement Max-Forwards and drop the first Route.
    r.headers.set(HeaderName::MaxForwards, b"68".to_vec());
    let printed = r.to_bytes();
    let original_lines: Vec<&[u8]> = INVITE.split(|b| *b == b'\n').collect();
    for line in original_lines
        .iter()
        .filter(|l| !l.starts_with(b"Max-Forwards"))
    {
        assert!(
            printed.split(|b| *b == b'\n').any(|p| p == *line),
            "line not forwarded verbatim: {}",
            String::from_utf8_lossy(line)
        );
    }
    assert!(printed.windows(16).any(|w| w == b"Max-Forwards: 68"));
}

#[test]
fn folded_header_is_kept_raw_and_unfolded_on_demand() {
    let m = parse(REGISTER_200);
    let sr = m.headers().get(HeaderName::ServiceRoute).unwrap();
    assert!(sr.value.windows(3).any(|w| w == b"\r\n "));
    assert_eq!(
        &*sr.unfolded(),
        &b"<sip:orig@scscf1.ims.example.net;lr>, <sip:orig@scscf2.ims.example.net;lr>"[..]
    );
}
