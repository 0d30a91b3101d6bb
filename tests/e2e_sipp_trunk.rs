//! End to end against the running binary in trunk mode (issue 8 "End to end" (b) and (c),
//! issue 4 "SIPp … against the running gateway binary"): SIPp is the IBCF/next hop and the
//! far end, with plain RTP (`media.ims_srtp = false`: Debian's SIPp has no SRTP) and
//! `-rtp_echo`; the web side is the webrtc-rs client of tests/e2e_client.
//!
//! - (b) the web user calls a number behind the trunk: SIPp answers, the RTP payloads the
//!   browser sends come back unchanged (browser → gateway → SIPp echo → gateway →
//!   browser), DELETE hangs up (SIPp gets the BYE).
//! - (c) SIPp calls the web user's number: `session-invitation` with the offer, the client
//!   answers with PUT status Connected, media flows both ways through SIPp's echo, SIPp
//!   hangs up (once the test tells it media flowed) → `Terminated`.
//! - SIPp calls the web user offering 100rel and session timers; the web user rings, then
//!   answers; after media flowed SIPp holds (re-INVITE sendonly, answered recvonly),
//!   refreshes the session with UPDATE and hangs up: Ringing, Connected, Hold, Terminated.
//! - a far end that answers 486 → `Busy`.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;
mod e2e_client;

use std::net::SocketAddr;
use std::path::Path;

use common::{ephemeral_config, Gateway};
use e2e_client::sipp::{free_media_port, Sipp};
use e2e_client::{ApiUser, Browser};

/// The gateway in trunk mode toward `next_hop`, plain RTP toward IMS, its own IMS ports.
fn trunk_gateway(dir: &Path, next_hop: SocketAddr, ports: (u16, u16)) -> Gateway {
    let next_hop = format!("next_hop = \"{next_hop}\"");
    let (min, max) = (
        format!("ims_port_min = {}", ports.0),
        format!("ims_port_max = {}", ports.1),
    );
    let config = ephemeral_config(
        dir,
        &[
            ("mode = \"lab\"", "mode = \"trunk\""),
            (
                "# next_hop = \"sip:pcscf.ims.example.net;transport=tcp\"",
                &next_hop,
            ),
            ("# domain = \"ims.example.net\"", "domain = \"ims.test\""),
            ("ims_srtp = true", "ims_srtp = false"),
            // SIPp would take an OPTIONS keep-alive for an unexpected message.
            ("options_interval_secs = 30", "options_interval_secs = 0"),
            ("ims_port_min = 30000", &min),
            ("ims_port_max = 30999", &max),
        ],
    );
    Gateway::start(&config, &[])
}

