//! RFC 3261 §12 dialogs: creation, route sets, target refresh, CSeq rules, in-dialog
//! requests and forked early dialogs.

use sip_proxy::dialog::{Dialog, DialogError, DialogState, ForkedDialogs};
use sip_proxy::message::builder::{response_to, RequestBuilder};
use sip_proxy::message::{HeaderName, Message, Method, Request, Response};

const VIA: &str = "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKnew";

fn invite() -> Request<'static> {
    RequestBuilder::new(Method::Invite, "sip:bob@example.com")
        .header("Via", "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1")
        .header("Max-Forwards", "70")
        .header("From", "\"Alice\" <sip:alice@example.com>;tag=a1")
        .header("To", "<sip:bob@example.com>")
        .header("Call-ID", "call-9")
        .header("CSeq", "1 INVITE")
        .header("Contact", "<sip:alice@192.0.2.1>")
        .build()
}

fn answer(
    req: &Request<'_>,
    status: u16,
    tag: &str,
    contact: &str,
    rr: &[&str],
) -> Response<'static> {
    let mut r = response_to(req, status, Some(tag.as_bytes()));
    for v in rr {
        r.add_header("Record-Route", v.as_bytes().to_vec());
    }
    r.add_header("Contact", contact.as_bytes().to_vec());
    r
}

