//! Host candidates of a lite agent and their `a=candidate` lines.
//!
//! RFC 8445 §2.5: a lite agent gathers host candidates only. For a deployment behind a
//! static 1:1 NAT the operator configures the public address, which is advertised in
//! place of the private one of the same family (same port); the packets still arrive on
//! the private base.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

/// RFC 8445 §5.1.2.2: recommended type preference of host candidates.
const HOST_TYPE_PREFERENCE: u32 = 126;

/// One host candidate: the address written into SDP and the local socket it maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostCandidate {
    /// Foundation (RFC 8445 §5.1.1.3): distinct per base address here.
    pub foundation: u32,
    /// Component ID: always 1 (RTP and RTCP are multiplexed, RFC 8843/5761).
    pub component: u8,
    /// Priority (RFC 8445 §5.1.2.1).
    pub priority: u32,
    /// The address advertised to the browser (the public one behind a NAT).
    pub address: SocketAddr,
    /// The local socket address packets arrive on.
    pub base: SocketAddr,
}

impl HostCandidate {
    /// Writes the SDP attribute (RFC 8839 §5.1), without the trailing CRLF:
    /// `a=candidate:<foundation> 1 udp <priority> <address> <port> typ host`.
    pub fn write_sdp_attribute(&self, out: &mut impl fmt::Write) -> fmt::Result {
        write!(
            out,
            "a=candidate:{} {} udp {} {} {} typ host",
            self.foundation,
            self.component,
            self.priority,
            self.address.ip(),
            self.address.port()
        )
    }
}

/// RFC 8445 §5.1.2.1: priority = 2^24·type-pref + 2^8·local-pref + (256 − component).
pub fn candidate_priority(local_preference: u16, component: u8) -> u32 {
    (HOST_TYPE_PREFERENCE << 24) + (u32::from(local_preference) << 8) + (256 - u32::from(component))
}

/// The host candidates for `bases` (the local sockets, IPv4 and IPv6), in the given order
/// of preference. When `public_ip` is set, each base of the same family is advertised
/// with that IP (same port) instead of its own; bases of the other family are advertised
/// as they are.
pub fn host_candidates(bases: &[SocketAddr], public_ip: Option<IpAddr>) -> Vec<HostCandidate> {
    bases
        .iter()
        .enumerate()
        .map(|(i, &base)| {
            let address = match public_ip {
                Some(ip) if ip.is_ipv4() == base.is_ipv4() => SocketAddr::new(ip, base.port()),
                _ => base,
            };
            // Distinct local preferences per candidate (RFC 8445 §5.1.2.1), first is best.
            let local_pref = u16::try_from(i).map_or(0, |i| u16::MAX.saturating_sub(i));
            HostCandidate {
                foundation: u32::try_from(i + 1).unwrap_or(u32::MAX),
                component: 1,
                priority: candidate_priority(local_pref, 1),
                address,
                base,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(c: &HostCandidate) -> String {
        let mut s = String::new();
        c.write_sdp_attribute(&mut s).expect("String never fails");
        s
    }

    #[test]
    fn candidate_lines_v4_v6_and_nat() {
        let bases: Vec<SocketAddr> = ["10.0.0.5:40000", "[2001:db8::5]:40000"]
            .iter()
            .map(|s| s.parse().expect("literal"))
            .collect();
        let plain = host_candidates(&bases, None);
        assert_eq!(
            line(&plain[0]),
            "a=candidate:1 1 udp 2130706431 10.0.0.5 40000 typ host"
        );
        assert_eq!(
            line(&plain[1]),
            "a=candidate:2 1 udp 2130706175 2001:db8::5 40000 typ host"
        );
        let natted = host_candidates(&bases, Some("203.0.113.7".parse().expect("literal")));
        assert_eq!(
            line(&natted[0]),
            "a=candidate:1 1 udp 2130706431 203.0.113.7 40000 typ host"
        );
        assert_eq!(natted[0].base, bases[0]);
        assert_eq!(natted[1].address, bases[1], "other family advertised as is");
    }

    #[test]
    fn rfc8445_priority_formula() {
        // 126·2^24 + 65535·2^8 + 255
        assert_eq!(candidate_priority(65535, 1), 2_130_706_431);
    }
}
