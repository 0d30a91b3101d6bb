//! SRTP engine benches: the transcode primitive on 172-octet RTP packets (12-octet
//! header + 160-octet G.711 payload), and the same work done with webrtc-srtp.
//!
//! Each iteration gets a fresh protected packet from an untimed setup (a replayed
//! packet would be refused), so only unprotect → rewrite → protect is measured.
//!
//! Run: `cargo bench -p benches --bench srtp -- --warm-up-time 1 --measurement-time 3`

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use media_plane::srtp::{
    srtp_to_rtp, srtp_to_srtp, ReOriginator, SrtpConfig, SrtpContext, SrtpSuite,
};
use std::hint::black_box;
use webrtc_srtp::context::Context as TheirContext;
use webrtc_srtp::protection_profile::ProtectionProfile;

const PAYLOAD: usize = 160;
const PKT: usize = 12 + PAYLOAD;

fn ctx(suite: SrtpSuite, k: u8) -> SrtpContext {
    let key = [k; 32];
    let salt = [k ^ 0x5a; 14];
    SrtpContext::new(
        suite,
        &key[..suite.key_len()],
        &salt[..suite.salt_len()],
        SrtpConfig::default(),
    )
    .expect("bench keys fit the suite")
}

fn rtp(seq: u16) -> [u8; 256] {
    let mut b = [0u8; 256];
    b[0] = 0x80;
    b[2..4].copy_from_slice(&seq.to_be_bytes());
    b[4..8].copy_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    b[8..12].copy_from_slice(&0x1234_5678u32.to_be_bytes());
    b[12..PKT].fill(0xd5);
    b
}

/// A source of fresh SRTP packets from leg A's sender.
fn source(suite: SrtpSuite) -> impl FnMut() -> ([u8; 256], usize) {
    let mut tx = ctx(suite, 1);
    let mut seq = 0u16;
    move || {
        seq = seq.wrapping_add(1);
        let mut b = rtp(seq);
        let n = tx.protect_rtp(&mut b, PKT).expect("bench packet protects");
        (b, n)
    }
}

fn transcode(c: &mut Criterion, name: &str, a: SrtpSuite, b: Option<SrtpSuite>) {
    let mut ingress = ctx(a, 1);
    let mut egress = b.map(|b| ctx(b, 2));
    let mut reorig = ReOriginator::new(0xE, 1, 0);
    let mut setup = source(a);
    c.bench_function(name, |bench| {
        bench.iter_batched_ref(
            &mut setup,
            |(buf, n)| {
                let out = match egress.as_mut() {
                    Some(eg) => srtp_to_srtp(&mut ingress, &mut reorig, eg, buf, *n),
                    None => srtp_to_rtp(&mut ingress, &mut reorig, buf, *n),
                };
                black_box(out.expect("transcode succeeds"))
            },
            BatchSize::SmallInput,
        )
    });
}

fn webrtc(c: &mut Criterion) {
    let key = [1u8; 16];
    let salt = [1u8 ^ 0x5a; 14];
    let p = ProtectionProfile::Aes128CmHmacSha1_80;
    let new = |k: &[u8], s: &[u8]| TheirContext::new(k, s, p, None, None).expect("keys fit");
    let mut tx = new(&key, &salt);
    let mut ingress = new(&key, &salt);
    let mut egress = new(&[2u8; 16], &[2u8 ^ 0x5a; 14]);
    let mut reorig = ReOriginator::new(0xE, 1, 0);
    let mut seq = 0u16;
    c.bench_function("srtp/webrtc_srtp/aes_cm_80-aes_cm_80", |bench| {
        bench.iter_batched_ref(
            || {
                seq = seq.wrapping_add(1);
                tx.encrypt_rtp(&rtp(seq)[..PKT]).expect("their protect")
            },
            |wire| {
                let plain = ingress.decrypt_rtp(wire).expect("their unprotect");
                // Their API returns a fresh immutable buffer: copy it to rewrite the header.
                let mut b = [0u8; 256];
                b[..plain.len()].copy_from_slice(&plain);
                reorig.rewrite(&mut b[..plain.len()]).expect("rewrite");
                black_box(
                    egress
                        .encrypt_rtp(&b[..plain.len()])
                        .expect("their protect"),
                )
            },
            BatchSize::SmallInput,
        )
    });
}

fn benches(c: &mut Criterion) {
    use SrtpSuite::{AeadAes128Gcm as Gcm128, AesCm128HmacSha1_80 as Cm80};
    transcode(c, "srtp/transcode/aes_cm_80-aes_cm_80", Cm80, Some(Cm80));
    transcode(
        c,
        "srtp/transcode/aead_aes_128_gcm-aes_cm_80",
        Gcm128,
        Some(Cm80),
    );
    transcode(
        c,
        "srtp/transcode/aead_aes_128_gcm-aead_aes_128_gcm",
        Gcm128,
        Some(Gcm128),
    );
    // The other direction of a Chromium call (AEAD_AES_128_GCM on the web leg) toward
    // an SDES AES-CM IMS core.
    transcode(
        c,
        "srtp/transcode/aes_cm_80-aead_aes_128_gcm",
        Cm80,
        Some(Gcm128),
    );
    transcode(c, "srtp/transcode/aes_cm_80-rtp", Cm80, None);
    webrtc(c);
}

criterion_group!(srtp, benches);
criterion_main!(srtp);
