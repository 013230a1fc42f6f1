"""cvm_kit: a Jupyter-centred workbench for B2B customer value models.

Load a value study, evaluate its value word equations safely, estimate every
element per customer, and build the value summary, statistics, calculators
and reports on top (Anderson & Narus, customer value management).

Examples
--------
>>> import cvm_kit as cvm
>>> study = cvm.load_study(cvm.example_path())
>>> values = cvm.element_values(study)
>>> summary = cvm.summarize(study, values)
"""

from __future__ import annotations

import importlib
import sys
import types
from pathlib import Path
from typing import Any

__version__ = "0.1.0"

# Names load on first use so `import cvm_kit` (and `cvm --help`) stay fast;
# later stages import heavy libraries (statsmodels, matplotlib ...) only then.
_LAZY: dict[str, str] = {
    # study model, loading, validation
    "Study": "study", "Subsegment": "study", "Constant": "study", "Derived": "study", "Element": "study",
    "Charter": "study", "load_study": "study", "save_study": "study",
    "validate": "validate", "ValidationReport": "validate",
    # errors
    "CvmError": "errors", "StudyError": "errors", "Problem": "errors", "AnalysisError": "errors",
    "MissingDependencyError": "errors", "NotFoundError": "errors", "InvalidValueError": "errors",
    # word equations
    "parse": "equations", "Equation": "equations", "EquationError": "equations", "normalize_phrase": "equations",
    # values and estimates
    "element_values": "values", "totals": "values", "evaluate": "values", "environment": "values",
    "price_difference": "values", "measurement_table": "values", "input_coverage": "values",
    "missing_inputs": "values", "subsegment_input_means": "values",
    "summarize": "estimates", "summarize_totals": "estimates", "value_summary": "estimates",
    "assumptions": "estimates", "describe": "estimates",
    "subsegment_value_summary": "estimates",
    "write_tables": "tables",
    # statistics
    "compare_subsegments": "variance", "tornado": "sensitivity", "simulate": "sensitivity",
    "simulation_summary": "sensitivity", "max_premium_at": "sensitivity", "drivers": "segments",
    "best_split": "segments", "segmentation_suggestion": "segments", "rank_customers": "prospects",
    "score_prospects": "prospects",
    # tools for customers and sales
    "write_worksheets": "worksheets", "read_worksheets": "worksheets", "plan_import": "worksheets",
    "apply_import": "worksheets", "write_calculator": "calculator",
    "calculator_inputs": "calculator_widgets", "calculate": "calculator_widgets",
    "waterfall_table": "calculator_widgets", "value_calculator": "calculator_widgets",
    "document_value": "documenter", "value_case_history": "documenter", "delivery_by_element": "documenter",
    "business_case": "business_case", "BusinessCase": "business_case",
    # notebook runs
    "run_report": "runs", "run_batch": "runs",
    # research phase
    "charter_summary": "research", "charter_html": "research", "charter_markdown": "research",
    "hypotheses": "research", "alternatives": "research", "fieldwork_by_subsegment": "research",
    "fieldwork_by_customer": "research", "missing_by_contact": "research",
}


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


def __getattr__(name: str) -> Any:
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'cvm_kit' has no attribute {name!r}")
    return getattr(importlib.import_module(f"cvm_kit.{mod}"), name)


class _Package(types.ModuleType):
    """The package module, keeping a function that shares its name with a submodule.

    Importing ``cvm_kit.validate`` makes Python set the package attribute
    ``validate`` to that submodule, which would hide the function
    ``cvm.validate`` (likewise ``business_case``). Such names keep the
    function; the submodule stays in ``sys.modules`` (``from cvm_kit.validate
    import ...`` works as before).
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if (isinstance(value, types.ModuleType) and _LAZY.get(name) == name
                and value.__name__ == f"{__name__}.{name}" and hasattr(value, name)):
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def example_path(name: str = "pipe_coating") -> Path:
    """Path of a bundled example study.

    An installed wheel's copy (``cvm_kit/_bundled/examples/<name>``, read with
    :mod:`importlib.resources`), else ``data/examples/<name>`` in the checkout
    (editable installs). Treat it as read-only: copy it to experiment.

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> cvm.example_path().name
    'pipe_coating'
    """
    from ._resources import candidates

    looked = candidates("examples", "data/examples")
    for base in looked:
        if (base / name / "project.yaml").exists():
            return base / name
    from .errors import CvmError

    raise CvmError(f"bundled example study {name!r} not found (looked in {' and '.join(str(b) for b in looked)}); "
                   "reinstall cvm_kit")
