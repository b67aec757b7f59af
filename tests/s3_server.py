"""A real S3 server for the tests and benchmarks: moto's, in its own process, on 127.0.0.1.

The process keeps its buckets in memory while its HTTP server is stopped and started again, so
that a test can take the server away in the middle of a conversion (connections refused, as when
a server goes down) and bring it back with what it had stored.

Run as a script (``python s3_server.py PORT``), it reads ``stop`` and ``start`` lines on standard
input and answers each, and the first line it prints, with ``ready``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "ngcodec-test",
    "AWS_SECRET_ACCESS_KEY": "ngcodec-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class MotoServer:
    """moto's S3 server in a child process; ``stop()`` and ``start()`` its HTTP server."""

    def __init__(self) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__)), str(self.port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, **CREDENTIALS},
        )
        self._expect_ready()

    def _expect_ready(self) -> None:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError(f"the moto server did not start: {line!r}")

    def _command(self, word: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(word + "\n")
        self.process.stdin.flush()
        self._expect_ready()

    def stop(self) -> None:
        """Take the server away: connections are refused until :meth:`start`."""
        self._command("stop")

    def start(self) -> None:
        """Bring the server back, with every object it held."""
        self._command("start")

    def create_bucket(self, name: str) -> None:
        import boto3

        boto3.client("s3", endpoint_url=self.endpoint, **_boto3_keys()).create_bucket(Bucket=name)

    def close(self) -> None:
        """Stop the server and its process (the end of standard input ends it)."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process.stdout.close()


def _boto3_keys() -> dict[str, str]:
    return {
        "aws_access_key_id": CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        "region_name": CREDENTIALS["AWS_DEFAULT_REGION"],
    }


def s3_client(endpoint: str):  # type: ignore[no-untyped-def]
    """A boto3 client, to look at objects as another S3 user would."""
    import boto3

    return boto3.client("s3", endpoint_url=endpoint, **_boto3_keys())


def _serve(port: int) -> None:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() == "stop":
            server.stop()
        elif line.strip() == "start":
            # The buckets live in this process, not in the HTTP server: a new one serves them.
            server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
            server.start()
        print("ready", flush=True)
    server.stop()


if __name__ == "__main__":
    _serve(int(sys.argv[1]))
