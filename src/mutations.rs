//! Damaged copies of a valid encoded buffer, for the decoders' tests: fuzzing that runs in
//! `cargo test`, deterministic and in well under a second per decoder (the coverage-guided
//! targets in `fuzz/` go further).

/// SplitMix64: a few lines, good enough to pick positions and bytes, the same on every run.
pub(crate) struct Random(u64);

impl Random {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number below `bound` (which must not be 0).
    pub(crate) fn below(&mut self, bound: usize) -> usize {
        (self.next_u64() % bound as u64) as usize
    }
}

/// Calls `check` on `rounds` damaged copies of `valid` of each kind: cut short, one bit flipped,
/// a run of bytes overwritten with random ones or with 0xff (huge sizes and counts), bytes
/// inserted or removed, and random bytes after the first `magic_len` bytes of `valid`.
pub(crate) fn for_each_mutation(
    valid: &[u8],
    magic_len: usize,
    rounds: usize,
    mut check: impl FnMut(&[u8]),
) {
    let mut random = Random::new(valid.len() as u64);
    let len = valid.len();
    for _ in 0..rounds {
        check(&valid[..random.below(len)]);

        let mut flipped = valid.to_vec();
        flipped[random.below(len)] ^= 1 << random.below(8);
        check(&flipped);

        let mut overwritten = valid.to_vec();
        let start = random.below(len);
        let end = (start + 1 + random.below(8)).min(len);
        let saturate = random.below(2) == 0;
        for byte in &mut overwritten[start..end] {
            *byte = if saturate {
                0xff
            } else {
                random.next_u64() as u8
            };
        }
        check(&overwritten);

        let mut resized = valid.to_vec();
        let at = random.below(len);
        if random.below(2) == 0 {
            resized.insert(at, random.next_u64() as u8);
        } else {
            resized.remove(at);
        }
        check(&resized);

        let mut noise = valid[..magic_len.min(len)].to_vec();
        noise.extend((0..random.below(2 * len)).map(|_| random.next_u64() as u8));
        check(&noise);
    }
}
