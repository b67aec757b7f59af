//! Decoding of the compresso segmentation encoding (seung-lab's format, versions 0 and 1), read in
//! place and checked at every step, so that any bytes give labels or an error.
//!
//! A stream is a 36-byte header, the label of each connected component of non-boundary voxels,
//! the distinct boundary bit patterns of the grid's windows ("values"), the labels of boundary
//! voxels no neighbour explains ("locations"), the run-length coded window indices, and in
//! version 1 a per-slice index for random access (not needed to decode a whole chunk). Voxels are
//! x fastest, then y, then z: the (Z, Y, X) chunk in C order.

use crate::compressed_segmentation::Shape3;
use crate::element::Element;
use crate::error::{invalid_argument, invalid_format, Result};

const HEADER_LEN: usize = 36;
const MAGIC: &[u8; 4] = b"cpso";

/// The fields of a compresso header (version, label size, chunk size, steps, section sizes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    version: u8,
    label_bytes: usize,
    size: Shape3,
    steps: Shape3,
    ids: u64,
    values: u64,
    locations: u64,
    connectivity: u8,
}

fn le(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .rev()
        .fold(0, |value, &byte| (value << 8) | u64::from(byte))
}

impl Header {
    fn read(buf: &[u8]) -> Result<Self> {
        if buf.len() < HEADER_LEN || &buf[..4] != MAGIC {
            return invalid_format!(
                "The compresso-encoded chunk is not a compresso stream (it needs a {HEADER_LEN}-byte \
                 header starting with b'cpso')"
            );
        }
        let header = Header {
            version: buf[4],
            label_bytes: buf[5].into(),
            size: [6, 8, 10].map(|at| le(&buf[at..at + 2]) as usize),
            steps: [12, 13, 14].map(|at| usize::from(buf[at])),
            ids: le(&buf[15..23]),
            values: le(&buf[23..27]),
            locations: le(&buf[27..35]),
            connectivity: buf[35],
        };
        if header.version > 1 {
            return invalid_format!("compresso format version {} is unknown", header.version);
        }
        if !matches!(header.connectivity, 4 | 6) {
            return invalid_format!(
                "compresso connectivity must be 4 or 6, not {}",
                header.connectivity
            );
        }
        let window_bits: usize = header.steps.iter().product();
        if window_bits == 0 || window_bits > 64 {
            return invalid_format!(
                "compresso steps {:?} do not make a window of 1 to 64 voxels",
                header.steps
            );
        }
        Ok(header)
    }

    /// Bytes of one window value: 16 bits for windows of up to 16 voxels, else 64.
    fn window_bytes(&self) -> usize {
        if self.steps.iter().product::<usize>() <= 16 {
            2
        } else {
            8
        }
    }

    /// Bytes of one entry of the version 1 z index, which depends on the slice size.
    fn index_bytes(&self) -> usize {
        let worst_case = 2 * self.size[0] * self.size[1];
        match worst_case {
            n if n < 0xff => 1,
            n if n < 0xffff => 2,
            n if n < 0xffff_ffff => 4,
            _ => 8,
        }
    }
}

/// The sections of a stream, each a byte slice of the buffer.
struct Sections<'a> {
    ids: &'a [u8],
    values: &'a [u8],
    locations: &'a [u8],
    windows: &'a [u8],
}

fn sections<'a>(buf: &'a [u8], header: &Header) -> Result<Sections<'a>> {
    let label = header.label_bytes as u64;
    let window = header.window_bytes() as u64;
    let index = if header.version == 1 {
        2 * header.size[2] as u64 * header.index_bytes() as u64
    } else {
        0
    };
    let lengths = [
        header.ids.checked_mul(label),
        header.values.checked_mul(window),
        header.locations.checked_mul(label),
    ];
    let body = (buf.len() - HEADER_LEN) as u64;
    let fixed = lengths
        .iter()
        .try_fold(index, |total, &length| total.checked_add(length?))
        .filter(|&total| total <= body);
    let Some(fixed) = fixed else {
        return invalid_format!(
            "The compresso-encoded chunk is too short ({} bytes) for its header's {} labels, {} \
             window values and {} locations",
            buf.len(),
            header.ids,
            header.values,
            header.locations
        );
    };
    let windows_len = body - fixed;
    if windows_len % window != 0 {
        return invalid_format!(
            "The compresso-encoded chunk's windows take {windows_len} bytes, not a whole number \
             of {window}-byte windows"
        );
    }
    let (ids, rest) = buf[HEADER_LEN..].split_at((header.ids * label) as usize);
    let (values, rest) = rest.split_at((header.values * window) as usize);
    let (locations, rest) = rest.split_at((header.locations * label) as usize);
    Ok(Sections {
        ids,
        values,
        locations,
        windows: &rest[..windows_len as usize],
    })
}

