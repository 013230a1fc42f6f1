"""Executed reports (compatibility module): the code lives in :mod:`cvm_kit.reporting`.

- :mod:`~cvm_kit.reporting.series`: :func:`run_report` (``cvm report``);
- :mod:`~cvm_kit.reporting.batch`: :func:`run_batch` (``cvm batch``), the manifest and file names;
- :mod:`~cvm_kit.reporting.notebooks`: the templates (:func:`notebooks_dir`, :func:`load_template`, ...);
- :mod:`~cvm_kit.reporting.execute`: one notebook job, the kernel guard; :mod:`~cvm_kit.reporting.pool`:
  the process pool, Dask and interrupts; :mod:`~cvm_kit.reporting.export`: the HTML pages.

Every name that was public here (and the private ones tests and :mod:`cvm_kit.warm` use) is
re-exported. Setting a name on this module (``monkeypatch.setattr(runs, "_run_jobs", ...)``) also
sets it in the :mod:`cvm_kit.reporting` modules that use it, so a patch reaches the code it meant to.

Examples
--------
>>> from cvm_kit.runs import run_batch
>>> result = run_batch("tests/data/tiny", ["A1", "B2"], workers=2)   # doctest: +SKIP
>>> print(result.summary())                                           # doctest: +SKIP
"""

from __future__ import annotations

import sys
import types
from typing import Any

from .reporting import batch as _batch
from .reporting import execute as _exec
from .reporting import export as _export
from .reporting import notebooks as _notebooks
from .reporting import pool as _pool
from .reporting import series as _series
from .reporting.batch import (MANIFEST, BatchResult, _customer_keys, _file_stem, _file_stems, _read_manifest,
                              _write_customer_index, _write_manifest, run_batch)
from .reporting.execute import (Job, NotebookRun, Outcome, RunError, RunInterrupted, _end_live_jobs,
                                _error_cell_first, _execute, _execute_here, _kill_kernels, _LIVE, _LIVE_LOCK,
                                _log_tail, _remove, _to_run)
from .reporting.export import _html_body, _readable, _report_copy, _warm_worker, export_html
from .reporting.notebooks import (CUSTOMER_NOTEBOOK, SERIES, TEMPLATE_SUFFIXES, load_template,
                                  notebook_parameters, notebooks_dir, template_path)
from .reporting.pool import ENGINES, _check_engine, _no_interrupts, _pool_context, _run_jobs, _stop_pool
from .reporting.series import (_RUN_PARAMETERS, PACK, _check_parameters, _file_hash, _load, _provenance, _title,
                               run_report)

__all__ = [
    "SERIES", "CUSTOMER_NOTEBOOK", "notebooks_dir", "template_path", "load_template", "notebook_parameters", "run_report",
    "run_batch", "export_html", "NotebookRun", "BatchResult", "RunError", "RunInterrupted", "MANIFEST", "PACK",
    "Job", "Outcome", "ENGINES", "TEMPLATE_SUFFIXES",
]

_IMPLEMENTATIONS = (_exec, _export, _notebooks, _pool, _series, _batch)
_REEXPORTED = (MANIFEST, BatchResult, _customer_keys, _file_stem, _file_stems, _read_manifest, _write_customer_index,
               _write_manifest, _end_live_jobs, _error_cell_first, _execute, _execute_here, _kill_kernels, _LIVE,
               _LIVE_LOCK, _log_tail, _remove, _to_run, _html_body, _readable, _report_copy, _warm_worker,
               _check_engine, _no_interrupts, _pool_context, _stop_pool, _RUN_PARAMETERS, _check_parameters,
               _file_hash, _load, _provenance, _title, _run_jobs)  # used by tests and cvm_kit.warm through this module


class _Compat(types.ModuleType):
    """This module, forwarding attribute assignments to the implementation modules that hold the name."""

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        if not name.startswith("__"):
            for mod in _IMPLEMENTATIONS:
                if name in vars(mod):
                    setattr(mod, name, value)


sys.modules[__name__].__class__ = _Compat
