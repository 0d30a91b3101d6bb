//! ICE-lite agent (RFC 8445 §2.5, §7.3; RFC 7675 consent) in simulated time: the test
//! plays the browser (a full, controlling agent) and drives the clock by hand.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use media_plane::ice::{
    CheckFailure, Handled, IceEvent, IceLiteAgent, LocalCredentials, RemoteCredentials,
    RemoteUpdate, CONSENT_TIMEOUT, MAX_REPLY_LEN,
};
use media_plane::stun::{attr_type, Class, Message, MessageWriter, Method};

const REMOTE_UFRAG: &str = "brws";
const REMOTE_PWD: &str = "browserpassword0123456789";

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("literal socket address")
}

fn local_creds(seed: u8) -> LocalCredentials {
    LocalCredentials::from_random(&std::array::from_fn(|i| {
        seed.wrapping_add((i as u8).wrapping_mul(13))
    }))
}

fn remote_creds(ufrag: &str, pwd: &str) -> RemoteCredentials {
    RemoteCredentials::new(ufrag, pwd).expect("valid test credentials")
}

/// What the simulated browser puts in a check.
#[derive(Clone)]
struct Check {
    username: Option<String>,
    key: Option<Vec<u8>>,
    priority: Option<u32>,
    controlling: Option<u64>,
    controlled: Option<u64>,
    use_candidate: bool,
    extra: Vec<(u16, Vec<u8>)>,
    fingerprint: bool,
    tid: [u8; 12],
}

impl Check {
    /// A correct check for `agent`, as a browser would send it.
    fn valid(agent: &IceLiteAgent) -> Self {
        let local = agent.local_credentials();
        Check {
            username: Some(format!("{}:{}", local.ufrag(), REMOTE_UFRAG)),
            key: Some(local.pwd().as_bytes().to_vec()),
            priority: Some(0x6e00_1eff),
            controlling: Some(0x1111_2222_3333_4444),
            controlled: None,
            use_candidate: false,
            extra: Vec::new(),
            fingerprint: true,
            tid: [0x5a; 12],
        }
    }

    fn nominate(mut self) -> Self {
        self.use_candidate = true;
        self
    }

    fn bytes(&self) -> Vec<u8> {
        let mut buf = vec![0u8; 1024];
        let mut w = MessageWriter::new(&mut buf, Class::Request, Method::BINDING, self.tid)
            .expect("1024 > 20");
        if let Some(u) = &self.username {
            w.username(u).expect("fits");
        }
        if let Some(p) = self.priority {
            w.priority(p).expect("fits");
        }
        if let Some(t) = self.controlling {
            w.ice_controlling(t).expect("fits");
        }
        if let Some(t) = self.controlled {
            w.ice_controlled(t).expect("fits");
        }
        if self.use_candidate {
            w.use_candidate().expect("fits");
        }
        for (t, v) in &self.extra {
            w.attribute(*t, v).expect("fits");
        }
        if let Some(k) = &self.key {
            w.message_integrity(k).expect("fits");
        }
        if self.fingerprint {
            w.fingerprint().expect("fits");
        }
        let n = w.finish();
        buf.truncate(n);
        buf
    }
}

struct Harness {
    agent: IceLiteAgent,
    t0: Instant,
    local: SocketAddr,
    out: [u8; MAX_REPLY_LEN],
}

impl Harness {
    fn new() -> Self {
        let t0 = Instant::now();
        let agent = IceLiteAgent::new(
            t0,
            local_creds(1),
            Some(remote_creds(REMOTE_UFRAG, REMOTE_PWD)),
        );
        Harness {
            agent,
            t0,
            local: addr("10.0.0.5:40000"),
            out: [0; MAX_REPLY_LEN],
        }
    }

    fn at(&self, secs: f64) -> Instant {
        self.t0 + Duration::from_secs_f64(secs)
    }

