"""Writing a study: a folder (``project.yaml`` and the CSV tables) or one workbook.

Everything is written whole or not at all (a temporary name, then renamed);
the study's frames are only read. Study text goes into workbook cells as text,
never as a formula (the workbook layout is described in :mod:`cvm_kit.workbook`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from ..errors import CvmError
from ..io import atomic_dir, atomic_file
from .model import CUSTOMERS_FILE, ELEMENT_COLUMNS, MEASUREMENTS_FILE, PROJECT_FILE, SECTIONS, Study


def project_dict(study: Study) -> dict[str, Any]:
    """The ``project.yaml`` content of a study, as plain data."""
    d: dict[str, Any] = {
        "name": study.name,
        "offering": study.offering,
        "segment": study.segment,
        "next_best_alternative": study.next_best_alternative,
        "currency": study.currency,
        "period": study.period,
    }
    if study.charter is not None:
        c = study.charter
        ch: dict[str, Any] = {
            "business_issue": c.business_issue,
            "success": c.success,
            "sponsor": c.sponsor,
            "team": list(c.team),
        }
        if c.start:
            ch["start"] = c.start
        if c.end:
            ch["end"] = c.end
        d["charter"] = ch
    d["subsegments"] = []
    for s in study.subsegments:
        sd = {"id": s.id, "description": s.description}
        if s.next_best_alternative:
            sd["next_best_alternative"] = s.next_best_alternative
        d["subsegments"].append(sd)
    d["constants"] = [
        {"name": c.name, "value": c.value, "source": c.source}
        | ({"kind": c.kind} if c.kind != "data" else {})
        | ({"note": c.note} if c.note else {})
        for c in study.constants
    ]
    d["derived"] = [{"name": x.name, "equation": x.equation.text} for x in study.derived]
    if study.price is not None:
        d["price"] = {"equation": study.price.text}
    d["elements"] = []
    for e in study.elements:
        ed: dict[str, Any] = {"id": e.id, "name": e.name}
        if e.category:
            ed["category"] = e.category
        ed["status"] = e.status
        if e.equation is not None:
            ed["equation"] = e.equation.text
        if e.assumptions:
            ed["assumptions"] = list(e.assumptions)
        if e.status_by_subsegment:
            ed["status_by_subsegment"] = dict(e.status_by_subsegment)
        if e.perceived_range is not None:
            ed["perceived_range"] = list(e.perceived_range)
        if e.unit_hint:
            ed["unit"] = e.unit_hint
        if e.parity_margin is not None:
            ed["parity_margin"] = e.parity_margin
        d["elements"].append(ed)
    if study.parity_margin is not None:
        d["parity_margin"] = study.parity_margin
    if study.options:
        d["options"] = {k: list(v) if isinstance(v, tuple) else v for k, v in study.options.items()}
    if study.business_case:
        d["business_case"] = dict(study.business_case)
    return d


def _measurements_out(study: Study) -> pd.DataFrame:
    cols = ["customer_id", "variable", "value", "source", "reliability", "note"]
    return study.measurements[cols].copy()


def save_study(study: Study, path: str | Path) -> Path:
    """Write a study as a folder, or as a workbook when ``path`` ends in ``.xlsx``.

    The output is written whole or not at all (temporary name, then rename).
    Converting folder -> workbook -> folder gives back the same study.

    Examples
    --------
    >>> import tempfile, cvm_kit as cvm
    >>> study = cvm.load_study(cvm.example_path())
    >>> out = cvm.save_study(study, tempfile.mkdtemp() + "/study.xlsx")
    >>> cvm.load_study(out).name == study.name
    True
    """
    path = Path(path)
    if path.suffix.lower() == ".xlsx":
        with atomic_file(path) as tmp:
            write_study_workbook(study, tmp)
        return path
    with atomic_dir(path) as tmp:
        (tmp / PROJECT_FILE).write_text(
            yaml.safe_dump(project_dict(study), sort_keys=False, allow_unicode=True),
            encoding="utf-8",
        )
        study.customers.to_csv(tmp / CUSTOMERS_FILE, index=False)
        _measurements_out(study).to_csv(tmp / MEASUREMENTS_FILE, index=False)
        for name, df in (("prospects.csv", study.prospects), ("fieldwork.csv", study.fieldwork),
                         ("realized.csv", study.realized)):
            if df is not None:
                df.drop(columns=["line"], errors="ignore").to_csv(tmp / name, index=False)
    return path


# ---------------------------------------------------------------------------
# the workbook form


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


def _write_sheet(ws: Any, header: list[str], rows: list[list[Any]]) -> None:
    ws.append([_cell_text(h) for h in header])
    for i, r in enumerate(rows, start=2):
        for col, v in zip(header, r):
            if isinstance(v, str) and len(v) > EXCEL_CELL_LIMIT:
                raise CvmError(f"sheet {ws.title}, row {i}, column {col}: text of {len(v):,} characters is longer "
                               f"than an Excel cell holds ({EXCEL_CELL_LIMIT:,}); keep this study as a folder, "
                               "or shorten it")
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
    for sec in SECTIONS[1:]:
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
            rows.append([v.date().isoformat() if isinstance(v, pd.Timestamp) else (None if v is pd.NA else v)
                         for v in rec])
        _write_sheet(wb.create_sheet(sheet), [str(c) for c in df.columns], rows)
    wb.save(path)
