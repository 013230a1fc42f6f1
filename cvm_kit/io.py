"""Output helpers: whole-or-nothing writes, formula-injection guards, study-input protection.

Every file cvm_kit writes goes through :func:`atomic_file` or
:func:`atomic_dir`, so a failure half-way leaves the old output (or none),
never a truncated one. Text cells that a spreadsheet would read as a formula
are neutralised by :func:`guard_text` before they reach CSV or Excel.
:func:`atomic_file` refuses to write over a study's input files
(:func:`study_input_reason`): an output never destroys raw data.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from .errors import CvmError

# A cell starting with one of these is run as a formula by Excel/LibreOffice
# (OWASP "CSV injection"); tab and CR are also abused to smuggle them.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")
# A CSV opened with ``;`` or tab as the separator (the default in many locales) splits one text cell into
# several: every segment after a separator is a cell of its own, so each is guarded, after any spaces or
# double quotes a spreadsheet would drop. A segment that is a plain number is left alone.
_SEGMENT = re.compile(r'(?:(?<=[;,\t\r\n])|^)([ \t\r\n"\u00a0]*)([=+\-@\uff1d\uff0b\uff0d\uff20][^;,\t\r\n]*)')
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def _guard_segment(m: re.Match) -> str:
    lead, seg = m.group(1), m.group(2)
    if _NUMBER.fullmatch(seg.strip().strip('"').strip()):
        return m.group(0)
    return lead + "'" + seg


def guard_text(value: object) -> object:
    """Prefix text that a spreadsheet would evaluate with an apostrophe.

    The whole text is guarded when it starts like a formula, and so is every
    segment after a ``;``, ``,``, tab or line break that does (unless the
    segment is a plain number), so the text stays inert whichever separator
    the CSV is opened with. Numbers are returned unchanged; only strings are
    guarded.

    Examples
    --------
    >>> guard_text('=HYPERLINK("http://x")')
    '\\'=HYPERLINK("http://x")'
    >>> guard_text("x;=2+5")
    "x;'=2+5"
    >>> guard_text("from 2 to -3.5; 4")
    'from 2 to -3.5; 4'
    >>> guard_text(-3.5)
    -3.5
    """
    if not isinstance(value, str):
        return value
    if value.startswith(_FORMULA_START):
        value = "'" + value
    return _SEGMENT.sub(_guard_segment, value)


def guard_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose text cells and column names are guarded with :func:`guard_text`."""
    out = df.copy()
    for col in out.columns:
        s = out[col]
        if s.dtype == object or pd.api.types.is_string_dtype(s):
            out[col] = s.map(guard_text)
    out.columns = [guard_text(c) for c in out.columns]
    return out


# -- study inputs are never overwritten -----------------------------------------

#: The hidden lock file a study folder is locked with while an import writes it (never read as input).
LOCK_FILE = ".cvm.lock"
_BACKUP = re.compile(r"measurements\..*\.bak\.csv")
_protected: set[Path] = set()


def _input_names() -> frozenset[str]:
    from .study import CUSTOMERS_FILE, MEASUREMENTS_FILE, OPTIONAL_FILES, PROJECT_FILE

    return frozenset(n.casefold() for n in (PROJECT_FILE, CUSTOMERS_FILE, MEASUREMENTS_FILE, *OPTIONAL_FILES,
                                            LOCK_FILE))


def _resolved(path: str | Path) -> Path:
    p = Path(path).expanduser()
    try:
        return p.resolve()
    except (OSError, RuntimeError):  # a symlink loop: compare what can be compared
        return Path(os.path.abspath(p))


def protect_study(path: str | Path) -> None:
    """Remember a study (folder or workbook) this process reads, so no output of it may overwrite it."""
    _protected.add(_resolved(path))