    fn send(&mut self, secs: f64, src: SocketAddr, pkt: &[u8]) -> Handled {
        let now = self.at(secs);
        self.agent
            .handle_stun(now, src, self.local, pkt, &mut self.out)
    }

    fn reply(&self, h: Handled) -> Message<'_> {
        let len = h.reply_len().expect("a reply was written");
        Message::parse(&self.out[..len]).expect("the agent's reply parses")
    }

    fn events(&mut self) -> Vec<IceEvent> {
        std::iter::from_fn(|| self.agent.poll_event()).collect()
    }
}

const BROWSER: &str = "198.51.100.7:54321";

#[test]
fn valid_check_is_answered_and_connects() {
    let mut h = Harness::new();
    let src = addr(BROWSER);
    let check = Check::valid(&h.agent);
    let handled = h.send(0.0, src, &check.bytes());
    assert!(matches!(handled, Handled::Success { .. }), "{handled:?}");
    let pwd = h.agent.local_credentials().pwd().to_owned();
    let reply = h.reply(handled);
    assert_eq!(reply.class(), Class::SuccessResponse);
    assert_eq!(reply.method(), Method::BINDING);
    assert_eq!(reply.transaction_id(), check.tid);
    assert_eq!(reply.xor_mapped_address(), Some(src));
    assert_eq!(reply.verify_integrity(pwd.as_bytes()), Ok(()));
    assert_eq!(reply.verify_fingerprint(), Ok(()));
    assert_eq!(
        h.events(),
        vec![IceEvent::Connected {
            local: h.local,
            remote: src
        }]
    );
    assert_eq!(h.agent.selected_remote(), Some((h.local, src)));
    assert_eq!(h.agent.counters().checks_ok, 1);
    assert_eq!(h.agent.poll_timeout(), Some(h.t0 + CONSENT_TIMEOUT));
}

#[test]
fn ipv6_check_gets_ipv6_mapped_address() {
    let mut h = Harness::new();
    h.local = addr("[2001:db8::5]:40000");
    let src = addr("[2001:db8:1::7]:5000");
    let handled = h.send(0.0, src, &Check::valid(&h.agent).bytes());
    assert_eq!(h.reply(handled).xor_mapped_address(), Some(src));
}

/// The failed check gets `code` without MESSAGE-INTEGRITY, changes nothing and is counted.
fn assert_refused(h: &mut Harness, check: &Check, reason: CheckFailure, code: u16) {
    let handled = h.send(0.0, addr(BROWSER), &check.bytes());
    assert_eq!(handled.failure(), Some(reason));
    let reply = h.reply(handled);
    assert_eq!(reply.class(), Class::ErrorResponse);
    assert_eq!(reply.error_code().map(|e| e.code), Some(code));
    assert!(!reply.has_integrity(), "no MESSAGE-INTEGRITY on {code}");
    assert_eq!(reply.verify_fingerprint(), Ok(()));
    assert_eq!(
        h.events(),
        vec![],
        "an unauthenticated check changes nothing"
    );
    assert_eq!(h.agent.selected_remote(), None);
    assert_eq!(h.agent.poll_timeout(), None);
    assert_eq!(h.agent.counters().failed(reason), 1);
    assert_eq!(h.agent.counters().checks_ok, 0);
}

#[test]
fn wrong_password_is_401() {
    let mut h = Harness::new();
    let mut c = Check::valid(&h.agent);
    c.key = Some(b"not-the-local-password".to_vec());
    assert_refused(&mut h, &c, CheckFailure::BadIntegrity, 401);
}

#[test]
fn remote_password_instead_of_local_is_401() {
    let mut h = Harness::new();
    let mut c = Check::valid(&h.agent);
    c.key = Some(REMOTE_PWD.as_bytes().to_vec());
    assert_refused(&mut h, &c, CheckFailure::BadIntegrity, 401);
}

