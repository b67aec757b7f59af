//! Many chunks of one volume at a time: decoded into one (C, Z, Y, X) array, or encoded from one,
//! on a few threads.
//!
//! The chunk grid cuts the array into one view per chunk (`split_at` along z, y and x), so the
//! views are disjoint and each thread writes its chunks in place, without locks or copies of the
//! array. A call does all of a region's chunks, so its cost per chunk is a few microseconds, where
//! a call per chunk from a Python thread pool costs tens and holds the GIL for them.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use ndarray::{s, ArrayView4, ArrayViewMut4, Axis};

use crate::compressed_segmentation::{self, Label, Shape3};
use crate::element::Element;
use crate::error::{invalid_argument, Error, Result};
use crate::{gzip, raw};

/// A chunk encoding the batch calls run: one value type's decoder and encoder.
pub trait ChunkCodec<T>: Sync {
    /// Decodes `buf`, a chunk of `chunk` (x, y, z) voxels, into `out` ((C, Z, Y, X), C order).
    fn decode_into(
        &self,
        buf: &[u8],
        chunk: Shape3,
        num_channels: usize,
        out: &mut [T],
    ) -> Result<()>;

    /// The encoded bytes of a (C, Z, Y, X) chunk in any memory layout; `byteswapped` says its
    /// values have the byte order opposite to the host's.
    fn encode(&self, chunk: ArrayView4<'_, T>, byteswapped: bool) -> Result<Vec<u8>>;
}

/// The raw encoding, of any value type.
pub struct Raw;

impl<T: Element> ChunkCodec<T> for Raw {
    fn decode_into(&self, buf: &[u8], _: Shape3, _: usize, out: &mut [T]) -> Result<()> {
        raw::decode_into(buf, out)
    }

    fn encode(&self, chunk: ArrayView4<'_, T>, byteswapped: bool) -> Result<Vec<u8>> {
        let Some(len) = raw::encoded_len::<T>(chunk.len()) else {
            return invalid_argument!("a chunk of {} values is too large", chunk.len());
        };
        let mut out = vec![0; len];
        raw::encode_into(chunk, byteswapped, &mut out)?;
        Ok(out)
    }
}

/// The compressed_segmentation encoding with blocks of `block` (x, y, z) voxels.
pub struct CompressedSegmentation {
    pub block: Shape3,
}

impl<T: Label> ChunkCodec<T> for CompressedSegmentation {
    fn decode_into(&self, buf: &[u8], chunk: Shape3, channels: usize, out: &mut [T]) -> Result<()> {
        compressed_segmentation::decode_into(buf, chunk, self.block, channels, out)
    }

    fn encode(&self, chunk: ArrayView4<'_, T>, byteswapped: bool) -> Result<Vec<u8>> {
        compressed_segmentation::encode(chunk, self.block, byteswapped)
    }
}

/// Where a batch's array lies in a volume: the volume's chunk grid and the array's first voxel,
/// all (x, y, z) voxels from the volume's first voxel. Chunks at the volume's upper edges are
/// cut short by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    pub chunk_size: Shape3,
    pub volume_size: Shape3,
    pub start: Shape3,
}

/// A chunk as stored: its bytes, and whether they are gzipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredChunk<'a> {
    pub data: &'a [u8],
    pub gzipped: bool,
}

/// Why a batch call failed: its arguments, or one chunk (by its place in the batch's order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchError {
    Arguments(Error),
    Chunk { index: usize, error: Error },
}

fn arguments(message: String) -> BatchError {
    BatchError::Arguments(Error::InvalidArgument(message))
}

impl From<Error> for BatchError {
    fn from(error: Error) -> Self {
        BatchError::Arguments(error)
    }
}

/// Where one chunk meets the array, along one axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    /// The chunk's length (the grid's, or less at the volume's edge).
    chunk_len: usize,
    /// The first voxel of the chunk in the array, counted from the chunk's first voxel.
    within_chunk: usize,
    /// How many of the chunk's voxels the array holds.
    len: usize,
}

