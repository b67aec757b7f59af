"""TIFF files: the first series, memory-mapped when it is stored plainly, else decoded by page.

The voxel size comes from ImageJ metadata (the ``XResolution``/``YResolution`` tags, ``spacing``
and ``unit``) or from OME-TIFF metadata (``PhysicalSizeX/Y/Z`` and their units, micrometres unless
stated), when the file has either.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ngcodec.sources import InputArray

OME_DEFAULT_UNIT = "µm"


class TiffInput(InputArray):
    """A TIFF stack; its own axis letters give :attr:`axes`."""

    format = "tiff"

    def _open(self) -> Any:
        import tifffile

        with tifffile.TiffFile(self.path) as tif:
            series = tif.series[0]
            # TIFF axis letters: Z (or I, Q: an unnamed stack) is depth; C and S (samples) are
            # channels. Other layouts (time series, ...) fall back to the default order.
            axes = "".join({"Q": "z", "I": "z", "S": "c"}.get(a, a.lower()) for a in series.axes)
            if sorted(axes) in (sorted("zyx"), sorted("czyx")):
                self.axes = axes
            if tif.is_imagej:
                self._read_imagej_voxel_size(tif)
            elif tif.is_ome:
                self._read_ome_voxel_size(tif.ome_metadata)
            offset = series.dataoffset  # None unless the data is one contiguous, plain run
            if offset is not None:
                return np.memmap(
                    self.path,
                    dtype=series.dtype.newbyteorder(tif.byteorder),
                    mode="r",
                    offset=int(offset),
                    shape=tuple(series.shape),
                )
        # Compressed or tiled: tifffile's zarr store decodes only the pages a slice touches.
        import zarr

        store = tifffile.imread(self.path, aszarr=True)
        self._closer = store
        return zarr.open(store, mode="r")

    def _read_imagej_voxel_size(self, tif: Any) -> None:
        metadata = tif.imagej_metadata or {}
        tags = tif.pages[0].tags
        if "spacing" in metadata and "XResolution" in tags and "YResolution" in tags:
            # The tags hold pixels per unit, as fractions.
            (xn, xd), (yn, yd) = tags["XResolution"].value, tags["YResolution"].value
            if xn and yn:
                sizes = (xd / xn, yd / yn, metadata["spacing"])
                self._set_voxel_size(sizes, metadata.get("unit"), "the ImageJ metadata")

    def _read_ome_voxel_size(self, xml: str | None) -> None:
        import tifffile

        if not xml:
            return
        image = tifffile.xml2dict(xml).get("OME", {}).get("Image", {})
        pixels = (image[0] if isinstance(image, list) else image).get("Pixels", {})
        sizes = [pixels.get(f"PhysicalSize{a}") for a in "XYZ"]
        units = [pixels.get(f"PhysicalSize{a}Unit", OME_DEFAULT_UNIT) for a in "XYZ"]
        if None not in sizes:
            self._set_voxel_size(sizes, units, "the OME-TIFF metadata")
