//! The admin surface of the running binary: metrics, health, readiness, SIGTERM.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use std::time::Duration;

use common::{ephemeral_config, parse_exposition, Gateway};
use nix::sys::signal::Signal;

#[tokio::test(flavor = "multi_thread")]
async fn metrics_health_and_readiness_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let config = ephemeral_config(dir.path(), &[]);
    let gw = Gateway::start(&config, &[]);
    let http = reqwest::Client::new();

    let health = http.get(gw.url(gw.admin, "/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);

    let ready = http.get(gw.url(gw.admin, "/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["status"], "ready");

    let metrics = http.get(gw.url(gw.admin, "/metrics")).send().await.unwrap();
    assert_eq!(metrics.status(), 200);
    let samples = parse_exposition(&metrics.text().await.unwrap());
    let find = |name: &str| {
        samples
            .iter()
            .find(|(n, _, _)| n == name)
            .unwrap_or_else(|| panic!("{name} missing"))
    };

    let (_, labels, value) = find("rtcgate_build_info");
    assert_eq!(*value, 1.0);
    assert!(
        labels.contains(&("version".into(), env!("CARGO_PKG_VERSION").into())),
        "{labels:?}"
    );
    assert!(find("process_resident_memory_bytes").2 > 0.0);
    assert!(find("process_open_fds").2 > 0.0);
    find("process_cpu_seconds_total");
    assert_eq!(find("rtcgate_draining").2, 0.0);
    let ready_subsystems: Vec<_> = samples
        .iter()
        .filter(|(n, _, _)| n == "rtcgate_subsystem_ready")
        .map(|(_, l, v)| (l[0].1.clone(), *v))
        .collect();
    assert_eq!(
        ready_subsystems,
        vec![
            ("admin".into(), 1.0),
            ("api".into(), 1.0),
            ("media".into(), 1.0),
            ("sip".into(), 1.0)
        ]
    );
}

#[test]
fn sigterm_drains_and_exits_zero_within_the_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let config = ephemeral_config(
        dir.path(),
        &[("drain_linger_secs = 5", "drain_linger_secs = 1")],
    );
    let mut gw = Gateway::start(&config, &[("RTCGATE_ADMIN__DRAIN_DEADLINE_SECS", "10")]);
    gw.signal(Signal::SIGTERM);
    let status = gw.wait_exit(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "exit status {status:?}");
    gw.wait_for_line(|l| l.contains("drain started") && l.contains("SIGTERM"));
    gw.wait_for_line(|l| l.contains("drained; exiting"));
}

#[test]
fn sighup_reloads_the_log_level_from_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = ephemeral_config(dir.path(), &[]);
    let mut gw = Gateway::start(&config, &[]);
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("level = \"info\"", "level = \"info,rtcgate=debug\"");
    std::fs::write(&config, text).unwrap();
    gw.signal(Signal::SIGHUP);
    gw.wait_for_line(|l| l.contains("log level reloaded") && l.contains("info,rtcgate=debug"));
}
