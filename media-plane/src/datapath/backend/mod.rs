//! Socket backends: the thread that owns a [`Worker`]'s sockets and feeds it datagrams.
//!
//! ```text
//!  control plane ──Command──► WorkerHandle ──(bounded queue + wake)──► backend thread
//!  backend thread: drain commands → open/close IMS sockets → deliver events → wait
//!                  → receive a batch → Worker::handle_datagram_routed (in place)
//!                  → one batched send per socket → repeat
//!  backend thread ──WorkerEvent──► RunningWorker::events (bounded; never blocks the worker)
//! ```
//!
//! One thread owns the web legs' shared UDP socket and one UDP socket per call's IMS
//! leg, bound on `BackendConfig::ims_ip` and the port of [`super::Command::Allocate`],
//! plus, for a call given its own web port ([`super::Command::OpenWebPort`]), one UDP
//! socket on the shared web socket's IP and that port ([`super::SocketOp::OpenWeb`]).
//! A call whose IMS side does not mux RTCP has one more socket on the IMS port+1
//! ([`super::SocketOp::OpenRtcp`]): RTCP from the far end arrives there, and the call's
//! reports to it leave from there. Each loop turn the backend drains
//! [`Worker::poll_rtcp`] (reports due, written into one preallocated buffer; the wall
//! clock for their NTP timestamps is read here, never in the worker) and sends each with
//! a plain `send_to`: a few datagrams per call every five seconds, off the batched path.
//!
//! Each of those per-call ports is a socket pair (`sys::udp_pair`): one socket receives
//! everything sent to the port (a reuseport group whose BPF program always picks it),
//! the other sends from the same address and has nothing armed on it. A send from the
//! receiving socket itself would wake its wait queue (the receive armed on it) when the
//! kernel frees each sent datagram: at 1000 calls that wake-up was the largest cost the
//! engine paid over the bare forwarder. The port is still exclusive, as a plain bind
//! makes it. The shared web socket, bound by the caller, receives and sends itself.
//! Each per-call port costs two file descriptors (a call without rtcp-mux: four), which
//! `RLIMIT_NOFILE` has to allow for.
//!
//! [`Backend::Auto`] takes io_uring when [`io_uring_available`] says the kernel lets this
//! process use it (seccomp often blocks `io_uring_setup` in containers) and epoll with
//! recvmmsg/sendmmsg otherwise; [`RunningWorker::backend`] says which one runs.
//!
//! [`bare`] holds the data-path bench's reference: the same receive/send machinery
//! with no worker and no crypto, and batched load sockets.

pub mod bare;
mod epoll;
mod uring;

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{DatapathError, Worker, WorkerEvent};
use crate::sys::udp_pair::UdpPair;

/// Which backend to run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Backend {
    /// io_uring when available, else epoll.
    #[default]
    Auto,
    /// io_uring or fail with [`DatapathError::BackendUnavailable`].
    IoUring,
    /// epoll + recvmmsg/sendmmsg (any Linux).
    Epoll,
}

/// The backend that actually runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BackendKind {
    /// io_uring: multishot receive into a provided buffer ring.
    IoUring,
    /// epoll + recvmmsg/sendmmsg.
    Epoll,
}

impl BackendKind {
    /// A stable lower-case name, for logs and a metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::IoUring => "io_uring",
            Self::Epoll => "epoll",
        }
    }
}

/// Settings of a backend thread.
#[derive(Debug, Clone)]
pub struct BackendConfig {
    /// Which backend.
    pub backend: Backend,
    /// Local address the IMS-leg sockets bind on.
    pub ims_ip: IpAddr,
    /// Datagrams received (and so at most sent) per batch.
    pub batch: usize,
    /// Capacity of the event channel to the control plane.
    pub event_queue: usize,
}

impl Default for BackendConfig {
    fn default() -> Self {
        Self {
            backend: Backend::Auto,
            ims_ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            batch: 64,
            event_queue: 1024,
        }
    }
}

/// Counters of a backend thread, returned by [`RunningWorker::join`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BackendStats {
    /// Datagrams received.
    pub received: u64,
    /// Datagrams handed to the kernel for sending.
    pub sent: u64,
    /// Datagrams the kernel refused to send (full buffer, unreachable).
    pub send_failed: u64,
    /// Receive errors other than "nothing waiting".
    pub recv_errors: u64,
    /// Events dropped because the control plane had closed its end.
    pub events_dropped: u64,
}

/// A backend thread running a [`Worker`]. Stop it with [`super::Command::Stop`] or by
/// dropping every [`super::WorkerHandle`]; dropping this value does not stop it.
#[derive(Debug)]
pub struct RunningWorker {
    kind: BackendKind,
    events: Receiver<WorkerEvent>,
    thread: JoinHandle<Result<BackendStats, DatapathError>>,
}

impl RunningWorker {
    /// The backend that runs.
    pub fn backend(&self) -> BackendKind {
        self.kind
    }

    /// Events of the worker (bounded; when full, the worker holds the next event back
    /// and retries, it never blocks).
    pub fn events(&self) -> &Receiver<WorkerEvent> {
        &self.events
    }

