"""Benchmark: the warm-kernel engine against the cold engine and a shell loop of the papermill CLI (issue 14).

One run each, on the synthetic study of ``bench_batch.py`` (40 customers,
``write_random_study(n_customers=40, n_elements=6, seed=0)``), each in a fresh
Python process as ``cvm batch`` runs it:

1. **papermill loop**: a shell loop of the ``papermill`` CLI, one customer
   after the other, notebooks only (no HTML);
2. **cold**: ``run_batch(..., engine="papermill")`` with 2 workers (notebook
   and HTML per customer, a fresh kernel per notebook);
3. **warm**: ``run_batch(..., engine="warm")`` with 2 workers (notebook and
   HTML per customer, one kernel per worker, forked from the run's zygote,
   reset between customers), then the same with ``CVM_ZYGOTE=0`` (each
   kernel started on its own, as before the zygote);
4. **cvm report**: the whole series on the bundled example, wall time of the
   command, warm then cold.

Targets (issue 14): warm at most 0.3 s per customer amortised over the batch,
at least 4x faster than cold and at least 10x faster than the papermill loop;
``cvm report`` (warm) under 4 s wall. Not a test: nothing asserts a time. The
machine's load (``os.getloadavg``) is printed before and after each run: on a
shared machine the figures move with it.

Usage::

    python benchmarks/bench_warm.py [--customers 40] [--workers 2] [--skip-plain] [--json out.json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_batch import _RUNNER, VENV_BIN, _batch, _plain, _study


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.1f} (5 min {five:.1f}) on {os.cpu_count()} CPUs"


def _report(study: str, out: Path, engine: str) -> tuple[float, str]:
    """Wall time of one ``cvm report``, and where it went: when the first notebook started, how long they ran."""
    cmd = [str(VENV_BIN / "cvm"), "report", study, "--out", str(out), "--engine", engine]
    start = time.time()
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if p.returncode:
        raise RuntimeError(f"cvm report failed:\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}")
    from datetime import datetime

    spans = []
    for nb in out.glob("*.ipynb"):
        meta = json.loads(nb.read_text(encoding="utf-8"))["metadata"].get("papermill", {})
        with contextlib.suppress(KeyError, TypeError, ValueError):
            spans.append((datetime.fromisoformat(meta["start_time"]).timestamp() - start,
                          datetime.fromisoformat(meta["end_time"]).timestamp() - start, float(meta["duration"])))
    if not spans:
        return wall, ""
    first, last = min(a for a, _, _ in spans), max(b for _, b, _ in spans)
    return wall, (f"first notebook started at {first:.1f} s, the {len(spans)} notebooks ran until {last:.1f} s "
                  f"({sum(d for _, _, d in spans):.1f} s of notebook time)")


def run(_big_study: Path | None = None, *, customers: int = 40, workers: int = 2, plain: bool = True,
        keep: bool = False) -> dict:
    """Every measurement, printed as it is made; the figures (``benchmarks/run.py --only warm`` calls this)."""
    from cvm_kit import example_path
    from cvm_kit.study import load_study

    base = Path(tempfile.mkdtemp(prefix="bench_warm."))
    fig: dict = {"cpus": os.cpu_count(), "workers": workers}
    try:
        study = _study(base, customers)
        ids = [str(c) for c in load_study(study).customers["customer_id"]][:customers]
        n = fig["customers"] = len(ids)
        runner = base / "runner.py"
        runner.write_text(_RUNNER)
        print(f"study {study}: {n} customers, {workers} workers", flush=True)

        if plain:
            before = _load()
            t = _plain(study, ids, base / "plain")
            fig.update(plain_s=t, plain_per_customer_s=t / n, plain_load=os.getloadavg()[0])
            print(f"papermill CLI loop: {t:.1f} s ({t / n:.2f} s per customer)  [{before} -> {_load()}]",
                  flush=True)
        common = {"study": study, "customers": ids, "workers": workers, "force": True, "progress": False}
        for key, engine in (("cold", "papermill"), ("warm", "warm"), ("warm_own", "warm")):
            before = _load()
            # warm_own: the warm engine with each kernel started on its own (no zygote), to show what it saves
            os.environ["CVM_ZYGOTE"] = "0" if key == "warm_own" else "1"
            try:
                wall, r = _batch(runner, out_dir=base / key, engine=engine, **common)
            finally:
                os.environ.pop("CVM_ZYGOTE", None)
            if r["failed"]:
                raise RuntimeError(f"{key}: {r['summary']}")
            fig.update({f"{key}_s": wall, f"{key}_per_customer_s": wall / n, f"{key}_load": os.getloadavg()[0],
                        f"{key}_worker_mean_s": sum(r["worker_s"]) / n})
            label = f"{key} engine (run_batch engine={engine!r}{', CVM_ZYGOTE=0' if key == 'warm_own' else ''})"
            print(f"{label}: {wall:.1f} s ({wall / n:.3f} s per customer, "
                  f"{sum(r['worker_s']) / n:.3f} s per notebook in a worker)  [{before} -> {_load()}]", flush=True)
        example = str(example_path())
        for key, engine in (("warm", "warm"), ("warm_own", "warm"), ("papermill", "papermill")):
            before = _load()
            os.environ["CVM_ZYGOTE"] = "0" if key == "warm_own" else "1"
            try:
                wall, where = _report(example, base / f"report-{key}", engine)
            finally:
                os.environ.pop("CVM_ZYGOTE", None)
            fig[f"report_{key}_s"] = wall
            print(f"cvm report (whole series, example study, --engine {engine}"
                  f"{', CVM_ZYGOTE=0' if key == 'warm_own' else ''}): {wall:.1f} s wall; {where}  "
                  f"[{before} -> {_load()}]", flush=True)

        fig["warm_vs_cold"] = fig["cold_s"] / fig["warm_s"]
        line = (f"warm: {fig['warm_per_customer_s']:.3f} s per customer (target <= 0.3); "
                f"{fig['warm_vs_cold']:.1f}x faster than cold (target >= 4x)")
        if "plain_s" in fig:
            fig["warm_vs_plain"] = fig["plain_s"] / fig["warm_s"]
            line += f"; {fig['warm_vs_plain']:.1f}x faster than the papermill loop (target >= 10x)"
        print(line + f"; cvm report {fig['report_warm_s']:.1f} s (target < 4 s)")
        return fig
    finally:
        if keep:
            print(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--customers", type=int, default=40)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--skip-plain", action="store_true", help="leave out the papermill loop (the slowest run)")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    ap.add_argument("--keep", action="store_true", help="keep the working folder")
    args = ap.parse_args(argv)
    fig = run(customers=args.customers, workers=args.workers, plain=not args.skip_plain, keep=args.keep)
    if args.json:
        args.json.write_text(json.dumps(fig, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
