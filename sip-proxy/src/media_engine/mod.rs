//! The media engine: the real [`MediaControl`], backed by the media plane's workers.
//!
//! ```text
//!  call core ──allocate/update/release──► MediaEngine ──Command (bounded, try_send)──► worker i (epoll/io_uring thread)
//!                                           │ PortAllocator (IMS ports, quarantine)      │ shared web port i
//!                                           │ DtlsCertificate (one per process)          │
//!                                           └─ DtlsPort::run per call (tokio task) ◄─DTLS─┘
//!  driver ◄── MediaEvents ◄── pump thread i ◄── WorkerEvent          (DtlsFailed from the DTLS task)
//! ```
//!
//! - [`MediaEngine::start`] spawns `workers` data-path threads. Worker `i` owns one web
//!   UDP port: `web_listen.port() + i` (port 0: an ephemeral port per worker). One port
//!   per worker, rather than one SO_REUSEPORT port for all, because the ICE-lite agent
//!   and the DTLS hand-over of a call live in one worker: the kernel's REUSEPORT hash
//!   would send a browser's packets to whichever worker its 5-tuple hashes to.
//! - `allocate` picks a worker round robin, reserves an IMS port (and, with
//!   [`WebPorts::PerCall`], a web port, which the allocation's candidate names) and draws
//!   ICE credentials and SDES keys from the OS CSPRNG; no worker is told anything yet.
//! - The first `update` sends [`Command::Allocate`] (then [`Command::OpenWebPort`] for a
//!   per-call web port, [`Command::ConfigureRtcp`]: the gateway's RTCP per leg, with the
//!   IMS port+1 bound unless the IMS side muxes) and [`Command::StartWebRtc`] to the call's worker and spawns the call's [`media_plane::datapath::DtlsPort::run`] on the
//!   runtime handle given to `start`. Later updates (re-INVITE) move the IMS remote
//!   ([`Command::Update`]) and apply an ICE restart prepared by `restart_webrtc`; the
//!   browser's DTLS is never touched.
//! - Every method returns at once; a full worker queue is [`MediaError::Busy`].
//! - Metrics (`metrics.rs`, `docs/metrics.md` "Media"): each worker publishes plain
//!   totals; its pump thread turns them into Prometheus counters and gauges every
//!   500 ms and times ICE nomination and the DTLS handshake from the worker's events.
//!
//! - Directions: the negotiated `MediaFlow` (hold, resume) goes to the worker as
//!   [`Command::SetFlow`]; media toward a leg that does not receive is dropped there
//!   after authentication (`rtcgate_media_dropped_total{reason="direction"}`).
//!
//! - DTMF toward IMS: `send_dtmf` queues one [`Command::SendTone`] per digit with the IMS
//!   leg's telephone-event PT and clock; the worker sends it in place of the browser's
//!   next packets toward IMS (RFC 4733; `media_plane::datapath` `tones.rs`).
//!
//! Not yet (media-plane has no command for it): re-keying the IMS leg or changing its
//! payload types in a re-INVITE.

mod config;
mod events;
mod keys;
mod legs;
mod metrics;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use media_plane::datapath::{
    spawn, BackendConfig, BackendKind, BackendStats, Command, DatapathError, DtlsEnd, ImsRtcp,
    LegSide, PortAllocator, ToneRequest, WebRtcLeg, Worker, WorkerHandle,
};
use media_plane::dtls::{DtlsCertificate, DtlsSession};
use media_plane::ice::{host_candidates, LocalCredentials, RemoteCredentials};

pub use config::{MediaEngineConfig, MediaEngineError, WebPorts};
use events::EventSink;
pub use events::MediaEvents;

use crate::media::{MediaAllocation, MediaControl, MediaError, MediaEvent, MediaSessionId};
use crate::sdp::{Crypto, CryptoSuite, Fingerprint, Negotiated};

/// One data-path thread as the engine sees it.
#[derive(Debug)]
struct WorkerSlot {
    handle: WorkerHandle,
    /// Advertised web address (the candidate's).
    web: SocketAddr,
    /// The shared web socket's bound address (per-call web ports bind on its IP).
    bound: SocketAddr,
    candidate: String,
    kind: BackendKind,
}

