"""Every check of a study, collected into one report of located problems.

:func:`validate` reads a study folder or workbook, checks the model
(``project.yaml``), the tables and how they fit together, and returns a
:class:`ValidationReport` listing *every* problem at once, each naming the
file, the row/column or YAML key, the offending text and what was expected.
Errors make the study unusable; warnings are normal in fieldwork (a customer
still missing inputs, a measured variable no equation uses).

The code lives in :mod:`cvm_kit.study` (``schema``, ``read``, ``checks``,
``load``); this module keeps the names importable here, and ``cvm.validate``
stays the function.
"""

from __future__ import annotations

from .study.cells import MISSING_MARKERS, map_unique
from .study.load import ValidationReport, coverage_warnings, validate
from .study.read import RawStudy, read_csv_text, read_raw
from .study.schema import KNOWN_KEYS

_KNOWN_KEYS = KNOWN_KEYS  # the name tests and scripts used before the move

__all__ = ["validate", "ValidationReport", "RawStudy", "read_raw", "read_csv_text", "map_unique", "MISSING_MARKERS",
           "KNOWN_KEYS", "coverage_warnings"]
