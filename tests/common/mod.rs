//! Starts the real `rtcgate` binary on ephemeral ports and reads what it says.
#![allow(dead_code, clippy::unwrap_used)] // each test file uses a different part of this harness

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The default config with every listener on an ephemeral loopback port.
pub(crate) fn ephemeral_config(dir: &Path, extra_env_free_edits: &[(&str, &str)]) -> PathBuf {
    let mut text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/rtcgate.toml"))
            .expect("the default config is in the repository");
    for (from, to) in [
        ("listen = \"127.0.0.1:8080\"", "listen = \"127.0.0.1:0\""),
        ("listen = \"127.0.0.1:9464\"", "listen = \"127.0.0.1:0\""),
        ("format = \"text\"", "format = \"json\""),
        (
            "udp_listen = \"127.0.0.1:5060\"",
            "udp_listen = \"127.0.0.1:0\"",
        ),
        (
            "tcp_listen = \"127.0.0.1:5060\"",
            "tcp_listen = \"127.0.0.1:0\"",
        ),
        ("listen = \"127.0.0.1:5070\"", "listen = \"127.0.0.1:0\""),
        (
            "webrtc_listen = \"127.0.0.1:20000\"",
            "webrtc_listen = \"127.0.0.1:0\"",
        ),
    ]
    .iter()
    .chain(extra_env_free_edits)
    {
        assert!(text.contains(from), "the default config has `{from}`");
        text = text.replace(from, to);
    }
    let path = dir.join("rtcgate.toml");
    std::fs::write(&path, text).expect("temp dir is writable");
    path
}

/// A running gateway and the log lines it has printed.
pub(crate) struct Gateway {
    pub(crate) child: Child,
    lines: mpsc::Receiver<String>,
    pub(crate) seen: Vec<String>,
    pub(crate) admin: SocketAddr,
    pub(crate) api: SocketAddr,
    pub(crate) sip_udp: SocketAddr,
    pub(crate) sip_tcp: SocketAddr,
}

impl Gateway {
    /// Starts `rtcgate run --config PATH` and waits until every listener is up.
    pub(crate) fn start(config: &Path, env: &[(&str, &str)]) -> Gateway {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_rtcgate"));
        cmd.args(["run", "--config"])
            .arg(config)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("the binary was built by cargo");
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let unset = SocketAddr::from(([0, 0, 0, 0], 0));
        let mut gw = Gateway {
            child,
            lines,
            seen: Vec::new(),
            admin: unset,
            api: unset,
            sip_udp: unset,
            sip_tcp: unset,
        };
        gw.admin = gw.listening("admin");
        gw.api = gw.listening("api");
        gw.sip_udp = gw.listening("sip_udp");
        gw.sip_tcp = gw.listening("sip_tcp");
        gw.wait_for_line(|l| l.contains("rtcgate started"));
        gw
    }

    pub(crate) fn listening(&mut self, name: &str) -> SocketAddr {
        let line = self.wait_for_line(|l| {
            l.contains("\"message\":\"listening\"")
                && l.contains(&format!("\"listener\":\"{name}\""))
        });
        let v: serde_json::Value = serde_json::from_str(&line).expect("json log line");
        v["addr"]
            .as_str()
            .expect("addr field")
            .parse()
            .expect("socket address")
    }

    /// Waits (at most 20 s) for a log line matching `pred`, looking at lines already seen first.
    pub(crate) fn wait_for_line(&mut self, pred: impl Fn(&str) -> bool) -> String {
        if let Some(l) = self.seen.iter().find(|l| pred(l)) {
            return l.clone();
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if pred(&line) {
                        return line;
                    }
                }
                Err(_) => panic!("no matching log line within 20 s; seen: {:#?}", self.seen),
            }
        }
    }

    pub(crate) fn url(&self, listener: SocketAddr, path: &str) -> String {
        format!("http://{listener}{path}")
    }

    pub(crate) fn signal(&self, sig: nix::sys::signal::Signal) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        nix::sys::signal::kill(pid, sig).expect("the child is alive");
    }

    /// Waits for the process to exit, at most `limit`.
    pub(crate) fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("waitpid") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "rtcgate did not exit within {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Parses a Prometheus text exposition into (name, labels, value) samples.
/// One sample: metric name, labels, value.
pub(crate) type Sample = (String, Vec<(String, String)>, f64);

pub(crate) fn parse_exposition(text: &str) -> Vec<Sample> {
    let mut out = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let (series, value) = line.rsplit_once(' ').expect("sample line has a value");
        let value: f64 = value.parse().expect("sample value is a number");
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => {
                let body = rest.strip_suffix('}').expect("labels close");
                let labels = body
                    .split(',')
                    .filter(|kv| !kv.is_empty())
                    .map(|kv| {
                        let (k, v) = kv.split_once('=').expect("label has =");
                        (k.to_owned(), v.trim_matches('"').to_owned())
                    })
                    .collect();
                (name.to_owned(), labels)
            }
            None => (series.to_owned(), Vec::new()),
        };
        out.push((name, labels, value));
    }
    out
}
