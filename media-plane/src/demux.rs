//! Demultiplexing a shared UDP port (RFC 7983), sans-IO.
//!
//! ```text
//!  datagram ─► classify(first byte) ─┬─ STUN      ─► call whose agent owns USERNAME's local ufrag
//!                                    ├─ DTLS      ─► call latched on the 5-tuple (slow path)
//!                                    ├─ RTP/RTCP  ─► call latched on the 5-tuple (fast path)
//!                                    └─ else      ─► counted and dropped
//! ```
//!
//! RFC 7983 §7 first-byte ranges:
//!
//! | first byte | protocol |
//! | --- | --- |
//! | 0-3 | STUN |
//! | 16-19 | ZRTP |
//! | 20-63 | DTLS |
//! | 64-79 | TURN channel |
//! | 128-191 | RTP / RTCP (second byte 192-223 is RTCP, RFC 5761 §4) |
//!
//! A 5-tuple is latched only after the call's ICE agent authenticated a check from it
//! (`IceEvent::Connected` / `IceEvent::Nominated`), so unauthenticated senders never
//! reach a call's DTLS or SRTP state.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::SocketAddr;

use crate::stun::{attr_type, AttributeIter, Class, Header, Method, HEADER_LEN};

/// What a datagram is, by its first byte (RFC 7983 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PacketKind {
    /// STUN (0-3).
    Stun,
    /// ZRTP (16-19): not supported by rtcgate.
    Zrtp,
    /// DTLS (20-63).
    Dtls,
    /// TURN ChannelData (64-79): not used by an ICE-lite host-only endpoint.
    TurnChannel,
    /// RTP (128-191, second byte outside 192-223).
    Rtp,
    /// RTCP (128-191, second byte 192-223; RFC 5761 §4).
    Rtcp,
    /// Empty, or a first byte no protocol claims.
    Unknown,
}

/// Classifies a datagram by its first byte (RFC 7983 §7), and RTP from RTCP by the
/// second byte (RFC 5761 §4: RTCP packet types 192-223 land where RTP's marker bit plus
/// payload types 64-95 would, which is why those payload types are not used).
pub fn classify(packet: &[u8]) -> PacketKind {
    match packet.first() {
        Some(0..=3) => PacketKind::Stun,
        Some(16..=19) => PacketKind::Zrtp,
        Some(20..=63) => PacketKind::Dtls,
        Some(64..=79) => PacketKind::TurnChannel,
        Some(128..=191) => match packet.get(1) {
            Some(192..=223) => PacketKind::Rtcp,
            Some(_) => PacketKind::Rtp,
            None => PacketKind::Unknown,
        },
        _ => PacketKind::Unknown,
    }
}

/// The local ufrag of a STUN Binding request: the part of USERNAME before the first ':'
/// (RFC 8445 §7.2.2: USERNAME is `receiver-ufrag:sender-ufrag`). Walks the attributes
/// without allocating or checking integrity — the agent does that. `None` if the datagram
/// is not a well-framed Binding request with a UTF-8 USERNAME.
pub fn stun_local_ufrag(packet: &[u8]) -> Option<&str> {
    let header = Header::parse(packet).ok()?;
    if header.class != Class::Request
        || header.method != Method::BINDING
        || packet.len() != HEADER_LEN + usize::from(header.length)
    {
        return None;
    }
    let mut attrs = AttributeIter::new(packet);
    while let Some(Ok(attr)) = attrs.next_checked() {
        match attr.attr_type {
            attr_type::USERNAME => {
                let value = std::str::from_utf8(attr.value).ok()?;
                return value.split_once(':').map(|(local, _)| local);
            }
            // RFC 8489 §14.5: nothing after MESSAGE-INTEGRITY counts.
            attr_type::MESSAGE_INTEGRITY => return None,
            _ => {}
        }
    }
    None
}