fn reparse(req: &Request<'_>) -> Request<'static> {
    match Message::parse(&req.to_bytes()).expect("a built request parses") {
        Message::Request(r) => r.into_owned(),
        Message::Response(_) => panic!("request expected"),
    }
}

fn routes(req: &Request<'_>) -> Vec<Vec<u8>> {
    req.headers
        .get_all(HeaderName::Route)
        .map(|h| h.value.to_vec())
        .collect()
}

#[test]
fn uac_early_then_confirmed_with_reversed_route_set() {
    let inv = invite();
    let rr = ["<sip:p2.example.com;lr>", "<sip:p1.example.com;lr>"];
    let ringing = answer(&inv, 180, "b1", "<sip:bob@192.0.2.9>", &rr);
    let mut d = Dialog::uac(&inv, &ringing, b"sip:alice@192.0.2.1").unwrap();
    assert_eq!(d.state, DialogState::Early);
    assert_eq!(d.id.remote_tag, b"b1");
    assert_eq!(d.id.local_tag, b"a1");
    assert_eq!(
        d.route_set,
        vec![
            b"<sip:p1.example.com;lr>".to_vec(),
            b"<sip:p2.example.com;lr>".to_vec()
        ]
    );
    // The 2xx confirms and recomputes the route set (RFC 3261 §13.2.2.4) and the target.
    let ok = answer(
        &inv,
        200,
        "b1",
        "<sip:bob@192.0.2.99>",
        &["<sip:p9.example.com;lr>"],
    );
    d.on_response(&Method::Invite, &ok).unwrap();
    assert_eq!(d.state, DialogState::Confirmed);
    assert_eq!(d.route_set, vec![b"<sip:p9.example.com;lr>".to_vec()]);
    assert_eq!(d.remote_target, b"sip:bob@192.0.2.99");

    // ACK for the 2xx: CSeq number of the INVITE, loose routing.
    let ack = reparse(&d.ack(1, VIA));
    assert_eq!(ack.method, Method::Ack);
    assert_eq!(&*ack.uri, b"sip:bob@192.0.2.99");
    assert_eq!(ack.headers.cseq().unwrap().seq, 1);
    assert_eq!(routes(&ack), vec![b"<sip:p9.example.com;lr>".to_vec()]);
    assert_eq!(ack.headers.to().unwrap().tag(), Some(&b"b1"[..]));
    assert_eq!(ack.headers.from().unwrap().tag(), Some(&b"a1"[..]));

    // BYE: CSeq incremented; ends the dialog on 200.
    let bye = reparse(&d.request(Method::Bye, VIA));
    assert_eq!(bye.headers.cseq().unwrap().seq, 2);
    assert!(bye.headers.get(HeaderName::Contact).is_none());
    d.on_response(&Method::Bye, &response_to(&bye, 200, None))
        .unwrap();
    assert_eq!(d.state, DialogState::Terminated);
}

#[test]
fn strict_route_puts_first_route_in_request_uri() {
    let inv = invite();
    let ok = answer(
        &inv,
        200,
        "b1",
        "<sip:bob@192.0.2.9>",
        &["<sip:strict.example.com>", "<sip:p1.example.com;lr>"],
    );
    let mut d = Dialog::uac(&inv, &ok, b"sip:alice@192.0.2.1").unwrap();
    let reinvite = reparse(&d.request(Method::Invite, VIA));
    // Route set (reversed): p1;lr, strict — first has lr: loose routing.
    assert_eq!(&*reinvite.uri, b"sip:bob@192.0.2.9");
    let ok = answer(
        &inv,
        200,
        "b2",
        "<sip:bob@192.0.2.9>",
        &["<sip:p1.example.com;lr>", "<sip:strict.example.com>"],
    );
    let mut d = Dialog::uac(&inv, &ok, b"sip:alice@192.0.2.1").unwrap();
    let bye = reparse(&d.request(Method::Bye, VIA));
    // RFC 3261 §12.2.1.1: strict first route → Request-URI, remote target → last Route.
    assert_eq!(&*bye.uri, b"sip:strict.example.com");
    assert_eq!(
        routes(&bye),
        vec![
            b"<sip:p1.example.com;lr>".to_vec(),
            b"<sip:bob@192.0.2.9>".to_vec()
        ]
    );
}

#[test]
fn reinvite_and_update_carry_contact() {
    let inv = invite();
    let ok = answer(&inv, 200, "b1", "<sip:bob@192.0.2.9>", &[]);
    let mut d = Dialog::uac(&inv, &ok, b"sip:alice@192.0.2.1").unwrap();
    for m in [Method::Invite, Method::Update] {
        let r = reparse(&d.request(m, VIA));
        assert_eq!(
            r.headers.contacts().unwrap()[0].uri_raw,
            b"sip:alice@192.0.2.1"
        );
        assert!(routes(&r).is_empty());
    }
    assert_eq!(d.local_seq, 3);
}

#[test]
fn prack_carries_rack() {
    let inv = invite();
    let mut progress = answer(&inv, 183, "b1", "<sip:bob@192.0.2.9>", &[]);
    progress.add_header("Require", "100rel");
    progress.add_header("RSeq", "4711");
    let mut d = Dialog::uac(&inv, &progress, b"sip:alice@192.0.2.1").unwrap();
    let prack = reparse(&d.prack(&progress, VIA).unwrap());
    assert_eq!(prack.method, Method::Prack);
    let rack = prack.headers.rack().unwrap();
    assert_eq!(
        (rack.rseq, rack.cseq, rack.method),
        (4711, 1, &b"INVITE"[..])
    );
    assert_eq!(prack.headers.cseq().unwrap().seq, 2);
}

#[test]
fn uas_route_set_cseq_rules_and_target_refresh() {
    let inv = RequestBuilder::new(Method::Invite, "sip:gw@192.0.2.1")
        .header("Via", "SIP/2.0/UDP 192.0.2.7;branch=z9hG4bKr")
        .header(
            "Record-Route",
            "<sip:p1.example.com;lr>, <sip:p2.example.com;lr>",
        )
        .header("From", "<sip:carol@example.com>;tag=c1")
        .header("To", "<sip:gw@example.com>")
        .header("Call-ID", "in-1")
        .header("CSeq", "10 INVITE")
        .header("Contact", "<sip:carol@192.0.2.7>")
        .build();
    let mut d = Dialog::uas(&inv, b"g1", b"sip:gw@192.0.2.1").unwrap();
    assert_eq!(
        d.route_set,
        vec![
            b"<sip:p1.example.com;lr>".to_vec(),
            b"<sip:p2.example.com;lr>".to_vec()
        ]
    );
    assert_eq!(d.remote_seq, Some(10));
    assert_eq!(d.state, DialogState::Early);
    d.on_local_response(200);
    assert_eq!(d.state, DialogState::Confirmed);
    let in_dialog = |method: Method, seq: u32, contact: &str, to_tag: &str| {
        RequestBuilder::new(method.clone(), "sip:gw@192.0.2.1")
            .header("Via", "SIP/2.0/UDP 192.0.2.7;branch=z9hG4bKq")
            .header("From", "<sip:carol@example.com>;tag=c1")
            .header("To", format!("<sip:gw@example.com>;tag={to_tag}"))
            .header("Call-ID", "in-1")
            .header("CSeq", format!("{seq} {method}"))
            .header("Contact", contact)
            .build()
    };
    let old = in_dialog(Method::Info, 9, "<sip:carol@192.0.2.7>", "g1");
    let err = d.on_request(&old).unwrap_err();
    assert_eq!((err, err.status()), (DialogError::OutOfOrder, 500));
    let stranger = in_dialog(Method::Info, 11, "<sip:carol@192.0.2.7>", "zz");
    assert_eq!(d.on_request(&stranger).unwrap_err().status(), 481);
    let reinvite = in_dialog(Method::Invite, 11, "<sip:carol@198.51.100.7>", "g1");
    d.on_request(&reinvite).unwrap();
    assert_eq!(d.remote_target, b"sip:carol@198.51.100.7");
    assert_eq!(d.remote_seq, Some(11));
    d.on_request(&in_dialog(
        Method::Bye,
        12,
        "<sip:carol@198.51.100.7>",
        "g1",
    ))
    .unwrap();
    assert_eq!(d.state, DialogState::Terminated);
    // Our own BYE would go to the refreshed target with the route set in order.
    let bye = reparse(&d.request(Method::Bye, VIA));
    assert_eq!(&*bye.uri, b"sip:carol@198.51.100.7");
    assert_eq!(bye.headers.to().unwrap().tag(), Some(&b"c1"[..]));
    assert_eq!(bye.headers.from().unwrap().tag(), Some(&b"g1"[..]));
    assert_eq!(bye.headers.cseq().unwrap().seq, 1);
}

#[test]
fn forked_invite_keeps_one_early_dialog_per_tag() {
    let inv = invite();
    let mut forks = ForkedDialogs::new();
    let trying = response_to(&inv, 100, None);
    assert_eq!(forks.on_response(&inv, &trying, b"sip:a@h").unwrap(), None);
    let a = forks
        .on_response(&inv, &answer(&inv, 180, "fa", "<sip:a@x>", &[]), b"sip:a@h")
        .unwrap()
        .unwrap();
    let b = forks
        .on_response(&inv, &answer(&inv, 183, "fb", "<sip:b@x>", &[]), b"sip:a@h")
        .unwrap()
        .unwrap();
    assert_ne!(a, b);
    assert_eq!(forks.iter().count(), 2);
    forks
        .on_response(&inv, &answer(&inv, 200, "fb", "<sip:b@x>", &[]), b"sip:a@h")
        .unwrap();
    assert_eq!(forks.get_mut(b"fb").unwrap().state, DialogState::Confirmed);
    assert_eq!(forks.get_mut(b"fa").unwrap().state, DialogState::Early);
    // A 2xx from a third branch creates a third, confirmed dialog.
    forks
        .on_response(&inv, &answer(&inv, 200, "fc", "<sip:c@x>", &[]), b"sip:a@h")
        .unwrap();
    assert_eq!(forks.get_mut(b"fc").unwrap().state, DialogState::Confirmed);
}

#[test]
fn final_error_ends_early_dialogs() {
    let inv = invite();
    let mut forks = ForkedDialogs::new();
    forks
        .on_response(&inv, &answer(&inv, 180, "fa", "<sip:a@x>", &[]), b"sip:a@h")
        .unwrap();
    forks
        .on_response(&inv, &answer(&inv, 486, "fz", "<sip:z@x>", &[]), b"sip:a@h")
        .unwrap();
    assert_eq!(forks.get_mut(b"fa").unwrap().state, DialogState::Terminated);
}

#[test]
fn no_to_tag_no_dialog() {
    let inv = invite();
    let mut r = response_to(&inv, 180, None);
    r.add_header("Contact", "<sip:b@x>");
    assert_eq!(
        Dialog::uac(&inv, &r, b"sip:a@h").unwrap_err(),
        DialogError::MissingToTag
    );
}

#[test]
fn dialog_error_status_table() {
    for (e, s) in [
        (DialogError::MissingToTag, 400),
        (DialogError::BadHeader(HeaderName::Contact), 400),
        (DialogError::OutOfOrder, 500),
        (DialogError::NoMatch, 481),
    ] {
        assert_eq!(e.status(), s, "{e:?}");
    }
}