/// Decodes a compresso stream of `T` labels into `out`, the (Z, Y, X) chunk of size `size`
/// (X, Y, Z) in C order. The header must describe exactly that chunk and label size.
pub fn decode_into<T: Element>(buf: &[u8], size: Shape3, out: &mut [T]) -> Result<()> {
    let header = check_header(buf, size, T::SIZE)?;
    if out.len() != size.iter().product::<usize>() {
        return invalid_argument!("{} output labels for a {size:?} chunk", out.len());
    }
    let sections = sections(buf, &header)?;
    if out.is_empty() {
        return Ok(());
    }
    let boundaries = boundaries(&header, &sections)?;
    let components = components(&boundaries, size, header.connectivity == 6)?;
    if components.count > header.ids {
        return invalid_format!(
            "The compresso-encoded chunk has {} connected components but {} labels for them",
            components.count,
            header.ids
        );
    }
    for (voxel, &component) in out.iter_mut().zip(&components.labels) {
        *voxel = match component as usize {
            0 => T::default(),
            c => T::from_le_slice(&sections.ids[(c - 1) * T::SIZE..c * T::SIZE]),
        };
    }
    label_boundaries(&boundaries, &header, sections.locations, out)
}

/// Reads the header and checks that it describes a chunk of `size` (X, Y, Z) and labels of
/// `label_bytes` bytes, so that the output can be allocated before decoding.
pub fn check_header(buf: &[u8], size: Shape3, label_bytes: usize) -> Result<Header> {
    let header = Header::read(buf)?;
    if header.size != size || header.label_bytes != label_bytes {
        return invalid_format!(
            "The compresso-encoded chunk holds {}-byte labels in a {:?} chunk, expecting \
             {label_bytes}-byte labels in {size:?}",
            header.label_bytes,
            header.size,
        );
    }
    Ok(header)
}

/// Which voxels are boundaries, from the run-length coded windows and their values.
fn boundaries(header: &Header, sections: &Sections<'_>) -> Result<Vec<bool>> {
    let [sx, sy, sz] = header.size;
    let [xstep, ystep, zstep] = header.steps;
    let mut boundaries = vec![false; sx * sy * sz];
    if header.values == 0 {
        return Ok(boundaries);
    }
    let [nx, ny, nz] = [sx.div_ceil(xstep), sy.div_ceil(ystep), sz.div_ceil(zstep)];
    let blocks = nx * ny * nz;
    let window = header.window_bytes();
    let mut windows = vec![0u64; blocks];
    let mut block = 0usize;
    for code in sections.windows.chunks_exact(window).map(le) {
        if code & 1 == 1 {
            block = block.saturating_add((code >> 1) as usize);
            if block > blocks {
                return invalid_format!("compresso window runs go past the {blocks} windows");
            }
        } else {
            let (Some(slot), value) = (windows.get_mut(block), code >> 1) else {
                return invalid_format!("compresso windows go past the {blocks} windows");
            };
            if value >= header.values {
                return invalid_format!(
                    "compresso window {block} uses value {value} of {}",
                    header.values
                );
            }
            *slot = value;
            block += 1;
        }
    }
    // The patterns of every window, looked up once (no more of them than the file holds).
    let patterns: Vec<u64> = windows
        .iter()
        .map(|&index| {
            let at = index as usize * window;
            le(&sections.values[at..at + window])
        })
        .collect();
    for (row, out) in boundaries.chunks_exact_mut(sx).enumerate() {
        let (y, z) = (row % sy, row / sy);
        let row_blocks = &patterns[nx * (y / ystep + ny * (z / zstep))..][..nx];
        let row_bits = xstep * (y % ystep + ystep * (z % zstep));
        for (pattern, out) in row_blocks.iter().zip(out.chunks_mut(xstep)) {
            let bits = pattern >> row_bits;
            for (bit, out) in out.iter_mut().enumerate() {
                *out = (bits >> bit) & 1 == 1;
            }
        }
    }
    Ok(boundaries)
}

/// (x, y, z) of a voxel of a chunk `sx` by `sy` by any.
fn position(voxel: usize, sx: usize, sy: usize) -> (usize, usize, usize) {
    let row = voxel / sx;
    (voxel - row * sx, row % sy, row / sy)
}

/// Connected components of the non-boundary voxels, numbered from 1 in the order of their first
/// voxel (0 for boundaries), as compresso's encoder numbers them.
struct Components {
    labels: Vec<u32>,
    count: u64,
}

