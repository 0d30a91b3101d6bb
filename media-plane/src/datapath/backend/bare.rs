//! Benchmark aids: a bare UDP forwarder on the backends' own system calls, and batched
//! load sockets. Not used by the gateway; `datapath-bench` (crate `benches`) measures
//! the engine against them.
//!
//! ```text
//!  LoadSender ──sendmmsg (IP_PKTINFO: a source IP per flow)──► ingress socket
//!  BareForwarder: route by source → per-flow out socket → destination, no crypto,
//!                 Epoll: epoll_wait + recvmmsg + one sendmmsg per out socket per batch
//!                 IoUring: multishot recvmsg into provided buffers + sendmsg from them,
//!                          one io_uring_enter per turn (a submit every batch of
//!                          sends within a long turn)
//!  out sockets ──► LoadReceiver (epoll_wait + recvmmsg)
//! ```
//!
//! They live here because the system calls do: `unsafe` stays in `crate::sys`, and the
//! forwarder runs exactly the receive/send machinery of the epoll and io_uring backends
//! (same batch size, same waits), minus the [`super::super::Worker`], so that the bench's
//! "bare" row is the kernel path of this machine, not a slower straw man.

use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::BackendKind;
use crate::sys::epoll::{Epoll, Events};
use crate::sys::mmsg::{Outgoing, RecvBatch, SendBatch};
use crate::sys::uring::Uring;

/// How often a forwarder with nothing to do looks at its stop flag.
const STOP_POLL: Duration = Duration::from_millis(20);
/// recvmmsg calls per wake-up, as in the epoll backend.
const ROUNDS: usize = 4;

/// One flow of a [`BareForwarder`]: datagrams from `from` leave through `out` to `to`.
#[derive(Debug)]
pub struct BareRoute {
    /// Source address of the flow's datagrams at the ingress socket.
    pub from: SocketAddr,
    /// The flow's egress socket (like an IMS-leg socket).
    pub out: UdpSocket,
    /// Destination.
    pub to: SocketAddr,
}

/// A forwarding thread with no crypto and no worker: the kernel-path reference.
#[derive(Debug)]
pub struct BareForwarder {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<io::Result<u64>>,
}

impl BareForwarder {
    /// Starts thread `name` forwarding what `ingress` receives along `routes` (unknown
    /// sources are dropped), `batch` datagrams per receive batch, on `kind`'s calls.
    pub fn spawn(
        kind: BackendKind,
        name: &str,
        ingress: UdpSocket,
        routes: Vec<BareRoute>,
        batch: usize,
    ) -> io::Result<Self> {
        ingress.set_nonblocking(true)?;
        for r in &routes {
            r.out.set_nonblocking(true)?;
        }
        let stop = Arc::new(AtomicBool::new(false));
        let s = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || match kind {
                BackendKind::Epoll => run_epoll(&s, &ingress, &routes, batch.max(1)),
                BackendKind::IoUring => run_uring(&s, &ingress, &routes, batch.clamp(8, 4096)),
            })?;
        Ok(Self { stop, thread })
    }

    /// Stops the thread; returns how many datagrams it forwarded.
    pub fn stop(self) -> io::Result<u64> {
        self.stop.store(true, Ordering::Release);
        self.thread
            .join()
            .map_err(|_| io::Error::other("bare forwarder panicked"))?
    }
}

fn route_table(routes: &[BareRoute]) -> HashMap<SocketAddr, usize> {
    routes
        .iter()
        .enumerate()
        .map(|(i, r)| (r.from, i))
        .collect()
}

fn run_epoll(
    stop: &AtomicBool,
    ingress: &UdpSocket,
    routes: &[BareRoute],
    batch: usize,
) -> io::Result<u64> {
    let table = route_table(routes);
    let epoll = Epoll::new()?;
    epoll.add(ingress.as_raw_fd(), 0)?;
    let mut ready = Events::with_capacity(4);
    let mut recv = RecvBatch::new(batch);
    let mut send = SendBatch::new(batch);
    let mut out: Vec<Outgoing> = Vec::with_capacity(batch);
    let mut forwarded = 0u64;
    while !stop.load(Ordering::Acquire) {
        if epoll.wait(&mut ready, Some(STOP_POLL))? == 0 {
            continue;
        }
        for _ in 0..ROUNDS {
            let k = recv.recv(ingress.as_raw_fd(), 0)?;
            for i in 0..k {
                let Some((from, len, _)) = recv.datagram(i) else {
                    continue;
                };
                let Some(&r) = table.get(&from) else { continue };
                out.push(Outgoing {
                    // The route index stands for the socket (routes ≤ u16::MAX).
                    port: r as u16,
                    slot: i as u32,
                    len: len as u32,
                    to: routes[r].to,
                });
            }
            out.sort_unstable_by_key(|o| o.port);
            let mut rest = &out[..];
            while let Some(first) = rest.first() {
                let n = rest.iter().take_while(|o| o.port == first.port).count();
                let (run, tail) = rest.split_at(n);
                let fd = routes[usize::from(first.port)].out.as_raw_fd();
                forwarded += send.send(fd, &recv, run).sent as u64;
                rest = tail;
            }
            out.clear();
            if k < recv.capacity() {
                break;
            }
        }
    }
    Ok(forwarded)
}