#[test]
fn wrong_local_ufrag_is_401() {
    let mut h = Harness::new();
    let mut c = Check::valid(&h.agent);
    c.username = Some(format!("zzzz:{REMOTE_UFRAG}"));
    assert_refused(&mut h, &c, CheckFailure::WrongUsername, 401);
}

#[test]
fn wrong_remote_ufrag_is_401() {
    let mut h = Harness::new();
    let mut c = Check::valid(&h.agent);
    c.username = Some(format!("{}:other", h.agent.local_credentials().ufrag()));
    assert_refused(&mut h, &c, CheckFailure::WrongUsername, 401);
}

#[test]
fn username_without_colon_is_401() {
    let mut h = Harness::new();
    let mut c = Check::valid(&h.agent);
    c.username = Some(h.agent.local_credentials().ufrag().to_string());
    assert_refused(&mut h, &c, CheckFailure::WrongUsername, 401);
}

#[test]
fn missing_integrity_or_username_is_400() {
    let mut h = Harness::new();
    let mut c = Check::valid(&h.agent);
    c.key = None;
    assert_refused(&mut h, &c, CheckFailure::MissingCredentials, 400);
    let mut h = Harness::new();
    let mut c = Check::valid(&h.agent);
    c.username = None;
    assert_refused(&mut h, &c, CheckFailure::MissingCredentials, 400);
}

#[test]
fn malformed_known_attribute_is_400() {
    let mut h = Harness::new();
    let mut c = Check::valid(&h.agent);
    c.priority = None;
    c.extra.push((attr_type::PRIORITY, vec![1, 2, 3]));
    assert_refused(&mut h, &c, CheckFailure::BadAttribute, 400);
}

#[test]
fn authenticated_check_without_priority_is_400() {
    let mut h = Harness::new();
    let mut c = Check::valid(&h.agent);
    c.priority = None;
    let handled = h.send(0.0, addr(BROWSER), &c.bytes());
    assert_eq!(handled.failure(), Some(CheckFailure::MissingPriority));
    assert_eq!(h.reply(handled).error_code().map(|e| e.code), Some(400));
    assert_eq!(h.events(), vec![]);
}

/// RFC 8445 §7.3.1.1 with the agent controlled: the browser claiming ICE-CONTROLLED gets a
/// 487 whichever tie-breaker is larger (a lite agent never becomes controlling), signed
/// with the local password; the agent keeps its role and state.
#[test]
fn role_conflict_peer_controlled_is_487_both_ways() {
    for peer_tie_breaker in [0u64, 1 << 32, u64::MAX] {
        let mut h = Harness::new();
        let mut c = Check::valid(&h.agent);
        c.controlling = None;
        c.controlled = Some(peer_tie_breaker);
        let handled = h.send(0.0, addr(BROWSER), &c.bytes());
        assert_eq!(handled.failure(), Some(CheckFailure::RoleConflict));
        let pwd = h.agent.local_credentials().pwd().to_owned();
        let reply = h.reply(handled);
        assert_eq!(reply.class(), Class::ErrorResponse);
        assert_eq!(reply.error_code().map(|e| e.code), Some(487));
        assert_eq!(reply.verify_integrity(pwd.as_bytes()), Ok(()));
        assert_eq!(reply.verify_fingerprint(), Ok(()));
        assert_eq!(h.events(), vec![]);
        assert_eq!(h.agent.selected_remote(), None);
        assert_eq!(h.agent.counters().failed(CheckFailure::RoleConflict), 1);
    }
}

/// The other way: the browser is controlling, as it must be against a lite agent — no
/// conflict, whatever its tie-breaker; and after a 487 the browser's switched check works.
#[test]
fn role_peer_controlling_is_no_conflict() {
    let mut h = Harness::new();
    let mut c = Check::valid(&h.agent);
    c.controlling = None;
    c.controlled = Some(7);
    assert_eq!(
        h.send(0.0, addr(BROWSER), &c.bytes()).failure(),
        Some(CheckFailure::RoleConflict)
    );
    for tie in [0u64, u64::MAX] {
        let mut c = Check::valid(&h.agent);
        c.controlling = Some(tie);
        assert!(matches!(
            h.send(0.1, addr(BROWSER), &c.bytes()),
            Handled::Success { .. }
        ));
    }
    assert_eq!(h.agent.counters().checks_ok, 2);
}

