//! `datapath-bench`: SRTP through the real media engine on loopback, against a bare UDP
//! forwarder with no crypto on the same system calls, in the same run.
//!
//! ```text
//!  cargo run --release -p benches --bin datapath-bench -- --flows N --json PATH
//!      [--trial-ms MS] [--max-pps PPS] [--workers W] [--batch B] [--no-pin]
//!
//!  generator (main thread) ──sendmmsg, one socket, a source IP per flow──► ingress
//!    SRTP AES_CM_128_HMAC_SHA1_80, 160-byte payload carrying its send time,
//!    paced in batches every ~100 µs, flows round robin
//!  ingress = the worker's shared web port:
//!    engine-<backend>:  unprotect · re-originate · protect per packet (the real Worker)
//!    bare-<backend>:    route by source, no crypto (media_plane::datapath::backend::bare)
//!  ──N per-flow egress sockets (the IMS legs)──► sink (recvmmsg, own thread)
//! ```
//!
//! Targets: the engine on each available backend (epoll + recvmmsg/sendmmsg, io_uring)
//! and, for each, a bare forwarder running that backend's receive/send machinery (batch,
//! waits, one sendmmsg per egress socket or one io_uring_enter per turn and a submit
//! every batch of sends within a long one) without the
//! worker and without crypto: the kernel path of this machine.
//!
//! What each result row says:
//! - `max_pps_under_1pct_loss`: the highest offered rate whose trial (`--trial-ms`, a
//!   fixed window) delivered ≥ 99 % of what was sent within 10 ms of the window's end
//!   (what arrives later, from a backlog, counts as lost). Search: doubling from 20 kpps
//!   to the first failure, then bisection to 3 %; the bare forwarder's and the engine's
//!   searches of a backend run interleaved (one trial each in turn), so a change in the
//!   load of other processes hits both. `generator_limited`: the generator could
//!   not offer 97 % of the asked rate, so the figure is a floor, not the target's limit.
//!   `limited_by`: who was saturated (≥ 85 % of a CPU) in the lowest failing trial:
//!   `target`, `load side` (generator + sink share CPU 0), `generator`, or `neither
//!   saturated` (other processes, scheduling); each trial lists `target_cpu_busy` and
//!   `load_cpu_busy`. Only a `target` row measures the target's own limit.
//! - `cpu_seconds_per_packet`: CPU time of the forwarding thread(s) during the max-rate
//!   trial per delivered packet (from `/proc/self/task/*/schedstat`); on loopback it
//!   includes the kernel's delivery of what the thread sends into the sink's socket.
//!   `generator_cpu_seconds_per_packet` / `sink_cpu_seconds_per_packet`: the same for
//!   the load side.
//! - Latency, at 70 % of the row's max rate: the sink decrypts each packet and subtracts
//!   the send time in its payload. `path_latency_p50_us`/`_p99_us`: that end-to-end
//!   figure. For engine rows `latency_p50_us`/`latency_p99_us` are the *added* latency:
//!   the engine's percentile minus the same percentile through the bare forwarder of the
//!   same backend at the same offered rate (`baseline_p50_us`/`_p99_us`); for bare rows
//!   they are the path latency itself.
//! - `vs_bare`: max rate over the best bare forwarder's; `vs_bare_same_backend`: over the
//!   bare forwarder of the same backend. When the bare row is `generator_limited` the
//!   machine's limit is higher than its figure and these ratios are upper bounds; then
//!   `cpu_vs_bare_same_rate` (engine rows) is the better capacity estimate: the bare
//!   forwarder's CPU per packet over the engine's, both measured in the latency rounds
//!   at the same offered rate (`cpu_seconds_per_packet_at_latency_load`,
//!   `baseline_cpu_seconds_per_packet_at_latency_load`).
//!
//! Machine layout: `--workers W` engine workers (default 1; each its own web port, flows
//! split round robin) and W bare threads. With more CPUs than W, the generator and the
//! sink are pinned to CPU 0 and the forwarding threads to CPUs 1..=W (`taskset`), so
//! load and target do not fight for one core; `--no-pin` leaves placement to the
//! scheduler. By default (`--sched fifo`, needs root) the bench's threads run
//! SCHED_FIFO: every one of them blocks or sleeps between batches, and without it the
//! builds that share a small host decide loss and latency (p99 of tens of ms). Every
//! receiving socket gets a 4 MiB receive buffer; the 10 ms grace above bounds what a
//! backlog in it can hide. The sink polls its socket and naps 50 µs when it is empty
//! instead of sleeping on it, so the target does not pay a cross-CPU wake-up per batch
//! it sends (a NIC-facing engine does not); the nap adds the same to both paths.
//! The generator's flows come from 127.1.x.y (engine) and 127.2.x.y (bare) through one
//! socket (`IP_PKTINFO`), so it needs one sendmmsg per batch, not a system call per
//! packet; each packet is still SRTP-protected with its own flow's context.
//! Bounded: at most ~16 trials per target, loopback only.
//!
//! Files: `main.rs` (arguments, trials, the search, latency rounds), `load.rs`
//! (generator and sink), `targets.rs` (engine and bare forwarder), `host.rs` (threads,
//! CPU time, placement), `report.rs` (JSON).

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use media_plane::datapath::backend::io_uring_available;
use media_plane::datapath::{BackendKind, BackendStats};
use media_plane::srtp::{SrtpConfig, SrtpContext, SrtpSuite};

