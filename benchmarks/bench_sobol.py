"""Sobol global sensitivity benchmark (issue 15.5) on the 5,000-customer x 40-element study.

Target: Sobol indices of net value over every input variable of the 40
elements (about 115 varying inputs per subsegment), 2^12 base samples,
with 100 bootstrap resamples for the intervals, under 2 s. Timings are the
best of ``repeat`` runs, in-process, after a warm-up run (imports of SALib
and scipy excluded). Run with ``python benchmarks/run.py --only sobol`` or
directly: ``python benchmarks/bench_sobol.py [STUDY]``.
"""

from __future__ import annotations

from pathlib import Path

from _timing import best_of, main


def run(study_path: Path, repeat: int = 3) -> dict[str, float]:
    """Time :func:`cvm_kit.sensitivity.sobol_indices` on the study at ``study_path``.

    Returns
    -------
    dict
        Label -> seconds (and a few sizes).
    """
    from cvm_kit.sensitivity import sobol_indices
    from cvm_kit.study import load_study

    s = load_study(study_path)
    sub = s.subsegment_ids[0]
    res: dict[str, float] = {}
    res["quantified elements"] = float(sum(e.quantified for e in s.elements))
    one = sobol_indices(s, samples=4096, subsegment=sub)
    res[f"varying inputs in {sub}"] = float(len(one))
    res[f"model evaluations in {sub} (N x (D + 2))"] = float(4096 * (len(one) + 2))
    res[f"sobol, net value, 2^12 base samples, one subsegment ({sub}) (s)"] = best_of(
        lambda: sobol_indices(s, samples=4096, subsegment=sub), repeat, warmup=True)
    res[f"sobol, net value, 2^12 base samples, all {len(s.subsegment_ids)} subsegments (s)"] = best_of(
        lambda: sobol_indices(s, samples=4096), repeat, warmup=True)
    res["sobol, differential value, 2^12 base samples, all subsegments (s)"] = best_of(
        lambda: sobol_indices(s, samples=4096, of="differential"), repeat, warmup=True)
    return res


if __name__ == "__main__":  # pragma: no cover
    main(run)