#[test]
fn nomination_selects_the_pair_and_reports_time() {
    let mut h = Harness::new();
    let a = addr(BROWSER);
    let b = addr("198.51.100.7:60000");
    let _ = h.send(0.2, a, &Check::valid(&h.agent).bytes());
    assert_eq!(
        h.events(),
        vec![IceEvent::Connected {
            local: h.local,
            remote: a
        }]
    );
    assert!(!h.agent.is_nominated());
    let _ = h.send(0.5, b, &Check::valid(&h.agent).nominate().bytes());
    assert_eq!(
        h.events(),
        vec![IceEvent::Nominated {
            local: h.local,
            remote: b,
            after: Duration::from_millis(500)
        }]
    );
    assert_eq!(h.agent.selected_remote(), Some((h.local, b)));
    assert!(h.agent.is_nominated());
    // Nominating the same pair again is not news.
    let _ = h.send(1.0, b, &Check::valid(&h.agent).nominate().bytes());
    assert_eq!(h.events(), vec![]);
    assert_eq!(h.agent.counters().nominations, 1);
}

#[test]
fn consent_expires_at_exactly_30s() {
    let mut h = Harness::new();
    let src = addr(BROWSER);
    let _ = h.send(0.0, src, &Check::valid(&h.agent).nominate().bytes());
    h.events();
    h.agent.handle_timeout(h.at(29.9));
    assert_eq!(h.events(), vec![]);
    assert_eq!(h.agent.selected_remote(), Some((h.local, src)));
    h.agent.handle_timeout(h.at(30.0));
    assert_eq!(
        h.events(),
        vec![IceEvent::ConsentLost {
            local: h.local,
            remote: src
        }]
    );
    assert_eq!(h.agent.selected_remote(), None);
    assert_eq!(h.agent.poll_timeout(), None);
    assert_eq!(h.agent.counters().consent_lost, 1);
    // Reported once.
    h.agent.handle_timeout(h.at(100.0));
    assert_eq!(h.events(), vec![]);
}

#[test]
fn consent_kept_alive_by_checks_on_the_selected_pair() {
    let mut h = Harness::new();
    let src = addr(BROWSER);
    let other = addr("198.51.100.7:60000");
    let _ = h.send(0.0, src, &Check::valid(&h.agent).nominate().bytes());
    let _ = h.send(20.0, src, &Check::valid(&h.agent).bytes());
    let _ = h.send(40.0, src, &Check::valid(&h.agent).bytes());
    // A check on another pair does not refresh the selected pair's consent.
    let _ = h.send(60.0, other, &Check::valid(&h.agent).bytes());
    // A failed check does not either.
    let mut bad = Check::valid(&h.agent);
    bad.key = Some(b"wrong".to_vec());
    let _ = h.send(65.0, src, &bad.bytes());
    h.events();
    assert_eq!(h.agent.poll_timeout(), Some(h.at(70.0)));
    h.agent.handle_timeout(h.at(69.9));
    assert_eq!(h.events(), vec![]);
    h.agent.handle_timeout(h.at(70.0));
    assert!(
        matches!(h.events().as_slice(), [IceEvent::ConsentLost { remote, .. }] if *remote == src)
    );
}

#[test]
fn a_check_arriving_after_the_deadline_does_not_revive_consent() {
    let mut h = Harness::new();
    let src = addr(BROWSER);
    let _ = h.send(0.0, src, &Check::valid(&h.agent).bytes());
    h.events();
    // No handle_timeout call in between: handle_stun expires consent first.
    let handled = h.send(30.0, src, &Check::valid(&h.agent).bytes());
    assert!(matches!(handled, Handled::Success { .. }));
    assert!(matches!(
        h.events().as_slice(),
        [IceEvent::ConsentLost { .. }]
    ));
    assert_eq!(h.agent.selected_remote(), None);
}

