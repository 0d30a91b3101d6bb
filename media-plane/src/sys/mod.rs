//! The crate's only `unsafe`: thin, audited wrappers over the Linux system calls the
//! backends use (epoll, eventfd, recvmmsg/sendmmsg, the io_uring submission pieces, and
//! the receive/send socket pairs of the per-call ports),
//! and the one CPU-specific kernel the SRTP engine calls ([`cm_x2`]: the AES-CM →
//! AES-CM transcode of a packet with AES-NI and two SHA-NI chains side by side,
//! picked at run time).
//!
//! Rules of this module: every `unsafe` block carries a `// SAFETY:` comment naming the
//! invariant it relies on; raw pointers handed to the kernel point into buffers owned by
//! the wrapper and borrowed (`&mut self`) for the whole call, so they cannot dangle or
//! alias; every return value is checked and mapped to `io::Error`. Nothing outside this
//! module touches a raw file descriptor except through these types.

pub(crate) mod addr;
pub(crate) mod cm_x2;
pub(crate) mod epoll;
pub(crate) mod mmsg;
pub(crate) mod udp_pair;
pub(crate) mod uring;
