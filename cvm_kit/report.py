"""What the notebooks show: the study header, tables, figures and the per-customer report.

The notebooks in ``notebooks/`` stay thin: every table they show comes from a
cvm_kit function, and the few pieces that only a report needs live here:

- :func:`open_study` and :func:`header` open every notebook with the study,
  its provenance and its charter (:func:`cvm_kit.research.charter_html`);
- :func:`table_html` / :func:`display_table` show a DataFrame as an escaped
  HTML table with money columns formatted, :func:`show` a figure;
- :func:`choose` wraps an ipywidgets dropdown for analysts exploring in
  JupyterLab (never needed by the executed report);
- :func:`coverage_matrix`, :func:`source_mix` (data gathering),
  :func:`customer_values`, :func:`customer_totals`, :func:`customer_missing`,
  :func:`customer_assumptions`, :func:`customer_facts` (per-customer report),
  :func:`documented_customers` (value documenter) and :func:`pick_subsegment`,
  :func:`mapping_parameter`, :func:`market_customers` (business case).

Only pandas and numpy are imported at module level; IPython, ipywidgets and
matplotlib are imported when a figure or widget is shown, so the
per-customer notebook starts quickly.

Examples
--------
>>> import cvm_kit as cvm
>>> from cvm_kit import report
>>> study = cvm.load_study(cvm.example_path())
>>> cid = study.customers["customer_id"].iloc[0]
>>> t = report.customer_values(study, cid)
>>> list(t.columns)[:4]
['element_id', 'name', 'status', 'value']
"""

from __future__ import annotations

import datetime as _dt
import html
import math
import warnings
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from .errors import CvmError
from .study import Study

__all__ = [
    "open_study", "study_path", "validated_study", "pick_customer", "header", "header_html", "customer_header",
    "customer_header_html", "internal_banner", "internal_banner_html", "INTERNAL_MARK", "money", "table_html", "display_table", "show", "note",
    "choose", "attempt", "validation_table", "coverage_matrix", "coverage_summary", "source_mix", "customer_values", "customer_totals",
    "customer_missing", "customer_assumptions", "customer_facts", "placeholders", "TOTAL_LABELS",
    "documented_customers", "pick_subsegment", "mapping_parameter", "market_customers",
]

TOTAL_LABELS = {
    "differential_value": "Differential value",
    "contention_value": "of which contention",
    "price_difference": "Price difference",
    "net_value": "Net value to the customer",
}

_CSS = """<style>
.cvm-scroll { overflow-x: auto; max-width: 100%; }
div.cvm-scroll > table.cvm-table { border-collapse: collapse; margin: 0.4em 0 1em 0; font-size: 0.92em; }
div.cvm-scroll > table.cvm-table th, div.cvm-scroll > table.cvm-table td { padding: 0.2em 0.7em;
  border-bottom: 1px solid #ddd; text-align: left; vertical-align: top; }
div.cvm-scroll > table.cvm-table th { background: #f3f5f8; }
div.cvm-scroll > table.cvm-table td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
div.cvm-scroll > table.cvm-table caption { text-align: left; font-weight: 600; padding-bottom: 0.3em; }
section.cvm-header > dl, section.cvm-charter > dl { display: grid; grid-template-columns: max-content auto; gap: 0.15em 1.2em; }
section.cvm-header > dl > dt, section.cvm-charter > dl > dt { font-weight: 600; white-space: nowrap; margin: 0; }
section.cvm-header > dl > dd, section.cvm-charter > dl > dd { margin: 0; }
.cvm-note { color: #444; }
</style>"""


class _Html:
    """Something IPython displays as HTML, with a plain-text form for logs and tests."""

    def __init__(self, html_text: str, text: str = "") -> None:
        self.html = html_text
        self.text = text

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:
        return self.text or self.html


def _display(obj: Any) -> None:
    from IPython.display import display

    display(obj)


# ---------------------------------------------------------------------------
# opening a study


def open_study(study: str | Path | None = "") -> Study:
    """Load the study a notebook parameter names (empty: the bundled example).

    Parameters
    ----------
    study : str or Path
        A study folder or ``.xlsx`` workbook; ``""`` or None for the bundled
        example study.

    Returns
    -------
    Study

    Raises
    ------
    StudyError
        Listing every problem in the study.

    Examples
    --------
    >>> from cvm_kit import report
    >>> report.open_study("").label
    'pipe_coating'
    """
    from .study import load_study

    return load_study(study_path(study))


def study_path(study: str | Path | None = "") -> Path:
    """The path a notebook's ``study`` parameter names (empty: the bundled example).

    Examples
    --------
    >>> from cvm_kit import report
    >>> report.study_path("").name
    'pipe_coating'
    """
    from . import example_path

    if study is None or str(study).strip() == "":
        return example_path()
    return Path(str(study)).expanduser()