#[test]
fn ice_restart_on_new_browser_credentials() {
    let mut h = Harness::new();
    let src = addr(BROWSER);
    let old_check = Check::valid(&h.agent).nominate();
    let _ = h.send(0.0, src, &old_check.bytes());
    h.events();
    let old_ufrag = h.agent.local_credentials().ufrag();

    // A re-offer with the same credentials is not a restart.
    assert_eq!(
        h.agent.apply_remote_credentials(
            h.at(5.0),
            remote_creds(REMOTE_UFRAG, REMOTE_PWD),
            local_creds(2)
        ),
        RemoteUpdate::Unchanged
    );
    assert_eq!(h.agent.local_credentials().ufrag(), old_ufrag);
    assert_eq!(h.events(), vec![]);

    // New browser credentials: restart with fresh local ones.
    let new_remote = "nw01";
    assert_eq!(
        h.agent.apply_remote_credentials(
            h.at(10.0),
            remote_creds(new_remote, "newbrowserpassword0123456"),
            local_creds(2)
        ),
        RemoteUpdate::Restarted
    );
    let new_ufrag = h.agent.local_credentials().ufrag();
    assert_ne!(new_ufrag, old_ufrag);
    assert_eq!(
        h.events(),
        vec![IceEvent::Restarted {
            previous_local_ufrag: old_ufrag,
            local_ufrag: new_ufrag
        }]
    );
    // Media keeps flowing on the old pair meanwhile.
    assert_eq!(h.agent.selected_remote(), Some((h.local, src)));

    // Old credentials no longer work.
    let handled = h.send(11.0, src, &old_check.bytes());
    assert_eq!(handled.failure(), Some(CheckFailure::WrongUsername));

    // New ones do, and nomination is reported again, timed from the restart.
    let mut c = Check::valid(&h.agent).nominate();
    c.username = Some(format!("{new_ufrag}:{new_remote}"));
    let handled = h.send(12.0, src, &c.bytes());
    assert!(matches!(handled, Handled::Success { .. }), "{handled:?}");
    assert_eq!(
        h.events(),
        vec![IceEvent::Nominated {
            local: h.local,
            remote: src,
            after: Duration::from_secs(2)
        }]
    );
    assert_eq!(h.agent.counters().restarts, 1);
}

#[test]
fn restart_after_consent_loss_revives_the_agent() {
    let mut h = Harness::new();
    let src = addr("203.0.113.9:1000");
    let _ = h.send(0.0, src, &Check::valid(&h.agent).nominate().bytes());
    h.agent.handle_timeout(h.at(30.0));
    h.events();
    h.agent.restart(
        h.at(31.0),
        local_creds(3),
        Some(remote_creds("nw02", "newbrowserpassword0123456")),
    );
    let mut c = Check::valid(&h.agent).nominate();
    c.username = Some(format!("{}:nw02", h.agent.local_credentials().ufrag()));
    let new_src = addr("203.0.113.9:2000");
    let _ = h.send(32.0, new_src, &c.bytes());
    let events = h.events();
    assert!(
        matches!(events.as_slice(), [
        IceEvent::Restarted { .. },
        IceEvent::Connected { remote: r1, .. },
        IceEvent::Nominated { remote: r2, .. },
    ] if *r1 == new_src && *r2 == new_src),
        "{events:?}"
    );
    assert_eq!(h.agent.poll_timeout(), Some(h.at(62.0)));
}

