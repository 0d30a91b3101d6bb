//! `datapath-bench`: SRTP through the real media engine on loopback, and a bare UDP
//! forwarder with no crypto in the same run, for comparison.
//!
//! ```text
//!  cargo run --release -p benches --bin datapath-bench -- --flows N --json PATH
//!            [--trial-ms MS] [--max-pps PPS]
//!
//!  generator ──N browser sockets──► target ──N IMS-leg sockets──► sink
//!   (SRTP, AES_CM_128_HMAC_SHA1_80,     │ engine: SRTP → SRTP transcode per packet
//!    160-byte payload, paced)           │ bare:   recv_from → send_to, no crypto
//! ```
//!
//! Targets: the engine on every available backend (epoll, io_uring) and the bare
//! forwarder (std sockets, one datagram per system call). For each: the highest offered
//! rate delivered with < 1 % loss (a 1.5× ladder, then two bisection steps, each trial
//! `--trial-ms` long), the forwarding thread's CPU time per delivered packet at that
//! rate, and p50/p99 added latency at 70 % of it. Latency is sink receive time minus the
//! send time the generator wrote in the RTP timestamp (µs; the engine re-originates the
//! timestamp with a zero offset because each flow's first packet carries timestamp 0).
//!
//! Bounded: at most 14 trials per target, loopback only. The generator and the sink run
//! on the same host as the target, so on a small machine they share its CPUs; the JSON
//! says when a trial was limited by the generator rather than by the target.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use media_plane::datapath::backend::io_uring_available;
use media_plane::datapath::{
    spawn, Backend, BackendStats, Command, LegConfig, LegCrypto, PtMap, RunningWorker, Worker,
    WorkerEvent, WorkerHandle,
};
use media_plane::srtp::{ReOriginator, SrtpConfig, SrtpContext, SrtpSuite};

type Result<T> = std::result::Result<T, String>;

const SUITE: SrtpSuite = SrtpSuite::AesCm128HmacSha1_80;
const PAYLOAD: usize = 160;
/// Pacing tick of the generator.
const TICK: Duration = Duration::from_micros(500);
/// A trial ends when the sink has seen nothing for this long after the last send.
const QUIET: Duration = Duration::from_millis(60);
const LOSS_LIMIT: f64 = 0.01;

struct Args {
    flows: usize,
    json: String,
    trial: Duration,
    max_pps: f64,
}

fn parse_args() -> Result<Args> {
    let mut a = Args {
        flows: 100,
        json: String::new(),
        trial: Duration::from_millis(500),
        max_pps: 1_000_000.0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--flows" => a.flows = value()?.parse().map_err(|e| format!("--flows: {e}"))?,
            "--json" => a.json = value()?,
            "--trial-ms" => {
                let ms: u64 = value()?.parse().map_err(|e| format!("--trial-ms: {e}"))?;
                a.trial = Duration::from_millis(ms.clamp(100, 10_000));
            }
            "--max-pps" => a.max_pps = value()?.parse().map_err(|e| format!("--max-pps: {e}"))?,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if a.json.is_empty() {
        return Err("--json PATH is required".into());
    }
    if a.flows == 0 || a.flows > 4000 {
        return Err("--flows must be in 1..=4000".into());
    }
    Ok(a)
}

fn ctx(k: u8) -> Result<SrtpContext> {
    SrtpContext::new(SUITE, &[k; 16], &[k; 14], SrtpConfig::default())
        .map_err(|e| format!("srtp context: {e}"))
}

fn bind() -> Result<UdpSocket> {
    UdpSocket::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))
}

fn local(s: &UdpSocket) -> Result<SocketAddr> {
    s.local_addr().map_err(|e| format!("local_addr: {e}"))
}

