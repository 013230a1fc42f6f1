"""``cvm convert``: a study folder to one workbook and back, checked to lose nothing.

:func:`convert_study` loads a study (folder or ``.xlsx``), writes it in the
other form with :func:`cvm_kit.study.save_study`, reads the result back and
compares it field by field with the original (:func:`study_differences`);
a conversion that would lose anything is an error and leaves nothing behind.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import CvmError

__all__ = ["convert_study", "study_differences"]

# where a study was read from, not what it is
_PROVENANCE = ("path", "content_hash", "warnings")


def _plain(value: Any) -> Any:
    """A comparable form: equations as their text, dataclasses as (field, value) pairs, mappings as dicts."""
    from .equations import Equation

    if isinstance(value, Equation):
        return value.text
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (type(value).__name__,
                tuple((f.name, _plain(getattr(value, f.name))) for f in dataclasses.fields(value)))
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _kind(col: Any) -> str:
    """``number``, ``bool``, ``date`` or ``text``: what a column holds, whatever its exact dtype."""
    import pandas as pd

    if pd.api.types.is_bool_dtype(col):
        return "bool"
    if pd.api.types.is_numeric_dtype(col):
        return "number"
    if pd.api.types.is_datetime64_any_dtype(col):
        return "date"
    return "text"


def _table(df: Any) -> Any:
    if df is None:
        return None
    return df.drop(columns=["line"], errors="ignore").reset_index(drop=True)


def study_differences(a: Any, b: Any) -> list[str]:
    """What differs between two loaded studies, field by field ('' when they are the same study).

    Compares every field of :class:`~cvm_kit.study.Study` (so a field added
    later is compared too): the model (text fields, charter, subsegments,
    constants, derived quantities, price, elements with all their attributes;
    equations by their text) and every table (customers, measurements,
    prospects, fieldwork, realized: columns, what each holds (numbers, dates, text) and values), ignoring only
    where each was read from (path, CSV line numbers, content hash, warnings).

    Returns
    -------
    list of str
        One line per difference; empty when none.
    """
    import pandas as pd

    out: list[str] = []
    for f in dataclasses.fields(a):
        if f.name in _PROVENANCE:
            continue
        va, vb = getattr(a, f.name), getattr(b, f.name)
        if isinstance(va, pd.DataFrame) or isinstance(vb, pd.DataFrame):
            ta, tb = _table(va), _table(vb)
            if ta is None or tb is None:
                out.append(f"{f.name}: {'absent' if ta is None else 'present'} became "
                           f"{'absent' if tb is None else 'present'}")
                continue
            kinds = [(c, _kind(ta[c]), _kind(tb[c])) for c in ta.columns if c in tb.columns]
            changed = [f"{c} {ka} became {kb}" for c, ka, kb in kinds if ka != kb]
            if changed:
                out.append(f"{f.name}: column type changed: {', '.join(changed)}")
                continue
            try:
                # text columns may come back as object or pandas' string dtype: the same text either way
                pd.testing.assert_frame_equal(ta, tb, check_dtype=False, check_exact=True)
            except AssertionError as exc:
                out.append(f"{f.name}: {' '.join(str(exc).split())[:400]}")
        elif _plain(va) != _plain(vb):
            out.append(f"{f.name}: {_plain(va)!r} became {_plain(vb)!r}"[:600])
    return out


def convert_study(study: str | Path, out: str | Path) -> Path:
    """Write ``study`` (folder or workbook) as ``out``: a workbook if ``out`` ends in ``.xlsx``, else a folder.

    The result is read back and compared with the original; any difference
    is an error and ``out`` is not left behind. ``study`` itself is only read,
    and ``out`` must be new: a conversion never replaces existing files (they
    may be another study).

    Raises
    ------
    StudyError
        ``study`` does not load (every problem, located).
    CvmError
        ``out`` exists, or the conversion would lose something (each
        difference named).

    Examples
    --------
    >>> import tempfile, cvm_kit as cvm
    >>> from cvm_kit.convert import convert_study
    >>> book = convert_study(cvm.example_path(), tempfile.mkdtemp() + "/pipe_coating.xlsx")
    >>> cvm.load_study(book).name
    'Premium pipe coating, mid-size fabricators'
    """
    from .study import load_study, save_study

    src, dest = Path(study), Path(out)
    if dest.resolve() == src.resolve():
        raise CvmError(f"{dest} is the study itself; choose another name for the converted study")
    if dest.exists():
        raise CvmError(f"{dest} already exists; choose a new name (cvm convert never replaces files)")
    original = load_study(src)
    # write beside the destination first: a lossy or failed conversion leaves nothing behind
    trial = dest.with_name(f".{dest.name}.converting{dest.suffix}")
    try:
        save_study(original, trial)
        diffs = study_differences(original, load_study(trial))
        if diffs:
            raise CvmError(f"converting {src} to {dest.name} would change the study; nothing was written:\n  "
                           + "\n  ".join(diffs))
        if dest.exists():  # appeared meanwhile: never replace it
            raise CvmError(f"{dest} appeared while converting; nothing was written")
        os.replace(trial, dest)
    finally:
        if trial.is_dir():
            shutil.rmtree(trial, ignore_errors=True)
        elif trial.exists():
            trial.unlink()
    return dest
