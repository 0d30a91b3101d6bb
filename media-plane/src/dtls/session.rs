//! [`DtlsSession`]: the DTLS-SRTP handshake of one call's WebRTC leg, off the fast path.
//!
//! ```text
//!  driver (owns the socket)                      DtlsSession                 tokio task
//!  ─────────────────────────                     ───────────                 ──────────
//!  DTLS datagram from demux ──handle_datagram──► framing check (record.rs)
//!                                                 ├ not started: held (bounded)
//!                                                 └ started: inbound queue ──► webrtc-dtls DTLSConn
//!  start(DtlsParams) once the SDP is known ─────► spawns the task, flushes the held datagrams
//!  socket.send ◄── Transmit(datagram) ◄─ next_output / poll_output ◄── outbound queue
//!  keys to the data path ◄── Event(Connected{SrtpContexts, profile}) | Event(Failed{reason})
//!                                                                     | Event(Closed)
//! ```
//!
//! Why a task and not a sans-IO core: webrtc-dtls is an async library with its own
//! reader/writer tasks and retransmission timers, so the handshake runs inside tokio. The
//! session keeps everything the driver touches synchronous and non-blocking
//! (`handle_datagram` never waits; a full queue drops and counts), so a media worker can
//! own it without ever blocking on the handshake.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use webrtc_dtls::config::{ClientAuthType, Config};
use webrtc_dtls::conn::DTLSConn;
use webrtc_dtls::extension::extension_use_srtp::SrtpProtectionProfile;
use webrtc_util::KeyingMaterialExporter;

use super::conn::ChannelConn;
use super::record::{check_datagram, Hello, HelloAssembly};
use super::{DtlsCertificate, DtlsCounters, DtlsError, DtlsRole, Fingerprint};
use crate::srtp::{
    split_dtls_keying_material, SrtpConfig, SrtpContext, SrtpSuite, DTLS_SRTP_EXPORTER_LABEL,
};

/// Datagrams held while the session waits for [`DtlsSession::start`] (a browser that
/// is DTLS client may send its ClientHello before its SDP answer reaches us). One
/// ClientHello is enough; the rest are the peer's retransmissions.
pub const MAX_HELD_DATAGRAMS: usize = 8;
/// Largest DTLS datagram accepted: webrtc-dtls's receive buffer.
pub const MAX_DTLS_DATAGRAM_LEN: usize = 8192;
/// Inbound datagrams queued toward the handshake task before new ones are dropped.
const INBOUND_QUEUE: usize = 32;
/// Outputs (datagrams to send, events) queued toward the driver; when full, the
/// handshake task waits for the driver.
const OUTPUT_QUEUE: usize = 32;
/// Default bound on the whole handshake.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);
/// Protection profiles we offer, in order of preference (RFC 5764 §4.1.2, RFC 7714 §14.2).
pub const DEFAULT_PROFILES: [SrtpSuite; 2] =
    [SrtpSuite::AeadAes128Gcm, SrtpSuite::AesCm128HmacSha1_80];

/// What the SDP offer/answer decided for this leg's DTLS.
#[derive(Debug, Clone)]
pub struct DtlsParams {
    /// Our role, from `a=setup` (RFC 8842 §5).
    pub role: DtlsRole,
    /// The peer's `a=fingerprint` (RFC 8122 §5); its certificate must match (RFC 5763 §5).
    pub remote_fingerprint: Fingerprint,
    /// SRTP protection profiles to offer or accept, most preferred first. As DTLS
    /// server, our order wins: the session narrows the list to our first choice among
    /// the client's ([`DtlsSession::start`]).
    pub profiles: Vec<SrtpSuite>,
    /// Settings of the two SRTP contexts built from the exported keys.
    pub srtp_config: SrtpConfig,
    /// The handshake fails with [`DtlsError::HandshakeTimeout`] after this long.
    pub handshake_timeout: Duration,
}

impl DtlsParams {
    /// Parameters with [`DEFAULT_PROFILES`], the default SRTP settings and
    /// [`DEFAULT_HANDSHAKE_TIMEOUT`].
    pub fn new(role: DtlsRole, remote_fingerprint: Fingerprint) -> Self {
        Self {
            role,
            remote_fingerprint,
            profiles: DEFAULT_PROFILES.to_vec(),
            srtp_config: SrtpConfig::default(),
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        }
    }
}

