//! The AES-CM → AES-CM SRTP transcode of one packet in one pass, with AES-NI and
//! SHA-NI picked at run time: `C' = C ⊕ KS_A ⊕ KS_B` over the payload, HMAC-SHA1 of
//! leg A over the packet as it came in and HMAC-SHA1 of leg B over the packet as it
//! leaves (RFC 3711 §4.1.1, §4.2.1). The protocol logic around it (index, replay,
//! header rewrite, tag comparison, state update) is in `srtp::fused`; this is only the
//! arithmetic.
//!
//! Why one kernel: a single SHA-NI compression is latency bound (`sha1rnds4` waits on
//! the previous one, 20 times per block), so the two HMACs are run as two independent
//! chains side by side (36 ns for one block alone, 41 ns for two interleaved on the
//! project machine), and the AES rounds of the next window's keystream, the window
//! assembly and the write-back of C' fill the execution units the SHA chain leaves
//! idle. Everything stays in registers between the 64-octet windows: the keystream is
//! aligned to the packet with two `pshufb`s, the SHA-1 state never goes to memory, and
//! the outer hash is built from the inner state in registers.
//!
//! Two variants, picked at run time ([`Kernel::best`]): 256-bit VAES where the CPU has
//! it (one instruction runs a round of a block of each leg: half the AES instructions,
//! which on the project machine compete with SHA-1 for the vector units), else 128-bit
//! AES-NI. Without AES-NI, SHA-NI, SSSE3 and SSE4.1 there is no variant and the caller
//! takes the general path.

/// A SHA-1 digest as the kernel writes it: octets 0..16 in one vector store, octets
/// 16..20 in another. Written in place, not returned: a returned pair was copied with
/// loads spanning both stores, which the CPU cannot forward (a stall per packet).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[repr(C, align(16))]
pub(crate) struct Digest {
    pub(crate) head: [u8; 16],
    pub(crate) tail: [u8; 4],
}

#[cfg(test)]
impl Digest {
    /// The 20 octets.
    pub(crate) fn octets(self) -> [u8; 20] {
        let mut out = [0u8; 20];
        out[..16].copy_from_slice(&self.head);
        out[16..].copy_from_slice(&self.tail);
        out
    }
}

/// One leg's keys and per-packet values for [`transcode`].
pub(crate) struct Lane<'a> {
    /// AES-128 round keys (FIPS 197 §5.2), round 0 first.
    pub(crate) round_keys: &'a [[u8; 16]; 11],
    /// The counter block of payload block 0 (RFC 3711 §4.1.1) as a big-endian number;
    /// its low 16 bits are zero, and block `j` is this with `j` in them. A number, not
    /// octets: octets stored one by one and loaded as a vector would stall the load.
    pub(crate) iv: u128,
    /// SHA-1 states after `K ⊕ ipad` and after `K ⊕ opad` (RFC 2104).
    pub(crate) inner: [u32; 5],
    pub(crate) outer: [u32; 5],
    /// The ROC appended to the authenticated portion (RFC 3711 §4.2).
    pub(crate) roc: u32,
}

/// The packet for [`transcode`]: `buf[..body_end]` is leg A's packet as it came in;
/// `new_header` is leg B's fixed header, octet `i` in bits `8i..8i+8` (the kernel
/// writes it with the first chunk; written into `buf` beforehand, octet by octet, it
/// would stall the kernel's first load).
pub(crate) struct Packet<'a> {
    pub(crate) buf: &'a mut [u8],
    pub(crate) new_header: u128,
    pub(crate) hdr_len: usize,
    pub(crate) body_end: usize,
}

/// Octets of the RTP fixed header (RFC 3550 §5.1).
pub(crate) const FIXED_HEADER: usize = 12;

/// The kernel variants, by the AES instructions they use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kernel {
    /// 128-bit AES-NI: any x86-64 with AES-NI and SHA-NI (AMD Zen 1 on, Intel Goldmont,
    /// Ice Lake on).
    AesNi,
    /// 256-bit VAES, one instruction for a round of both legs' blocks (AMD Zen 3 on,
    /// Intel Ice Lake on).
    Vaes,
}

impl Kernel {
    /// The fastest variant this CPU runs, if any.
    #[inline]
    pub(crate) fn best() -> Option<Self> {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            if has!("aes") && has!("sha") && has!("sse4.1") && has!("ssse3") {
                return Some(if has!("vaes") && has!("avx2") {
                    Kernel::Vaes
                } else {
                    Kernel::AesNi
                });
            }
        }
        None
    }

    /// Whether this CPU runs `self`.
    #[inline]
    pub(crate) fn runs_here(self) -> bool {
        matches!(
            (Self::best(), self),
            (Some(Kernel::Vaes), _) | (Some(Kernel::AesNi), Kernel::AesNi)
        )
    }
}

