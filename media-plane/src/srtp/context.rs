//! [`SrtpContext`]: one direction of one leg — keys scheduled once, per-SSRC state,
//! in-place protect/unprotect of SRTP (RFC 3711 §3.1, RFC 7714 §8) and SRTCP
//! (RFC 3711 §3.4, RFC 7714 §9).
//!
//! ```text
//! SRTP   (AES-CM):  RTP header | encrypted payload | tag(10|4)        auth = header..payload || ROC
//! SRTP   (GCM):     RTP header | encrypted payload | tag(16)          AAD  = header
//! SRTCP  (AES-CM):  hdr(8) | encrypted rest | E|index(4) | tag(10)    auth = hdr..E|index
//! SRTCP  (GCM):     hdr(8) | encrypted rest | tag(16) | E|index(4)    AAD  = hdr(8) || E|index
//! ```
//!
//! Receive order (RFC 3711 §3.3): estimate the index → replay check → authenticate →
//! decrypt → only then update ROC, `s_l` and the replay window. Every error leaves the
//! context as it was, and the buffer too except after `AuthFailed` on GCM (see
//! [`SrtpError`]).

use super::cipher::{AesCtr, AesGcm, PreparedHmac};
use super::kdf::{Kdf, SessionKeyMaterial};
use super::replay::{estimate_index, DEFAULT_REPLAY_WINDOW, MAX_SRTP_INDEX};
use super::stream::StreamTable;
use super::{SrtpError, SrtpSuite};
use crate::rtp::{RtcpHeader, RtpHeader, RTCP_FIXED_HEADER_LEN};

/// Octets of the SRTCP `E || SRTCP index` word (RFC 3711 §3.4).
pub const SRTCP_TRAILER_LEN: usize = 4;
const E_FLAG: u32 = 0x8000_0000;
const MAX_SRTCP_INDEX: u32 = 0x7fff_ffff;

/// Per-context settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SrtpConfig {
    /// Replay window in packets, SRTP and SRTCP alike (RFC 3711 §3.3.2: at least 64).
    pub replay_window: usize,
    /// SSRCs tracked at once; a new SSRC beyond this replaces the least recently used.
    pub max_streams: usize,
    /// MKI length negotiated for the keys (the `|MKI:len` of `a=crypto`, RFC 4568
    /// §6.1). Only 0 is supported; anything else is refused with
    /// [`SrtpError::MkiUnsupported`] when the context is built.
    pub mki_len: usize,
}

impl Default for SrtpConfig {
    fn default() -> Self {
        Self {
            replay_window: DEFAULT_REPLAY_WINDOW,
            max_streams: 4,
            mki_len: 0,
        }
    }
}

/// Session keys given directly instead of derived from a master key (for peers and test
/// vectors that publish session keys). `*_auth_key` are empty for the AEAD suites.
#[derive(Clone, Copy)]
pub struct SessionKeys<'a> {
    /// SRTP session encryption key.
    pub rtp_key: &'a [u8],
    /// SRTP session salt.
    pub rtp_salt: &'a [u8],
    /// SRTP session authentication key (20 octets for HMAC-SHA1).
    pub rtp_auth_key: &'a [u8],
    /// SRTCP session encryption key.
    pub rtcp_key: &'a [u8],
    /// SRTCP session salt.
    pub rtcp_salt: &'a [u8],
    /// SRTCP session authentication key.
    pub rtcp_auth_key: &'a [u8],
}

impl std::fmt::Debug for SessionKeys<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKeys(..)")
    }
}

/// The keyed transform of one of SRTP/SRTCP.
// `aes` 0.8 keeps a software key schedule beside the AES-NI one (~1 KB for AES-256);
// a context is built once per stream and never moved per packet, and boxing the
// cipher would cost a pointer chase on every packet.
#[allow(clippy::large_enum_variant)]
#[derive(Clone)]
enum Transform {
    AesCm(AesCtr, PreparedHmac),
    Null(PreparedHmac),
    Gcm(AesGcm),
}

#[derive(Clone)]
struct Session {
    transform: Transform,
    salt: [u8; 14],
}

impl Session {
    fn new(suite: SrtpSuite, m: &SessionKeyMaterial) -> Result<Self, SrtpError> {
        let transform = match suite {
            SrtpSuite::AeadAes128Gcm | SrtpSuite::AeadAes256Gcm => {
                Transform::Gcm(AesGcm::new(m.key())?)
            }
            SrtpSuite::NullHmacSha1_80 => Transform::Null(PreparedHmac::new(&m.auth)?),
            _ => Transform::AesCm(AesCtr::new(m.key())?, PreparedHmac::new(&m.auth)?),
        };
        Ok(Self {
            transform,
            salt: m.salt,
        })
    }
}

