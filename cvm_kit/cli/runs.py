"""``cvm report`` and ``cvm batch``: the executed notebook reports (see :mod:`cvm_kit.runs`)."""

from __future__ import annotations

from pathlib import Path
from collections.abc import Sequence
from typing import Any

import click

from .common import default_study, plain, study_argument


def _parameters(pairs: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    """``-p name value`` pairs as given: the run types them as the notebooks declare
    (:func:`cvm_kit.reporting.notebooks.typed_parameters`)."""
    return dict(pairs)


_PARAM = click.option("-p", "--parameter", "parameters", type=(str, str), multiple=True, metavar="NAME VALUE",
                      help="A notebook parameter (repeatable), e.g. -p draws 20000.")
_TIMEOUT = click.option("--timeout", type=click.FloatRange(min=1), default=600.0, show_default=True,
                        help="Seconds allowed per notebook (per cell and in total).")
_KERNEL = click.option("--kernel", "kernel_name", default=None, help="Jupyter kernel name (default python3).")
_ENGINE = click.option("--engine", type=click.Choice(["warm", "papermill"]), default="warm", show_default=True,
                       help="warm: kernels start once per worker and are reset between notebooks; "
                            "papermill: a fresh kernel per notebook.")


def _interrupted(exc: BaseException) -> SystemExit:
    """Ctrl-C: one line saying what was kept, exit status 130 (128 + SIGINT)."""
    import gc
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C while exiting prints nothing more
    # exit promptly: the interpreter's final garbage collections would walk the whole heap (seconds)
    gc.freeze()
    text = str(exc).strip() or "interrupted"
    click.echo(plain(text if text.startswith("interrupted") else f"interrupted: {text}"), err=True)
    return SystemExit(130)


@click.command()
@study_argument
@click.option("--out", "out", type=click.Path(path_type=Path), default=None,
              help="Report folder (default: reports/<study>).")
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True,
              help="Notebooks executed at once.")
@_TIMEOUT
@_PARAM
@_KERNEL
@_ENGINE
@click.option("--notebooks", "notebooks", type=click.Path(path_type=Path, file_okay=False), default=None,
              metavar="DIR", help="Run your own series: the numbered notebooks in DIR (from `cvm notebooks DIR`), "
              "except 06_customer_report.")
@click.option("--pdf", is_flag=True, default=False,
              help="Also print the management pack (summary first, every page, charter and provenance) to "
                   "<out>/management_pack.pdf with headless Chromium.")
def report(study: Path | None, out: Path | None, workers: int, timeout: float,
           parameters: tuple[tuple[str, str], ...], kernel_name: str | None, engine: str,
           notebooks: Path | None, pdf: bool) -> None:
    """Execute the notebook series on STUDY and write the HTML report for management.

    Each notebook (data gathering, estimates, subsegment variance,
    sensitivity, drivers and prospects, value documenter, business case) is
    executed (on warm kernels, parameters injected as papermill does), then
    written as HTML without code, with an index.html recording the study's
    content hash, the cvm_kit version, the parameters and the date. A failed
    notebook leaves the previous report in place; the failed notebook is
    kept in <out>.failed/ with its error cell, and the command exits 1.
    The study is validated first: its errors are listed once, exit 1, no
    notebook runs. Ctrl-C stops every notebook at once, leaves the previous
    report in place and exits 130.

    --notebooks DIR runs the numbered notebooks in DIR instead (an edited
    copy of the series; notebooks removed from DIR are not run, notebooks
    added are). The index opens with the executive summary; --pdf also
    writes the management pack as one PDF.
    """
    from ..reporting.execute import RunError
    from ..reporting.series import SERIES, run_report

    path = default_study(study)
    series: Sequence[str | Path] = SERIES  # the installed series, or the files of --notebooks DIR
    if notebooks is not None:
        from ..scaffold import report_series

        series = report_series(notebooks)
    try:
        try:
            index = run_report(path, out, parameters=_parameters(parameters), kernel_name=kernel_name,
                               workers=workers, timeout=timeout, progress=True, series=series, engine=engine,
                               pdf=pdf)
        except RunError as exc:
            click.echo(plain(exc), err=True)
            raise SystemExit(1) from None
    except KeyboardInterrupt as exc:
        raise _interrupted(exc) from None
    click.echo(f"wrote {index}")
    if pdf:
        click.echo(f"wrote {index.with_name('management_pack.pdf')}")

@click.command()
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
@_ENGINE
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.option("--notebook", "notebook", type=click.Path(path_type=Path, dir_okay=False), default=None,
              metavar="FILE", help="Your own per-customer notebook (.py or .ipynb), e.g. an edited "
              "06_customer_report.py from `cvm notebooks`.")
@click.option("--internal", is_flag=True,
              help="Add the internal parts (the study charter), each page marked 'Internal - not for the "
                   "customer'. Without it every page of the customer report is safe to hand to its customer; "
                   "a --notebook that declares no `internal` parameter is not a customer report, and its pages "
                   "are always marked internal.")
def batch(study: Path | None, customers: tuple[str, ...], workers: int, timeout: float, force: bool,
          scheduler: str | None, out: Path | None, parameters: tuple[tuple[str, str], ...],
          kernel_name: str | None, engine: str, no_progress: bool, notebook: Path | None,
          internal: bool) -> None:
    """Execute the per-customer value report for each customer of STUDY, in parallel.

    One executed notebook and one HTML page per customer, safe to hand to
    that customer (no study charter, no other customer's figures; only
    subsegment and segment means) unless --internal. Customers whose inputs
    and template are unchanged since the last run are skipped (--force
    re-runs them). The study is validated first: its errors are listed
    once, exit 1, no notebook runs. Failures are isolated: the others
    finish, the failed notebook is kept with its error cell, the summary
    lists every failure with its path, and the command exits 1. The index
    lists every customer with a report in the folder. Ctrl-C stops at
    once, records what finished in the manifest and index, exits 130.
    """
    from ..reporting.batch import run_batch

    path = default_study(study)
    if notebook is not None and notebook.suffix not in (".py", ".ipynb"):
        raise click.BadParameter(f"{notebook}: expected a notebook (.py jupytext source or .ipynb)",
                                 param_hint="--notebook")
    params = _parameters(parameters)
    if internal:
        params["internal"] = True
    if notebook is not None and notebook.exists():
        from ..reporting.notebooks import notebook_parameters

        if "internal" not in notebook_parameters(notebook):
            click.echo(f"note: {notebook.name} declares no `internal` parameter, so it is not a customer report: "
                       "its pages may show other customers' figures and internal text, and are marked internal",
                       err=True)
            params.pop("internal", None)
    try:
        result = run_batch(path, list(customers) or None, workers=workers, timeout=timeout, force=force,
                           scheduler=scheduler, out_dir=out, parameters=params,
                           kernel_name=kernel_name, progress=not no_progress, template=notebook,
                           engine=engine)
    except KeyboardInterrupt as exc:
        raise _interrupted(exc) from None
    click.echo(plain(result.summary()))
    click.echo(f"index: {result.out_dir / 'index.html'}")
    if result.failed:
        raise SystemExit(1)


def register(group: click.Group) -> None:
    """Add ``report`` and ``batch`` to the ``cvm`` command group."""
    for command in (report, batch):
        group.add_command(command)