/// A live media session.
#[derive(Debug)]
struct Session {
    worker: usize,
    ims_port: u16,
    /// The call's own web port ([`WebPorts::PerCall`]).
    web_port: Option<u16>,
    local: LocalCredentials,
    /// Fresh local credentials from `restart_webrtc`, applied with the browser's new
    /// ones at the next `update`.
    restart: Option<LocalCredentials>,
    allocation: MediaAllocation,
    /// Set by the first `update`.
    installed: Option<Installed>,
}

/// What the data path runs for a session.
#[derive(Debug)]
struct Installed {
    ims_remote: SocketAddr,
    /// The IMS leg's RTCP arrangement (rtcp-mux or port+1, the far end's `a=rtcp:`).
    ims_rtcp: ImsRtcp,
    ims_srtp: Option<(Crypto, Crypto)>,
    remote_ice: (String, String),
    /// Media toward the browser, toward IMS (SDP directions; hold closes one).
    flow: (bool, bool),
    /// The IMS leg's telephone-event (PT, clock) and the audio clock, for `send_dtmf`.
    tone: Option<(u8, u32, u32)>,
    dtls: tokio::task::JoinHandle<()>,
}

/// What `send_dtmf` needs of the negotiated media.
fn tone_params(n: &Negotiated) -> Option<(u8, u32, u32)> {
    n.dtmf.map(|t| (t.ims_pt, t.ims_rate, n.codec.clock_rate))
}

fn set_flow(id: MediaSessionId, (to_web, to_ims): (bool, bool)) -> Command {
    Command::SetFlow {
        call: id.0,
        to_web,
        to_ims,
    }
}

/// The media plane behind the call core's [`MediaControl`] (see the module doc).
#[derive(Debug)]
pub struct MediaEngine {
    workers: Vec<WorkerSlot>,
    pumps: Vec<JoinHandle<Result<BackendStats, DatapathError>>>,
    next: usize,
    ports: PortAllocator,
    /// Per-call web ports ([`WebPorts::PerCall`]); `None`: the shared ports.
    web_ports: Option<PortAllocator>,
    web_public_ip: Option<IpAddr>,
    ims_ip: IpAddr,
    ims_srtp: bool,
    certificate: DtlsCertificate,
    fingerprint: Fingerprint,
    sessions: HashMap<MediaSessionId, Session>,
    runtime: tokio::runtime::Handle,
    sink: EventSink,
}

impl MediaEngine {
    /// Starts the workers with a freshly generated DTLS certificate. `runtime` runs the
    /// per-call DTLS tasks. Returns the engine and its event stream (feed each event to
    /// the call core's `handle_media_event`).
    pub fn start(
        cfg: MediaEngineConfig,
        runtime: tokio::runtime::Handle,
    ) -> Result<(Self, MediaEvents), MediaEngineError> {
        Self::start_with_certificate(cfg, DtlsCertificate::generate()?, runtime)
    }

