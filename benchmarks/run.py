"""Run the benchmarks: `make bench` (or `python benchmarks/run.py [--only NAME] [--batch]`).

Generates the 5,000-customer x 40-element study once (benchmarks/.data/) and
prints each benchmark's figures. Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))  # the repository root: tools.synthetic


def big_study() -> Path:
    """The shared large synthetic study (written once, reused)."""
    from tools.synthetic import write_random_study

    path = HERE / ".data" / "big_5000x40"
    if not (path / "measurements.csv").exists():
        write_random_study(path, n_customers=5000, n_elements=40, seed=0)
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--only", help="run one benchmark module (foundation, statistics, sobol, inference, batch)")
    ap.add_argument("--batch", action="store_true", help="also run the (slow) notebook batch benchmark")
    args = ap.parse_args()
    names = ["foundation", "statistics", "sobol", "inference"] + (["batch"] if args.batch or args.only == "batch" else [])
    if args.only:
        names = [args.only]
    study = big_study()
    for name in names:
        try:
            mod = importlib.import_module(f"bench_{name}")
        except ModuleNotFoundError:
            print(f"== {name}: not present")
            continue
        print(f"== {name}")
        res = mod.run(study) if name != "batch" else mod.run()
        for k, v in res.items():
            print(f"  {k:<55} {v:>10.3f}" if isinstance(v, float) else f"  {k:<55} {v}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
