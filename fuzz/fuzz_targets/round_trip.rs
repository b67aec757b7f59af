//! encode -> decode round trips of compressed_segmentation (uint32 and uint64) and raw, in every
//! memory layout, checked against the reference decoder of `common`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ndarray::{Array4, ShapeBuilder};
use ngcodec::compressed_segmentation::{self, Label};
use ngcodec::raw;

mod common;

// Bytes 0-6: x, y, z (0 to 16), block x, y, z (1 to 9), channels (1 to 3); byte 7 picks how the
// remaining bytes become labels: few distinct values, one per byte, or one per byte pair.
fuzz_target!(|data: &[u8]| {
    let Some((config, values)) = data.split_first_chunk::<8>() else {
        return;
    };
    let [x, y, z] = [0, 1, 2].map(|i| config[i] as usize % 17);
    let block = [3, 4, 5].map(|i| config[i] as usize % 9 + 1);
    let channels = config[6] as usize % 3 + 1;
    let mode = config[7];
    let label = |i: usize| -> u64 {
        let byte = |j: usize| values.get(j % values.len().max(1)).copied().unwrap_or(0) as u64;
        match mode % 3 {
            0 => byte(i) % (u64::from(mode >> 2) % 7 + 1),
            1 => byte(i).wrapping_mul(0x0101_0101_0101_0101),
            _ => (byte(2 * i) | byte(2 * i + 1) << 8) << (mode >> 2) % 33,
        }
    };
    let chunk = Array4::from_shape_fn((channels, z, y, x), |(c, k, j, i)| {
        label(i + x * (j + y * (k + z * c)))
    });
    round_trip(&chunk, block);
    round_trip(&chunk.mapv(|v| v as u32 ^ (v >> 32) as u32), block);
});

fn round_trip<T: Label + std::fmt::Debug>(chunk: &Array4<T>, block: [usize; 3]) {
    let (channels, z, y, x) = chunk.dim();
    let encoded = compressed_segmentation::encode(chunk.view(), block, false).unwrap();

    let mut decoded = vec![T::default(); chunk.len()];
    compressed_segmentation::check_header(&encoded, [x, y, z], block, channels).unwrap();
    compressed_segmentation::decode_into(&encoded, [x, y, z], block, channels, &mut decoded)
        .unwrap();
    assert!(
        decoded.iter().eq(chunk.iter()),
        "round trip changed the chunk"
    );
    let reference = common::reference_decode::<T>(&encoded, [x, y, z], block, channels);
    assert!(
        reference.as_deref() == Some(&decoded[..]),
        "reference decoder disagrees"
    );

    let mut fortran = Array4::<T>::from_elem(chunk.dim().f(), T::default());
    fortran.assign(chunk);
    let swapped = chunk.mapv(T::swap_bytes);
    let reversed = chunk.slice(ndarray::s![.., ..;-1, .., ..;-1]).to_owned();
    let reversed_back = reversed.slice(ndarray::s![.., ..;-1, .., ..;-1]);
    for (variant, byteswapped) in [
        (fortran.view(), false),
        (swapped.view(), true),
        (reversed_back, false),
    ] {
        let again = compressed_segmentation::encode(variant, block, byteswapped).unwrap();
        assert!(again == encoded, "layout changed the encoded bytes");
    }

    let mut raw_bytes = vec![0u8; chunk.len() * T::SIZE];
    raw::encode_into(fortran.view(), false, &mut raw_bytes).unwrap();
    let mut raw_values = vec![T::default(); chunk.len()];
    raw::decode_into(&raw_bytes, &mut raw_values).unwrap();
    assert!(raw_values == decoded, "raw round trip changed the chunk");
}
