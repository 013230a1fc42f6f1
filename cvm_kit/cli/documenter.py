"""``cvm document``: the value documenter's tables (promised versus realized value)."""

from __future__ import annotations

from pathlib import Path

import click

from .common import load, study_argument


@click.command()
@study_argument
@click.option("--out", "out", type=click.Path(path_type=Path), default=None,
              help="Folder for the tables (default: reports/<study>).")
def document(study: Path | None, out: Path | None) -> None:
    """Promised versus realized value (realized.csv): per customer and element, and by element.

    Writes value_documenter.csv (per customer, element and period: promised,
    realized, realization rate, gap, the study's estimate),
    delivery_by_element.csv (across customers) and documented_rate.csv (the
    share of customers whose realized value meets the promise, with its
    Wilson interval), each whole or not at all.
    """
    s = load(study, then=("cvm_kit.documenter",))
    from ..documenter import write_documenter

    folder = out if out is not None else Path("reports") / s.label
    for path in write_documenter(s, folder):
        click.echo(f"wrote {path}")


def register(group: click.Group) -> None:
    """Add ``document`` to the ``cvm`` command group."""
    for command in (document,):
        group.add_command(command)
