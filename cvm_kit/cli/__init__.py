"""The ``cvm`` command: argument parsing and printing over cvm_kit functions.

Every command is a thin shell over functions a notebook can call. Errors a
user can cause (:class:`~cvm_kit.errors.CvmError`) are printed without a
traceback and exit 1; usage errors exit 2.

One module per command family, each command a module-level click command
(importable and testable alone) registered here: :mod:`.core` (validate,
values, summary, totals, tables), :mod:`.statistics`, :mod:`.inference`,
:mod:`.tools`, :mod:`.documenter`, :mod:`.research`, :mod:`.runs`,
:mod:`.project`; shared options in :mod:`.common`. Command modules import
only click and :mod:`.common` at module level: ``cvm --help`` stays fast.
"""

from __future__ import annotations

import gc
import sys
from typing import Any

import click

from . import core, documenter, inference, project, research, runs, statistics, tools
from .common import plain, plain_streams


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="cvm_kit")
def cli() -> None:
    """cvm: customer value models, from interview data to the value summary.

    STUDY is a study folder (project.yaml, customers.csv, measurements.csv ...)
    or the same study as one .xlsx workbook; without it, the current folder
    when it holds a project.yaml, else the bundled example study.
    """


# every command family (`cvm --help` lists the commands alphabetically)
for _module in (core, statistics, tools, documenter, research, runs, inference, project):
    _module.register(cli)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``cvm``: run the CLI, print user errors without a traceback.

    While it runs, standard output and error replace control characters
    (:func:`~cvm_kit.cli.common.plain_streams`): study text printed by any
    command cannot drive the terminal. Run from the command line (``argv``
    None), the process keeps the memory it frees for reuse
    (:mod:`cvm_kit._malloc`: loading a large study allocates many arrays),
    imports two numpy subpackages it never uses only if something uses them
    (:func:`cvm_kit._prefetch.defer_unused`) and, at the end, moves what is
    alive out of the collector's sight (``gc.freeze``), as it is all torn
    down at exit anyway.
    """
    if argv is None:
        from .._malloc import reuse_freed_memory
        from .._prefetch import defer_unused

        reuse_freed_memory()
        defer_unused()
    streams = plain_streams()
    hook, sys.unraisablehook = sys.unraisablehook, _quiet_unraisable
    try:
        return _main(argv)
    finally:
        sys.stdout, sys.stderr = streams
        sys.unraisablehook = hook
        if argv is None:
            # the process ends here: spare the interpreter's last collections from traversing what is alive
            # (object columns of 600,000 rows: a tenth of a second at exit); it is still freed, atexit still runs
            gc.freeze()


def _main(argv: list[str] | None) -> int:
    from ..errors import CvmError

    try:
        cli.main(args=argv, prog_name="cvm", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.Abort as exc:
        click.echo("aborted", err=True)
        return 130 if isinstance(exc.__cause__, KeyboardInterrupt) else 1  # Ctrl-C: 128 + SIGINT
    except CvmError as exc:
        click.echo(plain(f"error: {exc}"), err=True)
        return 1
    except SystemExit as exc:
        if isinstance(exc.code, str):
            click.echo(plain(exc.code), err=True)
            return 1
        return int(exc.code or 0)
    except (OSError, UnicodeError) as exc:
        click.echo(plain(f"error: {exc}"), err=True)
        return 1
    return 0


def _quiet_unraisable(u: Any) -> None:
    """Drop what a failed write leaves behind (on a full disk: a file that cannot close when freed).

    The command reports the write's own error in one line; Python would add
    "Exception ignored in ZipFile.__del__" and a traceback for each file object.
    """
    if isinstance(u.exc_value, OSError) and "__del__" in str(getattr(u, "object", "")):
        return
    sys.__unraisablehook__(u)