/// Turns leg A's payload in `p.buf[p.hdr_len..p.body_end]` into leg B's, in place,
/// with the variant `kernel`, writes `new_header` over the fixed header, and writes
/// into `digests` the full HMAC-SHA1 of both legs (A over the packet as it came
/// `‖ ROC_A`, B over the new packet `‖ ROC_B`); returns `true`. Octets from
/// `body_end` on are left as they are.
///
/// `false`, with `buf` untouched, when the CPU lacks the variant or the packet breaks
/// the layout the kernel relies on: `FIXED_HEADER ≤ hdr_len ≤ body_end`, room for
/// whole 16-octet chunks up to `body_end`, fewer than 2^16 payload blocks, counter
/// blocks whose low 16 bits are zero and a new header of 12 octets.
#[inline]
pub(crate) fn transcode_with(
    kernel: Kernel,
    a: &Lane<'_>,
    b: &Lane<'_>,
    p: &mut Packet<'_>,
    digests: &mut [Digest; 2],
) -> bool {
    let fits = FIXED_HEADER <= p.hdr_len
        && p.hdr_len <= p.body_end
        && p.buf.len() >= p.body_end.next_multiple_of(16)
        && (p.body_end - p.hdr_len).div_ceil(16) < 1 << 16
        && a.iv & 0xffff == 0
        && b.iv & 0xffff == 0
        && p.new_header >> (8 * FIXED_HEADER) == 0;
    if !fits || !kernel.runs_here() {
        return false;
    }
    #[cfg(target_arch = "x86_64")]
    {
        match kernel {
            // SAFETY: `ni::transcode` requires the CPU features `aes`, `sha`, `sse2`,
            // `ssse3` and `sse4.1`: `runs_here` detected all but `sse2` at run time, and
            // `sse2` is part of the x86_64 baseline. Its memory accesses go through
            // checked slices of `p.buf`, so there is no other invariant to uphold.
            Kernel::AesNi => unsafe { ni::transcode(a, b, p, digests) },
            // SAFETY: as above, plus `vaes` and `avx2`, which `runs_here` also detected.
            Kernel::Vaes => unsafe { ni::transcode_vaes(a, b, p, digests) },
        }
        true
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        None
    }
}

/// Mask of the low `n` octets of a little-endian `u128` (`n` ≤ 16).
pub(crate) fn low_octets(n: usize) -> u128 {
    match n {
        0 => 0,
        16.. => u128::MAX,
        _ => (1u128 << (8 * n)) - 1,
    }
}

/// The message tail of one lane — ROC, then the FIPS 180-4 §5.1.1 `0x80` octet — as it
/// falls into the 16-octet chunk at packet offset `off`, for a payload ending at
/// `body_end` (little-endian: octet `i` of the chunk is bits `8i..8i+8`).
fn tail_in_chunk(roc: u32, body_end: usize, off: usize) -> u128 {
    let tail = u128::from(roc.swap_bytes()) | 0x80 << 32;
    if body_end >= off {
        let shift = 8 * (body_end - off);
        if shift < 128 {
            tail << shift
        } else {
            0
        }
    } else {
        let shift = 8 * (off - body_end);
        if shift < 128 {
            tail >> shift
        } else {
            0
        }
    }
}

#[cfg(target_arch = "x86_64")]
// Lanes, blocks and rounds index several arrays in step (states, keys, messages).
#[allow(clippy::needless_range_loop)]
mod ni {
    use std::arch::x86_64::{
        __m128i, __m256i, _mm256_aesenc_epi128, _mm256_aesenclast_epi128, _mm256_castsi256_si128,
        _mm256_extracti128_si256, _mm256_set_m128i, _mm256_xor_si256, _mm_add_epi32, _mm_add_epi8,
        _mm_aesenc_si128, _mm_aesenclast_si128, _mm_and_si128, _mm_andnot_si128, _mm_cmpgt_epi8,
        _mm_extract_epi32, _mm_insert_epi16, _mm_loadu_si128, _mm_or_si128, _mm_set1_epi8,
        _mm_set_epi32, _mm_set_epi64x, _mm_set_epi8, _mm_setzero_si128, _mm_sha1msg1_epu32,
        _mm_sha1msg2_epu32, _mm_sha1nexte_epu32, _mm_sha1rnds4_epu32, _mm_shuffle_epi8,
        _mm_storeu_si128, _mm_xor_si128,
    };

    use super::{low_octets, tail_in_chunk, Digest, Lane, Packet, FIXED_HEADER};

    /// Sixteen octets as a vector (octet `i` in byte lane `i`).
    #[inline]
    #[target_feature(enable = "sse2")]
    fn load(b: &[u8; 16]) -> __m128i {
        // SAFETY: reads exactly the 16 octets `b` borrows; `loadu` has no alignment
        // requirement.
        unsafe { _mm_loadu_si128(b.as_ptr().cast()) }
    }