fn status(ev: &serde_json::Value) -> &str {
    ev["data"]["status"].as_str().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webrtc_client_calls_a_sipp_far_end_through_the_trunk_and_hears_the_echo() {
    let dir = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let mp = free_media_port().to_string();
    let sipp = Sipp::start(
        "trunk_uas_echo.xml",
        logs.path(),
        &["-rtp_echo", "-mp", &mp],
    );
    let mut gw = trunk_gateway(dir.path(), sipp.addr, (31300, 31349));

    let user = ApiUser::register(gw.api, "+15550001", "e2e-trunk-b").await;
    let mut channel = user.channel().await;
    let mut browser = Browser::new().await;
    let offer = browser.offer().await;
    let id = user.call("tel:+15550300", &offer).await;

    let mut seen = Vec::new();
    let mut answer = None;
    while seen.last().map(String::as_str) != Some("Connected") {
        let ev = channel.expect("session-status", Some(&id)).await;
        if let Some(sdp) = ev["data"]["answer"]["sdp"].as_str() {
            answer.get_or_insert_with(|| sdp.to_owned());
        }
        seen.push(status(&ev).to_owned());
    }
    assert_eq!(seen, ["Ringing", "Connected"], "SIPp sends 180, then 200");
    let answer = answer.expect("the answer SDP arrives with Connected");
    assert!(answer.contains("UDP/TLS/RTP/SAVPF"), "{answer}");
    browser.accept_answer(&answer).await;
    let sent = browser.echo_check(10).await;
    assert!(sent >= 10);

    user.hang_up(&id).await;
    let ev = channel.expect("session-status", Some(&id)).await;
    assert_eq!(status(&ev), "Terminated", "{ev}");
    // SIPp saw INVITE (RTP/AVP offer), ACK and BYE, in order.
    sipp.success().await;
    browser.close().await;
    gw.signal(nix::sys::signal::Signal::SIGTERM);
    assert!(gw.wait_exit(std::time::Duration::from_secs(30)).success());
}

/// Tells SIPp (waiting in `<recv request="INFO">`) that media flowed: an INFO with its
/// call's Call-ID, from a socket of the test (SIPp matches calls by Call-ID).
fn go_ahead(sipp: SocketAddr, call_id: &str) {
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let me = sock.local_addr().unwrap();
    let info = format!(
        "INFO sip:sipp@{sipp} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {me};branch=z9hG4bK-e2e-go-ahead\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:test@{me}>;tag=e2e\r\n\
         To: <sip:sipp@{sipp}>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 INFO\r\n\
         Content-Length: 0\r\n\r\n"
    );
    sock.send_to(info.as_bytes(), sipp).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_calls_the_web_user_through_the_trunk_media_flows_sipp_hangs_up() {
    let dir = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    // The gateway first (SIPp's INVITE goes to its SIP port); its next hop is never used
    // by this call (the answer goes back the INVITE's way).
    let unused_hop = SocketAddr::from(([127, 0, 0, 1], e2e_client::sipp::free_udp_port()));
    let mut gw = trunk_gateway(dir.path(), unused_hop, (31350, 31399));
    let user = ApiUser::register(gw.api, "+15550001", "e2e-trunk-c").await;
    let mut channel = user.channel().await;

    let mp = free_media_port().to_string();
    let call_id = "e2e-trunk-mt-call-1";
    let target = gw.sip_udp.to_string();
    let sipp = Sipp::start(
        "trunk_uac_call.xml",
        logs.path(),
        &[
            &target,
            "-s",
            "+15550001",
            "-cid_str",
            "e2e-trunk-mt-call-%u",
            "-rtp_echo",
            "-mp",
            &mp,
        ],
    );

    let inv = channel.expect("session-invitation", None).await;
    let data = &inv["data"];
    assert_eq!(data["sequenceNumber"], 1, "{inv}");
    assert_eq!(data["receiverAddress"], "tel:+15550001", "{inv}");
    let id = data["mediaSessionId"].as_str().unwrap().to_owned();
    let offer = data["offer"]["sdp"].as_str().unwrap();
    assert!(
        offer.contains("UDP/TLS/RTP/SAVPF"),
        "a WebRTC offer: {offer}"
    );

    let mut browser = Browser::new().await;
    let answer = browser.answer(offer).await;
    let got = user.answer(&id, &answer).await;
    assert_eq!(got["status"], "Connected", "{got}");

    // Media both ways: the browser's payloads reach SIPp, come back from its echo.
    let sent = browser.echo_check(10).await;
    assert!(sent >= 10);
    go_ahead(sipp.addr, call_id);

    // Status events up to the end of the call, which SIPp's BYE brings.
    let mut statuses = Vec::new();
    while statuses.last().map(String::as_str) != Some("Terminated") {
        let ev = channel.expect("session-status", Some(&id)).await;
        statuses.push(status(&ev).to_owned());
    }
    assert_eq!(statuses, ["Connected", "Terminated"]);
    sipp.success().await;
    assert_eq!(user.session(&id).await["status"], "Terminated");
    browser.close().await;
    gw.signal(nix::sys::signal::Signal::SIGTERM);
    assert!(gw.wait_exit(std::time::Duration::from_secs(30)).success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_far_end_behind_the_trunk_ends_the_call_with_busy() {
    let dir = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let sipp = Sipp::start("trunk_uas_busy.xml", logs.path(), &[]);
    let mut gw = trunk_gateway(dir.path(), sipp.addr, (31600, 31649));

    let user = ApiUser::register(gw.api, "+15550001", "e2e-trunk-busy").await;
    let mut channel = user.channel().await;
    let browser = Browser::new().await;
    let offer = browser.offer().await;
    let id = user.call("tel:+15550486", &offer).await;

    let ev = channel.expect("session-status", Some(&id)).await;
    assert_eq!(status(&ev), "Busy", "486 Busy Here: {ev}");
    assert!(ev["data"].get("answer").is_none(), "no answer: {ev}");
    assert_eq!(user.session(&id).await["status"], "Busy");
    // SIPp saw the INVITE and the ACK of its 486.
    sipp.success().await;
    browser.close().await;
    gw.signal(nix::sys::signal::Signal::SIGTERM);
    assert!(gw.wait_exit(std::time::Duration::from_secs(30)).success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_calls_the_web_user_with_100rel_offered_holds_refreshes_and_hangs_up() {
    let dir = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let unused_hop = SocketAddr::from(([127, 0, 0, 1], e2e_client::sipp::free_udp_port()));
    let mut gw = trunk_gateway(dir.path(), unused_hop, (31650, 31699));
    let user = ApiUser::register(gw.api, "+15550001", "e2e-trunk-hold").await;
    let mut channel = user.channel().await;

    let mp = free_media_port().to_string();
    let call_id = "e2e-trunk-hold-call-1";
    let target = gw.sip_udp.to_string();
    let sipp = Sipp::start(
        "trunk_uac_hold_refresh.xml",
        logs.path(),
        &[
            &target,
            "-s",
            "+15550001",
            "-cid_str",
            "e2e-trunk-hold-call-%u",
            "-rtp_echo",
            "-mp",
            &mp,
        ],
    );

    let inv = channel.expect("session-invitation", None).await;
    assert_eq!(inv["data"]["originatorAddress"], "tel:+15557777", "{inv}");
    let id = inv["data"]["mediaSessionId"].as_str().unwrap().to_owned();
    let offer = inv["data"]["offer"]["sdp"].as_str().unwrap().to_owned();
    let got = user
        .put_status(&id, serde_json::json!({"status": "Ringing"}))
        .await;
    assert_eq!(got["status"], "Ringing", "{got}");
    let mut browser = Browser::new().await;
    let answer = browser.answer(&offer).await;
    assert_eq!(user.answer(&id, &answer).await["status"], "Connected");
    let sent = browser.echo_check(10).await;
    assert!(sent >= 10);
    go_ahead(sipp.addr, call_id);

    // SIPp holds (absorbed: answered recvonly, the browser's ICE/DTLS untouched), refreshes
    // with UPDATE and hangs up.
    let mut statuses = Vec::new();
    while statuses.last().map(String::as_str) != Some("Terminated") {
        let ev = channel.expect("session-status", Some(&id)).await;
        statuses.push(status(&ev).to_owned());
    }
    assert_eq!(
        statuses,
        ["Ringing", "Connected", "Hold", "Terminated"],
        "the web side's view of the call"
    );
    sipp.success().await;
    browser.close().await;
    gw.signal(nix::sys::signal::Signal::SIGTERM);
    assert!(gw.wait_exit(std::time::Duration::from_secs(30)).success());
}
