//! Two UDP sockets on one local address: one that receives everything sent to it, one
//! that only sends.
//!
//! ```text
//!   datagram to ip:port ─► reuseport group of ip:port ─► CBPF "return 0" ─► rx (index 0)
//!   media out  ◄── tx (same ip:port, never chosen, never read, no waiter on it)
//! ```
//!
//! Why: a socket with a receive armed (an io_uring multishot recvmsg, or an epoll
//! registration) has a waiter on its wait queue, and every datagram sent from it wakes
//! that queue when the kernel frees the sent buffer (`sock_wfree` → write-space wake-up:
//! the queue's lock with interrupts off, and a cache miss on the per-socket queue and
//! waiter, per packet). At 1000 calls that was the largest cost the engine paid on top
//! of the bare forwarder, whose egress sockets have no receive armed. Sending from a
//! second socket bound to the same address keeps the source address (symmetric RTP)
//! without that wake-up.
//!
//! Both sockets set `SO_REUSEPORT` (the kernel allows it only among sockets of the same
//! user); a classic BPF program on the group (`SO_ATTACH_REUSEPORT_CBPF`) picks index 0,
//! the receiving socket, bound first, for every datagram. So that the port stays
//! exclusive as a plain bind would make it, the address is first bound without
//! `SO_REUSEPORT` (failing with `AddrInUse` where anyone holds it) and released. Where
//! reuseport BPF is refused (a sandbox, an old kernel) the pair is one socket twice.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use super::addr;

/// The receiving and the sending socket of one local address (both non-blocking).
#[derive(Debug)]
pub(crate) struct UdpPair {
    pub(crate) rx: UdpSocket,
    pub(crate) tx: UdpSocket,
}

fn check(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn set_int(fd: RawFd, level: libc::c_int, name: libc::c_int, v: libc::c_int) -> io::Result<()> {
    // SAFETY: `v` is a live `c_int` for the whole call and its size is passed with it.
    let r = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&v as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    check(r).map(|_| ())
}

/// A non-blocking, close-on-exec UDP socket with `SO_REUSEPORT`, bound to `at`.
fn bind_reuseport(at: SocketAddr) -> io::Result<UdpSocket> {
    let family = match at {
        SocketAddr::V4(_) => libc::AF_INET,
        SocketAddr::V6(_) => libc::AF_INET6,
    };
    let kind = libc::SOCK_DGRAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
    // SAFETY: plain system call; the result is checked before use.
    let fd = check(unsafe { libc::socket(family, kind, 0) })?;
    // SAFETY: `fd` is a socket just created here and owned by nobody else.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    set_int(fd, libc::SOL_SOCKET, libc::SO_REUSEPORT, 1)?;
    let mut st = addr::zeroed();
    let len = addr::encode(at, &mut st);
    // SAFETY: `st` holds a sockaddr of `len` octets (written by `addr::encode`) and
    // outlives the call.
    let r = unsafe { libc::bind(fd, (&st as *const libc::sockaddr_storage).cast(), len) };
    check(r)?;
    Ok(UdpSocket::from(owned))
}

/// Makes every datagram to the reuseport group of `fd` go to the group's first socket.
fn steer_to_first(fd: RawFd) -> io::Result<()> {
    // One instruction: `ret #0` (the index of the socket to deliver to).
    let mut prog = [libc::sock_filter {
        code: (libc::BPF_RET | libc::BPF_K) as u16,
        jt: 0,
        jf: 0,
        k: 0,
    }];
    let fprog = libc::sock_fprog {
        len: prog.len() as libc::c_ushort,
        filter: prog.as_mut_ptr(),
    };
    // SAFETY: `fprog` and the program it points to live until the call returns (the
    // kernel copies the program); the size passed is that of `sock_fprog`.
    let r = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ATTACH_REUSEPORT_CBPF,
            (&fprog as *const libc::sock_fprog).cast(),
            std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
        )
    };
    check(r).map(|_| ())
}

impl UdpPair {
    /// Binds the pair on `at` (port 0: an ephemeral port, the same for both).
    pub(crate) fn bind(at: SocketAddr) -> io::Result<Self> {
        // Exclusivity first, as a plain bind has it; UDP frees the port on close.
        let at = {
            let probe = UdpSocket::bind(at)?;
            probe.local_addr()?
        };
        match Self::bind_steered(at) {
            Ok(pair) => Ok(pair),
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => Err(e),
            // A kernel or sandbox without reuseport BPF (gVisor, seccomp profiles,
            // kernels before 4.5): one socket for both, the send wake-ups included.
            Err(_) => Self::bind_shared(at),
        }
    }

