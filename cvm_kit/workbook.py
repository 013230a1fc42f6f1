"""The one-workbook form of a study (sheets mirror the folder's files).

Sheets: ``project`` (key/value; charter keys as ``charter.<key>``, price as
``price``), ``subsegments``, ``constants``, ``derived``, ``elements``,
``customers``, ``measurements`` and optionally ``prospects``, ``fieldwork``,
``realized``. In ``elements``, ``assumptions`` holds one assumption per line,
``status_by_subsegment`` reads ``low_volume: parity; high_volume: difference``
and ``perceived_range`` is split into ``perceived_low``/``perceived_high``.
Study text is always written as text cells, never as formulas.

The reader lives in :mod:`cvm_kit.study.read`, the writer in
:mod:`cvm_kit.study.write`; this module keeps their names importable here.
"""

from __future__ import annotations

from .study.model import ELEMENT_COLUMNS, PROJECT_FILE
from .study.read import read_study_workbook
from .study.write import EXCEL_CELL_LIMIT, write_study_workbook

__all__ = ["read_study_workbook", "write_study_workbook", "PROJECT_FILE", "ELEMENT_COLUMNS", "EXCEL_CELL_LIMIT"]
