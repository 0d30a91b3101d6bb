//! The media engine's configuration and start-up errors.

use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::time::Duration;

use media_plane::datapath::{Backend, DatapathError};
use media_plane::dtls::DtlsError;

#[cfg(doc)]
use super::{MediaEngine, MediaEvents};

/// Where the browsers' media (STUN, DTLS, SRTP) reaches the gateway.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum WebPorts {
    /// All calls of a worker share the worker's web port (`web_listen` port `+ i`),
    /// told apart by RFC 7983 demultiplexing: STUN by ICE ufrag, DTLS and SRTP by the
    /// 5-tuple an authenticated check latched.
    #[default]
    Shared,
    /// Each call gets its own UDP port from this range, on `web_listen`'s IP, named in
    /// its `a=candidate`; a released port rests for `quarantine` like the IMS ports. Every
    /// port of the range is used (rtcp-mux: no even/odd rule). The range must not
    /// overlap `ims_ports` or the workers' shared web ports (which stay bound).
    PerCall(RangeInclusive<u16>),
}

/// How [`MediaEngine::start`] sets up the media plane.
#[derive(Debug, Clone)]
pub struct MediaEngineConfig {
    /// Data-path threads (at least 1).
    pub workers: usize,
    /// Socket backend of every worker.
    pub backend: Backend,
    /// Web (WebRTC) listen address of worker 0; worker `i` binds port `+ i` (port 0: an
    /// ephemeral port each).
    pub web_listen: SocketAddr,
    /// Address advertised in the browser's `a=candidate` (a static 1:1 NAT's public IP);
    /// required when `web_listen` is a wildcard address.
    pub web_public_ip: Option<IpAddr>,
    /// Shared web port per worker (the default) or a port per call.
    pub web_ports: WebPorts,
    /// Local IP of the IMS-leg sockets, also written into the IMS SDP; must not be a
    /// wildcard.
    pub ims_ip: IpAddr,
    /// IMS-leg RTP ports (even ports of the range are used). RTCP uses each one's next
    /// (odd) port, bound unless the IMS side muxes (RFC 3550 §11), even when that is one
    /// past the range's end: the web ports must not take it either.
    pub ims_ports: RangeInclusive<u16>,
    /// Whether the IMS leg offers SDES-SRTP (`RTP/SAVP`) rather than plain RTP.
    pub ims_srtp: bool,
    /// How long a released IMS port rests before reuse. Keep it well above zero in
    /// production: it also covers the moment between a release and the worker closing
    /// the port's socket, when another worker could not bind it yet.
    pub quarantine: Duration,
    /// Silence on a leg for this long raises the session's inactivity event.
    pub inactivity: Duration,
    /// Capacity of each worker's command queue.
    pub command_queue: usize,
    /// Capacity of the [`MediaEvents`] channel.
    pub event_queue: usize,
}

impl Default for MediaEngineConfig {
    fn default() -> Self {
        Self {
            workers: 1,
            backend: Backend::Auto,
            web_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            web_public_ip: None,
            web_ports: WebPorts::Shared,
            ims_ip: IpAddr::from([127, 0, 0, 1]),
            ims_ports: 30_000..=39_999,
            ims_srtp: true,
            quarantine: Duration::from_secs(30),
            inactivity: Duration::from_secs(30),
            command_queue: 1024,
            event_queue: 4096,
        }
    }
}

/// Why the engine could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MediaEngineError {
    /// The configuration cannot work (names the field).
    #[error("media engine config: {0}")]
    Config(&'static str),
    /// A worker's web port could not be bound.
    #[error("cannot bind web media port {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The data path refused (bad port range, backend unavailable, set-up syscall).
    #[error(transparent)]
    Datapath(#[from] DatapathError),
    /// The DTLS certificate could not be generated.
    #[error(transparent)]
    Dtls(#[from] DtlsError),
    /// A thread could not be spawned.
    #[error("cannot spawn media event thread: {0}")]
    Thread(std::io::Error),
}
