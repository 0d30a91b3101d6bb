//! Drain: readiness off at once, new API work refused with 503 + Retry-After, exit 0.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use std::time::Duration;

use common::{ephemeral_config, Gateway};
use nix::sys::signal::Signal;

#[tokio::test(flavor = "multi_thread")]
async fn admin_drain_turns_readiness_off_and_refuses_new_api_work() {
    let dir = tempfile::tempdir().unwrap();
    let config = ephemeral_config(
        dir.path(),
        &[("drain_linger_secs = 5", "drain_linger_secs = 3")],
    );
    let mut gw = Gateway::start(&config, &[]);
    let http = reqwest::Client::new();
    let new_call = gw.url(gw.api, "/webrtc-call-handling/v0.3/sessions");

    let before = http.post(&new_call).send().await.unwrap();
    assert_ne!(before.status(), 503, "not draining yet");

    let drain = http
        .post(gw.url(gw.admin, "/admin/drain"))
        .send()
        .await
        .unwrap();
    assert_eq!(drain.status(), 202);

    // The flag flips before the drain request is answered, so no waiting is needed.
    let ready = http.get(gw.url(gw.admin, "/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["reasons"], serde_json::json!(["node: draining"]));

    let refused = http.post(&new_call).send().await.unwrap();
    assert_eq!(refused.status(), 503);
    assert_eq!(refused.headers()["retry-after"], "30");
    let info: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(info["code"], "UNAVAILABLE");

    // Liveness is not readiness: the process is still healthy while it drains.
    let health = http.get(gw.url(gw.admin, "/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);

    let status = gw.wait_exit(Duration::from_secs(15));
    assert_eq!(status.code(), Some(0));
}

#[test]
fn a_second_sigterm_during_a_drain_exits_at_once() {
    let dir = tempfile::tempdir().unwrap();
    // A linger far longer than the test may wait: only the second signal can end it in time.
    let config = ephemeral_config(
        dir.path(),
        &[("drain_linger_secs = 5", "drain_linger_secs = 600")],
    );
    let mut gw = Gateway::start(&config, &[]);
    gw.signal(Signal::SIGTERM);
    gw.wait_for_line(|l| l.contains("drain started"));
    gw.signal(Signal::SIGINT);
    let status = gw.wait_exit(Duration::from_secs(10));
    assert_eq!(status.code(), Some(130));
}
