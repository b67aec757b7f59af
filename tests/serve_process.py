"""``ngcodec serve`` in its own process, for the tests that talk to it over HTTP."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path


class Served:
    """``ngcodec serve DIR`` in its own process; its base URL and the link it printed."""

    def __init__(self, root: Path, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ngcodec", "serve", str(root), "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.lines = []
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))
            if "#!" in line:
                break
        match = re.match(r"Serving .* at (http://\S+)/ ", self.lines[0])
        assert match, self.lines
        self.url = match.group(1)
        self.link = self.lines[-1]

    def close(self) -> str:
        self.process.terminate()
        _, err = self.process.communicate(timeout=30)
        assert self.process.stdout is not None
        self.process.stdout.close()
        return err
