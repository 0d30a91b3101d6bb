//! Shared set-up of the backend tests: a gateway worker on a chosen backend, loopback
//! peers, SRTP contexts and RTP packets. Every wait has a deadline.
#![allow(dead_code, clippy::unwrap_used)] // test code: each binary uses part of it

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use media_plane::datapath::backend::io_uring_available;
use media_plane::datapath::{
    spawn, Backend, BackendConfig, CallId, Command, LegConfig, LegCrypto, MetricsSnapshot, PtMap,
    RtcpConfig, RunningWorker, Worker, WorkerEvent, WorkerHandle, WorkerMetrics,
};
use media_plane::srtp::{ReOriginator, SrtpConfig, SrtpContext, SrtpSuite};

pub(crate) const WAIT: Duration = Duration::from_secs(3);
/// Deadline for a first RTCP report: at most 3.75 s after the call's RTCP starts (half of
/// the 5 s interval times at most 1.5), with a margin.
pub(crate) const RTCP_WAIT: Duration = Duration::from_secs(8);

/// Two loopback peer sockets on consecutive ports, the first even (RTP, RTCP).
pub(crate) fn sock_pair() -> (UdpSocket, UdpSocket) {
    loop {
        let rtp = sock();
        let port = addr(&rtp).port();
        if !port.is_multiple_of(2) || port == u16::MAX {
            continue;
        }
        if let Ok(rtcp) = UdpSocket::bind(("127.0.0.1", port + 1)) {
            rtcp.set_read_timeout(Some(RTCP_WAIT)).unwrap();
            return (rtp, rtcp);
        }
    }
}

pub(crate) fn ctx(k: u8) -> SrtpContext {
    SrtpContext::new(
        SrtpSuite::AesCm128HmacSha1_80,
        &[k; 16],
        &[k; 14],
        SrtpConfig::default(),
    )
    .unwrap()
}

/// A loopback peer socket with a read deadline.
pub(crate) fn sock() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s
}

pub(crate) fn addr(s: &UdpSocket) -> SocketAddr {
    s.local_addr().unwrap()
}

/// A loopback port nobody holds right now.
pub(crate) fn free_port() -> u16 {
    addr(&UdpSocket::bind("127.0.0.1:0").unwrap()).port()
}

pub(crate) fn rtp(ssrc: u32, seq: u16, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, 0, 0, 0, 0, 0, 0, 160, 0, 0, 0, 0];
    p[2..4].copy_from_slice(&seq.to_be_bytes());
    p[8..12].copy_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

pub(crate) fn srtp_leg(inbound: u8, outbound: u8, remote: SocketAddr, ssrc: u32) -> Box<LegConfig> {
    Box::new(LegConfig {
        crypto: LegCrypto::Srtp {
            inbound: Box::new(ctx(inbound)),
            outbound: Box::new(ctx(outbound)),
        },
        remote: Some(remote),
        egress_pt: PtMap::default(),
        reoriginator: ReOriginator::new(ssrc, 100, 0),
    })
}

pub(crate) fn rtp_leg(remote: SocketAddr, ssrc: u32) -> Box<LegConfig> {
    Box::new(LegConfig {
        crypto: LegCrypto::Rtp,
        remote: Some(remote),
        egress_pt: PtMap::default(),
        reoriginator: ReOriginator::new(ssrc, 200, 0),
    })
}

/// A worker on its backend thread, its handle and its web-leg address.
pub(crate) struct Gateway {
    pub(crate) running: RunningWorker,
    pub(crate) handle: WorkerHandle,
    pub(crate) web: SocketAddr,
    pub(crate) metrics: Arc<WorkerMetrics>,
}

/// Starts a gateway on `backend`, or `None` (with a note) when io_uring is asked for and
/// the probe says this host does not allow it.
pub(crate) fn start(backend: Backend, inactivity: Duration) -> Option<Gateway> {
    start_with(backend, inactivity, BackendConfig::default().event_queue)
}

