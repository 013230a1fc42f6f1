"""Data-gathering worksheets: one Excel workbook per customer, and reading them back.

The research team hands each customer (or the account manager visiting it) a
workbook listing every input its value word equations need, with the value
already on file, and blank cells to fill: value, source, reliability, note.
Filled workbooks come back through :func:`read_worksheets` (every problem
reported at once, located by file, sheet and cell), :func:`plan_import` (what
would change in ``measurements.csv``) and :func:`apply_import` (writes only
when asked, after keeping the previous file as a dated backup).

Conflicts are never resolved silently:

- two workbooks giving different values for the same customer and phrase are
  always a ``conflict`` (fix or drop one workbook and import again);
- a filled value that differs from the value on file (the mean of the
  customer's rows for that phrase) is a ``conflict`` too, unless the import is
  planned with ``replace=True`` (``cvm import --replace``): it is then
  ``changed`` and replaces *all* the customer's rows for that phrase.

:func:`apply_import` refuses to write while any conflict remains, and writes
under the study's lock (:func:`study_lock`, ``<study>/.cvm.lock``), so two
imports at once never lose a row. Returned workbooks are read streaming, with
caps on their size, rows and cells (:data:`MAX_BYTES`, :data:`MAX_ROWS`,
:data:`MAX_CELLS`); a number cell must hold a finite number.

The package is split by concern: :mod:`.layout` (the sheet's name and
columns), :mod:`.write` (writing workbooks), :mod:`.read` (reading them
back), :mod:`.apply` (the import plan and writing it) and :mod:`.lock` (the
study's write lock). Import the public names from here.
"""

from __future__ import annotations

from ..io import LOCK_FILE
from .apply import (
    ACTIONS,
    PLAN_COLUMNS,
    apply_import,
    check_writable,
    file_sha256,
    import_summary,
    measurements_path,
    plan_import,
    write_import,
)
from .layout import COLUMNS, FILL, HEADER_LABELS, REQUIRED, SHEET
from .lock import LOCK_TIMEOUT, study_lock
from .read import MAX_BYTES, MAX_CELLS, MAX_ROWS, read_worksheets
from .write import safe_stem, text_cell, worksheet_rows, write_worksheets

__all__ = [
    "ACTIONS", "COLUMNS", "FILL", "HEADER_LABELS", "LOCK_FILE", "LOCK_TIMEOUT", "MAX_BYTES", "MAX_CELLS",
    "MAX_ROWS", "PLAN_COLUMNS", "REQUIRED", "SHEET", "apply_import", "check_writable", "file_sha256",
    "import_summary", "measurements_path", "plan_import", "read_worksheets", "safe_stem", "study_lock",
    "text_cell", "worksheet_rows", "write_import", "write_worksheets",
]
