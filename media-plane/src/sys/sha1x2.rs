//! Two independent SHA-1 compressions (FIPS 180-4 §6.1.2) interleaved, for the SRTP
//! transcode: the HMAC that verifies the ingress packet and the HMAC that tags the
//! egress packet are independent chains of the same length.
//!
//! Why: with SHA-NI one compression is latency bound (`sha1rnds4` depends on the
//! previous one, 20 times per block), so a single chain leaves the SHA unit mostly
//! idle. Issuing the rounds of two chains side by side fills it: measured on the
//! project machine (AMD EPYC, SHA-NI), 36 ns for one block alone against 41 ns for two
//! interleaved.
//!
//! Without SHA-NI (or SSE4.1/SSSE3) at run time, [`compress2`] runs the `sha1` crate's
//! compression twice; the result is the same.

/// Compresses `block_a` into `a` and `block_b` into `b`.
pub(crate) fn compress2(
    a: &mut [u32; 5],
    block_a: &[u8; 64],
    b: &mut [u32; 5],
    block_b: &[u8; 64],
) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("sha")
            && std::arch::is_x86_feature_detected!("sse4.1")
            && std::arch::is_x86_feature_detected!("ssse3")
        {
            // SAFETY: `ni::compress2` only requires the CPU features `sha`, `sse2`,
            // `ssse3` and `sse4.1`; the three above were detected at run time and
            // `sse2` is part of the x86_64 baseline. It takes only references, so
            // there is no other invariant to uphold.
            unsafe { ni::compress2(a, block_a, b, block_b) };
            return;
        }
    }
    sha1::block_api::compress(a, std::slice::from_ref(block_a));
    sha1::block_api::compress(b, std::slice::from_ref(block_b));
}

#[cfg(target_arch = "x86_64")]
mod ni {
    use std::arch::x86_64::{
        __m128i, _mm_add_epi32, _mm_extract_epi32, _mm_set_epi32, _mm_setzero_si128,
        _mm_sha1msg1_epu32, _mm_sha1msg2_epu32, _mm_sha1nexte_epu32, _mm_sha1rnds4_epu32,
        _mm_xor_si128,
    };

    /// Message words `4q..4q+4` of `block`, big-endian, first word in the high lane
    /// (the layout `sha1msg1`/`sha1rnds4` expect).
    macro_rules! words {
        ($block:expr, $q:expr) => {{
            let w = |j: usize| {
                let o = 16 * $q + 4 * j;
                i32::from_be_bytes([$block[o], $block[o + 1], $block[o + 2], $block[o + 3]])
            };
            _mm_set_epi32(w(0), w(1), w(2), w(3))
        }};
    }

    /// Four rounds with function/constant group `$k` (0..=3): `e` is folded into the
    /// schedule words by `sha1nexte` from the `abcd` of four rounds before.
    macro_rules! rounds4 {
        ($abcd:expr, $prev:expr, $w:expr, $k:literal) => {
            _mm_sha1rnds4_epu32($abcd, _mm_sha1nexte_epu32($prev, $w), $k)
        };
    }

    /// W[t..t+4] from the previous sixteen words (FIPS 180-4 §6.1.2 step 1).
    macro_rules! schedule {
        ($w0:expr, $w1:expr, $w2:expr, $w3:expr) => {
            _mm_sha1msg2_epu32(_mm_xor_si128(_mm_sha1msg1_epu32($w0, $w1), $w2), $w3)
        };
    }