/// The keys of an established leg: what the data path needs.
#[derive(Debug)]
pub struct DtlsKeys {
    /// The negotiated protection profile.
    pub suite: SrtpSuite,
    /// Unprotects what the peer sends (the peer's write keys, RFC 5764 §4.2).
    pub inbound: SrtpContext,
    /// Protects what we send (our write keys).
    pub outbound: SrtpContext,
    /// From [`DtlsSession::start`] to the end of the handshake.
    pub handshake_duration: Duration,
}

/// A state change of the session.
#[derive(Debug)]
#[non_exhaustive]
pub enum DtlsEvent {
    /// The handshake completed, the fingerprint matched, keys are exported.
    Connected(Box<DtlsKeys>),
    /// The handshake failed; the leg cannot carry media. Terminal.
    Failed(DtlsError),
    /// The peer closed DTLS (close_notify or a fatal alert) after establishment. The SRTP
    /// keys stay valid (RFC 5764 §4.2 keys outlive the DTLS association); what to do with
    /// the call is the caller's decision. Terminal.
    Closed,
}

/// One thing for the driver to do.
#[derive(Debug)]
pub enum DtlsOutput {
    /// Send this datagram to the peer (the leg's latched remote address).
    Transmit(Vec<u8>),
    /// Report this to the call.
    Event(DtlsEvent),
}

enum Phase {
    /// Waiting for the SDP: datagrams are held.
    Pending {
        held: Vec<Vec<u8>>,
        outputs: mpsc::Sender<DtlsOutput>,
    },
    /// Started as DTLS server, waiting for the client's first ClientHello to choose the
    /// SRTP profile by our preference (see [`DtlsSession::start`]).
    AwaitingHello(Box<Awaiting>),
    /// The handshake task runs (or ran to Connected and watches for close).
    Running { inbound: mpsc::Sender<Vec<u8>> },
    /// Failed or closed: every datagram is dropped.
    Ended,
}

/// What the handshake task is started with.
struct Launch {
    params: DtlsParams,
    runtime: tokio::runtime::Handle,
    outputs: mpsc::Sender<DtlsOutput>,
}

/// A server session started before the client's ClientHello was complete.
struct Awaiting {
    launch: Launch,
    /// Everything received so far, handed to the library at launch.
    held: Vec<Vec<u8>>,
    hello: HelloAssembly,
    /// The handshake timeout runs from `start` whether or not a ClientHello came: this
    /// task reports [`DtlsError::HandshakeTimeout`] if none completes in time.
    timer: JoinHandle<()>,
    /// Set by whichever comes first, the timer's report or the launch, so that the
    /// session has one outcome (the timer may run on another runtime thread).
    decided: Arc<AtomicBool>,
    since: std::time::Instant,
}

/// RFC 5764 §4.1.2 and RFC 7714 §14.2: the `use_srtp` id of a suite.
fn wire_id(suite: SrtpSuite) -> Option<u16> {
    match suite {
        SrtpSuite::AesCm128HmacSha1_80 => Some(0x0001),
        SrtpSuite::AesCm128HmacSha1_32 => Some(0x0002),
        SrtpSuite::AeadAes128Gcm => Some(0x0007),
        SrtpSuite::AeadAes256Gcm => Some(0x0008),
        _ => None,
    }
}

/// Our most preferred profile that the client offers, alone, so that the library (which
/// picks by the client's order) can only pick it; all of ours when there is none in
/// common (the library then refuses the handshake) or the ClientHello was unreadable.
fn narrowed(ours: &[SrtpSuite], client: Option<&[u16]>) -> Vec<SrtpSuite> {
    tracing::debug!(?client, "DTLS ClientHello use_srtp profiles");
    client
        .and_then(|ids| {
            ours.iter()
                .find(|s| wire_id(**s).is_some_and(|id| ids.contains(&id)))
        })
        .map_or_else(|| ours.to_vec(), |s| vec![*s])
}

/// The DTLS-SRTP session of one call (see the module doc for the data flow).
///
/// Owned by one driver. Dropping it ends the handshake task.
pub struct DtlsSession {
    certificate: DtlsCertificate,
    phase: Phase,
    outputs: Option<mpsc::Receiver<DtlsOutput>>,
    task: Option<JoinHandle<()>>,
    established: bool,
    counters: DtlsCounters,
}

