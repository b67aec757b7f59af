//! compressed_segmentation decode of uint32 labels: any bytes, any chunk and block size.
#![no_main]

use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| common::check_decode::<u32>(data));