def validated_study(study: str | Path | None = "") -> tuple[Study, Any]:
    """Validate and load a study; on errors show every problem, then raise.

    Returns
    -------
    (Study, ValidationReport)
        The loaded study and the full report (warnings included).

    Raises
    ------
    StudyError
        After displaying the table of problems, so the executed notebook
        keeps them above the error.
    """
    from .errors import StudyError
    from .validate import validate

    path = study_path(study)
    check = validate(path)
    if check.study is None or check.errors:
        display_table(validation_table(check), caption=f"Problems in {path}")
        raise StudyError(check.errors, str(path))
    return check.study, check


def pick_customer(study: Study, customer_id: str | None = "") -> str:
    """The customer a per-customer report is about (empty: the study's first customer).

    Raises
    ------
    CvmError
        The customer is not in customers.csv (the message lists known ids).

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> from cvm_kit import report
    >>> study = cvm.load_study(cvm.example_path())
    >>> report.pick_customer(study, "") == study.customers["customer_id"].iloc[0]
    True
    """
    from .values import require_customer

    if customer_id is None or str(customer_id).strip() == "":
        if study.customers.empty:
            raise CvmError(f"{study.path / 'customers.csv'} lists no customer")
        return str(study.customers["customer_id"].iloc[0])
    cid = str(customer_id).strip()
    require_customer(study, cid)
    return cid


def header_html(study: Study, title: str, *, subtitle: str = "", today: Any = None) -> str:
    """The HTML that opens every report: title, the study's facts and provenance, its charter.

    Every study text is escaped.

    Parameters
    ----------
    study : Study
    title : str
        The notebook's title, e.g. ``"2. Estimates and the value summary"``.
    subtitle : str
        A line under the title (e.g. the customer of a per-customer report).
    today : date or str, optional
        The date the charter's days left count from (default: today).

    Returns
    -------
    str

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> from cvm_kit import report
    >>> h = report.header_html(cvm.load_study(cvm.example_path()), "Test")
    >>> "Study charter" in h and "content hash" in h
    True
    """
    from . import __version__
    from .research import charter_html

    e = html.escape
    counts = study.customers["subsegment"].value_counts()
    alts = "".join(
        f"<li>{e(s.id)}: {e(study.alternative_for(s.id))}"
        + (f" <span class='cvm-note'>({e(s.description)})</span>" if s.description else "")
        + f", {int(counts.get(s.id, 0))} customers</li>"
        for s in study.subsegments)
    facts = [
        ("Offering", e(study.offering)),
        ("Segment", e(study.segment)),
        ("Next-best-alternative", e(study.next_best_alternative)),
        ("Subsegments", f"<ul style='margin:0;padding-left:1.2em'>{alts}</ul>"),
        ("Values in", e(f"{study.currency} per customer per {study.period}")),
        ("Study", f"{e(study.label)} (content hash <code>{e(study.content_hash)}</code>)"),
        ("Produced", e(f"{_dt.datetime.now().strftime('%Y-%m-%d %H:%M')} with cvm_kit {__version__}")),
    ]
    dl = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts)
    sub = f"<p><b>{e(subtitle)}</b></p>" if subtitle else ""
    return (f"{_CSS}<section class='cvm-header'><h1>{e(title)}</h1><h2>{e(study.name)}</h2>{sub}"
            f"<dl>{dl}</dl></section>{charter_html(study, today)}")


def header(study: Study, title: str, *, subtitle: str = "", today: Any = None) -> None:
    """Display :func:`header_html` in the notebook."""
    text = f"{title}\n{study.name}\n{subtitle}\nstudy {study.label}, content hash {study.content_hash}"
    _display(_Html(header_html(study, title, subtitle=subtitle, today=today), text))


#: The mark on every internal part of a per-customer report.
INTERNAL_MARK = "Internal \u2014 not for the customer"


def internal_banner_html() -> str:
    """A red box saying the page is internal (:data:`INTERNAL_MARK`)."""
    return (f"{_CSS}<div class='cvm-internal' role='note' style='border:3px solid #b03a2e;color:#b03a2e;"
            f"padding:0.4em 0.8em;margin:0.5em 0;font-weight:700;font-size:1.15em'>{html.escape(INTERNAL_MARK)}"
            "</div>")