#[test]
fn checks_before_remote_credentials_are_known() {
    let t0 = Instant::now();
    let mut agent = IceLiteAgent::new(t0, local_creds(4), None);
    let mut c = Check::valid(&agent);
    c.username = Some(format!("{}:anyremote", agent.local_credentials().ufrag()));
    let mut out = [0u8; MAX_REPLY_LEN];
    let h = agent.handle_stun(t0, addr(BROWSER), addr("10.0.0.5:1"), &c.bytes(), &mut out);
    assert!(matches!(h, Handled::Success { .. }));
    assert_eq!(
        agent.apply_remote_credentials(t0, remote_creds("anyremote", REMOTE_PWD), local_creds(5)),
        RemoteUpdate::Set
    );
}

#[test]
fn unknown_comprehension_required_attribute_is_420() {
    let mut h = Harness::new();
    let mut c = Check::valid(&h.agent);
    c.extra.push((0x7777, vec![1, 2, 3, 4]));
    c.extra.push((0xC057, vec![0, 1, 0, 0])); // comprehension-optional: ignored
    let handled = h.send(0.0, addr(BROWSER), &c.bytes());
    assert_eq!(handled.failure(), Some(CheckFailure::UnknownAttributes));
    let pwd = h.agent.local_credentials().pwd().to_owned();
    let reply = h.reply(handled);
    assert_eq!(reply.error_code().map(|e| e.code), Some(420));
    assert_eq!(
        reply.unknown_attributes_listed().collect::<Vec<_>>(),
        vec![0x7777]
    );
    assert_eq!(reply.verify_integrity(pwd.as_bytes()), Ok(()));
    // Optional unknown attributes alone are fine (Chrome's GOOG-NETWORK-INFO).
    let mut c = Check::valid(&h.agent);
    c.extra.push((0xC057, vec![0, 1, 0, 0]));
    assert!(matches!(
        h.send(0.0, addr(BROWSER), &c.bytes()),
        Handled::Success { .. }
    ));
}

#[test]
fn junk_and_truncated_input_is_dropped_and_counted() {
    let mut h = Harness::new();
    let src = addr(BROWSER);
    let valid = Check::valid(&h.agent).bytes();
    let mut cases: Vec<(Vec<u8>, CheckFailure)> = vec![
        (vec![], CheckFailure::Truncated),
        (vec![0x00, 0x01, 0x00], CheckFailure::Truncated),
        (vec![0x80, 0x60, 0, 1, 0, 0, 0, 0], CheckFailure::Truncated),
        (vec![0xff; 40], CheckFailure::NotStun),
        (valid[..valid.len() - 4].to_vec(), CheckFailure::Truncated),
        (valid[..40].to_vec(), CheckFailure::Truncated),
        (
            [valid.as_slice(), &[0, 0, 0, 0]].concat(),
            CheckFailure::Malformed,
        ),
    ];
    // A wrong magic cookie.
    let mut v = valid.clone();
    v[4] ^= 0xff;
    cases.push((v, CheckFailure::NotStun));
    // A corrupted FINGERPRINT.
    let mut v = valid.clone();
    let last = v.len() - 1;
    v[last] ^= 0x01;
    cases.push((v, CheckFailure::BadFingerprint));
    // No FINGERPRINT at all.
    let mut c = Check::valid(&h.agent);
    c.fingerprint = false;
    cases.push((c.bytes(), CheckFailure::MissingFingerprint));
    // An attribute whose length runs past the message.
    let mut v = valid.clone();
    v[22] = 0x0f;
    cases.push((v, CheckFailure::Malformed));
    // A Binding success response and an indication are not for a lite agent.
    let mut v = valid.clone();
    v[0] = 0x01;
    v[1] = 0x01;
    cases.push((v, CheckFailure::Unexpected));
    let mut v = valid.clone();
    v[1] = 0x11;
    cases.push((v, CheckFailure::Unexpected));

    for (i, (pkt, reason)) in cases.iter().enumerate() {
        let handled = h.send(0.0, src, pkt);
        assert_eq!(handled, Handled::Dropped { reason: *reason }, "case {i}");
    }
    assert_eq!(h.agent.counters().failed_total(), cases.len() as u64);
    assert_eq!(h.agent.counters().failed(CheckFailure::Truncated), 5);
    assert_eq!(h.events(), vec![]);
    assert_eq!(h.agent.selected_remote(), None);

    // Every prefix of a valid check is dropped or refused, never answered with success.
    for cut in 0..valid.len() {
        let handled = h.send(0.0, src, &valid[..cut]);
        assert!(!matches!(handled, Handled::Success { .. }), "cut {cut}");
    }
    // The agent is unharmed.
    assert!(matches!(h.send(0.0, src, &valid), Handled::Success { .. }));
}

