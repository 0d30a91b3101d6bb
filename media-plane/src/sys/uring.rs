//! io_uring (via the `io-uring` crate): a provided buffer ring, multishot recvmsg into
//! it, sendmsg straight out of a received buffer, and submit-and-wait with a timeout.
//!
//! Buffer ownership: a buffer id (`bid`) is either in the ring (the kernel may write it
//! at any time, Rust holds no reference to it), or handed out by a receive completion
//! (Rust may borrow it through [`Uring::received`]) until it is given back with
//! [`Uring::recycle`], which the driver does only once the send that reads it has
//! completed. The buffers and the ring live in raw allocations, never behind a Rust
//! reference the kernel could write through. On drop, outstanding requests are
//! cancelled and waited for (bounded); if the kernel still holds any, the memory is
//! leaked rather than freed under it.

use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::io;
use std::net::SocketAddr;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use io_uring::types::{BufRingEntry, Fd, SubmitArgs, Timespec};
use io_uring::{cqueue, opcode, squeue, IoUring};

use super::addr;

/// Bytes per provided buffer.
pub(crate) const SLOT: usize = 2048;
/// Bytes at the end of each buffer the kernel never fills (room for the SRTP tag).
pub(crate) const TAILROOM: usize = 64;
/// The buffer group id of the ring.
const BGID: u16 = 0;
/// Name space reserved in each received buffer: a `sockaddr_in6` holds either family.
const NAME_LEN: usize = std::mem::size_of::<libc::sockaddr_in6>();
/// `io_uring_recvmsg_out`: namelen, controllen, payloadlen, flags (four `u32`).
const OUT_HDR: usize = 16;
/// Where the payload starts in a received buffer.
const PAYLOAD_AT: usize = OUT_HDR + NAME_LEN;

/// One completion, copied out of the completion queue.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Completion {
    pub(crate) user_data: u64,
    pub(crate) result: i32,
    pub(crate) flags: u32,
}

impl Completion {
    /// The provided buffer this completion consumed, if any.
    pub(crate) fn buffer(&self) -> Option<u16> {
        cqueue::buffer_select(self.flags)
    }

    /// True while a multishot request stays armed.
    pub(crate) fn more(&self) -> bool {
        cqueue::more(self.flags)
    }
}

/// The kernel-side state of one in-flight send (indexed by buffer id).
struct SendSlot {
    hdr: libc::msghdr,
    iov: libc::iovec,
    addr: libc::sockaddr_storage,
}

/// A ring, its provided buffers and the send descriptors.
pub(crate) struct Uring {
    ring: IoUring,
    nbufs: u16,
    /// Page-aligned array of `nbufs` ring entries (shared with the kernel).
    entries: *mut BufRingEntry,
    entries_layout: Layout,
    /// `nbufs * SLOT` bytes of buffers.
    bufs: *mut u8,
    bufs_layout: Layout,
    /// Our copy of the ring tail; published to the kernel before each submit.
    tail: u16,
    /// The msghdr template of every multishot receive (only its lengths matter).
    recv_hdr: Box<libc::msghdr>,
    sends: Box<[SendSlot]>,
    /// Requests the kernel may still be working on (multishot receives, polls, sends).
    in_flight: usize,
}