/// Where a datagram goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route<K> {
    /// To the call's ICE agent (`IceLiteAgent::handle_stun`).
    Ice(K),
    /// To the call's DTLS handshake (slow path).
    Dtls(K),
    /// To the call's SRTP receive context.
    Srtp(K),
    /// To the call's SRTCP receive context.
    Srtcp(K),
    /// Nowhere: count it under this reason and drop it.
    Drop(DropReason),
}

/// Why [`DemuxTable::route`] dropped a datagram (a metric label each).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DropReason {
    /// STUN whose local ufrag no call owns, from an unlatched address.
    UnknownUfrag,
    /// STUN with no usable USERNAME, from an unlatched address.
    NoUsername,
    /// DTLS or RTP/RTCP from a 5-tuple no authenticated check has latched.
    NotLatched,
    /// ZRTP (not supported).
    Zrtp,
    /// TURN ChannelData (not used).
    TurnChannel,
    /// Empty or unclassifiable.
    Unknown,
}

impl DropReason {
    /// A stable metric label.
    pub fn label(self) -> &'static str {
        match self {
            DropReason::UnknownUfrag => "unknown_ufrag",
            DropReason::NoUsername => "no_username",
            DropReason::NotLatched => "not_latched",
            DropReason::Zrtp => "zrtp",
            DropReason::TurnChannel => "turn_channel",
            DropReason::Unknown => "unknown",
        }
    }
}

/// The lookup structure of one shared port, owned by the worker thread that owns the
/// calls. `K` is the worker's handle for a call (a slot index, say).
///
/// Lookups never allocate: ufrags are looked up by `&str`, 5-tuples by value.
#[derive(Debug, Clone)]
pub struct DemuxTable<K> {
    by_ufrag: HashMap<Box<str>, K>,
    by_tuple: HashMap<(SocketAddr, SocketAddr), K>,
}

impl<K> Default for DemuxTable<K> {
    fn default() -> Self {
        DemuxTable {
            by_ufrag: HashMap::new(),
            by_tuple: HashMap::new(),
        }
    }
}

