"""Shared timing helper of the benchmarks."""

from __future__ import annotations

import time
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