mod host;
mod load;
mod report;
mod targets;

use host::{cpu_ns, place, place_targets, threads, tid_cpu_ns, Placement, Sched};
use load::{start_sink, Generator, SinkTrial};
use report::outcome_json;
use targets::{sink_key, start_bare, start_engine, stop, Target};

type Result<T> = std::result::Result<T, String>;

const SUITE: SrtpSuite = SrtpSuite::AesCm128HmacSha1_80;
const PAYLOAD: usize = 160;
/// Target pacing period of the generator (it sleeps between batches).
const TICK: Duration = Duration::from_micros(100);
/// Packets received later than this after the window's end count as lost.
const GRACE: Duration = Duration::from_millis(10);
/// A trial ends when the sink has seen nothing for this long after the window.
const QUIET: Duration = Duration::from_millis(60);
/// The sink polls: it drains its socket, then sleeps this long on a timer. Blocking on
/// the socket instead would make every batch the target sends pay a cross-CPU wake-up
/// (an IPI, costly in a VM) that a NIC-facing engine does not pay; the nap adds the
/// same ~0.1 ms at most to both paths, so it cancels out of the added latency.
const SINK_NAP: Duration = Duration::from_micros(50);
/// Latency trials: engine and bare forwarder alternate this many times at the same
/// rate, so that a burst of load from other processes hits both alike.
const LATENCY_ROUNDS: usize = 4;
/// A thread set using this share of one CPU in a failing trial is taken as its limit.
const BUSY: f64 = 0.85;
const LOSS_LIMIT: f64 = 0.01;
const RCVBUF: usize = 4 << 20;
/// SRTP keys: generator → engine web leg, engine IMS leg → sink.
const KEY_IN: u8 = 1;
const KEY_OUT: u8 = 4;
/// SSRC of flow 0 on the engine's IMS leg.
const IMS_SSRC: u32 = 0x3000;

const HELP: &str = "datapath-bench: SRTP through the media engine vs a bare UDP forwarder

usage: datapath-bench --flows N --json PATH [--trial-ms MS] [--max-pps PPS]
                      [--workers W] [--batch B] [--no-pin] [--sched S]

  --flows N      flows (calls), 1..=4000 (default 100)
  --json PATH    where to write the results (required)
  --trial-ms MS  length of each trial's window (default 1000)
  --max-pps PPS  highest rate tried (default 2000000)
  --workers W    engine workers / bare threads (default 1)
  --batch B      datagrams per receive batch of the targets (default 64)
  --no-pin       do not pin generator/sink to CPU 0 and targets to CPUs 1..=W
  --sched S      fifo (default): the bench's threads SCHED_FIFO 10, so other processes
                 on the host do not preempt load or target; nice: nice -20; none
                 (fifo and nice need root)

JSON: {flows, payload_bytes, suite, trial_ms, loss_limit, grace_ms, host_cpus, workers,
batch, pinned, scheduling, cpu_layout, load_average_start/end, notes, results: [{name,
backend, max_pps_under_1pct_loss, generator_limited, limited_by, cpu_seconds_per_packet,
generator_/sink_cpu_seconds_per_packet, vs_bare, vs_bare_same_backend,
cpu_vs_bare_same_rate, (baseline_)cpu_seconds_per_packet_at_latency_load,
latency_load_pps, latency_p50_us, latency_p99_us (added latency for engine rows),
path_latency_p50_us/_p99_us, baseline_p50_us/_p99_us, trials: [...], worker_stats}]}.
The module doc of benches/src/bin/datapath-bench/main.rs says how each figure is measured.";

