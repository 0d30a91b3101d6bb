//! End to end against the running binary in lab mode (issue 8, "End to end" (a)): a
//! client built on webrtc-rs — the JSON API, the WebSocket notification channel and an
//! `RTCPeerConnection` as the browser — calls the lab echo number `+15550100`:
//! session-status InProgress/Ringing/Connected arrive in order (the answer SDP in the
//! first that has one), ICE + DTLS-SRTP complete, the RTP payloads it sends come back
//! unchanged, DELETE ends the call and `Terminated` arrives.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;
mod e2e_client;

use common::{ephemeral_config, Gateway};
use e2e_client::{ApiUser, Browser};

/// The status of a session-status event.
fn status(ev: &serde_json::Value) -> &str {
    ev["data"]["status"].as_str().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webrtc_client_calls_the_lab_echo_number_and_hears_its_own_audio() {
    let dir = tempfile::tempdir().unwrap();
    // A port range of its own, so other gateways of the suite never take the same ports.
    let config = ephemeral_config(
        dir.path(),
        &[
            ("ims_port_min = 30000", "ims_port_min = 31200"),
            ("ims_port_max = 30999", "ims_port_max = 31299"),
        ],
    );
    let mut gw = Gateway::start(&config, &[]);

    let user = ApiUser::register(gw.api, "+15550001", "e2e-lab-1").await;
    let mut channel = user.channel().await;
    let mut browser = Browser::new().await;
    let offer = browser.offer().await;
    let id = user.call("tel:+15550100", &offer).await;

    // InProgress, Ringing, Connected, in this order (InProgress only if the far end sends
    // a 183; the lab's echo number rings, then answers).
    let mut seen = Vec::new();
    let mut answer = None;
    while seen.last().map(String::as_str) != Some("Connected") {
        let ev = channel.expect("session-status", Some(&id)).await;
        assert_eq!(
            ev["data"]["sequenceNumber"].as_u64().unwrap(),
            seen.len() as u64 + 1,
            "sequenceNumber counts per session from 1: {ev}"
        );
        let s = status(&ev).to_owned();
        if let Some(sdp) = ev["data"]["answer"]["sdp"].as_str() {
            assert!(answer.is_none(), "the answer comes once: {ev}");
            answer = Some(sdp.to_owned());
        }
        seen.push(s);
    }
    let order: Vec<&str> = seen.iter().map(String::as_str).collect();
    assert!(
        order == ["InProgress", "Ringing", "Connected"] || order == ["Ringing", "Connected"],
        "session-status order: {order:?}"
    );
    let answer = answer.expect("the answer SDP arrives with a session-status event");
    assert!(answer.contains("UDP/TLS/RTP/SAVPF"), "{answer}");
    assert!(answer.contains("a=ice-lite"), "{answer}");
    let got = user.session(&id).await;
    assert_eq!(got["status"], "Connected");
    assert_eq!(
        got["answer"]["sdp"],
        answer.as_str(),
        "GET shows the same answer"
    );

    browser.accept_answer(&answer).await;
    // ICE + DTLS-SRTP with the gateway, then 10 of the packets sent come back unchanged
    // (gateway → lab IMS echo → gateway → browser).
    let sent = browser.echo_check(10).await;
    assert!(sent >= 10);

    user.hang_up(&id).await;
    let ev = channel.expect("session-status", Some(&id)).await;
    assert_eq!(status(&ev), "Terminated", "{ev}");
    assert_eq!(user.session(&id).await["status"], "Terminated");
    browser.close().await;

    gw.signal(nix::sys::signal::Signal::SIGTERM);
    let exit = gw.wait_exit(std::time::Duration::from_secs(30));
    assert!(exit.success(), "the gateway drains and exits 0: {exit:?}");
}
