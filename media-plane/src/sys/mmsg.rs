//! recvmmsg(2) / sendmmsg(2) over preallocated buffers.
//!
//! [`RecvBatch`] owns `n` fixed slots of [`SLOT`] bytes; the kernel may fill at most
//! `SLOT - TAILROOM` of each, so the transcode always has room to append an SRTP tag in
//! place. [`SendBatch`] sends datagrams straight out of those slots (no copy). The
//! `mmsghdr`/`iovec` arrays are rebuilt before each call from buffers borrowed for the
//! call's duration, so no pointer outlives what it points to.
//!
//! [`SendBatch::send_bufs`] sends from the caller's buffers instead, each datagram
//! optionally from its own local IPv4 address (an `IP_PKTINFO` control message): the
//! data-path bench's load generator uses it to offer many flows through one socket.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::os::fd::RawFd;

use super::addr;

/// Bytes per receive slot.
pub(crate) const SLOT: usize = 2048;
/// Bytes of each slot the kernel never fills (room for the egress SRTP tag).
pub(crate) const TAILROOM: usize = 64;

fn zeroed_hdr() -> libc::mmsghdr {
    // SAFETY: `mmsghdr` is plain old data (integers and raw pointers); all-zero (null
    // pointers, zero lengths) is a valid value.
    unsafe { std::mem::zeroed() }
}

fn empty_iov() -> libc::iovec {
    libc::iovec {
        iov_base: std::ptr::null_mut(),
        iov_len: 0,
    }
}

/// `n` receive slots and their kernel descriptors.
pub(crate) struct RecvBatch {
    bufs: Vec<[u8; SLOT]>,
    addrs: Vec<libc::sockaddr_storage>,
    iovs: Vec<libc::iovec>,
    hdrs: Vec<libc::mmsghdr>,
}

impl RecvBatch {
    pub(crate) fn new(n: usize) -> Self {
        let n = n.max(1);
        Self {
            bufs: vec![[0u8; SLOT]; n],
            addrs: vec![addr::zeroed(); n],
            iovs: vec![empty_iov(); n],
            hdrs: vec![zeroed_hdr(); n],
        }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.bufs.len()
    }

    /// Receives up to `capacity - start` datagrams from `fd` into slots `start..`
    /// without blocking; returns how many arrived (0 when none is waiting).
    pub(crate) fn recv(&mut self, fd: RawFd, start: usize) -> io::Result<usize> {
        let n = self.bufs.len();
        if start >= n {
            return Ok(0);
        }
        for i in start..n {
            self.iovs[i] = libc::iovec {
                iov_base: self.bufs[i].as_mut_ptr().cast(),
                iov_len: SLOT - TAILROOM,
            };
            let h = &mut self.hdrs[i];
            *h = zeroed_hdr();
            h.msg_hdr.msg_name = (&mut self.addrs[i] as *mut libc::sockaddr_storage).cast();
            h.msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as _;
            h.msg_hdr.msg_iov = &mut self.iovs[i];
            h.msg_hdr.msg_iovlen = 1;
        }
        let count = (n - start) as libc::c_uint;
        // SAFETY: `hdrs[start..]` holds `count` initialised headers whose name and iovec
        // pointers point into `addrs`, `iovs` and `bufs`, all owned by `self`, exclusively
        // borrowed for this call and never reallocated; each iovec covers
        // `SLOT - TAILROOM` bytes inside its slot. A null timeout is allowed.
        let r = unsafe {
            libc::recvmmsg(
                fd,
                self.hdrs[start..].as_mut_ptr(),
                count,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if r < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(0),
                _ => Err(e),
            };
        }
        Ok(r as usize)
    }

    /// Datagram `i` of the last [`RecvBatch::recv`]: source, length and the whole slot
    /// (with its tailroom). `None` for a truncated datagram or an unknown address family.
    pub(crate) fn datagram(&mut self, i: usize) -> Option<(SocketAddr, usize, &mut [u8])> {
        let h = self.hdrs.get(i)?;
        if h.msg_hdr.msg_flags & libc::MSG_TRUNC != 0 {
            return None;
        }
        let len = h.msg_len as usize;
        let from = addr::decode(self.addrs.get(i)?)?;
        Some((from, len, &mut self.bufs.get_mut(i)?[..]))
    }

    fn slot(&self, i: usize) -> Option<&[u8; SLOT]> {
        self.bufs.get(i)
    }
}

/// A datagram to send from a receive slot.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Outgoing {
    /// Local port of the sending socket (the backend groups by it).
    pub(crate) port: u16,
    /// Receive slot holding the bytes.
    pub(crate) slot: u32,
    /// Bytes to send from the start of the slot.
    pub(crate) len: u32,
    /// Destination.
    pub(crate) to: SocketAddr,
}

/// What one [`SendBatch::send`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct SendResult {
    pub(crate) sent: usize,
    pub(crate) failed: usize,
}

/// Room for one `IP_PKTINFO` control message, 8-byte aligned like a `cmsghdr`.
type PktinfoSpace = [u64; 4];

/// A datagram from a caller's buffer: bytes, destination, and the local IPv4 address
/// to send it from (`None`: the socket's).
pub(crate) type Datagram<'a> = (&'a [u8], SocketAddr, Option<Ipv4Addr>);

/// Kernel descriptors for sending up to `n` datagrams per sendmmsg.
pub(crate) struct SendBatch {
    addrs: Vec<libc::sockaddr_storage>,
    iovs: Vec<libc::iovec>,
    hdrs: Vec<libc::mmsghdr>,
    ctrl: Vec<PktinfoSpace>,
}

