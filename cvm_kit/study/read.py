"""Reading a study folder or workbook into the raw form the checks take.

:func:`read_raw` reads the files of a study folder (``project.yaml`` through
:mod:`~cvm_kit.study.yamlsafe`, the CSV tables as all-text frames with their
file line numbers, ``;``/tab-separated files and decimal commas sniffed) or
the sheets of a study workbook, and reports only what stops a file from being
read: a missing file, the wrong encoding, malformed YAML or CSV. What the
content means is checked by :mod:`cvm_kit.study.checks`.
"""

from __future__ import annotations

import datetime as _dt
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from ..errors import Problem
from .csvfile import _read_csv, _Undecoded, count_newlines, read_csv_text  # noqa: F401 - read_csv_text, count_newlines: re-exported
from .model import (
    CUSTOMERS_FILE,
    MEASUREMENTS_FILE,
    MODEL_SHEETS,
    OPTIONAL_FILES,
    PROJECT_FILE,
    SECTIONS,
    TABLE_SHEETS,
    content_hash,
)
from .yamlsafe import load_yaml


class _Hashing:
    """:func:`~cvm_kit.study.model.content_hash` of a study's files, computed in a thread from the moment they are read.

    hashlib lets go of the GIL while it hashes a large buffer, so on a second
    core the 37 MB of a 5,000-customer study are hashed while pandas parses
    them, instead of after the checks (about 45 ms).
    """

    _THREAD_FROM = 1 << 20  # bytes: a small study is hashed at once, no thread

    def __init__(self, files: dict[str, bytes]) -> None:
        self._files = dict(files)  # the bytes as read: a later change to the caller's dict is not hashed
        self._value: str | None = None
        self._thread: threading.Thread | None = None
        if sum(map(len, self._files.values())) >= self._THREAD_FROM:
            self._thread = threading.Thread(target=self._run, name="cvm-study-hash", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        self._value = content_hash(self._files)

    def hashes(self, files: dict[str, bytes]) -> bool:
        """Whether this hash is of ``files`` (the same names and bytes)."""
        return self._files == files

    def result(self) -> str:
        if self._thread is not None:
            self._thread.join()
        return self._value if self._value is not None else content_hash(self._files)


@dataclass
class RawStudy:
    """A study as read, before checks: YAML data and all-text tables."""

    path: Path
    project: dict[str, Any] | None
    tables: dict[str, pd.DataFrame]  # file name -> text table with a 'line' column
    labels: dict[str, str]  # file name -> how to name it in messages
    files: dict[str, bytes]
    project_label: str = PROJECT_FILE
    project_lines: dict[str, list[int]] = field(default_factory=dict)  # workbook: sheet rows per model section
    yaml_lines: dict[tuple[Any, ...], int] = field(default_factory=dict)  # project.yaml: line of each key path
    hashing: _Hashing | None = field(default=None, repr=False, compare=False)  # started by read_raw

    def content_hash(self) -> str:
        """The study's content hash (:func:`~cvm_kit.study.model.content_hash` of ``files``)."""
        if self.hashing is not None and self.hashing.hashes(self.files):
            return self.hashing.result()
        return content_hash(self.files)


def _read_yaml(text: str, label: str, problems: list[Problem],
               lines: dict[tuple[Any, ...], int] | None = None) -> dict[str, Any] | None:
    """Parse project.yaml (see :mod:`cvm_kit.yamlsafe`); ``lines`` receives the line of each key path."""
    try:
        data, yproblems, ylines = load_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        what = getattr(exc, "problem", None) or str(exc)[:300]
        problems.append(Problem(label, where, f"malformed YAML: {what}"))
        return None
    if lines is not None:
        lines.update(ylines)
    for yp in yproblems:
        problems.append(Problem(label, f"{yp.where}, line {yp.line}" if yp.where else f"line {yp.line}", yp.message))
    if yproblems and data is None:
        return None
    if data is None:
        problems.append(Problem(label, "", "the file is empty; expected the study model "
                                "(name, offering, subsegments, elements ...)"))
        return None
    if not isinstance(data, dict):
        problems.append(Problem(label, "", "expected a mapping of keys (name, offering, elements ...), "
                                f"found {type(data).__name__}"))
        return None
    return data


def _decode(raw: bytes, label: str, problems: list[Problem]) -> str | None:
    # other formats saved under a .csv/.yaml name: say what the file really is
    if raw.startswith(b"PK\x03\x04") or raw.startswith(b"\xd0\xcf\x11\xe0"):
        problems.append(Problem(label, "", "is an Excel workbook, not CSV text (saved with the wrong type); in Excel "
                                "use File > Save As > 'CSV UTF-8 (Comma delimited)' under this name"))
        return None
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        problems.append(Problem(label, "", "is UTF-16 text (Excel's 'Unicode Text'); save it as "
                                "'CSV UTF-8 (Comma delimited)' instead"))
        return None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        problems.append(
            Problem(label, f"line {line}, byte {exc.start}",
                    f"not UTF-8 text (byte 0x{raw[exc.start]:02x}); save the file as UTF-8"
                    + (" (CSV UTF-8 in Excel)" if label.lower().endswith(".csv")
                       else " (the editor's encoding setting)"))
        )
        return None
    if "\r" not in text:  # one scan of a 40 MB file, not two copies
        return text
    return text.replace("\r\n", "\n").replace("\r", "\n")


def read_raw(path: str | Path) -> tuple[RawStudy | None, list[Problem]]:
    """Read a study folder or workbook without checking its content."""
    path = Path(path)
    problems: list[Problem] = []
    if not path.exists():
        return None, [Problem(str(path), "", "no such study folder or workbook")]
    if path.is_file():
        if path.suffix.lower() in (".xlsx", ".xlsm"):
            return read_study_workbook(path)
        return None, [Problem(str(path), "", "expected a study folder or an .xlsx workbook")]

    files: dict[str, bytes] = {}
    tables: dict[str, pd.DataFrame] = {}
    project = None
    yaml_lines: dict[tuple[Any, ...], int] = {}
    present = [f for f in sorted(path.iterdir()) if f.is_file() and not f.name.startswith(".")]
    for name in (PROJECT_FILE, CUSTOMERS_FILE, MEASUREMENTS_FILE, *OPTIONAL_FILES):
        if (path / name).is_file():
            files[name] = (path / name).read_bytes()
            continue
        required = name in (PROJECT_FILE, CUSTOMERS_FILE, MEASUREMENTS_FILE)
        stand_in = _stand_in(name, present)
        if stand_in is not None:
            problems.append(Problem(name, "", stand_in, "error" if required else "warning"))
        elif required:
            problems.append(Problem(name, "", f"missing: a study folder needs {PROJECT_FILE}, {CUSTOMERS_FILE} "
                                    f"and {MEASUREMENTS_FILE}"))
    hashing = _Hashing(files)  # in a thread while the files are parsed and checked
    if PROJECT_FILE in files:
        text = _decode(files[PROJECT_FILE], PROJECT_FILE, problems)
        if text is not None:
            project = _read_yaml(text, PROJECT_FILE, problems, yaml_lines)
    for name, raw in files.items():
        if name.endswith(".csv"):
            df = _read_csv_file(raw, name, problems)
            if df is not None:
                tables[name] = df
    labels = {n: n for n in tables}
    return RawStudy(path, project, tables, labels, files, yaml_lines=yaml_lines, hashing=hashing), problems


def _read_csv_file(raw: bytes, name: str, problems: list[Problem]) -> pd.DataFrame | None:
    """A CSV file's bytes as a table: plain UTF-8 goes straight to pandas, anything else through :func:`_decode`."""
    plain = not raw.startswith((b"\xef\xbb\xbf", b"PK\x03\x04", b"\xd0\xcf\x11\xe0", b"\xff\xfe", b"\xfe\xff"))
    if plain and b"\r" not in raw:  # no BOM, no CR, not another format: the bytes are the text
        try:
            return _read_csv(raw, name, problems)
        except _Undecoded:
            pass  # not UTF-8, or not CSV: decoding the whole file names the line
    text = _decode(raw, name, problems)
    return read_csv_text(text, name, problems) if text is not None else None


def _stand_in(name: str, present: list[Path]) -> str | None:
    """What to say when ``name`` is missing but a file that was probably meant for it is there."""
    stem, suffix = name.rsplit(".", 1)
    for f in present:
        low = f.name.lower()
        if low == name:
            return f"found {f.name}: file names are case-sensitive; rename it {name}"
        fstem = low.rsplit(".", 1)[0] if "." in low else low
        if fstem != stem and fstem != name:
            continue
        if suffix == "yaml" and f.suffix.lower() == ".yml":
            return f"found {f.name}: rename it {name}"
        if f.suffix.lower() in (".xlsx", ".xlsm", ".xls", ".ods", ".numbers"):
            return (f"found {f.name}, a spreadsheet, where {name} belongs: cvm_kit reads CSV text here; in Excel use "
                    f"File > Save As > 'CSV UTF-8 (Comma delimited)' and name it {name}")
        return f"found {f.name} where {name} belongs: save it as CSV text named {name}"
    return None

# ---------------------------------------------------------------------------
# the workbook form (sheets mirror the folder's files; layout in cvm_kit.workbook)


def cell_text(v: Any) -> str:
    """A workbook cell as study text (whole floats without .0, dates as YYYY-MM-DD, empty for None)."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, (_dt.datetime,)):
        return v.date().isoformat() if v.time() == _dt.time(0) else v.isoformat()
    if isinstance(v, _dt.date):
        return v.isoformat()
    return str(v).strip()


def _sheet_rows(ws) -> tuple[list[str], list[tuple[int, list[Any]]]]:
    rows = ws.iter_rows(values_only=True)
    try:
        header = [(cell_text(h)) for h in next(rows)]
    except StopIteration:
        return [], []
    while header and header[-1] == "":
        header.pop()
    out: list[tuple[int, list[Any]]] = []
    for i, r in enumerate(rows, start=2):
        # a value right of the last named column widens the table (unnamed: reported by the caller, not dropped)
        last = max((j for j, v in enumerate(r) if v is not None and cell_text(v) != ""), default=-1)
        if last >= len(header):
            header += [""] * (last + 1 - len(header))
            for _, earlier in out:
                earlier += [None] * (len(header) - len(earlier))
        vals = list(r[: len(header)]) + [None] * (len(header) - len(r))
        if all(v is None or cell_text(v) == "" for v in vals):
            continue
        out.append((i, vals))
    return header, out


def _unsaved_formulas(path: Path, values: Any, label: str) -> list[Problem]:
    """One problem per formula cell without a saved result (a workbook written by a program, never opened in Excel).

    cvm_kit reads a formula's saved result, never computes it; with none the
    cell reads as empty ("empty value", "required key missing"), so say what
    it is. Only workbooks holding a formula are read a second time.
    """
    import zipfile

    try:
        with zipfile.ZipFile(path) as z:
            if not any(b"<f" in z.read(n) for n in z.namelist() if n.startswith("xl/worksheets/")):
                return []
        from openpyxl import load_workbook

        formulas = load_workbook(path, read_only=True, data_only=False)
    except Exception:  # noqa: BLE001 - the workbook was read once already: nothing more to say
        return []
    out = []
    for name in formulas.sheetnames:
        if name not in values.sheetnames:
            continue
        for frow, vrow in zip(formulas[name].iter_rows(), values[name].iter_rows()):
            for fc, vc in zip(frow, vrow):
                text = getattr(fc, "value", None)
                if isinstance(text, str) and text.startswith("=") and getattr(vc, "value", None) is None:
                    out.append(Problem(f"{label}[{name}]", f"cell {fc.coordinate}",
                                       f"a formula ({text[:60]}) with no saved result: cvm_kit reads a formula's "
                                       "saved value and never computes it; open and save the workbook in Excel, "
                                       "or type the value itself"))
    formulas.close()
    return out


def read_study_workbook(path: str | Path) -> tuple[RawStudy | None, list[Problem]]:
    """Read a study workbook into the raw form :func:`cvm_kit.study.validate` checks (see :mod:`cvm_kit.workbook`)."""
    from openpyxl import load_workbook

    path = Path(path)
    problems: list[Problem] = []
    label = path.name
    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a bad file
        return None, [Problem(label, "", f"cannot be read as an Excel workbook: {exc}")]
    sheets = set(wb.sheetnames)
    for need in ("project", "subsegments", "elements", "customers", "measurements"):
        if need not in sheets:
            problems.append(Problem(label, f"sheet {need}", "missing sheet; expected sheets "
                                    f"{', '.join(MODEL_SHEETS)}, customers, measurements"))
    problems += _unsaved_formulas(path, wb, label)

    reported: set[str] = set()

    def records(name: str) -> list[tuple[int, dict[str, Any]]]:
        if name not in sheets:
            return []
        header, rows = _sheet_rows(wb[name])
        dup = sorted({h for h in header if h and header.count(h) > 1})
        if dup and name not in reported:  # a dict keeps the last of two equal columns: say so
            reported.add(name)
            problems.append(Problem(f"{label}[{name}]", "header", f"column(s) {', '.join(dup)} appear more than once"))
        out = []
        for i, vals in rows:
            rec: dict[str, Any] = {}
            for h, v in zip(header, vals):
                rec.setdefault(h, v)  # the first of two equal columns (reported above)
            out.append((i, rec))
        return out

    # sheet rows of each model item, so problems can name "elements sheet, row 4"
    rows_of: dict[str, list[int]] = {sec: [i for i, _ in records(sec)]
                                     for sec in ("subsegments", "constants", "derived", "elements")}
    rows_of["project"] = [i for i, _ in records("project")]
    project = _project_keys(records("project"), label, problems)
    project["subsegments"] = [{k: cell_text(v) for k, v in r.items() if cell_text(v) != "" or k == "id"}
                              for _, r in records("subsegments")]
    project["constants"] = [{k: (v if k == "value" and isinstance(v, (int, float)) else cell_text(v))
                             for k, v in r.items() if cell_text(v) != ""} for _, r in records("constants")]
    project["derived"] = [{k: cell_text(v) for k, v in r.items()} for _, r in records("derived")]
    project["elements"] = [_element_record(r) for _, r in records("elements")]

    tables: dict[str, pd.DataFrame] = {}
    labels: dict[str, str] = {}
    files: dict[str, bytes] = {"workbook": path.read_bytes()}
    for sheet, fname in TABLE_SHEETS.items():
        if sheet not in sheets:
            continue
        header, rows = _sheet_rows(wb[sheet])
        dup = sorted({h for h in header if h and header.count(h) > 1})
        if dup:  # as in a CSV file: which of two equal columns holds the data is anybody's guess
            problems.append(Problem(f"{label}[{sheet}]", "header", f"column(s) {', '.join(dup)} appear more than once"))
            continue
        blank = [j for j, h in enumerate(header) if not h and any(cell_text(v[j]) for _, v in rows)]
        if blank:  # values under no name would be dropped without a word
            from openpyxl.utils import get_column_letter

            problems.append(Problem(f"{label}[{sheet}]", f"column {get_column_letter(blank[0] + 1)}",
                                    "has values but no header; name the column or delete its values"))
            continue
        keep = {j for j, h in enumerate(header) if h == "note"}  # free text kept as written, as in a CSV file
        df = pd.DataFrame([[("" if v is None else str(v)) if j in keep else cell_text(v) for j, v in enumerate(vals)]
                           for _, vals in rows], columns=header, dtype=object)
        if df.empty:
            df = pd.DataFrame(columns=header)
        df["line"] = [i for i, _ in rows]
        tables[fname] = df.astype({c: str for c in header})
        labels[fname] = f"{label}[{sheet}]"
    wb.close()
    raw = RawStudy(path, project, tables, labels, files, project_label=f"{label}[project]", project_lines=rows_of)
    return raw, problems


def _project_keys(rows: list[tuple[int, dict[str, Any]]], label: str, problems: list[Problem]) -> dict[str, Any]:
    """The ``project`` sheet's key/value rows as project.yaml data (``charter.team`` and percentiles split on ';')."""
    project: dict[str, Any] = {}
    charter: dict[str, Any] = {}
    key_rows: dict[str, int] = {}
    for i, rec in rows:
        key = cell_text(rec.get("key"))
        val = rec.get("value")
        if not key:
            continue
        if key in key_rows:  # the later row would silently win
            problems.append(Problem(f"{label}[project]", key,  # located as "key <key>" like every project problem
                                    f"key {key!r} appears twice (rows {key_rows[key]} and {i}); keep one"))
        key_rows.setdefault(key, i)
        if key.startswith("charter."):
            k = key.split(".", 1)[1]
            charter[k] = [t.strip() for t in cell_text(val).split(";") if t.strip()] if k == "team" else cell_text(val)
        elif key.split(".", 1)[0] in SECTIONS[1:] and "." in key:
            sec, k = key.split(".", 1)
            listed = k == "scenario_percentiles"  # written as "10; 50; 90"
            project.setdefault(sec, {})[k] = ([t.strip() for t in cell_text(val).split(";") if t.strip()] if listed
                                              else cell_text(val))
        elif key == "price":
            if cell_text(val):
                project["price"] = {"equation": cell_text(val)}
        else:
            project[key] = cell_text(val)
    if charter:
        project["charter"] = charter
    return project


def _element_record(r: dict[str, Any]) -> dict[str, Any]:
    """An ``elements`` sheet row as project.yaml data (one assumption per line, ``sub: status; ...``, a range)."""
    e: dict[str, Any] = {}
    for k, v in r.items():
        t = cell_text(v)
        if t == "" and k != "id":
            continue
        if k == "assumptions":
            e[k] = [a.strip() for a in t.split("\n") if a.strip()]
        elif k == "status_by_subsegment":
            pairs = [p.split(":", 1) for p in t.split(";") if p.strip()]
            e[k] = {p[0].strip(): (p[1].strip() if len(p) > 1 else "") for p in pairs}
        elif k in ("perceived_low", "perceived_high"):
            continue
        else:
            e[k] = t
    lo, hi = cell_text(r.get("perceived_low")), cell_text(r.get("perceived_high"))
    if lo or hi:
        e["perceived_range"] = [lo, hi]
    return e
