"""Thread pools for chunk work: the codecs release the GIL, so threads encode and decode in
parallel. Shared by the volume and pipeline layers."""

from __future__ import annotations

import concurrent.futures
import os
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

__all__ = ["job_count", "map_all", "run_all", "wait_all"]

T = TypeVar("T")
R = TypeVar("R")


def job_count(jobs: int | None) -> int:
    """The number of threads to use: ``jobs`` checked, or one per CPU this process may use."""
    if jobs is None:
        return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a positive integer, got {jobs!r}")
    return jobs


def run_all(function: Callable[[T], Any], items: Iterable[T], jobs: int | None) -> None:
    """Call function on every item, in a thread pool when jobs > 1; re-raise the first error."""
    jobs = job_count(jobs)
    if jobs == 1:
        for item in items:
            function(item)
        return
    with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        wait_all([pool.submit(function, item) for item in items])


def map_all(function: Callable[[T], R], items: Iterable[T], jobs: int | None) -> list[R]:
    """function of every item, in order, in a thread pool when jobs > 1; re-raises the first
    error."""
    jobs = job_count(jobs)
    if jobs == 1:
        return [function(item) for item in items]
    with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        futures = [pool.submit(function, item) for item in items]
        wait_all(futures)
    return [future.result() for future in futures]


def wait_all(futures: Sequence[concurrent.futures.Future[Any]]) -> None:
    """Wait for every future; on the first error, cancel the rest and re-raise it."""
    done, pending = concurrent.futures.wait(futures, return_when=concurrent.futures.FIRST_EXCEPTION)
    for future in done:
        if future.exception() is not None:
            for other in pending:
                other.cancel()
            concurrent.futures.wait(pending)
            raise future.exception()  # type: ignore[misc]
