//! Cross-check against the `webrtc-srtp` crate for every suite it supports: random
//! payload sizes in both directions, ROC rollover at 65535 → 0, reordering inside the
//! replay window, SRTCP both ways, and an SSRC change mid-stream through the transcode
//! primitive (the egress stays continuous as webrtc-srtp sees it).

use media_plane::rtp::RtpHeader;
use media_plane::srtp::{
    rtp_to_srtp, srtp_to_rtp, srtp_to_srtp, ReOriginator, SrtpConfig, SrtpContext, SrtpError,
    SrtpSuite,
};
use webrtc_srtp::context::Context as TheirContext;
use webrtc_srtp::protection_profile::ProtectionProfile;

const SUITES: [(SrtpSuite, ProtectionProfile); 6] = [
    (
        SrtpSuite::AesCm128HmacSha1_80,
        ProtectionProfile::Aes128CmHmacSha1_80,
    ),
    (
        SrtpSuite::AesCm128HmacSha1_32,
        ProtectionProfile::Aes128CmHmacSha1_32,
    ),
    (
        SrtpSuite::AesCm256HmacSha1_80,
        ProtectionProfile::Aes256CmHmacSha1_80,
    ),
    (
        SrtpSuite::AesCm256HmacSha1_32,
        ProtectionProfile::Aes256CmHmacSha1_32,
    ),
    (SrtpSuite::AeadAes128Gcm, ProtectionProfile::AeadAes128Gcm),
    (SrtpSuite::AeadAes256Gcm, ProtectionProfile::AeadAes256Gcm),
];

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> usize {
        (self.next() % n) as usize
    }
    fn bytes(&mut self, out: &mut [u8]) {
        for b in out {
            *b = self.next() as u8;
        }
    }
}

struct Keys {
    key: Vec<u8>,
    salt: Vec<u8>,
}

fn keys(rng: &mut Rng, suite: SrtpSuite) -> Keys {
    let mut key = vec![0; suite.key_len()];
    let mut salt = vec![0; suite.salt_len()];
    rng.bytes(&mut key);
    rng.bytes(&mut salt);
    Keys { key, salt }
}

fn ours(suite: SrtpSuite, k: &Keys) -> SrtpContext {
    SrtpContext::new(suite, &k.key, &k.salt, SrtpConfig::default()).expect("key lengths fit")
}

fn theirs(profile: ProtectionProfile, k: &Keys) -> TheirContext {
    TheirContext::new(&k.key, &k.salt, profile, None, None).expect("key lengths fit")
}

fn rtp_packet(rng: &mut Rng, ssrc: u32, seq: u16, ts: u32, payload_len: usize) -> Vec<u8> {
    let mut p = vec![0x80, 0x00];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    let mut payload = vec![0; payload_len];
    rng.bytes(&mut payload);
    p.extend_from_slice(&payload);
    p
}

fn rtcp_packet(rng: &mut Rng, ssrc: u32) -> Vec<u8> {
    // A receiver report with one report block (RFC 3550 §6.4.2): 8 + 24 octets.
    let mut p = vec![0x81, 201, 0, 7];
    p.extend_from_slice(&ssrc.to_be_bytes());
    let mut block = [0u8; 24];
    rng.bytes(&mut block);
    p.extend_from_slice(&block);
    p
}

fn with_tailroom(p: &[u8]) -> Vec<u8> {
    let mut b = p.to_vec();
    b.resize(p.len() + 64, 0);
    b
}

#[test]
fn both_directions_random_sizes_across_roc_rollover() {
    let mut rng = Rng(0x5eed_0001);
    for (suite, profile) in SUITES {
        let k = keys(&mut rng, suite);
        let (mut our_tx, mut our_rx) = (ours(suite, &k), ours(suite, &k));
        let (mut their_tx, mut their_rx) = (theirs(profile, &k), theirs(profile, &k));
        let ssrc = rng.next() as u32;
        // 65400 .. 65535, 0 .. 263: crosses the 16-bit wrap, ROC 0 → 1.
        for i in 0..400u32 {
            let seq = (65_400 + i) as u16;
            let len = rng.below(1200);
            let plain = rtp_packet(&mut rng, ssrc, seq, i * 160, len);

            // ours protect → theirs unprotect
            let mut buf = with_tailroom(&plain);
            let n = our_tx.protect_rtp(&mut buf, plain.len()).expect("protect");
            let back = their_rx
                .decrypt_rtp(&buf[..n])
                .unwrap_or_else(|e| panic!("{suite} seq {seq}: {e}"));
            assert_eq!(&back[..], &plain[..], "{suite} seq {seq}: ours → theirs");

            // theirs protect → ours unprotect
            let wire = their_tx.encrypt_rtp(&plain).expect("their protect");
            let mut buf = with_tailroom(&wire);
            let m = our_rx
                .unprotect_rtp(&mut buf, wire.len())
                .unwrap_or_else(|e| panic!("{suite} seq {seq}: {e}"));
            assert_eq!(&buf[..m], &plain[..], "{suite} seq {seq}: theirs → ours");
        }
        assert_eq!(our_rx.roc(ssrc), Some(1), "{suite}: ROC after the wrap");
        assert_eq!(our_tx.roc(ssrc), Some(1));
    }
}

