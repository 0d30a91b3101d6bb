//! Worker in simulated time: the command queue, routing, metrics, socket ops (IMS legs,
//! their RTCP port+1), Ready, stop.

use super::*;
use crate::datapath::{LegConfig, LegCrypto, PtMap, SessionEvent};
use crate::srtp::ReOriginator;

fn leg(remote: u16) -> Box<LegConfig> {
    Box::new(LegConfig {
        crypto: LegCrypto::Rtp,
        remote: Some(SocketAddr::from(([127, 0, 0, 1], remote))),
        egress_pt: PtMap::default(),
        reoriginator: ReOriginator::new(1, 1, 1),
    })
}

#[test]
fn queue_full_routing_and_release() {
    let t0 = Instant::now();
    let (mut w, h) = Worker::new(4000, Duration::from_secs(5), 1);
    let alloc = |call| Command::Allocate {
        call,
        web: leg(5000),
        ims: leg(6000),
        ims_port: 10000,
    };
    h.send(alloc(1)).unwrap();
    assert_eq!(h.send(alloc(2)), Err(DatapathError::QueueFull));
    w.drain_commands(t0);
    assert_eq!(w.len(), 1);
    let local = SocketAddr::from(([127, 0, 0, 1], 10000));
    let mut buf = [0u8; 64];
    buf[0] = 0x80;
    let from = SocketAddr::from(([127, 0, 0, 1], 6000));
    assert_eq!(
        w.handle_datagram(t0, local, from, &mut buf, 20),
        Action::Forward {
            leg: LegSide::Web,
            to: SocketAddr::from(([127, 0, 0, 1], 5000)),
            len: 20
        }
    );
    h.send(Command::Release { call: 1 }).unwrap();
    w.drain_commands(t0);
    assert!(w.is_empty());
    assert_eq!(
        w.handle_datagram(t0, local, from, &mut buf, 20),
        Action::Drop(DropReason::UnknownSource)
    );
    drop(w);
    assert_eq!(
        h.send(Command::Release { call: 1 }),
        Err(DatapathError::WorkerGone)
    );
}

#[test]
fn metrics_tally_directions_drops_and_one_way() {
    let t0 = Instant::now();
    let (mut w, h) = Worker::new(4000, Duration::from_secs(5), 8);
    let metrics = w.metrics();
    let mut silent_web = leg(5000);
    silent_web.remote = None;
    h.send(Command::Allocate {
        call: 1,
        web: silent_web,
        ims: leg(6000),
        ims_port: 10000,
    })
    .unwrap();
    h.send(Command::Allocate {
        call: 2,
        web: leg(5002),
        ims: leg(6002),
        ims_port: 10002,
    })
    .unwrap();
    w.drain_commands(t0);
    let mut buf = [0u8; 64];
    buf[0] = 0x80;
    let to = |port| SocketAddr::from(([127, 0, 0, 1], port));
    // Call 2 forwards IMS → web; call 1 has no web remote: in, but none out.
    let a = w.handle_datagram(t0, to(10002), to(6002), &mut buf, 20);
    assert!(matches!(a, Action::Forward { len: 20, .. }));
    let a = w.handle_datagram(t0, to(10000), to(6000), &mut buf, 20);
    assert_eq!(a, Action::Drop(DropReason::NoRemote));
    // Junk on the web port and a datagram on an IMS port no call owns.
    let mut junk = [0xffu8; 64];
    let a = w.handle_datagram(t0, to(4000), to(7000), &mut junk, 40);
    assert_eq!(a, Action::Drop(DropReason::UnknownSource));
    let a = w.handle_datagram(t0, to(10004), to(6000), &mut buf, 20);
    assert_eq!(a, Action::Drop(DropReason::UnknownSource));

    let io = BackendStats {
        received: 4,
        ..BackendStats::default()
    };
    w.publish_metrics(t0, &io);
    let s = metrics.snapshot();
    let (web, ims) = (Direction::WebToIms.index(), Direction::ImsToWeb.index());
    assert_eq!(s.media.packets, [0, 1]);
    assert_eq!(s.media.bytes, [0, 20]);
    assert_eq!(s.media.drops[ims][DropReason::NoRemote.index()], 1);
    assert_eq!(s.media.drops[ims][DropReason::UnknownSource.index()], 1);
    assert_eq!(s.media.drops[web][DropReason::UnknownSource.index()], 1);
    assert_eq!(s.web.unknown_protocol, 1);
    assert_eq!(s.sessions, 2);
    assert_eq!(s.one_way, [0, 1], "call 1 only");
    assert_eq!(s.one_way_detections, [0, 1]);
    assert_eq!(s.io, io);
    assert_eq!(w.metrics_timeout(), Some(t0 + ONE_WAY_INTERVAL));

    // Before the interval ends nothing is resampled; after it, a quiet call is not
    // one-way any more.
    w.publish_metrics(t0 + Duration::from_millis(10), &io);
    assert_eq!(metrics.snapshot().one_way, [0, 1]);
    w.publish_metrics(t0 + ONE_WAY_INTERVAL, &io);
    let s = metrics.snapshot();
    assert_eq!((s.one_way, s.one_way_detections), ([0, 0], [0, 1]));
    h.send(Command::Release { call: 1 }).unwrap();
    h.send(Command::Release { call: 2 }).unwrap();
    w.drain_commands(t0);
    w.publish_metrics(t0 + ONE_WAY_INTERVAL * 2, &io);
    assert_eq!(metrics.snapshot().sessions, 0);
    assert_eq!(w.metrics_timeout(), None, "no calls, nothing flagged");
}

