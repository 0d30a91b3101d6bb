//! The demo softphone in headless Chromium against the running binary in lab mode
//! (issue 9): `tests/browser/softphone.test.mjs` drives Debian's Chromium through
//! playwright-core; this test starts the gateway on ephemeral ports and runs it.
//! `scripts/test.sh` installs chromium and the npm package when missing; without them
//! this test fails and says what is missing. Screenshots land in
//! `target/browser-artifacts/`.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use std::path::Path;
use std::process::Command;

use common::{ephemeral_config, Gateway};

#[test]
fn the_softphone_calls_through_the_gateway_in_chromium() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "{chromium} is missing: scripts/test.sh installs Debian's chromium"
    );
    assert!(
        root.join("tests/browser/node_modules/playwright-core")
            .exists(),
        "playwright-core is missing: run `npm ci --prefix tests/browser` (scripts/test.sh does)"
    );

    let dir = tempfile::tempdir().unwrap();
    // A port range of its own, so other gateways of the suite never take the same ports.
    let config = ephemeral_config(
        dir.path(),
        &[
            ("ims_port_min = 30000", "ims_port_min = 31000"),
            ("ims_port_max = 30999", "ims_port_max = 31199"),
        ],
    );
    let mut gw = Gateway::start(&config, &[]);
    let artifacts = root.join("target/browser-artifacts");
    let out = Command::new("node")
        .arg("--test")
        .arg("--test-concurrency=1")
        .arg(root.join("tests/browser/softphone.test.mjs"))
        .env("RTCGATE_URL", format!("http://{}", gw.api))
        .env("RTCGATE_ARTIFACTS", &artifacts)
        .env("CHROMIUM", &chromium)
        .current_dir(root.join("tests/browser"))
        .output()
        .expect("node is installed (scripts/test.sh installs nodejs)");
    let report = String::from_utf8_lossy(&out.stdout);
    println!("{report}");
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    // As DTLS server the gateway picks AEAD_AES_128_GCM although Chromium lists
    // AES_CM_128_HMAC_SHA1_80 first.
    if out.status.success() {
        let keys = gw.wait_for_line(|l| l.contains("DTLS-SRTP keys to the data path"));
        assert!(keys.contains("AeadAes128Gcm"), "{keys}");
    }
    gw.signal(nix::sys::signal::Signal::SIGTERM);
    let exit = gw.wait_exit(std::time::Duration::from_secs(30));
    assert!(out.status.success(), "browser scenarios failed:\n{report}");
    assert!(report.contains("# pass 3"), "{report}");
    assert!(artifacts.join("softphone-echo-call.png").exists());
    assert!(exit.success(), "the gateway drains and exits 0: {exit:?}");
}
