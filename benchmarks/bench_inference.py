"""Inference benchmark (issue 15) on the 5,000-customer x 40-element study.

Target: `cvm plan` on 5,000 customers x 40 elements under 1 s. Timed both
end to end (a fresh interpreter: imports, load + validate, values, plan,
CSV) and in-process (the plan itself on values already computed, and from
the study alone). Also the hypotheses table, the shrinkage table and the
opt-in bootstrap of `cvm summary --bootstrap`, for the record.
Run with ``python benchmarks/run.py --only inference``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from _timing import best_of, main


def run(study_path: Path, repeat: int = 3) -> dict[str, float]:
    """Time each inference function on the study at ``study_path``."""
    from cvm_kit.estimates import summarize
    from cvm_kit.hypothesis_tests import check_hypotheses, measured_values
    from cvm_kit.planning import plan
    from cvm_kit.shrinkage import shrink
    from cvm_kit.study import load_study
    from cvm_kit.values import element_values, totals

    out = study_path.parent / "plan.csv"
    cmd = [sys.executable, "-c", "from cvm_kit.cli import main; raise SystemExit(main())", "plan", str(study_path),
           "-o", str(out)]
    res: dict[str, float] = {}
    res["cvm plan, end to end (s)"] = best_of(lambda: subprocess.run(cmd, check=True, capture_output=True), repeat)
    s = load_study(study_path)
    res["load + validate (s)"] = best_of(lambda: load_study(study_path), repeat)
    v = element_values(s)
    t = totals(s, v)
    res["plan (40 elements + net value x 2 subsegments, 2,000 simulated studies each) (s)"] = best_of(
        lambda: plan(s, values=v, totals=t), repeat, warmup=True)
    res["plan from the loaded study (values computed) (s)"] = best_of(lambda: plan(s), repeat, warmup=True)
    m = measured_values(s)
    res["hypotheses (TOST + t per element x subsegment) (s)"] = best_of(
        lambda: check_hypotheses(s, margin=1000.0, measured=m), repeat, warmup=True)
    res["shrinkage (s)"] = best_of(lambda: shrink(s, v, t), repeat, warmup=True)
    res["summary with BCa bootstrap, 999 resamples (s)"] = best_of(
        lambda: summarize(s, v, bootstrap=True, n_resamples=999), 1, warmup=False)
    return res


if __name__ == "__main__":  # pragma: no cover
    main(run, width=80)