/// RFC 3711 §4.1.1: IV = (k_s * 2^16) XOR (SSRC * 2^64) XOR (i * 2^16).
pub(super) fn cm_iv(salt: &[u8; 14], ssrc: u32, index: u64) -> [u8; 16] {
    cm_iv_u128(salt, ssrc, index).to_be_bytes()
}

/// [`cm_iv`] as a big-endian number, computed in registers (the fused transcode
/// hands it to its kernel without a round trip through memory).
pub(super) fn cm_iv_u128(salt: &[u8; 14], ssrc: u32, index: u64) -> u128 {
    let mut k_s = [0u8; 16];
    k_s[..14].copy_from_slice(salt);
    u128::from_be_bytes(k_s) ^ u128::from(ssrc) << 64 ^ u128::from(index & MAX_SRTP_INDEX) << 16
}

/// RFC 7714 §8.1 (SRTP) and §9.1 (SRTCP): IV = (0x0000 || SSRC || ROC || SEQ) XOR salt,
/// resp. (0x0000 || SSRC || 0x0000 || SRTCP index) XOR salt. Both are the 48-bit index
/// in the last six octets.
fn gcm_iv(salt: &[u8; 14], ssrc: u32, index: u64) -> [u8; 12] {
    let mut iv = [0u8; 12];
    iv.copy_from_slice(&salt[..12]);
    xor_into(&mut iv[2..6], &ssrc.to_be_bytes());
    xor_into(&mut iv[6..12], &index.to_be_bytes()[2..]);
    iv
}

fn xor_into(dst: &mut [u8], src: &[u8]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d ^= s;
    }
}

fn room(buf: &[u8], needed: usize) -> Result<(), SrtpError> {
    if buf.len() < needed {
        return Err(SrtpError::BufferTooSmall {
            needed,
            available: buf.len(),
        });
    }
    Ok(())
}

/// One direction of SRTP/SRTCP on one leg: the session keys, scheduled once, and the
/// per-SSRC ROC/replay state.
///
/// Use one context per direction: the browser's keys for what the browser sends, ours
/// for what we send. All packet functions work in place on `buf[..len]` and, for
/// protect, write the tag (and SRTCP trailer) into the tailroom `buf[len..]`.
#[derive(Clone)]
pub struct SrtpContext {
    suite: SrtpSuite,
    rtp: Session,
    rtcp: Session,
    streams: StreamTable,
}

impl std::fmt::Debug for SrtpContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SrtpContext")
            .field("suite", &self.suite)
            .finish_non_exhaustive()
    }
}

impl SrtpContext {
    /// Builds a context from a master key and salt (SDES `inline:` or DTLS-SRTP
    /// exported keying material), deriving session keys with KDR 0 (RFC 3711 §4.3).
    pub fn new(
        suite: SrtpSuite,
        master_key: &[u8],
        master_salt: &[u8],
        config: SrtpConfig,
    ) -> Result<Self, SrtpError> {
        let kdf = Kdf::new(suite, master_key, master_salt)?;
        Self::build(
            suite,
            &kdf.session(suite, false),
            &kdf.session(suite, true),
            config,
        )
    }

    /// Builds a context from session keys given directly (no key derivation).
    pub fn from_session_keys(
        suite: SrtpSuite,
        keys: &SessionKeys<'_>,
        config: SrtpConfig,
    ) -> Result<Self, SrtpError> {
        let rtp =
            SessionKeyMaterial::from_parts(suite, keys.rtp_key, keys.rtp_salt, keys.rtp_auth_key)?;
        let rtcp = SessionKeyMaterial::from_parts(
            suite,
            keys.rtcp_key,
            keys.rtcp_salt,
            keys.rtcp_auth_key,
        )?;
        Self::build(suite, &rtp, &rtcp, config)
    }

    fn build(
        suite: SrtpSuite,
        rtp: &SessionKeyMaterial,
        rtcp: &SessionKeyMaterial,
        config: SrtpConfig,
    ) -> Result<Self, SrtpError> {
        if config.mki_len != 0 {
            return Err(SrtpError::MkiUnsupported);
        }
        Ok(Self {
            suite,
            rtp: Session::new(suite, rtp)?,
            rtcp: Session::new(suite, rtcp)?,
            streams: StreamTable::new(config.max_streams, config.replay_window)?,
        })
    }

    /// The protection profile.
    pub fn suite(&self) -> SrtpSuite {
        self.suite
    }

