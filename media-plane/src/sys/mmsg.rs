//! recvmmsg(2) / sendmmsg(2) over preallocated buffers.
//!
//! [`RecvBatch`] owns `n` fixed slots of [`SLOT`] bytes; the kernel may fill at most
//! `SLOT - TAILROOM` of each, so the transcode always has room to append an SRTP tag in
//! place. [`SendBatch`] sends datagrams straight out of those slots (no copy). The
//! `mmsghdr`/`iovec` arrays are rebuilt before each call from buffers borrowed for the
//! call's duration, so no pointer outlives what it points to.

use std::io;
use std::net::SocketAddr;
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

/// Kernel descriptors for sending up to `n` datagrams per sendmmsg.
pub(crate) struct SendBatch {
    addrs: Vec<libc::sockaddr_storage>,
    iovs: Vec<libc::iovec>,
    hdrs: Vec<libc::mmsghdr>,
}

impl SendBatch {
    pub(crate) fn new(n: usize) -> Self {
        let n = n.max(1);
        Self {
            addrs: vec![addr::zeroed(); n],
            iovs: vec![empty_iov(); n],
            hdrs: vec![zeroed_hdr(); n],
        }
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
            let mut off = 0;
            while off < count {
                // SAFETY: `hdrs[off..count]` are initialised headers whose name and iovec
                // pointers point into `self.addrs`, `self.iovs` (exclusively borrowed) and
                // the slots of `slots` (shared-borrowed for this call, read only); every
                // iovec stays inside its slot.
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
        }
        res
    }
}
