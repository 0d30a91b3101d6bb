//! epoll(7) and eventfd(2).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

fn check(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// An epoll instance; level-triggered, each registration carries a `u64` token.
#[derive(Debug)]
pub(crate) struct Epoll {
    fd: OwnedFd,
}

impl Epoll {
    pub(crate) fn new() -> io::Result<Self> {
        // SAFETY: no pointer arguments; the result is checked before it is owned.
        let fd = check(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
        // SAFETY: `fd` is a fresh descriptor that nothing else owns.
        Ok(Self {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    /// Watches `fd` for input.
    pub(crate) fn add(&self, fd: RawFd, token: u64) -> io::Result<()> {
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: token,
        };
        // SAFETY: `ev` is a valid epoll_event for the duration of the call; the kernel
        // copies it.
        check(unsafe { libc::epoll_ctl(self.fd.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) })?;
        Ok(())
    }

    /// Stops watching `fd`.
    pub(crate) fn delete(&self, fd: RawFd) -> io::Result<()> {
        let mut ev = libc::epoll_event { events: 0, u64: 0 };
        // SAFETY: as in `add` (the event is ignored for EPOLL_CTL_DEL but must be valid
        // on old kernels).
        check(unsafe { libc::epoll_ctl(self.fd.as_raw_fd(), libc::EPOLL_CTL_DEL, fd, &mut ev) })?;
        Ok(())
    }

    /// Waits up to `timeout` (`None`: forever); fills `events` and returns how many are
    /// ready. EINTR is reported as zero ready.
    pub(crate) fn wait(&self, events: &mut Events, timeout: Option<Duration>) -> io::Result<usize> {
        let ms = match timeout {
            None => -1,
            // Round up: waking a millisecond early would spin until the deadline.
            Some(d) => {
                let ms = d.as_nanos().div_ceil(1_000_000);
                libc::c_int::try_from(ms).unwrap_or(libc::c_int::MAX)
            }
        };
        let cap = libc::c_int::try_from(events.buf.len()).unwrap_or(libc::c_int::MAX);
        // SAFETY: `events.buf` is a live, exclusively borrowed buffer of at least `cap`
        // entries; the kernel writes at most `cap` of them.
        let r = unsafe { libc::epoll_wait(self.fd.as_raw_fd(), events.buf.as_mut_ptr(), cap, ms) };
        match check(r) {
            Ok(n) => {
                events.ready = n as usize;
                Ok(events.ready)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                events.ready = 0;
                Ok(0)
            }
            Err(e) => Err(e),
        }
    }
}

/// A preallocated buffer of epoll events.
pub(crate) struct Events {
    buf: Vec<libc::epoll_event>,
    ready: usize,
}

impl Events {
    pub(crate) fn with_capacity(n: usize) -> Self {
        Self {
            buf: vec![libc::epoll_event { events: 0, u64: 0 }; n.max(1)],
            ready: 0,
        }
    }

    /// Token of the `i`-th ready event of the last wait.
    pub(crate) fn token(&self, i: usize) -> Option<u64> {
        // Copy out of the (packed on x86_64) struct; no reference to the field is taken.
        self.buf.get(..self.ready)?.get(i).map(|e| e.u64)
    }
}

/// A non-blocking eventfd used as a wake-up signal.
#[derive(Debug)]
pub(crate) struct EventFd {
    fd: OwnedFd,
}

impl EventFd {
    pub(crate) fn new() -> io::Result<Self> {
        // SAFETY: no pointer arguments; the result is checked before it is owned.
        let fd = check(unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) })?;
        // SAFETY: `fd` is a fresh descriptor that nothing else owns.
        Ok(Self {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    pub(crate) fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Signals the eventfd. A full counter (EAGAIN) already means "signalled".
    pub(crate) fn notify(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live local; the result is deliberately ignored
        // (the only failure of a valid eventfd is EAGAIN, which is still a pending wake).
        let _ = unsafe { libc::write(self.fd.as_raw_fd(), (&one as *const u64).cast(), 8) };
    }

    /// Clears the signal.
    pub(crate) fn drain(&self) {
        let mut v: u64 = 0;
        // SAFETY: reads at most 8 bytes into a live local; EAGAIN (not signalled) is fine.
        let _ = unsafe { libc::read(self.fd.as_raw_fd(), (&mut v as *mut u64).cast(), 8) };
    }
}
