"""The Neuroglancer link of ``ngcodec serve``: every dataset under a folder, as layers."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ngcodec.precomputed.store import LocalStore

__all__ = ["PUBLIC_VIEWER", "Dataset", "find_datasets", "viewer_link", "viewer_state"]

PUBLIC_VIEWER = "https://neuroglancer-demo.appspot.com/"
"""Neuroglancer's public client, for when the neuroglancer package is not installed."""


@dataclass(frozen=True)
class Dataset:
    """A precomputed dataset found under the served folder."""

    path: str
    """Its folder relative to the served one, ``/``-separated (``""`` for the folder itself)."""
    layer_type: str
    """``image`` or ``segmentation``, from its info."""


def find_datasets(root: Path) -> list[Dataset]:
    """The precomputed volumes under ``root``: folders whose ``info`` (or ``info.gz``) is one.

    Dataset folders are not searched further (their scales are inside); hidden folders are
    skipped.
    """
    found = []
    for folder, subfolders, _ in os.walk(root):
        subfolders[:] = sorted(name for name in subfolders if not name.startswith("."))
        data = LocalStore(folder).read("info", max_size=2**24)
        info = _volume_info(data)
        if info is None:
            continue
        subfolders.clear()
        relative = Path(folder).relative_to(root).as_posix()
        layer_type = "segmentation" if info.get("type") == "segmentation" else "image"
        found.append(Dataset("" if relative == "." else relative, layer_type))
    return found


def _volume_info(data: bytes | None) -> dict[str, Any] | None:
    if data is None:
        return None
    try:
        info = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(info, dict) or not isinstance(info.get("scales"), list):
        return None
    return info


def viewer_state(datasets: list[Dataset], base_url: str, root_name: str) -> dict[str, Any]:
    """Neuroglancer's state: one layer per dataset, read from ``base_url``.

    :param root_name: the layer name of a dataset that is the served folder itself
    """
    return {
        "layers": [
            {
                "type": dataset.layer_type,
                "source": f"precomputed://{base_url.rstrip('/')}/{dataset.path}".rstrip("/"),
                "name": dataset.path or root_name,
            }
            for dataset in datasets
        ],
        "layout": "4panel",
    }


def viewer_link(state: dict[str, Any], client_url: str = PUBLIC_VIEWER) -> str:
    """The URL that opens a Neuroglancer client at ``client_url`` in this state."""
    return f"{client_url}#!{quote(json.dumps(state, separators=(',', ':')), safe='')}"
