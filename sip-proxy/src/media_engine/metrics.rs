//! The media plane's Prometheus metrics (see `docs/metrics.md`, "Media").
//!
//! ```text
//!  worker thread ─Relaxed stores per loop turn─► Arc<WorkerMetrics> ◄─snapshot every FLUSH_EVERY─ pump thread i
//!  pump thread i: counters += snapshot − previous snapshot; gauges += the same delta
//!                 WorkerEvent::Ice Nominated { after } ─► nomination histogram; ConsentLost ─► counter
//!                 ICE Connected … WebKeysInstalled ─► DTLS ok + handshake histogram
//!  DTLS task: DtlsEnd::Failed(reason) ─► DTLS failed{fingerprint|other};  allocate: PortsExhausted ─► counter
//! ```
//!
//! media-plane has no metrics library: its workers publish plain totals
//! ([`media_plane::datapath::WorkerMetrics`]), with no atomic per packet. The pump thread
//! of each worker turns them into increments of process-wide counters, so several
//! engines in one process (tests) add up instead of overwriting each other; gauges move
//! by deltas too and a stopped worker takes its share back. Labels come from fixed
//! sets: directions, legs, drop reasons, worker indices (bounded by the worker count).

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use media_plane::datapath::{
    Direction, DropReason, LegSide, MetricsSnapshot, WorkerEvent, WorkerMetrics,
};
use media_plane::dtls::DtlsError;
use media_plane::ice::IceEvent;
use prometheus::{
    register_histogram, register_int_counter, register_int_counter_vec, register_int_gauge_vec,
    Histogram, IntCounter, IntCounterVec, IntGaugeVec,
};

/// How often a pump thread turns its worker's totals into metric increments.
pub(super) const FLUSH_EVERY: Duration = Duration::from_millis(500);

/// How long a pump remembers an ICE-connected call that has not installed DTLS keys
/// (past it the handshake has failed or timed out anyway).
const DTLS_PENDING_FOR: Duration = Duration::from_secs(120);

const INVARIANT: &str = "invariant: registered once, under a unique name";

/// Buckets for set-up latencies (ICE nomination, DTLS handshake), in seconds.
const SETUP_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

static PACKETS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "rtcgate_media_packets_total",
        "Media packets forwarded by the data path, by direction.",
        &["direction"]
    )
    .expect(INVARIANT)
});

static BYTES: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "rtcgate_media_bytes_total",
        "Bytes of the forwarded media packets as sent (after re-protection), by direction.",
        &["direction"]
    )
    .expect(INVARIANT)
});

static DROPPED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "rtcgate_media_dropped_total",
        "Datagrams the data path dropped, by direction and reason.",
        &["direction", "reason"]
    )
    .expect(INVARIANT)
});

static UNAUTHENTICATED: LazyLock<IntCounter> = LazyLock::new(|| {
    register_int_counter!(
        "rtcgate_media_unauthenticated_dropped_total",
        "Datagrams dropped because nothing authenticated them: SRTP tag failures, unknown or unlatched sources, refused ICE checks."
    )
    .expect(INVARIANT)
});

static RTCP_SENT: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "rtcgate_media_rtcp_sent_total",
        "RTCP compound packets (SR or RR + SDES CNAME) the gateway generated and sent, by leg (web, ims).",
        &["leg"]
    )
    .expect(INVARIANT)
});

static RTCP_RECEIVED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "rtcgate_media_rtcp_received_total",
        "RTCP packets accepted from a peer (authenticated, well formed) and terminated, by leg (web, ims).",
        &["leg"]
    )
    .expect(INVARIANT)
});

static SESSIONS: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    register_int_gauge_vec!(
        "rtcgate_media_sessions",
        "Media sessions a worker holds now, by worker index.",
        &["worker"]
    )
    .expect(INVARIANT)
});

static ONE_WAY: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    register_int_gauge_vec!(
        "rtcgate_media_one_way_sessions",
        "Sessions that in the last second received media on the ingress leg of a direction and forwarded none out the other leg.",
        &["direction"]
    )
    .expect(INVARIANT)
});

