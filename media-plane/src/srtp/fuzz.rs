//! The body of the `srtp_unprotect` fuzz target, shared with the corpus replay test.

use super::{srtp_to_srtp, ReOriginator, SrtpConfig, SrtpContext, SrtpError, SrtpSuite};

/// Master key of every fuzz context (cut to the suite's key length).
pub const FUZZ_MASTER_KEY: [u8; 32] = [0x5a; 32];
/// Master salt of every fuzz context (cut to the suite's salt length).
pub const FUZZ_MASTER_SALT: [u8; 14] = [0xa5; 14];

/// Largest input considered; longer inputs are cut (a datagram is at most 64 KiB, and
/// nothing in the code depends on the size beyond the length checks).
const MAX_INPUT: usize = 2048;
/// Tailroom for the largest tag plus the SRTCP trailer.
const TAILROOM: usize = 32;

/// Feeds arbitrary bytes through SRTP and SRTCP unprotect of every suite. Panics (the
/// fuzzer's failure signal) only if an invariant breaks: a failed unprotect changed the
/// buffer (other than GCM clearing a forgery), or a packet we protected does not come
/// back. Returns how many of the raw input's unprotects (one SRTP and one SRTCP per
/// suite) authenticated: seeds made with [`FUZZ_MASTER_KEY`] pass, which is how the
/// corpus reaches the code behind the tag check.
pub fn unprotect_any(data: &[u8]) -> usize {
    let mut authentic = 0;
    let data = &data[..data.len().min(MAX_INPUT)];
    let mut buf = [0u8; MAX_INPUT + TAILROOM];
    for suite in SrtpSuite::ALL {
        let key = FUZZ_MASTER_KEY;
        let salt = FUZZ_MASTER_SALT;
        let make = || {
            SrtpContext::new(
                suite,
                &key[..suite.key_len()],
                &salt[..suite.salt_len()],
                SrtpConfig {
                    replay_window: 64,
                    ..SrtpConfig::default()
                },
            )
        };
        let (Ok(mut rx), Ok(mut tx)) = (make(), make()) else {
            panic!("fixed keys have the suite's lengths");
        };
        for rtcp in [false, true] {
            buf[..data.len()].copy_from_slice(data);
            let before = buf;
            let r = if rtcp {
                rx.unprotect_rtcp(&mut buf, data.len())
            } else {
                rx.unprotect_rtp(&mut buf, data.len())
            };
            // The buffer is untouched on error, except where GCM cleared a forgery.
            if r.is_ok() {
                authentic += 1;
            }
            if let Err(e) = r {
                let gcm_auth = suite.is_aead() && e == SrtpError::AuthFailed;
                assert!(
                    gcm_auth || buf == before,
                    "failed unprotect modified the buffer"
                );
            }
            if !rtcp {
                transcode_any(suite, &make, &mut buf, before, data.len());
            }
            // Treat the input as plaintext: protect, then unprotect must restore it.
            buf = before;
            let p = if rtcp {
                tx.protect_rtcp(&mut buf, data.len())
            } else {
                tx.protect_rtp(&mut buf, data.len())
            };
            if let Ok(n) = p {
                let back = if rtcp {
                    rx.unprotect_rtcp(&mut buf, n)
                } else {
                    rx.unprotect_rtp(&mut buf, n)
                };
                // It may be refused as a replay of the first unprotect, never garbled.
                if let Ok(m) = back {
                    assert_eq!(&buf[..m], data, "round trip changed the packet");
                }
            }
        }
    }
    authentic
}

/// The transcode of the raw input from `suite` to AES_CM_128_HMAC_SHA1_80 (the one-pass
/// `fused` path when `suite` is AES-CM): never panics, and a refused packet leaves the
/// buffer as it was, but for GCM clearing a forgery and a re-originator refusal after
/// a successful unprotect (documented on `srtp_to_srtp`).
fn transcode_any(
    suite: SrtpSuite,
    make: &dyn Fn() -> Result<SrtpContext, SrtpError>,
    buf: &mut [u8; MAX_INPUT + TAILROOM],
    before: [u8; MAX_INPUT + TAILROOM],
    len: usize,
) {
    let egress_suite = SrtpSuite::AesCm128HmacSha1_80;
    let (Ok(mut ingress), Ok(mut egress)) = (
        make(),
        SrtpContext::new(
            egress_suite,
            &FUZZ_MASTER_KEY[..egress_suite.key_len()],
            &FUZZ_MASTER_SALT[..egress_suite.salt_len()],
            SrtpConfig::default(),
        ),
    ) else {
        panic!("fixed keys have the suite's lengths");
    };
    let mut reorig = ReOriginator::new(0x0e0e_0e0e, 1, 0);
    *buf = before;
    if let Err(e) = srtp_to_srtp(&mut ingress, &mut reorig, &mut egress, buf, len) {
        let gcm_auth = suite.is_aead() && e == SrtpError::AuthFailed;
        assert!(
            gcm_auth || e == SrtpError::StaleEpoch || *buf == before,
            "failed transcode modified the buffer: {e}"
        );
    }
}
