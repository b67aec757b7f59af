"""ngcodec.downsample against tensorstore's downsample driver, voxel for voxel.

Every method x data type x factors (with (2, 2, 2), (2, 2, 1), (3, 1, 2), (1, 1, 1) and factors
larger than the volume) on odd-sized volumes at origins that are not multiples of the factors,
negative ones included, with 1 and 2 channels, in C, Fortran, strided, reversed and big-endian
layouts. tensorstore's dimensions are ours, (C, Z, Y, X), so its factors are (1, Z, Y, X): the
reverse of ours. It reads the C-order copy: float means add in the order of an x-fastest volume.

tensorstore (0.1.86 and its current source) reads past the end of a row when a block along one
of the two innermost dimensions it iterates is cut by both edges of the array (the array starts
inside the block and ends before the block does): it adds voxels of the next row, or beyond the
array. There the tests compare with the definition, block by block (`reference_downsample`).
"""

import numpy as np
import pytest
import synthetic
from hypothesis import given, settings
from hypothesis import strategies as st

import ngcodec
from ngcodec.chunk_encoding import NEUROGLANCER_DATA_TYPES
from ngcodec.downsampling import METHODS, output_geometry

ts = pytest.importorskip("tensorstore")

# The viewer's data types, and the wider ones the kernels also take.
DATA_TYPES = [*NEUROGLANCER_DATA_TYPES, "int64", "float64"]
FACTORS = [(2, 2, 2), (2, 2, 1), (3, 1, 2), (1, 1, 1), (1, 3, 2), (4, 4, 4), (20, 3, 16)]
ORIGINS = [(0, 0, 0), (1, 3, 5), (-3, 7, -1), (5, -2, 3)]
LAYOUTS = ["C", "Fortran", "strided", "negative strides", "big-endian"]


def tensorstore_downsample(
    volume: np.ndarray, factors: tuple[int, int, int], method: str, origin: tuple[int, int, int]
) -> tuple[tuple[int, ...], np.ndarray]:
    """tensorstore's output origin (X, Y, Z) and values for a (C, Z, Y, X) volume at `origin`."""
    x, y, z = origin
    store = ts.array(np.ascontiguousarray(volume))[ts.d[:].translate_to[0, z, y, x]]
    downsampled = ts.downsample(store, [1, *factors[::-1]], method)
    return tuple(downsampled.domain.inclusive_min[:0:-1]), downsampled.read().result()


def tensorstore_misreads(
    shape: tuple[int, ...], origin: tuple[int, int, int], factors: tuple[int, int, int]
) -> bool:
    """Whether tensorstore's bug above hits a (C, Z, Y, X) volume: its iteration drops axes of
    one voxel, merges neighbours that are not downsampled, and downsamples the last two apart."""
    axes = [(shape[0], 1, 0)] + [
        (shape[3 - axis], factors[axis] if shape[3 - axis] > 1 else 1, origin[axis])
        for axis in (2, 1, 0)
    ]
    merged: list[tuple[int, int, int]] = []
    for size, factor, start in (axis for axis in axes if axis[0] > 1):
        if merged and merged[-1][1] == 1 and factor == 1:
            merged[-1] = (merged[-1][0] * size, 1, 0)
        else:
            merged.append((size, factor, start))
    return any(0 < start % f and start % f + size < f for size, f, start in merged[-2:])