static ONE_WAY_DETECTIONS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "rtcgate_media_one_way_detections_total",
        "One-second intervals in which a session was one-way in a direction (see rtcgate_media_one_way_sessions).",
        &["direction"]
    )
    .expect(INVARIANT)
});

static ICE_CHECKS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "rtcgate_media_ice_checks_total",
        "STUN connectivity checks a call's ICE-lite agent handled, by result (ok, failed).",
        &["result"]
    )
    .expect(INVARIANT)
});

static ICE_NOMINATION: LazyLock<Histogram> = LazyLock::new(|| {
    register_histogram!(
        "rtcgate_media_ice_nomination_seconds",
        "Time from a WebRTC leg's start (or ICE restart) to the browser's nomination.",
        SETUP_BUCKETS.to_vec()
    )
    .expect(INVARIANT)
});

static CONSENT_LOST: LazyLock<IntCounter> = LazyLock::new(|| {
    register_int_counter!(
        "rtcgate_media_ice_consent_lost_total",
        "WebRTC legs whose ICE consent expired (RFC 7675: 30 s without a valid check)."
    )
    .expect(INVARIANT)
});

static DTLS_HANDSHAKES: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "rtcgate_media_dtls_handshakes_total",
        "DTLS-SRTP handshakes by result (ok, failed_fingerprint, failed_other).",
        &["result"]
    )
    .expect(INVARIANT)
});

static DTLS_DURATION: LazyLock<Histogram> = LazyLock::new(|| {
    register_histogram!(
        "rtcgate_media_dtls_handshake_seconds",
        "Time from a WebRTC leg's ICE connectivity to its DTLS-SRTP keys installed in the worker.",
        SETUP_BUCKETS.to_vec()
    )
    .expect(INVARIANT)
});

static PORTS_EXHAUSTED: LazyLock<IntCounter> = LazyLock::new(|| {
    register_int_counter!(
        "rtcgate_media_ims_ports_exhausted_total",
        "Media allocations refused because no IMS-leg port was free."
    )
    .expect(INVARIANT)
});

static WEB_PORT: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "rtcgate_media_web_port_datagrams_total",
        "Datagrams on the workers' shared web ports outside the media path, by kind.",
        &["kind"]
    )
    .expect(INVARIANT)
});

static SOCKET: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "rtcgate_media_socket_datagrams_total",
        "Datagrams through the workers' sockets, by result (received, sent, send_failed, recv_error).",
        &["result"]
    )
    .expect(INVARIANT)
});

/// Registers every media metric so each appears from the first scrape.
pub(super) fn init() {
    for d in Direction::ALL {
        PACKETS.with_label_values(&[d.as_str()]);
        BYTES.with_label_values(&[d.as_str()]);
        ONE_WAY.with_label_values(&[d.as_str()]);
        ONE_WAY_DETECTIONS.with_label_values(&[d.as_str()]);
        for r in DropReason::ALL {
            DROPPED.with_label_values(&[d.as_str(), r.as_str()]);
        }
    }
    for leg in LegSide::ALL {
        RTCP_SENT.with_label_values(&[leg.as_str()]);
        RTCP_RECEIVED.with_label_values(&[leg.as_str()]);
    }
    for r in ["ok", "failed"] {
        ICE_CHECKS.with_label_values(&[r]);
    }
    for r in ["ok", "failed_fingerprint", "failed_other"] {
        DTLS_HANDSHAKES.with_label_values(&[r]);
    }
    for (k, _) in web_port_kinds(&MetricsSnapshot::default()) {
        WEB_PORT.with_label_values(&[k]);
    }
    for (k, _) in socket_results(&MetricsSnapshot::default()) {
        SOCKET.with_label_values(&[k]);
    }
    LazyLock::force(&UNAUTHENTICATED);
    LazyLock::force(&ICE_NOMINATION);
    LazyLock::force(&CONSENT_LOST);
    LazyLock::force(&DTLS_DURATION);
    LazyLock::force(&PORTS_EXHAUSTED);
}

/// An allocation was refused: the IMS port range is exhausted.
pub(super) fn ports_exhausted() {
    PORTS_EXHAUSTED.inc();
}

