//! Negative tests: every rejected packet gives a typed error and leaves both the
//! context and the buffer as they were, so the next valid packet still works
//! (RFC 3711 §3.3: update state only after authentication).

use media_plane::srtp::{SrtpConfig, SrtpContext, SrtpError, SrtpSuite};

const SSRC: u32 = 0x0bad_cafe;

fn ctx(suite: SrtpSuite, key_byte: u8) -> SrtpContext {
    let key = [key_byte; 32];
    let salt = [0x33; 14];
    SrtpContext::new(
        suite,
        &key[..suite.key_len()],
        &salt[..suite.salt_len()],
        SrtpConfig::default(),
    )
    .expect("lengths fit")
}

fn rtp(seq: u16) -> Vec<u8> {
    let mut p = vec![0x80, 0x08];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p.extend_from_slice(&SSRC.to_be_bytes());
    p.extend((0..160).map(|i| (i as u8) ^ (seq as u8)));
    p
}

fn rtcp() -> Vec<u8> {
    let mut p = vec![0x80, 201, 0, 1];
    p.extend_from_slice(&SSRC.to_be_bytes());
    p
}

/// Protected bytes of RTP `seq` (a fresh sender each time, ROC 0 unless given).
fn srtp(suite: SrtpSuite, seq: u16, roc: u32) -> Vec<u8> {
    let plain = rtp(seq);
    let mut buf = plain.clone();
    buf.resize(plain.len() + 16, 0);
    let n = ctx(suite, 1)
        .protect_rtp_with_roc(&mut buf, plain.len(), roc)
        .expect("protect");
    buf.truncate(n);
    buf
}

/// Unprotects a copy; on error asserts that the copy was not modified (but for GCM
/// forgeries, see `SrtpError`).
fn unprotect(rx: &mut SrtpContext, wire: &[u8]) -> Result<Vec<u8>, SrtpError> {
    let mut buf = wire.to_vec();
    match rx.unprotect_rtp(&mut buf, wire.len()) {
        Ok(n) => Ok(buf[..n].to_vec()),
        Err(e) => {
            // GCM (ring) clears the payload of a forgery; nothing else may change.
            if !(rx.suite().is_aead() && e == SrtpError::AuthFailed) {
                assert_eq!(buf, wire, "a failed unprotect modified the buffer");
            }
            Err(e)
        }
    }
}

fn unprotect_rtcp(rx: &mut SrtpContext, wire: &[u8]) -> Result<Vec<u8>, SrtpError> {
    let mut buf = wire.to_vec();
    match rx.unprotect_rtcp(&mut buf, wire.len()) {
        Ok(n) => Ok(buf[..n].to_vec()),
        Err(e) => {
            // GCM (ring) clears the payload of a forgery; nothing else may change.
            if !(rx.suite().is_aead() && e == SrtpError::AuthFailed) {
                assert_eq!(buf, wire, "a failed unprotect modified the buffer");
            }
            Err(e)
        }
    }
}

#[test]
fn tampered_tag_or_payload_is_auth_failed_and_changes_nothing() {
    for suite in SrtpSuite::ALL {
        let mut rx = ctx(suite, 1);
        assert_eq!(unprotect(&mut rx, &srtp(suite, 65_000, 0)), Ok(rtp(65_000)));
        // A forged packet whose sequence number would move the ROC to 1.
        let mut forged = srtp(suite, 10, 1);
        let last = forged.len() - 1;
        forged[last] ^= 1;
        assert_eq!(
            unprotect(&mut rx, &forged),
            Err(SrtpError::AuthFailed),
            "{suite}: tag"
        );
        let mut forged = srtp(suite, 11, 1);
        forged[20] ^= 0x80;
        assert_eq!(
            unprotect(&mut rx, &forged),
            Err(SrtpError::AuthFailed),
            "{suite}: payload"
        );
        let mut forged = srtp(suite, 12, 1);
        forged[8] ^= 0x01; // SSRC, covered by the tag / AAD
        assert_eq!(
            unprotect(&mut rx, &forged),
            Err(SrtpError::AuthFailed),
            "{suite}: header"
        );
        assert_eq!(
            rx.roc(SSRC),
            Some(0),
            "{suite}: ROC moved on a forged packet"
        );
        assert_eq!(rx.srtp_index(SSRC), Some(65_000));
        // The genuine packets still go through: nothing was marked as received.
        assert_eq!(
            unprotect(&mut rx, &srtp(suite, 10, 1)),
            Ok(rtp(10)),
            "{suite}"
        );
        assert_eq!(
            unprotect(&mut rx, &srtp(suite, 65_001, 0)),
            Ok(rtp(65_001)),
            "{suite}"
        );
    }
}

