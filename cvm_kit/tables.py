"""Write the value tables of a study as CSV files (the main job's output)."""

from __future__ import annotations

from pathlib import Path

from .estimates import assumptions, summarize, summarize_totals, value_summary
from .io import write_csv
from .study import Study
from .values import element_values, measurement_table, missing_inputs, totals


def write_tables(study: Study, folder: str | Path) -> list[Path]:
    """Write values, summary, totals, value summary, assumptions and missing inputs.

    Returns
    -------
    list of Path
        The files written (each whole or not at all).
    """
    folder = Path(folder)
    v = element_values(study)
    s = summarize(study, v)
    t = totals(study, v)
    out = {
        "values.csv": v,
        "summary.csv": s,
        "totals.csv": t,
        "totals_summary.csv": summarize_totals(study, t),
        "value_summary.csv": value_summary(study, s),
        "assumptions.csv": assumptions(study),
        "inputs.csv": measurement_table(study),
        "missing_inputs.csv": missing_inputs(study),
    }
    paths = []
    for name, df in out.items():
        write_csv(df, folder / name)
        paths.append(folder / name)
    return paths
