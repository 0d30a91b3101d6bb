//! The one-pass AES-CM → AES-CM transcode (`srtp::fused`, taken by `srtp_to_srtp` when
//! both legs are AES-CM) against the general path spelled out with the public steps:
//! `unprotect_rtp`, `ReOriginator::rewrite`, `protect_rtp_with_roc`. Same bytes out,
//! same errors, same state afterwards; a forgery leaves buffer and state untouched.

use media_plane::srtp::{
    srtp_to_srtp, ReOriginator, SrtpConfig, SrtpContext, SrtpError, SrtpSuite,
};

const CM_SUITES: [SrtpSuite; 5] = [
    SrtpSuite::AesCm128HmacSha1_80,
    SrtpSuite::AesCm128HmacSha1_32,
    SrtpSuite::AesCm192HmacSha1_80,
    SrtpSuite::AesCm256HmacSha1_80,
    SrtpSuite::AesCm256HmacSha1_32,
];

fn ctx(suite: SrtpSuite, key_byte: u8) -> SrtpContext {
    let key: Vec<u8> = (0..suite.key_len()).map(|i| key_byte ^ i as u8).collect();
    let salt: Vec<u8> = (0..suite.salt_len())
        .map(|i| key_byte.wrapping_mul(3) ^ i as u8)
        .collect();
    SrtpContext::new(suite, &key, &salt, SrtpConfig::default()).expect("lengths fit")
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// RTP with `csrcs` CSRCs and, if `ext`, a one-word header extension.
fn rtp(
    ssrc: u32,
    seq: u16,
    ts: u32,
    csrcs: usize,
    ext: bool,
    payload: usize,
    rng: &mut Rng,
) -> Vec<u8> {
    let mut p = vec![0x80 | csrcs as u8 | if ext { 0x10 } else { 0 }, 0x00];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    for c in 0..csrcs {
        p.extend_from_slice(&(0x1000 + c as u32).to_be_bytes());
    }
    if ext {
        p.extend_from_slice(&[0xbe, 0xde, 0, 1, 0x10, 0xaa, 0, 0]);
    }
    p.extend((0..payload).map(|_| rng.next() as u8));
    p
}

/// Leg A's sender, leg A's receiver (ingress), the re-originator and leg B's sender
/// (egress), plus leg B's receiver to check what comes out.
struct Call {
    a_tx: SrtpContext,
    ingress: SrtpContext,
    reorig: ReOriginator,
    egress: SrtpContext,
    b_rx: SrtpContext,
}

impl Call {
    fn new(sa: SrtpSuite, sb: SrtpSuite) -> Self {
        Self {
            a_tx: ctx(sa, 0x11),
            ingress: ctx(sa, 0x11),
            reorig: ReOriginator::new(0xE0E0_0001, 65_530, 9_000),
            egress: ctx(sb, 0x77),
            b_rx: ctx(sb, 0x77),
        }
    }

    fn wire(&mut self, plain: &[u8], roc: u32) -> Vec<u8> {
        let mut buf = plain.to_vec();
        buf.resize(plain.len() + 16, 0);
        let n = self
            .a_tx
            .protect_rtp_with_roc(&mut buf, plain.len(), roc)
            .expect("protect");
        buf.truncate(n);
        buf
    }
}

/// The general path, from the public pieces.
fn general(
    ingress: &mut SrtpContext,
    reorig: &mut ReOriginator,
    egress: &mut SrtpContext,
    buf: &mut [u8],
    len: usize,
) -> Result<usize, SrtpError> {
    let plain = ingress.unprotect_rtp(buf, len)?;
    let index = reorig.rewrite(&mut buf[..plain])?;
    egress.protect_rtp_with_roc(buf, plain, (index >> 16) as u32)
}

#[test]
fn same_bytes_and_state_as_the_general_path() {
    let mut rng = Rng(0x5eed_1234_9876_abcd);
    for sa in CM_SUITES {
        for sb in CM_SUITES {
            let mut call = Call::new(sa, sb);
            let (mut g_in, mut g_re, mut g_eg) = (
                call.ingress.clone(),
                call.reorig.clone(),
                call.egress.clone(),
            );
            // Ingress SSRC change mid-stream and a sequence wrap (ROC 0 → 1).
            let mut seq: u16 = 65_520;
            let mut roc = 0u32;
            for i in 0..60u32 {
                let ssrc = if i < 30 { 0x0a0a_0a0a } else { 0x0b0b_0b0b };
                if i == 30 {
                    seq = 400;
                    roc = 0;
                }
                let payload = (rng.next() % 1200) as usize;
                let csrcs = (rng.next() % 3) as usize;
                let ext = rng.next().is_multiple_of(2);
                let plain = rtp(ssrc, seq, i * 160, csrcs, ext, payload, &mut rng);
                let wire = call.wire(&plain, roc);

                let mut fused = wire.clone();
                fused.resize(wire.len() + 16, 0);
                let mut slow = fused.clone();
                let n = srtp_to_srtp(
                    &mut call.ingress,
                    &mut call.reorig,
                    &mut call.egress,
                    &mut fused,
                    wire.len(),
                )
                .expect("fused transcode");
                let m = general(&mut g_in, &mut g_re, &mut g_eg, &mut slow, wire.len())
                    .expect("general path");
                assert_eq!(fused[..n], slow[..m], "{sa:?}->{sb:?} packet {i}");

                // Leg B's receiver gets the same payload, under the egress SSRC.
                let mut rx = fused[..n].to_vec();
                let k = call
                    .b_rx
                    .unprotect_rtp(&mut rx, n)
                    .expect("leg B authenticates");
                let hdr = k - payload;
                assert_eq!(rx[hdr..k], plain[plain.len() - payload..]);
                assert_eq!(rx[8..12], 0xE0E0_0001u32.to_be_bytes());

                seq = seq.wrapping_add(1);
                if seq == 0 {
                    roc += 1;
                }
            }
            assert_eq!(call.ingress.roc(0x0a0a_0a0a), g_in.roc(0x0a0a_0a0a));
            assert_eq!(call.ingress.roc(0x0a0a_0a0a), Some(1));
            assert_eq!(
                call.egress.srtp_index(0xE0E0_0001),
                g_eg.srtp_index(0xE0E0_0001)
            );
            assert_eq!(call.reorig, g_re);
        }
    }
}

#[test]
fn forgery_replay_and_truncation_change_nothing() {
    let mut rng = Rng(42);
    for (sa, sb) in [
        (
            SrtpSuite::AesCm128HmacSha1_80,
            SrtpSuite::AesCm128HmacSha1_80,
        ),
        (
            SrtpSuite::AesCm128HmacSha1_32,
            SrtpSuite::AesCm256HmacSha1_80,
        ),
    ] {
        let mut call = Call::new(sa, sb);
        let first = call.wire(&rtp(7, 100, 0, 0, false, 160, &mut rng), 0);
        let mut buf = first.clone();
        buf.resize(first.len() + 16, 0);
        srtp_to_srtp(
            &mut call.ingress,
            &mut call.reorig,
            &mut call.egress,
            &mut buf,
            first.len(),
        )
        .expect("first");

        let good = call.wire(&rtp(7, 101, 160, 1, true, 160, &mut rng), 0);
        let before = (
            call.ingress.srtp_index(7),
            call.egress.srtp_index(0xE0E0_0001),
            call.reorig.clone(),
        );
        // Tampered tag, tampered payload, tampered header: AuthFailed, buffer as it came.
        for flip in [good.len() - 1, good.len() / 2, 1] {
            let mut bad = good.clone();
            bad[flip] ^= 0x01;
            let mut buf = bad.clone();
            buf.resize(bad.len() + 16, 0);
            let r = srtp_to_srtp(
                &mut call.ingress,
                &mut call.reorig,
                &mut call.egress,
                &mut buf,
                bad.len(),
            );
            assert_eq!(r, Err(SrtpError::AuthFailed), "flip at {flip}");
            assert_eq!(
                buf[..bad.len()],
                bad[..],
                "a forgery left the buffer modified"
            );
            let after = (
                call.ingress.srtp_index(7),
                call.egress.srtp_index(0xE0E0_0001),
                call.reorig.clone(),
            );
            assert_eq!(after, before, "a forgery changed state");
        }
        // Truncated below header + tag.
        let mut buf = good[..14].to_vec();
        buf.resize(40, 0);
        assert_eq!(
            srtp_to_srtp(
                &mut call.ingress,
                &mut call.reorig,
                &mut call.egress,
                &mut buf,
                14
            ),
            Err(SrtpError::Truncated)
        );
        // The genuine packet still passes; replaying it is refused, state unchanged.
        let mut buf = good.clone();
        buf.resize(good.len() + 16, 0);
        srtp_to_srtp(
            &mut call.ingress,
            &mut call.reorig,
            &mut call.egress,
            &mut buf,
            good.len(),
        )
        .expect("genuine");
        let mut buf = good.clone();
        buf.resize(good.len() + 16, 0);
        let r = srtp_to_srtp(
            &mut call.ingress,
            &mut call.reorig,
            &mut call.egress,
            &mut buf,
            good.len(),
        );
        assert_eq!(r, Err(SrtpError::Replayed));
        assert_eq!(buf[..good.len()], good[..]);
        // Wrong key: a stranger's packet for the same SSRC.
        let mut stranger = ctx(sa, 0x99);
        let plain = rtp(7, 102, 320, 0, false, 160, &mut rng);
        let mut buf = plain.clone();
        buf.resize(plain.len() + 32, 0);
        let n = stranger
            .protect_rtp(&mut buf, plain.len())
            .expect("protect");
        let sent = buf[..n].to_vec();
        let r = srtp_to_srtp(
            &mut call.ingress,
            &mut call.reorig,
            &mut call.egress,
            &mut buf,
            n,
        );
        assert_eq!(r, Err(SrtpError::AuthFailed));
        assert_eq!(buf[..n], sent[..]);
    }
}

/// A forged packet the re-originator would refuse (older than its epoch) is still
/// reported as a forgery, as on the general path: authentication comes first.
#[test]
fn forged_stale_packet_is_an_auth_failure() {
    let mut rng = Rng(7);
    let mut call = Call::new(
        SrtpSuite::AesCm128HmacSha1_80,
        SrtpSuite::AesCm128HmacSha1_80,
    );
    let wire = call.wire(&rtp(5, 1000, 0, 0, false, 160, &mut rng), 0);
    let mut buf = wire.clone();
    buf.resize(wire.len() + 16, 0);
    srtp_to_srtp(
        &mut call.ingress,
        &mut call.reorig,
        &mut call.egress,
        &mut buf,
        wire.len(),
    )
    .expect("first");
    let mut stale = call.wire(&rtp(5, 990, 0, 0, false, 160, &mut rng), 0);
    let last = stale.len() - 1;
    stale[last] ^= 0xff;
    let mut buf = stale.clone();
    buf.resize(stale.len() + 16, 0);
    let r = srtp_to_srtp(
        &mut call.ingress,
        &mut call.reorig,
        &mut call.egress,
        &mut buf,
        stale.len(),
    );
    assert_eq!(r, Err(SrtpError::AuthFailed));
}
