"""``cvm init``, ``cvm convert`` and ``cvm notebooks``: starting a study and owning the notebooks.

See :mod:`cvm_kit.scaffold` and :mod:`cvm_kit.convert`.
"""

from __future__ import annotations

from pathlib import Path

import click

from .common import plain


@click.command()
@click.argument("dest", type=click.Path(path_type=Path))
@click.option("--xlsx", is_flag=True, help="Write the study as one .xlsx workbook instead of a folder.")
def init(dest: Path, xlsx: bool) -> None:
    """Start a new study in DEST: a commented skeleton that validates.

    Writes project.yaml (every key commented, one element of each status),
    customers.csv and measurements.csv with two EXAMPLE customers to
    replace, and a README.md describing the optional files. With --xlsx
    (or a DEST ending in .xlsx) the same study as one workbook. DEST must
    not exist yet (or be an empty folder).
    """
    from ..scaffold import FORMAT_DOC, init_study
    from ..validate import validate

    path = init_study(dest, xlsx=xlsx)
    click.echo(plain(f"wrote {path}"))
    report = validate(path)
    for p in report.warnings:
        click.echo(plain(p))
    click.echo(plain(f"next: replace the TODO and EXAMPLE entries, then `cvm validate {path}` "
                     f"(the format: `cvm format`, or {FORMAT_DOC} in the cvm_kit repository)"))

@click.command()
@click.argument("study", type=click.Path(path_type=Path))
@click.argument("out", type=click.Path(path_type=Path))
def convert(study: Path, out: Path) -> None:
    """Convert STUDY (folder or .xlsx) to OUT: a workbook if OUT ends in .xlsx, else a folder.

    The result is read back and compared with STUDY field by field; a
    conversion that would lose anything is refused and writes nothing.
    STUDY is never changed, and OUT must not exist yet.
    """
    from ..convert import convert_study

    click.echo(plain(f"wrote {convert_study(study, out)} (read back: same study)"))

@click.command()
@click.argument("dest", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite notebooks already in DEST.")
def notebooks(dest: Path, force: bool) -> None:
    """Copy the notebook series and the dashboard into DEST, to edit as your own.

    The copies are jupytext percent-format .py files (JupyterLab opens
    them as notebooks: Open With > Jupytext Notebook). Run your edited
    series with `cvm report STUDY --notebooks DEST` and your edited
    customer report with `cvm batch STUDY --notebook DEST/06_customer_report.py`;
    the installed templates stay as they are. Existing files are never
    overwritten unless --force.
    """
    from ..scaffold import copy_notebooks

    written = copy_notebooks(dest, force=force)
    for p in written:
        click.echo(plain(f"wrote {p}"))
    click.echo(plain(f"open them with: jupyter lab {dest}"))


@click.command(name="format")
@click.option("--path", "path_only", is_flag=True, help="Print only where the document is.")
def format_(path_only: bool) -> None:
    """Print the study format: every file, column and key of a study as cvm_kit reads it (Markdown)."""
    from .._resources import doc_path

    path = doc_path("study-format.md")
    click.echo(str(path) if path_only else path.read_text(encoding="utf-8"))


def register(group: click.Group) -> None:
    """Add ``init``, ``convert``, ``notebooks`` and ``format`` to the ``cvm`` command group."""
    for command in (init, convert, notebooks, format_):
        group.add_command(command)
