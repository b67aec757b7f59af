"""Pyramids: the scales planned, each scale equal to tensorstore's downsampling of the one before,
lossy scales built from exact values, `ngcodec downsample` on datasets of other tools, resuming,
verification of every scale, and bad requests."""

import json
import time

import numpy as np
import pytest

import ngcodec.volume as nv
from ngcodec.cli import main
from ngcodec.precomputed.format.scales import downsampled_scale, plan_factors
from ngcodec.precomputed.pipeline.downsample import DownsampledArray, extend_pyramid, write_pyramid
from ngcodec.precomputed.pipeline.write import write_scale

ts = pytest.importorskip("tensorstore")


def labels(shape_zyx, seed=0, count=12):
    """Blocky labels with many ties inside 2x2x2 blocks, and 0 among them."""
    rng = np.random.default_rng(seed)
    ids = np.concatenate([[0], rng.integers(1, 2**32, count - 1, dtype=np.uint64)])
    coarse = rng.integers(0, count, tuple(-(-n // 3) for n in shape_zyx))
    field = coarse.repeat(3, 0).repeat(3, 1).repeat(3, 2)[tuple(slice(n) for n in shape_zyx)]
    noise = rng.integers(0, count, shape_zyx)
    field = np.where(rng.random(shape_zyx) < 0.3, noise, field)
    return ids[field].astype(np.uint32)


def image(shape_czyx, seed=0):
    return np.random.default_rng(seed).integers(0, 256, shape_czyx, dtype=np.uint8)


def ts_scale(path, index):
    """Scale ``index`` of a dataset, opened by tensorstore ([x, y, z, channel] from its offset)."""
    spec = {"driver": "neuroglancer_precomputed", "kvstore": f"file://{path}", "scale_index": index}
    return ts.open(spec, read=True).result()


# --- planning -----------------------------------------------------------------------------------


def test_isotropic_volumes_halve_every_axis_until_one_chunk_holds_them():
    assert plan_factors((512, 512, 512), (8, 8, 8), (64, 64, 64)) == [(2, 2, 2)] * 3
    assert plan_factors((64, 64, 64), (8, 8, 8), (64, 64, 64)) == []
    assert plan_factors((65, 10, 10), (1, 1, 1), (64, 64, 64)) == [(2, 2, 2)]
    assert plan_factors((512, 512, 512), (8, 8, 8), (64, 64, 64), max_scales=2) == [(2, 2, 2)]


def test_anisotropic_axes_wait_until_the_voxels_are_near_isotropic():
    # z is 5x coarser: round(log2(5)) = 2 scales of (2, 2, 1) first.
    factors = plan_factors((512, 512, 512), (8, 8, 40), (64, 64, 64))
    assert factors[:3] == [(2, 2, 1), (2, 2, 1), (2, 2, 2)]
    # 20000 x 20000 x 1000 at 4 x 4 x 40: z waits 3 scales; 9 coarser scales in all.
    factors = plan_factors((20000, 20000, 1000), (4, 4, 40), (64, 64, 64))
    assert factors == [(2, 2, 1)] * 3 + [(2, 2, 2)] * 6


def test_a_coarser_scale_aligns_its_windows_to_global_zero():
    scale = {
        "key": "8_8_40",
        "size": [101, 50, 7],
        "voxel_offset": [3, 5, 11],
        "resolution": [8, 8, 40],
        "chunk_sizes": [[64, 64, 64]],
        "encoding": "raw",
    }
    coarser = downsampled_scale(scale, (2, 3, 2))
    # ceil((off + size) / f) - floor(off / f), from floor(off / f)
    assert coarser["voxel_offset"] == [1, 1, 5]
    assert coarser["size"] == [52 - 1, 19 - 1, 9 - 5]
    assert coarser["resolution"] == [16, 24, 80] and coarser["key"] == "16_24_80"
    with pytest.raises(ValueError, match="at least 1"):
        downsampled_scale(scale, (0, 1, 1))
    with pytest.raises(ValueError, match="one voxel already"):
        downsampled_scale({**scale, "size": [101, 1, 7]}, (2, 2, 2))


# --- every scale equals tensorstore's downsampling of the scale before --------------------------


@pytest.mark.parametrize(
    ("encoding", "dtype", "channels", "method"),
    [
        ("compressed_segmentation", np.uint32, 1, "mode"),
        ("raw", np.uint8, 2, "mean"),
        ("raw", np.uint16, 1, "max"),
        ("raw", np.uint32, 1, "stride"),
        ("png", np.uint8, 1, "min"),
    ],
)
def test_each_scale_is_tensorstores_downsampling_of_the_one_before(
    tmp_path, encoding, dtype, channels, method
):
    shape = (channels, 23, 37, 45)  # odd on every axis
    data = (
        labels(shape[1:])[None].astype(dtype)
        if method == "mode"
        else image(shape).astype(dtype) * (257 if dtype == np.uint16 else 1)
    )
    stats = nv.write_volume(
        data,
        tmp_path,
        encoding=encoding,
        chunk_size=(16, 8, 8),
        resolution=(4, 4, 8),
        voxel_offset=(3, 7, 5),
        gzip=False,
        pyramid=True,
        downsample_method=method,
    )
    info = json.loads((tmp_path / "info").read_text())
    assert len(info["scales"]) >= 3
    assert stats.chunks_total == sum(
        nv.PrecomputedVolume(tmp_path, info, s["key"]).num_chunks for s in info["scales"]
    )
    np.testing.assert_array_equal(nv.read_volume(tmp_path), data)
    for index in range(1, len(info["scales"])):
        finer, coarser = info["scales"][index - 1], info["scales"][index]
        factors = [c // f for c, f in zip(coarser["resolution"], finer["resolution"], strict=True)]
        expected = ts.downsample(ts_scale(tmp_path, index - 1), [*factors, 1], method)
        written = ts_scale(tmp_path, index)
        if method != "stride":  # stride leaves out a partial first block: no first voxel there
            assert written.domain == expected.domain
        np.testing.assert_array_equal(
            written[expected.domain].read().result(), expected.read().result()
        )


def test_downsampled_array_reads_only_what_a_slice_needs():
    reads = []

    class Source:
        shape = (1, 20, 20, 20)
        dtype = np.dtype(np.uint8)

        def __getitem__(self, key):
            reads.append(key)
            return np.ones(tuple(s.stop - s.start for s in key[1:]), np.uint8)[None]

    view = DownsampledArray(Source(), (1, 1, 1), (2, 2, 2), "mean")
    assert view.shape == (1, 11, 11, 11) and view.voxel_offset == (0, 0, 0)
    block = view[:, 0:2, 0:2, 0:2]
    assert block.shape == (1, 2, 2, 2) and (block == 1).all()
    # Global output voxels 0-1 need source voxels 1-3 (voxel 0 is outside the source).
    assert reads == [(slice(None), slice(0, 3), slice(0, 3), slice(0, 3))]


# --- lossy scales are built from exact values ---------------------------------------------------


class CountingArray:
    """An input array that counts the voxels read from it."""

    def __init__(self, array):
        self.array, self.shape, self.dtype, self.ndim = array, array.shape, array.dtype, array.ndim
        self.voxels_read = 0

    def __getitem__(self, key):
        block = self.array[key]
        self.voxels_read += block.size
        return block


@pytest.mark.parametrize("encoding", ["jpeg", "raw"])
@pytest.mark.parametrize("in_memory", [True, False])
def test_scales_after_a_lossy_one_come_from_the_input_not_its_decoded_pixels(
    tmp_path, encoding, in_memory
):
    data = image((1, 32, 64, 64))
    nv.write_volume(data, tmp_path, encoding=encoding, chunk_size=16)
    info = json.loads((tmp_path / "info").read_text())
    info["scales"] += _coarser(info, 2)
    (tmp_path / "info").write_text(json.dumps(info))
    pyramid = nv.PrecomputedVolume.open(tmp_path)
    source = CountingArray(data)
    budget = {} if in_memory else {"max_slab_bytes": 16**3}  # a slab of one chunk
    stats = write_pyramid(pyramid, source, method="mean", jobs=1, **budget)
    assert [s.chunks_written for s in stats.values()] == [4, 1]
    # Scale 1 reads the input once. Small enough to hold, it is computed whole and scale 2 is
    # made from it. Otherwise, with jpeg, scale 2 reads the input again, through scale 1's exact
    # values; with raw, scale 2 reads scale 1 back from storage instead.
    reads_every_scale = encoding == "jpeg" and not in_memory
    assert source.voxels_read == data.size * (2 if reads_every_scale else 1)
    exact = DownsampledArray(DownsampledArray(data, (0, 0, 0), 2, "mean"), (0, 0, 0), 2, "mean")
    coarsest = nv.read_volume(tmp_path, key=pyramid.info["scales"][2]["key"])
    assert np.abs(coarsest.astype(int) - exact[:, :, :, :].astype(int)).max() <= (
        8 if encoding == "jpeg" else 0
    )


@pytest.mark.parametrize("in_memory", [True, False])
def test_the_coarser_scales_of_an_array_in_memory_are_written_alongside_the_base(
    tmp_path, in_memory
):
    # convert writes the base scale this way. From an array in memory the coarser scales never
    # read the stored base, so they are written while it is; from other sources, after it.
    data = labels((32, 40, 48))[None]
    info = nv.make_info(data_type="uint32", num_channels=1, size=(48, 40, 32), chunk_size=16)
    info["scales"] += _coarser(info, 2)
    coarsest = info["scales"][-1]["key"]
    pyramid = nv.PrecomputedVolume.create(tmp_path, info)
    values = data if in_memory else CountingArray(data)
    coarsest_written_first = []

    def write_base() -> None:
        deadline = time.monotonic() + (60 if in_memory else 0.5)
        while not (tmp_path / coarsest).is_dir() and time.monotonic() < deadline:
            time.sleep(0.01)
        coarsest_written_first.append((tmp_path / coarsest).is_dir())
        write_scale(pyramid, values, jobs=2)

    stats = write_pyramid(pyramid, values, method="mode", jobs=2, alongside=write_base)
    assert coarsest_written_first == [in_memory]
    assert [s.chunks_written for s in stats.values()] == [4, 1]
    exact = data
    for scale in info["scales"][1:]:
        exact = DownsampledArray(exact, (0, 0, 0), 2, "mode")[:, :, :, :]
        np.testing.assert_array_equal(nv.read_volume(tmp_path, key=scale["key"]), exact)
    np.testing.assert_array_equal(nv.read_volume(tmp_path), data)

    def failing() -> None:
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_pyramid(pyramid, values, jobs=2, overwrite=True, alongside=failing)


def test_a_failed_base_write_stops_the_coarser_scales_at_their_next_slab(tmp_path):
    # Without the stop, an interrupted convert would wait for every coarser scale to be written.
    data = labels((128, 128, 128))[None]
    info = nv.make_info(data_type="uint32", num_channels=1, size=(128, 128, 128), chunk_size=8)
    info["scales"] += _coarser(info, 1)
    pyramid = nv.PrecomputedVolume.create(tmp_path, info)
    slabs_written = []

    def slow_progress(count: int) -> None:
        slabs_written.append(count)
        time.sleep(0.1)

    def failing_base_write() -> None:
        deadline = time.monotonic() + 60
        while not slabs_written and time.monotonic() < deadline:
            time.sleep(0.001)
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_pyramid(
            pyramid,
            data,
            jobs=1,
            progress=slow_progress,
            max_slab_bytes=8 * 64 * 64 * 4,  # small slabs: the coarser scale has 64
            alongside=failing_base_write,
        )
    assert len(slabs_written) == 1


def _coarser(info, count):
    scales = [info["scales"][0]]
    for _ in range(count):
        scales.append(downsampled_scale(scales[-1], (2, 2, 2)))
    return scales[1:]


# --- ngcodec downsample -------------------------------------------------------------------------


def test_downsample_adds_the_missing_scales_to_a_tensorstore_dataset_and_resumes(tmp_path, capsys):
    data = labels((30, 70, 90))  # (Z, Y, X)
    path = tmp_path / "ts"
    store = ts.open(
        {
            "driver": "neuroglancer_precomputed",
            "kvstore": f"file://{path}",
            "multiscale_metadata": {
                "type": "segmentation",
                "data_type": "uint32",
                "num_channels": 1,
            },
            "scale_metadata": {
                "size": [90, 70, 30],
                "voxel_offset": [5, 0, 9],
                "resolution": [4, 4, 16],
                "chunk_size": [32, 32, 16],
                "encoding": "compressed_segmentation",
                "compressed_segmentation_block_size": [8, 8, 8],
            },
            "create": True,
        }
    ).result()
    store[ts.d[:].translate_to[0]].write(data.T[..., None]).result()

    assert main(["downsample", str(path), "--no-gzip", "--no-progress"]) == 0
    out = capsys.readouterr().out
    info = json.loads((path / "info").read_text())
    resolutions = [[4, 4, 16], [8, 8, 16], [16, 16, 16], [32, 32, 32]]
    assert [s["resolution"] for s in info["scales"]] == resolutions
    assert "scale 8_8_16" in out and "scale 32_32_32" in out
    for index in (1, 2, 3):
        expected = ts.downsample(ts_scale(path, index - 1), [*_factors(info, index), 1], "mode")
        np.testing.assert_array_equal(
            ts_scale(path, index).read().result(), expected.read().result()
        )

    # An interrupted run leaves chunks missing: running again writes exactly those.
    scale_dir = path / info["scales"][1]["key"]
    removed = sorted(scale_dir.iterdir())[:3]
    for chunk in removed:
        chunk.unlink()
    assert main(["downsample", str(path), "--no-gzip", "--no-progress", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [r["chunks_written"] for r in report] == [3, 0, 0]
    assert main(["verify", str(path), "--no-progress"]) == 0
    assert "identical to the finer scale downsampled" in capsys.readouterr().out


def _factors(info, index):
    finer, coarser = info["scales"][index - 1], info["scales"][index]
    return [round(c / f) for c, f in zip(coarser["resolution"], finer["resolution"], strict=True)]


def test_verify_finds_a_coarser_chunk_that_differs_from_the_finer_scale(tmp_path, capsys):
    data = labels((20, 40, 40))
    np.save(tmp_path / "in.npy", data)
    out = tmp_path / "out"
    assert (
        main(
            [
                "convert",
                str(tmp_path / "in.npy"),
                str(out),
                "--encoding",
                "compressed_segmentation",
                "--chunk-size",
                "16",
                "--no-progress",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["verify", str(out), str(tmp_path / "in.npy")]) == 0
    assert "identical to the input" in capsys.readouterr().out
    volume = nv.PrecomputedVolume.open(out, "2_2_2")
    box = next(volume.chunk_boxes())
    volume.write_chunk(box, volume.read_chunk(box) + 1)
    assert main(["verify", str(out), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert not report["ok"] and report["scales"]["1_1_1"]["ok"]
    assert report["scales"]["2_2_2"]["mismatched"][0][0] == box.name


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--factors", "0,2,2"], "factors must be at least 1"),
        (["--factors", "-2"], "factors must be at least 1"),
        (["--factors", "2", "2", "2", "2", "2", "2"], "one voxel already"),
        (["--downsample-method", "mode"], "not float32"),
        (["--downsample-method", "median"], "invalid choice"),
        (["--max-scales", "0"], "positive integer"),
    ],
)
def test_bad_pyramid_requests_are_usage_errors(tmp_path, capsys, arguments, message):
    np.save(tmp_path / "in.npy", np.zeros((8, 8, 8), np.float32))
    with pytest.raises(SystemExit) as exit_info:
        main(["convert", str(tmp_path / "in.npy"), str(tmp_path / "out"), *arguments])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_downsample_needs_a_dataset_with_chunks(tmp_path, capsys):
    info = nv.make_info(data_type="uint8", num_channels=1, size=(200, 200, 200))
    nv.PrecomputedVolume.create(tmp_path, info)
    assert main(["downsample", str(tmp_path)]) == 3
    assert "no chunks to downsample" in capsys.readouterr().err
    assert main(["downsample", str(tmp_path / "nothing")]) == 3


def test_extending_a_pyramid_keeps_the_scales_it_has_whatever_their_keys():
    info = nv.make_info(data_type="uint8", num_channels=1, size=(200, 200, 100), resolution=8)
    second = downsampled_scale(info["scales"][0], (2, 2, 2))
    info["scales"].append({**second, "key": "16nm"})
    extended, keys = extend_pyramid(info)
    assert keys == ["16nm", "32_32_32"]
    assert [s["key"] for s in extended["scales"]] == ["8_8_8", "16nm", "32_32_32"]
    info["scales"][1]["voxel_offset"] = [1, 0, 0]  # not what downsampling the first scale gives
    with pytest.raises(ValueError, match="16nm"):
        extend_pyramid(info)
