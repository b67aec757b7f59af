"""``ngcodec serve``: datasets over HTTP as Neuroglancer reads them, and a link that opens them.

:mod:`~ngcodec.serve.app` is the server (gzip, ranges, CORS, Neuroglancer's own client);
:mod:`~ngcodec.serve.viewer` finds the datasets and makes the viewer's state and link.
"""

from ngcodec.serve.app import make_app, neuroglancer_client
from ngcodec.serve.viewer import Dataset, find_datasets, viewer_link, viewer_state

__all__ = [
    "Dataset",
    "find_datasets",
    "make_app",
    "neuroglancer_client",
    "viewer_link",
    "viewer_state",
]
