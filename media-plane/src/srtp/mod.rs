//! # The SRTP engine (RFC 3711, RFC 7714, RFC 6188)
//!
//! ```text
//!  buf[..len], leg A SRTP
//!    │ SrtpContext::unprotect_rtp          index → replay check → authenticate → decrypt
//!    ▼ ReOriginator::rewrite               egress SSRC, sequence number, timestamp, ROC
//!    ▼ SrtpContext::protect_rtp_with_roc   encrypt → tag into the tailroom buf[len..]
//!  buf[..len'], leg B SRTP (same buffer, no copy)
//! ```
//!
//! - [`SrtpContext`]: one direction of one leg. Keys are derived (RFC 3711 §4.3, KDR 0)
//!   and scheduled once; per-SSRC ROC and replay windows live in a fixed table.
//! - [`ReOriginator`] and [`srtp_to_srtp`], [`srtp_to_rtp`], [`rtp_to_srtp`]: the
//!   transcode primitive of the media plane.
//! - [`split_dtls_keying_material`], [`SrtpSuite::from_dtls_profile`]: DTLS-SRTP
//!   (RFC 5764) keys and profiles; [`SrtpSuite::from_sdes_name`]: SDES (RFC 4568).
//! - [`SrtpError`]: the one error type of the layer.
//! - [`fuzz::unprotect_any`]: the fuzz target body.
//!
//! Nothing here allocates per packet (`tests/srtp_zero_alloc.rs` counts), copies the
//! payload, reads a clock or panics on peer bytes. MKI is not supported
//! ([`SrtpError::MkiUnsupported`]).
//!
//! ## Crypto backends, chosen by measurement
//!
//! | primitive | backend | why |
//! | --- | --- | --- |
//! | AES-CM (RFC 3711 §4.1.1) and the KDF PRF | `aes` 0.8 block cipher (encrypt-only key schedule), our 8-block counter batching | AES-NI picked at run time, 8 blocks in the pipeline. Not `aes` 0.9: on this AVX-512 EPYC it picks a VAES-512 backend whose parallel path needs 64 blocks, so a packet's 10 blocks ran one at a time (108 ns against 29 ns) |
//! | HMAC-SHA1 (RFC 3711 §4.2.1) | `sha1` 0.11 compression function (SHA-NI at run time), our RFC 2104 wrapper with both pads precomputed | ~57 % of an AES-CM packet is SHA-1; the wrapper does exactly 4 compressions for 172 octets and nothing else |
//! | both HMACs of an AES-CM → AES-CM transcode | our two-lane SHA-NI kernel (`crate::sys::sha1x2`), `fused` | one SHA-NI block is latency bound (36 ns); two independent chains side by side cost 41 ns, so the 8 blocks of a transcode cost about 4 |
//! | AES-GCM (RFC 7714) | `ring` 0.17 `LessSafeKey` | ~40 % faster than RustCrypto `aes-gcm` 0.11 on 160 octets (AVX2/VAES/PCLMULQDQ assembly) |
//!
//! Everything picks its instructions by runtime CPU detection (`cpufeatures` for the
//! RustCrypto crates, ring's own `OPENSSL_ia32cap` probe); nothing is built with
//! `target-cpu=native`, so one binary runs on any x86-64.
//!
//! Measured 2026-11-22 on the project machine (AMD EPYC, `aes pclmulqdq sha_ni avx2
//! vaes vpclmulqdq`, 2 cores shared with three concurrent builds, load average 4-6, so
//! absolute figures are inflated; each comparison was made in one process, best of 5
//! runs of 300 000 iterations, release build):
//!
//! | what | RustCrypto | ring | here |
//! | --- | --- | --- | --- |
//! | AES-128-GCM seal, 160 octets + 12 AAD | 187-212 ns (`aes-gcm` 0.11) | 114-125 ns | ring |
//! | HMAC-SHA1, 176 octets | 205-224 ns (`hmac` 0.13, clone a keyed state) | ~830 ns (no SHA-NI for SHA-1) | own wrapper over `sha1::compress` |
//! | `protect_rtp`, AES_CM_128_HMAC_SHA1_80, 172 octets | 358 ns with `hmac` 0.13 | — | 290 ns with the wrapper |
//!
//! `aws-lc-rs` was not tried: it needs CMake and a long C build on these 2 cores, and
//! its AES-GCM is the same family of assembly as ring's.
//!
//! ## The AES-CM → AES-CM transcode (`fused`)
//!
//! Unprotect-then-protect computes two HMAC-SHA1s, 8 latency-bound SHA-1 blocks, and
//! two keystreams in sequence. `fused` does it in one pass: the two HMACs are
//! independent chains of the same length, so their blocks run side by side, and
//! `C' = C ⊕ KS_A ⊕ KS_B` lets both keystreams be generated a batch ahead of the SHA-1
//! work. State still changes only after tag A verifies, and a forgery leaves the
//! buffer as it came (`tests/srtp_fused_transcode.rs` checks both against the general
//! path).
//!
//! End to end, `cargo bench -p benches --bench srtp -- --warm-up-time 1
//! --measurement-time 3` (172-octet packets; 2026-12-03, quiet machine, load average
//! 0.1-0.9; "before" was measured the same day at load average ~1.1):
//!
//! | bench id | before (aes 0.9, no `fused`) | now | target |
//! | --- | --- | --- | --- |
//! | `srtp/transcode/aes_cm_80-aes_cm_80` | 693 ns | 368 ns | ≤ 600 ns |
//! | `srtp/transcode/aead_aes_128_gcm-aes_cm_80` | 518 ns | 362 ns | ≤ 450 ns |
//! | `srtp/transcode/aead_aes_128_gcm-aead_aes_128_gcm` | 285 ns | 242 ns | ≤ 300 ns |
//! | `srtp/transcode/aes_cm_80-aead_aes_128_gcm` | — | 386 ns | |
//! | `srtp/transcode/aes_cm_80-rtp` | 379 ns | 257 ns | |
//! | `srtp/webrtc_srtp/aes_cm_80-aes_cm_80` | 857 ns | 685 ns | ≥ 3× ours: **not met (1.86×)** |
//!
//! Two later runs the same hour gave 402-433 ns for AES-CM → AES-CM against 703-768 ns
//! for webrtc-srtp (1.75-1.77×): the machine's speed moves by ~10 % between runs.
//!
//! Where the AES-CM → AES-CM time goes now (perf, 172 octets, ~365 ns): the two-lane
//! SHA-1 kernel ~165 ns (4 × 41 ns, the floor for these 8 blocks on this CPU), AES for
//! 20 counter blocks ~50 ns (8 of them before any SHA-1 can start), window assembly and
//! keystream bookkeeping ~90 ns, header, index, replay and re-origination ~30 ns.
//! webrtc-srtp computes the same 8 SHA-NI blocks one chain at a time (~300 ns of its
//! ~685). 3× would need ours at ~228 ns,
//! i.e. everything but SHA-1 in ~65 ns: an AES-NI kernel interleaved with the SHA
//! rounds and window assembly kept in registers. Not done.

pub(crate) mod cipher;
mod context;
mod dtls;
mod fused;
pub mod fuzz;
mod kdf;
mod replay;
mod stream;
mod suite;
mod transcode;

mod error;

pub use context::{SessionKeys, SrtpConfig, SrtpContext, SRTCP_TRAILER_LEN};
pub use dtls::{split_dtls_keying_material, MasterKeys, DTLS_SRTP_EXPORTER_LABEL};
pub use error::SrtpError;
pub use replay::{DEFAULT_REPLAY_WINDOW, MIN_REPLAY_WINDOW};
pub use suite::SrtpSuite;
pub use transcode::{rtp_to_srtp, srtp_to_rtp, srtp_to_srtp, srtp_to_srtp_mapped, ReOriginator};

#[cfg(test)]
mod tests;