    /// [`MediaEngine::start`] with a given certificate.
    pub fn start_with_certificate(
        cfg: MediaEngineConfig,
        certificate: DtlsCertificate,
        runtime: tokio::runtime::Handle,
    ) -> Result<(Self, MediaEvents), MediaEngineError> {
        if cfg.workers == 0 {
            return Err(MediaEngineError::Config("workers must be at least 1"));
        }
        if cfg.ims_ip.is_unspecified() {
            return Err(MediaEngineError::Config(
                "ims_ip must be a concrete address (it is written into the IMS SDP)",
            ));
        }
        if cfg.web_listen.ip().is_unspecified() && cfg.web_public_ip.is_none() {
            return Err(MediaEngineError::Config(
                "a wildcard web_listen needs web_public_ip for the ICE candidate",
            ));
        }
        let web_first = cfg.web_listen.port();
        let web_last = u16::try_from(cfg.workers - 1)
            .ok()
            .and_then(|n| web_first.checked_add(n))
            .ok_or(MediaEngineError::Config(
                "web_listen port + workers exceeds 65535",
            ))?;
        // RTCP of the last even port is the next one, even past the range's end.
        let ims_last = *cfg.ims_ports.end() | 1;
        let overlaps = *cfg.ims_ports.start() <= web_last && web_first <= ims_last;
        if web_first != 0 && overlaps {
            return Err(MediaEngineError::Config(
                "ims_ports must not contain the workers' web ports",
            ));
        }
        let web_ports = match &cfg.web_ports {
            WebPorts::Shared => None,
            WebPorts::PerCall(range) => {
                let (first, last) = (*range.start(), *range.end());
                if first <= ims_last && *cfg.ims_ports.start() <= last {
                    return Err(MediaEngineError::Config(
                        "web_ports must not overlap ims_ports",
                    ));
                }
                if web_first != 0 && first <= web_last && web_first <= last {
                    return Err(MediaEngineError::Config(
                        "web_ports must not contain the workers' shared web ports",
                    ));
                }
                Some(PortAllocator::every_port(first, last, cfg.quarantine)?)
            }
        };
        let fingerprint = Fingerprint::parse(certificate.sdp_fingerprint())
            .ok_or(MediaEngineError::Config("certificate fingerprint"))?;
        let ports =
            PortAllocator::new(*cfg.ims_ports.start(), *cfg.ims_ports.end(), cfg.quarantine)?;
        metrics::init();
        let (sink, events) = EventSink::channel(cfg.event_queue);
        let mut engine = Self {
            workers: Vec::with_capacity(cfg.workers),
            pumps: Vec::with_capacity(cfg.workers),
            next: 0,
            ports,
            web_ports,
            web_public_ip: cfg.web_public_ip,
            ims_ip: cfg.ims_ip,
            ims_srtp: cfg.ims_srtp,
            certificate,
            fingerprint,
            sessions: HashMap::new(),
            runtime,
            sink,
        };
        for i in 0..cfg.workers {
            // On error, dropping `engine` stops the workers started so far.
            engine.spawn_worker(&cfg, i)?;
        }
        Ok((engine, events))
    }

    fn spawn_worker(&mut self, cfg: &MediaEngineConfig, i: usize) -> Result<(), MediaEngineError> {
        let mut addr = cfg.web_listen;
        if addr.port() != 0 {
            // Checked in `start_with_certificate`: the last worker's port fits.
            let port = u16::try_from(i)
                .ok()
                .and_then(|i| addr.port().checked_add(i))
                .ok_or(MediaEngineError::Config(
                    "web_listen port + workers exceeds 65535",
                ))?;
            addr.set_port(port);
        }
        let bind = |source| MediaEngineError::Bind { addr, source };
        let web = UdpSocket::bind(addr).map_err(bind)?;
        let bound = web.local_addr().map_err(bind)?;
        let (worker, handle) = Worker::new(bound.port(), cfg.inactivity, cfg.command_queue.max(1));
        let backend = BackendConfig {
            backend: cfg.backend,
            ims_ip: cfg.ims_ip,
            ..BackendConfig::default()
        };
        let exporter = metrics::WorkerExporter::new(i, worker.metrics());
        let running = spawn(worker, web, backend)?;
        let kind = running.backend();
        let (web_addr, candidate) = web_candidate(bound, cfg.web_public_ip)
            .ok_or(MediaEngineError::Config("web candidate"))?;
        let pump = events::pump(i, running, self.sink.clone(), exporter)
            .map_err(MediaEngineError::Thread)?;
        tracing::info!(worker = i, web = %bound, backend = kind.as_str(), "media worker up");
        self.workers.push(WorkerSlot {
            handle,
            web: web_addr,
            bound,
            candidate,
            kind,
        });
        self.pumps.push(pump);
        Ok(())
    }

    /// The backend each worker runs, by worker index.
    pub fn backends(&self) -> Vec<BackendKind> {
        self.workers.iter().map(|w| w.kind).collect()
    }