    /// Highest SRTP packet index (ROC * 2^16 + SEQ) seen or sent for `ssrc`.
    pub fn srtp_index(&self, ssrc: u32) -> Option<u64> {
        self.streams
            .find(ssrc)
            .and_then(|i| self.streams.get(i))
            .and_then(|s| s.rtp.top())
    }

    /// Current rollover counter of `ssrc`.
    pub fn roc(&self, ssrc: u32) -> Option<u32> {
        self.srtp_index(ssrc).map(|i| (i >> 16) as u32)
    }

    // ---------------------------------------------------------------- SRTP

    /// Protects the RTP packet `buf[..len]` in place; returns the SRTP length
    /// (`len + tag`). The ROC follows the sequence numbers (RFC 3711 §3.3.1).
    pub fn protect_rtp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, SrtpError> {
        let (hdr_len, seq, ssrc) = rtp_fields(buf, len)?;
        room(buf, len + self.suite.srtp_tag_len())?;
        let index = estimate_index(self.srtp_index(ssrc), seq)?;
        self.seal_rtp(buf, len, hdr_len, ssrc, index)
    }

    /// Protects with an explicit ROC (the egress side of a re-originated stream, or
    /// an SDES-signalled ROC).
    pub fn protect_rtp_with_roc(
        &mut self,
        buf: &mut [u8],
        len: usize,
        roc: u32,
    ) -> Result<usize, SrtpError> {
        let (hdr_len, seq, ssrc) = rtp_fields(buf, len)?;
        room(buf, len + self.suite.srtp_tag_len())?;
        let index = (u64::from(roc) << 16) | u64::from(seq);
        self.seal_rtp(buf, len, hdr_len, ssrc, index)
    }

    fn seal_rtp(
        &mut self,
        buf: &mut [u8],
        len: usize,
        hdr_len: usize,
        ssrc: u32,
        index: u64,
    ) -> Result<usize, SrtpError> {
        let tag_len = self.suite.srtp_tag_len();
        let roc = ((index >> 16) as u32).to_be_bytes();
        let (pkt, tail) = buf.split_at_mut(len);
        let tag_out = tail.get_mut(..tag_len).ok_or(SrtpError::Truncated)?;
        let salt = &self.rtp.salt;
        match &self.rtp.transform {
            Transform::Gcm(g) => {
                // RFC 7714 §8.2: AAD = RTP header, plaintext = payload.
                let (hdr, body) = pkt.split_at_mut(hdr_len);
                let tag = g.seal(&gcm_iv(salt, ssrc, index), hdr, body)?;
                tag_out.copy_from_slice(&tag[..tag_len]);
            }
            Transform::AesCm(c, mac) => {
                // RFC 3711 §4.1.1 encrypt, then §4.2 authenticate header..payload || ROC.
                c.apply_keystream(cm_iv(salt, ssrc, index), &mut pkt[hdr_len..]);
                tag_out.copy_from_slice(&mac.tag(pkt, &roc)[..tag_len]);
            }
            Transform::Null(mac) => tag_out.copy_from_slice(&mac.tag(pkt, &roc)[..tag_len]),
        }
        self.streams.find_or_insert(ssrc).rtp.accept(index);
        Ok(len + tag_len)
    }

    /// Verifies and decrypts the SRTP packet `buf[..len]` in place; returns the RTP
    /// length. On error the context does not change (nor `buf`, but for `AuthFailed` on
    /// GCM).
    pub fn unprotect_rtp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, SrtpError> {
        let (hdr_len, seq, ssrc) = rtp_fields(buf, len)?;
        let tag_len = self.suite.srtp_tag_len();
        let body_end = len
            .checked_sub(tag_len)
            .filter(|&e| e >= hdr_len)
            .ok_or(SrtpError::Truncated)?;
        let index = self.rtp_receive_index(ssrc, seq)?;
        let roc = ((index >> 16) as u32).to_be_bytes();
        let salt = &self.rtp.salt;
        let (pkt, tag) = buf[..len].split_at_mut(body_end);
        match &self.rtp.transform {
            Transform::Gcm(g) => {
                let (hdr, body) = pkt.split_at_mut(hdr_len);
                g.open(&gcm_iv(salt, ssrc, index), hdr, body, tag)?;
            }
            Transform::AesCm(c, mac) => {
                mac.verify(pkt, &roc, tag)?;
                c.apply_keystream(cm_iv(salt, ssrc, index), &mut pkt[hdr_len..]);
            }
            Transform::Null(mac) => mac.verify(pkt, &roc, tag)?,
        }
        // RFC 3711 §3.3.1: update ROC/s_l and the window only after authentication.
        self.streams.find_or_insert(ssrc).rtp.accept(index);
        Ok(body_end)
    }