#[test]
fn socket_ops_port_conflicts_and_stop() {
    let t0 = Instant::now();
    let (mut w, h) = Worker::new(4000, Duration::from_secs(5), 8);
    let alloc = |call, ims_port| Command::Allocate {
        call,
        web: leg(5000),
        ims: leg(6000),
        ims_port,
    };
    h.send(alloc(1, 10000)).unwrap();
    h.send(alloc(2, 10000)).unwrap();
    h.send(alloc(3, 4000)).unwrap();
    h.send(alloc(4, 10002)).unwrap();
    w.drain_commands(t0);
    assert_eq!(
        w.poll_socket_op(),
        Some(SocketOp::Open {
            call: 1,
            port: 10000
        })
    );
    assert_eq!(
        w.poll_socket_op(),
        Some(SocketOp::Open {
            call: 4,
            port: 10002
        })
    );
    assert_eq!(w.poll_socket_op(), None);
    let failed = |call, error| Some(WorkerEvent::AllocateFailed { call, error });
    assert_eq!(w.poll_event(t0), failed(2, DatapathError::PortInUse(10000)));
    assert_eq!(w.poll_event(t0), failed(3, DatapathError::PortInUse(4000)));
    let kind = std::io::ErrorKind::AddrInUse;
    w.socket_failed(4, 10002, kind);
    let error = DatapathError::Bind { port: 10002, kind };
    assert_eq!(w.poll_event(t0), failed(4, error));
    assert_eq!(w.len(), 1);

    h.send(Command::Release { call: 1 }).unwrap();
    h.send(Command::Stop).unwrap();
    h.send(Command::Release { call: 9 }).unwrap();
    w.drain_commands(t0);
    assert_eq!(w.poll_socket_op(), Some(SocketOp::Close { port: 10000 }));
    assert!(w.is_stopped());

    let (mut w, h) = Worker::new(4000, Duration::from_secs(5), 8);
    let woken = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let n = Arc::clone(&woken);
    assert!(w.set_waker(Arc::new(move || {
        n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    })));
    h.send(Command::Release { call: 1 }).unwrap();
    drop(h);
    assert_eq!(woken.load(std::sync::atomic::Ordering::Relaxed), 2);
    w.drain_commands(t0);
    assert!(w.is_stopped(), "the last handle dropped stops the worker");
}

