"""Statistics benchmark (issue 3) on the 5,000-customer x 40-element study.

Targets: simulate 100,000 draws x 40 elements under 1 s; compare and
segment in a few seconds. Timings are the best of ``repeat`` runs,
in-process, after a warm-up run (imports of scipy/statsmodels excluded).
Run with ``python benchmarks/run.py --only statistics`` or directly:
``python benchmarks/bench_statistics.py [STUDY]``.
"""

from __future__ import annotations

from pathlib import Path

from _timing import best_of, main


def _best(fn, repeat: int = 3) -> float:
    return best_of(fn, repeat, warmup=True)




def run(study_path: Path, repeat: int = 3) -> dict[str, float]:
    """Time each statistics function on the study at ``study_path``.

    Returns
    -------
    dict
        Label -> seconds (and a few sizes).
    """
    from cvm_kit.segments import drivers, segmentation_suggestion
    from cvm_kit.sensitivity import simulate, simulation_summary, tornado
    from cvm_kit.study import load_study
    from cvm_kit.values import element_values, totals
    from cvm_kit.variance import compare_subsegments

    s = load_study(study_path)
    v = element_values(s)
    t = totals(s, v)
    res: dict[str, float] = {}
    res["customers"] = float(len(s.customers))
    res["quantified elements"] = float(sum(e.quantified for e in s.elements))
    res["compare (Welch + 10,000 Monte Carlo permutations, all elements) (s)"] = _best(
        lambda: compare_subsegments(s, v, t), repeat)
    res["compare from the study alone (values computed) (s)"] = _best(lambda: compare_subsegments(s), repeat)
    res["tornado by variable (s)"] = _best(lambda: tornado(s, by="variable"), repeat)
    res["tornado by element (s)"] = _best(lambda: tornado(s, by="element", values=v, totals=t), repeat)
    n_sub = len(s.subsegment_ids)
    res[f"simulate 100,000 draws x {n_sub} subsegments, bootstrap (s)"] = _best(
        lambda: simulate(s, draws=100_000, values=v, totals=t), repeat)
    res[f"simulate 100,000 draws x {n_sub} subsegments, parametric (s)"] = _best(
        lambda: simulate(s, draws=100_000, values=v, totals=t, method="parametric"), repeat)
    res["simulate 100,000 draws, one subsegment, bootstrap (s)"] = _best(
        lambda: simulate(s, draws=100_000, values=v, totals=t, subsegment=s.subsegment_ids[0]), repeat)
    res["simulate from the study alone (values computed) (s)"] = _best(lambda: simulate(s, draws=100_000), repeat)
    d = simulate(s, draws=100_000, values=v, totals=t)
    res["simulation summary (s)"] = _best(lambda: simulation_summary(d), repeat)
    res["segment: drivers (OLS per element x characteristic) (s)"] = _best(lambda: drivers(s, values=v), repeat)
    res["segment: suggestion (best split per target) (s)"] = _best(
        lambda: segmentation_suggestion(s, values=v), repeat)
    return res


if __name__ == "__main__":  # pragma: no cover
    main(run)