    /// The advertised web address of each worker, by worker index.
    pub fn web_addresses(&self) -> Vec<SocketAddr> {
        self.workers.iter().map(|w| w.web).collect()
    }

    /// The gateway's DTLS certificate fingerprint (`sha-256 AB:…`).
    pub fn fingerprint(&self) -> &str {
        self.certificate.sdp_fingerprint()
    }

    /// Live sessions.
    pub fn sessions(&self) -> usize {
        self.sessions.len()
    }

    /// Events dropped because [`MediaEvents`] was full.
    pub fn events_dropped(&self) -> u64 {
        self.sink.dropped()
    }

    /// Stops every worker and waits for their threads; returns each backend's counters.
    /// Blocks: call it from `spawn_blocking` or outside the runtime.
    pub fn shutdown(mut self) -> Vec<Result<BackendStats, DatapathError>> {
        self.stop_workers();
        self.workers.clear(); // the last handles: the workers see their queues closed
        self.pumps
            .drain(..)
            .map(|p| {
                p.join().unwrap_or(Err(DatapathError::Io {
                    op: "media event thread",
                    kind: std::io::ErrorKind::Other,
                }))
            })
            .collect()
    }

    fn stop_workers(&mut self) {
        for s in self.sessions.values() {
            if let Some(i) = &s.installed {
                i.dtls.abort();
            }
        }
        self.sessions.clear();
        for w in &self.workers {
            // A full queue: dropping the handle below stops the worker as well.
            let _ = w.handle.send(Command::Stop);
        }
    }

    fn allocation(
        &self,
        worker: usize,
        ims_port: u16,
        web_port: Option<u16>,
        local: &LocalCredentials,
    ) -> Option<MediaAllocation> {
        let w = &self.workers[worker];
        let (web, candidate) = match web_port {
            Some(port) => web_candidate(SocketAddr::new(w.bound.ip(), port), self.web_public_ip)?,
            None => (w.web, w.candidate.clone()),
        };
        Some(MediaAllocation {
            ice_ufrag: local.ufrag().as_str().to_owned(),
            ice_pwd: local.pwd().to_owned(),
            fingerprint: self.fingerprint.clone(),
            candidates: vec![candidate],
            webrtc_address: web,
            ims_address: SocketAddr::new(self.ims_ip, ims_port),
            sdes_keys: Vec::new(),
        })
    }

    /// Returns a session's reserved ports to their allocators.
    fn release_ports(&mut self, ims_port: u16, web_port: Option<u16>) {
        let now = Instant::now();
        self.ports.release(ims_port, now);
        if let (Some(port), Some(ports)) = (web_port, self.web_ports.as_mut()) {
            ports.release(port, now);
        }
    }