#[test]
fn rtcp_port_opens_with_the_call_and_ready_waits_for_it() {
    use crate::datapath::{ImsRtcp, RtcpConfig};
    let t0 = Instant::now();
    let (mut w, h) = Worker::new(4000, Duration::from_secs(5), 8);
    let cfg = |ims| RtcpConfig {
        cname: "c".into(),
        seed: 1,
        web_clock_rate: 8000,
        ims_clock_rate: 8000,
        ims,
        ims_reports: true,
    };
    let alloc = |call, ims_port| Command::Allocate {
        call,
        web: leg(5000),
        ims: leg(6000),
        ims_port,
    };
    let port = ImsRtcp::Port { remote: None };
    h.send(alloc(1, 10000)).unwrap();
    h.send(Command::ConfigureRtcp {
        call: 1,
        rtcp: Box::new(cfg(port)),
    })
    .unwrap();
    // Call 2 on 10001 collides with call 1's RTCP port; call 3's port+1 is taken.
    h.send(alloc(2, 10001)).unwrap();
    h.send(alloc(3, 9999)).unwrap();
    h.send(Command::ConfigureRtcp {
        call: 3,
        rtcp: Box::new(cfg(port)),
    })
    .unwrap();
    w.drain_commands(t0);
    let open = |call, port| Some(SocketOp::Open { call, port });
    assert_eq!(w.poll_socket_op(), open(1, 10000));
    let rtcp = Some(SocketOp::OpenRtcp {
        call: 1,
        port: 10001,
    });
    assert_eq!(w.poll_socket_op(), rtcp);
    assert_eq!(w.poll_socket_op(), open(3, 9999));
    assert_eq!(w.poll_socket_op(), Some(SocketOp::Close { port: 9999 }));
    assert_eq!(w.poll_socket_op(), None);
    let failed = |call, error| Some(WorkerEvent::AllocateFailed { call, error });
    assert_eq!(w.poll_event(t0), failed(2, DatapathError::PortInUse(10001)));
    assert_eq!(w.poll_event(t0), failed(3, DatapathError::PortInUse(10000)));
    w.socket_opened(1, 10000);
    assert_eq!(w.poll_event(t0), None, "Ready waits for the RTCP socket");
    w.socket_opened(1, 10001);
    let ready = Some(WorkerEvent::Ready {
        call: 1,
        port: 10000,
    });
    assert_eq!(w.poll_event(t0), ready);
    // RTCP on port+1 is terminated, never forwarded, and counted.
    let mut buf = [0u8; 64];
    buf[..4].copy_from_slice(&[0x80, 201, 0, 1]);
    let local = SocketAddr::from(([127, 0, 0, 1], 10001));
    let from = SocketAddr::from(([127, 0, 0, 1], 6001));
    let (a, via) = w.handle_datagram_routed(t0, local, from, &mut buf, 8);
    assert_eq!((a, via), (Action::Drop(DropReason::RtcpTerminated), 10001));
    assert_eq!(w.media_tally().rtcp_received, [0, 1]);
    // Reports leave from the RTCP port toward the remote's port+1.
    let mut out = [0u8; 512];
    let due = w.poll_timeout().unwrap();
    assert!(w.poll_rtcp(t0, NtpTime(0), &mut out).is_none(), "not yet");
    let mut sent = Vec::new();
    while let Some((port, to, _)) = w.poll_rtcp(due + ONE_WAY_INTERVAL * 8, NtpTime(0), &mut out) {
        sent.push((port, to.port()));
    }
    sent.sort();
    assert_eq!(sent, [(4000, 5000), (10001, 6001)]);
    assert_eq!(w.media_tally().rtcp_sent, [1, 1]);
    // Switching to rtcp-mux closes port+1; a release closes the rest.
    h.send(Command::ConfigureRtcp {
        call: 1,
        rtcp: Box::new(cfg(ImsRtcp::Mux)),
    })
    .unwrap();
    h.send(Command::Release { call: 1 }).unwrap();
    w.drain_commands(t0);
    assert_eq!(w.poll_socket_op(), Some(SocketOp::Close { port: 10001 }));
    assert_eq!(w.poll_socket_op(), Some(SocketOp::Close { port: 10000 }));
    assert_eq!(w.poll_socket_op(), None);
}

/// The earliest deadline is scanned once and cached as a lower bound: packets that only
/// push deadlines later do not trigger a scan, and none of the inactivity events is
/// missed or late, including the one a packet re-arms after a reported silence.
#[test]
fn cached_deadlines_never_miss_an_inactivity_event() {
    let t0 = Instant::now();
    let s = Duration::from_secs;
    let (mut w, h) = Worker::new(4000, s(5), 8);
    h.send(Command::Allocate {
        call: 1,
        web: leg(5000),
        ims: leg(6000),
        ims_port: 10000,
    })
    .unwrap();
    w.drain_commands(t0);
    while w.poll_socket_op().is_some() {}
    w.socket_opened(1, 10000);
    assert!(matches!(w.poll_event(t0), Some(WorkerEvent::Ready { .. })));
    assert_eq!(w.poll_timeout(), Some(t0 + s(5)));

    let local = SocketAddr::from(([127, 0, 0, 1], 10000));
    let from_ims = SocketAddr::from(([127, 0, 0, 1], 6000));
    let packet = |w: &mut Worker, at| {
        let mut buf = [0u8; 64];
        buf[0] = 0x80;
        assert!(matches!(
            w.handle_datagram(at, local, from_ims, &mut buf, 20),
            Action::Forward { .. }
        ));
    };
    packet(&mut w, t0 + s(1));
    assert_eq!(
        w.poll_timeout(),
        Some(t0 + s(5)),
        "a lower bound, not rescanned"
    );
    assert_eq!(w.poll_event(t0 + s(2)), None);
    let inactive = |leg| {
        Some(WorkerEvent::Session {
            call: 1,
            event: SessionEvent::MediaInactive { leg },
        })
    };
    assert_eq!(w.poll_event(t0 + s(5)), inactive(LegSide::Web));
    assert_eq!(w.poll_event(t0 + s(5)), None);
    assert_eq!(
        w.poll_timeout(),
        Some(t0 + s(6)),
        "rescanned after the event"
    );
    assert_eq!(w.poll_event(t0 + s(6)), inactive(LegSide::Ims));
    assert_eq!(w.poll_timeout(), None, "both silences reported");

    // Media again on the IMS leg: its deadline comes back, and so does the event.
    packet(&mut w, t0 + s(7));
    assert!(w.wants_attention());
    assert_eq!(w.poll_timeout(), Some(t0 + s(12)));
    assert_eq!(w.poll_event(t0 + s(8)), None);
    assert_eq!(w.poll_event(t0 + s(12)), inactive(LegSide::Ims));
}