def customer_header_html(study: Study, customer_id: str, title: str, *, internal: bool = False,
                         today: Any = None) -> str:
    """The opening of a per-customer report, safe to hand to that customer unless ``internal``.

    The customer-safe header names the offering, the next-best-alternative
    the customer is compared with, the unit of the values and the
    provenance (date, cvm_kit version, the study's content hash). It leaves
    out what the supplier keeps to itself: the study charter (its business
    issue is often a pricing question), the study's name and folder, the
    other subsegments and their customer counts. With ``internal=True`` the
    page opens with :func:`internal_banner_html` and adds the full study
    header (:func:`header_html`, charter included).

    Parameters
    ----------
    study : Study
    customer_id : str
    title : str
    internal : bool
    today : date or str, optional
        For the charter's days left (internal only).

    Returns
    -------
    str

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> from cvm_kit import report
    >>> s = cvm.load_study(cvm.example_path())
    >>> cid = s.customers["customer_id"].iloc[0]
    >>> "Study charter" in report.customer_header_html(s, cid, "Report")
    False
    >>> "Study charter" in report.customer_header_html(s, cid, "Report", internal=True)
    True
    >>> report.INTERNAL_MARK in report.customer_header_html(s, cid, "Report", internal=True)
    True
    """
    from . import __version__

    row = _customer_row(study, customer_id)
    if internal:
        return internal_banner_html() + header_html(study, title, subtitle=f"Customer {customer_id}", today=today)
    e = html.escape
    facts = [
        ("Customer", e(str(customer_id))),
        ("Offering", e(study.offering)),
        ("Compared with", e(study.alternative_for(str(row["subsegment"])))),
        ("Values in", e(f"{study.currency} per {study.period}")),
        ("Produced", e(f"{_dt.datetime.now().strftime('%Y-%m-%d')} with cvm_kit {__version__}")),
        ("Reference", f"<code>{e(study.content_hash)}</code>"),
    ]
    dl = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts)
    return f"{_CSS}<section class='cvm-header'><h1>{e(title)}</h1><dl>{dl}</dl></section>"


def customer_header(study: Study, customer_id: str, title: str, *, internal: bool = False,
                    today: Any = None) -> None:
    """Display :func:`customer_header_html` in the notebook."""
    text = (f"{INTERNAL_MARK}\n" if internal else "") + f"{title}\nreference {study.content_hash}"
    _display(_Html(customer_header_html(study, customer_id, title, internal=internal, today=today), text))


def internal_banner() -> None:
    """Display :func:`internal_banner_html` (e.g. again at the end of an internal page)."""
    _display(_Html(internal_banner_html(), INTERNAL_MARK))


# ---------------------------------------------------------------------------
# tables and figures


def money(x: Any, currency: str = "") -> str:
    """A money amount for reading: thousands separated, no false precision.

    Amounts of 100 or more are rounded to whole units; smaller ones keep up
    to two decimals. Missing is shown as ``missing``.

    Examples
    --------
    >>> money(1090.0, "EUR"), money(-12.5), money(float("nan"))
    ('1,090 EUR', '-12.5', 'missing')
    """
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    if math.isnan(v):
        return "missing"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    text = f"{v:,.0f}" if abs(v) >= 100 else f"{v:,.2f}".rstrip("0").rstrip(".")
    if text in ("-0", "-0.0"):
        text = "0"
    return f"{text} {currency}".strip()


_money_text = money  # table_html's ``money`` argument shadows the function there


def _number(x: Any, decimals: int) -> str:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    if math.isnan(v):
        return ""
    if v == int(v) and abs(v) < 1e15 and decimals <= 0:
        return f"{int(v):,}"
    return f"{v:,.{decimals}f}"


def _cell(x: Any) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)) or x is pd.NA or x is pd.NaT:
        return ""
    if isinstance(x, (pd.Timestamp, _dt.datetime)):
        return x.strftime("%Y-%m-%d")
    if isinstance(x, (bool, np.bool_)):
        return "yes" if x else "no"
    if isinstance(x, (float, np.floating)):
        return f"{float(x):,.4g}" if abs(float(x)) < 1e6 else f"{float(x):,.0f}"
    return str(x)


