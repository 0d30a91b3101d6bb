//! `SocketAddr` ⇄ `sockaddr_storage`, written out by hand (no `unsafe`: the storage is
//! reinterpreted field by field through `libc`'s plain structs).

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// Writes `addr` into `out`; returns the length to hand to the kernel.
pub(crate) fn encode(addr: SocketAddr, out: &mut libc::sockaddr_storage) -> libc::socklen_t {
    match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            write_as(out, &sin);
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            write_as(out, &sin6);
            std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t
        }
    }
}

/// Reads the address the kernel wrote into `st` (`None` for other families).
pub(crate) fn decode(st: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match i32::from(st.ss_family) {
        libc::AF_INET => {
            let sin: libc::sockaddr_in = read_as(st);
            let ip = Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes());
            Some(SocketAddr::V4(SocketAddrV4::new(
                ip,
                u16::from_be(sin.sin_port),
            )))
        }
        libc::AF_INET6 => {
            let sin6: libc::sockaddr_in6 = read_as(st);
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(sin6.sin6_addr.s6_addr),
                u16::from_be(sin6.sin6_port),
                sin6.sin6_flowinfo,
                sin6.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

/// Reads a socket address from the bytes of a `sockaddr_in`/`sockaddr_in6` (as io_uring
/// multishot receive writes them into the buffer).
pub(crate) fn decode_bytes(b: &[u8]) -> Option<SocketAddr> {
    let family = u16::from_ne_bytes([*b.first()?, *b.get(1)?]);
    let port = u16::from_be_bytes([*b.get(2)?, *b.get(3)?]);
    let u32_at = |i: usize| -> Option<u32> {
        let w = b.get(i..i + 4)?;
        Some(u32::from_ne_bytes([w[0], w[1], w[2], w[3]]))
    };
    match i32::from(family) {
        libc::AF_INET => {
            let ip: [u8; 4] = b.get(4..8)?.try_into().ok()?;
            Some(SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(ip), port)))
        }
        libc::AF_INET6 => {
            let ip: [u8; 16] = b.get(8..24)?.try_into().ok()?;
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(ip),
                port,
                u32_at(4)?,
                u32_at(24)?,
            )))
        }
        _ => None,
    }
}

fn write_as<T: Copy>(out: &mut libc::sockaddr_storage, v: &T) {
    const { assert!(std::mem::size_of::<T>() <= std::mem::size_of::<libc::sockaddr_storage>()) };
    // SAFETY: `sockaddr_storage` is at least as large as `T` (checked above at compile
    // time) and suitably aligned for every sockaddr type (that is its purpose); `T` is a
    // plain-old-data libc struct, so a byte copy is a valid value.
    unsafe { std::ptr::write((out as *mut libc::sockaddr_storage).cast::<T>(), *v) }
}

fn read_as<T: Copy>(st: &libc::sockaddr_storage) -> T {
    const { assert!(std::mem::size_of::<T>() <= std::mem::size_of::<libc::sockaddr_storage>()) };
    // SAFETY: as in `write_as`: in bounds, aligned, and every bit pattern is a valid `T`
    // (integers and byte arrays only).
    unsafe { std::ptr::read((st as *const libc::sockaddr_storage).cast::<T>()) }
}

/// An all-zero `sockaddr_storage` (family `AF_UNSPEC`).
pub(crate) fn zeroed() -> libc::sockaddr_storage {
    // SAFETY: `sockaddr_storage` is plain old data; all-zero is a valid value.
    unsafe { std::mem::zeroed() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_v4_and_v6() {
        for a in ["127.0.0.1:5004", "[::1]:40000", "[fe80::1%3]:9"] {
            let a: SocketAddr = a.parse().unwrap();
            let mut st = zeroed();
            let n = encode(a, &mut st);
            assert!(n > 0);
            assert_eq!(decode(&st), Some(a));
            let bytes: [u8; 128] = read_as(&st);
            assert_eq!(decode_bytes(&bytes[..n as usize]), Some(a));
        }
        assert_eq!(decode(&zeroed()), None);
        assert_eq!(decode_bytes(&[2, 0, 1]), None, "short");
    }
}