/// Connected components within each z slice (4-connected), or across slices (6-connected).
fn components(boundaries: &[bool], size: Shape3, across_slices: bool) -> Result<Components> {
    let [sx, sy, _] = size;
    let sxy = sx * sy;
    if u32::try_from(boundaries.len()).is_err() {
        return invalid_format!("compresso chunks of 2^32 voxels or more cannot be decoded");
    }
    let mut labels = vec![0u32; boundaries.len()];
    // parents[label] for the provisional labels, 1-based; parents[0] is unused.
    let mut parents: Vec<u32> = vec![0];
    fn root(parents: &mut [u32], mut label: u32) -> u32 {
        while parents[label as usize] != label {
            let grandparent = parents[parents[label as usize] as usize];
            parents[label as usize] = grandparent;
            label = grandparent;
        }
        label
    }
    for (voxel, &boundary) in boundaries.iter().enumerate() {
        if boundary {
            continue;
        }
        let (x, y, z) = position(voxel, sx, sy);
        let neighbours = [
            (x > 0).then(|| voxel - 1),
            (y > 0).then(|| voxel - sx),
            (across_slices && z > 0).then(|| voxel - sxy),
        ];
        let mut label = 0;
        for neighbour in neighbours.into_iter().flatten() {
            if boundaries[neighbour] {
                continue;
            }
            let other = root(&mut parents, labels[neighbour]);
            if label == 0 {
                label = other;
            } else if other != label {
                let (low, high) = (label.min(other), label.max(other));
                parents[high as usize] = low;
                label = low;
            }
        }
        if label == 0 {
            label = parents.len() as u32;
            parents.push(label);
        }
        labels[voxel] = label;
    }
    let mut numbers = vec![0u32; parents.len()];
    let mut count = 0;
    for provisional in 1..parents.len() as u32 {
        let root = root(&mut parents, provisional) as usize;
        if numbers[root] == 0 {
            count += 1;
            numbers[root] = count;
        }
        numbers[provisional as usize] = numbers[root];
    }
    labels
        .iter_mut()
        .for_each(|label| *label = numbers[*label as usize]);
    Ok(Components {
        labels,
        count: count.into(),
    })
}

