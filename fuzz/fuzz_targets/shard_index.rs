//! Sharded format: any bytes as a shard file under any spec, read the way a reader does.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ngcodec::sharding::{
    encode_shard, parse_minishard_index, parse_shard_index, HashFunction, Location, ShardingSpec,
};
use ngcodec::Error;

// Bytes 0-3: preshift bits (0-64), hash (bit 0), minishard bits (0-8), shard bits (0-64 within the
// spec's range); byte 4: the shard number's low byte. The shard file follows.
fuzz_target!(|data: &[u8]| {
    let Some((config, file)) = data.split_first_chunk::<5>() else {
        return;
    };
    let hash = if config[1] & 1 == 0 {
        HashFunction::Identity
    } else {
        HashFunction::MurmurHash3X86_128
    };
    let minishard_bits = u32::from(config[2]) % 9;
    let shard_bits = u32::from(config[3]) % (65 - minishard_bits);
    let spec =
        ShardingSpec::new(u32::from(config[0]) % 65, hash, minishard_bits, shard_bits).unwrap();
    let shard = u64::from(config[4]) & u64::MAX.checked_shr(64 - shard_bits).unwrap_or(0);
    check(&spec, shard, file);
});

fn check(spec: &ShardingSpec, shard: u64, file: &[u8]) {
    let index_len = spec.shard_index_len() as usize;
    let Some(index) = file.get(..index_len) else {
        return;
    };
    let ranges = match parse_shard_index(spec, 0, index) {
        Ok(ranges) => ranges,
        Err(Error::InvalidFormat(_)) => return,
        Err(other) => panic!("shard index: {other:?}"),
    };
    assert_eq!(ranges.len() as u64, spec.minishard_count());
    // Each entry alone parses to the same range, as a reader fetching one entry sees it.
    for (minishard, range) in (0..).zip(&ranges) {
        let entry = &index[16 * minishard as usize..][..16];
        assert!(range.start >= index_len as u64 && range.start <= range.end);
        if let Ok(one) = parse_shard_index(spec, minishard, entry) {
            assert_eq!(one, vec![*range]);
        }
    }
    let mut chunks = vec![];
    for (minishard, range) in (0..).zip(&ranges) {
        let Some(bytes) = file.get(range.start as usize..range.end as usize) else {
            continue;
        };
        let location = Location { shard, minishard };
        let entries = match parse_minishard_index(spec, location, bytes) {
            Ok(entries) => entries,
            Err(Error::InvalidFormat(message)) => {
                assert!(message.starts_with(&format!("minishard {minishard}: ")));
                continue;
            }
            Err(other) => panic!("minishard index: {other:?}"),
        };
        assert_eq!(entries.len() * 24, bytes.len());
        for pair in entries.windows(2) {
            assert!(pair[0].id < pair[1].id && pair[0].range.end <= pair[1].range.start);
        }
        for entry in entries {
            assert_eq!(spec.locate(entry.id), location);
            assert!(entry.range.start >= index_len as u64 && entry.range.start <= entry.range.end);
            if let Some(data) = file.get(entry.range.start as usize..entry.range.end as usize) {
                chunks.push((entry.id, data));
            }
        }
    }
    // What was found builds a shard that reads back the same.
    let rebuilt = encode_shard(spec, &chunks, |raw| raw).unwrap();
    let ranges = parse_shard_index(spec, 0, &rebuilt[..index_len]).unwrap();
    let mut found = vec![];
    for (minishard, range) in (0..).zip(ranges) {
        let bytes = &rebuilt[range.start as usize..range.end as usize];
        let location = Location { shard, minishard };
        for entry in parse_minishard_index(spec, location, bytes).unwrap() {
            found.push((entry.id, &rebuilt[entry.range.start as usize..entry.range.end as usize]));
        }
    }
    chunks.sort_unstable();
    found.sort_unstable();
    assert_eq!(found, chunks);
}