/// A call's DTLS task ended with a failed handshake.
pub(super) fn dtls_failed(e: &DtlsError) {
    let result = match e {
        DtlsError::FingerprintMismatch => "failed_fingerprint",
        _ => "failed_other",
    };
    DTLS_HANDSHAKES.with_label_values(&[result]).inc();
}

fn web_port_kinds(s: &MetricsSnapshot) -> [(&'static str, u64); 8] {
    let w = &s.web;
    [
        ("stun_reply", w.stun_replies),
        ("stun_unknown_ufrag", w.stun_unknown_ufrag),
        ("stun_no_username", w.stun_no_username),
        ("not_latched", w.not_latched),
        ("unknown_protocol", w.unknown_protocol),
        ("dtls_to_session", w.dtls_to_session),
        ("dtls_queue_full", w.dtls_queue_full),
        ("dtls_transmit_dropped", w.dtls_transmit_dropped),
    ]
}

fn socket_results(s: &MetricsSnapshot) -> [(&'static str, u64); 4] {
    let io = &s.io;
    [
        ("received", io.received),
        ("sent", io.sent),
        ("send_failed", io.send_failed),
        ("recv_error", io.recv_errors),
    ]
}

/// Datagrams dropped because nothing authenticated them (see the metric's help).
fn unauthenticated(s: &MetricsSnapshot) -> u64 {
    let m = &s.media;
    let per_dir = |d: usize| {
        m.drops[d][DropReason::Auth.index()] + m.drops[d][DropReason::UnknownSource.index()]
    };
    per_dir(0) + per_dir(1) + s.web.stun_refused
}

fn gauge_delta(now: u64, before: u64) -> i64 {
    i64::try_from(now)
        .unwrap_or(i64::MAX)
        .saturating_sub(i64::try_from(before).unwrap_or(i64::MAX))
}

/// One worker's exporter, owned by its pump thread.
#[derive(Debug)]
pub(super) struct WorkerExporter {
    worker: String,
    metrics: Arc<WorkerMetrics>,
    last: MetricsSnapshot,
    last_flush: Instant,
    /// Calls whose ICE connected and whose DTLS keys are not installed yet.
    ice_connected: HashMap<u64, Instant>,
}

impl WorkerExporter {
    pub(super) fn new(index: usize, metrics: Arc<WorkerMetrics>) -> Self {
        Self {
            worker: index.to_string(),
            metrics,
            last: MetricsSnapshot::default(),
            last_flush: Instant::now(),
            ice_connected: HashMap::new(),
        }
    }

    /// Counts what an event says (ICE nomination time, consent lost, DTLS ok).
    pub(super) fn event(&mut self, e: &WorkerEvent) {
        match e {
            WorkerEvent::Ice { call, event } => match event {
                IceEvent::Connected { .. } => {
                    self.ice_connected.entry(*call).or_insert_with(Instant::now);
                }
                IceEvent::Nominated { after, .. } => ICE_NOMINATION.observe(after.as_secs_f64()),
                IceEvent::ConsentLost { .. } => CONSENT_LOST.inc(),
                _ => {}
            },
            WorkerEvent::WebKeysInstalled { call, .. } => {
                DTLS_HANDSHAKES.with_label_values(&["ok"]).inc();
                if let Some(t) = self.ice_connected.remove(call) {
                    DTLS_DURATION.observe(t.elapsed().as_secs_f64());
                }
            }
            _ => {}
        }
    }

    /// Flushes when [`FLUSH_EVERY`] has passed since the last flush.
    pub(super) fn maybe_flush(&mut self) {
        if self.last_flush.elapsed() >= FLUSH_EVERY {
            self.flush();
        }
    }

    /// Adds what the worker counted since the last flush.
    pub(super) fn flush(&mut self) {
        self.last_flush = Instant::now();
        let now = self.metrics.snapshot();
        let before = self.last;
        let inc = |c: &IntCounterVec, labels: &[&str], n: u64, b: u64| {
            if n > b {
                c.with_label_values(labels).inc_by(n - b);
            }
        };
        for d in Direction::ALL {
            let (i, name) = (d.index(), d.as_str());
            inc(
                &PACKETS,
                &[name],
                now.media.packets[i],
                before.media.packets[i],
            );
            inc(&BYTES, &[name], now.media.bytes[i], before.media.bytes[i]);
            for r in DropReason::ALL {
                let (n, b) = (
                    now.media.drops[i][r.index()],
                    before.media.drops[i][r.index()],
                );
                inc(&DROPPED, &[name, r.as_str()], n, b);
            }
            inc(
                &ONE_WAY_DETECTIONS,
                &[name],
                now.one_way_detections[i],
                before.one_way_detections[i],
            );
            ONE_WAY
                .with_label_values(&[name])
                .add(gauge_delta(now.one_way[i], before.one_way[i]));
        }
        for leg in LegSide::ALL {
            let (i, name) = (leg.index(), leg.as_str());
            let (m, b) = (&now.media, &before.media);
            inc(&RTCP_SENT, &[name], m.rtcp_sent[i], b.rtcp_sent[i]);
            inc(
                &RTCP_RECEIVED,
                &[name],
                m.rtcp_received[i],
                b.rtcp_received[i],
            );
        }
        SESSIONS
            .with_label_values(&[self.worker.as_str()])
            .add(gauge_delta(now.sessions, before.sessions));
        inc(
            &ICE_CHECKS,
            &["ok"],
            now.web.ice_checks_ok,
            before.web.ice_checks_ok,
        );
        inc(
            &ICE_CHECKS,
            &["failed"],
            now.web.stun_refused,
            before.web.stun_refused,
        );
        let (n, b) = (unauthenticated(&now), unauthenticated(&before));
        if n > b {
            UNAUTHENTICATED.inc_by(n - b);
        }
        for ((k, n), (_, b)) in web_port_kinds(&now)
            .into_iter()
            .zip(web_port_kinds(&before))
        {
            inc(&WEB_PORT, &[k], n, b);
        }
        for ((k, n), (_, b)) in socket_results(&now)
            .into_iter()
            .zip(socket_results(&before))
        {
            inc(&SOCKET, &[k], n, b);
        }
        self.last = now;
        self.ice_connected
            .retain(|_, t| t.elapsed() < DTLS_PENDING_FOR);
    }

    /// The worker has stopped: a last flush, then its gauges give their share back.
    pub(super) fn finish(&mut self) {
        self.flush();
        let last = self.last;
        for d in Direction::ALL {
            ONE_WAY
                .with_label_values(&[d.as_str()])
                .sub(gauge_delta(last.one_way[d.index()], 0));
        }
        SESSIONS
            .with_label_values(&[self.worker.as_str()])
            .sub(gauge_delta(last.sessions, 0));
        self.last.one_way = [0; 2];
        self.last.sessions = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    #[test]
    fn dtls_failures_by_reason_and_event_timings() {
        init();
        let count = |r: &str| DTLS_HANDSHAKES.with_label_values(&[r]).get();
        let (fp, other, ok) = (
            count("failed_fingerprint"),
            count("failed_other"),
            count("ok"),
        );
        dtls_failed(&DtlsError::FingerprintMismatch);
        dtls_failed(&DtlsError::HandshakeTimeout);
        assert!(count("failed_fingerprint") > fp);
        assert!(count("failed_other") > other);

        let a: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let mut e = WorkerExporter::new(0, Arc::new(WorkerMetrics::default()));
        let (nominations, consent) = (ICE_NOMINATION.get_sample_count(), CONSENT_LOST.get());
        let durations = DTLS_DURATION.get_sample_count();
        let ice = |event| WorkerEvent::Ice { call: 1, event };
        e.event(&ice(IceEvent::Connected {
            local: a,
            remote: a,
        }));
        e.event(&ice(IceEvent::Nominated {
            local: a,
            remote: a,
            after: Duration::from_millis(30),
        }));
        e.event(&WorkerEvent::WebKeysInstalled {
            call: 1,
            suite: media_plane::srtp::SrtpSuite::AeadAes128Gcm,
        });
        e.event(&ice(IceEvent::ConsentLost {
            local: a,
            remote: a,
        }));
        assert!(ICE_NOMINATION.get_sample_count() > nominations);
        assert!(DTLS_DURATION.get_sample_count() > durations);
        assert!(count("ok") > ok);
        assert!(CONSENT_LOST.get() > consent);
        assert!(e.ice_connected.is_empty(), "keys installed: forgotten");
    }
}