/// [`start`] with an event channel of `event_queue` entries.
pub(crate) fn start_with(
    backend: Backend,
    inactivity: Duration,
    event_queue: usize,
) -> Option<Gateway> {
    if backend == Backend::IoUring && !io_uring_available() {
        eprintln!("note: io_uring unavailable on this host (probe failed): test skipped");
        return None;
    }
    let web = UdpSocket::bind("127.0.0.1:0").unwrap();
    let web_addr = addr(&web);
    let (worker, handle) = Worker::new(web_addr.port(), inactivity, 64);
    let metrics = worker.metrics();
    let cfg = BackendConfig {
        backend,
        ims_ip: "127.0.0.1".parse().unwrap(),
        event_queue,
        ..BackendConfig::default()
    };
    let running = spawn(worker, web, cfg).unwrap();
    Some(Gateway {
        running,
        handle,
        web: web_addr,
        metrics,
    })
}

impl Gateway {
    /// The next event, within the deadline.
    pub(crate) fn event(&self) -> WorkerEvent {
        self.running.events().recv_timeout(WAIT).unwrap()
    }

    /// Allocates `call` on a fresh IMS port and waits until its socket is bound.
    pub(crate) fn allocate(
        &self,
        call: CallId,
        web: Box<LegConfig>,
        ims: Box<LegConfig>,
    ) -> SocketAddr {
        let port = free_port();
        self.handle
            .send(Command::Allocate {
                call,
                web,
                ims,
                ims_port: port,
            })
            .unwrap();
        assert_eq!(self.event(), WorkerEvent::Ready { call, port });
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    /// Allocates `call` on a fresh even IMS port whose port+1 is free too, configures
    /// its RTCP in the same queue turn, and waits until its sockets are bound.
    pub(crate) fn allocate_with_rtcp(
        &self,
        call: CallId,
        web: Box<LegConfig>,
        ims: Box<LegConfig>,
        rtcp: RtcpConfig,
    ) -> SocketAddr {
        let (rtp, rtcp_sock) = sock_pair();
        let port = addr(&rtp).port();
        drop((rtp, rtcp_sock));
        self.handle
            .send(Command::Allocate {
                call,
                web,
                ims,
                ims_port: port,
            })
            .unwrap();
        self.handle
            .send(Command::ConfigureRtcp {
                call,
                rtcp: Box::new(rtcp),
            })
            .unwrap();
        assert_eq!(self.event(), WorkerEvent::Ready { call, port });
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    /// Waits (deadline [`RTCP_WAIT`]) until the published metrics satisfy `done`.
    pub(crate) fn metrics_until(&self, done: impl Fn(&MetricsSnapshot) -> bool) -> MetricsSnapshot {
        let give_up = Instant::now() + RTCP_WAIT;
        loop {
            let s = self.metrics.snapshot();
            if done(&s) {
                return s;
            }
            assert!(Instant::now() < give_up, "metrics never got there: {s:?}");
            std::thread::yield_now();
        }
    }

    /// Stops the worker and returns its counters.
    pub(crate) fn stop(self) -> media_plane::datapath::BackendStats {
        self.handle.send(Command::Stop).unwrap();
        self.running.join().unwrap()
    }
}

/// Protects `pkt` with `c` and sends it from `from` to `to`.
pub(crate) fn send_srtp(from: &UdpSocket, c: &mut SrtpContext, pkt: &[u8], to: SocketAddr) {
    let mut buf = [0u8; 1500];
    buf[..pkt.len()].copy_from_slice(pkt);
    let n = c.protect_rtp(&mut buf, pkt.len()).unwrap();
    from.send_to(&buf[..n], to).unwrap();
}

/// Receives one datagram on `s` (deadline), unprotects it with `c` if given; returns the
/// plain RTP packet and its source.
pub(crate) fn recv_rtp(s: &UdpSocket, c: Option<&mut SrtpContext>) -> (Vec<u8>, SocketAddr) {
    let mut buf = [0u8; 1500];
    let (n, from) = s.recv_from(&mut buf).unwrap();
    let n = match c {
        Some(c) => c.unprotect_rtp(&mut buf, n).unwrap(),
        None => n,
    };
    (buf[..n].to_vec(), from)
}

pub(crate) fn ssrc_of(p: &[u8]) -> u32 {
    u32::from_be_bytes(p[8..12].try_into().unwrap())
}

pub(crate) fn seq_of(p: &[u8]) -> u16 {
    u16::from_be_bytes([p[2], p[3]])
}
