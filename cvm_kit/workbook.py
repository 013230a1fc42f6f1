"""The one-workbook form of a study (sheets mirror the folder's files).

Sheets: ``project`` (key/value; charter keys as ``charter.<key>``, price as
``price``), ``subsegments``, ``constants``, ``derived``, ``elements``,
``customers``, ``measurements`` and optionally ``prospects``, ``fieldwork``,
``realized``. In ``elements``, ``assumptions`` holds one assumption per line,
``status_by_subsegment`` reads ``low_volume: parity; high_volume: difference``
and ``perceived_range`` is split into ``perceived_low``/``perceived_high``.
Study text is always written as text cells, never as formulas.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any

import pandas as pd

from .errors import Problem
from .study import CUSTOMERS_FILE, MEASUREMENTS_FILE, PROJECT_FILE, Study, project_dict

_TABLE_SHEETS = {"customers": CUSTOMERS_FILE, "measurements": MEASUREMENTS_FILE, "prospects": "prospects.csv",
                 "fieldwork": "fieldwork.csv", "realized": "realized.csv"}
_MODEL_SHEETS = ("project", "subsegments", "constants", "derived", "elements")
ELEMENT_COLUMNS = ["id", "name", "category", "status", "equation", "assumptions", "status_by_subsegment",
                   "perceived_low", "perceived_high", "unit", "parity_margin"]
_SECTIONS = ("charter", "options", "business_case")  # project keys written as "<section>.<key>"


def _text(v: Any) -> str:
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
        header = [(_text(h)) for h in next(rows)]
    except StopIteration:
        return [], []
    while header and header[-1] == "":
        header.pop()
    out = []
    for i, r in enumerate(rows, start=2):
        vals = list(r[: len(header)]) + [None] * (len(header) - len(r))
        if all(v is None or _text(v) == "" for v in vals):
            continue
        out.append((i, vals))
    return header, out


def read_study_workbook(path: str | Path):
    """Read a study workbook into the raw form :func:`cvm_kit.validate.validate` checks."""
    from openpyxl import load_workbook

    from .validate import RawStudy

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
            problems.append(Problem(label, f"sheet {need}", f"missing sheet; expected sheets {', '.join(_MODEL_SHEETS)}, customers, measurements"))

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
    rows_of: dict[str, list[int]] = {sec: [i for i, _ in records(sec)] for sec in ("subsegments", "constants", "derived", "elements")}
    rows_of["project"] = [i for i, _ in records("project")]
    project: dict[str, Any] = {}
    charter: dict[str, Any] = {}
    key_rows: dict[str, int] = {}
    for i, rec in records("project"):
        key = _text(rec.get("key"))
        val = rec.get("value")
        if not key:
            continue
        if key in key_rows:  # the later row would silently win
            problems.append(Problem(f"{label}[project]", key,  # located as "key <key>" like every project problem
                                    f"key {key!r} appears twice (rows {key_rows[key]} and {i}); keep one"))
        key_rows.setdefault(key, i)
        if key.startswith("charter."):
            k = key.split(".", 1)[1]
            charter[k] = [t.strip() for t in _text(val).split(";") if t.strip()] if k == "team" else _text(val)
        elif key.split(".", 1)[0] in _SECTIONS[1:] and "." in key:
            sec, k = key.split(".", 1)
            listed = k == "scenario_percentiles"  # written as "10; 50; 90"
            project.setdefault(sec, {})[k] = ([t.strip() for t in _text(val).split(";") if t.strip()] if listed
                                              else _text(val))
        elif key == "price":
            if _text(val):
                project["price"] = {"equation": _text(val)}
        else:
            project[key] = _text(val)
    if charter:
        project["charter"] = charter
    project["subsegments"] = [{k: _text(v) for k, v in r.items() if _text(v) != "" or k == "id"} for _, r in records("subsegments")]
    project["constants"] = [{k: (v if k == "value" and isinstance(v, (int, float)) else _text(v))
                             for k, v in r.items() if _text(v) != ""} for _, r in records("constants")]
    project["derived"] = [{k: _text(v) for k, v in r.items()} for _, r in records("derived")]
    elements = []
    for _, r in records("elements"):
        e: dict[str, Any] = {}
        for k, v in r.items():
            t = _text(v)
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
        lo, hi = _text(r.get("perceived_low")), _text(r.get("perceived_high"))
        if lo or hi:
            e["perceived_range"] = [lo, hi]
        elements.append(e)
    project["elements"] = elements

    tables: dict[str, pd.DataFrame] = {}
    labels: dict[str, str] = {}
    files: dict[str, bytes] = {"workbook": path.read_bytes()}
    for sheet, fname in _TABLE_SHEETS.items():
        if sheet not in sheets:
            continue
        header, rows = _sheet_rows(wb[sheet])
        df = pd.DataFrame([[_text(v) for v in vals] for _, vals in rows], columns=header, dtype=object)
        if df.empty:
            df = pd.DataFrame(columns=header)
        df["line"] = [i for i, _ in rows]
        tables[fname] = df.astype({c: str for c in header})
        labels[fname] = f"{label}[{sheet}]"
    wb.close()
    raw = RawStudy(path, project, tables, labels, files, project_label=f"{label}[project]", project_lines=rows_of)
    return raw, problems


EXCEL_CELL_LIMIT = 32_767  # characters Excel keeps in one cell; openpyxl would cut the rest


def _cell_text(v: Any) -> Any:
    """Control characters Excel cannot store (ESC, BEL, NUL ...; not tab or line breaks) written as ``\\x1b``.

    Validation keeps them out of ids and names; free text (a note, the study
    name) may hold them, and openpyxl would refuse the whole workbook.
    """
    if isinstance(v, str):
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

        return ILLEGAL_CHARACTERS_RE.sub(lambda m: f"\\x{ord(m.group()):02x}", v)
    return v


def _write_sheet(ws, header: list[str], rows: list[list[Any]]) -> None:
    from .errors import CvmError

    ws.append([_cell_text(h) for h in header])
    for i, r in enumerate(rows, start=2):
        for col, v in zip(header, r):
            if isinstance(v, str) and len(v) > EXCEL_CELL_LIMIT:
                raise CvmError(f"sheet {ws.title}, row {i}, column {col}: text of {len(v):,} characters is longer than "
                               f"an Excel cell holds ({EXCEL_CELL_LIMIT:,}); keep this study as a folder, or shorten it")
    for r in rows:
        ws.append([None if (isinstance(v, float) and pd.isna(v)) else _cell_text(v) for v in r])
    # study text is data, never a formula: force string cells
    for row in ws.iter_rows(min_row=1):
        for cell in row:
            if isinstance(cell.value, str):
                cell.data_type = "s"


def write_study_workbook(study: Study, path: str | Path) -> None:
    """Write ``study`` as one workbook (see the module docstring for the layout)."""
    from openpyxl import Workbook

    d = project_dict(study)
    wb = Workbook()
    ws = wb.active
    ws.title = "project"
    kv = [[k, d[k]] for k in ("name", "offering", "segment", "next_best_alternative", "currency", "period")]
    for k, v in (d.get("charter") or {}).items():
        kv.append([f"charter.{k}", "; ".join(v) if k == "team" else (v.isoformat() if hasattr(v, "isoformat") else v)])
    if "price" in d:
        kv.append(["price", d["price"]["equation"]])
    if "parity_margin" in d:
        kv.append(["parity_margin", d["parity_margin"]])
    for sec in _SECTIONS[1:]:
        for k, v in (d.get(sec) or {}).items():
            kv.append([f"{sec}.{k}", "; ".join(f"{x:g}" for x in v) if isinstance(v, (list, tuple)) else v])
    _write_sheet(ws, ["key", "value"], kv)
    _write_sheet(wb.create_sheet("subsegments"), ["id", "description", "next_best_alternative"],
                 [[s.id, s.description, s.next_best_alternative] for s in study.subsegments])
    _write_sheet(wb.create_sheet("constants"), ["name", "value", "source", "kind", "note"],
                 [[c.name, c.value, c.source, c.kind, c.note] for c in study.constants])
    _write_sheet(wb.create_sheet("derived"), ["name", "equation"], [[x.name, x.equation.text] for x in study.derived])
    erows = []
    for e in study.elements:
        rng = e.perceived_range or (None, None)
        erows.append([e.id, e.name, e.category or "", e.status, e.equation.text if e.equation else "",
                      "\n".join(e.assumptions), "; ".join(f"{k}: {v}" for k, v in e.status_by_subsegment.items()),
                      rng[0], rng[1], e.unit_hint, e.parity_margin])
    _write_sheet(wb.create_sheet("elements"), ELEMENT_COLUMNS, erows)
    frames = {"customers": study.customers,
              "measurements": study.measurements[["customer_id", "variable", "value", "source", "reliability", "note"]],
              "prospects": study.prospects, "fieldwork": study.fieldwork, "realized": study.realized}
    for sheet, df in frames.items():
        if df is None:
            continue
        df = df.drop(columns=["line"], errors="ignore")
        rows = []
        for rec in df.itertuples(index=False):
            rows.append([(v.date().isoformat() if isinstance(v, pd.Timestamp) else (None if v is pd.NA else v)) for v in rec])
        _write_sheet(wb.create_sheet(sheet), [str(c) for c in df.columns], rows)
    wb.save(path)


__all__ = ["read_study_workbook", "write_study_workbook", "PROJECT_FILE"]
