//! Invalid configs: exit 2, a message naming the file, the key and the line, no listener.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The default config on ephemeral ports, so a wrongly started gateway clashes with nothing.
fn default_config() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/rtcgate.toml"))
        .unwrap()
        .replace("127.0.0.1:8080", "127.0.0.1:0")
        .replace("127.0.0.1:9464", "127.0.0.1:0")
}

/// Runs the command; a gateway that wrongly started is killed after 20 s and fails the test.
fn output_within(cmd: &mut Command) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            let out = child.wait_with_output().unwrap();
            panic!(
                "rtcgate kept running on an invalid config: {}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn run_with(text: &str, env: &[(&str, &str)]) -> (Output, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rtcgate.toml");
    std::fs::write(&path, text).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rtcgate"));
    cmd.args(["run", "--config"]).arg(&path);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = output_within(&mut cmd);
    (out, path.display().to_string())
}

fn assert_refused(out: &Output, file: &str, key: &str, line: Option<usize>) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert!(stderr.contains(file), "names the file: {stderr}");
    assert!(
        stderr.contains(&format!("`{key}`")),
        "names the key {key}: {stderr}"
    );
    if let Some(line) = line {
        assert!(
            stderr.contains(&format!("{file}:{line}:")),
            "names line {line}: {stderr}"
        );
    }
    assert!(
        !stdout.contains("listening"),
        "nothing may start listening: {stdout}"
    );
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

#[test]
fn unknown_key_is_named_with_its_line() {
    let text = default_config().replace(
        "retry_after_secs = 30",
        "retry_after_secs = 30\nretry_afterr = 1",
    );
    let (out, file) = run_with(&text, &[]);
    assert_refused(
        &out,
        &file,
        "api.retry_afterr",
        Some(line_of(&text, "retry_afterr")),
    );
}

#[test]
fn wrong_type_is_named_with_its_line() {
    let text = default_config().replace("workers = 0", "workers = \"many\"");
    let (out, file) = run_with(&text, &[]);
    assert_refused(
        &out,
        &file,
        "media.workers",
        Some(line_of(&text, "workers = \"many\"")),
    );
}

#[test]
fn invalid_address_is_named_with_its_line() {
    let text = default_config().replace("127.0.0.1:20000", "127.0.0.1:99999");
    let (out, file) = run_with(&text, &[]);
    assert_refused(
        &out,
        &file,
        "media.webrtc_listen",
        Some(line_of(&text, "99999")),
    );
}

#[test]
fn semantic_error_is_named_with_its_line() {
    let text = default_config().replace("mode = \"lab\"", "mode = \"pcscf\"");
    let (out, file) = run_with(&text, &[]);
    assert_refused(&out, &file, "sip.next_hop", None);
}

#[test]
fn missing_file_is_named() {
    let out = output_within(Command::new(env!("CARGO_BIN_EXE_rtcgate")).args([
        "run",
        "--config",
        "/nonexistent/rtcgate.toml",
    ]));
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("/nonexistent/rtcgate.toml") && stderr.contains("cannot read"),
        "{stderr}"
    );
}

#[test]
fn bad_environment_override_names_the_variable_and_key() {
    let (out, _) = run_with(&default_config(), &[("RTCGATE_MEDIA__WORKERS", "lots")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("RTCGATE_MEDIA__WORKERS") && stderr.contains("`media.workers`"),
        "{stderr}"
    );
}

#[test]
fn check_config_accepts_the_default_and_masks_nothing_it_should_not() {
    let out = Command::new(env!("CARGO_BIN_EXE_rtcgate"))
        .args([
            "check-config",
            concat!(env!("CARGO_MANIFEST_DIR"), "/config/rtcgate.toml"),
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8_lossy(&out.stdout);
    // The printed config is itself a valid config.
    let reparsed: toml::Table = printed.parse().unwrap();
    assert_eq!(reparsed["api"]["listen"].as_str(), Some("127.0.0.1:8080"));
}

#[test]
fn check_config_rejects_like_run() {
    let text = default_config().replace("backend = \"auto\"", "backend = \"dpdk\"");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(&path, &text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rtcgate"))
        .arg("check-config")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("`media.backend`"), "{stderr}");
}

#[test]
fn version_prints_the_package_version() {
    let out = Command::new(env!("CARGO_BIN_EXE_rtcgate"))
        .arg("version")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("rtcgate {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn turning_tls_verification_off_is_refused() {
    let text = default_config().replace("tls_verify = true", "tls_verify = false");
    let (out, file) = run_with(&text, &[]);
    assert_refused(
        &out,
        &file,
        "sip.tls_verify",
        Some(line_of(&text, "tls_verify = false")),
    );
}

#[test]
fn a_next_hop_over_tls_needs_a_ca_to_verify_it() {
    let text = default_config()
        .replace("mode = \"lab\"", "mode = \"trunk\"")
        .replace(
            "tls_verify = true",
            "next_hop = \"sips:ibcf.ims.test\"\ndomain = \"ims.test\"\ntls_verify = true",
        );
    let (out, file) = run_with(&text, &[]);
    assert_refused(&out, &file, "sip.tls_ca", None);
}

#[test]
fn a_client_certificate_without_its_key_is_refused() {
    let text = default_config().replace(
        "tls_verify = true",
        "tls_verify = true\ntls_client_cert = \"/etc/rtcgate/client.pem\"",
    );
    let (out, file) = run_with(&text, &[]);
    assert_refused(&out, &file, "sip.tls_client_cert", None);
}

#[test]
fn a_trunk_without_a_home_domain_is_refused() {
    let text = default_config()
        .replace("mode = \"lab\"", "mode = \"trunk\"")
        .replace(
            "tls_verify = true",
            "next_hop = \"192.0.2.1:5060\"\ntls_verify = true",
        );
    let (out, file) = run_with(&text, &[]);
    assert_refused(&out, &file, "sip.domain", None);
}

#[test]
fn jwt_mode_without_an_issuer_is_refused() {
    let text = default_config().replace("mode = \"dev\"", "mode = \"jwt\"");
    let (out, file) = run_with(&text, &[]);
    assert_refused(&out, &file, "api.auth.issuer", None);
}

#[test]
fn dev_tokens_on_a_public_api_address_are_refused() {
    let (out, file) = run_with(&default_config(), &[("RTCGATE_API__LISTEN", "0.0.0.0:0")]);
    assert_refused(&out, &file, "api.auth.mode", None);
}

#[test]
fn a_malformed_cors_origin_is_refused() {
    let text = default_config().replace(
        "allowed_origins = [\"http://localhost:*\", \"http://127.0.0.1:*\"]",
        "allowed_origins = [\"localhost\"]",
    );
    let (out, file) = run_with(&text, &[]);
    assert_refused(&out, &file, "api.cors.allowed_origins", None);
}

#[test]
fn per_call_webrtc_ports_need_a_range_apart_from_the_ims_one() {
    let text = default_config().replace("webrtc_ports = \"shared\"", "webrtc_ports = \"per_call\"");
    let (out, file) = run_with(&text, &[]);
    assert_refused(&out, &file, "media.webrtc_port_min", None);
    let overlapping = text.replace(
        "# webrtc_port_min = 40000\n# webrtc_port_max = 40999",
        "webrtc_port_min = 30500\nwebrtc_port_max = 31500",
    );
    let (out, file) = run_with(&overlapping, &[]);
    assert_refused(&out, &file, "media.webrtc_port_min", None);
}