    fn bind_steered(at: SocketAddr) -> io::Result<Self> {
        let rx = bind_reuseport(at)?;
        steer_to_first(rx.as_raw_fd())?;
        let tx = bind_reuseport(rx.local_addr()?)?;
        Ok(Self { rx, tx })
    }

    /// The fallback: one non-blocking socket, `tx` a second descriptor of it.
    fn bind_shared(at: SocketAddr) -> io::Result<Self> {
        let rx = UdpSocket::bind(at)?;
        rx.set_nonblocking(true)?;
        let tx = rx.try_clone()?;
        Ok(Self { rx, tx })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// The fallback pair is one socket: what arrives is read on `rx`, what `tx` sends
    /// leaves from the same address.
    #[test]
    fn shared_fallback_receives_and_sends_from_one_address() {
        let pair = UdpPair::bind_shared("127.0.0.1:0".parse().unwrap()).unwrap();
        let local = pair.rx.local_addr().unwrap();
        assert_eq!(pair.tx.local_addr().unwrap(), local);
        let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
        peer.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        peer.send_to(b"in", local).unwrap();
        pair.rx.set_nonblocking(false).unwrap();
        pair.rx
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        let mut b = [0u8; 8];
        assert_eq!(
            pair.rx.recv_from(&mut b).unwrap(),
            (2, peer.local_addr().unwrap())
        );
        pair.tx.send_to(b"out", peer.local_addr().unwrap()).unwrap();
        assert_eq!(peer.recv_from(&mut b).unwrap(), (3, local));
    }

    /// Datagrams from many sources all reach `rx`, none `tx`; what `tx` sends comes
    /// from the pair's address; the port stays exclusive while the pair holds it and is
    /// free again once it is dropped.
    #[test]
    fn rx_receives_everything_tx_sends_from_the_same_address() {
        let pair = UdpPair::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let local = pair.rx.local_addr().unwrap();
        assert_eq!(pair.tx.local_addr().unwrap(), local);
        // Many source ports: a hash would spread them over both sockets.
        let peers: Vec<UdpSocket> = (0..32)
            .map(|_| UdpSocket::bind("127.0.0.1:0").unwrap())
            .collect();
        for (i, p) in peers.iter().enumerate() {
            p.send_to(&[i as u8], local).unwrap();
        }
        pair.rx.set_nonblocking(false).unwrap();
        pair.rx
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        let mut got = Vec::new();
        let mut b = [0u8; 8];
        for _ in 0..peers.len() {
            let (n, _) = pair.rx.recv_from(&mut b).unwrap();
            assert_eq!(n, 1);
            got.push(b[0]);
        }
        got.sort_unstable();
        assert_eq!(got, (0..32).collect::<Vec<u8>>());
        assert_eq!(
            pair.tx.recv_from(&mut b).map_err(|e| e.kind()),
            Err(io::ErrorKind::WouldBlock),
            "nothing is ever delivered to tx"
        );
        pair.tx
            .send_to(b"out", peers[0].local_addr().unwrap())
            .unwrap();
        peers[0]
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        let (n, from) = peers[0].recv_from(&mut b).unwrap();
        assert_eq!((&b[..n], from), (&b"out"[..], local));
        // Exclusive while held: neither a plain bind nor another pair gets the port.
        assert_eq!(
            UdpSocket::bind(local).map_err(|e| e.kind()).err(),
            Some(io::ErrorKind::AddrInUse)
        );
        assert_eq!(
            UdpPair::bind(local).map_err(|e| e.kind()).err(),
            Some(io::ErrorKind::AddrInUse)
        );
        drop(pair);
        UdpSocket::bind(local).expect("free again once the pair is dropped");
    }

    #[test]
    fn a_port_held_by_a_plain_socket_is_refused() {
        let other = UdpSocket::bind("127.0.0.1:0").unwrap();
        let r = UdpPair::bind(other.local_addr().unwrap());
        assert_eq!(
            r.map_err(|e| e.kind()).err(),
            Some(io::ErrorKind::AddrInUse)
        );
    }
}