const RECV_TAG: u64 = 1 << 62;
const SEND_TAG: u64 = 2 << 62;

fn run_uring(
    stop: &AtomicBool,
    ingress: &UdpSocket,
    routes: &[BareRoute],
    batch: usize,
) -> io::Result<u64> {
    let table = route_table(routes);
    // The same ring geometry as the io_uring backend.
    let nbufs = (batch * 4).next_power_of_two().min(32768) as u16;
    let mut ring = Uring::new((batch * 2) as u32, nbufs)?;
    ring.arm_recv(ingress.as_raw_fd(), RECV_TAG)?;
    let mut done = Vec::with_capacity(usize::from(nbufs) * 2);
    let (mut forwarded, mut queued) = (0u64, 0usize);
    while !stop.load(Ordering::Acquire) {
        ring.submit_and_wait(std::mem::take(&mut queued) + 1, Some(STOP_POLL))?;
        let mut unsubmitted = 0usize;
        done.clear();
        ring.completions(&mut done);
        for c in &done {
            if c.user_data >> 62 == SEND_TAG >> 62 {
                if c.result >= 0 {
                    forwarded += 1;
                }
                ring.sent((c.user_data & 0xffff) as u16);
                continue;
            }
            if c.user_data != RECV_TAG {
                continue;
            }
            if !c.more() {
                ring.ended();
                ring.arm_recv(ingress.as_raw_fd(), RECV_TAG)?;
            }
            let Some(bid) = c.buffer() else { continue };
            let route = ring
                .received(bid, c.result)
                .and_then(|(from, off, len, _)| Some((*table.get(&from)?, off, len)));
            let Some((r, off, len)) = route else {
                ring.recycle(bid);
                continue;
            };
            let fd = routes[r].out.as_raw_fd();
            let tag = SEND_TAG | u64::from(bid);
            if ring.send_from(fd, bid, off, len, routes[r].to, tag).is_ok() {
                queued += 1;
                unsubmitted += 1;
            } else {
                ring.recycle(bid);
            }
            // As the backend: a long turn submits its sends every `batch` datagrams.
            if unsubmitted >= batch {
                ring.submit()?;
                unsubmitted = 0;
            }
        }
    }
    ring.shutdown(&[RECV_TAG], Duration::from_millis(200));
    Ok(forwarded)
}

/// A socket that sends batches of datagrams with one sendmmsg each.
pub struct LoadSender {
    sock: UdpSocket,
    batch: SendBatch,
}

impl std::fmt::Debug for LoadSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadSender")
            .field("sock", &self.sock)
            .finish()
    }
}

impl LoadSender {
    /// Sends through `sock` (non-blocking), up to `batch` datagrams per system call. To
    /// send from several source addresses, bind it on `0.0.0.0`.
    pub fn new(sock: UdpSocket, batch: usize) -> io::Result<Self> {
        sock.set_nonblocking(true)?;
        Ok(Self {
            sock,
            batch: SendBatch::new(batch),
        })
    }

    /// The socket.
    pub fn socket(&self) -> &UdpSocket {
        &self.sock
    }

    /// Sends each `(bytes, destination, source IP)`; returns how many the kernel took.
    pub fn send(&mut self, datagrams: &[(&[u8], SocketAddr, Option<Ipv4Addr>)]) -> usize {
        self.batch.send_bufs(self.sock.as_raw_fd(), datagrams).sent
    }
}

/// A socket that receives batches of datagrams with recvmmsg after an epoll wait.
pub struct LoadReceiver {
    sock: UdpSocket,
    epoll: Epoll,
    ready: Events,
    batch: RecvBatch,
}

impl std::fmt::Debug for LoadReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadReceiver")
            .field("sock", &self.sock)
            .finish()
    }
}

impl LoadReceiver {
    /// Receives on `sock`, up to `batch` datagrams per system call.
    pub fn new(sock: UdpSocket, batch: usize) -> io::Result<Self> {
        sock.set_nonblocking(true)?;
        let epoll = Epoll::new()?;
        epoll.add(sock.as_raw_fd(), 0)?;
        Ok(Self {
            sock,
            epoll,
            ready: Events::with_capacity(1),
            batch: RecvBatch::new(batch),
        })
    }

    /// Waits up to `timeout` for datagrams, then hands each one of a batch to `each`
    /// (its buffer with tailroom, its length); returns how many arrived (0: none).
    pub fn recv(
        &mut self,
        timeout: Duration,
        each: impl FnMut(&mut [u8], usize),
    ) -> io::Result<usize> {
        if self.epoll.wait(&mut self.ready, Some(timeout))? == 0 {
            return Ok(0);
        }
        self.try_recv(each)
    }

    /// [`LoadReceiver::recv`] without waiting. A receiver that polls with this (and
    /// sleeps on a timer when nothing came) never sleeps on the socket, so a sender does
    /// not pay for waking it.
    pub fn try_recv(&mut self, mut each: impl FnMut(&mut [u8], usize)) -> io::Result<usize> {
        let k = self.batch.recv(self.sock.as_raw_fd(), 0)?;
        for i in 0..k {
            if let Some((_, len, buf)) = self.batch.datagram(i) {
                each(buf, len);
            }
        }
        Ok(k)
    }
}
