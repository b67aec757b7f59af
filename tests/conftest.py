"""Shared fixtures: the real data and golden encodings of tests/data (see its README)."""

import gzip
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import ngcodec

# Part of the repository: a test that needs a file fails, never skips, when it is missing.
TESTDATA = Path(__file__).resolve().parent / "data"


def pytest_report_header() -> str:
    # Shows whether the run tests an installed wheel (site-packages) or a development build.
    return f"ngcodec {ngcodec.__version__} from {Path(ngcodec.__file__).parent}"


@pytest.fixture(scope="session")
def testdata() -> Path:
    """The test data folder (tests/data)."""
    return TESTDATA


@pytest.fixture(scope="session")
def ended_writer() -> str:
    """The writer tag ("<pid>@<host digest>") of a process of this host that has ended: the
    name its temporary files would carry had it been killed while writing."""
    from ngcodec.precomputed.store.local import _writer_tag

    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], check=True, capture_output=True
    )
    return f"{int(ended.stdout)}@{_writer_tag().partition('@')[2]}"


def read_xyz(path: Path, dtype: str, shape_xyz: tuple[int, int, int]) -> np.ndarray:
    """A raw little-endian [x, y, z] Fortran-order volume, as a (Z, Y, X) C-order view."""
    return np.fromfile(path, dtype=dtype).reshape(shape_xyz, order="F").T


@pytest.fixture(scope="session")
def fib25(testdata: Path) -> np.ndarray:
    """The FIB-25 64³ uint64 cube, (Z, Y, X)."""
    return read_xyz(testdata / "ng_fib25_64x64x64_uint64_F.dat", "<u8", (64, 64, 64))


@pytest.fixture(scope="session")
def pinky40_64(testdata: Path) -> np.ndarray:
    """The pinky40 64³ uint32 crop, (Z, Y, X)."""
    return read_xyz(testdata / "pinky40_crop192_64cube_uint32_F.dat", "<u4", (64, 64, 64))


@pytest.fixture(scope="session")
def pinky40_512(testdata: Path) -> np.ndarray:
    """The whole 512³ uint32 pinky40 volume, (Z, Y, X); needs crackle-codec."""
    crackle = pytest.importorskip("crackle")
    volume = crackle.decompress(
        gzip.decompress((testdata / "cc3d_connectomics_512cube.npy.ckl.gz").read_bytes())
    )
    return np.asarray(volume).T


@pytest.fixture(scope="session")
def s3_server():
    """A real S3 server (moto's, in its own process) on 127.0.0.1, with test credentials in the
    environment of this process; ``stop()`` and ``start()`` take it away and bring it back."""
    pytest.importorskip("moto.server")
    pytest.importorskip("obstore")
    from s3_server import CREDENTIALS, MotoServer

    saved = {name: os.environ.get(name) for name in CREDENTIALS}
    os.environ.update(CREDENTIALS)
    server = MotoServer()
    yield server
    server.close()
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture
def s3_bucket(s3_server, request) -> str:
    """A new, empty bucket on the S3 server; its name."""
    import uuid

    name = f"test-{uuid.uuid4().hex[:12]}"
    s3_server.create_bucket(name)
    return name