impl std::fmt::Debug for DtlsSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DtlsSession")
            .field("established", &self.established)
            .field("counters", &self.counters)
            .finish_non_exhaustive()
    }
}

impl Drop for DtlsSession {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
        if let Phase::AwaitingHello(w) = &self.phase {
            w.timer.abort();
        }
    }
}

/// What the certificate callback found (set inside the handshake, read after it fails).
const VERDICT_NONE: u8 = 0;
const VERDICT_MISMATCH: u8 = 1;
const VERDICT_NO_CERTIFICATE: u8 = 2;

impl DtlsSession {
    /// A session that holds early datagrams until [`DtlsSession::start`].
    pub fn new(certificate: DtlsCertificate) -> Self {
        let (tx, rx) = mpsc::channel(OUTPUT_QUEUE);
        Self {
            certificate,
            phase: Phase::Pending {
                held: Vec::new(),
                outputs: tx,
            },
            outputs: Some(rx),
            task: None,
            established: false,
            counters: DtlsCounters::default(),
        }
    }

    /// Counters of this session.
    pub fn counters(&self) -> DtlsCounters {
        self.counters
    }

    /// True once [`DtlsEvent::Connected`] has been taken from the outputs.
    pub fn is_established(&self) -> bool {
        self.established
    }

    /// Datagrams held while waiting for [`DtlsSession::start`] (or, as server, for the
    /// rest of the client's ClientHello).
    pub fn held_datagrams(&self) -> usize {
        match &self.phase {
            Phase::Pending { held, .. } => held.len(),
            Phase::AwaitingHello(w) => w.held.len(),
            _ => 0,
        }
    }

    /// Feeds one DTLS datagram (RFC 7983 first byte 20..=63) from the peer. Never waits:
    /// a malformed datagram, a stray one after establishment (see `record.rs`), one over
    /// the hold bound or a full queue is dropped and counted in `records_dropped`.
    pub fn handle_datagram(&mut self, datagram: &[u8]) {
        if datagram.len() > MAX_DTLS_DATAGRAM_LEN
            || check_datagram(datagram, self.established).is_err()
        {
            self.counters.records_dropped += 1;
            return;
        }
        let kept = match &mut self.phase {
            Phase::Pending { held, .. } if held.len() < MAX_HELD_DATAGRAMS => {
                held.push(datagram.to_vec());
                true
            }
            Phase::Running { inbound } => inbound.try_send(datagram.to_vec()).is_ok(),
            Phase::AwaitingHello(w) => {
                w.held.push(datagram.to_vec());
                let hello = w.hello.add(datagram);
                if hello == Hello::Incomplete && w.held.len() < MAX_HELD_DATAGRAMS {
                    return;
                }
                let Phase::AwaitingHello(w) = std::mem::replace(&mut self.phase, Phase::Ended)
                else {
                    unreachable!("matched just above");
                };
                self.launch_server(*w, &hello);
                true
            }
            Phase::Pending { .. } | Phase::Ended => false,
        };
        if !kept {
            self.counters.records_dropped += 1;
        }
    }