def table_html(df: pd.DataFrame, *, money: Iterable[str] = (), currency: str = "", percent: Iterable[str] = (),
               decimals: dict[str, int] | None = None, caption: str = "", max_rows: int = 500,
               index: bool = False) -> str:
    """A DataFrame as an escaped HTML table for reports.

    Parameters
    ----------
    df : DataFrame
    money : columns
        Formatted with :func:`money` (the currency goes into the header).
    currency : str
        Shown in money column headers.
    percent : columns
        Shares 0..1 shown as whole percentages.
    decimals : dict, optional
        Column -> fixed decimals for other number columns.
    caption : str
        A caption above the table.
    max_rows : int
        Longer tables are cut with a note saying how many rows were left out.
    index : bool
        Show the index as the first column.

    Returns
    -------
    str
        ``<div class="cvm-scroll"><table class="cvm-table">...``; every cell
        and header is escaped.

    Examples
    --------
    >>> import pandas as pd
    >>> t = table_html(pd.DataFrame({"who": ["<b>"], "net": [1090.0]}), money=["net"], currency="EUR")
    >>> "<td>&lt;b&gt;</td>" in t and "<td class='num'>1,090</td>" in t
    True
    """
    money_cols, pct = set(money), set(percent)
    decimals = decimals or {}
    data = df.reset_index() if index else df
    shown = data.head(max_rows)
    e = html.escape
    heads = []
    for c in shown.columns:
        label = str(c)
        if c in money_cols and currency:
            label = f"{label} ({currency})"
        elif c in pct:
            label = f"{label} (%)"
        heads.append(f"<th>{e(label)}</th>")
    rows = []
    for rec in shown.itertuples(index=False, name=None):
        cells = []
        for c, x in zip(shown.columns, rec):
            if c in money_cols:
                cells.append(f"<td class='num'>{e(_money_text(x))}</td>")
            elif c in pct:
                v = _number(float(x) * 100 if _is_num(x) else x, 0)
                cells.append(f"<td class='num'>{e(v)}</td>")
            elif c in decimals:
                cells.append(f"<td class='num'>{e(_number(x, decimals[c]))}</td>")
            elif _is_num(x):
                cells.append(f"<td class='num'>{e(_cell(x))}</td>")
            else:
                cells.append(f"<td>{e(_cell(x))}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    cap = f"<caption>{e(caption)}</caption>" if caption else ""
    more = ""
    if len(data) > len(shown):
        more = f"<p class='cvm-note'>{len(data) - len(shown)} more rows not shown.</p>"
    return (f'<div class="cvm-scroll"><table class="cvm-table">{cap}<thead><tr>{"".join(heads)}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>{more}')


def _is_num(x: Any) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, (bool, np.bool_))


def display_table(df: pd.DataFrame, **kw: Any) -> None:
    """Display :func:`table_html` (with a plain-text form of the same table for logs)."""
    kw_money = set(kw.get("money", ()))
    plain = df.copy()
    for c in kw_money & set(plain.columns):
        plain[c] = plain[c].map(money)
    with pd.option_context("display.max_rows", kw.get("max_rows", 500), "display.width", 200,
                           "display.max_columns", 50):
        text = (kw.get("caption", "") + "\n" if kw.get("caption") else "") + plain.to_string(index=kw.get("index", False))
    _display(_Html(_CSS + table_html(df, **kw), text))


def note(text: str, *, kind: str = "note") -> None:
    """Display a short escaped paragraph (``kind="warning"`` shows it in red)."""
    color = "#b03a2e" if kind == "warning" else "#444"
    _display(_Html(f"<p class='cvm-note' style='color:{color}'>{html.escape(str(text))}</p>", str(text)))


def show(obj: Any) -> None:
    """Display a matplotlib Axes or Figure now, as an embedded PNG with its title as alt text, and close it.

    Closing keeps the inline backend from showing the figure a second time and
    frees its memory in long batch runs.
    """
    import io

    import matplotlib.pyplot as plt
    from IPython.display import Image

    fig = obj.figure if hasattr(obj, "figure") and not hasattr(obj, "savefig") else obj
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a layout that cannot be tightened is still drawn
        try:
            fig.tight_layout()
        except Exception:  # noqa: BLE001 - layout is cosmetic; never fail a report on it
            pass
    buf = io.BytesIO()
    # one render (bbox_inches="tight" would draw the figure twice)
    fig.savefig(buf, format="png", dpi=100, facecolor="white")
    plt.close(fig)
    _display(Image(data=buf.getvalue(), format="png", metadata={"alt": _figure_title(fig)}))


def _figure_title(fig: Any) -> str:
    """A figure's title for its alternative text (suptitle, else the axes' titles)."""
    sup = getattr(fig, "_suptitle", None)
    titles = [sup.get_text()] if sup is not None and sup.get_text() else []
    titles += [ax.get_title() for ax in fig.get_axes() if ax.get_title()]
    return "; ".join(titles) or "Figure"