def _is_study_workbook(path: Path) -> bool:
    """Whether an existing .xlsx holds a study (its sheets ``project``, ``customers`` and ``measurements``)."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as z:
            info = z.getinfo("xl/workbook.xml")
            if info.file_size > 5_000_000:
                return False
            xml = z.read(info).decode("utf-8", "replace")
    except (OSError, KeyError, zipfile.BadZipFile, RuntimeError, ValueError):
        return False
    names = {n.casefold() for n in re.findall(r'<(?:\w+:)?sheet\b[^>]*\bname="([^"]*)"', xml)}
    return {"project", "customers", "measurements"} <= names


def study_input_reason(path: str | Path, *, strict: bool = False) -> str | None:
    """Why ``path`` must not be written as an output (it is a study's input), or None.

    A path is a study input when, after resolving symlinks and ``..``, it is
    a study's ``project.yaml``, ``customers.csv``, ``measurements.csv``,
    ``prospects.csv``, ``fieldwork.csv``, ``realized.csv``, a
    ``measurements.*.bak.csv`` backup or the lock file, in a folder holding a
    ``project.yaml``, or a study folder itself. With ``strict`` (the CLI's
    outputs) also: a study this process loaded through the CLI (so a
    workbook study itself), and any existing study workbook (an .xlsx with
    the sheets ``project``, ``customers`` and ``measurements``).

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> study_input_reason(cvm.example_path() / "measurements.csv")[:19]
    'is a study input of'
    >>> study_input_reason(cvm.example_path() / "values.csv") is None
    True
    """
    r = _resolved(path)
    name = r.name.casefold()
    is_input_name = name in _input_names() or bool(_BACKUP.fullmatch(name))
    if is_input_name and (r.parent / "project.yaml").is_file():
        return f"is a study input of the study folder {r.parent}"
    if r.is_dir() and (r / "project.yaml").is_file():
        return "is a study folder"
    if not strict:
        return None
    for root in _protected:
        if r == root:
            return f"is the study {root} itself (a study input)"
        if is_input_name and r.parent == root:
            return f"is a study input of the study folder {root}"
    if r.suffix.lower() in (".xlsx", ".xlsm") and r.is_file() and _is_study_workbook(r):
        return "is a study workbook (a study input)"
    return None


def refuse_study_input(path: str | Path, *, strict: bool = False) -> None:
    """Raise :class:`CvmError` if writing ``path`` would overwrite a study input (see :func:`study_input_reason`)."""
    why = study_input_reason(path, strict=strict)
    if why is not None:
        raise CvmError(f"refusing to write {path}: it {why}; outputs never overwrite study data. "
                       "Choose another output path")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_file(path: str | Path, *, study_input: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    Refuses (:class:`CvmError`, nothing written) a ``path`` that is a study
    input (:func:`refuse_study_input`), unless ``study_input`` is True (only
    the import, which writes a study's data on purpose).
    """
    path = Path(path)
    if not study_input:
        refuse_study_input(path)
    special = path.exists() and not path.is_file() and not path.is_dir()  # a FIFO, /dev/stdout, a device
    if not special:
        path.parent.mkdir(parents=True, exist_ok=True)
    # beside the output, so the rename is atomic; a special file is written into, never replaced
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + path.suffix,
                               dir=None if special else path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; outputs are for sharing
    try:
        yield tmp_path
        if special:
            with open(tmp_path, "rb") as src, open(path, "wb") as dst:
                shutil.copyfileobj(src, dst)
        else:
            os.replace(tmp_path, path)
    except Exception as exc:
        cause = exc.__cause__ or exc.__context__
        if type(exc).__name__ == "FileCreateError" and isinstance(cause, OSError):  # XlsxWriter's wrapper
            exc = cause
        if isinstance(exc, OSError) and exc.filename is None:  # e.g. a full disk: say which file
            raise OSError(exc.errno, f"cannot write {path}: {exc.strerror}") from None
        raise
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
    """Write ``df`` as guarded CSV to ``path`` atomically, or return the text if ``path`` is None.

    Floats are written with 15 significant digits (``%.15g``): every digit a
    double holds for sure, without the noise of its binary form
    (``3638.7``, not ``3638.7000000000003``).
    """
    kw.setdefault("float_format", "%.15g")
    safe = guard_frame(df)
    if path is None or str(path) == "-":
        return safe.to_csv(index=False, **kw)
    with atomic_file(path) as tmp:
        safe.to_csv(tmp, index=False, **kw)
    return None