#[test]
fn srtcp_both_directions() {
    let mut rng = Rng(0x5eed_0002);
    for (suite, profile) in SUITES {
        let k = keys(&mut rng, suite);
        let (mut our_tx, mut our_rx) = (ours(suite, &k), ours(suite, &k));
        let (mut their_tx, mut their_rx) = (theirs(profile, &k), theirs(profile, &k));
        let ssrc = rng.next() as u32;
        for _ in 0..50 {
            let plain = rtcp_packet(&mut rng, ssrc);
            let mut buf = with_tailroom(&plain);
            let n = our_tx.protect_rtcp(&mut buf, plain.len()).expect("protect");
            let back = their_rx
                .decrypt_rtcp(&buf[..n])
                .unwrap_or_else(|e| panic!("{suite}: {e}"));
            assert_eq!(&back[..], &plain[..], "{suite}: ours → theirs");

            let wire = their_tx.encrypt_rtcp(&plain).expect("their protect");
            let mut buf = with_tailroom(&wire);
            let m = our_rx
                .unprotect_rtcp(&mut buf, wire.len())
                .unwrap_or_else(|e| panic!("{suite}: {e}"));
            assert_eq!(&buf[..m], &plain[..], "{suite}: theirs → ours");
        }
    }
}

#[test]
fn reordering_inside_the_window_across_rollover() {
    let mut rng = Rng(0x5eed_0003);
    for (suite, profile) in SUITES {
        let k = keys(&mut rng, suite);
        let mut their_tx = theirs(profile, &k);
        let mut our_rx = ours(suite, &k);
        let ssrc = 0x1234_5678;
        let mut wire: Vec<(Vec<u8>, Vec<u8>)> = (0..256u32)
            .map(|i| {
                let len = 100 + rng.below(200);
                let plain = rtp_packet(&mut rng, ssrc, (65_470 + i) as u16, i * 160, len);
                let w = their_tx
                    .encrypt_rtp(&plain)
                    .expect("their protect")
                    .to_vec();
                (plain, w)
            })
            .collect();
        // The first packet arrives first (it anchors the stream); the rest are shuffled
        // inside blocks of 48, well inside the 1024-packet window, across the wrap.
        for chunk in wire[1..].chunks_mut(48) {
            for i in (1..chunk.len()).rev() {
                chunk.swap(i, rng.below(i as u64 + 1));
            }
        }
        for (plain, w) in &wire {
            let mut buf = with_tailroom(w);
            let m = our_rx
                .unprotect_rtp(&mut buf, w.len())
                .unwrap_or_else(|e| panic!("{suite}: {e}"));
            assert_eq!(&buf[..m], &plain[..]);
        }
        // Every one of them is now a replay.
        for (_, w) in wire.iter().step_by(37) {
            let mut buf = with_tailroom(w);
            assert_eq!(
                our_rx.unprotect_rtp(&mut buf, w.len()),
                Err(SrtpError::Replayed),
                "{suite}"
            );
        }
        assert_eq!(our_rx.roc(ssrc), Some(1));
    }
}

/// The far end's view of the egress stream.
fn assert_continuous(
    suite_in: SrtpSuite,
    suite_out: SrtpSuite,
    seen: &[(u32, u16, u32)],
    egress_ssrc: u32,
) {
    for w in seen.windows(2) {
        let ((s0, q0, t0), (s1, q1, t1)) = (w[0], w[1]);
        assert_eq!(
            (s0, s1),
            (egress_ssrc, egress_ssrc),
            "{suite_in}→{suite_out}: SSRC"
        );
        assert_eq!(q1, q0.wrapping_add(1), "{suite_in}→{suite_out}: sequence");
        assert_eq!(
            t1,
            t0.wrapping_add(160),
            "{suite_in}→{suite_out}: timestamp"
        );
    }
}