    /// Starts the handshake in a tokio task, with the role and fingerprint from the SDP,
    /// and hands it the held datagrams. Must be called inside a tokio runtime, once.
    ///
    /// As DTLS server the SRTP profile is ours to choose (RFC 5764 §4.1.1), but
    /// webrtc-dtls picks the first of the client's list that we support, and Chromium
    /// lists AES_CM_128_HMAC_SHA1_80 before AEAD_AES_128_GCM. So the session reads the
    /// client's `use_srtp` list from its first ClientHello (held, or awaited before the
    /// task starts: a server sends nothing first) and gives the library only our most
    /// preferred profile of that list.
    pub fn start(&mut self, params: DtlsParams) -> Result<(), DtlsError> {
        if !matches!(self.phase, Phase::Pending { .. }) {
            return Err(DtlsError::AlreadyStarted);
        }
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| DtlsError::NoRuntime)?;
        if let Some(s) = params
            .profiles
            .iter()
            .find(|s| library_profile(**s).is_none())
        {
            return Err(DtlsError::UnsupportedProfile(*s));
        }
        if params.profiles.is_empty() {
            return Err(DtlsError::NoSrtpProfile);
        }
        let Phase::Pending { held, outputs } = std::mem::replace(&mut self.phase, Phase::Ended)
        else {
            return Err(DtlsError::AlreadyStarted); // checked above
        };
        let launch = Launch {
            params,
            runtime,
            outputs,
        };
        if launch.params.role == DtlsRole::Client {
            // We send the ClientHello (RFC 5763 §5): a DTLS server never speaks first, so
            // anything held is stray.
            self.counters.records_dropped += held.len() as u64;
            self.launch(launch, Vec::new());
        } else {
            let mut hello = HelloAssembly::default();
            let mut state = Hello::Incomplete;
            for d in &held {
                state = hello.add(d);
                if state != Hello::Incomplete {
                    break;
                }
            }
            let (outputs, timeout) = (launch.outputs.clone(), launch.params.handshake_timeout);
            let decided = Arc::new(AtomicBool::new(false));
            let first = Arc::clone(&decided);
            let timer = launch.runtime.spawn(async move {
                tokio::time::sleep(timeout).await;
                if first.swap(true, Ordering::SeqCst) {
                    return; // launched meanwhile
                }
                let failed = DtlsOutput::Event(DtlsEvent::Failed(DtlsError::HandshakeTimeout));
                let _ = outputs.send(failed).await;
            });
            let w = Awaiting {
                launch,
                held,
                hello,
                timer,
                decided,
                since: std::time::Instant::now(),
            };
            if state == Hello::Incomplete {
                self.phase = Phase::AwaitingHello(Box::new(w));
            } else {
                self.launch_server(w, &state);
            }
        }
        Ok(())
    }

    /// Launches a server session once the ClientHello is read (or cannot be), with our
    /// choice among the client's profiles.
    fn launch_server(&mut self, w: Awaiting, hello: &Hello) {
        let Awaiting {
            mut launch,
            held,
            timer,
            decided,
            since,
            ..
        } = w;
        if decided.swap(true, Ordering::SeqCst) {
            // The timer won: its HandshakeTimeout is (being) queued, the session's one
            // terminal event.
            self.counters.records_dropped += held.len() as u64;
            self.phase = Phase::Ended;
            return;
        }
        timer.abort();
        let left = launch
            .params
            .handshake_timeout
            .saturating_sub(since.elapsed());
        launch.params.handshake_timeout = left.max(Duration::from_millis(1));
        let client = match hello {
            Hello::Complete(ids) => ids.as_deref(),
            Hello::Incomplete | Hello::Unusable => None,
        };
        launch.params.profiles = narrowed(&launch.params.profiles, client);
        self.launch(launch, held);
    }

    /// Spawns the handshake task and hands it `first` (the datagrams received so far).
    fn launch(&mut self, launch: Launch, first: Vec<Vec<u8>>) {
        let Launch {
            params,
            runtime,
            outputs,
        } = launch;
        // Checked in `start`: every suite has a library profile.
        let profiles: Vec<_> = params
            .profiles
            .iter()
            .filter_map(|s| library_profile(*s))
            .collect();
        let (inbound_tx, inbound_rx) = mpsc::channel(INBOUND_QUEUE);
        for datagram in first {
            if inbound_tx.try_send(datagram).is_err() {
                self.counters.records_dropped += 1;
            }
        }
        let conn = Arc::new(ChannelConn::new(inbound_rx, outputs.clone()));
        let verdict = Arc::new(AtomicU8::new(VERDICT_NONE));
        let config = self.library_config(&params, profiles, Arc::clone(&verdict));
        self.task = Some(runtime.spawn(run(conn, config, params, verdict, outputs)));
        self.phase = Phase::Running {
            inbound: inbound_tx,
        };
    }

    /// The next output, waiting for one. `None` once the session has ended and every
    /// output was taken. Cancel-safe (a dropped call loses nothing).
    pub async fn next_output(&mut self) -> Option<DtlsOutput> {
        let out = self.outputs.as_mut()?.recv().await;
        self.observe(out)
    }

    /// The next output if one is ready, without waiting.
    pub fn poll_output(&mut self) -> Option<DtlsOutput> {
        let out = self.outputs.as_mut()?.try_recv().ok()?;
        self.observe(Some(out))
    }

    fn observe(&mut self, out: Option<DtlsOutput>) -> Option<DtlsOutput> {
        let Some(out) = out else {
            self.outputs = None;
            self.phase = Phase::Ended;
            return None;
        };
        if let DtlsOutput::Event(event) = &out {
            match event {
                DtlsEvent::Connected(keys) => {
                    self.established = true;
                    self.counters.handshakes_ok += 1;
                    let micros = u64::try_from(keys.handshake_duration.as_micros());
                    self.counters.handshake_micros_total = self
                        .counters
                        .handshake_micros_total
                        .saturating_add(micros.unwrap_or(u64::MAX));
                }
                DtlsEvent::Failed(DtlsError::FingerprintMismatch) => {
                    self.counters.handshakes_failed_fingerprint += 1;
                    self.phase = Phase::Ended;
                }
                DtlsEvent::Failed(_) => {
                    self.counters.handshakes_failed_other += 1;
                    self.phase = Phase::Ended;
                }
                DtlsEvent::Closed => self.phase = Phase::Ended,
            }
        }
        Some(out)
    }

    fn library_config(
        &self,
        params: &DtlsParams,
        profiles: Vec<SrtpProtectionProfile>,
        verdict: Arc<AtomicU8>,
    ) -> Config {
        let expected = params.remote_fingerprint.clone();
        Config {
            certificates: vec![self.certificate.as_webrtc().clone()],
            srtp_protection_profiles: profiles,
            // RFC 5763 §5: the server MUST request the client's certificate; both sides
            // are self-signed, so no chain is verified: the SDP fingerprint is the check.
            client_auth: match params.role {
                DtlsRole::Server => ClientAuthType::RequireAnyClientCert,
                DtlsRole::Client => ClientAuthType::NoClientCert,
            },
            insecure_skip_verify: true,
            verify_peer_certificate: Some(Arc::new(move |certs: &[Vec<u8>], _chains: &[_]| {
                // RFC 5763 §5 / RFC 8122 §5: the end-entity certificate is the first.
                let Some(leaf) = certs.first() else {
                    verdict.store(VERDICT_NO_CERTIFICATE, Ordering::SeqCst);
                    return Err(webrtc_dtls::Error::ErrNoCertificates);
                };
                expected.verify(leaf).map_err(|_| {
                    verdict.store(VERDICT_MISMATCH, Ordering::SeqCst);
                    webrtc_dtls::Error::Other("certificate does not match a=fingerprint".into())
                })
            })),
            server_name: "rtcgate".to_owned(),
            ..Config::default()
        }
    }
}