    /// The first `update`: the call's session and WebRTC leg in its worker, and its DTLS
    /// task on the runtime.
    fn install(&mut self, id: MediaSessionId, n: &Negotiated) -> Result<Installed, MediaError> {
        let s = self.sessions.get(&id).ok_or(MediaError::UnknownSession)?;
        let handle = &self.workers[s.worker].handle;
        let remote = RemoteCredentials::new(&n.webrtc.ice_ufrag, &n.webrtc.ice_pwd)
            .map_err(|e| MediaError::Refused(format!("browser ICE credentials: {e}")))?;
        let params = legs::dtls_params(n)?;
        let web = legs::web_leg(n)?;
        let ims = legs::ims_leg(n)?;
        send(
            handle,
            Command::Allocate {
                call: id.0,
                web: Box::new(web),
                ims: Box::new(ims),
                ims_port: s.ims_port,
            },
        )?;
        if let Some(port) = s.web_port {
            if let Err(e) = send(handle, Command::OpenWebPort { call: id.0, port }) {
                let _ = handle.send(Command::Release { call: id.0 });
                return Err(e);
            }
        }
        // In the same queue turn as the allocation: Ready waits for the RTCP socket.
        let rtcp = legs::rtcp(n).and_then(|rtcp| {
            let cmd = Command::ConfigureRtcp {
                call: id.0,
                rtcp: Box::new(rtcp),
            };
            send(handle, cmd)
        });
        if let Err(e) = rtcp {
            let _ = handle.send(Command::Release { call: id.0 });
            return Err(e);
        }
        let flow = (n.flow.to_webrtc, n.flow.to_ims);
        if flow != (true, true) {
            if let Err(e) = send(handle, set_flow(id, flow)) {
                let _ = handle.send(Command::Release { call: id.0 });
                return Err(e);
            }
        }
        let (link, port) = handle.dtls_link(id.0);
        let leg = WebRtcLeg {
            local: s.local.clone(),
            remote: Some(remote),
            dtls: link,
        };
        if let Err(e) = send(
            handle,
            Command::StartWebRtc {
                call: id.0,
                leg: Box::new(leg),
            },
        ) {
            let _ = handle.send(Command::Release { call: id.0 });
            return Err(e);
        }
        let mut session = DtlsSession::new(self.certificate.clone());
        let started = {
            let _runtime = self.runtime.enter();
            session.start(params)
        };
        if let Err(e) = started {
            let _ = handle.send(Command::Release { call: id.0 });
            return Err(MediaError::Refused(format!("DTLS: {e}")));
        }
        let dtls = self.runtime.spawn(dtls_task(
            id,
            port,
            session,
            handle.clone(),
            self.sink.clone(),
        ));
        tracing::info!(
            media = id.0,
            worker = s.worker,
            port = s.ims_port,
            "media session installed"
        );
        Ok(Installed {
            ims_remote: n.ims_remote,
            ims_rtcp: legs::ims_rtcp(n),
            ims_srtp: n.ims_srtp.clone(),
            remote_ice: (n.webrtc.ice_ufrag.clone(), n.webrtc.ice_pwd.clone()),
            flow,
            tone: tone_params(n),
            dtls,
        })
    }

    /// A later `update` (re-INVITE or browser re-offer).
    fn reinstall(&mut self, id: MediaSessionId, n: &Negotiated) -> Result<(), MediaError> {
        let s = self
            .sessions
            .get_mut(&id)
            .ok_or(MediaError::UnknownSession)?;
        let handle = &self.workers[s.worker].handle;
        let Some(installed) = s.installed.as_mut() else {
            return Err(MediaError::UnknownSession);
        };
        if installed.ims_srtp != n.ims_srtp {
            return Err(MediaError::Refused(
                "re-keying the IMS leg is not supported by the media plane yet".into(),
            ));
        }
        if installed.ims_remote != n.ims_remote {
            send(
                handle,
                Command::Update {
                    call: id.0,
                    leg: LegSide::Ims,
                    remote: n.ims_remote,
                },
            )?;
            installed.ims_remote = n.ims_remote;
        }
        let flow = (n.flow.to_webrtc, n.flow.to_ims);
        if installed.flow != flow {
            // Hold or resume (RFC 3264 §8.4): the directions of the new offer/answer.
            send(handle, set_flow(id, flow))?;
            installed.flow = flow;
        }
        installed.tone = tone_params(n);
        if installed.ims_rtcp != legs::ims_rtcp(n) {
            // A new RTCP arrangement restarts the call's RTCP (and opens or closes port+1).
            let rtcp = legs::rtcp(n)?;
            let cmd = Command::ConfigureRtcp {
                call: id.0,
                rtcp: Box::new(rtcp),
            };
            send(handle, cmd)?;
            installed.ims_rtcp = legs::ims_rtcp(n);
        }
        let remote_ice = (n.webrtc.ice_ufrag.clone(), n.webrtc.ice_pwd.clone());
        if let Some(fresh) = s
            .restart
            .as_ref()
            .filter(|_| installed.remote_ice != remote_ice)
        {
            let remote = RemoteCredentials::new(&remote_ice.0, &remote_ice.1)
                .map_err(|e| MediaError::Refused(format!("browser ICE credentials: {e}")))?;
            send(
                handle,
                Command::RemoteIceCredentials {
                    call: id.0,
                    remote,
                    fresh_local: fresh.clone(),
                },
            )?;
            s.local = fresh.clone();
            s.restart = None;
            installed.remote_ice = remote_ice;
            tracing::info!(media = id.0, "ICE restart applied");
        }
        Ok(())
    }
}