#[test]
fn ssrc_change_mid_stream_through_transcode_keeps_egress_continuous() {
    let mut rng = Rng(0x5eed_0004);
    for (suite_a, profile_a) in SUITES {
        for (suite_b, profile_b) in SUITES {
            let (ka, kb) = (keys(&mut rng, suite_a), keys(&mut rng, suite_b));
            let mut browser = theirs(profile_a, &ka);
            let mut far_end = theirs(profile_b, &kb);
            let mut ingress = ours(suite_a, &ka);
            let mut egress = ours(suite_b, &kb);
            // Egress starts 40 packets before its own wrap: its ROC must roll too.
            let mut reorig = ReOriginator::new(0xE0E0_E0E0, 65_496, 90_000);
            let mut seen = Vec::new();
            // Two ingress SSRCs, the first across its own wrap, the second from seq 7.
            let legs = [
                (0xAAAA_0001u32, 65_500u16, 1_000u32),
                (0xAAAA_0002, 7, 777_777),
            ];
            for (ssrc, first_seq, first_ts) in legs {
                for i in 0..60u16 {
                    let len = 1 + rng.below(300);
                    let plain = rtp_packet(
                        &mut rng,
                        ssrc,
                        first_seq.wrapping_add(i),
                        first_ts + u32::from(i) * 160,
                        len,
                    );
                    let wire = browser.encrypt_rtp(&plain).expect("browser protect");
                    let mut buf = with_tailroom(&wire);
                    let n =
                        srtp_to_srtp(&mut ingress, &mut reorig, &mut egress, &mut buf, wire.len())
                            .unwrap_or_else(|e| panic!("{suite_a}→{suite_b}: {e}"));
                    let out = far_end
                        .decrypt_rtp(&buf[..n])
                        .unwrap_or_else(|e| panic!("{suite_a}→{suite_b}: far end: {e}"));
                    let h = RtpHeader::parse(&out).expect("valid RTP");
                    assert_eq!(
                        h.payload(),
                        RtpHeader::parse(&plain).expect("valid").payload()
                    );
                    seen.push((h.ssrc(), h.sequence_number(), h.timestamp()));
                }
            }
            assert_eq!(seen.len(), 120);
            assert_continuous(suite_a, suite_b, &seen, 0xE0E0_E0E0);
            assert_eq!(
                egress.roc(0xE0E0_E0E0),
                Some(1),
                "{suite_a}→{suite_b}: egress ROC"
            );
        }
    }
}

#[test]
fn srtp_to_rtp_and_rtp_to_srtp() {
    let mut rng = Rng(0x5eed_0005);
    for (suite, profile) in SUITES {
        let k = keys(&mut rng, suite);
        // SRTP → RTP: browser to a plain-RTP far end.
        let mut browser = theirs(profile, &k);
        let mut ingress = ours(suite, &k);
        let mut reorig = ReOriginator::new(77, 65_530, 0);
        let mut seen = Vec::new();
        for (ssrc, base) in [(1u32, 100u16), (2, 40_000)] {
            for i in 0..20u16 {
                let plain = rtp_packet(&mut rng, ssrc, base + i, u32::from(i) * 160, 160);
                let wire = browser.encrypt_rtp(&plain).expect("protect");
                let mut buf = with_tailroom(&wire);
                let n = srtp_to_rtp(&mut ingress, &mut reorig, &mut buf, wire.len())
                    .expect("transcode");
                let h = RtpHeader::parse(&buf[..n]).expect("valid RTP");
                assert_eq!(h.payload(), &plain[12..]);
                seen.push((h.ssrc(), h.sequence_number(), h.timestamp()));
            }
        }
        assert_continuous(suite, suite, &seen, 77);

        // RTP → SRTP: a plain-RTP far end to the browser.
        let mut browser_rx = theirs(profile, &k);
        let mut egress = ours(suite, &k);
        let mut reorig = ReOriginator::new(78, 65_530, 0);
        let mut seen = Vec::new();
        for (ssrc, base) in [(5u32, 9u16), (6, 65_000)] {
            for i in 0..20u16 {
                let plain = rtp_packet(
                    &mut rng,
                    ssrc,
                    base.wrapping_add(i),
                    u32::from(i) * 160,
                    160,
                );
                let mut buf = with_tailroom(&plain);
                let n = rtp_to_srtp(&mut reorig, &mut egress, &mut buf, plain.len())
                    .expect("transcode");
                let out = browser_rx
                    .decrypt_rtp(&buf[..n])
                    .unwrap_or_else(|e| panic!("{suite}: {e}"));
                let h = RtpHeader::parse(&out).expect("valid RTP");
                assert_eq!(h.payload(), &plain[12..]);
                seen.push((h.ssrc(), h.sequence_number(), h.timestamp()));
            }
        }
        assert_continuous(suite, suite, &seen, 78);
    }
}
