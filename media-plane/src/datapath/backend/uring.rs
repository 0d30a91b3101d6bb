//! The io_uring backend: one multishot recvmsg per socket into a provided buffer ring,
//! the transcode in place in the received buffer, sendmsg from that same buffer, and one
//! submit-and-wait per loop turn (sends of this turn go out with the next wait), with
//! the worker's next deadline as the wait's timeout. Sends never wait long for that
//! submit: a turn submits them (without waiting) every `batch` datagrams and before
//! the worker's bookkeeping, which walks every call.

use std::net::{IpAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::mpsc::SyncSender;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{bind_ims, io_err, BackendConfig, BackendStats, Control, Sock, SocketTable, RTCP_BUF};
use crate::datapath::{Action, DatapathError, SocketOp, Worker, WorkerEvent};
use crate::sys::epoll::EventFd;
use crate::sys::uring::{Completion, Uring};

/// What a completion's `user_data` names (top two bits).
const KIND_SHIFT: u32 = 62;
const RECV: u64 = 1;
const SEND: u64 = 2;
const WAKE: u64 = 3;
/// `user_data` of cancel requests (their completions are ignored).
const CANCEL: u64 = u64::MAX - 1;
/// How long the exit waits for the kernel to let go of the buffers.
const SHUTDOWN_WAIT: Duration = Duration::from_millis(200);

/// Socket generations are 30 bits (below the kind, above the slot).
const GEN_MASK: u32 = 0x3fff_ffff;

/// A receive's `user_data`: kind, socket generation (so a late completion of a closed
/// socket, whose slot may hold another by now, is recognised), socket slot.
fn recv_tag(gen: u32, slot: u32) -> u64 {
    (RECV << KIND_SHIFT) | (u64::from(gen & GEN_MASK) << 32) | u64::from(slot)
}

struct Slot {
    sock: Sock,
    gen: u32,
}

struct Driver {
    worker: Worker,
    ring: Uring,
    wake: Arc<EventFd>,
    ims_ip: IpAddr,
    /// IP of the shared web socket: per-call web ports bind on it.
    web_ip: IpAddr,
    sockets: SocketTable<Slot>,
    next_gen: u32,
    done: Vec<Completion>,
    /// Sends queued since the last wait (their completions are part of the next one).
    queued_sends: usize,
    /// Of those, the ones not submitted yet.
    unsubmitted: usize,
    /// Datagrams per receive batch: a turn submits its sends at least this often.
    batch: usize,
    /// The wake-up fired (or this is the first turn): the bookkeeping is due.
    woken: bool,
    ctl: Control,
    stats: BackendStats,
    /// Where the worker writes the RTCP reports it generates (`Worker::poll_rtcp`).
    rtcp: Box<[u8; RTCP_BUF]>,
}

/// Checks the web socket and installs the waker here; the ring is set up on the new
/// thread (it is not `Send`), which reports set-up failure through its result.
pub(super) fn start(
    worker: Worker,
    web: UdpSocket,
    cfg: BackendConfig,
    tx: SyncSender<WorkerEvent>,
) -> Result<JoinHandle<Result<BackendStats, DatapathError>>, DatapathError> {
    let wake = Arc::new(EventFd::new().map_err(io_err("eventfd"))?);
    web.set_nonblocking(true).map_err(io_err("fcntl"))?;
    let local = web.local_addr().map_err(io_err("getsockname"))?;
    if local.port() != worker.web_port() {
        return Err(DatapathError::PortInUse(local.port()));
    }
    let w = Arc::clone(&wake);
    worker.set_waker(Arc::new(move || w.notify()));
    let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel(1);
    let thread = std::thread::Builder::new()
        .name("media-uring".into())
        .spawn(move || {
            let batch = cfg.batch.clamp(8, 4096);
            // Buffers: a power of two covering several batches of receives in flight.
            let nbufs = (batch * 4).next_power_of_two().min(32768) as u16;
            let ring = match Uring::new((batch * 2) as u32, nbufs) {
                Ok(r) => r,
                Err(e) => {
                    let err = io_err("io_uring_setup")(e);
                    let _ = ready_tx.send(Err(err));
                    return Err(err);
                }
            };
            let mut d = Driver {
                worker,
                ring,
                wake,
                ims_ip: cfg.ims_ip,
                web_ip: local.ip(),
                sockets: SocketTable::new(),
                next_gen: 0,
                done: Vec::with_capacity(usize::from(nbufs) * 2),
                queued_sends: 0,
                unsubmitted: 0,
                batch,
                woken: true,
                ctl: Control::new(tx),
                stats: BackendStats::default(),
                rtcp: Box::new([0; RTCP_BUF]),
            };
            let armed = d.ring.arm_poll(d.wake.raw(), WAKE << KIND_SHIFT);
            if let Err(e) = armed.and_then(|()| d.add_socket(Sock::shared(web, local))) {
                let err = io_err("io_uring submit")(e);
                let _ = ready_tx.send(Err(err));
                return Err(err);
            }
            let _ = ready_tx.send(Ok(()));
            d.run()
        })
        .map_err(io_err("thread spawn"))?;
    match ready_rx.recv() {
        Ok(Ok(())) => Ok(thread),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(DatapathError::Io {
            op: "worker thread",
            kind: std::io::ErrorKind::Other,
        }),
    }
}

impl Driver {
    fn add_socket(&mut self, sock: Sock) -> std::io::Result<()> {
        let gen = self.next_gen;
        self.next_gen = self.next_gen.wrapping_add(1) & GEN_MASK;
        let (fd, local) = (sock.rx.as_raw_fd(), sock.local);
        let slot = self.sockets.insert(local.port(), Slot { sock, gen });
        if let Err(e) = self.ring.arm_recv(fd, recv_tag(gen, slot)) {
            self.sockets.remove(local.port());
            return Err(e);
        }
        Ok(())
    }

    fn run(&mut self) -> Result<BackendStats, DatapathError> {
        loop {
            let now = Instant::now();
            self.worker.drain_commands(now);
            if self.worker.is_stopped() {
                break;
            }
            self.apply_socket_ops();
            if self.ctl.due(&self.worker, self.woken, now) {
                // The bookkeeping walks every call: the sends of the last turn go out
                // first instead of waiting behind it.
                self.flush_sends()?;
                self.ctl.bookkeeping(&mut self.worker, now, &mut self.stats);
                self.woken = false;
            }
            let timeout = self.ctl.timeout(now);
            // The sends queued since the last submit complete during this one; wait
            // for one completion beyond them, so a turn is one io_uring_enter.
            let want = std::mem::take(&mut self.queued_sends) + 1;
            self.unsubmitted = 0;
            self.ring
                .submit_and_wait(want, timeout)
                .map_err(io_err("io_uring_enter"))?;
            let now = Instant::now();
            self.done.clear();
            self.ring.completions(&mut self.done);
            for i in 0..self.done.len() {
                let c = self.done[i];
                self.complete(now, c);
                // A long turn (a backlog of completions) does not hold the first
                // packets' sends until its end: as the epoll backend's one sendmmsg
                // per received batch, they go out every `batch` datagrams.
                if self.unsubmitted >= self.batch {
                    self.flush_sends()?;
                }
            }
            self.send_slow_path(now);
        }
        self.stats.events_dropped = self.ctl.dropped;
        self.worker.publish_metrics(Instant::now(), &self.stats);
        let armed: Vec<u64> = self
            .sockets
            .iter()
            .map(|(slot, s)| recv_tag(s.gen, slot))
            .chain([WAKE << KIND_SHIFT])
            .collect();
        self.ring.shutdown(&armed, SHUTDOWN_WAIT);
        Ok(self.stats)
    }

    /// Submits the queued sends without waiting (they complete inline on loopback and
    /// most UDP paths; their completions are reaped with the next turn's).
    fn flush_sends(&mut self) -> Result<(), DatapathError> {
        if self.unsubmitted > 0 {
            self.ring.submit().map_err(io_err("io_uring_enter"))?;
            self.unsubmitted = 0;
        }
        Ok(())
    }

    fn apply_socket_ops(&mut self) {
        while let Some(op) = self.worker.poll_socket_op() {
            match op {
                SocketOp::Open { call, port }
                | SocketOp::OpenWeb { call, port }
                | SocketOp::OpenRtcp { call, port } => {
                    let ip = match op {
                        SocketOp::OpenWeb { .. } => self.web_ip,
                        _ => self.ims_ip,
                    };
                    let r =
                        bind_ims(ip, port).and_then(|bound| self.add_socket(Sock::bound(bound)));
                    match r {
                        Ok(()) => self.worker.socket_opened(call, port),
                        Err(e) => {
                            tracing::warn!(call, port, error = %e, "media port bind failed");
                            self.worker.socket_failed(call, port, e.kind());
                        }
                    }
                }
                SocketOp::Close { port } => {
                    if port == self.worker.web_port() {
                        continue;
                    }
                    if let Some((slot, s)) = self.sockets.remove(port) {
                        // The request holds its own reference to the socket until the
                        // cancel completes; its late completions fail the generation check.
                        let _ = self.ring.cancel(recv_tag(s.gen, slot), CANCEL);
                    }
                }
            }
        }
    }

    /// DTLS datagrams and RTCP reports ([`super::send_slow_path`]), from the socket of
    /// the local port each names.
    fn send_slow_path(&mut self, now: Instant) {
        let sockets = &self.sockets;
        super::send_slow_path(
            &mut self.worker,
            now,
            &mut self.rtcp[..],
            &mut self.stats,
            |port, to, b| {
                sockets
                    .by_port(port)
                    .is_some_and(|s| s.sock.sender().send_to(b, to).is_ok())
            },
        );
    }

    fn complete(&mut self, now: Instant, c: Completion) {
        if c.user_data == CANCEL {
            return;
        }
        match c.user_data >> KIND_SHIFT {
            RECV => self.received(now, c),
            SEND => {
                if c.result < 0 {
                    self.stats.send_failed += 1;
                } else {
                    self.stats.sent += 1;
                }
                self.ring.sent((c.user_data & 0xffff) as u16);
            }
            WAKE => {
                self.wake.drain();
                self.woken = true;
                if !c.more() {
                    self.ring.ended();
                    let _ = self.ring.arm_poll(self.wake.raw(), WAKE << KIND_SHIFT);
                }
            }
            _ => {}
        }
    }

    fn received(&mut self, now: Instant, c: Completion) {
        let slot = c.user_data as u32;
        let gen = (c.user_data >> 32) as u32 & GEN_MASK;
        let live = self
            .sockets
            .at(slot)
            .filter(|s| s.gen == gen)
            .map(|s| (s.sock.rx.as_raw_fd(), s.sock.local));
        if !c.more() {
            self.ring.ended();
            if let Some((fd, local)) = live {
                // ENOBUFS (all buffers in flight) or an error ended the multishot: re-arm.
                if c.result < 0 && c.result != -libc::ENOBUFS {
                    self.stats.recv_errors += 1;
                }
                if self.ring.arm_recv(fd, c.user_data).is_err() {
                    tracing::warn!(port = local.port(), "io_uring: cannot re-arm receive");
                }
            }
        }
        let Some(bid) = c.buffer() else {
            return;
        };
        let Some((_, local)) = live else {
            self.ring.recycle(bid);
            return;
        };
        if c.result < 0 {
            self.ring.recycle(bid);
            return;
        }
        self.stats.received += 1;
        let Some((from, offset, len, buf)) = self.ring.received(bid, c.result) else {
            self.ring.recycle(bid);
            return;
        };
        let (a, via) = self
            .worker
            .handle_datagram_routed(now, local, from, buf, len);
        let Action::Forward { to, len, .. } = a else {
            self.ring.recycle(bid);
            return;
        };
        let Some(out) = self.sockets.by_port(via) else {
            self.stats.send_failed += 1;
            self.ring.recycle(bid);
            return;
        };
        let tag = (SEND << KIND_SHIFT) | u64::from(bid);
        if self
            .ring
            .send_from(out.sock.sender().as_raw_fd(), bid, offset, len, to, tag)
            .is_err()
        {
            self.stats.send_failed += 1;
            self.ring.recycle(bid);
        } else {
            self.queued_sends += 1;
            self.unsubmitted += 1;
        }
    }
}
