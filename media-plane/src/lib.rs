//! # media-plane — everything that touches a media packet
//!
//! ```text
//!   browser (ICE-lite + DTLS-SRTP)                      IMS far end (SRTP/SDES or RTP)
//!        │ UDP                                                   ▲ UDP
//!        ▼                                                       │
//!   demux by first byte (RFC 7983) ──► STUN ──► ICE-lite agent   │
//!        │            └──────────────► DTLS ──► slow path (keys)─┤
//!        ▼ SRTP/SRTCP                                            │
//!   srtp engine: unprotect(leg A) → rewrite header → protect(leg B), in place
//! ```
//!
//! This crate knows nothing about SIP or HTTP. The call core in `sip-proxy` reaches it
//! through a media-control interface; packets never leave the worker thread that owns
//! their call.
//!
//! Entry points:
//! - [`redact`]: the one helper every layer uses to keep phone numbers, SIP URIs and IP
//!   addresses out of logs when the operator asks for it (it lives here because this is
//!   the crate every other crate already depends on).
//! - [`srtp`]: SRTP/SRTCP protect and unprotect in place, and the transcode primitive
//!   (`srtp::srtp_to_srtp`) the data path calls for every media packet; [`rtp`]: the
//!   zero-copy RTP/RTCP header views it uses; [`rtcp`]: the RFC 3550 compound reports
//!   the gateway writes per leg (SR/RR + SDES CNAME) and the SR sender info it reads.
//! - [`demux`]: RFC 7983 first-byte classification and the shared-port routing table
//!   (`demux::DemuxTable::route`: STUN by local ufrag, DTLS/SRTP by latched 5-tuple).
//! - [`ice`]: the sans-IO ICE-lite agent of a call (`ice::IceLiteAgent::handle_stun`,
//!   `poll_event`, `poll_timeout`), its credentials and `a=candidate` lines.
//! - [`stun`]: zero-copy STUN parsing (`stun::Message::parse`) and writing
//!   (`stun::MessageWriter`) with MESSAGE-INTEGRITY and FINGERPRINT.
//! - [`datapath`]: the sans-IO call session (`datapath::Session::handle_rtp`,
//!   `poll_event`, `poll_timeout`), the per-thread `datapath::Worker` with the WebRTC leg
//!   of each call on its shared web port (`datapath::Command::StartWebRtc`: demux, ICE-lite,
//!   DTLS hand-over to `datapath::DtlsPort::run`, `Worker::poll_transmit`,
//!   `Command::InstallWebKeys`), its socket backends (`datapath::spawn` with
//!   `datapath::Backend`: epoll + recvmmsg/sendmmsg, or io_uring) and the IMS-leg
//!   `datapath::PortAllocator`.
//! - [`dtls`]: DTLS-SRTP on the slow path: the certificate and SDP fingerprint
//!   (`dtls::DtlsCertificate::generate`, `dtls::Fingerprint::parse_sdp`) and the per-call
//!   `dtls::DtlsSession` (`handle_datagram`, `start(DtlsParams)`, `next_output` →
//!   datagrams to send and `Connected` with the leg's two `SrtpContext`s, or `Failed`).
#![warn(missing_docs)]
// `unsafe` lives only in `sys` (system calls and CPU instructions), audited there.
#![deny(unsafe_code)]

pub mod datapath;
pub mod demux;
pub mod dtls;
pub mod ice;
pub mod redact;
pub mod rtcp;
pub mod rtp;
pub mod srtp;
pub mod stun;
#[allow(unsafe_code)]
mod sys;
