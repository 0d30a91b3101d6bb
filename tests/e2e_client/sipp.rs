//! SIPp next to the running gateway: free ports, starting a scenario of tests/sipp/,
//! waiting until it is bound and until it has finished successfully.

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free local UDP port (SIPp cannot bind port 0).
pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A free even port `p` with `p..p + 4` all free right now: SIPp's media port with
/// `-rtp_echo` (it also binds the video port, +2).
pub fn free_media_port() -> u16 {
    loop {
        let p = free_udp_port() & !1;
        if !(1024..=u16::MAX - 4).contains(&p) {
            continue;
        }
        let all: Vec<_> = (p..p + 4)
            .map(|q| UdpSocket::bind(("127.0.0.1", q)))
            .collect();
        if all.iter().all(Result::is_ok) {
            return p;
        }
    }
}

/// SIPp running a scenario; killed when dropped (its logs printed if the test failed).
pub struct Sipp {
    child: Option<Child>,
    pub addr: SocketAddr,
    logs: std::path::PathBuf,
}

impl Sipp {
    /// Starts SIPp with `scenario` (a file in tests/sipp/) on a free UDP port, logs in
    /// `logs`; `args` come first (a remote address, `-s`, `-rtp_echo`, `-m` calls: 1 unless given, …). Returns once
    /// its SIP port is bound.
    pub fn start(scenario: &str, logs: &Path, args: &[&str]) -> Sipp {
        let port = free_udp_port();
        let path = format!("{}/tests/sipp/{scenario}", env!("CARGO_MANIFEST_DIR"));
        let stderr = std::fs::File::create(logs.join("sipp-stderr.log")).unwrap();
        let mut child = Command::new("sipp")
            .args(args)
            .args(if args.contains(&"-m") {
                &[][..]
            } else {
                &["-m", "1"][..]
            })
            .args([
                "-sf",
                &path,
                "-nostdin",
                "-i",
                "127.0.0.1",
                "-timeout",
                "40s",
                "-trace_err",
                "-trace_msg",
                "-trace_logs",
            ])
            .args(["-p", &port.to_string()])
            .current_dir(logs)
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("sipp is installed (scripts/test.sh installs sip-tester)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            if let Some(status) = child.try_wait().unwrap() {
                let err = std::fs::read_to_string(logs.join("sipp-stderr.log")).unwrap();
                panic!("SIPp exited at start ({status}):\n{err}");
            }
            assert!(Instant::now() < deadline, "SIPp did not bind its port");
            std::thread::sleep(Duration::from_millis(20));
        }
        Sipp {
            child: Some(child),
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            logs: logs.to_owned(),
        }
    }

    /// Waits (at most 30 s) for SIPp to finish and asserts its scenario succeeded, showing
    /// its logs otherwise.
    pub async fn success(mut self) {
        let mut child = self.child.take().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert!(
            status.is_some_and(|s| s.success()),
            "the SIPp scenario failed: {status:?}\n{}",
            self.log_text()
        );
    }

    /// Everything SIPp wrote (errors, messages, log actions).
    pub fn log_text(&self) -> String {
        let mut files: Vec<_> = std::fs::read_dir(&self.logs)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "log"))
            .collect();
        files.sort();
        files
            .iter()
            .map(|p| {
                format!(
                    "==> {} <==\n{}\n",
                    p.display(),
                    std::fs::read_to_string(p).unwrap_or_default()
                )
            })
            .collect()
    }
}

impl Drop for Sipp {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("SIPp's logs, the test having failed:\n{}", self.log_text());
        }
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