/// The host candidate of web address `bound` (advertised with `public_ip` if given):
/// its address and its `a=candidate` value.
fn web_candidate(bound: SocketAddr, public_ip: Option<IpAddr>) -> Option<(SocketAddr, String)> {
    host_candidates(&[bound], public_ip).first().map(|c| {
        let mut line = String::new();
        // Writing into a String cannot fail.
        let _ = c.write_sdp_attribute(&mut line);
        (
            c.address,
            line.trim_start_matches("a=candidate:").to_owned(),
        )
    })
}

/// Queues `cmd` on a worker; a full queue is [`MediaError::Busy`].
fn send(handle: &WorkerHandle, cmd: Command) -> Result<(), MediaError> {
    handle.send(cmd).map_err(|e| match e {
        DatapathError::QueueFull => MediaError::Busy,
        other => {
            tracing::error!(error = %other, "media worker unreachable");
            MediaError::Busy
        }
    })
}

/// The call's DTLS driver; its failure becomes [`MediaEvent::DtlsFailed`].
async fn dtls_task(
    id: MediaSessionId,
    port: media_plane::datapath::DtlsPort,
    session: DtlsSession,
    handle: WorkerHandle,
    sink: EventSink,
) {
    match port.run(session, handle).await {
        DtlsEnd::Failed(e) => {
            metrics::dtls_failed(&e);
            sink.emit(MediaEvent::DtlsFailed {
                id,
                reason: e.to_string(),
            });
        }
        DtlsEnd::Closed => tracing::info!(media = id.0, "browser closed DTLS"),
        DtlsEnd::Released => tracing::debug!(media = id.0, "DTLS driver released"),
        other => tracing::debug!(media = id.0, end = ?other, "DTLS driver ended"),
    }
}

/// How long a release keeps retrying a full worker queue before it gives up (the
/// session then ends by inactivity in the worker).
const RELEASE_RETRY_FOR: Duration = Duration::from_secs(2);
const RELEASE_RETRY_EVERY: Duration = Duration::from_millis(2);

impl MediaControl for MediaEngine {
    fn allocate(&mut self, id: MediaSessionId) -> Result<MediaAllocation, MediaError> {
        if self.sessions.contains_key(&id) {
            self.release(id);
        }
        let local = keys::ice_credentials()?;
        let sdes_keys = if self.ims_srtp {
            keys::sdes_keys()?
        } else {
            Vec::new()
        };
        let now = Instant::now();
        let web_port = match self.web_ports.as_mut() {
            None => None,
            Some(ports) => Some(ports.allocate(now).map_err(|e| match e {
                DatapathError::PortsExhausted => {
                    tracing::warn!(media = id.0, "no per-call web port free");
                    MediaError::PortsExhausted
                }
                _ => MediaError::Busy,
            })?),
        };
        let ims_port = match self.ports.allocate(now) {
            Ok(p) => p,
            Err(e) => {
                if let (Some(port), Some(ports)) = (web_port, self.web_ports.as_mut()) {
                    ports.release(port, now);
                }
                return Err(match e {
                    DatapathError::PortsExhausted => {
                        metrics::ports_exhausted();
                        MediaError::PortsExhausted
                    }
                    _ => MediaError::Busy,
                });
            }
        };
        let worker = self.next % self.workers.len();
        self.next = self.next.wrapping_add(1);
        let Some(mut allocation) = self.allocation(worker, ims_port, web_port, &local) else {
            self.release_ports(ims_port, web_port);
            return Err(MediaError::Refused("web candidate".into()));
        };
        allocation.sdes_keys = sdes_keys;
        self.sessions.insert(
            id,
            Session {
                worker,
                ims_port,
                web_port,
                local,
                restart: None,
                allocation: allocation.clone(),
                installed: None,
            },
        );
        tracing::debug!(
            media = id.0,
            worker,
            port = ims_port,
            ?web_port,
            "media allocated"
        );
        Ok(allocation)
    }