    /// RFC 3711 §3.3: the index of a received packet, then the replay check, before
    /// any crypto. Changes nothing.
    #[inline]
    pub(super) fn rtp_receive_index(&self, ssrc: u32, seq: u16) -> Result<u64, SrtpError> {
        let slot = self.streams.find(ssrc).and_then(|i| self.streams.get(i));
        let index = estimate_index(slot.and_then(|s| s.rtp.top()), seq)?;
        if let Some(s) = slot {
            s.rtp.check(index)?;
        }
        Ok(index)
    }

    /// RFC 3711 §3.3.1: records an authenticated (or sent) SRTP index: ROC, `s_l`,
    /// replay window.
    #[inline]
    pub(super) fn accept_rtp(&mut self, ssrc: u32, index: u64) {
        self.streams.find_or_insert(ssrc).rtp.accept(index);
    }

    /// The SRTP keys when the suite is AES-CM with HMAC-SHA1 (the fused transcode of
    /// `srtp::fused`); `None` for GCM and NULL.
    pub(super) fn rtp_aes_cm(&self) -> Option<(&AesCtr, &PreparedHmac, &[u8; 14])> {
        match &self.rtp.transform {
            Transform::AesCm(c, mac) => Some((c, mac, &self.rtp.salt)),
            _ => None,
        }
    }

    // --------------------------------------------------------------- SRTCP

    /// Protects the RTCP packet `buf[..len]` in place with the next SRTCP index of its
    /// sender SSRC (RFC 3711 §3.4: 0 first, +1 per packet) and E = 1 (E = 0 for the
    /// NULL suite); returns the SRTCP length.
    pub fn protect_rtcp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, SrtpError> {
        let ssrc = rtcp_ssrc(buf, len)?;
        room(buf, len + SRTCP_TRAILER_LEN + self.suite.srtcp_tag_len())?;
        let index = self
            .streams
            .find(ssrc)
            .and_then(|i| self.streams.get(i))
            .map_or(0, |s| s.rtcp_send_index);
        if index > MAX_SRTCP_INDEX {
            return Err(SrtpError::IndexExhausted);
        }
        let out = self.seal_rtcp(buf, len, ssrc, index, self.suite.encrypts())?;
        self.streams.find_or_insert(ssrc).rtcp_send_index = index + 1;
        Ok(out)
    }

    /// Protects with an explicit SRTCP index and E flag (interop and test vectors;
    /// E is forced to 0 for the NULL suite). Does not move the sending index.
    pub fn protect_rtcp_with_index(
        &mut self,
        buf: &mut [u8],
        len: usize,
        index: u32,
        encrypt: bool,
    ) -> Result<usize, SrtpError> {
        let ssrc = rtcp_ssrc(buf, len)?;
        room(buf, len + SRTCP_TRAILER_LEN + self.suite.srtcp_tag_len())?;
        if index > MAX_SRTCP_INDEX {
            return Err(SrtpError::IndexExhausted);
        }
        self.seal_rtcp(buf, len, ssrc, index, encrypt && self.suite.encrypts())
    }

    fn seal_rtcp(
        &self,
        buf: &mut [u8],
        len: usize,
        ssrc: u32,
        index: u32,
        encrypt: bool,
    ) -> Result<usize, SrtpError> {
        let tag_len = self.suite.srtcp_tag_len();
        let trailer = (if encrypt { E_FLAG } else { 0 } | index).to_be_bytes();
        let salt = &self.rtcp.salt;
        let total = len + SRTCP_TRAILER_LEN + tag_len;
        let buf = buf.get_mut(..total).ok_or(SrtpError::Truncated)?;
        match &self.rtcp.transform {
            Transform::Gcm(g) => {
                let iv = gcm_iv(salt, ssrc, u64::from(index));
                let tag = if encrypt {
                    // RFC 7714 §9.2: AAD = first 8 octets || E|index; encrypt the rest.
                    let mut aad = [0u8; RTCP_FIXED_HEADER_LEN + SRTCP_TRAILER_LEN];
                    aad[..8].copy_from_slice(&buf[..8]);
                    aad[8..].copy_from_slice(&trailer);
                    g.seal(&iv, &aad, &mut buf[8..len])?
                } else {
                    // RFC 7714 §9.3: AAD = whole packet || E|index, nothing encrypted.
                    buf[len..len + 4].copy_from_slice(&trailer);
                    g.seal(&iv, &buf[..len + 4], &mut [])?
                };
                buf[len..len + tag_len].copy_from_slice(&tag[..tag_len]);
                buf[len + tag_len..].copy_from_slice(&trailer);
            }
            Transform::AesCm(_, mac) | Transform::Null(mac) => {
                if let (true, Transform::AesCm(c, _)) = (encrypt, &self.rtcp.transform) {
                    c.apply_keystream(cm_iv(salt, ssrc, u64::from(index)), &mut buf[8..len]);
                }
                // RFC 3711 §3.4: the tag covers header, payload and E|index.
                buf[len..len + 4].copy_from_slice(&trailer);
                let tag = mac.tag(&buf[..len + 4], &[]);
                buf[len + 4..].copy_from_slice(&tag[..tag_len]);
            }
        }
        Ok(total)
    }