impl SendBatch {
    pub(crate) fn new(n: usize) -> Self {
        let n = n.max(1);
        Self {
            addrs: vec![addr::zeroed(); n],
            iovs: vec![empty_iov(); n],
            hdrs: vec![zeroed_hdr(); n],
            ctrl: vec![[0; 4]; n],
        }
    }

    /// Sends `items` from `fd`, one sendmmsg per `n` items; failures as in
    /// [`SendBatch::send`].
    pub(crate) fn send_bufs(&mut self, fd: RawFd, items: &[Datagram<'_>]) -> SendResult {
        // SAFETY: CMSG_SPACE/CMSG_LEN only compute sizes.
        let (space, len) = unsafe {
            let n = std::mem::size_of::<libc::in_pktinfo>() as u32;
            (libc::CMSG_SPACE(n) as usize, libc::CMSG_LEN(n))
        };
        let mut res = SendResult::default();
        if space > std::mem::size_of::<PktinfoSpace>() {
            res.failed = items.len();
            return res;
        }
        for chunk in items.chunks(self.hdrs.len()) {
            for (k, &(buf, to, src)) in chunk.iter().enumerate() {
                self.iovs[k] = libc::iovec {
                    // sendmsg only reads through this pointer.
                    iov_base: buf.as_ptr().cast_mut().cast(),
                    iov_len: buf.len(),
                };
                let namelen = addr::encode(to, &mut self.addrs[k]);
                let h = &mut self.hdrs[k];
                *h = zeroed_hdr();
                h.msg_hdr.msg_name = (&mut self.addrs[k] as *mut libc::sockaddr_storage).cast();
                h.msg_hdr.msg_namelen = namelen;
                h.msg_hdr.msg_iov = &mut self.iovs[k];
                h.msg_hdr.msg_iovlen = 1;
                let Some(ip) = src else { continue };
                let c = &mut self.ctrl[k];
                *c = [0; 4];
                h.msg_hdr.msg_control = c.as_mut_ptr().cast();
                h.msg_hdr.msg_controllen = space as _;
                let info = libc::in_pktinfo {
                    ipi_ifindex: 0,
                    ipi_spec_dst: libc::in_addr {
                        s_addr: u32::from(ip).to_be(),
                    },
                    ipi_addr: libc::in_addr { s_addr: 0 },
                };
                // SAFETY: `msg_control` points at `space` zeroed, 8-aligned bytes of
                // `self.ctrl[k]` (checked above to be big enough) and `msg_controllen`
                // says so, so CMSG_FIRSTHDR returns a non-null header inside them and
                // CMSG_DATA the `in_pktinfo` room behind it; the write is unaligned-safe.
                unsafe {
                    let cm = libc::CMSG_FIRSTHDR(&h.msg_hdr);
                    (*cm).cmsg_level = libc::IPPROTO_IP;
                    (*cm).cmsg_type = libc::IP_PKTINFO;
                    (*cm).cmsg_len = len as _;
                    libc::CMSG_DATA(cm)
                        .cast::<libc::in_pktinfo>()
                        .write_unaligned(info);
                }
            }
            let r = self.send_built(fd, chunk.len());
            res.sent += r.sent;
            res.failed += r.failed;
        }
        res
    }

    /// sendmmsg of the `count` headers built in `hdrs`, skipping a refused datagram.
    fn send_built(&mut self, fd: RawFd, count: usize) -> SendResult {
        let mut res = SendResult::default();
        let mut off = 0;
        while off < count {
            // SAFETY: `hdrs[off..count]` are initialised headers whose name, iovec and
            // control pointers point into `self.addrs`, `self.iovs`, `self.ctrl`
            // (exclusively borrowed) and buffers the caller borrows for this call (read
            // only); every iovec stays inside its buffer.
            let r = unsafe {
                libc::sendmmsg(
                    fd,
                    self.hdrs[off..count].as_mut_ptr(),
                    (count - off) as libc::c_uint,
                    libc::MSG_DONTWAIT,
                )
            };
            if r > 0 {
                res.sent += r as usize;
                off += r as usize;
            } else if r < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            } else {
                // The first remaining datagram failed; skip it and go on.
                res.failed += 1;
                off += 1;
            }
        }
        res
    }

    /// Sends `items` (bytes in `slots`) from `fd`, one sendmmsg per `n` items. A datagram
    /// the kernel refuses (full buffer, unreachable) is counted as failed and skipped:
    /// UDP media is loss-tolerant, and the worker never blocks on a socket.
    pub(crate) fn send(&mut self, fd: RawFd, slots: &RecvBatch, items: &[Outgoing]) -> SendResult {
        let mut res = SendResult::default();
        for chunk in items.chunks(self.hdrs.len()) {
            let mut count = 0;
            for it in chunk {
                let Some(buf) = slots.slot(it.slot as usize) else {
                    res.failed += 1;
                    continue;
                };
                let len = (it.len as usize).min(SLOT);
                self.iovs[count] = libc::iovec {
                    // sendmsg only reads through this pointer.
                    iov_base: buf.as_ptr().cast_mut().cast(),
                    iov_len: len,
                };
                let namelen = addr::encode(it.to, &mut self.addrs[count]);
                let h = &mut self.hdrs[count];
                *h = zeroed_hdr();
                h.msg_hdr.msg_name = (&mut self.addrs[count] as *mut libc::sockaddr_storage).cast();
                h.msg_hdr.msg_namelen = namelen;
                h.msg_hdr.msg_iov = &mut self.iovs[count];
                h.msg_hdr.msg_iovlen = 1;
                count += 1;
            }
            let r = self.send_built(fd, count);
            res.sent += r.sent;
            res.failed += r.failed;
        }
        res
    }
}