    #[inline]
    #[target_feature(enable = "sse2")]
    fn store(b: &mut [u8; 16], v: __m128i) {
        // SAFETY: writes exactly the 16 octets `b` borrows mutably; `storeu` has no
        // alignment requirement.
        unsafe { _mm_storeu_si128(b.as_mut_ptr().cast(), v) }
    }

    #[inline]
    #[target_feature(enable = "sse2")]
    fn from_u128(v: u128) -> __m128i {
        _mm_set_epi64x((v >> 64) as i64, v as i64)
    }

    /// The chunk of `buf` at `off` (the caller checked the length up front).
    #[inline]
    fn chunk(buf: &mut [u8], off: usize) -> &mut [u8; 16] {
        let Some(Ok(c)) = buf.get_mut(off..off + 16).map(<&mut [u8; 16]>::try_from) else {
            unreachable!("transcode checked room for every chunk before body_end");
        };
        c
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

    /// Makes the SHA-1 chain registers of both lanes and the AES blocks in flight pass
    /// through one point of the program. Without it the compiler moves all the AES
    /// rounds issued between the SHA-1 groups past the whole block (they are
    /// independent), and the CPU then queues them behind the waiting SHA-1 chain
    /// instead of running them in its idle cycles.
    macro_rules! pin_xmm {
        ($h0:expr, $h1:expr, $s:ident) => {
            // SAFETY: the template is empty: no instruction runs and no memory, stack or
            // flag is touched; the operands only pass through unchanged.
            unsafe {
                std::arch::asm!(
                    "/* {0} {1} {2} {3} {4} {5} */",
                    inout(xmm_reg) $h0,
                    inout(xmm_reg) $h1,
                    inout(xmm_reg) $s[0],
                    inout(xmm_reg) $s[1],
                    inout(xmm_reg) $s[2],
                    inout(xmm_reg) $s[3],
                    options(pure, nomem, nostack, preserves_flags),
                )
            }
        };
    }

    /// [`pin_xmm`] for the two 256-bit VAES states in flight.
    macro_rules! pin_ymm {
        ($h0:expr, $h1:expr, $s:ident) => {
            // SAFETY: as in `pin_xmm`: an empty template, operands pass through.
            unsafe {
                std::arch::asm!(
                    "/* {0} {1} {2} {3} */",
                    inout(xmm_reg) $h0,
                    inout(xmm_reg) $h1,
                    inout(ymm_reg) $s[0],
                    inout(ymm_reg) $s[1],
                    options(pure, nomem, nostack, preserves_flags),
                )
            }
        };
    }

    /// One SHA-1 compression (FIPS 180-4 §6.1.2) in each lane, side by side. `$abcd`
    /// holds `a` in the high 32-bit lane, `$e` holds `e` there; `$msg` is the block as
    /// message words, first word in the high lane.
    ///
    /// With `$aes`, `$aes!(g, h0, h1)` runs after round group `g` (0..20), `h0`/`h1`
    /// being the chain registers that group wrote: the AES work of the next window
    /// goes there ([`pin_xmm`], [`pin_ymm`]), as the SHA chain is latency bound. (A macro, not a function: `#[inline(always)]` does not
    /// combine with `#[target_feature]`, and the stitching must survive inlining.)
    macro_rules! sha1_pair {
        ($abcd:ident, $e:ident, $msg:expr $(, $aes:ident)?) => {{
            let msg: [[__m128i; 4]; 2] = $msg;
            let mut w: [[__m128i; 5]; 2] = [[_mm_setzero_si128(); 5]; 2];
            for l in 0..2 {
                w[l][..4].copy_from_slice(&msg[l]);
            }
            // h[l][0] / h[l][1]: the chain's two registers (abcd of alternate groups).
            let mut h: [[__m128i; 2]; 2] = [[_mm_setzero_si128(); 2]; 2];
            for l in 0..2 {
                h[l][0] = $abcd[l];
                h[l][1] = _mm_sha1rnds4_epu32($abcd[l], _mm_add_epi32($e[l], w[l][0]), 0);
            }
            $($aes!(0, h[0][1], h[1][1]);)?
            // Rounds 4..16 use the block's own words.
            for l in 0..2 {
                h[l][0] = rounds4!(h[l][1], h[l][0], w[l][1], 0);
            }
            $($aes!(1, h[0][0], h[1][0]);)?
            for l in 0..2 {
                h[l][1] = rounds4!(h[l][0], h[l][1], w[l][2], 0);
            }
            $($aes!(2, h[0][1], h[1][1]);)?
            for l in 0..2 {
                h[l][0] = rounds4!(h[l][1], h[l][0], w[l][3], 0);
            }
            $($aes!(3, h[0][0], h[1][0]);)?
            // Rounds 16..80 on scheduled words.
            step!(w, h, 4, 0);
            $($aes!(4, h[0][1], h[1][1]);)?
            step!(w, h, 5, 1);
            $($aes!(5, h[0][0], h[1][0]);)?
            step!(w, h, 6, 1);
            $($aes!(6, h[0][1], h[1][1]);)?
            step!(w, h, 7, 1);
            $($aes!(7, h[0][0], h[1][0]);)?
            step!(w, h, 8, 1);
            $($aes!(8, h[0][1], h[1][1]);)?
            step!(w, h, 9, 1);
            $($aes!(9, h[0][0], h[1][0]);)?
            step!(w, h, 10, 2);
            $($aes!(10, h[0][1], h[1][1]);)?
            step!(w, h, 11, 2);
            $($aes!(11, h[0][0], h[1][0]);)?
            step!(w, h, 12, 2);
            $($aes!(12, h[0][1], h[1][1]);)?
            step!(w, h, 13, 2);
            $($aes!(13, h[0][0], h[1][0]);)?
            step!(w, h, 14, 2);
            $($aes!(14, h[0][1], h[1][1]);)?
            step!(w, h, 15, 3);
            $($aes!(15, h[0][0], h[1][0]);)?
            step!(w, h, 16, 3);
            $($aes!(16, h[0][1], h[1][1]);)?
            step!(w, h, 17, 3);
            $($aes!(17, h[0][0], h[1][0]);)?
            step!(w, h, 18, 3);
            $($aes!(18, h[0][1], h[1][1]);)?
            step!(w, h, 19, 3);
            $($aes!(19, h[0][0], h[1][0]);)?
            for l in 0..2 {
                // After group 19 the chain's abcd is in h[l][0] and its e term in h[l][1].
                $abcd[l] = _mm_add_epi32($abcd[l], h[l][0]);
                $e[l] = _mm_sha1nexte_epu32(h[l][1], $e[l]);
            }
        }};
    }

    #[inline]
    #[target_feature(enable = "sse2")]
    fn state_in(s: &[u32; 5]) -> (__m128i, __m128i) {
        (
            _mm_set_epi32(s[0] as i32, s[1] as i32, s[2] as i32, s[3] as i32),
            _mm_set_epi32(s[4] as i32, 0, 0, 0),
        )
    }

    #[inline]
    #[target_feature(enable = "sse2,ssse3,sse4.1")]
    fn digest(out: &mut Digest, abcd: __m128i, e: __m128i) {
        // Octet order: a, b, c, d big-endian is the whole register reversed.
        let rev = _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        store(&mut out.head, _mm_shuffle_epi8(abcd, rev));
        out.tail = (_mm_extract_epi32(e, 3) as u32).to_be_bytes();
    }

    /// Round 0 (AddRoundKey) of the counter blocks `j0..j0+4` of each leg: block `j`
    /// is the leg's IV with `j` in its last two octets (RFC 3711 §4.1.1, IV + j).
    #[inline]
    #[target_feature(enable = "sse2")]
    fn aes_start(iv: &[__m128i; 2], rk: &[[__m128i; 11]; 2], j0: u16) -> [[__m128i; 4]; 2] {
        let mut s = [[_mm_setzero_si128(); 4]; 2];
        for l in 0..2 {
            for t in 0..4 {
                let j = j0.wrapping_add(t as u16).swap_bytes();
                s[l][t] = _mm_xor_si128(_mm_insert_epi16(iv[l], i32::from(j), 7), rk[l][0]);
            }
        }
        s
    }

    /// The last round, and `KS_A ⊕ KS_B` per block.
    #[inline]
    #[target_feature(enable = "aes,sse2")]
    fn aes_finish(s: &[[__m128i; 4]; 2], rk: &[[__m128i; 11]; 2]) -> [__m128i; 4] {
        let mut out = [_mm_setzero_si128(); 4];
        for (t, o) in out.iter_mut().enumerate() {
            *o = _mm_xor_si128(
                _mm_aesenclast_si128(s[0][t], rk[0][10]),
                _mm_aesenclast_si128(s[1][t], rk[1][10]),
            );
        }
        out
    }

    /// What every window of a packet shares.
    struct Shape {
        hdr_len: usize,
        body_end: usize,
        windows: usize,
        /// Keystream blocks left of the payload: chunk k takes blocks k-m-1 and k-m.
        m: usize,
        lo: __m128i,
        hi: __m128i,
        to_words: __m128i,
        new_header: __m128i,
        fixed: __m128i,
        bits: u128,
        roc: [u32; 2],
    }

    impl Shape {
        #[inline]
        #[target_feature(enable = "sse2,ssse3")]
        fn new(p: &Packet<'_>, roc: [u32; 2]) -> Self {
            // `pshufb` masks that put octets r..16 of one keystream block and octets
            // 0..r of the next side by side (`0x80` selects zero; only the low four
            // bits index), r = 16 - hdr_len % 16 in 1..=16. Built in registers: octets
            // stored one by one and loaded as a vector would stall the load.
            let r = (16 - p.hdr_len % 16) as i8;
            let idx = _mm_add_epi8(
                _mm_set_epi8(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                _mm_set1_epi8(r),
            );
            let past = _mm_cmpgt_epi8(idx, _mm_set1_epi8(15));
            let zero_bit = _mm_set1_epi8(0x80u8 as i8);
            let lo = _mm_or_si128(idx, _mm_and_si128(past, zero_bit));
            let hi = _mm_or_si128(idx, _mm_andnot_si128(past, zero_bit));
            Self {
                hdr_len: p.hdr_len,
                body_end: p.body_end,
                windows: (p.body_end + 4 + 9).div_ceil(64),
                m: p.hdr_len / 16,
                lo,
                hi,
                // Octet i of a chunk to octet 15-i: message words big-endian, first
                // word in the high lane, as `sha1rnds4` takes them.
                to_words: _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                new_header: from_u128(p.new_header),
                fixed: from_u128(low_octets(FIXED_HEADER)),
                bits: u128::from(((64 + p.body_end as u64 + 4) * 8).swap_bytes()) << 64,
                roc,
            }
        }

        /// Counter block index of the first new keystream block of window `w`
        /// (negative ones fall in the header and are masked out).
        fn first_block(&self, w: usize) -> u16 {
            (4 * w).wrapping_sub(self.m) as u16
        }
    }

    /// Builds both lanes' message words of window `w` and writes C' (and leg B's fixed
    /// header) back into `buf`. `ks` is `KS_A ⊕ KS_B` for keystream blocks
    /// `first_block(w) - 1 .. first_block(w) + 4`.
    /// (A macro so that it is inlined into both kernels: as a function the compiler
    /// kept it out of line, and the window's message words went through memory.)
    macro_rules! assemble {
        ($sh:expr, $buf:expr, $w:expr, $ks:expr) => {{
            let sh: &Shape = $sh;
            let buf: &mut [u8] = $buf;
            let w: usize = $w;
            let ks: [__m128i; 5] = $ks;
            let (hdr_len, body_end) = (sh.hdr_len, sh.body_end);
            let mut msg = [[_mm_setzero_si128(); 4]; 2];
            for q in 0..4 {
                let off = 64 * w + 16 * q;
                let aligned = _mm_or_si128(
                    _mm_shuffle_epi8(ks[q], sh.lo),
                    _mm_shuffle_epi8(ks[q + 1], sh.hi),
                );
                let (ca, cb) = if off >= hdr_len && off + 16 <= body_end {
                    // Payload only: no header, no tail, no mask.
                    let c = chunk(buf, off);
                    let ca = load(c);
                    let cb = _mm_xor_si128(ca, aligned);
                    store(c, cb);
                    (ca, cb)
                } else {
                    let (mut ca, mut cb) = (_mm_setzero_si128(), _mm_setzero_si128());
                    if off < body_end {
                        let c = chunk(buf, off);
                        let raw = load(c);
                        let keep = from_u128(low_octets(body_end - off));
                        let header = from_u128(low_octets(hdr_len.saturating_sub(off)));
                        let k = _mm_andnot_si128(header, _mm_and_si128(aligned, keep));
                        let raw_b = if off == 0 {
                            _mm_or_si128(_mm_andnot_si128(sh.fixed, raw), sh.new_header)
                        } else {
                            raw
                        };
                        // Octets past `body_end` (tag A, tailroom) go back unchanged.
                        store(c, _mm_xor_si128(raw_b, k));
                        ca = _mm_and_si128(raw, keep);
                        cb = _mm_xor_si128(_mm_and_si128(raw_b, keep), k);
                    }
                    ca = _mm_or_si128(ca, from_u128(tail_in_chunk(sh.roc[0], body_end, off)));
                    cb = _mm_or_si128(cb, from_u128(tail_in_chunk(sh.roc[1], body_end, off)));
                    if w + 1 == sh.windows && q == 3 {
                        ca = _mm_or_si128(ca, from_u128(sh.bits));
                        cb = _mm_or_si128(cb, from_u128(sh.bits));
                    }
                    (ca, cb)
                };
                msg[0][q] = _mm_shuffle_epi8(ca, sh.to_words);
                msg[1][q] = _mm_shuffle_epi8(cb, sh.to_words);
            }
            msg
        }};
    }

    /// The inner states of both lanes, and the RFC 2104 outer hash
    /// `H(K ⊕ opad ‖ inner digest)`, one padded block per lane; returns both digests.
    macro_rules! outer {
        ($a:expr, $b:expr, $inner:expr, $inner_e:expr, $out:expr) => {{
            let (a, b): (&Lane<'_>, &Lane<'_>) = ($a, $b);
            let (inner, inner_e): ([__m128i; 2], [__m128i; 2]) = ($inner, $inner_e);
            // The inner digest's words are the inner state, already in message-word layout.
            let length = _mm_set_epi32(0, 0, 0, (64 + 20) * 8);
            let mut outer_msg = [[_mm_setzero_si128(); 4]; 2];
            for l in 0..2 {
                let e_word = _mm_extract_epi32(inner_e[l], 3);
                outer_msg[l] = [
                    inner[l],
                    _mm_set_epi32(e_word, 0x8000_0000_u32 as i32, 0, 0),
                    _mm_setzero_si128(),
                    length,
                ];
            }
            let (oa, oe_a) = state_in(&a.outer);
            let (ob, oe_b) = state_in(&b.outer);
            let (mut abcd, mut e) = ([oa, ob], [oe_a, oe_b]);
            sha1_pair!(abcd, e, outer_msg);
            digest(&mut $out[0], abcd[0], e[0]);
            digest(&mut $out[1], abcd[1], e[1]);
        }};
    }

    /// The kernel with 128-bit AES-NI: four counter blocks in flight, two of each leg.
    #[target_feature(enable = "aes,sha,sse2,ssse3,sse4.1")]
    pub(super) fn transcode(
        a: &Lane<'_>,
        b: &Lane<'_>,
        p: &mut Packet<'_>,
        digests: &mut [Digest; 2],
    ) {
        let sh = Shape::new(p, [a.roc, b.roc]);
        let rk = [a.round_keys, b.round_keys].map(|keys| keys.map(|k| load(&k)));
        let iv = [from_u128(a.iv.swap_bytes()), from_u128(b.iv.swap_bytes())];
        let (abcd_a, e_a) = state_in(&a.inner);
        let (abcd_b, e_b) = state_in(&b.inner);
        let (mut abcd, mut e) = ([abcd_a, abcd_b], [e_a, e_b]);
        // Window 0's keystream up front, all eight blocks in the pipeline.
        let mut s = aes_start(&iv, &rk, sh.first_block(0));
        for r in 1..10 {
            for l in 0..2 {
                for t in 0..4 {
                    s[l][t] = _mm_aesenc_si128(s[l][t], rk[l][r]);
                }
            }
        }
        let mut x = aes_finish(&s, &rk);
        let mut carry = _mm_setzero_si128();
        for w in 0..sh.windows {
            let msg = assemble!(&sh, p.buf, w, [carry, x[0], x[1], x[2], x[3]]);
            carry = x[3];
            // Window w+1's keystream stitched into window w's SHA-1: blocks 0 and 1 of
            // both legs in groups 0..10, so that the first chunks of the next window
            // are ready early, then blocks 2 and 3 in groups 10..20.
            let ctr = aes_start(&iv, &rk, sh.first_block(w + 1));
            let mut s = [ctr[0][0], ctr[0][1], ctr[1][0], ctr[1][1]];
            macro_rules! aes_group {
                (9, $h0:expr, $h1:expr) => {
                    pin_xmm!($h0, $h1, s);
                    for t in 0..2 {
                        x[t] = _mm_xor_si128(
                            _mm_aesenclast_si128(s[t], rk[0][10]),
                            _mm_aesenclast_si128(s[t + 2], rk[1][10]),
                        );
                    }
                    s = [ctr[0][2], ctr[0][3], ctr[1][2], ctr[1][3]];
                };
                (19, $h0:expr, $h1:expr) => {
                    pin_xmm!($h0, $h1, s);
                    for t in 0..2 {
                        x[t + 2] = _mm_xor_si128(
                            _mm_aesenclast_si128(s[t], rk[0][10]),
                            _mm_aesenclast_si128(s[t + 2], rk[1][10]),
                        );
                    }
                };
                ($g:literal, $h0:expr, $h1:expr) => {
                    pin_xmm!($h0, $h1, s);
                    // Round 1..=9 of the four blocks in flight (two of each leg).
                    for t in 0..4 {
                        s[t] = _mm_aesenc_si128(s[t], rk[t / 2][$g % 10 + 1]);
                    }
                };
            }
            sha1_pair!(abcd, e, msg, aes_group);
        }
        outer!(a, b, abcd, e, digests);
    }

    /// `KS_A ⊕ KS_B` of a VAES state holding leg A's block in the low half and leg B's
    /// in the high half.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn fold(v: __m256i) -> __m128i {
        _mm_xor_si128(_mm256_castsi256_si128(v), _mm256_extracti128_si256::<1>(v))
    }

    /// The kernel with VAES: each 256-bit AES instruction runs a round of one block of
    /// each leg (the round key register holds both legs' keys), half the instructions
    /// of [`transcode`], so the AES work competes less with SHA-1 for the vector units.
    #[target_feature(enable = "vaes,avx2,aes,sha,sse2,ssse3,sse4.1")]
    pub(super) fn transcode_vaes(
        a: &Lane<'_>,
        b: &Lane<'_>,
        p: &mut Packet<'_>,
        digests: &mut [Digest; 2],
    ) {
        let sh = Shape::new(p, [a.roc, b.roc]);
        let rk: [__m256i; 11] = std::array::from_fn(|r| {
            _mm256_set_m128i(load(&b.round_keys[r]), load(&a.round_keys[r]))
        });
        let iv = [from_u128(a.iv.swap_bytes()), from_u128(b.iv.swap_bytes())];
        // Counter blocks j0..j0+4 of both legs, after round 0.
        let start = |j0: u16| -> [__m256i; 4] {
            std::array::from_fn(|t| {
                let j = i32::from(j0.wrapping_add(t as u16).swap_bytes());
                let pair = _mm256_set_m128i(
                    _mm_insert_epi16::<7>(iv[1], j),
                    _mm_insert_epi16::<7>(iv[0], j),
                );
                _mm256_xor_si256(pair, rk[0])
            })
        };
        let (abcd_a, e_a) = state_in(&a.inner);
        let (abcd_b, e_b) = state_in(&b.inner);
        let (mut abcd, mut e) = ([abcd_a, abcd_b], [e_a, e_b]);
        let mut s = start(sh.first_block(0));
        for r in 1..10 {
            for v in &mut s {
                *v = _mm256_aesenc_epi128(*v, rk[r]);
            }
        }
        let mut x = s.map(|v| fold(_mm256_aesenclast_epi128(v, rk[10])));
        let mut carry = _mm_setzero_si128();
        for w in 0..sh.windows {
            let msg = assemble!(&sh, p.buf, w, [carry, x[0], x[1], x[2], x[3]]);
            carry = x[3];
            // As in `transcode`: blocks 0 and 1 in groups 0..10, 2 and 3 in 10..20.
            let ctr = start(sh.first_block(w + 1));
            let mut s = [ctr[0], ctr[1]];
            macro_rules! aes_group {
                (9, $h0:expr, $h1:expr) => {
                    pin_ymm!($h0, $h1, s);
                    for t in 0..2 {
                        x[t] = fold(_mm256_aesenclast_epi128(s[t], rk[10]));
                    }
                    s = [ctr[2], ctr[3]];
                };
                (19, $h0:expr, $h1:expr) => {
                    pin_ymm!($h0, $h1, s);
                    for t in 0..2 {
                        x[t + 2] = fold(_mm256_aesenclast_epi128(s[t], rk[10]));
                    }
                };
                ($g:literal, $h0:expr, $h1:expr) => {
                    pin_ymm!($h0, $h1, s);
                    for v in &mut s {
                        *v = _mm256_aesenc_epi128(*v, rk[$g % 10 + 1]);
                    }
                };
            }
            sha1_pair!(abcd, e, msg, aes_group);
        }
        outer!(a, b, abcd, e, digests);
    }
}

#[cfg(test)]
mod tests {
    use super::{transcode_with, Digest, Kernel, Lane, Packet, FIXED_HEADER};