    /// Waits for the thread to end and returns its counters.
    pub fn join(self) -> Result<BackendStats, DatapathError> {
        self.thread
            .join()
            .map_err(|_| DatapathError::Io {
                op: "worker thread",
                kind: io::ErrorKind::Other,
            })
            .and_then(|r| r)
    }
}

/// True when this process may use io_uring with what the io_uring backend needs (Linux
/// 6.1+, `io_uring_setup` not blocked, a provided buffer ring registers). Probed once, on
/// a throw-away thread.
pub fn io_uring_available() -> bool {
    static PROBE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *PROBE.get_or_init(crate::sys::uring::probe)
}

/// Starts a backend thread for `worker`; the web legs share `web` (already bound, on the
/// worker's web port).
pub fn spawn(
    worker: Worker,
    web: UdpSocket,
    cfg: BackendConfig,
) -> Result<RunningWorker, DatapathError> {
    let kind = match cfg.backend {
        Backend::Epoll => BackendKind::Epoll,
        Backend::IoUring if io_uring_available() => BackendKind::IoUring,
        Backend::IoUring => return Err(DatapathError::BackendUnavailable("io_uring")),
        Backend::Auto if io_uring_available() => BackendKind::IoUring,
        Backend::Auto => BackendKind::Epoll,
    };
    let (tx, events) = sync_channel(cfg.event_queue.max(1));
    let thread = match kind {
        BackendKind::Epoll => epoll::start(worker, web, cfg, tx)?,
        BackendKind::IoUring => uring::start(worker, web, cfg, tx)?,
    };
    tracing::info!(backend = kind.as_str(), "media worker started");
    Ok(RunningWorker {
        kind,
        events,
        thread,
    })
}

/// Room for any report `Worker::poll_rtcp` writes (SR + block + CNAME + SRTCP trailer).
const RTCP_BUF: usize = 512;

fn io_err(op: &'static str) -> impl Fn(io::Error) -> DatapathError {
    move |e| DatapathError::Io { op, kind: e.kind() }
}

/// The sockets of a backend thread: a slab (a completion or an epoll token names the
/// slot) and a direct local port → slot table (the worker names the port to send from).
/// Neither hashes: at a thousand calls the two lookups per packet in a
/// `HashMap<u16, _>` cost a hash and a cache miss each.
struct SocketTable<S> {
    slots: Vec<Option<S>>,
    free: Vec<u32>,
    /// Slot + 1 of the socket bound on each port (0: none).
    by_port: Box<[u32]>,
}

impl<S> SocketTable<S> {
    fn new() -> Self {
        Self {
            slots: Vec::new(),
            free: Vec::new(),
            by_port: vec![0; 1 << 16].into_boxed_slice(),
        }
    }

    /// Adds the socket bound on `port` (replacing any other on it); returns its slot.
    fn insert(&mut self, port: u16, sock: S) -> u32 {
        self.remove(port);
        let slot = match self.free.pop() {
            Some(s) => {
                self.slots[s as usize] = Some(sock);
                s
            }
            None => {
                self.slots.push(Some(sock));
                (self.slots.len() - 1) as u32
            }
        };
        self.by_port[usize::from(port)] = slot + 1;
        slot
    }

    fn remove(&mut self, port: u16) -> Option<(u32, S)> {
        let slot = std::mem::take(&mut self.by_port[usize::from(port)]).checked_sub(1)?;
        let sock = self.slots.get_mut(slot as usize)?.take()?;
        self.free.push(slot);
        Some((slot, sock))
    }

    /// The slot of the socket on `port`, if any.
    fn slot(&self, port: u16) -> Option<u32> {
        self.by_port[usize::from(port)].checked_sub(1)
    }

    fn by_port(&self, port: u16) -> Option<&S> {
        self.at(self.slot(port)?)
    }

    fn at(&self, slot: u32) -> Option<&S> {
        self.slots.get(slot as usize)?.as_ref()
    }

    fn iter(&self) -> impl Iterator<Item = (u32, &S)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| Some((i as u32, s.as_ref()?)))
    }
}

/// A socket of a backend's table: `rx` receives; `tx` (on the ports the backend bound
/// itself, see [`bind_ims`]) sends from the same address; the shared web socket,
/// bound by the caller, does both.
struct Sock {
    rx: UdpSocket,
    tx: Option<UdpSocket>,
    local: SocketAddr,
}

impl Sock {
    fn shared(sock: UdpSocket, local: SocketAddr) -> Self {
        Self {
            rx: sock,
            tx: None,
            local,
        }
    }

    fn bound((pair, local): (UdpPair, SocketAddr)) -> Self {
        Self {
            rx: pair.rx,
            tx: Some(pair.tx),
            local,
        }
    }

    /// The socket that sends from this port.
    fn sender(&self) -> &UdpSocket {
        self.tx.as_ref().unwrap_or(&self.rx)
    }
}