/// Labels the boundary voxels: from a non-boundary neighbour before them, else from the next
/// location (a neighbour's direction, or a label).
fn label_boundaries<T: Element>(
    boundaries: &[bool],
    header: &Header,
    locations: &[u8],
    out: &mut [T],
) -> Result<()> {
    let [sx, sy, sz] = header.size;
    let sxy = sx * sy;
    let width = T::SIZE;
    let count = locations.len() / width;
    let location = |index: usize| le(&locations[index * width..(index + 1) * width]);
    let mut index = 0;
    for (voxel, &boundary) in boundaries.iter().enumerate() {
        if !boundary {
            continue;
        }
        let (x, y, z) = position(voxel, sx, sy);
        let before = [
            (x > 0).then(|| voxel - 1),
            (y > 0).then(|| voxel - sx),
            (header.connectivity == 6 && z > 0).then(|| voxel - sxy),
        ];
        if let Some(neighbour) = before.into_iter().flatten().find(|&n| !boundaries[n]) {
            out[voxel] = out[neighbour];
            continue;
        }
        if index >= count {
            return invalid_format!("compresso boundary voxel {voxel} has no location left");
        }
        let code = location(index);
        let source = match code {
            0 => (x > 0).then(|| voxel - 1),
            1 => (x + 1 < sx).then(|| voxel + 1),
            2 => (y > 0).then(|| voxel - sx),
            3 => (y + 1 < sy).then(|| voxel + sx),
            4 => (z > 0).then(|| voxel - sxy),
            5 => (z + 1 < sz).then(|| voxel + sxy),
            _ => None,
        };
        out[voxel] = match (code, source) {
            (0..=5, Some(neighbour)) => out[neighbour],
            (0..=5, None) => {
                return invalid_format!(
                    "compresso location {index} points outside the chunk from voxel {voxel}"
                )
            }
            (6, _) => {
                index += 1;
                if index >= count {
                    return invalid_format!("compresso location {index} is missing");
                }
                T::from_le_slice(&locations[index * width..(index + 1) * width])
            }
            (label, _) => T::from_le_slice(&(label - 7).to_le_bytes()[..width]),
        };
        index += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(version: u8, size: Shape3, ids: u64, values: u32, locations: u64) -> Vec<u8> {
        let mut buf = MAGIC.to_vec();
        buf.extend([version, 4]);
        size.iter()
            .for_each(|&n| buf.extend((n as u16).to_le_bytes()));
        buf.extend([4, 4, 1]);
        buf.extend(ids.to_le_bytes());
        buf.extend(values.to_le_bytes());
        buf.extend(locations.to_le_bytes());
        buf.push(4);
        buf
    }

    #[test]
    fn a_chunk_without_boundaries_is_one_label_per_slice() {
        // Two 3x2 slices, no window values: one component each.
        let mut buf = header(0, [3, 2, 2], 2, 0, 0);
        buf.extend(7u32.to_le_bytes());
        buf.extend(9u32.to_le_bytes());
        let mut out = [0u32; 12];
        decode_into(&buf, [3, 2, 2], &mut out).unwrap();
        assert_eq!(out, [7, 7, 7, 7, 7, 7, 9, 9, 9, 9, 9, 9]);
    }

    #[test]
    fn boundaries_take_their_neighbours_and_locations() {
        // One 4x1 slice whose voxel x=1 is a boundary: window value 0b0010, one window.
        let mut buf = header(0, [4, 1, 1], 2, 1, 0);
        buf.extend(5u32.to_le_bytes()); // component 1 (x = 0)
        buf.extend(6u32.to_le_bytes()); // component 2 (x = 2, 3)
        buf.extend(0b0010u16.to_le_bytes());
        buf.extend(0u16.to_le_bytes()); // window 0 uses value 0
        let mut out = [0u32; 4];
        decode_into(&buf, [4, 1, 1], &mut out).unwrap();
        assert_eq!(out, [5, 5, 6, 6]);
    }

    #[test]
    fn damaged_streams_decode_or_fail_as_invalid_formats_never_panic() {
        // Both versions, both connectivities, 16- and 64-bit windows, boundaries with and without
        // locations: a 4x4x2 chunk whose windows all take value 0 or 1.
        for (version, connectivity, steps) in [(0, 4, [4, 4, 1]), (1, 6, [4, 4, 4])] {
            let mut valid = header(version, [4, 4, 2], 3, 2, 2);
            valid[12..15].copy_from_slice(&steps);
            valid[35] = connectivity;
            [5u32, 6, 7]
                .iter()
                .for_each(|id| valid.extend(id.to_le_bytes()));
            let window_bytes = if steps[2] == 1 { 2 } else { 8 };
            for value in [0b0110_0000_0000_0000u64, 0b1000_0001] {
                valid.extend(&value.to_le_bytes()[..window_bytes]);
            }
            [8u32, 9]
                .iter()
                .for_each(|id| valid.extend(id.to_le_bytes()));
            // Window codes: value 0 for the first window, value 1 for the second if any.
            let windows = if version == 0 { 2 } else { 1 };
            for code in [0u64, 2].iter().take(windows) {
                valid.extend(&code.to_le_bytes()[..window_bytes]);
            }
            if version == 1 {
                valid.extend([0; 4]); // the z index: one byte per slice, twice
            }
            let mut labels = [0u32; 32];
            decode_into(&valid, [4, 4, 2], &mut labels).unwrap();
            crate::mutations::for_each_mutation(&valid, 4, 2000, |damaged| {
                let mut out = [0u32; 32];
                if let Err(error) = decode_into(damaged, [4, 4, 2], &mut out) {
                    assert!(matches!(error, crate::Error::InvalidFormat(_)), "{error}");
                }
            });
        }
    }

    #[test]
    fn every_structural_fault_is_an_invalid_format() {
        let good = {
            let mut buf = header(0, [3, 2, 2], 2, 0, 0);
            buf.extend([7, 0, 0, 0, 9, 0, 0, 0]);
            buf
        };
        let mut cases: Vec<(Vec<u8>, Shape3)> = vec![(vec![], [3, 2, 2])];
        for cut in [20, 40] {
            cases.push((good[..cut].to_vec(), [3, 2, 2]));
        }
        for (at, byte) in [(0, b'x'), (4, 2), (35, 5), (12, 0), (12, 65), (5, 8)] {
            let mut bad = good.clone();
            bad[at] = byte;
            cases.push((bad, [3, 2, 2]));
        }
        // One label for two components; a window past the end; a value out of range; a
        // boundary with no location.
        let mut few_ids = header(0, [3, 2, 2], 1, 0, 0);
        few_ids.extend([7, 0, 0, 0]);
        cases.push((few_ids, [3, 2, 2]));
        let mut runs = header(0, [4, 1, 1], 1, 1, 0);
        runs.extend([5, 0, 0, 0, 1, 0, 0, 0, 0, 0]);
        cases.push((runs, [4, 1, 1]));
        let mut value = header(0, [4, 1, 1], 1, 1, 0);
        value.extend([5, 0, 0, 0, 1, 0, 2, 0]);
        cases.push((value, [4, 1, 1]));
        let mut no_location = header(0, [4, 1, 1], 1, 1, 0);
        no_location.extend([5, 0, 0, 0, 1, 0, 0, 0]);
        cases.push((no_location, [4, 1, 1]));
        for (case, size) in cases {
            let mut out = vec![0u32; size.iter().product()];
            let error = decode_into(&case, size, &mut out);
            assert!(
                matches!(error, Err(crate::Error::InvalidFormat(_))),
                "{case:?}"
            );
        }
        let error = decode_into(&good, [3, 2, 3], &mut [0u32; 18]).unwrap_err();
        assert!(error.to_string().contains("expecting"), "{error}");
    }
}