#[test]
fn small_reply_buffer_is_refused_not_a_panic() {
    let mut h = Harness::new();
    let pkt = Check::valid(&h.agent).bytes();
    let mut small = [0u8; 32];
    let handled = h
        .agent
        .handle_stun(h.t0, addr(BROWSER), h.local, &pkt, &mut small);
    assert_eq!(
        handled,
        Handled::Dropped {
            reason: CheckFailure::ReplyBufferTooSmall
        }
    );
    assert_eq!(h.events(), vec![]);
}

#[test]
fn malformed_attribute_with_bad_fingerprint_is_dropped_silently() {
    let mut h = Harness::new();
    let mut c = Check::valid(&h.agent);
    c.extra.push((attr_type::PRIORITY, vec![1, 2, 3]));
    c.priority = None;
    let mut pkt = c.bytes();
    let last = pkt.len() - 1;
    pkt[last] ^= 0x80;
    assert_eq!(
        h.send(0.0, addr(BROWSER), &pkt),
        Handled::Dropped {
            reason: CheckFailure::Malformed
        }
    );
}

/// A worker owns thousands of agents: keep one small (no inline buffers).
#[test]
fn agent_is_small() {
    let size = std::mem::size_of::<IceLiteAgent>();
    assert!(size <= 512, "IceLiteAgent is {size} bytes");
}

/// FINGERPRINT and MESSAGE-INTEGRITY cover every byte: no single-bit corruption of a
/// valid check is ever answered with success or changes the agent's state.
#[test]
fn no_single_bit_flip_of_a_check_is_accepted() {
    let mut h = Harness::new();
    let src = addr(BROWSER);
    let valid = Check::valid(&h.agent).nominate().bytes();
    let mut pkt = valid.clone();
    for bit in 0..pkt.len() * 8 {
        pkt[bit / 8] ^= 1 << (bit % 8);
        let handled = h.send(0.0, src, &pkt);
        assert!(handled.failure().is_some(), "bit {bit}: {handled:?}");
        pkt[bit / 8] ^= 1 << (bit % 8);
    }
    assert_eq!(h.events(), vec![]);
    assert_eq!(h.agent.counters().checks_ok, 0);
    assert_eq!(h.agent.counters().failed_total(), (valid.len() * 8) as u64);
}

/// Interop with an independent STUN implementation (webrtc-rs `stun`, the stack the
/// `webrtc` crate's ICE agent uses): its Binding request, with its MESSAGE-INTEGRITY and
/// FINGERPRINT, is accepted; our response passes its integrity and fingerprint checks
/// and its XOR-MAPPED-ADDRESS decoder, for IPv4 and IPv6.
mod webrtc_rs_interop {
    use super::*;
    use stun::agent::TransactionId;
    use stun::attributes::{
        AttrType, ATTR_ICE_CONTROLLING, ATTR_PRIORITY, ATTR_USERNAME, ATTR_USE_CANDIDATE,
    };
    use stun::error_code::ErrorCodeAttribute;
    use stun::fingerprint::FINGERPRINT;
    use stun::integrity::MessageIntegrity;
    use stun::message::{
        Getter, Message as WMessage, Setter, BINDING_ERROR, BINDING_REQUEST, BINDING_SUCCESS,
    };
    use stun::textattrs::TextAttribute;
    use stun::xoraddr::XorMappedAddress;