    fn next(x: &mut u64) -> u64 {
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        *x
    }

    /// Reference: RFC 3711 AES-CM with the `aes` crate and HMAC-SHA1 with `sha1`.
    fn keystream(key: &[u8; 16], iv: [u8; 16], len: usize) -> Vec<u8> {
        use aes::cipher::{BlockEncrypt, KeyInit};
        let cipher = aes::Aes128::new(key.into());
        let mut out = Vec::new();
        let mut ctr = u128::from_be_bytes(iv);
        while out.len() < len {
            let mut block = aes::Block::from(ctr.to_be_bytes());
            cipher.encrypt_block(&mut block);
            out.extend_from_slice(&block);
            ctr = ctr.wrapping_add(1);
        }
        out.truncate(len);
        out
    }

    fn hmac(key: &[u8; 20], msg: &[u8]) -> [u8; 20] {
        use sha1::{Digest, Sha1};
        let mut ipad = [0x36u8; 64];
        let mut opad = [0x5cu8; 64];
        for (i, k) in key.iter().enumerate() {
            ipad[i] ^= k;
            opad[i] ^= k;
        }
        let inner = Sha1::new().chain_update(ipad).chain_update(msg).finalize();
        Sha1::new()
            .chain_update(opad)
            .chain_update(inner)
            .finalize()
            .into()
    }

