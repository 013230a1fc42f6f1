"""Element values per customer, the price difference and the totals.

Each word equation was compiled once when the study loaded; here it is
evaluated vectorised over all customers at once (one numpy operation per
node of the equation), never in a Python loop per customer.

Inputs resolve in this order: a customer's own measurement (repeated rows are
averaged), else a constant of that name, else a derived quantity; a customer
lacking an input gets a missing value (NaN) for every element that needs it,
reported by phrase, never a silent 0.

The package is split by concern: :mod:`.phrases` (which phrases the
equations use, their display forms, who needs each input),
:mod:`.inputs` (measurements aggregated, the resolved inputs
:class:`Environment`), :mod:`.elements` (element values, price difference,
totals, what-if evaluation), :mod:`.coverage` (inputs on file and missing)
and :mod:`.scenarios` (conservative / base / optimistic inputs). Import the
public names from here.
"""

from __future__ import annotations

from .coverage import coverage_counts, input_coverage, missing_inputs, require_customer
from .elements import (
    NOT_COMPUTABLE,
    TOTAL_COLUMNS,
    element_arrays,
    element_values,
    evaluate,
    missing_text,
    price_arrays,
    price_difference,
    totals,
)
from .inputs import (
    Environment,
    environment,
    finite_or_nan,
    inherit_reasons,
    measurement_table,
    own_figures,
    subsegment_input_means,
    weakest_rank,
    what_if_environment,
)
from .phrases import (
    QUANTIFIED,
    SOURCE_RANK,
    constants_map,
    customer_phrases,
    display_names,
    input_phrases,
    leaf_phrases,
    needed_for,
    phrase_users,
    study_equations,
)
from .scenarios import (
    DEFAULT_SCENARIO_PERCENTILES,
    MIN_SCENARIO_CUSTOMERS,
    OWN_BAND,
    SCENARIO_COLUMNS,
    SCENARIOS,
    input_scenarios,
    own_scenarios,
    scenario_percentiles,
)

__all__ = [
    "DEFAULT_SCENARIO_PERCENTILES", "MIN_SCENARIO_CUSTOMERS", "NOT_COMPUTABLE", "OWN_BAND", "QUANTIFIED", "SCENARIOS",
    "SCENARIO_COLUMNS", "SOURCE_RANK", "TOTAL_COLUMNS", "Environment", "constants_map", "customer_phrases",
    "display_names", "element_arrays", "element_values", "environment", "evaluate", "finite_or_nan",
    "coverage_counts", "inherit_reasons", "input_coverage", "input_phrases", "input_scenarios", "leaf_phrases",
    "own_figures", "own_scenarios", "measurement_table",
    "missing_inputs", "missing_text", "needed_for", "phrase_users", "price_arrays", "price_difference",
    "require_customer", "scenario_percentiles", "study_equations", "subsegment_input_means", "totals",
    "weakest_rank", "what_if_environment",
]