#[test]
fn replayed_packet_is_refused() {
    for suite in SrtpSuite::ALL {
        let mut rx = ctx(suite, 1);
        let p = srtp(suite, 500, 0);
        assert!(unprotect(&mut rx, &p).is_ok());
        assert_eq!(unprotect(&mut rx, &p), Err(SrtpError::Replayed), "{suite}");
        assert_eq!(unprotect(&mut rx, &srtp(suite, 499, 0)), Ok(rtp(499)));
        assert_eq!(
            unprotect(&mut rx, &srtp(suite, 499, 0)),
            Err(SrtpError::Replayed)
        );
        assert_eq!(unprotect(&mut rx, &srtp(suite, 501, 0)), Ok(rtp(501)));
    }
}

#[test]
fn too_old_is_refused_at_the_window_edge() {
    for suite in SrtpSuite::ALL {
        let mut rx = ctx(suite, 1);
        assert!(unprotect(&mut rx, &srtp(suite, 3_000, 0)).is_ok());
        // Default window: 1024 packets, so 3000 - 1024 is just outside.
        assert_eq!(
            unprotect(&mut rx, &srtp(suite, 1_976, 0)),
            Err(SrtpError::TooOld),
            "{suite}"
        );
        assert_eq!(
            unprotect(&mut rx, &srtp(suite, 1_977, 0)),
            Ok(rtp(1_977)),
            "{suite}"
        );
        assert_eq!(unprotect(&mut rx, &srtp(suite, 3_001, 0)), Ok(rtp(3_001)));
    }
}

#[test]
fn configured_window_is_honoured_and_minimum_enforced() {
    let suite = SrtpSuite::AesCm128HmacSha1_80;
    let config = |w| SrtpConfig {
        replay_window: w,
        ..SrtpConfig::default()
    };
    let r = SrtpContext::new(suite, &[1; 16], &[0x33; 14], config(63));
    assert_eq!(r.err(), Some(SrtpError::WindowTooSmall(63)));
    let mut rx = SrtpContext::new(suite, &[1; 16], &[0x33; 14], config(64)).expect("64 allowed");
    assert!(unprotect(&mut rx, &srtp(suite, 1_000, 0)).is_ok());
    assert_eq!(
        unprotect(&mut rx, &srtp(suite, 936, 0)),
        Err(SrtpError::TooOld)
    );
    assert_eq!(unprotect(&mut rx, &srtp(suite, 937, 0)), Ok(rtp(937)));
}

#[test]
fn truncated_and_malformed_packets_are_typed_errors() {
    for suite in SrtpSuite::ALL {
        let mut rx = ctx(suite, 1);
        let p = srtp(suite, 7, 0);
        let min = 12 + suite.srtp_tag_len();
        for cut in 0..min {
            let e = unprotect(&mut rx, &p[..cut]).expect_err("too short");
            assert_eq!(e, SrtpError::Truncated, "{suite}: cut at {cut}");
        }
        let mut v1 = p.clone();
        v1[0] = 0x40;
        assert_eq!(unprotect(&mut rx, &v1), Err(SrtpError::BadVersion(1)));
        // A CSRC count that runs past the end.
        let mut cc = p.clone();
        cc[0] = 0x8f;
        assert_eq!(unprotect(&mut rx, &cc[..60]), Err(SrtpError::Truncated));
        // len beyond the buffer is the caller's error, reported, not a panic.
        let mut short = p.clone();
        let r = rx.unprotect_rtp(&mut short, p.len() + 1);
        assert!(
            matches!(r, Err(SrtpError::BufferTooSmall { .. })),
            "{suite}"
        );
        assert_eq!(unprotect(&mut rx, &p), Ok(rtp(7)));
    }
}