    /// Verifies and (if E = 1) decrypts the SRTCP packet `buf[..len]` in place; returns
    /// the RTCP length. On error the context does not change (nor `buf`, but for
    /// `AuthFailed` on GCM).
    pub fn unprotect_rtcp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, SrtpError> {
        let ssrc = rtcp_ssrc(buf, len)?;
        let tag_len = self.suite.srtcp_tag_len();
        let body_end = len
            .checked_sub(tag_len + SRTCP_TRAILER_LEN)
            .filter(|&e| e >= RTCP_FIXED_HEADER_LEN)
            .ok_or(SrtpError::Truncated)?;
        let pkt = &mut buf[..len];
        let trailer_at = if self.suite.is_aead() {
            len - 4
        } else {
            body_end
        };
        let mut trailer = [0u8; 4];
        trailer.copy_from_slice(&pkt[trailer_at..trailer_at + 4]);
        let word = u32::from_be_bytes(trailer);
        let (encrypted, index) = (word & E_FLAG != 0, word & MAX_SRTCP_INDEX);
        if let Some(s) = self.streams.find(ssrc).and_then(|i| self.streams.get(i)) {
            s.rtcp.check(u64::from(index))?;
        }
        let salt = &self.rtcp.salt;
        match &self.rtcp.transform {
            Transform::Gcm(g) => {
                let iv = gcm_iv(salt, ssrc, u64::from(index));
                let mut tag = [0u8; 16];
                tag.copy_from_slice(&pkt[body_end..body_end + 16]);
                if encrypted {
                    let mut aad = [0u8; RTCP_FIXED_HEADER_LEN + SRTCP_TRAILER_LEN];
                    aad[..8].copy_from_slice(&pkt[..8]);
                    aad[8..].copy_from_slice(&trailer);
                    g.open(&iv, &aad, &mut pkt[8..body_end], &tag)?;
                } else {
                    // AAD = packet || E|index: move E|index next to the packet, over the
                    // first octets of the tag, and put the tag back if it fails.
                    pkt[body_end..body_end + 4].copy_from_slice(&trailer);
                    if let Err(e) = g.open(&iv, &pkt[..body_end + 4], &mut [], &tag) {
                        pkt[body_end..body_end + 16].copy_from_slice(&tag);
                        return Err(e);
                    }
                }
            }
            Transform::AesCm(_, mac) | Transform::Null(mac) => {
                let (auth, tag) = pkt.split_at_mut(body_end + 4);
                mac.verify(auth, &[], tag)?;
                if let (true, Transform::AesCm(c, _)) = (encrypted, &self.rtcp.transform) {
                    c.apply_keystream(cm_iv(salt, ssrc, u64::from(index)), &mut auth[8..body_end]);
                }
            }
        }
        self.streams
            .find_or_insert(ssrc)
            .rtcp
            .accept(u64::from(index));
        Ok(body_end)
    }
}

/// Header length, sequence number and SSRC of the RTP packet `buf[..len]`.
pub(super) fn rtp_fields(buf: &[u8], len: usize) -> Result<(usize, u16, u32), SrtpError> {
    let pkt = buf.get(..len).ok_or(SrtpError::BufferTooSmall {
        needed: len,
        available: buf.len(),
    })?;
    let h = RtpHeader::parse(pkt)?;
    Ok((h.header_len(), h.sequence_number(), h.ssrc()))
}

/// Sender SSRC of the RTCP packet `buf[..len]`.
fn rtcp_ssrc(buf: &[u8], len: usize) -> Result<u32, SrtpError> {
    let pkt = buf.get(..len).ok_or(SrtpError::BufferTooSmall {
        needed: len,
        available: buf.len(),
    })?;
    Ok(RtcpHeader::parse(pkt)?.sender_ssrc())
}
