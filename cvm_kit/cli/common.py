"""Shared pieces of the ``cvm`` command: the STUDY argument, -o, CSV output.

Command modules (``cvm_kit/cli/*.py``) import only this and click at module level;
everything heavy is imported inside the command bodies so ``cvm --help``
stays fast.
"""

from __future__ import annotations

import contextlib
import gc
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import click


def example_path() -> Path:
    """The bundled example study (the wheel's copy, or ``data/examples/pipe_coating`` in a checkout)."""
    from .. import example_path as _ex

    return _ex()


def study_argument(f: Callable[..., Any]) -> Callable[..., Any]:
    """``STUDY``: a study folder or workbook; defaults to this folder when it holds a study, else the example."""
    return click.argument("study", required=False, type=click.Path(path_type=Path))(f)


def default_study(study: Path | None) -> Path:
    """``study``, else the current folder when it holds ``project.yaml``, else the bundled example (said on stderr).

    Run inside a study folder, ``cvm validate`` checks that study, not the
    example; elsewhere the example is used, and the command says so.
    """
    if study is not None:
        return study
    here = Path.cwd()
    if (here / "project.yaml").is_file():
        return here
    ex = example_path()
    click.echo(f"no STUDY given and no project.yaml here: using the bundled example study ({ex})", err=True)
    return ex


def check_output(path: Path | None) -> Path | None:
    """Refuse an output path that is a study input (a study's files, a study workbook); see
    :func:`cvm_kit.io.study_input_reason`. ``None`` and ``-`` (standard output) pass."""
    if path is not None and str(path) != "-":
        from ..io import refuse_study_input

        refuse_study_input(path, strict=True)
    return path


def _check_output_param(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    return check_output(value)  # before any work: a refused output fails fast


def out_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """``-o/--output FILE``: where to write the CSV (default: standard output); never a study input."""
    return click.option("-o", "--output", "output", type=click.Path(path_type=Path), default=None,
                        callback=_check_output_param,
                        help="Write CSV here (default: standard output); never over a study's input files.")(f)


def load(study: Path | None, *, then: tuple[str, ...] = ()):
    """Load the study named on the command line (or the bundled example); its files become write-protected.

    ``then``: modules the command imports after loading (``scipy.special``
    for t intervals ...), imported in a thread while the files are read.
    """
    report = read_and_check(study, then=then)
    from ..study.load import study_or_raise  # after reading: see read_and_check

    return study_or_raise(report)


def read_and_check(study: Path | None, *, then: tuple[str, ...] = ()):
    """The :class:`~cvm_kit.study.load.ValidationReport` of the study named on the command line.

    The checks (pydantic, the schema, the values stage) and ``then`` are
    imported in a thread while the files are read and parsed, which spends
    most of its time outside the GIL (:mod:`cvm_kit._prefetch`).
    """
    from .._prefetch import prefetch
    from ..io import protect_study
    from ..study.read import read_raw

    path = default_study(study)
    protect_study(path)
    with _collector_paused():
        with prefetch("cvm_kit.study.load", *then):
            raw, problems = read_raw(path)
        from ..study.load import check_raw

        return check_raw(Path(path), raw, problems)


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """No automatic garbage collection while a study is read and checked (it is back on after).

    Loading makes many short-lived containers and no cycles worth collecting
    midway; the collector's passes over a heap that holds 600,000-row object
    columns cost about 5% of ``cvm summary`` on the benchmark study.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def emit_csv(df, output: Path | None) -> None:
    """Write a table as guarded CSV to ``output`` (whole or not at all) or stdout.

    An ``output`` that is a study input is refused. On standard output,
    control characters are replaced (:func:`plain`) so study text cannot
    drive the terminal.
    """
    from ..io import write_csv

    check_output(output)
    text = write_csv(df, output)
    if text is not None:
        sys.stdout.write(plain(text))
    else:
        click.echo(plain(f"wrote {output} ({len(df)} rows)"), err=True)


_CONTROL = None


def plain(text: object) -> str:
    """Text with control characters replaced, so study text cannot drive the terminal.

    Every C0 control but tab and line feed (so ESC, BEL, NUL, CR, backspace),
    DEL and every C1 control (CSI ``\\x9b`` ...) becomes ``?``.

    Examples
    --------
    >>> plain("a\\x1b[31mb\\x07\\tc")
    'a?[31mb?\\tc'
    """
    global _CONTROL
    if _CONTROL is None:
        import re

        _CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
    return _CONTROL.sub("?", str(text))


def warn(msg: str) -> None:
    """A line on standard error (control characters from study text neutralised)."""
    click.echo(plain(msg), err=True)


_TERMINAL = None


class _PlainStream:
    """A text stream that replaces control characters on their way out (tab, line feed and carriage return,
    which progress bars need, pass), so no text printed by any command can drive the terminal."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: Any) -> Any:
        global _TERMINAL
        if isinstance(text, str):
            if _TERMINAL is None:
                import re

                _TERMINAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
            text = _TERMINAL.sub("?", text)
        return self._stream.write(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def plain_streams() -> tuple[Any, Any]:
    """Wrap ``sys.stdout`` and ``sys.stderr`` in control-character filters; return the originals to restore."""
    old = sys.stdout, sys.stderr
    if old[0] is not None and not isinstance(old[0], _PlainStream):
        sys.stdout = _PlainStream(old[0])
    if old[1] is not None and not isinstance(old[1], _PlainStream):
        sys.stderr = _PlainStream(old[1])
    return old