impl<K: Copy + PartialEq> DemuxTable<K> {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Routes STUN with this local ufrag to `call` (at call set-up and after
    /// `IceEvent::Restarted`). Returns the call that owned it before, if any.
    pub fn register_ufrag(&mut self, ufrag: &str, call: K) -> Option<K> {
        self.by_ufrag.insert(ufrag.into(), call)
    }

    /// Stops routing this ufrag.
    pub fn unregister_ufrag(&mut self, ufrag: &str) -> Option<K> {
        self.by_ufrag.remove(ufrag)
    }

    /// Latches the 5-tuple (`local`, `remote`) to `call`. Call it only for an address the
    /// call's agent authenticated (`IceEvent::Connected` / `IceEvent::Nominated`).
    pub fn latch(&mut self, local: SocketAddr, remote: SocketAddr, call: K) -> Option<K> {
        self.by_tuple.insert((local, remote), call)
    }

    /// Forgets one 5-tuple (consent lost, or the browser nominated another pair).
    pub fn unlatch(&mut self, local: SocketAddr, remote: SocketAddr) -> Option<K> {
        self.by_tuple.remove(&(local, remote))
    }

    /// Forgets every ufrag and 5-tuple of `call` (call ended).
    pub fn remove_call(&mut self, call: K) {
        self.by_ufrag.retain(|_, k| *k != call);
        self.by_tuple.retain(|_, k| *k != call);
    }

    /// Number of latched 5-tuples.
    pub fn latched_len(&self) -> usize {
        self.by_tuple.len()
    }

    /// Where a datagram from `remote` to our `local` goes.
    ///
    /// STUN goes to the call owning the USERNAME's local ufrag; failing that, to the call
    /// latched on the 5-tuple, whose agent then counts and answers it (e.g. a check with
    /// pre-restart credentials gets its 401 there). DTLS and RTP/RTCP go only to a
    /// latched 5-tuple.
    pub fn route(&self, local: SocketAddr, remote: SocketAddr, packet: &[u8]) -> Route<K> {
        let latched = || self.by_tuple.get(&(local, remote)).copied();
        match classify(packet) {
            PacketKind::Stun => {
                let ufrag = stun_local_ufrag(packet);
                if let Some(call) = ufrag.and_then(|u| self.by_ufrag.get(u)) {
                    return Route::Ice(*call);
                }
                match (latched(), ufrag) {
                    (Some(call), _) => Route::Ice(call),
                    (None, Some(_)) => Route::Drop(DropReason::UnknownUfrag),
                    (None, None) => Route::Drop(DropReason::NoUsername),
                }
            }
            PacketKind::Dtls => latched().map_or(Route::Drop(DropReason::NotLatched), Route::Dtls),
            PacketKind::Rtp => latched().map_or(Route::Drop(DropReason::NotLatched), Route::Srtp),
            PacketKind::Rtcp => latched().map_or(Route::Drop(DropReason::NotLatched), Route::Srtcp),
            PacketKind::Zrtp => Route::Drop(DropReason::Zrtp),
            PacketKind::TurnChannel => Route::Drop(DropReason::TurnChannel),
            PacketKind::Unknown => Route::Drop(DropReason::Unknown),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stun::MessageWriter;

    /// RFC 7983 §7 ranges, every first byte.
    #[test]
    fn rfc7983_first_byte_table() {
        for b in 0..=255u8 {
            let expected = match b {
                0..=3 => PacketKind::Stun,
                16..=19 => PacketKind::Zrtp,
                20..=63 => PacketKind::Dtls,
                64..=79 => PacketKind::TurnChannel,
                128..=191 => PacketKind::Rtp,
                _ => PacketKind::Unknown,
            };
            assert_eq!(classify(&[b, 0, 0, 0]), expected, "first byte {b}");
        }
        assert_eq!(classify(&[]), PacketKind::Unknown);
    }

    /// RFC 5761 §4: second byte 192-223 is RTCP; RTP with and without the marker bit.
    #[test]
    fn rfc5761_rtp_rtcp_table() {
        let table: [(u8, PacketKind); 10] = [
            (0, PacketKind::Rtp),          // PCMU
            (8, PacketKind::Rtp),          // PCMA
            (111, PacketKind::Rtp),        // dynamic (Opus)
            (0x80 | 111, PacketKind::Rtp), // Opus with marker bit
            (191, PacketKind::Rtp),
            (192, PacketKind::Rtcp), // FIR (RFC 2032)
            (200, PacketKind::Rtcp), // SR
            (201, PacketKind::Rtcp), // RR
            (206, PacketKind::Rtcp), // PSFB
            (223, PacketKind::Rtcp),
        ];
        for (second, kind) in table {
            assert_eq!(
                classify(&[0x80, second, 0, 1]),
                kind,
                "second byte {second}"
            );
        }
        assert_eq!(classify(&[0x80, 224]), PacketKind::Rtp);
        assert_eq!(
            classify(&[0x80]),
            PacketKind::Unknown,
            "RTP needs two bytes"
        );
    }

    fn binding_request(username: Option<&str>) -> Vec<u8> {
        let mut buf = vec![0u8; 256];
        let mut w = MessageWriter::new(&mut buf, Class::Request, Method::BINDING, [1; 12])
            .expect("256 > 20");
        w.software("x").expect("fits");
        if let Some(u) = username {
            w.username(u).expect("fits");
        }
        w.message_integrity(b"k")
            .and_then(|w| w.fingerprint())
            .expect("fits");
        let n = w.finish();
        buf.truncate(n);
        buf
    }

    #[test]
    fn local_ufrag_extraction() {
        assert_eq!(
            stun_local_ufrag(&binding_request(Some("abcd:wxyz"))),
            Some("abcd")
        );
        assert_eq!(stun_local_ufrag(&binding_request(Some("abcd"))), None);
        assert_eq!(stun_local_ufrag(&binding_request(None)), None);
        let ok = binding_request(Some("abcd:wxyz"));
        for cut in 0..ok.len() {
            assert_eq!(stun_local_ufrag(&ok[..cut]), None, "cut {cut}");
        }
        let mut response = ok.clone();
        response[1] = 0x01;
        response[0] = 0x01;
        assert_eq!(stun_local_ufrag(&response), None);
    }

    #[test]
    fn routing_table() {
        let local: SocketAddr = "10.0.0.5:3478".parse().expect("literal");
        let browser: SocketAddr = "198.51.100.7:5000".parse().expect("literal");
        let stranger: SocketAddr = "203.0.113.66:5000".parse().expect("literal");
        let mut t: DemuxTable<u32> = DemuxTable::new();
        t.register_ufrag("abcd", 7);
        let check = binding_request(Some("abcd:wxyz"));
        let other = binding_request(Some("zzzz:wxyz"));
        let dtls = [22u8, 0xfe, 0xfd, 0, 0];
        let rtp = [0x80u8, 0, 0, 1];
        let rtcp = [0x80u8, 200, 0, 1];

        // Before latching: STUN by ufrag only; DTLS and SRTP from nobody.
        assert_eq!(t.route(local, browser, &check), Route::Ice(7));
        assert_eq!(t.route(local, stranger, &check), Route::Ice(7));
        assert_eq!(
            t.route(local, browser, &other),
            Route::Drop(DropReason::UnknownUfrag)
        );
        assert_eq!(
            t.route(local, browser, &binding_request(None)),
            Route::Drop(DropReason::NoUsername)
        );
        assert_eq!(
            t.route(local, browser, &dtls),
            Route::Drop(DropReason::NotLatched)
        );
        assert_eq!(
            t.route(local, browser, &rtp),
            Route::Drop(DropReason::NotLatched)
        );

        // After the agent authenticated the browser.
        t.latch(local, browser, 7);
        assert_eq!(t.route(local, browser, &dtls), Route::Dtls(7));
        assert_eq!(t.route(local, browser, &rtp), Route::Srtp(7));
        assert_eq!(t.route(local, browser, &rtcp), Route::Srtcp(7));
        assert_eq!(
            t.route(local, browser, &other),
            Route::Ice(7),
            "agent answers 401"
        );
        assert_eq!(
            t.route(local, stranger, &rtp),
            Route::Drop(DropReason::NotLatched)
        );
        assert_eq!(
            t.route(local, browser, &[17, 0]),
            Route::Drop(DropReason::Zrtp)
        );
        assert_eq!(
            t.route(local, browser, &[64, 0]),
            Route::Drop(DropReason::TurnChannel)
        );
        assert_eq!(
            t.route(local, browser, &[]),
            Route::Drop(DropReason::Unknown)
        );

        t.remove_call(7);
        assert_eq!(t.latched_len(), 0);
        assert_eq!(
            t.route(local, browser, &check),
            Route::Drop(DropReason::UnknownUfrag)
        );
        assert_eq!(
            t.route(local, browser, &rtp),
            Route::Drop(DropReason::NotLatched)
        );
    }

    /// Two calls on one shared port, the way a worker drives them: STUN routed by local
    /// ufrag, the 5-tuple latched only on an authenticated check, re-registration after
    /// an ICE restart.
    #[test]
    fn shared_port_worker_routes_and_latches() {
        use crate::ice::{IceEvent, IceLiteAgent, LocalCredentials, RemoteCredentials};
        use std::time::Instant;

        fn creds(seed: u8) -> LocalCredentials {
            LocalCredentials::from_random(&[seed; 32])
        }
        fn remote(ufrag: &str) -> Option<RemoteCredentials> {
            RemoteCredentials::new(ufrag, "browserpassword0123456789").ok()
        }
        fn check(username: &str, key: &str) -> Vec<u8> {
            let mut buf = vec![0u8; 256];
            let mut w = MessageWriter::new(&mut buf, Class::Request, Method::BINDING, [2; 12])
                .expect("256 > 20");
            w.username(username)
                .and_then(|w| w.priority(1))
                .and_then(|w| w.ice_controlling(1))
                .and_then(|w| w.use_candidate())
                .and_then(|w| w.message_integrity(key.as_bytes()))
                .and_then(|w| w.fingerprint())
                .expect("fits");
            let n = w.finish();
            buf.truncate(n);
            buf
        }
        fn check_for(agent: &IceLiteAgent, remote_ufrag: &str) -> Vec<u8> {
            let c = agent.local_credentials();
            check(&format!("{}:{remote_ufrag}", c.ufrag()), c.pwd())
        }

        let t0 = Instant::now();
        let port: SocketAddr = "10.0.0.5:3478".parse().expect("literal");
        let browsers: [SocketAddr; 2] = [
            "198.51.100.1:1000".parse().expect("literal"),
            "198.51.100.2:2000".parse().expect("literal"),
        ];
        let attacker: SocketAddr = "203.0.113.66:666".parse().expect("literal");
        let mut agents = [
            IceLiteAgent::new(t0, creds(10), remote("brws")),
            IceLiteAgent::new(t0, creds(20), remote("brws")),
        ];
        let mut table: DemuxTable<usize> = DemuxTable::new();
        for (i, a) in agents.iter().enumerate() {
            table.register_ufrag(a.local_credentials().ufrag().as_str(), i);
        }
        let dtls = [22u8, 0xfe, 0xfd, 0, 0];

        // The worker loop for one datagram: route, handle, drain events into the table.
        let deliver = |agents: &mut [IceLiteAgent; 2],
                       table: &mut DemuxTable<usize>,
                       src: SocketAddr,
                       pkt: &[u8]| {
            let route = table.route(port, src, pkt);
            if let Route::Ice(i) = route {
                let mut out = [0u8; crate::ice::MAX_REPLY_LEN];
                let _ = agents[i].handle_stun(t0, src, port, pkt, &mut out);
                while let Some(ev) = agents[i].poll_event() {
                    match ev {
                        IceEvent::Connected { local, remote }
                        | IceEvent::Nominated { local, remote, .. } => {
                            table.latch(local, remote, i);
                        }
                        IceEvent::Restarted {
                            previous_local_ufrag,
                            local_ufrag,
                        } => {
                            table.unregister_ufrag(previous_local_ufrag.as_str());
                            table.register_ufrag(local_ufrag.as_str(), i);
                        }
                        _ => {}
                    }
                }
            }
            route
        };

        // A forged check for call 0 (wrong password) reaches the agent but latches nothing.
        let ufrag0 = agents[0].local_credentials().ufrag();
        let forged = check(&format!("{ufrag0}:brws"), "guessedpassword01234567");
        assert_eq!(
            deliver(&mut agents, &mut table, attacker, &forged),
            Route::Ice(0)
        );
        assert_eq!(
            table.route(port, attacker, &dtls),
            Route::Drop(DropReason::NotLatched)
        );

        // Each browser's check reaches its own call and latches its own 5-tuple.
        for (i, browser) in browsers.iter().enumerate() {
            let pkt = check_for(&agents[i], "brws");
            assert_eq!(
                deliver(&mut agents, &mut table, *browser, &pkt),
                Route::Ice(i)
            );
            assert_eq!(table.route(port, *browser, &dtls), Route::Dtls(i));
        }
        assert_eq!(table.latched_len(), 2);

        // Call 1 restarts. Its first new-ufrag check arrives via the latched tuple; the
        // Restarted event then registers the new ufrag, reachable from a new address too.
        agents[1].restart(t0, creds(30), remote("nw03"));
        let pkt = check_for(&agents[1], "nw03");
        assert_eq!(
            deliver(&mut agents, &mut table, browsers[1], &pkt),
            Route::Ice(1)
        );
        let moved: SocketAddr = "198.51.100.2:2001".parse().expect("literal");
        assert_eq!(table.route(port, moved, &pkt), Route::Ice(1));
        assert_eq!(agents[1].counters().checks_ok, 2);
        assert_eq!(agents[0].counters().checks_ok, 1);
    }
}
