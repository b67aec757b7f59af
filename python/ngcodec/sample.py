"""A synthetic segmentation and a matching grey image, made with NumPy alone in well under a second.

The segmentation is a Voronoi tiling of jittered seeds (cell bodies) crossed by a few tubes
(neurites), with one-voxel boundaries of label 0 between objects; the image gives every object its
own grey level, draws the boundaries dark, and adds noise. It is what ``ngcodec convert --sample``
writes, so that the first command of the README does real work offline.
"""

from __future__ import annotations

import numpy as np

__all__ = ["SAMPLE_RESOLUTION", "SAMPLE_SIZE", "make_sample"]

SAMPLE_SIZE = (250, 220, 100)
"""The sample's extent (X, Y, Z): not multiples of 64, so the edge chunks are truncated."""

SAMPLE_RESOLUTION = (8, 8, 8)
"""The sample's voxel size (X, Y, Z) in nanometres."""


def make_sample(
    size: tuple[int, int, int] = SAMPLE_SIZE, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """A synthetic (segmentation, image) pair of (Z, Y, X) arrays: uint32 labels and uint8 grey.

    :param size: the extent (X, Y, Z)
    :param seed: the random seed; the same seed gives the same volumes
    """
    rng = np.random.default_rng(seed)
    sx, sy, sz = size
    # Objects are drawn at half resolution, then upsampled: boundaries stay smooth enough to look
    # like cells and the work is an eighth.
    half = (-(-sz // 2), -(-sy // 2), -(-sx // 2))
    coarse = _voronoi_cells(half, spacing=14, rng=rng)
    _draw_tubes(coarse, count=8, rng=rng, first_label=int(coarse.max()) + 1)
    labels = coarse.repeat(2, 0).repeat(2, 1).repeat(2, 2)[:sz, :sy, :sx]

    boundary = np.zeros(labels.shape, bool)
    for axis in range(3):
        differs = np.diff(labels, axis=axis) != 0
        index = [slice(None)] * 3
        index[axis] = slice(1, None)
        boundary[tuple(index)] |= differs

    # Object ids as real segmentations have them: large, sparse and unordered.
    count = int(labels.max()) + 1
    ids = rng.permutation(np.unique(rng.integers(1, 2**32, size=2 * count + 16, dtype=np.uint32)))
    ids = ids[:count]
    segmentation = ids.astype(np.uint32)[labels]
    segmentation[boundary] = 0

    grey_levels = rng.integers(110, 220, size=ids.size).astype(np.float32)
    image = grey_levels[labels]
    image[boundary] = 40
    image += rng.normal(0, 10, size=image.shape).astype(np.float32)
    return segmentation, np.clip(image, 0, 255).astype(np.uint8)


def _voronoi_cells(
    shape: tuple[int, int, int], spacing: int, rng: np.random.Generator
) -> np.ndarray:
    """Labels 0..n-1 of the nearest of jittered seeds, one per cell of a grid of this spacing."""
    grid = tuple(-(-n // spacing) for n in shape)
    seeds = (
        np.indices(grid).reshape(3, -1).T + rng.uniform(0.1, 0.9, (np.prod(grid), 3))
    ) * spacing
    best = np.full(shape, np.inf, np.float32)
    labels = np.zeros(shape, np.int32)
    z, y, x = (np.arange(n, dtype=np.float32) for n in shape)
    # Every voxel's nearest seed is in its own grid cell or a neighbouring one: visit each seed's
    # neighbourhood only.
    for label, (cz, cy, cx) in enumerate(seeds):
        lo = [max(0, int(c) - 2 * spacing) for c in (cz, cy, cx)]
        hi = [min(n, int(c) + 2 * spacing) for c, n in zip((cz, cy, cx), shape, strict=True)]
        window = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
        distance = (
            (z[window[0], None, None] - cz) ** 2
            + (y[None, window[1], None] - cy) ** 2
            + (x[None, None, window[2]] - cx) ** 2
        )
        closer = distance < best[window]
        best[window][closer] = distance[closer]
        labels[window][closer] = label
    return labels


def _draw_tubes(labels: np.ndarray, count: int, rng: np.random.Generator, first_label: int) -> None:
    """Draw straight tubes of random radius across the volume, each with a new label."""
    shape = np.array(labels.shape, np.float64)
    z, y, x = np.indices(labels.shape, dtype=np.float32)
    for n in range(count):
        start = rng.uniform(0, 1, 3) * shape
        direction = rng.normal(size=3)
        direction /= np.linalg.norm(direction)
        radius = rng.uniform(2.5, 5.0)
        dz, dy, dx = z - start[0], y - start[1], x - start[2]
        along = dz * direction[0] + dy * direction[1] + dx * direction[2]
        across = dz**2 + dy**2 + dx**2 - along**2
        labels[across < radius**2] = first_label + n