struct Args {
    flows: usize,
    json: String,
    trial: Duration,
    max_pps: f64,
    workers: usize,
    batch: usize,
    pin: bool,
    sched: Sched,
}

fn parse_args() -> Result<Args> {
    let mut a = Args {
        flows: 100,
        json: String::new(),
        trial: Duration::from_millis(1000),
        max_pps: 2_000_000.0,
        workers: 1,
        batch: 64,
        pin: true,
        sched: Sched::Fifo,
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
            "--workers" => a.workers = value()?.parse().map_err(|e| format!("--workers: {e}"))?,
            "--batch" => a.batch = value()?.parse().map_err(|e| format!("--batch: {e}"))?,
            "--no-pin" => a.pin = false,
            "--sched" => {
                a.sched = match value()?.as_str() {
                    "fifo" => Sched::Fifo,
                    "nice" => Sched::Nice,
                    "none" => Sched::None,
                    other => return Err(format!("--sched: {other}: fifo, nice or none")),
                }
            }
            "--help" | "-h" => {
                println!("{HELP}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other} (see --help)")),
        }
    }
    if a.json.is_empty() {
        return Err("--json PATH is required (see --help)".into());
    }
    if a.flows == 0 || a.flows > 4000 {
        return Err("--flows must be in 1..=4000".into());
    }
    if a.workers == 0 || a.workers > a.flows.min(64) {
        return Err("--workers must be in 1..=min(flows, 64)".into());
    }
    a.batch = a.batch.clamp(1, 1024);
    Ok(a)
}

fn ctx(k: u8) -> Result<SrtpContext> {
    SrtpContext::new(SUITE, &[k; 16], &[k; 14], SrtpConfig::default())
        .map_err(|e| format!("srtp context: {e}"))
}

fn bind(ip: &str) -> Result<UdpSocket> {
    UdpSocket::bind((ip, 0)).map_err(|e| format!("bind: {e}"))
}

/// A receiving socket on loopback with a large receive buffer.
fn bind_rx() -> Result<UdpSocket> {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None)
        .map_err(|e| format!("socket: {e}"))?;
    s.set_recv_buffer_size(RCVBUF)
        .map_err(|e| format!("SO_RCVBUF: {e}"))?;
    let addr = SocketAddr::from(([127, 0, 0, 1], 0));
    s.bind(&addr.into()).map_err(|e| format!("bind: {e}"))?;
    Ok(s.into())
}