    fn update(&mut self, id: MediaSessionId, negotiated: &Negotiated) -> Result<(), MediaError> {
        let s = self.sessions.get(&id).ok_or(MediaError::UnknownSession)?;
        if s.installed.is_some() {
            return self.reinstall(id, negotiated);
        }
        let installed = self.install(id, negotiated)?;
        if let Some(s) = self.sessions.get_mut(&id) {
            s.installed = Some(installed);
        }
        Ok(())
    }

    fn restart_webrtc(&mut self, id: MediaSessionId) -> Result<MediaAllocation, MediaError> {
        let fresh = keys::ice_credentials()?;
        let s = self
            .sessions
            .get_mut(&id)
            .ok_or(MediaError::UnknownSession)?;
        s.allocation.ice_ufrag = fresh.ufrag().as_str().to_owned();
        s.allocation.ice_pwd = fresh.pwd().to_owned();
        if s.installed.is_some() {
            // Applied with the browser's new credentials at the next update.
            s.restart = Some(fresh);
        } else {
            s.local = fresh;
        }
        Ok(s.allocation.clone())
    }

    /// The worker turns the browser's next packets toward IMS into the event
    /// (`media_plane::datapath` `tones.rs`).
    fn send_dtmf(
        &mut self,
        id: MediaSessionId,
        digit: char,
        duration_ms: u32,
    ) -> Result<(), MediaError> {
        let s = self.sessions.get(&id).ok_or(MediaError::UnknownSession)?;
        let installed = s
            .installed
            .as_ref()
            .ok_or_else(|| MediaError::Refused("media not negotiated yet".into()))?;
        let (pt, event_hz, stream_hz) = installed.tone.ok_or_else(|| {
            MediaError::Refused("no telephone-event negotiated on the IMS leg".into())
        })?;
        let event = ToneRequest::dtmf_event(digit)
            .ok_or_else(|| MediaError::Refused(format!("{digit:?} is not a DTMF digit")))?;
        let tone = ToneRequest {
            event,
            duration: Duration::from_millis(u64::from(duration_ms)),
            pt,
            event_hz,
            stream_hz,
        };
        send(
            &self.workers[s.worker].handle,
            Command::SendTone { call: id.0, tone },
        )?;
        tracing::debug!(media = id.0, %digit, duration_ms, "DTMF queued toward IMS");
        Ok(())
    }

    fn release(&mut self, id: MediaSessionId) {
        let Some(s) = self.sessions.remove(&id) else {
            return;
        };
        self.release_ports(s.ims_port, s.web_port);
        let Some(installed) = s.installed else {
            return;
        };
        let handle = &self.workers[s.worker].handle;
        match handle.send_returning(Command::Release { call: id.0 }) {
            // The worker drops the DTLS link: the DTLS task ends by itself.
            Ok(()) => {}
            Err((DatapathError::QueueFull, cmd)) => {
                installed.dtls.abort();
                let handle = handle.clone();
                self.runtime.spawn(release_later(handle, cmd));
            }
            Err(_) => installed.dtls.abort(),
        }
        tracing::debug!(media = id.0, "media released");
    }
}

/// Retries a release the worker's full queue refused.
async fn release_later(handle: WorkerHandle, mut cmd: Command) {
    let give_up = tokio::time::Instant::now() + RELEASE_RETRY_FOR;
    loop {
        match handle.send_returning(cmd) {
            Ok(()) => return,
            Err((DatapathError::QueueFull, back)) if tokio::time::Instant::now() < give_up => {
                cmd = back;
                tokio::time::sleep(RELEASE_RETRY_EVERY).await;
            }
            Err((e, _)) => {
                tracing::warn!(error = %e, "media release not delivered");
                return;
            }
        }
    }
}

impl Drop for MediaEngine {
    fn drop(&mut self) {
        self.stop_workers();
    }
}

/// The suites an allocation offers, for callers that describe the engine.
pub const OFFERED_SDES_SUITES: [CryptoSuite; 3] = keys::OFFERED_SUITES;
