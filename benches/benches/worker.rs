//! The worker's own per-packet cost, without sockets: `Worker::handle_datagram_routed`
//! on SRTP → SRTP calls (AES_CM_128_HMAC_SHA1_80 both legs, 172-octet RTP), flows
//! round robin as `datapath-bench` sends them, for 100, 1000 and 4000 calls.
//!
//! What `datapath-bench` calls "engine minus bare" is this (routing, per-call state,
//! SRTP transcode) plus what the worker's cache misses cost the kernel path. Here the
//! growth with the flow count is the cost of per-call state falling out of cache. At
//! 4000 flows (2026-12-03) nearly all of that growth was in the SRTP contexts: their
//! replay window and stream slots (then two heap allocations behind each context,
//! reached one after the other), the salt and the AES round keys; the worker's own
//! routing and session state grow by ~15 ns. With the stream slots and windows inline
//! in the context (same day) 1000 flows went from ~400 to ~350 ns per packet and 4000
//! flows from ~990 to ~670 ns.
//! Each iteration builds one fresh packet per flow (untimed; a replayed packet would be
//! refused), then times the worker over all of them.
//!
//! Run: `cargo bench -p benches --bench worker -- --warm-up-time 1 --measurement-time 3`

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use media_plane::datapath::{
    Action, Command, LegConfig, LegCrypto, PtMap, Worker, WorkerEvent, WorkerHandle,
};
use media_plane::srtp::{ReOriginator, SrtpConfig, SrtpContext, SrtpSuite};

const SUITE: SrtpSuite = SrtpSuite::AesCm128HmacSha1_80;
const PAYLOAD: usize = 160;
const WEB_PORT: u16 = 40_000;
const GEN_PORT: u16 = 50_000;
const SSRC_BASE: u32 = 0x1000;

fn ctx(k: u8) -> SrtpContext {
    SrtpContext::new(SUITE, &[k; 16], &[k; 14], SrtpConfig::default())
        .expect("bench keys fit the suite")
}

fn leg(crypto: LegCrypto, remote: SocketAddr, ssrc: u32) -> Box<LegConfig> {
    Box::new(LegConfig {
        crypto,
        remote: Some(remote),
        egress_pt: PtMap::default(),
        reoriginator: ReOriginator::new(ssrc, 0, 0),
    })
}

fn srtp(inbound: u8, outbound: u8) -> LegCrypto {
    LegCrypto::Srtp {
        inbound: Box::new(ctx(inbound)),
        outbound: Box::new(ctx(outbound)),
    }
}

/// The source of flow `i`, as `datapath-bench` numbers them.
fn source(i: usize) -> SocketAddr {
    let ip = Ipv4Addr::new(127, 1, (i / 250) as u8, (i % 250 + 1) as u8);
    SocketAddr::new(IpAddr::V4(ip), GEN_PORT)
}

struct Setup {
    worker: Worker,
    // Dropping the last handle stops the worker: kept for the bench's lifetime.
    _handle: WorkerHandle,
    senders: Vec<SrtpContext>,
    seq: Vec<u16>,
    bufs: Vec<[u8; 256]>,
    lens: Vec<usize>,
}

fn setup(flows: usize) -> Setup {
    let now = Instant::now();
    let (mut worker, handle) = Worker::new(WEB_PORT, Duration::from_secs(3600), flows + 16);
    let sink = SocketAddr::from(([127, 0, 0, 1], 9));
    for i in 0..flows {
        handle
            .send(Command::Allocate {
                call: i as u64,
                web: leg(srtp(1, 2), source(i), 0x2000 + i as u32),
                ims: leg(srtp(3, 4), sink, 0x3000 + i as u32),
                ims_port: 20_000 + 2 * i as u16,
            })
            .expect("queue sized for every flow");
        worker.drain_commands(now);
        while let Some(op) = worker.poll_socket_op() {
            if let media_plane::datapath::SocketOp::Open { call, port } = op {
                worker.socket_opened(call, port);
            }
        }
    }
    while let Some(e) = worker.poll_event(now) {
        assert!(matches!(e, WorkerEvent::Ready { .. }), "{e:?}");
    }
    Setup {
        worker,
        _handle: handle,
        senders: (0..flows).map(|_| ctx(1)).collect(),
        seq: vec![0; flows],
        bufs: vec![[0u8; 256]; flows],
        lens: vec![0; flows],
    }
}

impl Setup {
    /// One fresh SRTP packet per flow.
    fn fill(&mut self) {
        for i in 0..self.bufs.len() {
            let b = &mut self.bufs[i];
            b[..12].copy_from_slice(&[0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            b[2..4].copy_from_slice(&self.seq[i].to_be_bytes());
            b[8..12].copy_from_slice(&(SSRC_BASE + i as u32).to_be_bytes());
            b[12..12 + PAYLOAD].fill(0x55);
            self.seq[i] = self.seq[i].wrapping_add(1);
            self.lens[i] = self.senders[i]
                .protect_rtp(b, 12 + PAYLOAD)
                .expect("bench packet protects");
        }
    }

    /// The worker over every flow's packet; returns how long it took.
    fn run(&mut self) -> Duration {
        let local = SocketAddr::from(([127, 0, 0, 1], WEB_PORT));
        let now = Instant::now();
        let start = Instant::now();
        for i in 0..self.bufs.len() {
            let (a, _) = self.worker.handle_datagram_routed(
                now,
                local,
                source(i),
                &mut self.bufs[i],
                self.lens[i],
            );
            debug_assert!(matches!(a, Action::Forward { .. }), "{a:?}");
            std::hint::black_box(a);
        }
        start.elapsed()
    }
}

fn per_packet(c: &mut Criterion) {
    let mut g = c.benchmark_group("worker/srtp_to_srtp");
    for flows in [100usize, 1000, 4000] {
        let mut s = setup(flows);
        g.throughput(Throughput::Elements(flows as u64));
        g.bench_function(format!("{flows}_flows"), |b| {
            b.iter_custom(|iters| {
                let mut t = Duration::ZERO;
                for _ in 0..iters {
                    s.fill();
                    t += s.run();
                }
                t
            })
        });
        let forwarded = s.worker.media_tally();
        std::hint::black_box(forwarded);
    }
    g.finish();
}

criterion_group!(benches, per_packet);
criterion_main!(benches);
