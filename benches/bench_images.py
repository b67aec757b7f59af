"""Image and compresso encodings side by side: ngcodec against Pillow, simplejpeg, imagecodecs, the
compresso package and cloud-volume, in one run, on EM-like 64³ chunks built from the pinky40
labels of the test data (tests/data). Needs ``pip install -e '.[bench]'``.

Each row is one writer's file: encode and decode MB/s (of voxels), file size, PSNR. Decoding is
each library reading its own file into an array; ngcodec's into (C, Z, Y, X).
"""

from __future__ import annotations

import argparse
import io
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import PIL
import PIL.Image

import ngcodec.chunk_encoding as ce
from ngcodec.jxl_codec import transcode_jpeg

DEFAULT_DATA = Path(__file__).resolve().parents[1] / "tests" / "data"


def seconds(run: Callable[[], object], budget: float) -> float:
    """The best time of one call over about `budget` seconds."""
    best = float("inf")
    start = time.perf_counter()
    while True:
        began = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - began)
        if time.perf_counter() - start > budget:
            return best


def pinky40(data: Path) -> np.ndarray:
    """The 64³ pinky40 crop, (Z, Y, X) uint32."""
    raw = np.fromfile(data / "pinky40_crop192_64cube_uint32_F.dat", "<u4")
    return np.ascontiguousarray(raw.reshape((64, 64, 64), order="F").T)