/// Binds a non-blocking per-call (IMS-leg or web) port: a socket that receives and one
/// that sends from the same address ([`UdpPair`]), so that the sends of the fast path
/// do not wake the receive armed on the first (the per-packet wake-up the bare
/// forwarder, whose egress sockets receive nothing, never pays).
fn bind_ims(ip: IpAddr, port: u16) -> io::Result<(UdpPair, SocketAddr)> {
    let pair = UdpPair::bind(SocketAddr::new(ip, port))?;
    let local = pair.rx.local_addr()?;
    Ok((pair, local))
}

/// The backend-independent half of a driver: events out, metrics, and the wait
/// deadline.
///
/// Asking the worker for events ([`Worker::poll_event`]) and for its next deadline
/// ([`Worker::poll_timeout`]) walks every call, and publishing its metrics stores
/// ~50 atomics; done every loop turn, that is O(calls) work per batch of packets (at
/// 1000 calls it was most of the worker's own CPU time). So a driver does that
/// bookkeeping only when it is due ([`Control::due`]): after a wake-up (a command,
/// a DTLS datagram, the last handle gone), while an event is held back, once the
/// worker's earliest deadline has passed, when a packet raised an event that has no
/// deadline of its own (relatching, ICE: [`Worker::wants_attention`], O(1)), and at
/// least every [`POLL_EVERY`] as a safety net.
struct Control {
    tx: SyncSender<WorkerEvent>,
    held: Option<WorkerEvent>,
    dropped: u64,
    /// When the bookkeeping is next due without a wake-up (`None`: never).
    next: Option<Instant>,
}

/// The slow-path sends of a loop turn, each with `send(port, to, datagram)` (a plain
/// `send_to` from the socket on that local port, outside any batch; it says whether the
/// datagram went out): the calls' DTLS datagrams ([`Worker::poll_transmit_routed`]),
/// then their due RTCP reports ([`Worker::poll_rtcp`], written into `rtcp_buf`; the
/// wall clock is read only when one is due).
fn send_slow_path(
    worker: &mut Worker,
    now: Instant,
    rtcp_buf: &mut [u8],
    stats: &mut BackendStats,
    mut send: impl FnMut(u16, SocketAddr, &[u8]) -> bool,
) {
    let mut count = |ok: bool| {
        if ok {
            stats.sent += 1;
        } else {
            stats.send_failed += 1;
        }
    };
    while let Some((port, to, datagram)) = worker.poll_transmit_routed() {
        count(send(port, to, datagram));
    }
    if !worker.rtcp_due(now) {
        return;
    }
    let wall = crate::rtcp::NtpTime::from_system_time(std::time::SystemTime::now());
    while let Some((port, to, len)) = worker.poll_rtcp(now, wall, rtcp_buf) {
        count(send(port, to, &rtcp_buf[..len]));
    }
}

/// How soon to retry an event the control plane had no room for.
const EVENT_RETRY: Duration = Duration::from_millis(5);
/// The longest the bookkeeping waits while calls are live. Events raised by packets are
/// flagged ([`Worker::wants_attention`]) and metrics have their own deadline
/// ([`Worker::metrics_timeout`]), so this only bounds what nothing announces.
const POLL_EVERY: Duration = Duration::from_millis(50);

impl Control {
    fn new(tx: SyncSender<WorkerEvent>) -> Self {
        Self {
            tx,
            held: None,
            dropped: 0,
            next: Some(Instant::now()),
        }
    }

    /// True when this turn must run [`Control::bookkeeping`]: `woken` says the wake-up
    /// fired (or commands may be waiting).
    fn due(&self, worker: &Worker, woken: bool, now: Instant) -> bool {
        woken
            || self.held.is_some()
            || worker.wants_attention()
            || self.next.is_some_and(|t| now >= t)
    }

    /// Delivers the worker's events, publishes its metrics with the backend's counters
    /// `io`, and computes when it is next due.
    fn bookkeeping(&mut self, worker: &mut Worker, now: Instant, io: &mut BackendStats) {
        self.deliver(worker, now);
        io.events_dropped = self.dropped;
        worker.publish_metrics(now, io);
        self.next = if self.held.is_some() {
            Some(now + EVENT_RETRY)
        } else {
            let deadline = match (worker.poll_timeout(), worker.metrics_timeout()) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            // With no call there is nothing a packet could raise: wait for a wake-up.
            let cap = (!worker.is_empty()).then(|| now + POLL_EVERY);
            match (deadline, cap) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            }
        };
    }

    /// Sends the worker's events until there is none or the channel is full.
    fn deliver(&mut self, worker: &mut Worker, now: Instant) {
        while let Some(e) = self.held.take().or_else(|| worker.poll_event(now)) {
            match self.tx.try_send(e) {
                Ok(()) => {}
                Err(TrySendError::Full(e)) => {
                    self.held = Some(e);
                    return;
                }
                Err(TrySendError::Disconnected(_)) => self.dropped += 1,
            }
        }
    }

    /// How long the backend may wait for input (`None`: until woken).
    fn timeout(&self, now: Instant) -> Option<Duration> {
        self.next.map(|t| t.saturating_duration_since(now))
    }
}