    /// SHA-1 state after one block (the HMAC pads), for the kernel's precomputed states.
    fn pad_state(key: &[u8; 20], pad: u8) -> [u32; 5] {
        let mut block = [pad; 64];
        for (b, k) in block.iter_mut().zip(key) {
            *b ^= k;
        }
        let mut s = [
            0x6745_2301,
            0xefcd_ab89,
            0x98ba_dcfe,
            0x1032_5476,
            0xc3d2_e1f0,
        ];
        sha1::block_api::compress(&mut s, std::slice::from_ref(&block));
        s
    }

    /// Every header length (12..=40 octets, CSRCs and extensions) and payload size
    /// (0..=300 octets, so every alignment of the tail in its window) against the
    /// reference composition.
    #[test]
    fn matches_reference_for_every_layout() {
        let kernels: Vec<Kernel> = [Kernel::AesNi, Kernel::Vaes]
            .into_iter()
            .filter(|k| k.runs_here())
            .collect();
        if kernels.is_empty() {
            eprintln!("no AES-NI/SHA-NI here: the kernel is not used, nothing to compare");
            return;
        }
        let mut x = 0x2545_f491_4f6c_dd1d_u64;
        for (hdr_len, &kernel) in (FIXED_HEADER..=40)
            .step_by(4)
            .flat_map(|h| kernels.iter().map(move |k| (h, k)))
        {
            for payload in 0..=300usize {
                let key_a: [u8; 16] = std::array::from_fn(|_| next(&mut x) as u8);
                let key_b: [u8; 16] = std::array::from_fn(|_| next(&mut x) as u8);
                let mac_a: [u8; 20] = std::array::from_fn(|_| next(&mut x) as u8);
                let mac_b: [u8; 20] = std::array::from_fn(|_| next(&mut x) as u8);
                let iv_a = u128::from(next(&mut x)) << 64 | u128::from(next(&mut x) << 16);
                let iv_b = u128::from(next(&mut x)) << 64 | u128::from(next(&mut x) << 16);
                let roc_a = next(&mut x) as u32;
                let roc_b = next(&mut x) as u32;
                let body_end = hdr_len + payload;
                let total = body_end + 10 + 16;
                let original: Vec<u8> = (0..total).map(|_| next(&mut x) as u8).collect();
                let new_header: [u8; FIXED_HEADER] = std::array::from_fn(|_| next(&mut x) as u8);

                let mut buf = original.clone();
                let keys_a = crate::srtp::cipher::expand_aes128(&key_a);
                let keys_b = crate::srtp::cipher::expand_aes128(&key_b);
                let lane = |keys, iv, mac: &[u8; 20], roc| Lane {
                    round_keys: keys,
                    iv,
                    inner: pad_state(mac, 0x36),
                    outer: pad_state(mac, 0x5c),
                    roc,
                };
                let (la, lb) = (
                    lane(&keys_a, iv_a, &mac_a, roc_a),
                    lane(&keys_b, iv_b, &mac_b, roc_b),
                );
                let mut packet = Packet {
                    buf: &mut buf,
                    new_header: new_header
                        .iter()
                        .enumerate()
                        .fold(0, |h, (i, &o)| h | u128::from(o) << (8 * i)),
                    hdr_len,
                    body_end,
                };
                let mut tags = [Digest::default(); 2];
                assert!(
                    transcode_with(kernel, &la, &lb, &mut packet, &mut tags),
                    "layout fits"
                );
                let [tag_a, tag_b] = tags;

                let mut want = original.clone();
                let msg_a = [&original[..body_end], &roc_a.to_be_bytes()[..]].concat();
                want[..FIXED_HEADER].copy_from_slice(&new_header);
                let ks_a = keystream(&key_a, iv_a.to_be_bytes(), payload);
                let ks_b = keystream(&key_b, iv_b.to_be_bytes(), payload);
                for (i, o) in want[hdr_len..body_end].iter_mut().enumerate() {
                    *o ^= ks_a[i] ^ ks_b[i];
                }
                let msg_b = [&want[..body_end], &roc_b.to_be_bytes()[..]].concat();
                let what = format!("{kernel:?}: header {hdr_len}, payload {payload}");
                assert_eq!(buf, want, "{what}: C' and the octets past body_end");
                assert_eq!(tag_a.octets(), hmac(&mac_a, &msg_a), "{what}: tag A");
                assert_eq!(tag_b.octets(), hmac(&mac_b, &msg_b), "{what}: tag B");
            }
        }
    }

