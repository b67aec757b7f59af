"""The test data ships with the tests: every file that data/SHA256SUMS lists is in tests/data,
byte for byte, and no other file is. A missing or changed file fails here (and in the tests that
read it), never skips.
"""

import hashlib
from pathlib import Path

MANIFEST = "SHA256SUMS"


def listed_files(testdata: Path) -> dict[str, str]:
    """Path within the data folder -> SHA-256, as `sha256sum` writes them."""
    lines = (testdata / MANIFEST).read_text().splitlines()
    return {name: digest for digest, name in (line.split(maxsplit=1) for line in lines)}


def test_every_data_file_is_there_and_unchanged(testdata):
    listed = listed_files(testdata)
    present = {
        path.relative_to(testdata).as_posix() for path in testdata.rglob("*") if path.is_file()
    }
    assert sorted(present - {MANIFEST}) == sorted(listed)
    changed = [
        name
        for name, digest in listed.items()
        if hashlib.sha256((testdata / name).read_bytes()).hexdigest() != digest
    ]
    assert not changed, f"changed since {MANIFEST} was written: {changed}"
