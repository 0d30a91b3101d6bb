//! The portable backend: level-triggered epoll, recvmmsg into preallocated slots,
//! in-place transcode, one sendmmsg per socket per loop turn.

use std::net::{IpAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::mpsc::SyncSender;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use super::{bind_ims, io_err, BackendConfig, BackendStats, Control, Sock, SocketTable, RTCP_BUF};
use crate::datapath::{Action, DatapathError, SocketOp, Worker, WorkerEvent};
use crate::sys::epoll::{Epoll, EventFd, Events};
use crate::sys::mmsg::{Outgoing, RecvBatch, SendBatch};

/// epoll token of the wake-up eventfd; sockets use their local port.
const WAKE: u64 = u64::MAX;
/// recvmmsg calls per ready socket per turn, so one busy socket cannot starve the rest.
const ROUNDS: usize = 4;

struct Driver {
    worker: Worker,
    epoll: Epoll,
    wake: Arc<EventFd>,
    ims_ip: IpAddr,
    /// IP of the shared web socket: per-call web ports bind on it.
    web_ip: IpAddr,
    sockets: SocketTable<Sock>,
    ready: Events,
    recv: RecvBatch,
    send: SendBatch,
    out: Vec<Outgoing>,
    used: usize,
    ctl: Control,
    stats: BackendStats,
    /// Where the worker writes the RTCP reports it generates (`Worker::poll_rtcp`).
    rtcp: Box<[u8; RTCP_BUF]>,
}

/// Sets up epoll and the wake-up on this thread (so set-up errors come back to the
/// caller), then runs the loop on a new one.
pub(super) fn start(
    worker: Worker,
    web: UdpSocket,
    cfg: BackendConfig,
    tx: SyncSender<WorkerEvent>,
) -> Result<JoinHandle<Result<BackendStats, DatapathError>>, DatapathError> {
    let epoll = Epoll::new().map_err(io_err("epoll_create1"))?;
    let wake = Arc::new(EventFd::new().map_err(io_err("eventfd"))?);
    epoll.add(wake.raw(), WAKE).map_err(io_err("epoll_ctl"))?;
    web.set_nonblocking(true).map_err(io_err("fcntl"))?;
    let local = web.local_addr().map_err(io_err("getsockname"))?;
    if local.port() != worker.web_port() {
        return Err(DatapathError::PortInUse(local.port()));
    }
    epoll
        .add(web.as_raw_fd(), u64::from(local.port()))
        .map_err(io_err("epoll_ctl"))?;
    let w = Arc::clone(&wake);
    worker.set_waker(Arc::new(move || w.notify()));
    let mut sockets = SocketTable::new();
    sockets.insert(local.port(), Sock::shared(web, local));
    std::thread::Builder::new()
        .name("media-epoll".into())
        .spawn(move || {
            let batch = cfg.batch.max(1);
            let mut d = Driver {
                worker,
                epoll,
                wake,
                ims_ip: cfg.ims_ip,
                web_ip: local.ip(),
                sockets,
                ready: Events::with_capacity(256),
                recv: RecvBatch::new(batch),
                send: SendBatch::new(batch),
                out: Vec::with_capacity(batch),
                used: 0,
                ctl: Control::new(tx),
                stats: BackendStats::default(),
                rtcp: Box::new([0; RTCP_BUF]),
            };
            d.run()
        })
        .map_err(io_err("thread spawn"))
}

impl Driver {
    fn run(&mut self) -> Result<BackendStats, DatapathError> {
        // The first turn does the bookkeeping (commands may predate the waker).
        let mut woken = true;
        loop {
            let now = Instant::now();
            self.worker.drain_commands(now);
            if self.worker.is_stopped() {
                break;
            }
            self.apply_socket_ops();
            if self.ctl.due(&self.worker, woken, now) {
                self.ctl.bookkeeping(&mut self.worker, now, &mut self.stats);
                woken = false;
            }
            let timeout = self.ctl.timeout(now);
            let n = self
                .epoll
                .wait(&mut self.ready, timeout)
                .map_err(io_err("epoll_wait"))?;
            let now = Instant::now();
            for i in 0..n {
                match self.ready.token(i) {
                    Some(WAKE) => {
                        self.wake.drain();
                        woken = true;
                    }
                    Some(t) => self.receive(now, t as u16),
                    None => {}
                }
            }
            self.flush();
            self.send_slow_path(now);
        }
        self.stats.events_dropped = self.ctl.dropped;
        self.worker.publish_metrics(Instant::now(), &self.stats);
        Ok(self.stats)
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
                    let r = bind_ims(ip, port).and_then(|bound| {
                        let s = Sock::bound(bound);
                        self.epoll.add(s.rx.as_raw_fd(), u64::from(port))?;
                        Ok(s)
                    });
                    match r {
                        Ok(s) => {
                            self.sockets.insert(port, s);
                            self.worker.socket_opened(call, port);
                        }
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
                    if let Some((_, s)) = self.sockets.remove(port) {
                        // Closing the socket removes it from epoll anyway; this is explicit.
                        let _ = self.epoll.delete(s.rx.as_raw_fd());
                    }
                }
            }
        }
    }

    /// Receives from the socket on `port` and transcodes each datagram in its slot.
    fn receive(&mut self, now: Instant, port: u16) {
        let Some(s) = self.sockets.by_port(port) else {
            return;
        };
        let (fd, local) = (s.rx.as_raw_fd(), s.local);
        for _ in 0..ROUNDS {
            if self.used == self.recv.capacity() {
                self.flush();
            }
            let start = self.used;
            let room = self.recv.capacity() - start;
            let k = match self.recv.recv(fd, start) {
                Ok(k) => k,
                Err(_) => {
                    self.stats.recv_errors += 1;
                    0
                }
            };
            self.stats.received += k as u64;
            for i in start..start + k {
                let Some((from, len, buf)) = self.recv.datagram(i) else {
                    continue;
                };
                let (a, via) = self
                    .worker
                    .handle_datagram_routed(now, local, from, buf, len);
                if let Action::Forward { to, len, .. } = a {
                    self.out.push(Outgoing {
                        port: via,
                        slot: i as u32,
                        len: len as u32,
                        to,
                    });
                }
            }
            self.used += k;
            if k < room {
                break;
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
                    .is_some_and(|s| s.sender().send_to(b, to).is_ok())
            },
        );
    }

    /// One sendmmsg per socket for what this turn forwarded; the slots are free again.
    fn flush(&mut self) {
        self.out.sort_unstable_by_key(|o| o.port);
        let mut rest = &self.out[..];
        while let Some(first) = rest.first() {
            let n = rest.iter().take_while(|o| o.port == first.port).count();
            let (run, tail) = rest.split_at(n);
            match self.sockets.by_port(first.port) {
                Some(s) => {
                    let r = self.send.send(s.sender().as_raw_fd(), &self.recv, run);
                    self.stats.sent += r.sent as u64;
                    self.stats.send_failed += r.failed as u64;
                }
                None => self.stats.send_failed += n as u64,
            }
            rest = tail;
        }
        self.out.clear();
        self.used = 0;
    }
}