    #[test]
    fn refuses_layouts_it_cannot_do_and_leaves_the_buffer() {
        let keys = [[0u8; 16]; 11];
        let lane = |iv| Lane {
            round_keys: &keys,
            iv,
            inner: [0; 5],
            outer: [0; 5],
            roc: 0,
        };
        let cases: [(usize, usize, usize, u128, u128); 5] = [
            (8, 100, 128, 0, 0),        // header shorter than the fixed header
            (12, 8, 128, 0, 0),         // body ends inside the header
            (12, 100, 100, 0, 0),       // no room for the last whole chunk
            (12, 100, 128, 1, 0),       // counter block with low octets set
            (12, 100, 128, 0, 1 << 96), // a "fixed header" longer than 12 octets
        ];
        for (hdr_len, body_end, len, iv, new_header) in cases {
            let mut buf = vec![0xa5u8; len];
            let mut p = Packet {
                buf: &mut buf,
                new_header,
                hdr_len,
                body_end,
            };
            for kernel in [Kernel::AesNi, Kernel::Vaes] {
                assert!(!transcode_with(
                    kernel,
                    &lane(iv),
                    &lane(0),
                    &mut p,
                    &mut [Digest::default(); 2]
                ));
            }
            assert!(buf.iter().all(|&b| b == 0xa5));
        }
    }
}
