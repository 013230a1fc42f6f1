"""Writing data-gathering worksheets: one Excel workbook per customer."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..equations import normalize_phrase
from ..study import RELIABILITIES, SOURCES, Study
from .layout import COLUMNS, FILL, SHEET

__all__ = ["safe_stem", "text_cell", "worksheet_rows", "write_worksheets"]

_INSTRUCTIONS = (
    "Fill the shaded columns for every input you can: value (a plain number in the unit hinted), "
    "source (data = records or measured; estimate = the customer's estimate; perception = the customer's "
    "opinion; assumption = the team's), reliability (high, medium, low) and a note on how it was obtained. "
    "Leave a value empty if unknown. Do not rename the sheet or the column headers."
)


# unit words recognised in phrases, in priority order
_UNIT_WORDS = (
    (r"\bkwh\b", "kWh"), (r"\bmwh\b", "MWh"), (r"\bhours?\b", "hours"), (r"\bminutes?\b", "minutes"),
    (r"\bdays?\b", "days"), (r"\bweeks?\b", "weeks"), (r"\btonnes?\b|\btons?\b", "tonnes"),
    (r"\bkg\b", "kg"), (r"\blitres?\b|\bliters?\b", "litres"), (r"\bshare\b|\brate\b|\bpercent", "share (0.25 = 25%)"),
)


_MONEY = r"\bprice\b|\bcosts?\b|\bmargin\b|\brevenue\b|\bspend\b|\bsavings?\b|\bfees?\b"


def _unit_hint(phrase: str, users: Sequence[str], study: Study) -> str:
    """A unit guessed from the phrase's words, else the unit of the element using it.

    Money is a money word, the study's currency or a currency sign before any
    "per" ("pro" in German phrases): "CHF pro kWh" is CHF per kWh, not kWh.

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> s = cvm.load_study(cvm.example_path())
    >>> _unit_hint("EUR per kWh", [], s), _unit_hint("Energiepreis pro kWh", [], s), _unit_hint("kWh per year", [], s)
    ('EUR per kWh', 'number per kWh', 'kWh per year')
    """
    per = re.search(r"\b(?:per|pro)\s+([^,;()]+)", phrase, re.I)
    per_text = f" per {per.group(1).strip()}" if per else ""
    before_per = phrase[: per.start()] if per else phrase
    currency = rf"\b{re.escape(study.currency)}\b|[€$£¥]" if study.currency else r"[€$£¥]"
    if re.search(_MONEY, before_per, re.I) or re.search(currency, before_per):
        return f"{study.currency}{per_text}"
    for pattern, unit in _UNIT_WORDS:
        if re.search(pattern, before_per, re.I):
            return f"{unit}{per_text}"
    if per_text:
        return f"number{per_text}"
    for u in users:
        if u != "price":
            hint = study.element(u).unit_hint
            if hint:
                return hint
    return "number"


def _used_by_text(study: Study, users: Sequence[str]) -> str:
    parts = []
    for u in users:
        parts.append("price difference" if u == "price" else f"{u} ({study.element(u).name})")
    return "; ".join(parts)


def worksheet_rows(study: Study, customer_id: str) -> pd.DataFrame:
    """The rows of one customer's worksheet (what :func:`write_worksheets` writes).

    Every input the customer's equations need (elements that are points of
    parity in its subsegment need nothing), then the study constants those
    equations use, which the customer may override with its own figure.

    Returns
    -------
    DataFrame
        ``phrase, used_by, unit_hint, value_on_file, on_file_from, constant``
        (``constant`` True for study-constant rows). ``value_on_file`` is the
        mean of the customer's own rows (NaN if none).

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> from cvm_kit.worksheets import worksheet_rows
    >>> rows = worksheet_rows(cvm.load_study(cvm.example_path()), "C01")
    >>> list(rows.columns)[:3]
    ['phrase', 'used_by', 'unit_hint']
    """
    from .. import values as V

    V.require_customer(study, customer_id)
    sub = study.customers.loc[study.customers["customer_id"] == customer_id, "subsegment"].iloc[0]
    display = V.display_names(study)
    users = V.phrase_users(study)
    table = V.measurement_table(study)
    own = table[table["customer_id"] == customer_id].set_index("phrase")
    m = study.measurements
    m = m[m["customer_id"] == customer_id]
    consts = {normalize_phrase(c.name): c for c in study.constants}
    rows = []
    for p in V.input_phrases(study):
        need = V.needed_for(study, users.get(p, []), sub)
        if not need:
            continue
        shown = display.get(p, p)
        if p in own.index:
            r = own.loc[p]
            notes = [n for n in m.loc[m["phrase"] == p, "note"] if n]
            src = f"{int(r['n'])} rows, mean" if int(r["n"]) > 1 else "1 row"
            from_text = f"{src}; source {r['source']}" + (f"; {' | '.join(notes)}" if notes else "")
            on_file = float(r["value"])
        else:
            from_text, on_file = "", np.nan
        if p in consts:
            c = consts[p]
            const_text = f"study constant {c.value:g}" + (f" ({c.source})" if c.source else "") + \
                " applies unless this customer's own figure is filled"
            from_text = f"{from_text}; {const_text}" if from_text else const_text
        rows.append((shown, _used_by_text(study, need), _unit_hint(shown, need, study), on_file, from_text,
                     p in consts))
    out = pd.DataFrame(rows, columns=["phrase", "used_by", "unit_hint", "value_on_file", "on_file_from", "constant"])
    # customers' own inputs first, the overridable constants after
    return out.sort_values("constant", kind="stable").reset_index(drop=True)


def safe_stem(text: str) -> str:
    """``text`` as a safe file name stem: letters, digits, ``. _ -`` only, at most 80 characters.

    Parameters
    ----------
    text : str

    Returns
    -------
    str
        ``"customer"`` if nothing is left.

    Examples
    --------
    >>> safe_stem("ACME / Plant #2")
    'ACME_Plant_2'
    """
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", str(text)).strip("._")
    return stem[:80] or "customer"


def text_cell(ws: Any, row: int, col: int, text: object) -> Any:
    """Write study text as an explicit string cell (a leading '=' stays text).

    Control characters an .xlsx cannot hold (ESC, BEL, NUL ...) become ``?``
    rather than stopping the workbook.

    Parameters
    ----------
    ws : openpyxl.worksheet.worksheet.Worksheet
    row, col : int
        1-based cell position.
    text : object
        Written as ``str(text)`` (``""`` for None).

    Returns
    -------
    openpyxl.cell.cell.Cell
        The cell, for styling.
    """
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    cell = ws.cell(row=row, column=col)
    cell.value = "" if text is None else ILLEGAL_CHARACTERS_RE.sub("?", str(text))
    cell.data_type = "s"
    return cell


def _write_one(study: Study, customer_id: str, path: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill, Protection
    from openpyxl.worksheet.datavalidation import DataValidation

    rows = worksheet_rows(study, customer_id)
    cust = study.customers.set_index("customer_id").loc[customer_id]
    sub = str(cust["subsegment"])
    subseg = study.subsegment(sub)
    wb = Workbook()
    ws = wb.active
    ws.title = SHEET
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="FFF2CC")
    ws.cell(row=1, column=1, value="Data-gathering worksheet").font = Font(bold=True, size=14)
    header = [
        ("Segment", study.segment),
        ("Customer", customer_id),
        ("Subsegment", f"{sub}" + (f": {subseg.description}" if subseg.description else "")),
        ("Offering", study.offering),
        ("Next-best-alternative", study.alternative_for(sub)),
        ("Period", f"values per customer per {study.period}; money in {study.currency}"),
        ("Instructions", _INSTRUCTIONS),
    ]
    for i, (label, text) in enumerate(header, start=2):
        text_cell(ws, i, 1, label).font = bold
        c = text_cell(ws, i, 2, text)
        c.alignment = Alignment(wrap_text=label == "Instructions", vertical="top")
    irow = 1 + len(header)  # the instructions line, last of the block
    ws.merge_cells(start_row=irow, start_column=2, end_row=irow, end_column=len(COLUMNS))
    ws.row_dimensions[irow].height = 60
    hrow = len(header) + 3  # one blank row after the header block
    for j, name in enumerate(COLUMNS, start=1):
        c = text_cell(ws, hrow, j, name)
        c.font = bold
        if name in FILL:
            c.fill = fill
    first = hrow + 1
    for i, r in enumerate(rows.itertuples(index=False), start=first):
        text_cell(ws, i, 1, r.phrase)
        text_cell(ws, i, 2, r.used_by)
        text_cell(ws, i, 3, r.unit_hint)
        if not np.isnan(r.value_on_file):
            ws.cell(row=i, column=4, value=float(r.value_on_file))
        text_cell(ws, i, 5, r.on_file_from)
        for j, name in enumerate(COLUMNS, start=1):
            if name in FILL:
                c = ws.cell(row=i, column=j)
                c.protection = Protection(locked=False)
                c.fill = fill
    last = max(first, first + len(rows) - 1)
    col = {name: j for j, name in enumerate(COLUMNS, start=1)}

    def letter(name: str) -> str:
        from openpyxl.utils import get_column_letter

        return get_column_letter(col[name])

    dv_src = DataValidation(type="list", formula1='"' + ",".join(SOURCES) + '"', allow_blank=True,
                            showErrorMessage=True, errorTitle="source",
                            error="Choose data, estimate, perception or assumption.")
    dv_rel = DataValidation(type="list", formula1='"' + ",".join(RELIABILITIES) + '"', allow_blank=True,
                            showErrorMessage=True, errorTitle="reliability", error="Choose high, medium or low.")
    dv_val = DataValidation(type="decimal", operator="between", formula1="-1E+300", formula2="1E+300",
                            allow_blank=True, showErrorMessage=True, errorTitle="value",
                            error="Type a plain number (no units, no thousands separators).")
    for dv, name in ((dv_src, "source"), (dv_rel, "reliability"), (dv_val, "value")):
        ws.add_data_validation(dv)
        dv.add(f"{letter(name)}{first}:{letter(name)}{last}")
    widths = {"phrase": 42, "used by": 34, "unit hint": 20, "value on file": 14, "on file from": 36, "value": 14,
              "source": 13, "reliability": 12, "note": 40}
    for name, w in widths.items():
        ws.column_dimensions[letter(name)].width = w
    ws.column_dimensions["A"].width = max(widths["phrase"], 22)
    ws.freeze_panes = ws.cell(row=first, column=2)
    # Locked sheet and workbook structure: the fill cells stay editable, the
    # phrases, headers and sheet name (which the import relies on) do not.
    # No password: this guards against slips, not against the customer.
    ws.protection.sheet = True
    ws.protection.formatColumns = False
    ws.protection.formatRows = False
    wb.security.lockStructure = True
    wb.save(path)


def write_worksheets(study: Study, out_dir: str | Path, *, customers: Iterable[str] | None = None) -> list[Path]:
    """Write one data-gathering workbook per customer.

    Parameters
    ----------
    study : Study
    out_dir : str or Path
        Folder for the workbooks (created if needed).
    customers : iterable of str, optional
        Customer ids; default every customer of the study.

    Returns
    -------
    list of Path
        The workbooks written, ``<customer>_inputs.xlsx``, each written whole
        or not at all. The sheet ``inputs`` holds a header block (segment,
        customer, subsegment, offering, next-best-alternative, period,
        instructions; not the study's name, which may be internal) and the table ``phrase, used by, unit hint, value on
        file, on file from, value, source, reliability, note``.

    Examples
    --------
    >>> import tempfile, cvm_kit as cvm
    >>> from cvm_kit.worksheets import write_worksheets
    >>> study = cvm.load_study(cvm.example_path())
    >>> paths = write_worksheets(study, tempfile.mkdtemp(), customers=["C01"])
    >>> paths[0].name
    'C01_inputs.xlsx'
    """
    from .. import values as V
    from ..io import atomic_file

    ids = list(study.customers["customer_id"]) if customers is None else list(dict.fromkeys(customers))
    for cid in ids:
        V.require_customer(study, cid)
    out_dir = Path(out_dir)
    written: list[Path] = []
    used: set[str] = set()
    for cid in ids:
        stem = f"{safe_stem(cid)}_inputs"  # no study name: the file goes to the customer
        name, k = stem, 2
        while name.casefold() in used:  # two ids that sanitise alike
            name, k = f"{stem}_{k}", k + 1
        used.add(name.casefold())
        path = out_dir / f"{name}.xlsx"
        with atomic_file(path) as tmp:
            _write_one(study, cid, tmp)
        written.append(path)
    return written
