"""The import plan of filled worksheets, and writing it into ``measurements.csv`` (only when asked)."""

from __future__ import annotations

import datetime as _dt
import hashlib
import re
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..equations import normalize_phrase
from ..errors import CvmError, Problem, StudyError
from ..study import CUSTOMERS_FILE, MEASUREMENTS_FILE, OPTIONAL_FILES, PROJECT_FILE, Study
from .lock import LOCK_TIMEOUT, study_lock

__all__ = ["ACTIONS", "PLAN_COLUMNS", "apply_import", "check_writable", "file_sha256", "import_summary",
           "measurements_path", "plan_import", "write_import"]

PLAN_COLUMNS = ["customer_id", "variable", "on_file", "new_value", "action", "detail", "source", "reliability",
                "note", "where"]


ACTIONS = ("added", "changed", "unchanged", "conflict")


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes, as hex (what an import plan records of ``measurements.csv``).

    Parameters
    ----------
    path : Path

    Returns
    -------
    str
    """
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _same(a: float, b: float) -> bool:
    return bool(np.isclose(a, b, rtol=1e-9, atol=1e-12))


def _fmt(v: float) -> str:
    return f"{v:g}" if np.isfinite(v) else ""


def plan_import(study: Study, new_rows: pd.DataFrame, *, replace: bool = False) -> pd.DataFrame:
    """What importing filled worksheets would change in ``measurements.csv``.

    Parameters
    ----------
    study : Study
    new_rows : DataFrame
        From :func:`read_worksheets`.
    replace : bool
        Let a filled value replace a different value on file (``changed``);
        by default that is a ``conflict``.

    Returns
    -------
    DataFrame
        One row per customer and phrase filled: ``customer_id, variable,
        on_file, new_value, action, detail, source, reliability, note,
        where``. ``action`` is ``added`` (nothing on file), ``unchanged``
        (the value on file, the mean of the customer's rows, is the same),
        ``changed`` (differs, and ``replace``) or ``conflict`` (two workbooks
        disagree, or the value differs from the one on file without
        ``replace``). ``detail`` says why. ``plan.attrs`` records the
        ``measurements.csv`` it was planned against.

    Examples
    --------
    >>> import cvm_kit as cvm, pandas as pd
    >>> from cvm_kit.worksheets import plan_import
    >>> study = cvm.load_study("tests/data/tiny")
    >>> rows = pd.DataFrame({"customer_id": ["B3"], "variable": ["kWh, offering"], "phrase": ["kwh, offering"],
    ...                      "value": [300.0], "source": ["data"], "reliability": [""], "note": [""],
    ...                      "file": ["b3.xlsx"], "where": ["b3.xlsx: E12"]})
    >>> plan_import(study, rows)[["customer_id", "action"]].values.tolist()
    [['B3', 'added']]
    """
    from .. import values as V

    table = V.measurement_table(study).set_index(["customer_id", "phrase"])
    out = []
    if len(new_rows):
        groups = new_rows.groupby(["customer_id", "phrase"], sort=False)
    else:
        groups = []
    for (cid, p), g in groups:
        first = g.iloc[0]
        vals = g["value"].to_numpy(float)
        distinct = [v for i, v in enumerate(vals) if not any(_same(v, w) for w in vals[:i])]
        where = "; ".join(g["where"])
        on_file = float(table.loc[(cid, p), "value"]) if (cid, p) in table.index else np.nan
        n_on_file = int(table.loc[(cid, p), "n"]) if (cid, p) in table.index else 0
        new_value = float(first["value"])
        if len(distinct) > 1:
            action = "conflict"
            detail = "filled values disagree: " + "; ".join(f"{_fmt(v)} at {w}" for v, w in zip(vals, g["where"])) + \
                     "; correct or leave out one workbook"
            new_value = np.nan
        elif np.isnan(on_file):
            action, detail = "added", "nothing on file"
        elif _same(new_value, on_file):
            action, detail = "unchanged", "same as on file"
        else:
            rows_txt = f"the mean of {n_on_file} rows" if n_on_file > 1 else "1 row"
            if replace:
                action, detail = "changed", f"replaces {_fmt(on_file)} ({rows_txt})"
            else:
                action = "conflict"
                detail = f"differs from {_fmt(on_file)} on file ({rows_txt}); import with --replace to replace it"
        out.append((cid, first["variable"], on_file, new_value, action, detail, first["source"],
                    first["reliability"], first["note"], where))
    plan = pd.DataFrame(out, columns=PLAN_COLUMNS)
    plan["on_file"] = plan["on_file"].astype(float)
    plan["new_value"] = plan["new_value"].astype(float)
    mpath = measurements_path(study)
    plan.attrs["study"] = str(study.path)
    plan.attrs["measurements_sha256"] = file_sha256(mpath) if mpath is not None and mpath.is_file() else ""
    return plan


def measurements_path(study: Study) -> Path | None:
    """The study folder's ``measurements.csv``; None for a study workbook (which an import cannot write).

    Parameters
    ----------
    study : Study

    Returns
    -------
    Path or None
    """
    p = Path(study.path)
    return None if p.suffix.lower() in (".xlsx", ".xlsm") else p / MEASUREMENTS_FILE


def _number_text(v: float) -> str:
    if float(v).is_integer() and abs(v) < 1e15:
        return str(int(v))
    return repr(float(v))


def _new_measurements(plan: pd.DataFrame, raw: bytes, path: Path) -> tuple[pd.DataFrame, int]:
    """The measurements.csv ``raw`` as text, minus replaced rows, plus the new rows (the last ``n`` rows).

    Existing rows are kept as written (every column read as text), so the
    file's diff shows only the rows the import adds or replaces.
    """
    import io as _io

    from ..study.csvfile import _separator

    sep = _separator(raw[: 1 << 16].decode("utf-8-sig", "ignore"))  # ';' or tab as Excel saves in many locales
    try:
        cur = pd.read_csv(_io.BytesIO(raw), sep=sep, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except Exception as exc:  # the study loaded, so this is an edit by another program
        raise CvmError(f"{path} cannot be read again: {exc}") from exc
    cur.attrs["sep"] = sep
    cur.columns = [str(c).strip() for c in cur.columns]
    for col in ("reliability", "note"):
        if col not in cur.columns:
            cur[col] = ""
    changed = plan[plan["action"] == "changed"]
    drop = set(zip(changed["customer_id"], changed["variable"].map(normalize_phrase)))
    keep = [(c, normalize_phrase(str(v))) not in drop for c, v in zip(cur["customer_id"], cur["variable"])]
    cur = cur[keep]
    add = plan[plan["action"].isin(["added", "changed"])]
    new = pd.DataFrame({c: [""] * len(add) for c in cur.columns})
    new["customer_id"] = add["customer_id"].to_numpy(object)
    new["variable"] = add["variable"].to_numpy(object)
    new["value"] = [_number_text(v) for v in add["new_value"]]
    if sep != ",":  # as the file's own reader will read them: no exponent, the file's decimal mark
        vals = cur["value"].str.strip()
        commas = vals.str.match(r"^[+\-\u2212]?\d*,\d+$").any()
        points = vals.str.match(r"^[+\-\u2212]?\d*\.\d+$").any()
        new["value"] = [np.format_float_positional(float(v), trim="-") for v in add["new_value"]]
        if commas or not points:  # a ';' file of whole numbers: a decimal comma, as its locale writes one
            new["value"] = new["value"].str.replace(".", ",", regex=False)
    new["source"] = add["source"].to_numpy(object)
    new["reliability"] = add["reliability"].to_numpy(object)
    new["note"] = add["note"].to_numpy(object)
    out = pd.concat([cur, new], ignore_index=True)
    out.attrs["sep"] = sep
    return out, len(add)


def check_writable(study: Study, plan: pd.DataFrame, *, against_disk: bool = True) -> Path:
    """Check that ``plan`` may be written into the study; return its ``measurements.csv``.

    Parameters
    ----------
    study : Study
    plan : DataFrame
        From :func:`plan_import`.
    against_disk : bool
        Also check that ``measurements.csv`` is still what the plan was made
        against. False before the study's lock is taken: another import may
        write until then, and the command line plans again under the lock.

    Returns
    -------
    Path

    Raises
    ------
    CvmError
        For a study workbook, when ``measurements.csv`` changed since the
        plan, or while any row is a ``conflict``.
    """
    mpath = measurements_path(study)
    if mpath is None:
        raise CvmError(f"{study.path} is a study workbook; only a study folder can be written by an import. "
                       "Convert it with cvm_kit.save_study(study, 'folder') and import into the folder")
    if against_disk and plan.attrs.get("measurements_sha256") and mpath.is_file() and \
            file_sha256(mpath) != plan.attrs["measurements_sha256"]:
        raise CvmError(f"{mpath} changed since this import was planned; plan the import again")
    conflicts = plan[plan["action"] == "conflict"]
    if len(conflicts):
        lines = "\n".join(f"  {r.customer_id} [{r.variable}]: {r.detail}" for r in conflicts.itertuples())
        raise CvmError(f"{len(conflicts)} conflict(s); nothing written:\n{lines}")
    return mpath


def _record_lines(text: str) -> list[int]:
    """The file line each CSV record starts on (the header is line 1)."""
    import csv
    import io as _io

    reader = csv.reader(_io.StringIO(text))
    starts, prev = [], 0
    for _ in reader:
        starts.append(prev + 1)
        prev = reader.line_num
    return starts[1:]


def _located(problems: Sequence[Problem], where_by_line: dict[int, str], scratch: str,
             study_path: str) -> list[Problem]:
    """Problems found in the scratch copy, pointing at the worksheet cell a new row came from.

    A problem on a line of ``measurements.csv`` that the import added names
    the worksheet's file, sheet and cell instead (the scratch file is gone
    and was never the user's); any other names the study, not the scratch
    folder.
    """
    out = []
    for p in problems:
        m = re.match(r"line (\d+)(?:, )?(.*)", p.where)
        msg = p.message.replace(scratch, study_path)
        if p.file.endswith(MEASUREMENTS_FILE) and m and int(m.group(1)) in where_by_line:
            wfile, _, wwhere = where_by_line[int(m.group(1))].partition(": ")
            col = "" if not m.group(2) or m.group(2).startswith("column value") else \
                f" (the imported row's {m.group(2).split(' (')[0]})"
            out.append(Problem(wfile, wwhere + col, msg, p.severity))
        else:
            out.append(Problem(p.file.replace(scratch, study_path), p.where, msg, p.severity))
    return out


def write_import(study: Study, plan: pd.DataFrame, *, lock_timeout: float = LOCK_TIMEOUT,
                 on_wait: Callable[[], None] | None = None) -> tuple[Path, Path] | None:
    """Write a planned import under the study's lock, after validating the result in a scratch copy.

    What :func:`apply_import` does when asked to write; the CLI calls it
    directly to re-plan while holding the lock.

    Parameters
    ----------
    study : Study
        A study folder.
    plan : DataFrame
        From :func:`plan_import`.
    lock_timeout : float
        Seconds to wait for another import's lock.
    on_wait : callable, optional
        Called once if another writer holds the lock.

    Returns
    -------
    tuple of Path or None
        ``(measurements.csv, backup)``; None when nothing is added or changed.

    Raises
    ------
    CvmError, StudyError
        As :func:`apply_import`; nothing is written.
    """
    from ..io import atomic_file
    from ..validate import validate

    mpath = check_writable(study, plan)
    if not plan["action"].isin(["added", "changed"]).any():
        return None
    with study_lock(study.path, timeout=lock_timeout, on_wait=on_wait):
        # under the lock: what the plan was made against must still be on disk
        raw = mpath.read_bytes()
        if plan.attrs.get("measurements_sha256") and hashlib.sha256(raw).hexdigest() != plan.attrs[
                "measurements_sha256"]:
            raise CvmError(f"{mpath} changed since this import was planned (another import wrote it); "
                           "nothing written; plan the import again")
        new, n_new = _new_measurements(plan, raw, mpath)
        # measurements.csv is the study's own data, read back as text: written exactly, never
        # apostrophe-guarded (guarding is for exports; it would corrupt ids and notes here)
        text = new.to_csv(index=False, sep=new.attrs.get("sep", ","))  # the file's own separator
        data = text.encode("utf-8")
        add = plan[plan["action"].isin(["added", "changed"])]
        lines = _record_lines(text)
        where_by_line = dict(zip(lines[len(lines) - n_new:], add["where"])) if n_new else {}
        # check the study as it would be, in a scratch copy, before touching anything
        with tempfile.TemporaryDirectory() as scratch:
            s = Path(scratch) / Path(study.path).name
            s.mkdir()
            for name in (PROJECT_FILE, CUSTOMERS_FILE, *OPTIONAL_FILES):
                if (Path(study.path) / name).is_file():
                    shutil.copy2(Path(study.path) / name, s / name)
            (s / MEASUREMENTS_FILE).write_bytes(data)
            report = validate(s)
            if report.errors:
                raise StudyError(_located(report.errors, where_by_line, str(s), str(study.path)),
                                 f"{study.path} after the import (nothing written)")
        # just before the replace: a program that does not take the lock (an editor) may have saved meanwhile
        if mpath.read_bytes() != raw:
            raise CvmError(f"{mpath} changed while this import was being checked (saved by another program); "
                           "nothing written; run the import again")
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        backup = mpath.with_name(f"measurements.{stamp}.bak.csv")
        k = 2
        while backup.exists():
            backup = mpath.with_name(f"measurements.{stamp}-{k}.bak.csv")
            k += 1
        with atomic_file(backup, study_input=True) as tmp:
            tmp.write_bytes(raw)
            shutil.copystat(mpath, tmp)
        with atomic_file(mpath, study_input=True) as tmp:
            tmp.write_bytes(data)
    return mpath, backup


def apply_import(study: Study, plan: pd.DataFrame, *, write: bool = False,
                 lock_timeout: float = LOCK_TIMEOUT) -> Path | None:
    """Write the planned import into the study folder, only when asked.

    Parameters
    ----------
    study : Study
        A study *folder* (a workbook study cannot be written; convert it).
    plan : DataFrame
        From :func:`plan_import` on the same study.
    write : bool
        Do nothing unless True.
    lock_timeout : float
        Seconds to wait while another import holds the study's write lock
        (:func:`study_lock`).

    Returns
    -------
    Path or None
        The new ``measurements.csv``; None when not asked to write or when
        nothing is added or changed. Before writing, the previous file is
        kept as ``measurements.YYYYMMDD-HHMMSS.bak.csv`` beside it, and the
        study as it would be is validated in a scratch copy (a problem in an
        imported row is reported at its worksheet cell); both files are
        written whole or not at all, under the study's write lock, after
        checking that ``measurements.csv`` is still the one planned against.

    Raises
    ------
    CvmError
        While any row is a ``conflict``; for a workbook study; if
        ``measurements.csv`` changed since the plan; if another import holds
        the lock for more than ``lock_timeout`` seconds.
    StudyError
        If the study would not validate after the import (nothing written).
    """
    if not write:
        return None
    done = write_import(study, plan, lock_timeout=lock_timeout)
    return None if done is None else done[0]


def import_summary(plan: pd.DataFrame) -> str:
    """One line counting the plan's actions, e.g. ``2 added, 1 changed, 0 unchanged, 1 conflict``."""
    counts = plan["action"].value_counts()
    return ", ".join(f"{int(counts.get(a, 0))} {a}" for a in ACTIONS)