/// The RTCP deadline heap: over a minute of simulated time, every leg of every call
/// with RTCP reports at its own pace (RFC 3550 §6.2: 2.5-7.5 s for two participants),
/// nothing twice at once; a reconfigured call follows its new schedule (its old entry
/// is dropped, not doubled) and a released call reports no more.
#[test]
fn rtcp_reports_come_from_the_deadline_heap() {
    use crate::datapath::{ImsRtcp, RtcpConfig};
    let t0 = Instant::now();
    let (mut w, h) = Worker::new(4000, Duration::from_secs(600), 64);
    let cfg = |seed| RtcpConfig {
        cname: "c".into(),
        seed,
        web_clock_rate: 8000,
        ims_clock_rate: 8000,
        ims: ImsRtcp::Mux,
        ims_reports: true,
    };
    for call in 1..=3u64 {
        h.send(Command::Allocate {
            call,
            web: leg(5000 + call as u16),
            ims: leg(6000 + call as u16),
            ims_port: 10000 + 2 * call as u16,
        })
        .unwrap();
        h.send(Command::ConfigureRtcp {
            call,
            rtcp: Box::new(cfg(call)),
        })
        .unwrap();
    }
    w.drain_commands(t0);
    let mut out = [0u8; 512];
    let mut sent: Vec<(Duration, u16)> = Vec::new();
    let mut drain = |w: &mut Worker, at: Instant, sent: &mut Vec<(Duration, u16)>| {
        while let Some((_, to, _)) = w.poll_rtcp(at, NtpTime(0), &mut out) {
            sent.push((at - t0, to.port()));
        }
        assert!(!w.rtcp_due(at), "drained");
    };
    let step = Duration::from_millis(100);
    let mut at = t0;
    while at < t0 + Duration::from_secs(30) {
        drain(&mut w, at, &mut sent);
        at += step;
    }
    // Call 2 reconfigured, call 3 released, then 30 s more.
    h.send(Command::ConfigureRtcp {
        call: 2,
        rtcp: Box::new(cfg(99)),
    })
    .unwrap();
    h.send(Command::Release { call: 3 }).unwrap();
    w.drain_commands(at);
    let half = sent.len();
    while at < t0 + Duration::from_secs(60) {
        drain(&mut w, at, &mut sent);
        at += step;
    }
    for port in [5001, 6001, 5002, 6002, 5003, 6003] {
        let times: Vec<Duration> = sent.iter().filter(|s| s.1 == port).map(|s| s.0).collect();
        let gaps: Vec<Duration> = times.windows(2).map(|t| t[1] - t[0]).collect();
        assert!(
            times[0] <= Duration::from_secs(4),
            "{port}: first {:?}",
            times[0]
        );
        let (lo, hi) = (Duration::from_millis(2400), Duration::from_millis(7600));
        let ok = |g: &Duration| (lo..=hi).contains(g);
        match port {
            // Reconfigured at 30 s: its first new report within half an interval.
            5002 | 6002 => assert!(
                gaps.iter().filter(|g| !ok(g)).count() <= 1,
                "{port}: {gaps:?}"
            ),
            _ => assert!(gaps.iter().all(ok), "{port}: {gaps:?}"),
        }
        if port % 1000 == 3 {
            assert!(
                times.iter().all(|t| *t < Duration::from_secs(30)),
                "released"
            );
        } else {
            assert!(times.len() >= 8, "{port}: {} reports in 60 s", times.len());
        }
    }
    assert!(sent.len() > half, "reports went on after the changes");
}
