"""NIfTI-1 and NIfTI-2 files (``.nii``, ``.nii.gz``), read through nibabel.

NIfTI indexes voxels (i, j, k) with i fastest, which is (x, y, z): :attr:`axes` is ``xyz``, or
``xyzc`` when a fourth dimension holds channels (a fifth, with one time point, too), as
neuroglancer-scripts' ``volume-to-precomputed`` reads them. The voxel size is the length of the
affine's columns (the pixdim when there is no rotation), as neuroglancer-scripts takes it, in the
unit of the header's ``xyzt_units``: metres, millimetres or micrometres, and millimetres when unset
(neuroglancer-scripts always assumes millimetres). Scaled data (``scl_slope``) reads as nibabel
scales it. The affine's translation and rotation are not part of a precomputed volume and are left
out.
"""

from __future__ import annotations

from typing import Any

from ngcodec.sources import InputArray

UNSET_UNIT = "mm"


class NiftiInput(InputArray):
    """A NIfTI image, indexed (x, y, z)."""

    format = "nifti"

    def _open(self) -> Any:
        import nibabel

        # A file handle kept open makes successive reads of a .nii.gz seek forward instead of
        # decompressing from the start each time.
        image: Any = nibabel.load(self.path, keep_file_open=True)
        proxy = image.dataobj
        # The data type after nibabel's scaling is that of a value read, as neuroglancer-scripts
        # finds it.
        array = ScaledProxy(proxy, proxy[(0,) * len(proxy.shape)].dtype)
        unit = image.header.get_xyzt_units()[0]
        unit = UNSET_UNIT if unit == "unknown" else unit
        self._set_voxel_size(
            nibabel.affines.voxel_sizes(image.affine)[:3], unit, "the NIfTI header"
        )
        return self._with_axes(array, {3: "xyz", 4: "xyzc", 5: "xyztc"}.get(len(proxy.shape)))


class ScaledProxy:
    """nibabel's array proxy with the data type its reads return."""

    def __init__(self, proxy: Any, dtype: Any) -> None:
        self.proxy = proxy
        self.shape = proxy.shape
        self.dtype = dtype

    def __getitem__(self, key: Any) -> Any:
        return self.proxy[key]
