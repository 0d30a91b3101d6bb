//! The gateway user's metrics move with the calls it carries: calls started by
//! direction, status changes by CAMARA status, the active-calls gauge back to 0.
//! (Its own test binary: the counters are process-wide, so no other test may move them.)

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::time::Instant;

use sip_proxy::call::{CallId, Command};
use sip_proxy::endpoint::Endpoint;
use sip_proxy::gateway::{GatewayCommand, GatewayUser};
use sip_proxy::media::RecordingMedia;
use sip_proxy::message::builder::response_to;
use sip_proxy::message::{Message, Method, Request};

mod gateway_harness;
use gateway_harness::{gateway, ims};

const CHROME_OFFER: &str = include_str!("data/sdp/chrome_offer.sdp");
const IMS_ANSWER: &str = include_str!("data/sdp/ims_answer_sdes.sdp");

/// The sum of the samples of `name` (with `label`, when given) in the exposition text of
/// the default registry; 0 when absent.
fn sample(name: &str, label: Option<(&str, &str)>) -> i64 {
    let text = prometheus::TextEncoder::new()
        .encode_to_string(&prometheus::gather())
        .unwrap();
    let want = label.map(|(k, v)| format!("{k}=\"{v}\""));
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.split(['{', ' ']).next() == Some(name))
        .filter(|l| want.as_ref().is_none_or(|w| l.contains(w.as_str())))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|v| v as i64)
        .sum()
}

#[test]
fn an_outgoing_call_is_counted_from_originate_to_bye() {
    let mut ep = gateway();
    let drain = |ep: &mut Endpoint<GatewayUser<RecordingMedia>>| {
        while ep.poll_user_event().is_some() {}
    };
    let now = Instant::now();
    let originate = Command::Originate {
        call: CallId(5),
        from: "+15550001".into(),
        to: "+15550100".into(),
        offer: CHROME_OFFER.into(),
    };
    ep.handle_command(
        now,
        GatewayCommand::Call {
            id: 1,
            command: originate,
        },
    );
    drain(&mut ep);
    assert_eq!(
        sample(
            "rtcgate_calls_started_total",
            Some(("direction", "outgoing"))
        ),
        1
    );
    assert_eq!(sample("rtcgate_calls_active", None), 1);

    let invite: Request<'static> = std::iter::from_fn(|| ep.poll_transmit())
        .map(|t| Message::parse(&t.bytes).unwrap().into_owned())
        .find_map(|m| match m {
            Message::Request(r) if r.method == Method::Invite => Some(r),
            _ => None,
        })
        .unwrap();
    let mut ok = response_to(&invite, 200, Some(b"far"));
    ok.add_header("Contact", "<sip:far@192.0.2.50>");
    ok.set_body("application/sdp", IMS_ANSWER.as_bytes().to_vec());
    ep.handle_message(now, ims(), &ok.to_bytes());
    drain(&mut ep);
    assert_eq!(
        sample("rtcgate_call_status_total", Some(("status", "Connected"))),
        1
    );

    ep.handle_command(now, GatewayCommand::EndAllCalls);
    drain(&mut ep);
    assert_eq!(
        sample("rtcgate_call_status_total", Some(("status", "Terminated"))),
        1
    );
    assert_eq!(sample("rtcgate_calls_active", None), 0);
    assert_eq!(
        sample(
            "rtcgate_calls_started_total",
            Some(("direction", "incoming"))
        ),
        0
    );
}
