"""Shared pieces of the ``cvm`` command: the STUDY argument, -o, CSV output.

Command modules (``cli_*.py``) import only this and click at module level;
everything heavy is imported inside the command bodies so ``cvm --help``
stays fast.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable

import click


def example_path() -> Path:
    """The bundled example study (``data/examples/pipe_coating`` in the checkout)."""
    from . import example_path as _ex

    return _ex()


def study_argument(f: Callable[..., Any]) -> Callable[..., Any]:
    """``STUDY``: a study folder or workbook; defaults to the bundled example."""
    return click.argument("study", required=False, type=click.Path(path_type=Path))(f)


def out_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """``-o/--output FILE``: where to write the CSV (default: standard output)."""
    return click.option("-o", "--output", "output", type=click.Path(path_type=Path), default=None,
                        help="Write CSV here (default: standard output).")(f)


def load(study: Path | None):
    """Load the study named on the command line (or the bundled example)."""
    from .study import load_study

    return load_study(study if study is not None else example_path())


def emit_csv(df, output: Path | None) -> None:
    """Write a table as guarded CSV to ``output`` (whole or not at all) or stdout."""
    from .io import write_csv

    text = write_csv(df, output)
    if text is not None:
        sys.stdout.write(text)
    else:
        click.echo(f"wrote {output} ({len(df)} rows)", err=True)


_CONTROL = None


def plain(text: object) -> str:
    """Text with control characters replaced, so study text cannot drive the terminal."""
    global _CONTROL
    if _CONTROL is None:
        import re

        _CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
    return _CONTROL.sub("?", str(text))


def warn(msg: str) -> None:
    """A line on standard error (control characters from study text neutralised)."""
    click.echo(plain(msg), err=True)