/// The webrtc-dtls profile of a suite (RFC 5764 §4.1.2, RFC 7714 §14.2).
fn library_profile(suite: SrtpSuite) -> Option<SrtpProtectionProfile> {
    match suite {
        SrtpSuite::AeadAes128Gcm => Some(SrtpProtectionProfile::Srtp_Aead_Aes_128_Gcm),
        SrtpSuite::AeadAes256Gcm => Some(SrtpProtectionProfile::Srtp_Aead_Aes_256_Gcm),
        SrtpSuite::AesCm128HmacSha1_80 => Some(SrtpProtectionProfile::Srtp_Aes128_Cm_Hmac_Sha1_80),
        SrtpSuite::AesCm128HmacSha1_32 => Some(SrtpProtectionProfile::Srtp_Aes128_Cm_Hmac_Sha1_32),
        _ => None,
    }
}

/// The suite of the profile webrtc-dtls negotiated (`Unsupported` if none was).
fn negotiated_suite(profile: SrtpProtectionProfile) -> Option<SrtpSuite> {
    match profile {
        SrtpProtectionProfile::Srtp_Aead_Aes_128_Gcm => Some(SrtpSuite::AeadAes128Gcm),
        SrtpProtectionProfile::Srtp_Aead_Aes_256_Gcm => Some(SrtpSuite::AeadAes256Gcm),
        SrtpProtectionProfile::Srtp_Aes128_Cm_Hmac_Sha1_80 => Some(SrtpSuite::AesCm128HmacSha1_80),
        SrtpProtectionProfile::Srtp_Aes128_Cm_Hmac_Sha1_32 => Some(SrtpSuite::AesCm128HmacSha1_32),
        SrtpProtectionProfile::Unsupported => None,
    }
}

