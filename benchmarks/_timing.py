"""Shared timing helper of the benchmarks."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable


def best_of(fn: Callable[[], object], repeat: int = 3, *, warmup: bool = False) -> float:
    """Best wall-clock seconds of ``repeat`` calls (after one untimed call if ``warmup``)."""
    if warmup:
        fn()  # imports, caches
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main(run: Callable[[Path], dict[str, float]], width: int = 70) -> None:
    """Run one benchmark module alone: on the study named on the command line, else the big benchmark study."""
    import sys

    if len(sys.argv) > 1:
        path = Path(sys.argv[1])
    else:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from run import big_study

        path = big_study()
    for k, val in run(path).items():
        print(f"  {k:<{width}} {val:>10.3f}")