/// The spans of the chunks that the array's `len` voxels from `start` meet, along one axis.
fn spans(chunk: usize, volume: usize, start: usize, len: usize, axis: &str) -> Result<Vec<Span>> {
    let stop = start.checked_add(len).filter(|&stop| stop <= volume);
    let Some(stop) = stop.filter(|_| chunk > 0) else {
        return invalid_argument!(
            "the array's {len} voxels from {start} along {axis} do not fit the volume's {volume} \
             in chunks of {chunk}"
        );
    };
    let mut spans = Vec::new();
    let mut at = start;
    while at < stop {
        let chunk_start = at - at % chunk;
        let chunk_stop = chunk_start.saturating_add(chunk).min(volume);
        let end = chunk_stop.min(stop);
        spans.push(Span {
            chunk_len: chunk_stop - chunk_start,
            within_chunk: at - chunk_start,
            len: end - at,
        });
        at = end;
    }
    Ok(spans)
}

/// The spans of every chunk the array meets, along (x, y, z).
fn grid_spans(placement: &Placement, shape: [usize; 4]) -> Result<[Vec<Span>; 3]> {
    let [_, z, y, x] = shape;
    let Placement {
        chunk_size,
        volume_size,
        start,
    } = placement;
    Ok([
        spans(chunk_size[0], volume_size[0], start[0], x, "x")?,
        spans(chunk_size[1], volume_size[1], start[1], y, "y")?,
        spans(chunk_size[2], volume_size[2], start[2], z, "z")?,
    ])
}

/// A view that splits into two disjoint views.
trait Split: Sized {
    fn split(self, axis: usize, index: usize) -> (Self, Self);
}

impl<T> Split for ArrayView4<'_, T> {
    fn split(self, axis: usize, index: usize) -> (Self, Self) {
        self.split_at(Axis(axis), index)
    }
}

impl<T> Split for ArrayViewMut4<'_, T> {
    fn split(self, axis: usize, index: usize) -> (Self, Self) {
        self.split_at(Axis(axis), index)
    }
}

/// The array cut into one view per chunk, z slowest, then y, then x: the grid's order.
fn cut<V: Split>(array: V, spans: &[Vec<Span>; 3]) -> Vec<V> {
    let mut views = vec![array];
    // Array axes 1, 2, 3 are z, y, x: spans 2, 1, 0.
    for (axis, spans) in [(1, &spans[2]), (2, &spans[1]), (3, &spans[0])] {
        views = views
            .into_iter()
            .flat_map(|mut rest| {
                let mut parts = Vec::with_capacity(spans.len());
                for span in spans {
                    let (part, tail) = rest.split(axis, span.len);
                    parts.push(part);
                    rest = tail;
                }
                parts
            })
            .collect();
    }
    views
}

/// Each chunk's spans along (x, y, z), in the grid's order.
fn chunk_spans(spans: &[Vec<Span>; 3]) -> Vec<[Span; 3]> {
    let mut all = Vec::with_capacity(spans.iter().map(Vec::len).product());
    for &z in &spans[2] {
        for &y in &spans[1] {
            for &x in &spans[0] {
                all.push([x, y, z]);
            }
        }
    }
    all
}

/// How many chunks a batch of an array of this (C, Z, Y, X) shape at `placement` holds.
pub fn chunk_count(placement: &Placement, shape: [usize; 4]) -> Result<usize> {
    Ok(grid_spans(placement, shape)?.iter().map(Vec::len).product())
}