/// The handshake task: handshake, keys, then wait for the peer to close.
async fn run(
    conn: Arc<ChannelConn>,
    config: Config,
    params: DtlsParams,
    verdict: Arc<AtomicU8>,
    outputs: mpsc::Sender<DtlsOutput>,
) {
    let started = tokio::time::Instant::now();
    let is_client = params.role == DtlsRole::Client;
    let handshake = DTLSConn::new(conn, config, is_client, None);
    let result = tokio::time::timeout(params.handshake_timeout, handshake).await;
    let dtls = match result {
        Err(_) => Err(DtlsError::HandshakeTimeout),
        Ok(Err(e)) => Err(handshake_error(&e, verdict.load(Ordering::SeqCst))),
        Ok(Ok(dtls)) => Ok(dtls),
    };
    let (dtls, event) = match dtls {
        Ok(dtls) => match export_keys(&dtls, &params).await {
            Ok(mut keys) => {
                keys.handshake_duration = started.elapsed();
                (Some(dtls), DtlsEvent::Connected(Box::new(keys)))
            }
            Err(e) => (None, DtlsEvent::Failed(e)),
        },
        Err(e) => (None, DtlsEvent::Failed(e)),
    };
    if outputs.send(DtlsOutput::Event(event)).await.is_err() {
        return;
    }
    let Some(dtls) = dtls else { return };
    // After the handshake the DTLSConn stays up to answer a retransmitted last flight
    // (RFC 6347 §4.2.4) and to see the peer's close_notify. The session's filter lets no
    // application data through (no data channel), so `read` only returns at the end.
    let mut buf = vec![0u8; MAX_DTLS_DATAGRAM_LEN];
    while dtls.read(&mut buf, None).await.is_ok() {}
    let _ = outputs.send(DtlsOutput::Event(DtlsEvent::Closed)).await;
}

fn handshake_error(e: &webrtc_dtls::Error, verdict: u8) -> DtlsError {
    match verdict {
        VERDICT_MISMATCH => DtlsError::FingerprintMismatch,
        VERDICT_NO_CERTIFICATE => DtlsError::NoPeerCertificate,
        _ if *e == webrtc_dtls::Error::ErrClientCertificateRequired => DtlsError::NoPeerCertificate,
        _ if *e == webrtc_dtls::Error::ErrServerNoMatchingSrtpProfile
            || *e == webrtc_dtls::Error::ErrClientNoMatchingSrtpProfile
            || *e == webrtc_dtls::Error::ErrRequestedButNoSrtpExtension =>
        {
            DtlsError::NoSrtpProfile
        }
        _ => DtlsError::Handshake(e.to_string()),
    }
}

/// RFC 5764 §4.2: export `2 * (key + salt)` octets with label EXTRACTOR-dtls_srtp and no
/// context, split them, and give each direction its keys: the client's write keys
/// protect what the client sends.
async fn export_keys(dtls: &DTLSConn, params: &DtlsParams) -> Result<DtlsKeys, DtlsError> {
    let suite =
        negotiated_suite(dtls.selected_srtpprotection_profile()).ok_or(DtlsError::NoSrtpProfile)?;
    let state = dtls.connection_state().await;
    // The callback already checked; checking the certificate the keys belong to again
    // costs one hash and does not depend on the library calling it.
    let leaf = state
        .peer_certificates
        .first()
        .ok_or(DtlsError::NoPeerCertificate)?;
    params.remote_fingerprint.verify(leaf)?;
    let material = state
        .export_keying_material(
            DTLS_SRTP_EXPORTER_LABEL,
            &[],
            suite.dtls_keying_material_len(),
        )
        .await
        .map_err(|e| DtlsError::Handshake(format!("keying material export: {e}")))?;
    let (client, server) = split_dtls_keying_material(suite, &material)?;
    let (ours, theirs) = match params.role {
        DtlsRole::Client => (client, server),
        DtlsRole::Server => (server, client),
    };
    Ok(DtlsKeys {
        suite,
        inbound: SrtpContext::new(suite, theirs.key, theirs.salt, params.srtp_config)?,
        outbound: SrtpContext::new(suite, ours.key, ours.salt, params.srtp_config)?,
        handshake_duration: Duration::ZERO,
    })
}
