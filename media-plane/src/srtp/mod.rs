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
//!   and scheduled once; per-SSRC ROC and replay windows live in a fixed table
//!   inside the context (no pointer to follow per packet).
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
//! | the whole AES-CM → AES-CM transcode (both keystreams, both HMACs) | our kernel `crate::sys::cm_x2` (AES-NI or VAES, SHA-NI, picked at run time), driven by `fused` | one SHA-NI block is latency bound (36 ns); two chains side by side cost 41 ns, and the AES rounds fit in the gaps of the SHA chain when they are issued between its rounds (see below) |
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
//! two keystreams in sequence. `fused` does it in one pass over the packet with one CPU
//! kernel (`crate::sys::cm_x2`): the two HMACs are independent chains of the same
//! length, so their SHA-1 rounds run side by side; `C' = C ⊕ KS_A ⊕ KS_B`, and the AES
//! rounds of the next 64-octet window are issued between the SHA-1 rounds of the
//! current one, where the latency-bound chain leaves the units idle. State still
//! changes only after tag A verifies, and a forgery leaves the buffer as it came
//! (`tests/srtp_fused_transcode.rs` checks both against the general path; the kernel's
//! own tests check every header length 12..40 and payload 0..300 against a reference).
//!
//! What it took, measured on the project machine (AMD EPYC with SHA-NI and VAES), per
//! 172-octet packet:
//! - The SHA-1 state stays in registers across the windows and the outer hash is built
//!   from the inner state in registers (a call per block went through memory).
//! - The AES rounds are pinned between SHA-1 round groups (an empty `asm!` ties the
//!   registers together): otherwise the compiler moves them all past the SHA-1 block,
//!   and there they queue behind the waiting chain. 380 → 265 ns end to end.
//! - VAES where the CPU has it: one 256-bit instruction does a round of one block of
//!   each leg, half the AES instructions, which compete with SHA-1 for the vector
//!   units. Kernel alone 215 → 198 ns. CPUs with AES-NI but not VAES (AMD Zen 2, older
//!   Intel) run the 128-bit variant, about 17 ns slower per packet.
//! - No load waits on smaller stores: the IV, ROC and leg B's header reach the kernel
//!   as numbers, the keystream shift masks are built in registers, the digests are
//!   written in place with vector stores, and tag A is read before the kernel runs.
//!   About 40 ns together.
//!
//! End to end, `cargo bench -p benches --bench srtp -- --warm-up-time 1
//! --measurement-time 3` (172-octet packets), three runs on 2026-12-03 18:45 UTC, load
//! average 1.3-1.8; "before" is the start of that day:
//!
//! | bench id | before (aes 0.9, no `fused`) | now | target |
//! | --- | --- | --- | --- |
//! | `srtp/transcode/aes_cm_80-aes_cm_80` | 693 ns | 218-220 ns | ≤ 600 ns |
//! | `srtp/transcode/aead_aes_128_gcm-aes_cm_80` | 518 ns | 351-355 ns | ≤ 450 ns |
//! | `srtp/transcode/aead_aes_128_gcm-aead_aes_128_gcm` | 285 ns | 232-234 ns | ≤ 300 ns |
//! | `srtp/transcode/aes_cm_80-aead_aes_128_gcm` | — | 358-360 ns | |
//! | `srtp/transcode/aes_cm_80-rtp` | 379 ns | 247-256 ns | |
//! | `srtp/webrtc_srtp/aes_cm_80-aes_cm_80` | 857 ns | 689-709 ns | ≥ 3× ours: 3.16-3.25× |
//!
//! The machine's speed moves by about 10 % between runs; the ratio is taken within one
//! run. Where the AES-CM → AES-CM time goes now (perf): the kernel about 185 ns, of
//! which the SHA-1 chains are about 160 ns (4 blocks × 40 ns per pair: the floor for
//! these 8 blocks on this CPU) and the first window's keystream, which leg B's chain
//! waits for, about 12 ns; header parse, index, replay and re-origination about 35 ns.
//! webrtc-srtp computes the same 8 SHA-NI blocks one chain at a time.

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