/// Decodes the chunks that `out` meets into it: `chunks` in the grid's order (z slowest, then y,
/// then x), each gunzipped first if stored so (to at most `max_inflated` bytes); chunks that are
/// None are left as they are in `out`.
///
/// Memory is at most a chunk and `max_inflated` bytes per thread, whatever the chunks claim. On
/// a malformed chunk, the error names its index; the chunks of `out` are then partly written.
pub fn decode_chunks<T: Element, C: ChunkCodec<T>>(
    codec: &C,
    placement: &Placement,
    chunks: &[Option<StoredChunk<'_>>],
    max_inflated: usize,
    out: ArrayViewMut4<'_, T>,
    threads: usize,
) -> std::result::Result<(), BatchError> {
    let shape = out.dim().into();
    let spans = grid_spans(placement, shape)?;
    let views = cut(out, &spans);
    if views.len() != chunks.len() {
        return Err(arguments(format!(
            "the array meets {} chunks, but {} were given",
            views.len(),
            chunks.len()
        )));
    }
    let num_channels = shape[0];
    let jobs = chunks
        .iter()
        .zip(chunk_spans(&spans))
        .zip(views)
        .filter_map(|((chunk, spans), view)| chunk.map(|chunk| (chunk, spans, view)));
    let jobs: Vec<_> = jobs.collect();
    let indexes = chunks
        .iter()
        .enumerate()
        .filter_map(|(index, chunk)| chunk.map(|_| index))
        .collect::<Vec<_>>();
    let scratch = || (Vec::<u8>::new(), Vec::<T>::new());
    for_each_on_threads(
        jobs,
        threads,
        scratch,
        |(inflated, decoded), (chunk, spans, view)| {
            let data = if chunk.gzipped {
                inflated.resize(gzip::decompressed_len(chunk.data, max_inflated)?, 0);
                gzip::decompress_into(chunk.data, inflated)?;
                &inflated[..]
            } else {
                chunk.data
            };
            let [x, y, z] = spans.map(|span| span.chunk_len);
            decoded.resize(num_channels * z * y * x, T::default());
            codec.decode_into(data, [x, y, z], num_channels, decoded)?;
            let decoded = ArrayView4::from_shape([num_channels, z, y, x], &decoded[..])
                .expect("one value per voxel");
            let [sx, sy, sz] = spans.map(|span| span.within_chunk..span.within_chunk + span.len);
            copy_rows(decoded.slice(s![.., sz, sy, sx]), view);
            Ok(())
        },
    )
    .map_err(|(job, error)| BatchError::Chunk {
        index: indexes[job],
        error,
    })
}

/// Copies `from` into `to` (of the same shape) a row of x at a time: `assign` goes value by
/// value, several times slower than `copy_from_slice` on the rows of a C-order array.
fn copy_rows<T: Element>(from: ArrayView4<'_, T>, mut to: ArrayViewMut4<'_, T>) {
    for (from, mut to) in from.lanes(Axis(3)).into_iter().zip(to.lanes_mut(Axis(3))) {
        match (from.as_slice(), to.as_slice_mut()) {
            (Some(from), Some(to)) => to.copy_from_slice(from),
            _ => to.assign(&from),
        }
    }
}

/// Encodes the chunks of `slab`, an array whose edges lie on the chunk grid (or the volume's
/// edge): those at `which` (indexes in the grid's order, z slowest, then y, then x), each gzipped
/// at `gzip_level` if given. Returns their bytes in the order of `which`.
pub fn encode_chunks<T: Element, C: ChunkCodec<T>>(
    codec: &C,
    placement: &Placement,
    slab: ArrayView4<'_, T>,
    byteswapped: bool,
    which: &[usize],
    gzip_level: Option<i32>,
    threads: usize,
) -> std::result::Result<Vec<Vec<u8>>, BatchError> {
    if let Some(level) = gzip_level.filter(|level| !gzip::LEVELS.contains(level)) {
        gzip::compress(&[], level)?;
    }
    let spans = grid_spans(placement, slab.dim().into())?;
    if spans
        .iter()
        .flatten()
        .any(|span| span.len != span.chunk_len)
    {
        return Err(arguments(format!(
            "the slab of shape {:?} from {:?} is not whole chunks of {:?}",
            slab.dim(),
            placement.start,
            placement.chunk_size
        )));
    }
    let mut views: Vec<Option<ArrayView4<'_, T>>> =
        cut(slab, &spans).into_iter().map(Some).collect();
    let mut jobs = Vec::with_capacity(which.len());
    for &index in which {
        match views.get_mut(index).and_then(Option::take) {
            Some(view) => jobs.push(view),
            None => {
                return Err(arguments(format!(
                    "chunk {index} is not one of the slab's {} chunks, or is listed twice",
                    views.len()
                )))
            }
        }
    }
    let mut encoded = vec![Vec::new(); jobs.len()];
    let jobs: Vec<_> = jobs.into_iter().zip(encoded.iter_mut()).collect();
    for_each_on_threads(
        jobs,
        threads,
        || (),
        |(), (view, out)| {
            let bytes = codec.encode(view, byteswapped)?;
            *out = match gzip_level {
                Some(level) => gzip::compress(&bytes, level)?,
                None => bytes,
            };
            Ok(())
        },
    )
    .map_err(|(job, error)| BatchError::Chunk {
        index: which[job],
        error,
    })?;
    Ok(encoded)
}

/// Runs `work` on every job on up to `threads` threads (the calling one among them), each with
/// its own scratch from `scratch`; jobs are taken in order. After a failure no new job starts;
/// the failure of the lowest job is returned, with that job's index.
fn for_each_on_threads<J: Send, S>(
    jobs: Vec<J>,
    threads: usize,
    scratch: impl Fn() -> S + Sync,
    work: impl Fn(&mut S, J) -> Result<()> + Sync,
) -> std::result::Result<(), (usize, Error)> {
    let threads = threads.clamp(1, jobs.len().max(1));
    let queue = Mutex::new(jobs.into_iter().enumerate());
    let failed = AtomicBool::new(false);
    let failure: Mutex<Option<(usize, Error)>> = Mutex::new(None);
    let worker = || {
        let mut scratch = scratch();
        while !failed.load(Ordering::Relaxed) {
            let next = queue.lock().unwrap_or_else(PoisonError::into_inner).next();
            let Some((index, job)) = next else { break };
            if let Err(error) = work(&mut scratch, job) {
                failed.store(true, Ordering::Relaxed);
                let mut first = failure.lock().unwrap_or_else(PoisonError::into_inner);
                if first.as_ref().is_none_or(|(other, _)| index < *other) {
                    *first = Some((index, error));
                }
            }
        }
    };
    if threads == 1 {
        worker();
    } else {
        std::thread::scope(|scope| {
            for _ in 1..threads {
                scope.spawn(worker);
            }
            worker();
        });
    }
    match failure.into_inner().unwrap_or_else(PoisonError::into_inner) {
        Some(failed) => Err(failed),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array4, ShapeBuilder};

    /// A volume of 2 channels and odd sizes, with labels that differ in every voxel and channel.
    fn volume() -> Array4<u32> {
        Array4::from_shape_fn((2, 23, 19, 17), |(c, z, y, x)| {
            (x + 100 * y + 10_000 * z + 1_000_000 * c) as u32 % 97
        })
    }

    const CHUNK: Shape3 = [7, 8, 5];
    const SIZE: Shape3 = [17, 19, 23];

    fn placement(start: Shape3) -> Placement {
        Placement {
            chunk_size: CHUNK,
            volume_size: SIZE,
            start,
        }
    }

    /// The whole volume's chunks as the batch encodes them, gzipped or not.
    fn stored<C: ChunkCodec<u32>>(codec: &C, gzip_level: Option<i32>) -> Vec<Vec<u8>> {
        let volume = volume();
        let count = chunk_count(&placement([0; 3]), [2, 23, 19, 17]).unwrap();
        let which: Vec<usize> = (0..count).collect();
        let view = volume.view();
        encode_chunks(
            codec,
            &placement([0; 3]),
            view,
            false,
            &which,
            gzip_level,
            3,
        )
        .unwrap()
    }

    fn as_stored(chunks: &[Vec<u8>], gzipped: bool) -> Vec<Option<StoredChunk<'_>>> {
        chunks
            .iter()
            .map(|data| Some(StoredChunk { data, gzipped }))
            .collect()
    }

    #[test]
    fn spans_cover_the_array_and_cut_chunks_at_the_volume_edge() {
        let cut = |start, len| spans(7, 17, start, len, "x").unwrap();
        let span = |chunk_len, within_chunk, len| Span {
            chunk_len,
            within_chunk,
            len,
        };
        assert_eq!(cut(0, 17), [span(7, 0, 7), span(7, 0, 7), span(3, 0, 3)]);
        assert_eq!(cut(5, 4), [span(7, 5, 2), span(7, 0, 2)]);
        assert_eq!(cut(15, 2), [span(3, 1, 2)]);
        assert!(spans(7, 17, 15, 3, "x").is_err());
        assert!(spans(0, 17, 0, 3, "x").is_err());
        assert!(spans(7, 17, usize::MAX, 3, "x").is_err());
    }

    #[test]
    fn chunks_encode_as_one_by_one_and_decode_back_in_any_region() {
        let volume = volume();
        let block = CompressedSegmentation { block: [4, 3, 2] };
        let encoded = stored(&block, None);
        // The grid's order: z slowest, x fastest; each chunk as the codec alone encodes it.
        let first_of_second_row = &volume.slice(s![.., 0..5, 8..16, 0..7]);
        assert_eq!(
            encoded[3],
            block.encode(first_of_second_row.view(), false).unwrap()
        );
        assert_eq!(encoded.len(), 3 * 3 * 5);
        for gzipped in [false, true] {
            let stored = if gzipped {
                encoded
                    .iter()
                    .map(|data| gzip::compress(data, 1).unwrap())
                    .collect()
            } else {
                encoded.clone()
            };
            for threads in [1, 2, 5] {
                let mut out = Array4::<u32>::zeros(volume.dim());
                let chunks = as_stored(&stored, gzipped);
                decode_chunks(
                    &block,
                    &placement([0; 3]),
                    &chunks,
                    1 << 20,
                    out.view_mut(),
                    threads,
                )
                .unwrap();
                assert_eq!(out, volume);
            }
        }
        // A region that cuts chunks on every side: its chunks, in the grid's order.
        let (start, stop): (Shape3, Shape3) = ([3, 6, 4], [16, 17, 21]);
        let rows = |axis: usize| start[axis] / CHUNK[axis]..stop[axis].div_ceil(CHUNK[axis]);
        let mut chunks = Vec::new();
        for k in rows(2) {
            for j in rows(1) {
                for i in rows(0) {
                    chunks.push(Some(StoredChunk {
                        data: &encoded[i + 3 * (j + 3 * k)][..],
                        gzipped: false,
                    }));
                }
            }
        }
        let mut out = Array4::<u32>::zeros((2, 17, 11, 13));
        decode_chunks(&block, &placement(start), &chunks, 0, out.view_mut(), 2).unwrap();
        assert_eq!(out, volume.slice(s![.., 4..21, 6..17, 3..16]));
        // Into a view of a Fortran-order array: the layout does not matter.
        let mut fortran = Array4::<u32>::zeros((2, 17, 11, 13).f());
        decode_chunks(&block, &placement(start), &chunks, 0, fortran.view_mut(), 2).unwrap();
        assert_eq!(fortran, out);
    }

    #[test]
    fn raw_chunks_of_any_layout_round_trip() {
        let volume = volume().mapv(u64::from);
        let fortran = {
            let mut array = Array4::zeros(volume.dim().f());
            array.assign(&volume);
            array
        };
        let which = [0, 1, 2, 44, 17];
        let from_c = encode_chunks(
            &Raw,
            &placement([0; 3]),
            volume.view(),
            false,
            &which,
            None,
            2,
        );
        let from_f = encode_chunks(
            &Raw,
            &placement([0; 3]),
            fortran.view(),
            false,
            &which,
            None,
            1,
        );
        assert_eq!(from_c, from_f);
        let chunk_17 = volume.slice(s![.., 5..10, 16..19, 14..17]);
        let bytes: Vec<u8> = chunk_17.iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(from_c.unwrap()[4], bytes);
    }

    #[test]
    fn missing_chunks_are_left_alone() {
        let encoded = stored(&Raw, Some(6));
        let mut chunks = as_stored(&encoded, true);
        chunks[0] = None;
        let mut out = Array4::from_elem((2, 23, 19, 17), 7u32);
        decode_chunks(
            &Raw,
            &placement([0; 3]),
            &chunks,
            1 << 20,
            out.view_mut(),
            2,
        )
        .unwrap();
        assert!(out.slice(s![.., 0..5, 0..8, 0..7]).iter().all(|&v| v == 7));
        assert_eq!(
            out.slice(s![.., 5.., .., ..]),
            volume().slice(s![.., 5.., .., ..])
        );
    }

    #[test]
    fn a_corrupt_chunk_is_named_by_its_index() {
        let block = CompressedSegmentation { block: [8, 8, 8] };
        let mut encoded = stored(&block, None);
        encoded[30].truncate(10);
        encoded[40] = b"not gzip".to_vec();
        let mut chunks = as_stored(&encoded, false);
        chunks[40] = Some(StoredChunk {
            data: &encoded[40],
            gzipped: true,
        });
        for threads in [1, 2] {
            let mut out = Array4::<u32>::zeros((2, 23, 19, 17));
            let result = decode_chunks(
                &block,
                &placement([0; 3]),
                &chunks,
                1 << 20,
                out.view_mut(),
                threads,
            );
            match result {
                Err(BatchError::Chunk {
                    index,
                    error: Error::InvalidFormat(_),
                }) => {
                    assert!(index == 30 || index == 40 && threads > 1, "{index}")
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn a_gzip_bomb_stops_at_the_bound_before_inflating() {
        let big = vec![0; 4 << 20];
        let bomb = gzip::compress(&big, 1).unwrap();
        let chunks = [Some(StoredChunk {
            data: &bomb,
            gzipped: true,
        })];
        let grid = Placement {
            chunk_size: [4, 4, 4],
            volume_size: [4, 4, 4],
            start: [0; 3],
        };
        let mut out = Array4::<u8>::zeros((1, 4, 4, 4));
        let result = decode_chunks(&Raw, &grid, &chunks, 1000, out.view_mut(), 1);
        assert!(
            matches!(&result, Err(BatchError::Chunk { index: 0, error: Error::InvalidFormat(m) }) if m.contains("bomb")),
            "{result:?}"
        );
    }

    #[test]
    fn bad_arguments_are_refused() {
        let mut out = Array4::<u32>::zeros((2, 23, 19, 17));
        let too_few = decode_chunks(&Raw, &placement([0; 3]), &[None], 0, out.view_mut(), 1);
        assert!(matches!(
            too_few,
            Err(BatchError::Arguments(Error::InvalidArgument(_)))
        ));
        let outside = decode_chunks(&Raw, &placement([1, 0, 0]), &[], 0, out.view_mut(), 1);
        assert!(matches!(outside, Err(BatchError::Arguments(_))));

        let volume = volume();
        let view = volume.view();
        let encode = |start, slab, which: &[usize], level| {
            encode_chunks(&Raw, &placement(start), slab, false, which, level, 2)
        };
        assert!(matches!(
            encode([0; 3], view, &[0, 0], None),
            Err(BatchError::Arguments(_))
        ));
        assert!(matches!(
            encode([0; 3], view, &[45], None),
            Err(BatchError::Arguments(_))
        ));
        assert!(matches!(
            encode([0; 3], view, &[0], Some(13)),
            Err(BatchError::Arguments(_))
        ));
        let unaligned = volume.slice(s![.., .., .., 1..]);
        assert!(matches!(
            encode([1, 0, 0], unaligned, &[0], None),
            Err(BatchError::Arguments(_))
        ));
        // A slab that ends at the volume's edge is whole chunks.
        let last_row = volume.slice(s![.., 20.., .., 14..]);
        assert_eq!(encode([14, 0, 20], last_row, &[2], None).unwrap().len(), 1);
    }
}