    /// Both lanes, rounds `4n..4n+4` for `n` in 4..20: schedule the words, then the
    /// rounds; `h[(n+1)%2]` receives them, alternating like the two-register chain.
    macro_rules! step {
        ($w:ident, $h:ident, $n:literal, $k:literal) => {
            for l in 0..2 {
                let next = schedule!(
                    $w[l][($n + 1) % 5],
                    $w[l][($n + 2) % 5],
                    $w[l][($n + 3) % 5],
                    $w[l][($n + 4) % 5]
                );
                $w[l][$n % 5] = next;
                $h[l][($n + 1) % 2] = rounds4!($h[l][$n % 2], $h[l][($n + 1) % 2], next, $k);
            }
        };
    }

    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    pub(super) fn compress2(
        a: &mut [u32; 5],
        block_a: &[u8; 64],
        b: &mut [u32; 5],
        block_b: &[u8; 64],
    ) {
        let state = |s: &[u32; 5]| {
            (
                _mm_set_epi32(s[0] as i32, s[1] as i32, s[2] as i32, s[3] as i32),
                _mm_set_epi32(s[4] as i32, 0, 0, 0),
            )
        };
        let (abcd_a, e_a) = state(a);
        let (abcd_b, e_b) = state(b);
        let abcd = [abcd_a, abcd_b];
        let e = [e_a, e_b];
        let mut w: [[__m128i; 5]; 2] = [[_mm_setzero_si128(); 5]; 2];
        for (l, block) in [block_a, block_b].into_iter().enumerate() {
            w[l] = [
                words!(block, 0),
                words!(block, 1),
                words!(block, 2),
                words!(block, 3),
                _mm_setzero_si128(),
            ];
        }
        // h[l][0] / h[l][1]: the chain's two registers (abcd of alternate groups).
        let mut h: [[__m128i; 2]; 2] = [[_mm_setzero_si128(); 2]; 2];
        for l in 0..2 {
            h[l][0] = abcd[l];
            h[l][1] = _mm_sha1rnds4_epu32(abcd[l], _mm_add_epi32(e[l], w[l][0]), 0);
        }
        // Rounds 4..16 use the block's own words.
        for l in 0..2 {
            h[l][0] = rounds4!(h[l][1], h[l][0], w[l][1], 0);
        }
        for l in 0..2 {
            h[l][1] = rounds4!(h[l][0], h[l][1], w[l][2], 0);
        }
        for l in 0..2 {
            h[l][0] = rounds4!(h[l][1], h[l][0], w[l][3], 0);
        }
        // Rounds 16..80 on scheduled words.
        step!(w, h, 4, 0);
        step!(w, h, 5, 1);
        step!(w, h, 6, 1);
        step!(w, h, 7, 1);
        step!(w, h, 8, 1);
        step!(w, h, 9, 1);
        step!(w, h, 10, 2);
        step!(w, h, 11, 2);
        step!(w, h, 12, 2);
        step!(w, h, 13, 2);
        step!(w, h, 14, 2);
        step!(w, h, 15, 3);
        step!(w, h, 16, 3);
        step!(w, h, 17, 3);
        step!(w, h, 18, 3);
        step!(w, h, 19, 3);
        for (l, s) in [a, b].into_iter().enumerate() {
            // After group 19 the chain's abcd is in h[l][0] and its e term in h[l][1].
            let abcd = _mm_add_epi32(abcd[l], h[l][0]);
            let e = _mm_sha1nexte_epu32(h[l][1], e[l]);
            s[0] = _mm_extract_epi32(abcd, 3) as u32;
            s[1] = _mm_extract_epi32(abcd, 2) as u32;
            s[2] = _mm_extract_epi32(abcd, 1) as u32;
            s[3] = _mm_extract_epi32(abcd, 0) as u32;
            s[4] = _mm_extract_epi32(e, 3) as u32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::compress2;

    const H0: [u32; 5] = [
        0x6745_2301,
        0xefcd_ab89,
        0x98ba_dcfe,
        0x1032_5476,
        0xc3d2_e1f0,
    ];

    fn one(mut s: [u32; 5], block: &[u8; 64]) -> [u32; 5] {
        sha1::block_api::compress(&mut s, std::slice::from_ref(block));
        s
    }

    /// FIPS 180-4 example "abc" (one padded block): the digest of the SHA-1 standard.
    #[test]
    fn abc_in_both_lanes() {
        let mut block = [0u8; 64];
        block[..3].copy_from_slice(b"abc");
        block[3] = 0x80;
        block[63] = 24;
        let (mut a, mut b) = (H0, H0);
        compress2(&mut a, &block, &mut b, &block);
        let want = [
            0xa999_3e36,
            0x4706_816a,
            0xba3e_2571,
            0x7850_c26c,
            0x9cd0_d89d,
        ];
        assert_eq!(a, want);
        assert_eq!(b, want);
    }

    /// Lanes are independent and match the single-lane compression for varied states
    /// and blocks.
    #[test]
    fn matches_single_lane() {
        let mut x = 0x9e37_79b9_u32;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x
        };
        for _ in 0..200 {
            let sa: [u32; 5] = std::array::from_fn(|_| next());
            let sb: [u32; 5] = std::array::from_fn(|_| next());
            let ba: [u8; 64] = std::array::from_fn(|_| next() as u8);
            let bb: [u8; 64] = std::array::from_fn(|_| next() as u8);
            let (mut a, mut b) = (sa, sb);
            compress2(&mut a, &ba, &mut b, &bb);
            assert_eq!(a, one(sa, &ba));
            assert_eq!(b, one(sb, &bb));
        }
    }
}
