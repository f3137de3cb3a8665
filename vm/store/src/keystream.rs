//! The ChaCha12 keystream that expands an entry digest to its lattice vector
//! ([`crate::LtHash`]), produced in the lane order the lattice hash holds internally.
//!
//! The vector of digest `d` is defined (`docs/design.md`, "State root") as the first
//! 2,048 bytes of ChaCha12 keyed by `d`, nonce 0, block counter from 0
//! (`rand_chacha::ChaCha12Rng::from_seed(d)`), read as 1,024 little-endian `u16` lanes:
//! word `w` (a `u32`) of block `b` holds canonical lanes `2(16b + w)` and `2(16b + w) + 1`.
//!
//! **Keystream order.** A 16-way AVX-512 ChaCha computes word `w` of 16 blocks in one
//! register; writing the registers out as they are puts the 32 blocks in two halves
//! of 16, and within a half word `w` of the 16 blocks side by side. The lattice hash
//! keeps its lanes in that order ([`canonical`] maps an index to the canonical lane):
//! lattice arithmetic is lane by lane, so any fixed order gives the same sums, and
//! only the byte form (`LtHash::to_bytes`, which the root hashes) is canonical. The
//! portable path reorders `rand_chacha`'s output instead. Tests check both paths
//! against `rand_chacha` and against roots recorded before this order existed.

use crate::lthash::LANES;

/// The canonical lane of keystream-order index `k`.
pub(crate) const fn canonical(k: usize) -> usize {
    let word = k / 2; // the u32 this lane is half of, in keystream order
    let (half, w, b) = (word / 256, (word % 256) / 16, word % 16);
    2 * ((half * 16 + b) * 16 + w) + k % 2
}

/// The vector of digest `d`, in keystream order.
pub(crate) fn expand(d: &[u8; 32]) -> [u16; LANES] {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU supports AVX-512F (checked just above).
        return unsafe { avx512::expand(d) };
    }
    portable(d)
}

/// [`expand`] through `rand_chacha`, reordered (every platform; the reference).
pub(crate) fn portable(d: &[u8; 32]) -> [u16; LANES] {
    use rand_chacha::rand_core::{RngCore, SeedableRng};
    let mut bytes = [0u8; LANES * 2];
    rand_chacha::ChaCha12Rng::from_seed(*d).fill_bytes(&mut bytes);
    let mut out = [0u16; LANES];
    for (k, o) in out.iter_mut().enumerate() {
        let c = canonical(k);
        *o = u16::from_le_bytes([bytes[2 * c], bytes[2 * c + 1]]);
    }
    out
}

#[cfg(target_arch = "x86_64")]
pub(crate) mod avx512 {
    use super::LANES;
    use std::arch::x86_64::*;

    /// One ChaCha quarter round on 16 blocks at once.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn quarter(x: &mut [__m512i; 16], a: usize, b: usize, c: usize, d: usize) {
        x[a] = _mm512_add_epi32(x[a], x[b]);
        x[d] = _mm512_rol_epi32::<16>(_mm512_xor_si512(x[d], x[a]));
        x[c] = _mm512_add_epi32(x[c], x[d]);
        x[b] = _mm512_rol_epi32::<12>(_mm512_xor_si512(x[b], x[c]));
        x[a] = _mm512_add_epi32(x[a], x[b]);
        x[d] = _mm512_rol_epi32::<8>(_mm512_xor_si512(x[d], x[a]));
        x[c] = _mm512_add_epi32(x[c], x[d]);
        x[b] = _mm512_rol_epi32::<7>(_mm512_xor_si512(x[b], x[c]));
    }

    /// [`super::expand`] with AVX-512F: two passes of 16 blocks, 6 double rounds each.
    #[target_feature(enable = "avx512f")]
    pub(crate) fn expand(d: &[u8; 32]) -> [u16; LANES] {
        let set = |w: u32| _mm512_set1_epi32(w as i32);
        let mut key = [0u32; 8];
        for (k, c) in key.iter_mut().zip(d.chunks_exact(4)) {
            *k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        }
        let mut words = [[[0u32; 16]; 16]; 2];
        for (half, out) in words.iter_mut().enumerate() {
            let counter = _mm512_add_epi32(
                set(16 * half as u32),
                _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
            );
            // "expand 32-byte k", the key, the 64-bit block counter, the 64-bit nonce 0.
            let init = [
                set(0x6170_7865),
                set(0x3320_646e),
                set(0x7962_2d32),
                set(0x6b20_6574),
                set(key[0]),
                set(key[1]),
                set(key[2]),
                set(key[3]),
                set(key[4]),
                set(key[5]),
                set(key[6]),
                set(key[7]),
                counter,
                set(0),
                set(0),
                set(0),
            ];
            let mut x = init;
            for _ in 0..6 {
                quarter(&mut x, 0, 4, 8, 12);
                quarter(&mut x, 1, 5, 9, 13);
                quarter(&mut x, 2, 6, 10, 14);
                quarter(&mut x, 3, 7, 11, 15);
                quarter(&mut x, 0, 5, 10, 15);
                quarter(&mut x, 1, 6, 11, 12);
                quarter(&mut x, 2, 7, 8, 13);
                quarter(&mut x, 3, 4, 9, 14);
            }
            for (w, o) in out.iter_mut().enumerate() {
                // SAFETY: both are 64 bytes, and every bit pattern is a valid [u32; 16].
                *o = unsafe {
                    std::mem::transmute::<__m512i, [u32; 16]>(_mm512_add_epi32(x[w], init[w]))
                };
            }
        }
        // x86_64 is little-endian: each u32 is its low lane, then its high lane.
        // SAFETY: same size (2,048 bytes), every bit pattern valid for both.
        unsafe { std::mem::transmute::<[[[u32; 16]; 16]; 2], [u16; LANES]>(words) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_is_a_permutation() {
        let mut seen = vec![false; LANES];
        for k in 0..LANES {
            assert!(!seen[canonical(k)]);
            seen[canonical(k)] = true;
        }
    }

    #[test]
    fn both_paths_match_rand_chacha() {
        use rand_chacha::rand_core::{RngCore, SeedableRng};
        for i in 0..2_000u32 {
            let d = *blake3::hash(&i.to_le_bytes()).as_bytes();
            let mut bytes = [0u8; LANES * 2];
            rand_chacha::ChaCha12Rng::from_seed(d).fill_bytes(&mut bytes);
            let p = portable(&d);
            for (k, lane) in p.iter().enumerate() {
                let c = canonical(k);
                assert_eq!(*lane, u16::from_le_bytes([bytes[2 * c], bytes[2 * c + 1]]));
            }
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU supports AVX-512F.
                assert_eq!(unsafe { avx512::expand(&d) }, p, "seed {i}");
            } else if i == 0 {
                eprintln!("no AVX-512F here: only the portable path is checked");
            }
        }
    }
}