def attempt(func: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    """Call an analysis; if the data cannot support it, say why in the report and return None.

    Only :class:`~cvm_kit.errors.AnalysisError` ("cannot compute on this
    data": too few customers, no characteristic ...) is turned into a note;
    any other error (bad input, a bug) still stops the notebook.

    Examples
    --------
    >>> from cvm_kit.errors import AnalysisError
    >>> def too_few():
    ...     raise AnalysisError("one customer")
    >>> attempt(too_few) is None   # doctest: +SKIP
    True
    """
    from .errors import AnalysisError

    try:
        return func(*args, **kw)
    except AnalysisError as exc:
        name = getattr(func, "__name__", "this analysis")
        note(f"{name}: not computed on this data: {exc}", kind="warning")
        return None


def choose(label: str, options: Sequence[Any] | Mapping[str, Any], render: Callable[[Any], Any], *,
           value: Any = None) -> Any:
    """A dropdown that re-renders its output when the choice changes (for analysts in JupyterLab).

    Parameters
    ----------
    label : str
        The dropdown's label.
    options : sequence or mapping
        The choices (e.g. element ids, subsegment ids, tornado ranges), or
        label -> value.
    render : callable
        Called with the chosen option; whatever it displays (tables,
        :func:`show`) appears under the dropdown.
    value : optional
        The first choice (default the first option).

    Returns
    -------
    ipywidgets.VBox
        The dropdown (``.children[0]``) and its output area; displayed.
    """
    from .errors import require

    widgets = require("ipywidgets", "notebook")
    pairs = list(options.items()) if isinstance(options, Mapping) else [(str(o), o) for o in options]
    if not pairs:
        raise CvmError(f"{label}: nothing to choose from")
    first = value if any(v == value for _, v in pairs) else pairs[0][1]
    dd = widgets.Dropdown(options=pairs, value=first, description=label, style={"description_width": "initial"})
    out = widgets.Output()

    def _refresh(*_: Any) -> None:
        out.clear_output(wait=True)
        with out:
            render(dd.value)

    dd.observe(_refresh, names="value")
    _refresh()
    box = widgets.VBox([dd, out])
    _display(box)
    return box


# ---------------------------------------------------------------------------
# data gathering


def validation_table(report: Any) -> pd.DataFrame:
    """The problems of a :class:`~cvm_kit.validate.ValidationReport` as a table.

    Returns
    -------
    DataFrame
        ``severity, file, where, message`` (errors first).
    """
    rows = [(p.severity, p.file, p.where, p.message) for p in report.problems]
    df = pd.DataFrame(rows, columns=["severity", "file", "where", "message"])
    return df.sort_values("severity", key=lambda s: s.map({"error": 0, "warning": 1}), kind="stable").reset_index(drop=True)


def coverage_matrix(study: Study) -> pd.DataFrame:
    """Which needed input each customer has given: customers x input phrases.

    Returns
    -------
    DataFrame
        Index ``customer_id`` (study order), one column per input phrase
        (display form); 1.0 = on file, 0.0 = needed but missing, NaN = not
        needed for this customer (every element using it is a point of parity
        in the customer's subsegment). A ``subsegment`` column comes first.

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> from cvm_kit import report
    >>> m = report.coverage_matrix(cvm.load_study(cvm.example_path()))
    >>> m.columns[0]
    'subsegment'
    """
    from .values import input_coverage

    cov = input_coverage(study)
    ids = list(study.customers["customer_id"])
    if cov.empty:
        out = pd.DataFrame(index=pd.Index(ids, name="customer_id"))
    else:
        wide = cov.assign(p=cov["present"].astype(float)).pivot(index="customer_id", columns="phrase", values="p")
        order = list(dict.fromkeys(cov["phrase"]))
        out = wide.reindex(index=ids, columns=order)
        out.index.name = "customer_id"
        out.columns.name = None
    out.insert(0, "subsegment", study.customers.set_index("customer_id")["subsegment"].reindex(ids).to_numpy())
    return out


def coverage_summary(study: Study, by: str = "customer") -> pd.DataFrame:
    """How complete the inputs are, per customer or per input phrase.

    Parameters
    ----------
    by : {"customer", "phrase"}

    Returns
    -------
    DataFrame
        ``customer_id, subsegment`` (or ``phrase``), then ``needed, on_file,
        missing, share_on_file``.

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> from cvm_kit import report
    >>> t = report.coverage_summary(cvm.load_study(cvm.example_path()))
    >>> bool((t["needed"] == t["on_file"] + t["missing"]).all())
    True
    """
    from .values import input_coverage

    if by not in ("customer", "phrase"):
        raise CvmError(f"coverage_summary: by={by!r}; expected 'customer' or 'phrase'")
    cov = input_coverage(study)
    keys = ["customer_id", "subsegment"] if by == "customer" else ["phrase"]
    cols = keys + ["needed", "on_file", "missing", "share_on_file"]
    if cov.empty:
        return pd.DataFrame(columns=cols)
    g = cov.groupby(keys, sort=False)["present"].agg(needed="size", on_file="sum").reset_index()
    g["on_file"] = g["on_file"].astype(int)
    g["missing"] = g["needed"] - g["on_file"]
    g["share_on_file"] = g["on_file"] / g["needed"]
    return g[cols]


def source_mix(study: Study) -> pd.DataFrame:
    """How the measurements were obtained, per subsegment: source x reliability.

    Returns
    -------
    DataFrame
        ``subsegment, source, reliability, rows, share`` where ``share`` is
        the share of the subsegment's measurement rows; reliability
        ``unrated`` where none was given. Sources in the order data,
        estimate, perception, assumption.

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> from cvm_kit import report
    >>> mix = report.source_mix(cvm.load_study(cvm.example_path()))
    >>> bool(abs(mix.groupby("subsegment")["share"].sum() - 1).max() < 1e-9)
    True
    """
    from .study import RELIABILITIES, SOURCES

    m = study.measurements.merge(study.customers[["customer_id", "subsegment"]], on="customer_id", how="left")
    rel = m["reliability"].astype(object).where(m["reliability"].notna() & (m["reliability"].astype(str) != ""),
                                                "unrated")
    m = m.assign(reliability=rel.astype(str))
    g = m.groupby(["subsegment", "source", "reliability"], sort=False).size().rename("rows").reset_index()
    g["share"] = g["rows"] / g.groupby("subsegment")["rows"].transform("sum")
    sub_order = {s: i for i, s in enumerate(study.subsegment_ids)}
    src_order = {s: i for i, s in enumerate(SOURCES)}
    rel_order = {s: i for i, s in enumerate(RELIABILITIES + ("unrated",))}
    g = g.sort_values(["subsegment", "source", "reliability"],
                      key=lambda s: s.map({"subsegment": sub_order, "source": src_order,
                                           "reliability": rel_order}[s.name]).fillna(99))
    return g.reset_index(drop=True)


# ---------------------------------------------------------------------------
# the per-customer report


def _customer_row(study: Study, customer_id: str) -> pd.Series:
    from .values import require_customer

    require_customer(study, customer_id)
    c = study.customers
    return c.loc[c["customer_id"] == customer_id].iloc[0]


def customer_values(study: Study, customer_id: str, values: pd.DataFrame | None = None) -> pd.DataFrame:
    """One customer's element values against its subsegment's and the segment's means.

    Parameters
    ----------
    study : Study
    customer_id : str
    values : DataFrame, optional
        :func:`cvm_kit.values.element_values` (computed if omitted).

    Returns
    -------
    DataFrame
        One row per quantified element then one per placeholder:
        ``element_id, name, status, value, subsegment_mean, segment_mean,
        vs_subsegment, weakest_source, missing_inputs``; ``status`` is the
        element's status for the customer's subsegment; means are over the
        customers with a value; ``vs_subsegment = value - subsegment_mean``.
        Placeholders have NaN values and ``status`` ``placeholder``.

    Raises
    ------
    CvmError
        The customer is not in the study.

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> from cvm_kit import report
    >>> study = cvm.load_study(cvm.example_path())
    >>> t = report.customer_values(study, study.customers["customer_id"].iloc[0])
    >>> bool(t["segment_mean"].notna().any())
    True
    """
    from .values import element_values

    row = _customer_row(study, customer_id)
    sub = row["subsegment"]
    v = values if values is not None else element_values(study)
    seg_mean = v.groupby("element_id", sort=False)["value"].mean()
    sub_mean = v[v["subsegment"] == sub].groupby("element_id", sort=False)["value"].mean()
    mine = v[v["customer_id"] == customer_id].set_index("element_id")
    rows = []
    for e in study.elements:
        if not e.quantified:
            rows.append((e.id, e.name, "placeholder", np.nan, np.nan, np.nan, np.nan, "", ""))
            continue
        if e.id not in mine.index:
            continue
        r = mine.loc[e.id]
        val, sm = float(r["value"]), float(sub_mean.get(e.id, np.nan))
        src = r["weakest_source"]
        rows.append((e.id, e.name, str(r["status"]), val, sm, float(seg_mean.get(e.id, np.nan)), val - sm,
                     "" if pd.isna(src) else str(src), str(r["missing_inputs"] or "")))
    return pd.DataFrame(rows, columns=["element_id", "name", "status", "value", "subsegment_mean", "segment_mean",
                                       "vs_subsegment", "weakest_source", "missing_inputs"])


def customer_totals(study: Study, customer_id: str, totals_df: pd.DataFrame | None = None) -> pd.DataFrame:
    """One customer's differential value, price difference and net value against the means.

    Returns
    -------
    DataFrame
        ``quantity, label, value, subsegment_mean, segment_mean, vs_subsegment``
        for ``differential_value, contention_value, price_difference, net_value``.

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> from cvm_kit import report
    >>> study = cvm.load_study(cvm.example_path())
    >>> report.customer_totals(study, study.customers["customer_id"].iloc[0])["quantity"].iloc[-1]
    'net_value'
    """
    from .values import totals

    row = _customer_row(study, customer_id)
    t = totals_df if totals_df is not None else totals(study)
    sub = t[t["subsegment"] == row["subsegment"]]
    mine = t[t["customer_id"] == customer_id].iloc[0]
    rows = []
    for q, label in TOTAL_LABELS.items():
        val, sm = float(mine[q]), float(sub[q].mean())
        rows.append((q, label, val, sm, float(t[q].mean()), val - sm))
    return pd.DataFrame(rows, columns=["quantity", "label", "value", "subsegment_mean", "segment_mean",
                                       "vs_subsegment"])


def customer_missing(study: Study, customer_id: str) -> pd.DataFrame:
    """The inputs still missing from one customer, which elements wait for them, and whom to ask.

    Returns
    -------
    DataFrame
        ``phrase, needed_by, stage, with, next_step, next_date`` (empty when
        every needed input is on file).
    """
    from .research import missing_by_contact
    from .values import missing_inputs

    _customer_row(study, customer_id)
    m = missing_by_contact(study)
    if m.empty:  # no fieldwork log: still list what is missing
        m = missing_inputs(study).assign(stage="", next_step="", next_date=pd.NaT)
        m["with"] = ""
    cols = ["phrase", "needed_by", "stage", "with", "next_step", "next_date"]
    return m.loc[m["customer_id"] == customer_id, cols].reset_index(drop=True)


def customer_assumptions(study: Study, customer_id: str) -> pd.DataFrame:
    """The assumptions one customer's values rest on.

    The model's assumptions (elements, constants, derived quantities, the
    price) and this customer's own measurements whose source is
    ``assumption``; other customers' assumed measurements are left out.

    Returns
    -------
    DataFrame
        ``kind, subject, assumption``.
    """
    from .estimates import assumptions

    row = _customer_row(study, customer_id)
    a = assumptions(study)
    own = a["subject"].astype(str).str.startswith(f"{customer_id}: ")
    keep = (a["kind"] != "measurement") | own
    # a per-subsegment parity note only concerns that subsegment's customers
    sub = str(row["subsegment"])
    other_parity = a["assumption"].astype(str).str.match(r"Point of parity for (.+) customers") & \
        ~a["assumption"].astype(str).str.startswith(f"Point of parity for {sub} customers")
    return a[keep & ~other_parity].reset_index(drop=True)


def placeholders(study: Study) -> pd.DataFrame:
    """The placeholder elements: named, with the customers' perceived worth, never summed.

    Returns
    -------
    DataFrame
        ``element_id, name, category, perceived_low, perceived_high, note``
        (NaN range when none was given).

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> from cvm_kit import report
    >>> report.placeholders(cvm.load_study(cvm.example_path()))["note"].iloc[0]
    'listed, never summed'
    """
    rows = []
    for e in study.elements:
        if e.quantified:
            continue
        lo, hi = e.perceived_range if e.perceived_range else (np.nan, np.nan)
        rows.append((e.id, e.name, e.category or "", float(lo), float(hi), "listed, never summed"))
    return pd.DataFrame(rows, columns=["element_id", "name", "category", "perceived_low", "perceived_high", "note"])


def customer_facts(study: Study, customer_id: str) -> pd.DataFrame:
    """The customer's subsegment, its next-best-alternative and its characteristics.

    Returns
    -------
    DataFrame
        ``field, value`` (text).
    """
    row = _customer_row(study, customer_id)
    sub = str(row["subsegment"])
    rows = [("Customer", str(customer_id)), ("Subsegment", sub),
            ("Next-best-alternative", study.alternative_for(sub))]
    for c in study.characteristics:
        rows.append((c, _cell(row[c])))
    return pd.DataFrame(rows, columns=["field", "value"])


# ---------------------------------------------------------------------------
# the value documenter and the business case


def documented_customers(study: Study, customer_id: str | None = "",
                         documented: pd.DataFrame | None = None) -> list[str]:
    """The customers whose value case history a report shows.

    Parameters
    ----------
    study : Study
    customer_id : str
        One customer (checked against customers.csv); empty: every customer
        with rows in realized.csv.
    documented : DataFrame, optional
        :func:`cvm_kit.documenter.document_value` output (computed if omitted).

    Returns
    -------
    list of str
        ``[customer_id]``, or the documented customers in customers.csv order
        (empty without realized.csv or rows).

    Raises
    ------
    CvmError
        ``customer_id`` is not in customers.csv.

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> from cvm_kit import report
    >>> study = cvm.load_study(cvm.example_path())
    >>> set(report.documented_customers(study)) == set(study.realized["customer_id"])
    True
    """
    if customer_id is not None and str(customer_id).strip():
        return [pick_customer(study, customer_id)]
    if documented is None:
        if study.realized is None:
            return []
        from .documenter import document_value

        documented = document_value(study)
    have = set(map(str, documented["customer_id"]))
    in_study = [str(c) for c in study.customers["customer_id"] if str(c) in have]
    # rows naming a customer absent from customers.csv still get their history, after the others
    return in_study + sorted(have - set(in_study))


def pick_subsegment(study: Study, subsegment: str | None = "") -> str:
    """The subsegment a report is about (empty: the study's first subsegment).

    Raises
    ------
    CvmError
        Not a subsegment id of project.yaml (the message lists them).

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> from cvm_kit import report
    >>> study = cvm.load_study(cvm.example_path())
    >>> report.pick_subsegment(study, "") == study.subsegment_ids[0]
    True
    """
    if not study.subsegment_ids:
        raise CvmError(f"{study.path / 'project.yaml'} defines no subsegment")
    if subsegment is None or str(subsegment).strip() == "":
        return study.subsegment_ids[0]
    sub = str(subsegment).strip()
    if sub not in study.subsegment_ids:
        raise CvmError(f"subsegment {sub!r} is not in {study.path / 'project.yaml'}; "
                       f"expected one of {', '.join(study.subsegment_ids)}")
    return sub


def mapping_parameter(spec: str | Mapping[str, Any] | None, name: str) -> dict[str, Any]:
    """A notebook parameter holding name -> number pairs, given as a mapping or as text.

    Text is a JSON object (``{"Sales training": 50000}``) or the same without
    quotes and braces (``Sales training: 50000, Pilot: 20000``); it is
    parsed, never evaluated.

    Parameters
    ----------
    spec : str, mapping or None
        Empty or None: an empty mapping.
    name : str
        The parameter's name, for error messages.

    Returns
    -------
    dict
        Keys as text, values as given (checked by the function they go to).

    Raises
    ------
    CvmError
        The text is neither form, or is not a mapping.

    Examples
    --------
    >>> from cvm_kit import report
    >>> report.mapping_parameter('{"big": 400}', "market_customers")
    {'big': 400}
    >>> report.mapping_parameter("Sales training: 50000, Pilot: 2e4", "change_costs")
    {'Sales training': 50000, 'Pilot': 20000.0}
    """
    import json

    if spec is None:
        return {}
    if isinstance(spec, Mapping):
        return {str(k): v for k, v in spec.items()}
    text = str(spec).strip()
    if not text:
        return {}
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
        body = text[1:-1] if text.startswith("{") and text.endswith("}") else text
        out: dict[str, Any] = {}
        for part in body.split(","):
            if not part.strip():
                continue
            key, sep, value = part.rpartition(":")
            key = key.strip().strip("\"'")
            if not sep or not key:
                raise CvmError(f"{name}: cannot read {text!r}; expected name: number pairs separated by commas, "
                               'e.g. {"Sales training": 50000} or Sales training: 50000') from None
            try:
                num = float(value)
            except ValueError:
                raise CvmError(f"{name}: {key!r} has {value.strip()!r}, which is not a number") from None
            out[key] = int(num) if num.is_integer() and "." not in value and "e" not in value.lower() else num
        return out
    if not isinstance(parsed, Mapping):
        raise CvmError(f"{name}: expected name: number pairs, e.g. {{\"big\": 400}}; got {text!r}")
    return {str(k): v for k, v in parsed.items()}


def market_customers(study: Study, spec: str | Mapping[str, Any] | None = "") -> dict[str, Any]:
    """Customers in the market per subsegment, for :func:`cvm_kit.business_case.business_case`.

    Parameters
    ----------
    study : Study
    spec : str or mapping
        Subsegment id -> count (see :func:`mapping_parameter`); empty: the
        studied customers of each subsegment (customers.csv), i.e. the case
        counts only the customers the study knows.

    Returns
    -------
    dict
        Subsegment id -> count, in the given order (project.yaml order by default).

    Raises
    ------
    CvmError
        A subsegment id that is not in the study (the message lists them).

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> from cvm_kit import report
    >>> study = cvm.load_study(cvm.example_path())
    >>> sum(report.market_customers(study).values()) == len(study.customers)
    True
    """
    given = mapping_parameter(spec, "market_customers")
    if not given:
        counts = study.customers["subsegment"].astype(str).value_counts()
        return {sub: int(counts.get(sub, 0)) for sub in study.subsegment_ids}
    unknown = [k for k in given if k not in study.subsegment_ids]
    if unknown:
        raise CvmError(f"market_customers: subsegment {unknown[0]!r} is not in {study.path / 'project.yaml'}; "
                       f"expected ids among {', '.join(study.subsegment_ids)}")
    return given
