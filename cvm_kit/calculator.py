"""The value calculator as a spreadsheet a sales person uses without Python.

:func:`write_calculator` writes an ``.xlsx`` workbook whose element values
and totals are live Excel formulas translated from the study's own word
equations (:meth:`~cvm_kit.equations.Equation.to_excel`), so the workbook and
cvm_kit never disagree:

- ``Inputs``: a scenario drop-down (named ``scenario``: the customer's own
  inputs, or the subsegment's means, then conservative / base / optimistic =
  the 10th / 50th / 90th percentile of each input across the subsegment's
  customers, oriented so that conservative is the low-value side for the net
  value: :func:`cvm_kit.values.input_scenarios`), then every input phrase
  with an editable column per scenario and the value in use, a live formula
  given an Excel defined name derived from the phrase
  (``in_hours_lost_alternative``);
- ``Elements``: derived quantities (named ``dq_...``), then each element's
  value (named ``el_<id>``), then the placeholders with their perceived range,
  never summed;
- ``Totals``: differential value, contention value, price difference, net
  value (named ``tot_...``);
- ``Assumptions``: :func:`cvm_kit.estimates.assumptions`.

Missing inputs: a customer's input with no value is left empty and its note
says so. Every formula first checks that its own inputs are numbers
(``IF(COUNT(in_a,in_b)<2,NA(),...)``), so an element resting on an empty input
shows ``#N/A``, and the totals too, just as cvm_kit leaves them missing;
without that check Excel would silently read the empty cell as 0. A division
by zero or an overflow anywhere in an equation shows ``#N/A`` too
(``IFERROR(..., NA())``), as cvm_kit leaves the value missing.

Customer-safe: a customer's calculator holds that customer's inputs, notes
and assumed values, the study's constants and equations, and its
subsegment's statistics only; never another customer's id, figure or note.

Cached results are written with every formula (XlsxWriter), so viewers that
do not recalculate show cvm_kit's numbers. Study text is always written as
text cells, never as formulas.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .calculator_case import _basis, _case, _own_basis, _safe_assumptions
from .equations import Equation, normalize_phrase
from .errors import CvmError
from .study import Study

SHEETS = ("Inputs", "Elements", "Totals", "Assumptions")
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")
_CELL_LIKE = re.compile(r"^([A-Za-z]{1,3}\d+|[Rr]\d*[Cc]\d*|[Rr]|[Cc])$")


def excel_name(prefix: str, text: str, used: set[str]) -> str:
    """A valid, unique Excel defined name for ``text``: ``<prefix>_<ascii_slug>``.

    The slug keeps ASCII letters and digits (accents dropped, the rest
    becomes ``_``), lower case, at most 60 characters; a clash (names are
    case-insensitive in Excel) gets ``_2``, ``_3`` ... ``used`` is updated.

    Examples
    --------
    >>> used = set()
    >>> excel_name("in", "Hours lost, alternative", used)
    'in_hours_lost_alternative'
    >>> excel_name("in", "Hours lost – alternative!", used)
    'in_hours_lost_alternative_2'
    """
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^A-Za-z0-9]+", "_", ascii_text).strip("_").lower()[:60] or "x"
    base = f"{prefix}_{slug}"
    name, k = base, 2
    while name.casefold() in used:
        name, k = f"{base}_{k}", k + 1
    if not _NAME_RE.match(name) or _CELL_LIKE.match(name) or len(name) > 255:  # pragma: no cover - by construction
        raise CvmError(f"cannot make an Excel name from {text!r}")
    used.add(name.casefold())
    return name


def _ref(sheet: str, row: int, col: int) -> str:
    from xlsxwriter.utility import xl_rowcol_to_cell

    return f"={sheet}!{xl_rowcol_to_cell(row, col, row_abs=True, col_abs=True)}"


def _guarded(eq: Equation, names: dict[str, str], input_names: dict[str, str]) -> str:
    """The equation as an Excel formula that yields #N/A unless it has a finite result.

    ``COUNT`` checks that its own inputs are numbers (Excel would read an
    empty cell as 0); ``IFERROR(..., NA())`` turns a division by zero or an
    overflow anywhere inside (``#DIV/0!``, ``#NUM!``) into ``#N/A``, the same
    "no value" cvm_kit gives. Excel never lets ``MAX``/``MIN`` absorb an error,
    so, as in cvm_kit, no later step can hide one.
    """
    body = f"IFERROR({eq.to_excel(names)},NA())"
    direct = list(dict.fromkeys(input_names[p] for p in eq.phrases if p in input_names))
    if not direct:
        return "=" + body
    return f"=IF(COUNT({','.join(direct)})<{len(direct)},NA(),{body})"


def _cached(value: float) -> float | str:
    """The value Excel shows: the number, or ``#N/A`` (cvm_kit's missing value)."""
    return float(value) if np.isfinite(value) else "#N/A"


def _sum_cached(parts: list[float | str]) -> float | str:
    for v in parts:  # Excel gives the leftmost error
        if isinstance(v, str):
            return v
    return float(sum(v for v in parts if not isinstance(v, str)))  # every part is a number here


def write_calculator(study: Study, path: str | Path, *, customer: str | None = None,
                     subsegment: str | None = None, percentiles: Sequence[float] | None = None,
                     band: float = 0.2) -> Path:
    """Write the spreadsheet value calculator for a customer or a subsegment.

    Parameters
    ----------
    study : Study
    path : str or Path
        The ``.xlsx`` to write (whole or not at all).
    customer : str, optional
        A studied customer: its own inputs (constants where it has none).
    subsegment : str, optional
        A subsegment: the means of its customers' inputs
        (:func:`~cvm_kit.values.subsegment_input_means`). Default, when neither
        is given: the first subsegment of ``project.yaml``.
    percentiles : three numbers, optional
        A subsegment's scenarios: the low, mid and high percentiles of its
        customers' values (default the study option ``scenario_percentiles``,
        else 10, 50, 90; see :func:`cvm_kit.values.scenario_percentiles`).
    band : float
        A customer's scenarios: its own figures moved this share to the
        low-value and high-value side (default 0.2;
        :func:`cvm_kit.values.own_scenarios`). A customer's workbook holds no
        statistic of its peers' inputs: a percentile of a few customers is
        one of their figures.

    Returns
    -------
    Path
        The workbook, with sheets ``Inputs`` (a scenario drop-down named
        ``scenario``, then ``phrase, value, kind, source, note, Excel name``
        and the editable scenario columns ``Customer`` (or ``Subsegment
        mean``), ``Conservative``, ``Base``, ``Optimistic`` with their basis;
        each ``value`` is a live formula picking the selected scenario's
        column), ``Elements`` (derived quantities; ``element,
        name, category, status, value, equation``; placeholders with
        ``perceived low, perceived high``), ``Totals`` (``differential value,
        contention value, price difference, net value``) and ``Assumptions``
        (``kind, subject, assumption``). Value cells are live formulas with
        cached results equal to :func:`cvm_kit.values.evaluate` (first
        scenario selected).

        Customer-safe: a customer's calculator holds that customer's inputs,
        notes and assumptions and the study's constants and equations
        only (its scenarios move its own figures); a subsegment's holds
        subsegment statistics only (means, and percentiles of at least
        :data:`~cvm_kit.values.MIN_SCENARIO_CUSTOMERS` customers). No other
        customer's id, figure or note is in a customer's workbook, in any
        cell, name or document property.

    Raises
    ------
    CvmError
        Unknown customer, both a customer and a subsegment given, or
        XlsxWriter missing.

    Examples
    --------
    >>> import tempfile, cvm_kit as cvm
    >>> from cvm_kit.calculator import write_calculator
    >>> study = cvm.load_study(cvm.example_path())
    >>> write_calculator(study, tempfile.mkdtemp() + "/calc.xlsx", customer="C01").suffix
    '.xlsx'
    """
    from . import values as V
    from .io import atomic_file

    try:
        import xlsxwriter
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise CvmError("XlsxWriter is needed to write the calculator workbook: pip install xlsxwriter") from exc
    try:
        sub, label, inputs, info = _case(study, customer, subsegment)
    except KeyError as exc:
        raise CvmError(str(exc.args[0]) if exc.args else str(exc)) from None

    env = V.what_if_environment(study, inputs, sub)
    results = V.evaluate(study, inputs, subsegment=sub).iloc[0]
    first = "Customer" if customer is not None else "Subsegment mean"
    path = Path(path)
    with atomic_file(path) as tmp:
        wb = xlsxwriter.Workbook(str(tmp), {"strings_to_formulas": False, "strings_to_numbers": False,
                                            "strings_to_urls": False})
        book = _Book(wb)
        _inputs_sheet(book, study, customer, sub, label, first, inputs, info, percentiles, band)
        element_cells = _elements_sheet(book, study, sub, env, results)
        _totals_sheet(book, study, sub, label, first, element_cells, results)
        _assumptions_sheet(book, study, customer, sub)
        # document properties: set explicitly, naming nothing beyond the study and this calculator
        wb.set_properties({"title": f"Value calculator: {study.offering}", "subject": label,
                           "author": "", "company": "", "comments": ""})
        wb.close()
    return path


class _Book:
    """The workbook being written, its cell formats and the defined names given so far."""

    def __init__(self, wb) -> None:
        self.wb = wb
        self.bold = wb.add_format({"bold": True})
        self.title = wb.add_format({"bold": True, "font_size": 14})
        self.wrap = wb.add_format({"text_wrap": True, "valign": "top"})
        self.money = wb.add_format({"num_format": "#,##0.00", "locked": True})
        self.fill = wb.add_format({"bg_color": "#FFF2CC", "locked": False, "num_format": "General"})
        self.total = wb.add_format({"bold": True, "num_format": "#,##0.00", "top": 1})
        self.used: set[str] = set()  # defined names taken (case-folded by excel_name)
        self.names: dict[str, str] = {}  # normalized phrase -> defined name (inputs and derived quantities)
        self.input_names: dict[str, str] = {}  # normalized input phrase -> defined name


def _scenario_picker(book: _Book, ws, srow: int, hdr: int, first: str) -> None:
    """The scenario drop-down (named ``scenario``) and the index of the column it picks (``scenario_index``)."""
    from xlsxwriter.utility import xl_rowcol_to_cell

    ws.write_string(srow, 0, "Scenario", book.bold)
    ws.write_string(srow, 1, first, book.fill)
    ws.data_validation(srow, 1, srow, 1, {
        "validate": "list", "source": f"=$G${hdr + 1}:$J${hdr + 1}",
        "input_title": "Scenario", "input_message": "Pick the inputs the values use",
        "error_title": "Scenario", "error_message": "Pick one of the listed scenarios"})
    book.wb.define_name("scenario", _ref("Inputs", srow, 1))
    book.used.add("scenario")
    # which column the values come from: compared with the column headers (no text in any formula)
    heads = [xl_rowcol_to_cell(hdr, c, row_abs=True, col_abs=True) for c in range(6, 10)]
    ws.write_formula(srow, 2, "=" + "".join(f"IF(scenario={h},{k}," for k, h in enumerate(heads, 1))
                     + "NA()" + ")" * len(heads), None, 1)
    book.wb.define_name("scenario_index", _ref("Inputs", srow, 2))
    book.used.add("scenario_index")


def _inputs_sheet(book: _Book, study: Study, customer: str | None, sub: str, label: str, first: str,
                  inputs: pd.DataFrame, info: dict, percentiles: Sequence[float] | None, band: float) -> None:
    """The ``Inputs`` sheet: header, scenario picker, one named live value per input phrase."""
    from xlsxwriter.utility import xl_rowcol_to_cell

    from . import values as V

    display = V.display_names(study)
    consts = {normalize_phrase(c.name) for c in study.constants}
    consts_value = {normalize_phrase(c.name): c.value for c in study.constants}
    ws = book.wb.add_worksheet("Inputs")
    ws.write_string(0, 0, f"Value calculator: {study.offering} versus {study.alternative_for(sub)}", book.title)
    low, mid, high = V.scenario_percentiles(study, percentiles)
    n_sub = int((study.customers["subsegment"] == sub).sum())
    options = [first, "Conservative", "Base", "Optimistic"]
    head = ([] if customer is not None else [("Study", study.name)]) + [  # a study's name may be internal
        ("For", label), ("Segment", study.segment),
            ("Money", f"{study.currency} per customer per {study.period}"),
            ("How to use", "Pick a scenario below and change the shaded values; the Elements and Totals "
                           "sheets recalculate. An empty input makes the elements using it show #N/A "
                           "(never a silent 0), as does a division by zero; an emptied study constant "
                           "takes the study's figure again.")]
    for i, (k, v) in enumerate(head, start=1):
        ws.write_string(i, 0, k, book.bold)
        ws.write_string(i, 1, v)
    srow = len(head) + 1
    hdr = srow + 2
    _scenario_picker(book, ws, srow, hdr, first)
    if customer is not None:  # its own figures moved either way: a peer's figure is never in its workbook
        ws.write_string(srow, 3, f"{first}: the customer's own values (constants where it has none). "
                                 f"Conservative / Base / Optimistic: each value {band:.0%} to the low-value side "
                                 f"/ as it is / {band:.0%} to the high-value side for the net value.")
        own = {c: float(inputs.iloc[0][c]) for c in inputs.columns}
        scen = V.own_scenarios(study, sub, own, band).set_index("phrase")
    else:
        ws.write_string(srow, 3, f"{first}: the means of the {n_sub} {sub} customers. Conservative / Base / "
                                 f"Optimistic: the {low:g}th / {mid:g}th / {high:g}th percentile of each input "
                                 f"across the {sub} customers, oriented so that Conservative is the low-value "
                                 "side for the net value.")
        scen = V.input_scenarios(study, sub, (low, mid, high)).set_index("phrase")
    for j, h in enumerate(("phrase", "value", "kind", "source", "note", "Excel name", *options,
                           "scenario basis")):
        ws.write_string(hdr, j, h, book.bold)
    for i, p in enumerate(V.input_phrases(study), start=hdr + 1):
        shown = display.get(p, p)
        name = excel_name("in", shown, book.used)
        book.input_names[p] = book.names[p] = name
        on_file = float(inputs.iloc[0][shown])
        sc = scen.loc[shown]
        has_spread = not np.isnan(sc["p_mid"])
        column = [on_file] + ([float(sc[k]) for k in V.SCENARIOS] if has_spread else [on_file, on_file, on_file])
        ws.write_string(i, 0, shown)
        # the selected column's value; an empty (or text) cell is #N/A, never read as 0
        cells = [xl_rowcol_to_cell(i, c) for c in range(6, 10)]
        # an emptied constant falls back to the study's figure (as cvm_kit evaluates it); other inputs are #N/A
        fallback = repr(float(consts_value[p])) if p in consts_value else "NA()"
        guarded = [f"IF(ISNUMBER({c}),{c},{fallback})" for c in cells]
        pick = "".join(f"IF(scenario_index={k},{g}," for k, g in enumerate(guarded[:-1], 1)) + guarded[-1] \
            + ")" * (len(guarded) - 1)
        ws.write_formula(i, 1, "=" + pick, book.money, _cached(on_file))
        ws.write_string(i, 2, "study constant" if p in consts else "input")
        src, note = info.get(p, ("", ""))
        ws.write_string(i, 3, src)
        ws.write_string(i, 4, note)
        ws.write_string(i, 5, name)
        for c, x in enumerate(column, start=6):
            if np.isnan(x):
                ws.write_blank(i, c, None, book.fill)
            else:
                ws.write_number(i, c, x, book.fill)
        ws.write_string(i, 10, _basis(sc, sub, first, (low, mid, high)) if customer is None
                        else _own_basis(sc, band))
        book.wb.define_name(name, _ref("Inputs", i, 1))
    for (c0, c1), width in zip(((0, 0), (1, 1), (2, 2), (3, 3), (4, 4), (5, 5), (6, 9), (10, 10)),
                               (44, 14, 14, 34, 50, 34, 14, 60)):
        ws.set_column(c0, c1, width)
    ws.freeze_panes(hdr + 1, 1)
    ws.protect("", {"format_columns": True})


def _elements_sheet(book: _Book, study: Study, sub: str, env, results: pd.Series) -> list[tuple[str, str, float | str]]:
    """The ``Elements`` sheet: derived quantities, element values, placeholders; (status, name, cached) per element."""
    es = book.wb.add_worksheet("Elements")
    es.write_string(0, 0, "Value elements (live formulas from the study's word equations)", book.title)
    es.write_string(1, 0, f"{study.currency} per customer per {study.period}; positive = the offering is worth "
                          f"more than {study.alternative_for(sub)}. Status as for subsegment {sub}.")
    r = 3
    if study.derived:
        es.write_string(r, 0, "Derived quantity", book.bold)
        es.write_string(r, 4, "value", book.bold)
        es.write_string(r, 5, "equation", book.bold)
        r += 1
        for d in study.derived:
            dn = normalize_phrase(d.name)
            name = excel_name("dq", d.name, book.used)
            book.names[dn] = name
            es.write_string(r, 0, d.name)
            es.write_formula(r, 4, _guarded(d.equation, book.names, book.input_names), book.money,
                             _cached(float(env.values[dn][0])))
            es.write_string(r, 5, d.equation.text)
            book.wb.define_name(name, _ref("Elements", r, 4))
            r += 1
        r += 1
    for j, h in enumerate(("element", "name", "category", "status", "value", "equation")):
        es.write_string(r, j, h, book.bold)
    r += 1
    element_cells: list[tuple[str, str, float | str]] = []  # (status, name, cached)
    for e in study.elements:
        if not e.quantified or e.status_for(sub) == "placeholder":  # listed with the placeholders below
            continue
        status = e.status_for(sub)
        name = excel_name("el", e.id, book.used)
        for j, text in enumerate((e.id, e.name, e.category or "", status)):
            es.write_string(r, j, text)
        if status == "parity":
            cached: float | str = 0.0
            es.write_number(r, 4, 0, book.money)
        elif e.equation is None:
            cached = "#N/A"
            es.write_formula(r, 4, "=NA()", book.money, cached)
        else:
            cached = _cached(float(results[e.id]))
            es.write_formula(r, 4, _guarded(e.equation, book.names, book.input_names), book.money, cached)
        es.write_string(r, 5, e.equation.text if e.equation is not None else "")
        book.wb.define_name(name, _ref("Elements", r, 4))
        element_cells.append((status, name, cached))
        r += 1
    _placeholders(book, es, study, sub, r)
    for (c0, c1), width in zip(((0, 0), (1, 1), (2, 3), (4, 4), (5, 5)), (30, 44, 13, 16, 70)):
        es.set_column(c0, c1, width)
    es.protect("", {"format_columns": True})
    return element_cells


def _placeholders(book: _Book, es, study: Study, sub: str, r: int) -> None:
    """The placeholders below the elements (from row ``r``): their perceived worth, never summed."""
    holders = [e for e in study.elements if e.status_for(sub) == "placeholder"]
    if not holders:
        return
    r += 1
    es.write_string(r, 0, "Placeholders: hard to measure; listed with the customers' perceived worth, "
                          "never summed", book.bold)
    r += 1
    for j, h in enumerate(("element", "name", "category", "status", "perceived low", "perceived high")):
        es.write_string(r, j, h, book.bold)
    r += 1
    for e in holders:
        es.write_string(r, 0, e.id)
        es.write_string(r, 1, e.name)
        es.write_string(r, 2, e.category or "")
        es.write_string(r, 3, "placeholder (not summed)")
        if e.perceived_range is not None:
            es.write_string(r, 4, f"{e.perceived_range[0]:,.0f}")
            es.write_string(r, 5, f"{e.perceived_range[1]:,.0f}")
        else:
            es.write_string(r, 4, "not quantified")
        r += 1


def _totals_sheet(book: _Book, study: Study, sub: str, label: str, first: str,
                  element_cells: list[tuple[str, str, float | str]], results: pd.Series) -> None:
    """The ``Totals`` sheet: differential, contention, price difference and net value (``tot_...``)."""
    ts = book.wb.add_worksheet("Totals")
    ts.write_string(0, 0, f"Totals for {label}", book.title)
    ts.write_string(1, 0, f"{study.currency} per customer per {study.period}, versus {study.alternative_for(sub)}")
    ts.write_string(2, 0, "scenario", book.bold)
    ts.write_formula(2, 1, "=scenario", None, first)
    quant = [(n, c) for st, n, c in element_cells if st in ("difference", "contention")]
    cont = [(n, c) for st, n, c in element_cells if st == "contention"]
    if study.price is not None:
        price_formula = _guarded(study.price, book.names, book.input_names)
        price_cached = _cached(float(results["price_difference"]))
    else:
        price_formula, price_cached = "=0", 0.0
    diff_cached = _sum_cached([c for _, c in quant])
    cont_cached = _sum_cached([c for _, c in cont])
    if isinstance(diff_cached, str):
        net_cached: float | str = diff_cached
    elif isinstance(price_cached, str):
        net_cached = price_cached
    else:
        net_cached = diff_cached - price_cached
    rows = [
        ("differential value", "tot_differential_value", "=" + ("+".join(n for n, _ in quant) or "0"),
         diff_cached, "difference and contention elements"),
        ("contention value", "tot_contention_value", "=" + ("+".join(n for n, _ in cont) or "0"),
         cont_cached, "contention elements (included above)"),
        ("price difference", "tot_price_difference", price_formula, price_cached,
         study.price.text if study.price is not None else "no price equation: 0"),
        ("net value", "tot_net_value", "=tot_differential_value-tot_price_difference", net_cached,
         "differential value - price difference"),
    ]
    for j, h in enumerate(("total", "value", "how")):
        ts.write_string(3, j, h, book.bold)
    for i, (lab, name, formula, cval, how) in enumerate(rows, start=4):
        book.used.add(name.casefold())
        ts.write_string(i, 0, lab, book.bold if lab == "net value" else None)
        ts.write_formula(i, 1, formula, book.total if lab == "net value" else book.money, cval)
        ts.write_string(i, 2, how)
        book.wb.define_name(name, _ref("Totals", i, 1))
    ts.set_column(0, 0, 22)
    ts.set_column(1, 1, 16)
    ts.set_column(2, 2, 80)
    ts.protect("", {"format_columns": True})


def _assumptions_sheet(book: _Book, study: Study, customer: str | None, sub: str) -> None:
    """The ``Assumptions`` sheet (customer-safe: :func:`_safe_assumptions`)."""
    ash = book.wb.add_worksheet("Assumptions")
    ash.write_string(0, 0, "Assumptions the values rest on", book.title)
    a = _safe_assumptions(study, customer, sub)
    for j, h in enumerate(a.columns):
        ash.write_string(2, j, str(h), book.bold)
    for i, row in enumerate(a.itertuples(index=False), start=3):
        for j, v in enumerate(row):
            ash.write_string(i, j, "" if v is None else str(v), book.wrap)
    ash.set_column(0, 0, 12)
    ash.set_column(1, 1, 40)
    ash.set_column(2, 2, 90)