fn local(s: &UdpSocket) -> Result<SocketAddr> {
    s.local_addr().map_err(|e| format!("local_addr: {e}"))
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------
// Trials and the search
// ---------------------------------------------------------------------------------------

struct Trial {
    asked_pps: f64,
    offered_pps: f64,
    sent: u64,
    delivered: u64,
    late: u64,
    generator_limited: bool,
    cpu_ns: u64,
    gen_cpu_ns: u64,
    sink_cpu_ns: u64,
    /// From the window's start to the sink's end of the trial (what `cpu_ns` covers).
    wall_ns: u64,
    latencies_ns: Vec<u64>,
}

impl Trial {
    /// Share of one CPU the target's threads used.
    fn target_busy(&self) -> f64 {
        self.cpu_ns as f64 / self.wall_ns.max(1) as f64
    }

    /// Share of one CPU the generator and the sink used together.
    fn load_busy(&self) -> f64 {
        (self.gen_cpu_ns + self.sink_cpu_ns) as f64 / self.wall_ns.max(1) as f64
    }

    fn loss(&self) -> f64 {
        if self.sent == 0 {
            return 1.0;
        }
        1.0 - (self.delivered.min(self.sent) as f64 / self.sent as f64)
    }

    fn per_packet(&self, ns: u64) -> f64 {
        ns as f64 / 1e9 / self.delivered.max(1) as f64
    }
}

struct Bench {
    placement: Placement,
    gen: Generator,
    gen_tid: u32,
    sink: Sender<SinkTrial>,
    epoch: Instant,
    trial: Duration,
}

impl Bench {
    fn run(&mut self, t: &mut Target, pps: f64, record: bool) -> Result<Trial> {
        let until = Arc::new(AtomicU64::new(u64::MAX));
        let (reply, result) = channel();
        let record = if record {
            let (key, base) = sink_key(t);
            let n = t.flows.src.len();
            Some((base, (0..n).map(|_| ctx(key)).collect::<Result<_>>()?))
        } else {
            None
        };
        self.sink
            .send(SinkTrial {
                record,
                on_time_until: Arc::clone(&until),
                reply,
            })
            .map_err(|_| "sink gone".to_string())?;
        let (cpu0, gen0) = (cpu_ns(&t.cpu_threads()), tid_cpu_ns(self.gen_tid));
        let started = Instant::now();
        let (sent, elapsed, limited) = self.gen.paced(&mut t.flows, pps, self.trial);
        let end = self.epoch.elapsed() + GRACE;
        until.store(end.as_nanos() as u64, Ordering::Release);
        let gen_cpu_ns = tid_cpu_ns(self.gen_tid).saturating_sub(gen0);
        let r = result.recv().map_err(|_| "sink failed".to_string())?;
        Ok(Trial {
            asked_pps: pps,
            offered_pps: sent as f64 / elapsed.as_secs_f64(),
            sent,
            delivered: r.on_time,
            late: r.late,
            generator_limited: limited,
            cpu_ns: cpu_ns(&t.cpu_threads()).saturating_sub(cpu0),
            gen_cpu_ns,
            sink_cpu_ns: r.cpu_ns,
            wall_ns: started.elapsed().as_nanos() as u64,
            latencies_ns: r.latencies_ns,
        })
    }

    /// One packet per flow, so that every flow's first packet is behind us.
    fn warm_up(&mut self, t: &mut Target) -> Result<()> {
        let n = t.flows.src.len() as f64;
        let tr = self.run_for(t, 20_000.0, Duration::from_secs_f64(n / 20_000.0 + 0.01))?;
        if tr.delivered + tr.late < tr.sent {
            return Err(format!(
                "{}: warm-up delivered {} of {}",
                t.name, tr.delivered, tr.sent
            ));
        }
        Ok(())
    }

    fn run_for(&mut self, t: &mut Target, pps: f64, d: Duration) -> Result<Trial> {
        let keep = std::mem::replace(&mut self.trial, d);
        let r = self.run(t, pps, false);
        self.trial = keep;
        r
    }
}

fn log_trial(name: &str, tr: &Trial) {
    eprintln!(
        "{name}: asked {:.0} offered {:.0} pps, delivered {}/{} (loss {:.3} %, late {}){}",
        tr.asked_pps,
        tr.offered_pps,
        tr.delivered,
        tr.sent,
        tr.loss() * 100.0,
        tr.late,
        if tr.generator_limited {
            ", generator-limited"
        } else {
            ""
        }
    );
}

/// The search for one target's max rate: doubling from 20 kpps to the first failure
/// (at most 8 rungs), then bisection until the bracket is within 3 % (at most 6 steps).
/// A pass that was generator-limited ends it (nothing higher can be offered).
struct Search {
    max_pps: f64,
    trials: Vec<Trial>,
    best: Option<usize>,
    /// Next rate to try; `None`: done.
    next: Option<f64>,
    /// Bisection bracket (passing, failing) once a failure was seen.
    bracket: Option<(f64, f64)>,
    steps: usize,
}

impl Search {
    fn new(max_pps: f64) -> Self {
        Self {
            max_pps,
            trials: Vec::new(),
            best: None,
            next: Some(20_000.0f64.min(max_pps)),
            bracket: None,
            steps: 0,
        }
    }

    fn record(&mut self, tr: Trial) {
        let rate = tr.asked_pps;
        let (ok, limited) = (tr.loss() < LOSS_LIMIT, tr.generator_limited);
        self.trials.push(tr);
        self.steps += 1;
        if ok {
            self.best = Some(self.trials.len() - 1);
        }
        self.next = match (self.bracket, ok) {
            (_, true) if limited || rate >= self.max_pps => None,
            (None, true) if self.steps < 8 => Some((rate * 2.0).min(self.max_pps)),
            (None, true) => None,
            (None, false) => self.best.map(|i| self.trials[i].asked_pps).map(|lo| {
                self.bracket = Some((lo, rate));
                self.steps = 0;
                (lo + rate) / 2.0
            }),
            (Some((_, hi)), true) => self.bisect(rate, hi),
            (Some((lo, _)), false) => self.bisect(lo, rate),
        };
    }

    fn bisect(&mut self, lo: f64, hi: f64) -> Option<f64> {
        self.bracket = Some((lo, hi));
        (hi / lo >= 1.03 && self.steps <= 6).then(|| (lo + hi) / 2.0)
    }
}

/// Searches the max rate of every target at once, one trial of each in turn, so that a
/// change in the load of other processes during the search hits them all alike.
fn search_all(b: &mut Bench, targets: &mut [&mut Target], max_pps: f64) -> Result<Vec<Search>> {
    for t in targets.iter_mut() {
        b.warm_up(t)?;
    }
    let mut s: Vec<Search> = targets.iter().map(|_| Search::new(max_pps)).collect();
    while s.iter().any(|x| x.next.is_some()) {
        for (x, t) in s.iter_mut().zip(targets.iter_mut()) {
            if let Some(rate) = x.next {
                let tr = b.run(t, rate, false)?;
                log_trial(&t.name, &tr);
                x.record(tr);
            }
        }
    }
    Ok(s)
}

fn percentile(sorted: &[u64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted.get(i).map(|&ns| ns as f64 / 1000.0)
}

fn p50_p99(ns: &mut [u64]) -> (Option<f64>, Option<f64>) {
    ns.sort_unstable();
    (percentile(ns, 0.50), percentile(ns, 0.99))
}

#[derive(Default)]
struct Outcome {
    name: String,
    backend: &'static str,
    trials: Vec<Trial>,
    best: Option<usize>,
    latency_load: Option<f64>,
    path: (Option<f64>, Option<f64>),
    baseline: (Option<f64>, Option<f64>),
    stats: Option<BackendStats>,
    vs_bare: Option<f64>,
    vs_same: Option<f64>,
    /// CPU seconds per packet of the engine and of the bare forwarder of its backend
    /// over the latency rounds (the same offered rate).
    same_rate_cpu: Option<(f64, f64)>,
}

impl Outcome {
    /// What stopped the search: the lowest failing trial above the best one, judged by
    /// who was saturated in it.
    fn limited_by(&self) -> &'static str {
        let best = self.best.and_then(|i| self.trials.get(i));
        let floor = best.map_or(0.0, |b| b.asked_pps);
        let fail = self
            .trials
            .iter()
            .filter(|t| t.loss() >= LOSS_LIMIT && t.asked_pps > floor)
            .min_by(|a, b| a.asked_pps.total_cmp(&b.asked_pps));
        match (best, fail) {
            (Some(b), None) if b.generator_limited => "generator",
            (_, None) => "max_pps",
            (_, Some(f)) if f.generator_limited => "generator",
            (_, Some(f)) if f.target_busy() >= BUSY => "target",
            (_, Some(f)) if f.load_busy() >= BUSY => "load side",
            _ => "neither saturated",
        }
    }

    /// The offered (sent) rate of the best passing trial: when the generator could not
    /// keep up, that is what was actually carried, not what was asked.
    fn max_pps(&self) -> Option<f64> {
        self.best
            .and_then(|i| self.trials.get(i))
            .map(|t| t.offered_pps)
    }
}

/// One backend: its bare forwarder, then the engine, then the latency trials at 70 %
/// of each one's max (the engine's against the bare forwarder at the same rate).
fn bench_backend(
    b: &mut Bench,
    kind: BackendKind,
    a: &Args,
    sink: SocketAddr,
) -> Result<[Outcome; 2]> {
    let mut bare = start_bare(kind, a, &b.gen, sink)?;
    let mut engine = start_engine(kind, a, &b.gen, sink)?;
    place_targets(bare.thread, b.placement)?;
    place_targets(engine.thread, b.placement)?;
    let mut out: [Outcome; 2] = Default::default();
    let found = search_all(b, &mut [&mut bare, &mut engine], a.max_pps)?;
    for ((o, t), x) in out.iter_mut().zip([&bare, &engine]).zip(found) {
        (o.name, o.backend) = (t.name.clone(), t.kind.as_str());
        (o.trials, o.best) = (x.trials, x.best);
    }
    let [ob, oe] = &mut out;
    if let Some(m) = ob.max_pps() {
        let mut tr = b.run(&mut bare, 0.7 * m, true)?;
        ob.latency_load = Some(tr.offered_pps.round());
        ob.path = p50_p99(&mut tr.latencies_ns);
    }
    if let Some(m) = oe.max_pps() {
        let keep = b.trial;
        b.trial = (keep / LATENCY_ROUNDS as u32).max(Duration::from_millis(100));
        let (mut te, mut tb) = (Vec::new(), Vec::new());
        let mut offered = 0.0;
        // CPU ns and packets of engine and bare at the same rate.
        let mut cpu = [(0u64, 0u64); 2];
        for _ in 0..LATENCY_ROUNDS {
            let t = b.run(&mut engine, 0.7 * m, true)?;
            offered += t.offered_pps / LATENCY_ROUNDS as f64;
            cpu[0] = (cpu[0].0 + t.cpu_ns, cpu[0].1 + t.delivered);
            te.extend(t.latencies_ns);
            let t = b.run(&mut bare, 0.7 * m, true)?;
            cpu[1] = (cpu[1].0 + t.cpu_ns, cpu[1].1 + t.delivered);
            tb.extend(t.latencies_ns);
        }
        b.trial = keep;
        let per = |(ns, n): (u64, u64)| ns as f64 / 1e9 / n.max(1) as f64;
        oe.same_rate_cpu = Some((per(cpu[0]), per(cpu[1])));
        oe.latency_load = Some(offered.round());
        oe.path = p50_p99(&mut te);
        oe.baseline = p50_p99(&mut tb);
    }
    stop(bare)?;
    oe.stats = stop(engine)?;
    Ok(out)
}

fn main() {
    if let Err(e) = run() {
        eprintln!("datapath-bench: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let args = parse_args()?;
    let load_start = load_average();
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let pinned = args.pin && cpus > args.workers;
    let mut notes: Vec<String> = Vec::new();
    if args.pin && !pinned {
        notes.push(format!(
            "{} workers on {cpus} CPUs: threads not pinned (oversubscribed)",
            args.workers
        ));
    }
    let epoch = Instant::now();
    let sink = bind_rx()?;
    let sink_addr = local(&sink)?;
    let sink_tx = start_sink(sink, epoch, args.batch.max(64))?;
    let gen_tid = std::process::id();
    let placement = Placement {
        pin: pinned,
        cpus,
        sched: args.sched,
    };
    place(gen_tid, 0, placement)?;
    for (tid, _) in threads().into_iter().filter(|(_, n)| n == "dp-sink") {
        place(tid, 0, placement)?;
    }
    let mut bench = Bench {
        placement,
        gen: Generator::new(epoch, 64)?,
        gen_tid,
        sink: sink_tx,
        epoch,
        trial: args.trial,
    };
    let mut kinds = vec![BackendKind::Epoll];
    if io_uring_available() {
        kinds.push(BackendKind::IoUring);
    } else {
        notes.push("io_uring unavailable on this host (probe failed): not measured".into());
    }
    let mut outcomes: Vec<Outcome> = Vec::new();
    for k in kinds {
        outcomes.extend(bench_backend(&mut bench, k, &args, sink_addr)?);
    }
    let bare_best = outcomes
        .iter()
        .filter(|o| o.name.starts_with("bare"))
        .filter_map(Outcome::max_pps)
        .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
    let same: Vec<Option<f64>> = outcomes
        .iter()
        .map(|o| {
            outcomes
                .iter()
                .find(|b| b.name == format!("bare-{}", o.backend))
                .and_then(Outcome::max_pps)
        })
        .collect();
    for (o, same) in outcomes.iter_mut().zip(same) {
        o.vs_bare = o.max_pps().zip(bare_best).map(|(m, b)| m / b);
        o.vs_same = o.max_pps().zip(same).map(|(m, b)| m / b);
    }
    let layout = if pinned {
        format!(
            "generator and sink on CPU 0, forwarding threads on CPUs 1..={}",
            args.workers
        )
    } else {
        "not pinned".into()
    };
    let mut json = format!(
        "{{\"flows\":{},\"payload_bytes\":{PAYLOAD},\"suite\":\"{}\",\"trial_ms\":{},\
         \"loss_limit\":{LOSS_LIMIT},\"grace_ms\":{},\"host_cpus\":{cpus},\"workers\":{},\
         \"batch\":{},\"pinned\":{pinned},\"scheduling\":\"{}\",\"cpu_layout\":\"{layout}\",\
         \"load_average_start\":\"{load_start}\",\"load_average_end\":\"{}\",\
         \"cpu_scope\":\"forwarding thread(s) only; generator and sink separately\",\
         \"notes\":[{}],\"results\":[",
        args.flows,
        SUITE.sdes_name(),
        args.trial.as_millis(),
        GRACE.as_millis(),
        args.workers,
        args.batch,
        args.sched.as_str(),
        load_average(),
        notes
            .iter()
            .map(|n| format!("\"{n}\""))
            .collect::<Vec<_>>()
            .join(",")
    );
    for (i, o) in outcomes.iter().enumerate() {
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
