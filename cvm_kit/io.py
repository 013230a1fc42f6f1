"""Output helpers: whole-or-nothing writes and formula-injection guards.

Every file cvm_kit writes goes through :func:`atomic_file` or
:func:`atomic_dir`, so a failure half-way leaves the old output (or none),
never a truncated one. Text cells that a spreadsheet would read as a formula
are neutralised by :func:`guard_text` before they reach CSV or Excel.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

import pandas as pd

# A cell starting with one of these is run as a formula by Excel/LibreOffice
# (OWASP "CSV injection"); tab and CR are also abused to smuggle them.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def guard_text(value: object) -> object:
    """Prefix text that a spreadsheet would evaluate with an apostrophe.

    Numbers are returned unchanged; only strings are guarded.

    Examples
    --------
    >>> guard_text('=HYPERLINK("http://x")')
    '\\'=HYPERLINK("http://x")'
    >>> guard_text(-3.5)
    -3.5
    """
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def guard_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose text cells are guarded with :func:`guard_text`."""
    out = df.copy()
    for col in out.columns:
        s = out[col]
        if s.dtype == object or pd.api.types.is_string_dtype(s):
            out[col] = s.map(guard_text)
    return out


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_file(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + path.suffix, dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; outputs are for sharing
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield a temporary folder beside ``path``; swap it in for ``path`` on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    os.chmod(tmp, 0o777 & ~_umask())
    try:
        yield tmp
        if path.exists():
            old = path.with_name(f".{path.name}.old")
            if old.exists():
                shutil.rmtree(old)
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old)
        else:
            os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def write_csv(df: pd.DataFrame, path: str | Path | None, **kw) -> str | None:
    """Write ``df`` as guarded CSV to ``path`` atomically, or return the text if ``path`` is None."""
    safe = guard_frame(df)
    if path is None or str(path) == "-":
        return safe.to_csv(index=False, **kw)
    with atomic_file(path) as tmp:
        safe.to_csv(tmp, index=False, **kw)
    return None
