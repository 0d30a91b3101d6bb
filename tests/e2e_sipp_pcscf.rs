//! End to end against the running binary in pcscf mode (issue 4: SIPp "as P-CSCF/registrar
//! with a digest challenge" and "as remote phone for MO … calls with 100rel", "each
//! against the running gateway binary"). SIPp plays the P-CSCF with tests/sipp/pcscf_ims.xml:
//!
//! - a web user's API registration makes the gateway REGISTER its number; SIPp challenges
//!   with Digest MD5 and verifies the answer with the password itself (`verifyauth`), then
//!   the reg-event SUBSCRIBE follows the Service-Route it gave; a wrong password is
//!   refused (403) and counted as a failed registration;
//! - the web user (webrtc-rs) calls through the same P-CSCF address: a reliable 183 with
//!   the answer (PRACK), 180, 200; `InProgress` carries the answer, the browser's RTP comes
//!   back through SIPp's `-rtp_echo`, DELETE hangs up (SIPp gets the BYE).

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;
mod e2e_client;

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{ephemeral_config, parse_exposition, Gateway};
use e2e_client::sipp::{free_media_port, Sipp};
use e2e_client::{ApiUser, Browser, GUARD};

/// The gateway in pcscf mode toward `pcscf` with `password`, plain RTP, its own ports.
fn pcscf_gateway(dir: &Path, pcscf: SocketAddr, password: &str, ports: (u16, u16)) -> Gateway {
    let next_hop = format!("next_hop = \"{pcscf}\"");
    let password = format!("auth_password = \"{password}\"");
    let (min, max) = (
        format!("ims_port_min = {}", ports.0),
        format!("ims_port_max = {}", ports.1),
    );
    let config = ephemeral_config(
        dir,
        &[
            ("mode = \"lab\"", "mode = \"pcscf\""),
            (
                "# next_hop = \"sip:pcscf.ims.example.net;transport=tcp\"",
                &next_hop,
            ),
            ("# domain = \"ims.example.net\"", "domain = \"ims.test\""),
            // The private identity is the default template: 15550001@ims.test.
            ("# auth_password = \"…\"", &password),
            ("ims_srtp = true", "ims_srtp = false"),
            // SIPp would take an OPTIONS keep-alive for an unexpected message.
            ("options_interval_secs = 30", "options_interval_secs = 0"),
            ("ims_port_min = 30000", &min),
            ("ims_port_max = 30999", &max),
        ],
    );
    Gateway::start(&config, &[])
}

/// `rtcgate_registration_events_total{event}` on the admin listener.
async fn registration_events(gw: &Gateway, event: &str) -> f64 {
    let text = reqwest::get(gw.url(gw.admin, "/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    parse_exposition(&text)
        .into_iter()
        .find(|(name, labels, _)| {
            name == "rtcgate_registration_events_total"
                && labels.iter().any(|(k, v)| k == "event" && v == event)
        })
        .map_or(0.0, |(_, _, v)| v)
}

/// Waits until the gateway has counted `event` once (the outcome of the REGISTER
/// transaction SIPp answered is processed asynchronously to the API's 200).
async fn wait_registration_event(gw: &Gateway, event: &str) {
    let deadline = Instant::now() + GUARD;
    while registration_events(gw, event).await < 1.0 {
        assert!(
            Instant::now() < deadline,
            "no registration event {event} counted"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_registration_registers_the_number_at_the_pcscf_with_digest_md5() {
    let dir = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    // Two Call-IDs: the REGISTER (challenged, then verified) and the reg-event SUBSCRIBE.
    let sipp = Sipp::start("pcscf_ims.xml", logs.path(), &["-m", "2"]);
    let mut gw = pcscf_gateway(dir.path(), sipp.addr, "e2e-secret", (31400, 31449));

    let user = ApiUser::register(gw.api, "+15550001", "e2e-pcscf-1").await;
    assert!(!user.registration.is_empty());
    sipp.success().await;
    wait_registration_event(&gw, "registered").await;
    assert_eq!(registration_events(&gw, "failed").await, 0.0);

    gw.signal(nix::sys::signal::Signal::SIGTERM);
    assert!(gw.wait_exit(Duration::from_secs(30)).success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_refused_by_the_pcscf() {
    let dir = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let sipp = Sipp::start("pcscf_ims.xml", logs.path(), &["-m", "1"]);
    let mut gw = pcscf_gateway(dir.path(), sipp.addr, "not-the-secret", (31450, 31499));

    let _user = ApiUser::register(gw.api, "+15550001", "e2e-pcscf-2").await;
    wait_registration_event(&gw, "failed").await;
    assert_eq!(registration_events(&gw, "registered").await, 0.0);
    let log = sipp.log_text();
    assert!(log.contains("403 Forbidden"), "SIPp refused it:\n{log}");

    gw.signal(nix::sys::signal::Signal::SIGTERM);
    assert!(gw.wait_exit(Duration::from_secs(30)).success());
}

fn status(ev: &serde_json::Value) -> &str {
    ev["data"]["status"].as_str().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_through_the_pcscf_with_100rel_early_answer_and_echoed_media() {
    let dir = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let mp = free_media_port().to_string();
    // REGISTER, SUBSCRIBE, INVITE: three Call-IDs.
    let sipp = Sipp::start(
        "pcscf_ims.xml",
        logs.path(),
        &["-m", "3", "-rtp_echo", "-mp", &mp],
    );
    let mut gw = pcscf_gateway(dir.path(), sipp.addr, "e2e-secret", (31500, 31549));

    let user = ApiUser::register(gw.api, "+15550001", "e2e-pcscf-3").await;
    wait_registration_event(&gw, "registered").await;
    let mut channel = user.channel().await;
    let mut browser = Browser::new().await;
    let offer = browser.offer().await;
    let id = user.call("tel:+15550300", &offer).await;

    let mut seen = Vec::new();
    let mut answer = None;
    while seen.last().map(String::as_str) != Some("Connected") {
        let ev = channel.expect("session-status", Some(&id)).await;
        if let Some(sdp) = ev["data"]["answer"]["sdp"].as_str() {
            assert!(answer.is_none(), "the answer comes once: {ev}");
            answer = Some((status(&ev).to_owned(), sdp.to_owned()));
        }
        seen.push(status(&ev).to_owned());
    }
    assert_eq!(
        seen,
        ["InProgress", "Ringing", "Connected"],
        "183, 180, 200"
    );
    let (with, answer) = answer.expect("an answer SDP");
    assert_eq!(with, "InProgress", "the reliable 183's SDP is the answer");
    browser.accept_answer(&answer).await;
    let sent = browser.echo_check(10).await;
    assert!(sent >= 10);

    user.hang_up(&id).await;
    let ev = channel.expect("session-status", Some(&id)).await;
    assert_eq!(status(&ev), "Terminated", "{ev}");
    // SIPp verified the digest, saw the SUBSCRIBE on its Service-Route, PRACK with
    // RAck 1 1 INVITE, ACK and BYE.
    sipp.success().await;
    browser.close().await;
    gw.signal(nix::sys::signal::Signal::SIGTERM);
    assert!(gw.wait_exit(Duration::from_secs(30)).success());
}