fn layout(size: usize, align: usize) -> io::Result<Layout> {
    Layout::from_size_align(size, align).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

fn zeroed_msghdr() -> libc::msghdr {
    // SAFETY: `msghdr` is plain old data; all-zero (null pointers, zero lengths) is valid.
    unsafe { std::mem::zeroed() }
}

impl Uring {
    /// A ring with `sq` submission entries and `nbufs` (a power of two, at most 32768)
    /// provided buffers, all handed to the kernel.
    pub(crate) fn new(sq: u32, nbufs: u16) -> io::Result<Self> {
        if !nbufs.is_power_of_two() || nbufs > 32768 {
            return Err(io::ErrorKind::InvalidInput.into());
        }
        // One thread creates, submits and reaps (single issuer), so completion work can
        // wait until that thread enters the ring (defer taskrun, Linux 6.1) instead of
        // interrupting it, or the process's other threads, with task-work signals.
        let ring = IoUring::builder()
            // Room for a completion per buffer twice over (receive, then its send).
            .setup_cqsize((u32::from(nbufs) * 2).max(sq.saturating_mul(2)) + 64)
            .setup_submit_all()
            .setup_single_issuer()
            .setup_defer_taskrun()
            .build(sq)?;
        if !ring.params().is_feature_ext_arg() {
            return Err(io::ErrorKind::Unsupported.into());
        }
        let n = usize::from(nbufs);
        let entries_layout = layout(n * std::mem::size_of::<BufRingEntry>(), 4096)?;
        let bufs_layout = layout(n * SLOT, 64)?;
        // SAFETY: both layouts have a non-zero size (n ≥ 1); the results are checked.
        let entries = unsafe { alloc_zeroed(entries_layout) }.cast::<BufRingEntry>();
        // SAFETY: as above.
        let bufs = unsafe { alloc_zeroed(bufs_layout) };
        if entries.is_null() || bufs.is_null() {
            // SAFETY: each non-null pointer came from `alloc_zeroed` with its layout.
            unsafe {
                if !entries.is_null() {
                    dealloc(entries.cast(), entries_layout);
                }
                if !bufs.is_null() {
                    dealloc(bufs, bufs_layout);
                }
            }
            return Err(io::ErrorKind::OutOfMemory.into());
        }
        let mut recv_hdr = Box::new(zeroed_msghdr());
        recv_hdr.msg_namelen = NAME_LEN as libc::socklen_t;
        let sends = (0..n)
            .map(|_| SendSlot {
                hdr: zeroed_msghdr(),
                iov: libc::iovec {
                    iov_base: std::ptr::null_mut(),
                    iov_len: 0,
                },
                addr: addr::zeroed(),
            })
            .collect();
        let mut u = Self {
            ring,
            nbufs,
            entries,
            entries_layout,
            bufs,
            bufs_layout,
            tail: 0,
            recv_hdr,
            sends,
            in_flight: 0,
        };
        // SAFETY: `entries` is a page-aligned, zeroed array of `nbufs` entries that lives
        // until `drop`, which unregisters it (or leaks it) before freeing.
        unsafe {
            u.ring
                .submitter()
                .register_buf_ring_with_flags(entries as u64, nbufs, BGID, 0)?;
        }
        for bid in 0..nbufs {
            u.recycle(bid);
        }
        u.publish();
        Ok(u)
    }

    /// Gives buffer `bid` back to the kernel (visible at the next submit).
    pub(crate) fn recycle(&mut self, bid: u16) {
        if bid >= self.nbufs {
            return;
        }
        let mask = self.nbufs - 1;
        let idx = usize::from(self.tail & mask);
        // SAFETY: `idx < nbufs`, inside the entry array; the kernel reads entries only
        // between its head and the published tail, and this one is past the tail. The
        // tail field aliases entry 0's `resv`, which `set_addr/len/bid` do not touch.
        let e = unsafe { &mut *self.entries.add(idx) };
        // SAFETY: `bid < nbufs`, so the offset stays inside the buffer allocation.
        let addr = unsafe { self.bufs.add(usize::from(bid) * SLOT) };
        e.set_addr(addr as u64);
        e.set_len((SLOT - TAILROOM) as u32);
        e.set_bid(bid);
        self.tail = self.tail.wrapping_add(1);
    }

    fn publish(&self) {
        // SAFETY: `entries` is the ring's base; `tail` gives the address of its 16-bit
        // tail, which the kernel reads atomically; an `AtomicU16` has the layout of a
        // `u16` and the field is 2-byte aligned.
        let tail = unsafe { &*BufRingEntry::tail(self.entries).cast::<AtomicU16>() };
        tail.store(self.tail, Ordering::Release);
    }

    fn push(&mut self, e: &squeue::Entry) -> io::Result<()> {
        // SAFETY (for both pushes): every entry built by this type points only at memory
        // this type owns and keeps valid until the request's completion (see the
        // module doc): `recv_hdr`, `sends[bid]`, the buffers.
        if unsafe { self.ring.submission().push(e) }.is_err() {
            self.ring.submit()?;
            // SAFETY: as above.
            unsafe { self.ring.submission().push(e) }
                .map_err(|_| io::Error::from(io::ErrorKind::WouldBlock))?;
        }
        Ok(())
    }

    /// Arms a multishot receive on `fd`; its completions carry `user_data`.
    pub(crate) fn arm_recv(&mut self, fd: RawFd, user_data: u64) -> io::Result<()> {
        let e = opcode::RecvMsgMulti::new(Fd(fd), &*self.recv_hdr, BGID)
            .build()
            .user_data(user_data);
        self.push(&e)?;
        self.in_flight += 1;
        Ok(())
    }

    /// Arms a multishot poll for input on `fd` (the wake-up eventfd).
    pub(crate) fn arm_poll(&mut self, fd: RawFd, user_data: u64) -> io::Result<()> {
        let e = opcode::PollAdd::new(Fd(fd), libc::POLLIN as u32)
            .multi(true)
            .build()
            .user_data(user_data);
        self.push(&e)?;
        self.in_flight += 1;
        Ok(())
    }

    /// Asks the kernel to cancel the request carrying `target`.
    pub(crate) fn cancel(&mut self, target: u64, user_data: u64) -> io::Result<()> {
        let e = opcode::AsyncCancel::new(target)
            .build()
            .user_data(user_data);
        self.push(&e)
    }

    /// A multishot request (receive or poll) ended: it no longer counts as in flight.
    pub(crate) fn ended(&mut self) {
        self.in_flight = self.in_flight.saturating_sub(1);
    }

    /// Sends `len` bytes at `offset` of buffer `bid` from `fd` to `to`. The buffer stays
    /// out of the ring until the send's completion.
    pub(crate) fn send_from(
        &mut self,
        fd: RawFd,
        bid: u16,
        offset: usize,
        len: usize,
        to: SocketAddr,
        user_data: u64,
    ) -> io::Result<()> {
        if bid >= self.nbufs || offset.saturating_add(len) > SLOT {
            return Err(io::ErrorKind::InvalidInput.into());
        }
        let s = &mut self.sends[usize::from(bid)];
        // SAFETY: `bid < nbufs` and `offset + len ≤ SLOT`: inside buffer `bid`, which is
        // out of the ring (handed out by a receive completion) until this send completes.
        let base = unsafe { self.bufs.add(usize::from(bid) * SLOT + offset) };
        s.iov = libc::iovec {
            iov_base: base.cast(),
            iov_len: len,
        };
        let namelen = addr::encode(to, &mut s.addr);
        s.hdr = zeroed_msghdr();
        s.hdr.msg_name = (&mut s.addr as *mut libc::sockaddr_storage).cast();
        s.hdr.msg_namelen = namelen;
        s.hdr.msg_iov = &mut s.iov;
        s.hdr.msg_iovlen = 1;
        let e = opcode::SendMsg::new(Fd(fd), &s.hdr)
            .build()
            .user_data(user_data);
        self.push(&e)?;
        self.in_flight += 1;
        Ok(())
    }

    /// A send completed: its buffer goes back to the ring.
    pub(crate) fn sent(&mut self, bid: u16) {
        self.in_flight = self.in_flight.saturating_sub(1);
        self.recycle(bid);
    }

    /// Publishes recycled buffers, submits everything queued, and waits until `want`
    /// completions (at least one) are in the queue, or `timeout` (`None`: no limit). A
    /// timeout or a signal is not an error.
    ///
    /// A caller that has just queued `k` sends passes `k + 1`: loopback and most UDP
    /// sends complete inline during the submit, so waiting for one completion would
    /// return at once with only those, and the next turn would enter the ring again
    /// just to wait.
    pub(crate) fn submit_and_wait(
        &mut self,
        want: usize,
        timeout: Option<Duration>,
    ) -> io::Result<()> {
        self.publish();
        let want = want.max(1);
        let r = match timeout {
            Some(t) => {
                let ts = Timespec::from(t);
                let args = SubmitArgs::new().timespec(&ts);
                self.ring.submitter().submit_with_args(want, &args)
            }
            None => self.ring.submitter().submit_and_wait(want),
        };
        match r {
            Ok(_) => Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::ETIME) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Publishes recycled buffers and submits everything queued, without waiting.
    pub(crate) fn submit(&mut self) -> io::Result<()> {
        self.publish();
        match self.ring.submit() {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Moves up to `out`'s spare capacity of completions into `out` (no allocation).
    pub(crate) fn completions(&mut self, out: &mut Vec<Completion>) {
        let room = out.capacity() - out.len();
        for c in self.ring.completion().take(room) {
            out.push(Completion {
                user_data: c.user_data(),
                result: c.result(),
                flags: c.flags(),
            });
        }
    }

    /// The datagram a receive completion put in buffer `bid` (`result` bytes written):
    /// its source, its length, and the buffer from the payload's start to the slot's end
    /// (payload + tailroom). `None` if truncated or unparseable.
    pub(crate) fn received(
        &mut self,
        bid: u16,
        result: i32,
    ) -> Option<(SocketAddr, usize, usize, &mut [u8])> {
        if bid >= self.nbufs {
            return None;
        }
        let written = usize::try_from(result).ok()?.min(SLOT);
        // SAFETY: buffer `bid` was handed out by the completion the caller got it from, so
        // the kernel no longer writes it; the slice stays inside the allocation and its
        // lifetime is tied to `&mut self`, so no other borrow of it can exist.
        let buf =
            unsafe { std::slice::from_raw_parts_mut(self.bufs.add(usize::from(bid) * SLOT), SLOT) };
        let word = |i: usize| -> Option<u32> {
            let b = buf.get(i * 4..i * 4 + 4)?;
            Some(u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
        };
        let (namelen, payloadlen, flags) = (word(0)?, word(2)?, word(3)?);
        if flags & (libc::MSG_TRUNC as u32) != 0 || (namelen as usize) > NAME_LEN {
            return None;
        }
        let len = payloadlen as usize;
        if PAYLOAD_AT + len > written {
            return None;
        }
        let from = addr::decode_bytes(buf.get(OUT_HDR..OUT_HDR + namelen as usize)?)?;
        Some((from, PAYLOAD_AT, len, &mut buf[PAYLOAD_AT..]))
    }

    /// Cancels `targets` and waits (at most `within`) until nothing is in flight.
    pub(crate) fn shutdown(&mut self, targets: &[u64], within: Duration) {
        for &t in targets {
            let _ = self.cancel(t, u64::MAX - 1);
        }
        let deadline = std::time::Instant::now() + within;
        let mut out = Vec::with_capacity(256);
        while self.in_flight > 0 {
            let now = std::time::Instant::now();
            if now >= deadline || self.submit_and_wait(1, Some(deadline - now)).is_err() {
                break;
            }
            out.clear();
            self.completions(&mut out);
            for c in &out {
                if c.user_data == u64::MAX - 1 {
                    continue;
                }
                if !c.more() {
                    self.in_flight = self.in_flight.saturating_sub(1);
                }
            }
        }
    }
}

impl Drop for Uring {
    fn drop(&mut self) {
        if self.in_flight > 0 {
            // The kernel may still write these buffers: leak them (and the ring entries)
            // rather than free memory under it. Only at worker exit, after a bounded wait.
            return;
        }
        let _ = self.ring.submitter().unregister_buf_ring(BGID);
        // SAFETY: nothing is in flight and the ring is unregistered, so the kernel holds
        // no pointer into either allocation; each came from `alloc_zeroed` with its layout.
        unsafe {
            dealloc(self.entries.cast(), self.entries_layout);
            dealloc(self.bufs, self.bufs_layout);
        }
    }
}

/// True when `io_uring_setup` works here with what [`Uring`] needs: the extended wait
/// argument, a provided buffer ring, multishot recvmsg and deferred task work (Linux 6.1).
pub(crate) fn probe() -> bool {
    let Ok(release) = std::fs::read_to_string("/proc/sys/kernel/osrelease") else {
        return false;
    };
    let mut parts = release.trim().split(['.', '-']);
    let major: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    if major < 6 {
        return false;
    }
    // Setting up a small ring and its buffer ring is the real test (seccomp may refuse
    // io_uring_setup with EPERM even on a new kernel). It runs on a throw-away thread: a
    // thread that ever had a ring gets io_uring task work when the ring is torn down,
    // which interrupts its blocking system calls with EINTR, and the caller is usually
    // a control-plane thread that does not expect that.
    std::thread::Builder::new()
        .name("io_uring-probe".into())
        .spawn(|| Uring::new(8, 8).is_ok())
        .ok()
        .and_then(|t| t.join().ok())
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;
    use std::os::fd::AsRawFd;

    /// One datagram in through a multishot receive, out again from the same buffer, and
    /// a shutdown that leaves nothing in flight (so the buffers are freed, not leaked).
    #[test]
    fn receive_send_from_same_buffer_and_clean_shutdown() {
        if !probe() {
            eprintln!("note: io_uring unavailable on this host: test skipped");
            return;
        }
        let gw = UdpSocket::bind("127.0.0.1:0").unwrap();
        let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
        peer.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        let mut u = Uring::new(16, 16).unwrap();
        u.arm_recv(gw.as_raw_fd(), 1).unwrap();
        peer.send_to(b"ping", gw.local_addr().unwrap()).unwrap();
        let mut out = Vec::with_capacity(16);
        let deadline = std::time::Instant::now() + Duration::from_secs(3);
        while out.is_empty() && std::time::Instant::now() < deadline {
            u.submit_and_wait(1, Some(Duration::from_millis(100)))
                .unwrap();
            u.completions(&mut out);
        }
        let c = out[0];
        assert!(c.more(), "multishot stays armed");
        let bid = c.buffer().unwrap();
        let (from, off, len, buf) = u.received(bid, c.result).unwrap();
        assert_eq!((from, len), (peer.local_addr().unwrap(), 4));
        assert!(buf.len() >= len + TAILROOM);
        buf[..4].copy_from_slice(b"pong");
        u.send_from(gw.as_raw_fd(), bid, off, len, from, 2).unwrap();
        u.submit_and_wait(1, Some(Duration::from_millis(100)))
            .unwrap();
        let mut b = [0u8; 16];
        let (n, _) = peer.recv_from(&mut b).unwrap();
        assert_eq!(&b[..n], b"pong");
        out.clear();
        u.completions(&mut out);
        for c in &out {
            if c.user_data == 2 {
                u.sent(bid);
            }
        }
        u.shutdown(&[1], Duration::from_secs(1));
        assert_eq!(u.in_flight, 0);
    }
}
