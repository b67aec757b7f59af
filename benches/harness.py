"""What every benchmark here shares: interleaved timing, result rows, markdown tables, the
machine's description. Run the benchmarks as scripts (``python benches/bench.py``)."""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import PIL

MB = 1e6
DEFAULT_DATA = Path(__file__).resolve().parents[1] / "tests" / "data"


@dataclass
class Row:
    """One line of a result table: MB/s per implementation, in the order of `columns`."""

    label: str
    mbps: dict[str, float] = field(default_factory=dict)


def calibrate(run: Callable[[], object], min_seconds: float) -> int:
    """Number of calls that make one sample last at least `min_seconds` (after a warm-up call)."""
    run()
    start = time.perf_counter()
    run()
    once = max(time.perf_counter() - start, 1e-7)
    return max(1, int(min_seconds / once + 0.999))


def interleaved(
    candidates: dict[str, Callable[[], object]],
    nbytes: int,
    rounds: int,
    min_seconds: float,
    rounds_for: dict[str, int] | None = None,
) -> dict[str, float]:
    """MB/s of each candidate: the median over `rounds` of one sample each, taken in turn."""
    loops = {name: calibrate(run, min_seconds) for name, run in candidates.items()}
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    for round_index in range(rounds):
        for name, run in candidates.items():
            if rounds_for and round_index >= rounds_for.get(name, rounds):
                continue
            start = time.perf_counter()
            for _ in range(loops[name]):
                run()
            elapsed = time.perf_counter() - start
            samples[name].append(nbytes * loops[name] / elapsed / MB)
    return {name: statistics.median(values) for name, values in samples.items()}


def table(title: str, rows: list[Row], reference: str = "ngcodec") -> str:
    """A markdown table of MB/s, with ngcodec's ratio to each other column."""
    columns = list(rows[0].mbps)
    others = [c for c in columns if c != reference]
    header = [title, *(f"{c} MB/s" for c in columns), *(f"x{c}" for c in others)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [row.label]
        cells += [f"{row.mbps[c]:,.0f}" if c in row.mbps else "—" for c in columns]
        cells += [
            f"{row.mbps[reference] / row.mbps[c]:.2f}" if c in row.mbps else "—" for c in others
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def ratio(row: Row, numerator: str, denominator: str) -> float:
    return row.mbps[numerator] / row.mbps[denominator]


def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{model}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"NumPy {np.__version__}, Pillow {PIL.__version__}, load average {load}"
    )