def em_like(labels: np.ndarray, seed: int) -> np.ndarray:
    """An EM-like (Z, Y, X) uint8 image: cells of even grey, dark membranes, blur and grain."""
    rng = np.random.default_rng(seed)
    ids, inverse = np.unique(labels, return_inverse=True)
    image = rng.uniform(140, 200, ids.size)[inverse.reshape(labels.shape)]
    membrane = np.zeros(labels.shape, bool)
    for axis in (1, 2):
        edge = np.diff(labels, axis=axis) != 0
        membrane[(slice(None),) * axis + (slice(1, None),)] |= edge
        membrane[(slice(None),) * axis + (slice(0, -1),)] |= edge
    image[membrane] = 60
    for _ in range(2):
        for axis in (1, 2):
            image = (np.roll(image, 1, axis) + 2 * image + np.roll(image, -1, axis)) / 4
    image += rng.normal(0, 10, labels.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def psnr(decoded: np.ndarray, chunk: np.ndarray) -> float:
    error = np.mean((decoded.astype(float).reshape(chunk.shape) - chunk) ** 2)
    return float("inf") if error == 0 else float(10 * np.log10(255**2 / error))


def interleaved(chunk: np.ndarray) -> np.ndarray:
    """The (Z*Y, X[, C]) image of a (C, Z, Y, X) chunk, as image libraries take it."""
    channels, z, y, x = chunk.shape
    image = chunk.reshape(channels, z * y, x)
    return np.ascontiguousarray(image[0] if channels == 1 else np.moveaxis(image, 0, -1))


def planar(image: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    return (image[None] if image.ndim == 2 else np.moveaxis(image, -1, 0)).reshape(shape)


def xyzc(chunk: np.ndarray) -> np.ndarray:
    return np.asfortranarray(chunk.transpose(3, 2, 1, 0))


Codec = tuple[str, Callable[[], bytes], Callable[[bytes], np.ndarray]]


def measure(codecs: list[Codec], chunk: np.ndarray, budget: float, lossless=False) -> list[dict]:
    rows = []
    for name, encode, decode in codecs:
        buf = encode()
        decoded = decode(buf)
        quality = psnr(decoded, chunk)
        if lossless and quality != float("inf"):
            raise SystemExit(f"{name} does not round-trip")
        rows.append(
            {
                "codec": name,
                "encode": chunk.nbytes / seconds(encode, budget) / 1e6,
                "decode": chunk.nbytes / seconds(lambda b=buf, d=decode: d(b), budget) / 1e6,
                "bytes": len(buf),
                "psnr": quality,
            }
        )
    return rows


def markdown(header: list[str], lines: list[list[str]]) -> None:
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for line in lines:
        print("| " + " | ".join(line) + " |")


def print_table(title: str, rows: list[dict], reference: str) -> None:
    base = next(row for row in rows if row["codec"] == reference)
    header = [title, "encode MB/s", "decode MB/s", "bytes", "x size", "PSNR dB"]
    lines = []
    for row in rows:
        quality = "lossless" if row["psnr"] == float("inf") else f"{row['psnr']:.2f}"
        lines.append(
            [
                row["codec"],
                f"{row['encode']:,.1f}",
                f"{row['decode']:,.1f}",
                f"{row['bytes']:,}",
                f"{row['bytes'] / base['bytes']:.3f}",
                quality,
                f"{row['encode'] / base['encode']:.2f}",
                f"{row['decode'] / base['decode']:.2f}",
            ]
        )
    markdown([*header, "x encode", "x decode"], lines)
    print(f"\n(x columns: relative to {reference})\n", flush=True)


def jpeg_codecs(chunk: np.ndarray) -> list[Codec]:
    import imagecodecs
    import simplejpeg
    from cloudvolume import chunks as cv_chunks

    channels = chunk.shape[0]
    image = interleaved(chunk)
    size = chunk.shape[:0:-1]
    default = ce.JpegChunkEncoder("uint8", channels)
    baseline = ce.JpegChunkEncoder("uint8", channels, jpeg_mode="baseline")
    colorspace = "GRAY" if channels == 1 else "RGB"

    def pillow_encode(**settings: Any) -> Callable[[], bytes]:
        def encode() -> bytes:
            out = io.BytesIO()
            PIL.Image.fromarray(image).save(out, "jpeg", quality=95, subsampling=0, **settings)
            return out.getvalue()

        return encode

    def pillow_decode(buf: bytes) -> np.ndarray:
        with PIL.Image.open(io.BytesIO(buf)) as opened:
            return planar(np.asarray(opened), chunk.shape)

    simple_image = image if channels == 3 else image[..., None]
    return [
        (
            "ngcodec progressive (default)",
            lambda: default.encode(chunk),
            lambda b: default.decode(b, size),
        ),
        ("ngcodec baseline", lambda: baseline.encode(chunk), lambda b: baseline.decode(b, size)),
        (
            "Pillow progressive (reference)",
            pillow_encode(optimize=True, progressive=True),
            pillow_decode,
        ),
        ("Pillow baseline", pillow_encode(), pillow_decode),
        (
            "imagecodecs baseline",
            lambda: imagecodecs.jpeg8_encode(image, level=95, subsampling="444"),
            lambda b: planar(imagecodecs.jpeg8_decode(b), chunk.shape),
        ),
        (
            "simplejpeg baseline",
            lambda: simplejpeg.encode_jpeg(
                simple_image,
                quality=95,
                colorspace=colorspace,
                colorsubsampling="Gray" if channels == 1 else "444",
            ),
            lambda b: planar(
                simplejpeg.decode_jpeg(b, colorspace=colorspace).squeeze(), chunk.shape
            ),
        ),
        (
            "cloud-volume (simplejpeg q95, 4:2:0)",
            lambda: cv_chunks.encode(xyzc(chunk), "jpeg", compression_params={"level": 95}),
            lambda b: pillow_decode(b),  # cloud-volume reads 3 channels as planes (wrongly)
        ),
    ]


def jxl_codecs(chunk: np.ndarray) -> list[Codec]:
    import imagecodecs
    from cloudvolume import chunks as cv_chunks

    channels = chunk.shape[0]
    size = chunk.shape[:0:-1]
    codecs: list[Codec] = []
    for quality, effort in [(85, 3), (90, 3), (92, 3), (95, 3), (97, 3), (90, 5), (100, 3)]:
        encoder = ce.JxlChunkEncoder("uint8", channels, jxl_quality=quality, jxl_effort=effort)
        codecs.append(
            (
                f"ngcodec jxl q{quality} e{effort}"
                + (" (default)" if (quality, effort) == (90, 3) else ""),
                lambda e=encoder: e.encode(chunk),
                lambda b, e=encoder: e.decode(b, size),
            )
        )
    image = interleaved(chunk)
    codecs.append(
        (
            "imagecodecs jxl q90 e3",
            lambda: imagecodecs.jpegxl_encode(image, level=90, effort=3, numthreads=1),
            lambda b: planar(imagecodecs.jpegxl_decode(b, numthreads=1), chunk.shape),
        )
    )
    if channels == 1:  # cloud-volume's 3-channel jxl does not round-trip
        codecs.append(
            (
                "cloud-volume jxl q90 e5",
                lambda: cv_chunks.encode(xyzc(chunk), "jxl", compression_params={"level": 90}),
                lambda b: cv_chunks.decode(b, "jxl", shape=(*size, 1), dtype=np.uint8),
            )
        )
    default_jpeg = ce.JpegChunkEncoder("uint8", channels)
    jpeg = default_jpeg.encode(chunk)
    codecs.append(
        (
            "jpeg default, for reference",
            lambda: default_jpeg.encode(chunk),
            lambda b: default_jpeg.decode(b, size),
        )
    )
    jxl_decoder = ce.JxlChunkEncoder("uint8", channels)
    codecs.append(
        (
            "jpeg default transcoded to jxl",
            lambda: transcode_jpeg(jpeg),
            lambda b: jxl_decoder.decode(b, size),
        )
    )
    return codecs


def jxl_size_at_jpeg_psnr(rows: list[dict]) -> float:
    """The size of lossy effort-3 jxl at the default jpeg's PSNR (interpolated between qualities),
    relative to the jpeg's size; NaN if no quality below lossless reaches that PSNR."""
    jpeg = next(row for row in rows if row["codec"] == "jpeg default, for reference")
    lossy = sorted(
        (row["psnr"], row["bytes"])
        for row in rows
        if row["codec"].startswith("ngcodec jxl") and " e3" in row["codec"] and row["psnr"] < 99
    )
    if not lossy[0][0] <= jpeg["psnr"] <= lossy[-1][0]:
        return float("nan")
    psnrs, sizes = zip(*lossy, strict=True)
    return float(np.interp(jpeg["psnr"], psnrs, sizes)) / jpeg["bytes"]


def png_codecs(chunk: np.ndarray) -> list[Codec]:
    import imagecodecs

    channels = chunk.shape[0]
    size = chunk.shape[:0:-1]
    encoder = ce.PngChunkEncoder(chunk.dtype.name, channels)
    image = interleaved(chunk)

    def pillow_encode() -> bytes:
        out = io.BytesIO()
        PIL.Image.fromarray(image).save(out, "png", compress_level=6)
        return out.getvalue()

    def pillow_decode(buf: bytes) -> np.ndarray:
        with PIL.Image.open(io.BytesIO(buf)) as opened:
            return planar(np.asarray(opened), chunk.shape)

    codecs: list[Codec] = [
        ("ngcodec png level 6", lambda: encoder.encode(chunk), lambda b: encoder.decode(b, size)),
        (
            "imagecodecs png level 6",
            lambda: imagecodecs.png_encode(image, level=6),
            lambda b: planar(imagecodecs.png_decode(b), chunk.shape),
        ),
    ]
    if chunk.dtype == np.uint8 or channels == 1:  # Pillow has no 16-bit colour
        codecs.append(("Pillow level 6", pillow_encode, pillow_decode))
    return codecs


def segmentation_table(labels: np.ndarray, budget: float) -> None:
    import gzip

    import compresso
    from cloudvolume import chunks as cv_chunks

    chunk = labels[None]
    size = chunk.shape[:0:-1]
    ours = ce.CompressoEncoder("uint32", 1)
    cseg = ce.CompressedSegmentationEncoder("uint32", 1, [8, 8, 8])
    buf = ours.encode(chunk)
    rows = []
    # Each decoder gives the (Z, Y, X) labels.
    for name, encode, decode in [
        ("ngcodec compresso", lambda: ours.encode(chunk), lambda b: ours.decode(b, size)[0]),
        (
            "compresso package",
            lambda: compresso.compress(labels.T),
            lambda b: compresso.decompress(b).T,
        ),
        (
            "cloud-volume compresso",
            lambda: cv_chunks.encode(xyzc(chunk), "compresso"),
            lambda b: cv_chunks.decode(b, "compresso", shape=(*size, 1), dtype=np.uint32)[..., 0].T,
        ),
        (
            "ngcodec compressed_segmentation 8³",
            lambda: cseg.encode(chunk),
            lambda b: cseg.decode(b, size)[0],
        ),
    ]:
        encoded = bytes(encode())
        if not np.array_equal(decode(encoded), labels):
            raise SystemExit(f"{name} does not round-trip")
        rows.append(
            {
                "codec": name,
                "encode": chunk.nbytes / seconds(encode, budget) / 1e6,
                "decode": chunk.nbytes / seconds(lambda e=encoded, d=decode: d(e), budget) / 1e6,
                "bytes": len(encoded),
                "gzip": len(gzip.compress(encoded, 6)),
            }
        )
    assert bytes(compresso.compress(labels.T)) == bytes(buf)
    base = rows[0]
    header = [
        "compresso, pinky40 64³ uint32",
        "encode MB/s",
        "decode MB/s",
        "bytes",
        "gzip-6 bytes",
    ]
    lines = [
        [
            row["codec"],
            f"{row['encode']:,.1f}",
            f"{row['decode']:,.1f}",
            f"{row['bytes']:,}",
            f"{row['gzip']:,}",
            f"{row['encode'] / base['encode']:.2f}",
            f"{row['decode'] / base['decode']:.2f}",
        ]
        for row in rows
    ]
    markdown([*header, "x encode", "x decode"], lines)
    print("\n(x columns: relative to ngcodec compresso)\n", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="test data folder")
    parser.add_argument("--quick", action="store_true", help="0.05 s per measurement, not 0.3")
    args = parser.parse_args()
    budget = 0.05 if args.quick else 0.3
    labels = pinky40(args.data)
    grey = em_like(labels, 0)[None]
    rgb = np.stack([em_like(labels, seed) for seed in (1, 2, 3)])
    print(f"Pillow {PIL.__version__}, NumPy {np.__version__}\n")
    targets = []
    for label, chunk in (("grey 1x64³", grey), ("RGB 3x64³", rgb)):
        rows = measure(jpeg_codecs(chunk), chunk, budget)
        print_table(f"jpeg q95, {label}", rows, "Pillow progressive (reference)")
        by = {row["codec"]: row for row in rows}
        default, baseline = by["ngcodec progressive (default)"], by["ngcodec baseline"]
        reference, pillow_base = by["Pillow progressive (reference)"], by["Pillow baseline"]
        targets += [
            (
                f"{label}: baseline encode / reference encode",
                baseline["encode"] / reference["encode"],
                ">= 6",
            ),
            (
                f"{label}: baseline decode / reference decode",
                baseline["decode"] / reference["decode"],
                ">= 2",
            ),
            (
                f"{label}: baseline PSNR - libjpeg-turbo q95 accurate DCT (dB)",
                baseline["psnr"] - pillow_base["psnr"],
                "within 0.1",
            ),
            (
                f"{label}: baseline size / default size",
                baseline["bytes"] / default["bytes"],
                "<= 1.15",
            ),
            (f"{label}: default encode / Pillow", default["encode"] / reference["encode"], ">= 1"),
            (
                f"{label}: default decode / Pillow",
                default["decode"] / reference["decode"],
                ">= 1.5" if chunk.shape[0] == 3 else ">= 1",
            ),
        ]
        jxl_rows = measure(jxl_codecs(chunk), chunk, budget)
        print_table(f"jxl, {label}", jxl_rows, "jpeg default, for reference")
        targets.append(
            (
                f"{label}: jxl e3 size at the default jpeg's PSNR / jpeg size",
                jxl_size_at_jpeg_psnr(jxl_rows),
                "<= 0.75",
            )
        )
    rgba16 = np.concatenate([rgb, grey]).astype(np.uint16) * 257
    for label, chunk in (
        ("grey uint8 1x64³", grey),
        ("RGB uint8 3x64³", rgb),
        ("grey uint16 1x64³", grey.astype(np.uint16) * 257),
        ("RGBA uint16 4x64³", rgba16),
    ):
        rows = measure(png_codecs(chunk), chunk, budget, lossless=True)
        pillow = any(row["codec"] == "Pillow level 6" for row in rows)
        reference = "Pillow level 6" if pillow else "imagecodecs png level 6"
        print_table(f"png, {label}", rows, reference)
    segmentation_table(labels, budget)
    markdown(
        ["target", "measured", "needed"],
        [
            [name, "PSNR not reached" if np.isnan(value) else f"{value:.2f}", needed]
            for name, value, needed in targets
        ],
    )


if __name__ == "__main__":
    main()