    fn their_request(username: &str, pwd: &str, controlled: bool) -> Vec<u8> {
        let mut m = WMessage::new();
        m.build(&[
            Box::new(BINDING_REQUEST),
            Box::new(TransactionId([3; 12])),
            Box::new(TextAttribute {
                attr: ATTR_USERNAME,
                text: username.to_owned(),
            }),
        ])
        .expect("webrtc-rs builds the request");
        m.add(ATTR_PRIORITY, &0x6e00_1effu32.to_be_bytes());
        if controlled {
            m.add(AttrType(0x8029), &9u64.to_be_bytes());
        } else {
            m.add(ATTR_ICE_CONTROLLING, &9u64.to_be_bytes());
            m.add(ATTR_USE_CANDIDATE, &[]);
        }
        MessageIntegrity::new_short_term_integrity(pwd.to_owned())
            .add_to(&mut m)
            .expect("integrity");
        FINGERPRINT.add_to(&mut m).expect("fingerprint");
        m.raw.clone()
    }

    fn their_parse(bytes: &[u8]) -> WMessage {
        let mut m = WMessage::new();
        m.unmarshal_binary(bytes)
            .expect("webrtc-rs parses our reply");
        m
    }

    #[test]
    fn their_check_our_answer_v4_and_v6() {
        for (src, local) in [
            (addr(BROWSER), addr("10.0.0.5:40000")),
            (addr("[2001:db8:1::7]:5000"), addr("[2001:db8::5]:40000")),
        ] {
            let mut h = Harness::new();
            h.local = local;
            let ufrag = h.agent.local_credentials().ufrag();
            let pwd = h.agent.local_credentials().pwd().to_owned();
            let req = their_request(&format!("{ufrag}:{REMOTE_UFRAG}"), &pwd, false);
            let handled = h.send(0.0, src, &req);
            assert!(matches!(handled, Handled::Success { .. }), "{handled:?}");
            let len = handled.reply_len().expect("reply");
            let mut reply = their_parse(&h.out[..len]);
            assert_eq!(reply.typ, BINDING_SUCCESS);
            assert_eq!(reply.transaction_id, TransactionId([3; 12]));
            MessageIntegrity::new_short_term_integrity(pwd.clone())
                .check(&mut reply)
                .expect("webrtc-rs verifies our MESSAGE-INTEGRITY");
            FINGERPRINT
                .check(&reply)
                .expect("webrtc-rs verifies our FINGERPRINT");
            let mut xor = XorMappedAddress::default();
            xor.get_from(&reply).expect("XOR-MAPPED-ADDRESS");
            assert_eq!(SocketAddr::new(xor.ip, xor.port), src);
            assert!(matches!(
                h.events().as_slice(),
                [IceEvent::Connected { .. }, IceEvent::Nominated { .. }]
            ));
        }
    }

    #[test]
    fn their_check_with_wrong_password_and_their_role_conflict() {
        let mut h = Harness::new();
        let ufrag = h.agent.local_credentials().ufrag();
        let pwd = h.agent.local_credentials().pwd().to_owned();
        let req = their_request(
            &format!("{ufrag}:{REMOTE_UFRAG}"),
            "wrongpassword0123456789",
            false,
        );
        let handled = h.send(0.0, addr(BROWSER), &req);
        assert_eq!(handled.failure(), Some(CheckFailure::BadIntegrity));

        let req = their_request(&format!("{ufrag}:{REMOTE_UFRAG}"), &pwd, true);
        let handled = h.send(0.0, addr(BROWSER), &req);
        let len = handled.reply_len().expect("487 reply");
        let mut reply = their_parse(&h.out[..len]);
        assert_eq!(reply.typ, BINDING_ERROR);
        let mut code = ErrorCodeAttribute::default();
        code.get_from(&reply).expect("ERROR-CODE");
        assert_eq!(code.code.0, 487);
        MessageIntegrity::new_short_term_integrity(pwd)
            .check(&mut reply)
            .expect("487 is signed");
    }
}
