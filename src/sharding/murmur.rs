//! MurmurHash3_x86_128 of one 64-bit chunk id, the sharded format's `murmurhash3_x86_128` hash.

const C1: u32 = 0x239b_961b;
const C2: u32 = 0xab0e_9789;
const C3: u32 = 0x38b3_4ae5;

/// MurmurHash3's final avalanche of one 32-bit lane.
fn fmix32(mut h: u32) -> u32 {
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}

/// The low 64 bits of MurmurHash3_x86_128 (seed 0) of `key`'s 8 little-endian bytes.
///
/// Eight bytes are less than one 16-byte block, so only the tail step runs: the low word feeds
/// lane 1 and the high word lane 2; lanes 3 and 4 start and stay at the seed until the mix.
pub fn murmurhash3_x86_128(key: u64) -> u64 {
    let low = key as u32;
    let high = (key >> 32) as u32;
    let mut h1 = low.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
    let mut h2 = high.wrapping_mul(C2).rotate_left(16).wrapping_mul(C3);
    let (mut h3, mut h4) = (0u32, 0u32);

    let len = 8;
    h1 ^= len;
    h2 ^= len;
    h3 ^= len;
    h4 ^= len;
    h1 = h1.wrapping_add(h2).wrapping_add(h3).wrapping_add(h4);
    h2 = h2.wrapping_add(h1);
    h3 = h3.wrapping_add(h1);
    h4 = h4.wrapping_add(h1);
    h1 = fmix32(h1);
    h2 = fmix32(h2);
    h3 = fmix32(h3);
    h4 = fmix32(h4);
    h1 = h1.wrapping_add(h2).wrapping_add(h3).wrapping_add(h4);
    h2 = h2.wrapping_add(h1);
    u64::from(h2) << 32 | u64::from(h1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinned_vectors() {
        // From the issue, checked against Neuroglancer's and tensorstore's implementations.
        assert_eq!(murmurhash3_x86_128(0), 0x4772_b084_e028_ae41);
        assert_eq!(murmurhash3_x86_128(1), 0xe8bd_67d6_16d4_ce9a);
        assert_eq!(murmurhash3_x86_128(42), 0xc20b_94f9_5119_f47a);
    }

    #[test]
    fn every_byte_of_the_key_counts() {
        let base = murmurhash3_x86_128(0x0123_4567_89ab_cdef);
        for bit in 0..64 {
            assert_ne!(murmurhash3_x86_128(0x0123_4567_89ab_cdef ^ 1 << bit), base);
        }
    }
}
