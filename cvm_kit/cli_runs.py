"""``cvm report`` and ``cvm batch``: the executed notebook reports (see :mod:`cvm_kit.runs`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .cli_common import example_path, study_argument


def _param_value(text: str) -> Any:
    """``-p name value``: numbers and true/false become numbers and booleans, the rest stays text."""
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _parameters(pairs: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    return {k: _param_value(v) for k, v in pairs}


_PARAM = click.option("-p", "--parameter", "parameters", type=(str, str), multiple=True, metavar="NAME VALUE",
                      help="A notebook parameter (repeatable), e.g. -p draws 20000.")
_TIMEOUT = click.option("--timeout", type=click.FloatRange(min=1), default=600.0, show_default=True,
                        help="Seconds allowed per notebook (per cell and in total).")
_KERNEL = click.option("--kernel", "kernel_name", default=None, help="Jupyter kernel name (default python3).")


def register(group: click.Group) -> None:
    """Add ``report`` and ``batch`` to the ``cvm`` command group."""

    @group.command()
    @study_argument
    @click.option("--out", "out", type=click.Path(path_type=Path), default=None,
                  help="Report folder (default: reports/<study>).")
    @click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True,
                  help="Notebooks executed at once.")
    @_TIMEOUT
    @_PARAM
    @_KERNEL
    def report(study: Path | None, out: Path | None, workers: int, timeout: float,
               parameters: tuple[tuple[str, str], ...], kernel_name: str | None) -> None:
        """Execute the notebook series on STUDY and write the HTML report for management.

        Each notebook (data gathering, estimates, subsegment variance,
        sensitivity, drivers and prospects) is executed with papermill, then
        written as HTML without code, with an index.html recording the study's
        content hash, the cvm_kit version, the parameters and the date. A failed
        notebook leaves the previous report in place; the failed notebook is
        kept in <out>.failed/ with its error cell, and the command exits 1.
        """
        from .runs import RunError, run_report

        path = study if study is not None else example_path()
        try:
            index = run_report(path, out, parameters=_parameters(parameters), kernel_name=kernel_name,
                               workers=workers, timeout=timeout, progress=True)
        except RunError as exc:
            click.echo(str(exc), err=True)
            raise SystemExit(1) from None
        click.echo(f"wrote {index}")

    @group.command()
    @study_argument
    @click.option("--customers", "customers", multiple=True, metavar="ID",
                  help="Customer id (repeatable; default every customer of the study).")
    @click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True,
                  help="Worker processes.")
    @_TIMEOUT
    @click.option("--force", is_flag=True, help="Re-run customers whose inputs and template are unchanged.")
    @click.option("--scheduler", default=None, metavar="ADDRESS",
                  help="Run on a Dask distributed scheduler, e.g. tcp://10.0.0.5:8786 (needs cvm_kit[dask]).")
    @click.option("--out", "out", type=click.Path(path_type=Path), default=None,
                  help="Folder for the customer reports (default: reports/<study>/customers).")
    @_PARAM
    @_KERNEL
    @click.option("--no-progress", is_flag=True, help="No progress bar.")
    def batch(study: Path | None, customers: tuple[str, ...], workers: int, timeout: float, force: bool,
              scheduler: str | None, out: Path | None, parameters: tuple[tuple[str, str], ...],
              kernel_name: str | None, no_progress: bool) -> None:
        """Execute the per-customer value report for each customer of STUDY, in parallel.

        One executed notebook and one HTML page per customer. Customers whose
        inputs and template are unchanged since the last run are skipped
        (--force re-runs them). Failures are isolated: the others finish, the
        failed notebook is kept with its error cell, the summary lists every
        failure with its path, and the command exits 1.
        """
        from .runs import run_batch

        path = study if study is not None else example_path()
        result = run_batch(path, list(customers) or None, workers=workers, timeout=timeout, force=force,
                           scheduler=scheduler, out_dir=out, parameters=_parameters(parameters),
                           kernel_name=kernel_name, progress=not no_progress)
        click.echo(result.summary())
        click.echo(f"index: {result.out_dir / 'index.html'}")
        if result.failed:
            raise SystemExit(1)
