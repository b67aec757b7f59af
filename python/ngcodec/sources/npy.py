"""NumPy ``.npy`` files, memory-mapped: a slice reads only the pages it touches."""

from __future__ import annotations

from typing import Any

import numpy as np

from ngcodec.sources import InputArray


class NpyInput(InputArray):
    """A ``.npy`` file, (Z, Y, X) or (C, Z, Y, X) unless the caller says otherwise."""

    format = "npy"

    def _open(self) -> Any:
        return np.load(self.path, mmap_mode="r", allow_pickle=False)