#[test]
fn wrong_key_fails_then_the_right_key_works() {
    for suite in SrtpSuite::ALL {
        let mut wrong = ctx(suite, 2);
        let p = srtp(suite, 42, 0);
        assert_eq!(
            unprotect(&mut wrong, &p),
            Err(SrtpError::AuthFailed),
            "{suite}"
        );
        assert_eq!(
            wrong.srtp_index(SSRC),
            None,
            "{suite}: state created by a failed packet"
        );
        let mut rx = ctx(suite, 1);
        assert_eq!(unprotect(&mut rx, &p), Ok(rtp(42)));
    }
}

#[test]
fn protect_without_tailroom_is_refused_untouched() {
    for suite in SrtpSuite::ALL {
        let mut tx = ctx(suite, 1);
        let mut buf = rtp(1);
        let len = buf.len();
        let r = tx.protect_rtp(&mut buf, len);
        assert_eq!(
            r,
            Err(SrtpError::BufferTooSmall {
                needed: len + suite.srtp_tag_len(),
                available: len
            })
        );
        assert_eq!(buf, rtp(1));
        assert_eq!(tx.srtp_index(SSRC), None);
    }
}

#[test]
fn srtcp_tampered_replayed_truncated() {
    for suite in SrtpSuite::ALL {
        let mut tx = ctx(suite, 1);
        let mut rx = ctx(suite, 1);
        let mut wire = Vec::new();
        for _ in 0..3 {
            let mut buf = rtcp();
            buf.resize(64, 0);
            let n = tx.protect_rtcp(&mut buf, 8).expect("protect");
            buf.truncate(n);
            wire.push(buf);
        }
        // E|index is authenticated: flipping the E flag or the index fails.
        let trailer_at = if suite.is_aead() {
            wire[0].len() - 4
        } else {
            wire[0].len() - 4 - 10
        };
        for bit in [0x80u8, 0x01] {
            let mut t = wire[0].clone();
            t[trailer_at + if bit == 0x80 { 0 } else { 3 }] ^= bit;
            assert_eq!(
                unprotect_rtcp(&mut rx, &t),
                Err(SrtpError::AuthFailed),
                "{suite}"
            );
        }
        let mut t = wire[0].clone();
        t[6] ^= 4;
        assert_eq!(
            unprotect_rtcp(&mut rx, &t),
            Err(SrtpError::AuthFailed),
            "{suite}"
        );
        for cut in 0..8 + 4 + suite.srtcp_tag_len() {
            let e = unprotect_rtcp(&mut rx, &wire[0][..cut]).expect_err("too short");
            assert_eq!(e, SrtpError::Truncated, "{suite}: cut at {cut}");
        }
        assert_eq!(unprotect_rtcp(&mut rx, &wire[1]), Ok(rtcp()));
        assert_eq!(
            unprotect_rtcp(&mut rx, &wire[1]),
            Err(SrtpError::Replayed),
            "{suite}"
        );
        assert_eq!(unprotect_rtcp(&mut rx, &wire[0]), Ok(rtcp()));
        assert_eq!(unprotect_rtcp(&mut rx, &wire[2]), Ok(rtcp()));
    }
}

#[test]
fn srtcp_index_and_e_flag_on_the_wire() {
    // RFC 3711 §3.4: the first SRTCP packet carries index 0, then 1, …; E = 1 when
    // encrypted (every suite but NULL).
    for suite in SrtpSuite::ALL {
        let mut tx = ctx(suite, 1);
        for expected in 0..3u32 {
            let mut buf = rtcp();
            buf.resize(64, 0);
            let n = tx.protect_rtcp(&mut buf, 8).expect("protect");
            let at = if suite.is_aead() { n - 4 } else { n - 4 - 10 };
            let word = u32::from_be_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]]);
            assert_eq!(word & 0x7fff_ffff, expected, "{suite}");
            assert_eq!(word >> 31 == 1, suite.encrypts(), "{suite}");
        }
    }
}