/// Nanoseconds on CPU of this process's threads whose name starts with one of `names`
/// (from `/proc/self/task/*/schedstat`).
fn thread_cpu_ns(names: &[&str]) -> u64 {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    let mut total = 0;
    for e in dir.flatten() {
        let p = e.path();
        let comm = std::fs::read_to_string(p.join("comm")).unwrap_or_default();
        if names.iter().any(|n| comm.trim_end().starts_with(n)) {
            let stat = std::fs::read_to_string(p.join("schedstat")).unwrap_or_default();
            total += stat
                .split_whitespace()
                .next()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    total
}

// ---------------------------------------------------------------------------------------
// Generator and sink
// ---------------------------------------------------------------------------------------

struct Flow {
    sock: UdpSocket,
    srtp: SrtpContext,
    seq: u16,
}

struct Generator {
    flows: Vec<Flow>,
    epoch: Instant,
    buf: [u8; 1500],
}

impl Generator {
    fn new(flows: usize, epoch: Instant) -> Result<Self> {
        let flows = (0..flows)
            .map(|_| {
                Ok(Flow {
                    sock: bind()?,
                    srtp: ctx(1)?,
                    seq: 0,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            flows,
            epoch,
            buf: [0; 1500],
        })
    }

    /// Sends the next packet of flow `i` to `to`; the RTP timestamp is the send time in
    /// µs (0 for each flow's first packet). Returns false if the socket refused it.
    fn send(&mut self, i: usize, to: SocketAddr, first: bool) -> bool {
        let ts = if first {
            0
        } else {
            self.epoch.elapsed().as_micros() as u32 | 1
        };
        let Some(f) = self.flows.get_mut(i) else {
            return false;
        };
        let b = &mut self.buf;
        b[..12].copy_from_slice(&[0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        b[2..4].copy_from_slice(&f.seq.to_be_bytes());
        b[4..8].copy_from_slice(&ts.to_be_bytes());
        b[8..12].copy_from_slice(&(0x1000 + i as u32).to_be_bytes());
        b[12..12 + PAYLOAD].fill(0x55);
        f.seq = f.seq.wrapping_add(1);
        let Ok(n) = f.srtp.protect_rtp(b, 12 + PAYLOAD) else {
            return false;
        };
        f.sock.send_to(&b[..n], to).is_ok()
    }

    /// Sends at `pps` for `dur`, round-robin over the flows. Returns (sent, elapsed,
    /// limited): `limited` when the generator could not offer 95 % of `pps`.
    fn paced(&mut self, to: SocketAddr, pps: f64, dur: Duration) -> (u64, Duration, bool) {
        let start = Instant::now();
        let per_tick = pps * TICK.as_secs_f64();
        let (mut due, mut sent, mut next_flow) = (0.0f64, 0u64, 0usize);
        let mut tick = 0u32;
        while start.elapsed() < dur {
            due += per_tick;
            while due >= 1.0 {
                if self.send(next_flow, to, false) {
                    sent += 1;
                }
                due -= 1.0;
                next_flow = (next_flow + 1) % self.flows.len();
            }
            tick += 1;
            let deadline = start + TICK * tick;
            let now = Instant::now();
            if deadline > now {
                std::thread::sleep(deadline - now);
            }
        }
        let elapsed = start.elapsed();
        let limited = (sent as f64) < 0.95 * pps * elapsed.as_secs_f64();
        (sent, elapsed, limited)
    }
}

/// Counts (and optionally times) what arrives at the sink until told to stop and quiet.
fn sink(
    sock: UdpSocket,
    epoch: Instant,
    stop: Arc<AtomicBool>,
    record: bool,
) -> JoinHandle<(u64, Vec<u32>)> {
    std::thread::spawn(move || {
        let _ = sock.set_read_timeout(Some(QUIET));
        let mut lat = Vec::with_capacity(if record { 1 << 20 } else { 0 });
        let (mut n, mut buf) = (0u64, [0u8; 1500]);
        loop {
            match sock.recv_from(&mut buf) {
                Ok((len, _)) if len >= 12 => {
                    n += 1;
                    let ts = u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]);
                    if record && ts != 0 && lat.len() < lat.capacity() {
                        let now = epoch.elapsed().as_micros() as u32;
                        lat.push(now.wrapping_sub(ts));
                    }
                }
                Ok(_) => {}
                Err(_) if stop.load(Ordering::Acquire) => break,
                Err(_) => {}
            }
        }
        (n, lat)
    })
}

// ---------------------------------------------------------------------------------------
// Targets
// ---------------------------------------------------------------------------------------

enum Running {
    Engine {
        running: RunningWorker,
        handle: WorkerHandle,
    },
    Bare {
        stop: Arc<AtomicBool>,
        thread: JoinHandle<()>,
    },
}

struct Target {
    name: String,
    backend: &'static str,
    ingress: SocketAddr,
    cpu_threads: &'static [&'static str],
    running: Running,
}

fn leg(crypto: LegCrypto, remote: SocketAddr, ssrc: u32) -> Box<LegConfig> {
    Box::new(LegConfig {
        crypto,
        remote: Some(remote),
        egress_pt: PtMap::default(),
        reoriginator: ReOriginator::new(ssrc, 0, 0),
    })
}

fn srtp(inbound: u8, outbound: u8) -> Result<LegCrypto> {
    Ok(LegCrypto::Srtp {
        inbound: Box::new(ctx(inbound)?),
        outbound: Box::new(ctx(outbound)?),
    })
}

fn start_engine(backend: Backend, gen: &Generator, sink: SocketAddr) -> Result<Target> {
    let web = bind()?;
    let ingress = local(&web)?;
    let n = gen.flows.len();
    let (worker, handle) = Worker::new(ingress.port(), Duration::from_secs(3600), n + 16);
    let cfg = media_plane::datapath::BackendConfig {
        backend,
        ims_ip: "127.0.0.1".parse().map_err(|e| format!("{e}"))?,
        batch: 64,
        event_queue: n + 16,
    };
    let running = spawn(worker, web, cfg).map_err(|e| format!("spawn: {e}"))?;
    let kind = running.backend();
    for (i, f) in gen.flows.iter().enumerate() {
        // A free port: bound and released just before the worker binds it (loopback).
        let port = local(&bind()?)?.port();
        let call = i as u64;
        handle
            .send(Command::Allocate {
                call,
                web: leg(srtp(1, 2)?, local(&f.sock)?, 0x2000 + i as u32),
                ims: leg(srtp(3, 4)?, sink, 0x3000 + i as u32),
                ims_port: port,
            })
            .map_err(|e| format!("allocate: {e}"))?;
        match running.events().recv_timeout(Duration::from_secs(5)) {
            Ok(WorkerEvent::Ready { .. }) => {}
            other => return Err(format!("call {call} not ready: {other:?}")),
        }
    }
    let (name, threads): (&str, &'static [&'static str]) = match kind {
        media_plane::datapath::BackendKind::Epoll => ("engine-epoll", &["media-epoll"]),
        media_plane::datapath::BackendKind::IoUring => {
            ("engine-io_uring", &["media-uring", "iou-wrk", "iou-sqp"])
        }
    };
    Ok(Target {
        name: name.into(),
        backend: kind.as_str(),
        ingress,
        cpu_threads: threads,
        running: Running::Engine { running, handle },
    })
}

fn start_bare(gen: &Generator, sink: SocketAddr) -> Result<Target> {
    let inbound = bind()?;
    let ingress = local(&inbound)?;
    let mut route = HashMap::new();
    let mut outs = Vec::new();
    for (i, f) in gen.flows.iter().enumerate() {
        route.insert(local(&f.sock)?, i);
        outs.push(bind()?);
    }
    inbound
        .set_read_timeout(Some(Duration::from_millis(50)))
        .map_err(|e| format!("{e}"))?;
    let stop = Arc::new(AtomicBool::new(false));
    let s = Arc::clone(&stop);
    let thread = std::thread::Builder::new()
        .name("bare-forwarder".into())
        .spawn(move || {
            let mut buf = [0u8; 2048];
            while !s.load(Ordering::Acquire) {
                if let Ok((n, from)) = inbound.recv_from(&mut buf) {
                    if let Some(out) = route.get(&from).and_then(|&i| outs.get(i)) {
                        let _ = out.send_to(&buf[..n], sink);
                    }
                }
            }
        })
        .map_err(|e| format!("spawn: {e}"))?;
    Ok(Target {
        name: "bare-udp-forwarder".into(),
        backend: "std-udp",
        ingress,
        cpu_threads: &["bare-forwarder"],
        running: Running::Bare { stop, thread },
    })
}

fn stop(t: Target) -> Option<BackendStats> {
    match t.running {
        Running::Engine { running, handle } => {
            let _ = handle.send(Command::Stop);
            running.join().ok()
        }
        Running::Bare { stop, thread } => {
            stop.store(true, Ordering::Release);
            let _ = thread.join();
            None
        }
    }
}

// ---------------------------------------------------------------------------------------
// Trials
// ---------------------------------------------------------------------------------------

struct Trial {
    offered_pps: f64,
    sent: u64,
    delivered: u64,
    generator_limited: bool,
    cpu_ns: u64,
    latencies: Vec<u32>,
}

impl Trial {
    fn loss(&self) -> f64 {
        if self.sent == 0 {
            return 1.0;
        }
        1.0 - (self.delivered.min(self.sent) as f64 / self.sent as f64)
    }
}

struct Bench {
    gen: Generator,
    sink: UdpSocket,
    epoch: Instant,
    trial: Duration,
}

impl Bench {
    fn run(&mut self, t: &Target, pps: f64, record: bool) -> Result<Trial> {
        let stop = Arc::new(AtomicBool::new(false));
        let sock = self.sink.try_clone().map_err(|e| format!("{e}"))?;
        let rx = sink(sock, self.epoch, Arc::clone(&stop), record);
        let cpu0 = thread_cpu_ns(t.cpu_threads);
        let (sent, elapsed, limited) = self.gen.paced(t.ingress, pps, self.trial);
        stop.store(true, Ordering::Release);
        let (delivered, latencies) = rx.join().map_err(|_| "sink panicked".to_string())?;
        let cpu_ns = thread_cpu_ns(t.cpu_threads).saturating_sub(cpu0);
        Ok(Trial {
            offered_pps: sent as f64 / elapsed.as_secs_f64(),
            sent,
            delivered,
            generator_limited: limited,
            cpu_ns,
            latencies,
        })
    }

    /// Each flow's first packet (timestamp 0) fixes the engine's timestamp offset at 0.
    fn warm_up(&mut self, t: &Target) -> Result<()> {
        let stop = Arc::new(AtomicBool::new(false));
        let sock = self.sink.try_clone().map_err(|e| format!("{e}"))?;
        let rx = sink(sock, self.epoch, Arc::clone(&stop), false);
        for i in 0..self.gen.flows.len() {
            self.gen.send(i, t.ingress, true);
            if i % 32 == 31 {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        stop.store(true, Ordering::Release);
        let (n, _) = rx.join().map_err(|_| "sink panicked".to_string())?;
        let want = self.gen.flows.len() as u64;
        if n < want {
            return Err(format!("{}: warm-up delivered {n} of {want}", t.name));
        }
        Ok(())
    }
}

fn percentile(sorted: &[u32], p: f64) -> Option<u32> {
    if sorted.is_empty() {
        return None;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted.get(i).copied()
}

struct Outcome {
    name: String,
    backend: &'static str,
    trials: Vec<Trial>,
    best: Option<usize>,
    latency: Option<Trial>,
    stats: Option<BackendStats>,
}

fn measure(bench: &mut Bench, t: &Target, max_pps: f64) -> Result<(Vec<Trial>, Option<usize>)> {
    bench.warm_up(t)?;
    let mut trials: Vec<Trial> = Vec::new();
    let mut best: Option<usize> = None;
    let mut fail: Option<f64> = None;
    let mut rate = 10_000.0f64.min(max_pps);
    let pass = |tr: &Trial| tr.loss() < LOSS_LIMIT;
    for _ in 0..12 {
        let tr = bench.run(t, rate, false)?;
        let (ok, limited) = (pass(&tr), tr.generator_limited);
        eprintln!(
            "{}: offered {:.0} pps, delivered {}/{} (loss {:.3} %){}",
            t.name,
            tr.offered_pps,
            tr.delivered,
            tr.sent,
            tr.loss() * 100.0,
            if limited { ", generator-limited" } else { "" }
        );
        trials.push(tr);
        if !ok {
            fail = Some(rate);
            break;
        }
        best = Some(trials.len() - 1);
        if limited || rate >= max_pps {
            break;
        }
        rate = (rate * 1.5).min(max_pps);
    }
    // Two bisection steps between the best passing and the first failing rate.
    if let (Some(mut lo), Some(mut hi)) = (best.map(|i| trials[i].offered_pps), fail) {
        for _ in 0..2 {
            let mid = (lo + hi) / 2.0;
            let tr = bench.run(t, mid, false)?;
            let ok = pass(&tr);
            trials.push(tr);
            if ok {
                lo = mid;
                best = Some(trials.len() - 1);
            } else {
                hi = mid;
            }
        }
    }
    Ok((trials, best))
}

fn bench_target(bench: &mut Bench, t: Target, max_pps: f64) -> Result<Outcome> {
    let (trials, best) = measure(bench, &t, max_pps)?;
    let latency = match best {
        Some(i) => Some(bench.run(&t, trials[i].offered_pps * 0.7, true)?),
        None => None,
    };
    let (name, backend) = (t.name.clone(), t.backend);
    let stats = stop(t);
    Ok(Outcome {
        name,
        backend,
        trials,
        best,
        latency,
        stats,
    })
}

// ---------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------

fn num(v: Option<f64>) -> String {
    match v {
        Some(v) if v.is_finite() => format!("{v}"),
        _ => "null".into(),
    }
}

fn outcome_json(o: &mut Outcome) -> String {
    let best = o.best.and_then(|i| o.trials.get(i));
    let max_pps = best.map(|t| t.offered_pps.round());
    let cpu = best.map(|t| t.cpu_ns as f64 / 1e9 / t.delivered.max(1) as f64);
    let limited = best.is_some_and(|t| t.generator_limited);
    let (load, p50, p99) = match o.latency.as_mut() {
        Some(l) => {
            l.latencies.sort_unstable();
            (
                Some(l.offered_pps.round()),
                percentile(&l.latencies, 0.50).map(f64::from),
                percentile(&l.latencies, 0.99).map(f64::from),
            )
        }
        None => (None, None, None),
    };
    let mut s = String::new();
    let _ = write!(
        s,
        "{{\"name\":\"{}\",\"backend\":\"{}\",\"max_pps_under_1pct_loss\":{},\
         \"generator_limited\":{},\"cpu_seconds_per_packet\":{},\
         \"latency_load_pps\":{},\"latency_p50_us\":{},\"latency_p99_us\":{},\"trials\":[",
        o.name,
        o.backend,
        num(max_pps),
        limited,
        num(cpu),
        num(load),
        num(p50),
        num(p99)
    );
    for (i, t) in o.trials.iter().enumerate() {
        let _ = write!(
            s,
            "{}{{\"offered_pps\":{},\"sent\":{},\"delivered\":{},\"loss\":{},\
             \"generator_limited\":{},\"cpu_seconds_per_packet\":{}}}",
            if i == 0 { "" } else { "," },
            num(Some(t.offered_pps.round())),
            t.sent,
            t.delivered,
            num(Some(t.loss())),
            t.generator_limited,
            num(Some(t.cpu_ns as f64 / 1e9 / t.delivered.max(1) as f64))
        );
    }
    s.push(']');
    if let Some(st) = o.stats {
        let _ = write!(
            s,
            ",\"worker_stats\":{{\"received\":{},\"sent\":{},\"send_failed\":{},\"recv_errors\":{}}}",
            st.received, st.sent, st.send_failed, st.recv_errors
        );
    }
    s.push('}');
    s
}

fn main() {
    if let Err(e) = run() {
        eprintln!("datapath-bench: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let args = parse_args()?;
    let epoch = Instant::now();
    let sink = bind()?;
    let sink_addr = local(&sink)?;
    let mut bench = Bench {
        gen: Generator::new(args.flows, epoch)?,
        sink,
        epoch,
        trial: args.trial,
    };
    let mut outcomes = Vec::new();
    let mut notes = Vec::new();
    let mut backends = vec![Backend::Epoll];
    if io_uring_available() {
        backends.push(Backend::IoUring);
    } else {
        notes.push("io_uring unavailable on this host (probe failed): not measured");
    }
    for b in backends {
        let t = start_engine(b, &bench.gen, sink_addr)?;
        outcomes.push(bench_target(&mut bench, t, args.max_pps)?);
        // Fresh generator contexts and sequence numbers for the next target's calls.
        bench.gen = Generator::new(args.flows, epoch)?;
    }
    let t = start_bare(&bench.gen, sink_addr)?;
    outcomes.push(bench_target(&mut bench, t, args.max_pps)?);

    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mut json = format!(
        "{{\"flows\":{},\"payload_bytes\":{PAYLOAD},\"suite\":\"{}\",\"trial_ms\":{},\
         \"loss_limit\":{LOSS_LIMIT},\"host_cpus\":{cpus},\"cpu_scope\":\"forwarding thread(s) only\",\
         \"notes\":[{}],\"results\":[",
        args.flows,
        SUITE.sdes_name(),
        args.trial.as_millis(),
        notes
            .iter()
            .map(|n| format!("\"{n}\""))
            .collect::<Vec<_>>()
            .join(",")
    );
    for (i, o) in outcomes.iter_mut().enumerate() {
        if i > 0 {
            json.push(',');
        }
        json.push_str(&outcome_json(o));
    }
    json.push_str("]}\n");
    std::fs::write(&args.json, &json).map_err(|e| format!("{}: {e}", args.json))?;
    print!("{json}");
    Ok(())
}
