"""A value study: the model, and reading, checking and writing it.

==========================  ==================================================
module                      holds
==========================  ==================================================
:mod:`~.model`              the frozen dataclasses (:class:`Study`,
                            :class:`Element` ...) and the format's words and
                            file names; imports nothing above the equations
:mod:`~.schema`             the pydantic schema of ``project.yaml``: the one
                            place a field is declared, and its messages
:mod:`~.read`               folder and workbook -> raw form (YAML data and
                            all-text tables), CSV dialect sniffing
:mod:`~.checks`             every check, by file (``checks_project``,
                            ``checks_tables``), collected in one list
:mod:`~.load`               :func:`validate` and :func:`load_study` (adds the
                            input-coverage warnings of the values stage)
:mod:`~.write`              :func:`save_study`, :func:`project_dict`, the
                            workbook writer
==========================  ==================================================

The model loads with the package; the rest loads on first use. Every stage
(values, estimates ...) imports the model, and :mod:`~.load` imports the
values stage: loading them here eagerly would tie the two into a cycle.

Examples
--------
>>> from cvm_kit.study import STATUSES, load_study
>>> STATUSES
('parity', 'difference', 'contention', 'placeholder')
"""

from __future__ import annotations

import importlib
from typing import Any

from .model import (
    ALL,
    CATEGORIES,
    CUSTOMERS_FILE,
    ELEMENT_COLUMNS,
    FIELDWORK_STATUSES,
    FIELDWORK_STEPS,
    MEASUREMENTS_FILE,
    MODEL_SHEETS,
    OPTIONAL_FILES,
    PROJECT_FILE,
    RELIABILITIES,
    SECTIONS,
    SOURCES,
    STATUSES,
    TABLE_SHEETS,
    Charter,
    Constant,
    Derived,
    Element,
    Study,
    Subsegment,
    content_hash,
)

# name -> submodule, imported on first use (see the module docstring)
_LAZY = {
    "load_study": "load", "validate": "load", "ValidationReport": "load", "coverage_warnings": "load",
    "save_study": "write", "project_dict": "write", "write_study_workbook": "write",
    "RawStudy": "read", "read_raw": "read", "read_csv_text": "read", "read_study_workbook": "read",
    "check_study": "checks",
}

__all__ = [
    "ALL", "CATEGORIES", "CUSTOMERS_FILE", "ELEMENT_COLUMNS", "FIELDWORK_STATUSES", "FIELDWORK_STEPS",
    "MEASUREMENTS_FILE", "MODEL_SHEETS", "OPTIONAL_FILES", "PROJECT_FILE", "RELIABILITIES", "SECTIONS", "SOURCES",
    "STATUSES", "TABLE_SHEETS", "Charter", "Constant", "Derived", "Element", "Study", "Subsegment", "content_hash",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'cvm_kit.study' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{mod}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
