"""What the sensitivity analyses share: their options, column lists and the outcome's number format."""

from __future__ import annotations

import numpy as np

from ..errors import CvmError
from ..study import Study

__all__ = ["METHODS", "METHOD_TEXT", "OUTCOMES", "RANGES", "SOBOL_COLUMNS", "TORNADO_COLUMNS", "base_differs",
           "check_subsegment", "fmt_outcome"]

RANGES = ("p10-p90", "sd", "minmax")


OUTCOMES = {"net": "net_value", "differential": "differential_value"}


METHODS = ("bootstrap", "bootstrap_customers", "parametric")


TORNADO_COLUMNS = ["factor", "label", "kind", "unit", "low_input", "base_input", "high_input", "low_value",
                   "base_value", "high_value", "swing", "range_rule", "mean_value", "base_case"]


SOBOL_COLUMNS = ["subsegment", "of", "factor", "S1", "S1_conf", "ST", "ST_conf"]


METHOD_TEXT = {
    "bootstrap": "bootstrap: each element's value (and the price difference) resampled independently from the "
                 "subsegment's customers; assumes the elements vary independently",
    "bootstrap_customers": "bootstrap of whole customers: a draw is one studied customer with all their values "
                           "(keeps the elements' correlation; only as many distinct outcomes as customers)",
    "parametric": "parametric: each element's value (and the price difference) normal with the subsegment's mean "
                  "and sd, elements independent",
}


def check_subsegment(study: Study, subsegment: str | None) -> None:
    """Raise a :class:`CvmError` naming the known ids unless ``subsegment`` is None or one of the study's.

    Parameters
    ----------
    study : Study
    subsegment : str or None
    """
    if subsegment is not None and subsegment not in study.subsegment_ids:
        raise CvmError(f"no subsegment {subsegment!r} in {study.label}; known: {', '.join(study.subsegment_ids)}")


def fmt_outcome(x: float) -> str:
    """A value in the tornado's words: whole currency units from 100 up (``1,138``), else 3 significant digits."""
    from ..variance import fmt_money

    return f"{x:,.0f}" if np.isfinite(x) and abs(x) >= 100 else fmt_money(x)


def base_differs(base: float, mean: float) -> bool:
    """Whether the customers' mean outcome differs from the base case as shown (:func:`fmt_outcome`)."""
    return np.isfinite(mean) and fmt_outcome(base) != fmt_outcome(mean)
