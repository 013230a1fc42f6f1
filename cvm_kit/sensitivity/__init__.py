"""Sensitivity of the value estimate: tornado tables, Sobol indices and Monte Carlo draws.

* :func:`tornado` moves one factor at a time from its low to its high value
  (every other factor at its study mean) and records the outcome (net or
  differential value of a typical customer). Factors are the elements'
  values (``by="element"``) or the bracketed input variables pushed through
  the word equations (``by="variable"``, one vectorised evaluation).
* :func:`sobol_indices` apportions the variance of a customer's value among
  the input variables (first- and total-order Sobol indices, SALib).
* :func:`simulate` draws the net and differential value of a typical
  customer of each subsegment (bootstrap or parametric, seeded) and
  :func:`simulation_summary` turns the draws into percentiles, the chance
  that net value is positive and the largest price premium that keeps that
  chance at or above 80%.

The package is split by concern: :mod:`.common` (options, columns, the
outcome's format), :mod:`.one_at_a_time` (tornado), :mod:`.sobol` and
:mod:`.monte_carlo`. Import the public names from here.
"""

from __future__ import annotations

from .common import (
    METHOD_TEXT,
    METHODS,
    OUTCOMES,
    RANGES,
    SOBOL_COLUMNS,
    TORNADO_COLUMNS,
    base_differs,
    check_subsegment,
    fmt_outcome,
)
from .monte_carlo import max_premium_at, simulate, simulation_summary
from .one_at_a_time import tornado
from .sobol import SOBOL_ASSUMPTION, empirical_ppf, sobol_indices

__all__ = [
    "METHODS", "METHOD_TEXT", "OUTCOMES", "RANGES", "SOBOL_ASSUMPTION", "SOBOL_COLUMNS", "TORNADO_COLUMNS",
    "base_differs", "check_subsegment", "empirical_ppf", "fmt_outcome", "max_premium_at", "simulate",
    "simulation_summary", "sobol_indices", "tornado",
]