def reference_downsample(
    volume: np.ndarray,
    factors: tuple[int, int, int],
    method: str,
    origin: tuple[int, int, int],
    ignore_zero: bool = False,
) -> tuple[tuple[int, ...], np.ndarray]:
    """The definition, block by block in Python: the output's origin (X, Y, Z) and values; an
    array that no block holds two voxels of as it is."""
    size = volume.shape[:0:-1]
    if all(f == 1 or n == 1 for f, n in zip(factors, size, strict=True)) and method != "stride":
        return tuple(o // f for o, f in zip(origin, factors, strict=True)), volume.copy()
    if method == "stride":
        lo = [-(-o // f) for o, f in zip(origin, factors, strict=True)]
        hi = [(o + n - 1) // f + 1 for o, n, f in zip(origin, size, factors, strict=True)]
    else:
        lo = [o // f for o, f in zip(origin, factors, strict=True)]
        hi = [-(-(o + n) // f) for o, n, f in zip(origin, size, factors, strict=True)]
    out_size = [max(0, b - a) for a, b in zip(lo, hi, strict=True)]
    out = np.zeros((volume.shape[0], *out_size[::-1]), volume.dtype)
    for c, k, j, i in np.ndindex(out.shape):
        # The block's voxels in the array, in local coordinates (X, Y, Z).
        start = [(a + n) * f - o for a, n, f, o in zip(lo, (i, j, k), factors, origin, strict=True)]
        if method == "stride":
            out[c, k, j, i] = volume[c, start[2], start[1], start[0]]
            continue
        ranges = [
            slice(max(0, a), min(a + f, n)) for a, f, n in zip(start, factors, size, strict=True)
        ]
        block = volume[c, ranges[2], ranges[1], ranges[0]].ravel()  # z, y, x order
        out[c, k, j, i] = reduce_block(block, method, ignore_zero)
    return tuple(lo), out


def reduce_block(block: np.ndarray, method: str, ignore_zero: bool):
    if method == "mode":
        values = block[block != 0] if ignore_zero else block
        if not values.size:
            return 0
        labels, counts = np.unique(values, return_counts=True)
        return labels[np.argmax(counts)]  # the first of the most frequent: the lowest
    if method == "mean" and block.dtype.kind == "f":
        total = block.dtype.type(0)
        with np.errstate(all="ignore"):
            for value in block:  # one by one from 0, in the block's type
                total = total + value
            return total / block.dtype.type(block.size)
    if method == "mean":
        quotient, remainder = divmod(sum(int(v) for v in block), block.size)
        return quotient + (
            2 * remainder > block.size or (2 * remainder == block.size and quotient % 2)
        )
    # std::min and std::max from the type's extreme: NaN is skipped, ties keep the first.
    if block.dtype.kind == "f":
        result = block.dtype.type(np.inf if method == "min" else -np.inf)
    else:
        info = np.iinfo(block.dtype)
        result = block.dtype.type(info.max if method == "min" else info.min)
    for value in block:
        if (value < result) if method == "min" else (result < value):
            result = value
    return result


def expected_downsample(
    volume: np.ndarray, factors: tuple[int, int, int], method: str, origin: tuple[int, int, int]
) -> tuple[tuple[int, ...], np.ndarray]:
    """tensorstore's output, or the definition's where tensorstore misreads."""
    if tensorstore_misreads(volume.shape, origin, factors):
        return reference_downsample(volume, factors, method, origin)
    return tensorstore_downsample(volume, factors, method, origin)


def values_for(data_type: str, method: str, shape: tuple[int, ...], seed: int) -> np.ndarray:
    """Test values: the whole range of integers (a few labels with 0 and both ends for mode, so
    that blocks tie), floats with NaN, infinities and both zeros."""
    rng = np.random.default_rng(seed)
    dtype = np.dtype(data_type)
    if dtype.kind == "f":
        values = (rng.standard_normal(shape) * 1000).astype(dtype)
        specials = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0], dtype)
        mask = rng.random(shape) < 0.1
        values[mask] = rng.choice(specials, int(mask.sum()))
        return values
    info = np.iinfo(dtype)
    if method == "mode":
        labels = np.array([0, 1, 2, info.min, info.max], dtype)
        return labels[rng.integers(0, len(labels), shape)]
    return rng.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)


def assert_same(got: np.ndarray, expected: np.ndarray, context: str) -> None:
    """Bit for bit (so that -0 does not match +0), but any NaN for a NaN: the sign and payload
    of a NaN made by arithmetic depend on the order of operands, which compilers may swap."""
    assert got.shape == expected.shape, context
    assert got.dtype == expected.dtype, context
    if got.dtype.kind == "f":
        nan = np.isnan(expected)
        np.testing.assert_array_equal(np.isnan(got), nan, context)
        got, expected = got[~nan], expected[~nan]
    assert got.tobytes() == expected.tobytes(), context


@pytest.mark.parametrize(
    ("method", "data_type"),
    [
        (method, data_type)
        for method in METHODS
        for data_type in DATA_TYPES
        if not (method == "mode" and data_type.startswith("float"))  # mode takes integers
    ],
)
def test_every_method_type_and_factor_matches_tensorstore(method, data_type):
    for channels in (1, 2):
        volume = values_for(data_type, method, (channels, 7, 10, 13), seed=channels)
        for factors in FACTORS:
            for origin in ORIGINS:
                out_origin, expected = expected_downsample(volume, factors, method, origin)
                size = volume.shape[:0:-1]
                assert output_geometry(origin, size, factors, method) == (
                    out_origin,
                    expected.shape[:0:-1],
                )
                for layout in LAYOUTS:
                    got = ngcodec.downsample(
                        synthetic.in_layout(volume, layout), factors, method, origin=origin
                    )
                    context = f"{channels} channel(s), factors {factors}, origin {origin}, {layout}"
                    assert_same(got, expected, context)
                    assert got.flags.c_contiguous and got.flags.writeable and got.dtype.isnative


@settings(max_examples=300, deadline=None)
@given(
    data_type=st.sampled_from(DATA_TYPES),
    method=st.sampled_from(METHODS),
    channels=st.integers(1, 2),
    shape=st.tuples(*[st.integers(1, 12)] * 3),
    origin=st.tuples(*[st.integers(-40, 40)] * 3),
    factors=st.tuples(*[st.integers(1, 5) | st.integers(6, 30)] * 3),
    layout=st.sampled_from(synthetic.LAYOUTS),
    seed=st.integers(0, 2**32 - 1),
)
def test_any_volume_matches_tensorstore(
    data_type, method, channels, shape, origin, factors, layout, seed
):
    if method == "mode" and data_type.startswith("float"):
        method = "mean"
    volume = values_for(data_type, method, (channels, *shape), seed)
    got = ngcodec.downsample(synthetic.in_layout(volume, layout), factors, method, origin=origin)
    out_origin, expected = reference_downsample(volume, factors, method, origin)
    assert_same(got, expected, layout)
    size = volume.shape[:0:-1]
    assert output_geometry(origin, size, factors, method) == (out_origin, expected.shape[:0:-1])
    if not tensorstore_misreads(volume.shape, origin, factors):
        ts_origin, ts_values = tensorstore_downsample(volume, factors, method, origin)
        assert ts_origin == out_origin
        assert_same(got, ts_values, f"tensorstore, {layout}")


@settings(max_examples=200, deadline=None)
@given(
    data_type=st.sampled_from(["uint8", "int8", "uint32", "int64", "uint64"]),
    shape=st.tuples(*[st.integers(1, 9)] * 3),
    factors=st.sampled_from([(2, 2, 2), (2, 2, 1), (3, 2, 1), (1, 1, 1), (4, 3, 2)]),
    ignore_zero=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_mode_is_the_most_frequent_label(data_type, shape, factors, ignore_zero, seed):
    rng = np.random.default_rng(seed)
    labels = np.array([0, 0, 3, 5, np.iinfo(data_type).max], data_type)
    volume = labels[rng.integers(0, len(labels), (1, *shape))]
    got = ngcodec.downsample(volume, factors, "mode", ignore_zero=ignore_zero)
    _, expected = reference_downsample(volume, factors, "mode", (0, 0, 0), ignore_zero)
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("data_type", ["uint32", "uint64"])
@pytest.mark.parametrize("factors", [(2, 2, 2), (2, 2, 1), (3, 3, 1), (4, 4, 4)])
def test_mode_of_real_labels_matches_tensorstore(pinky40_512, data_type, factors):
    # An odd-sized crop at an origin that no factor divides, as a chunk of a larger volume is.
    crop = pinky40_512[101:198, 203:300, 5:110].astype(data_type)[np.newaxis]
    origin = (5, 203, 101)
    _, expected = tensorstore_downsample(crop, factors, "mode", origin)
    assert_same(ngcodec.downsample(crop, factors, "mode", origin=origin), expected, "C")
    fortran = np.asfortranarray(crop)
    assert_same(ngcodec.downsample(fortran, factors, "mode", origin=origin), expected, "F")
    for layout, volume in [("C", crop), ("F", fortran)]:
        threaded = ngcodec.downsample(volume, factors, "mode", origin=origin, threads=3)
        assert_same(threaded, expected, f"{layout}, 3 threads")


def test_mode_of_real_labels_ignoring_zero(pinky40_512):
    crop = pinky40_512[200:240, 64:104, 300:340].astype("uint64")[np.newaxis]
    # Make room for 0 to win blocks it should then lose.
    crop = np.where(crop % 3 == 0, 0, crop).astype(crop.dtype)
    for factors in [(2, 2, 2), (2, 2, 1), (3, 3, 3)]:
        for ignore_zero in (False, True):
            got = ngcodec.downsample(crop, factors, "mode", ignore_zero=ignore_zero)
            _, expected = reference_downsample(crop, factors, "mode", (0, 0, 0), ignore_zero)
            np.testing.assert_array_equal(got, expected)


def test_mode_ties_go_to_the_lowest_label():
    # One 2x2x1 block each: two labels twice.
    assert ngcodec.downsample(np.array([[[5, 5], [3, 3]]], "uint64"), (2, 2, 1), "mode") == 3
    assert ngcodec.downsample(np.array([[[3, 5], [5, 3]]], "uint32"), (2, 2, 1), "mode") == 3
    # Signed labels tie to the lowest signed value, not the lowest bit pattern.
    assert ngcodec.downsample(np.array([[[1, -1], [-1, 1]]], "int8"), (2, 2, 1), "mode") == -1
    # Four labels twice each in a 2x2x2 block.
    block = np.array([[[9, 7], [8, 6]], [[6, 8], [7, 9]]], "uint64")
    assert ngcodec.downsample(block, 2, "mode") == 6
    # 0 counts like any label: it wins the tie with 4.
    block = np.array([[[4, 0], [0, 4]]], "uint16")
    assert ngcodec.downsample(block, (2, 2, 1), "mode") == 0
    # A majority beats lower labels.
    block = np.array([[[1, 2, 2], [2, 3, 2], [0, 2, 4]]], "uint8")
    assert ngcodec.downsample(block, (3, 3, 1), "mode") == 2


def test_mode_ignoring_zero():
    block = np.array([[[0, 0], [0, 7]]], "uint64")
    assert ngcodec.downsample(block, (2, 2, 1), "mode") == 0
    assert ngcodec.downsample(block, (2, 2, 1), "mode", ignore_zero=True) == 7
    # All 0: stays 0.
    assert ngcodec.downsample(np.zeros((2, 2, 2), "uint32"), 2, "mode", ignore_zero=True) == 0
    # The non-zero labels tie: the lowest wins.
    block = np.array([[[0, 9], [0, 4]], [[0, 9], [4, 0]]], "uint64")
    assert ngcodec.downsample(block, 2, "mode", ignore_zero=True) == 4
    # Negative labels are not 0.
    block = np.array([[[0, -2], [0, 0]]], "int32")
    assert ngcodec.downsample(block, (2, 2, 1), "mode", ignore_zero=True) == -2


def test_blocks_cut_by_both_edges_reduce_the_voxels_present():
    # Where tensorstore adds voxels beyond the row (see the module's docstring).
    row = np.array([[[1, 2, 3], [100, 100, 100]]], "uint8")
    assert tensorstore_misreads((1, 1, 2, 3), (1, 0, 0), (8, 1, 1))
    for method, value in [("mean", 2), ("min", 1), ("max", 3), ("mode", 1)]:
        got = ngcodec.downsample(row, (8, 1, 1), method, origin=(1, 0, 0))
        np.testing.assert_array_equal(got, [[[value], [100]]])


def test_mean_rounds_half_to_even_and_counts_the_voxels_present():
    # x = 0..3 at origin x = 1: blocks {1}, {2, 3}, {4}; 3.5 rounds to 4, 10.5 to 10.
    row = np.array([[[10, 3, 4, 7]]], "uint8")
    np.testing.assert_array_equal(
        ngcodec.downsample(row, (2, 1, 1), origin=(1, 0, 0)), [[[10, 4, 7]]]
    )
    row = np.array([[[10, 11]]], "uint8")
    np.testing.assert_array_equal(ngcodec.downsample(row, (2, 1, 1)), [[[10]]])
    # Exact for 64-bit values, where a float64 mean would round.
    big = np.array([[[2**63 + 1, 2**63 + 4]]], "uint64")
    assert ngcodec.downsample(big, (2, 1, 1))[0, 0, 0] == 2**63 + 2
    # A partial block of one voxel at the top of the range: no overflow on the way.
    top = np.array([[[2**64 - 1] * 3]], "uint64")
    np.testing.assert_array_equal(ngcodec.downsample(top, (2, 1, 1)), [[[2**64 - 1] * 2]])
    low = np.array([[[-(2**63), -(2**63) + 3]]], "int64")
    assert ngcodec.downsample(low, (2, 1, 1))[0, 0, 0] == -(2**63) + 2  # -...+1.5 rounds to even


def test_stride_keeps_voxels_at_multiples_of_the_factors():
    volume = np.arange(5 * 6 * 7, dtype="uint16").reshape(5, 6, 7)
    origin = (1, 2, 3)
    got = ngcodec.downsample(volume, (2, 3, 2), "stride", origin=origin)
    # Global x 2, 4, 6; y 3, 6; z 4, 6 are local x 1, 3, 5; y 1, 4; z 1, 3.
    np.testing.assert_array_equal(got, volume[1::2, 1::3, 1::2])
    assert output_geometry(origin, (7, 6, 5), (2, 3, 2), "stride") == ((1, 1, 2), (3, 2, 2))
    # No multiple of the factor in the array: an empty output.
    assert ngcodec.downsample(volume[:1], (1, 1, 2), "stride", origin=(0, 0, 5)).shape == (0, 6, 7)


def test_three_dimensional_volumes_stay_three_dimensional():
    volume = np.arange(4 * 6 * 8, dtype="float32").reshape(4, 6, 8)
    got = ngcodec.downsample(volume, 2)
    assert got.shape == (2, 3, 4)
    np.testing.assert_array_equal(got, ngcodec.downsample(volume[np.newaxis], 2)[0])


def test_empty_volumes():
    assert ngcodec.downsample(np.zeros((1, 0, 4, 4), "uint8"), 2).shape == (1, 0, 2, 2)
    assert ngcodec.downsample(np.zeros((0, 3, 4, 4), "uint8"), 2).shape == (0, 2, 2, 2)


def test_the_input_is_left_alone():
    volume = values_for("uint16", "mean", (2, 5, 5, 5), seed=3)
    before = volume.copy()
    volume.flags.writeable = False
    ngcodec.downsample(volume, 2, "max")
    np.testing.assert_array_equal(volume, before)


def test_output_geometry():
    assert output_geometry((0, 0, 0), (10, 11, 1), 2) == ((0, 0, 0), (5, 6, 1))
    assert output_geometry((1, 5, -3), (10, 2, 4), (2, 3, 2)) == ((0, 1, -2), (6, 2, 3))
    assert output_geometry((1, 5, -3), (10, 2, 4), (2, 3, 2), "stride") == ((1, 2, -1), (5, 1, 2))
    assert output_geometry((7, 0, 0), (3, 1, 1), (100, 1, 1)) == ((0, 0, 0), (1, 1, 1))


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda v: ngcodec.downsample(v, 0), ValueError, "factors must be positive"),
        (lambda v: ngcodec.downsample(v, (2, -1, 2)), ValueError, "factors must be positive"),
        (lambda v: ngcodec.downsample(v, 2.0), TypeError, "factors must be 3 integers"),
        (lambda v: ngcodec.downsample(v, (2, 2)), ValueError, "factors must be 3 integers"),
        (lambda v: ngcodec.downsample(v, (2, "2", 2)), TypeError, "factors must be 3 integers"),
        (lambda v: ngcodec.downsample(v, (2, True, 2)), TypeError, "factors must be 3 integers"),
        (lambda v: ngcodec.downsample(v, "222"), TypeError, "factors must be 3 integers"),
        (lambda v: ngcodec.downsample(v, 2, "median"), ValueError, "method must be one of"),
        (lambda v: ngcodec.downsample(v, 2, None), ValueError, "method must be one of"),
        (lambda v: ngcodec.downsample(v.astype("f4"), 2, "mode"), TypeError, "method 'mode'"),
        (lambda v: ngcodec.downsample(v, 2, ignore_zero=True), ValueError, "ignore_zero"),
        (lambda v: ngcodec.downsample(v, 2, "mode", ignore_zero=1), TypeError, "ignore_zero"),
        (lambda v: ngcodec.downsample(v[0, 0], 2), ValueError, "array must have 4 dimensions"),
        (lambda v: ngcodec.downsample(v[None], 2), ValueError, "array must have 4 dimensions"),
        (lambda v: ngcodec.downsample(v.astype(bool), 2), TypeError, "array has dtype bool"),
        (lambda v: ngcodec.downsample(v.astype("c8"), 2), TypeError, "array has dtype complex64"),
        (lambda v: ngcodec.downsample(v, 2, threads=0), ValueError, "threads must be"),
        (lambda v: ngcodec.downsample(v, 2, threads=2.0), ValueError, "threads must be"),
        (lambda v: ngcodec.downsample(v, 2, origin=(0, 0)), ValueError, "origin must be 3"),
        (lambda v: ngcodec.downsample(v, 2, origin=(0, 0.5, 0)), TypeError, "origin must be 3"),
        (lambda v: ngcodec.downsample(v, 2, origin=(2**63, 0, 0)), OverflowError, "int"),
        (lambda v: output_geometry((0, 0, 0), (4, -1, 4), 2), ValueError, "size must not be"),
        (lambda v: output_geometry((0, 0, 0), (4, 4, 4), 0), ValueError, "factors must be"),
        (lambda v: output_geometry((2**62, 0, 0), (2**62, 4, 4), 1), ValueError, "overflows"),
    ],
)
def test_bad_arguments_name_the_argument(call, error, message):
    with pytest.raises(error, match=message):
        call(np.zeros((1, 4, 4, 4), "uint8"))


def test_downsample_is_exported():
    assert "downsample" in ngcodec.__all__
    assert "downsample" not in ngcodec.chunk_encoding.__all__
