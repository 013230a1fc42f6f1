"""What the notebooks call to show things: tables that read well, notes, figures, a dropdown.

:func:`table_html` / :func:`display_table` show a DataFrame as an escaped HTML
table a manager reads: human column labels (:mod:`cvm_kit.reporting.labels`;
unknown ``snake_case`` names become words), one number format
(:mod:`cvm_kit.reporting.fmt`: thousands separators, no scientific notation),
"—" with a footnote where a figure does not apply, no repeated columns, and
no horizontal scrolling (a table wider than ``max_columns`` is split into
column groups that repeat its key columns). The look comes from the one
stylesheet (``templates/style.css``), inlined into every exported page.

Only pandas and numpy are imported at module level; IPython, ipywidgets and
matplotlib are imported when a figure or widget is shown, so the
per-customer notebook starts quickly.
"""

from __future__ import annotations

import datetime as _dt
import html
import math
import re
from functools import lru_cache
from types import SimpleNamespace
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from ..errors import CvmError
from . import fmt

__all__ = ["money", "table_html", "display_table", "column_label", "note", "show", "attempt", "choose",
           "DASH_NOTE"]

#: The footnote under a table that shows "—".
DASH_NOTE = f"{fmt.DASH} : does not apply or not available"
#: Text a reader must never see in a cell (a missing value's spelling in Python or pandas).
_NOT_A_VALUE = frozenset({"nan", "NaN", "None", "<NA>", "NaT", "missing", "null", ""})
_SNAKE = re.compile(r"[a-z][a-z0-9]*(_[a-z0-9]+)*")
# a column that only repeats another one the table keeps: (dropped, kept)
_DUPLICATES = (("element_id", "name"), ("element_id", "element"), ("factor", "label"))


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


# ---------------------------------------------------------------------------
# tables and figures




def money(x: Any, currency: str = "") -> str:
    """A money amount for reading (:func:`cvm_kit.reporting.fmt.money`): thousands separated, "—" when missing.

    Examples
    --------
    >>> money(1090.0, "EUR"), money(-12.5), money(float("nan"))
    ('1,090 EUR', '-12.5', '—')
    """
    return fmt.money(x, currency)


def _is_missing(x: Any) -> bool:
    if x is None or x is pd.NA or x is pd.NaT:
        return True
    if isinstance(x, (float, np.floating)):
        return not math.isfinite(float(x))
    return isinstance(x, str) and x.strip() in _NOT_A_VALUE


def _num_text(v: float) -> str:
    """A number without scientific notation: whole units from 100, two decimals from 1, three digits below."""
    a = abs(v)
    if v == int(v) and a < 1e15:
        return f"{int(v):,}"
    if a >= 100:
        return fmt.number(v, 0)
    if a >= 1:
        return f"{v:,.2f}".rstrip("0").rstrip(".")
    decimals = min(6, 2 - math.floor(math.log10(a)))
    text = f"{v:.{decimals}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _number(x: Any, decimals: int) -> str:
    if _is_missing(x):
        return fmt.DASH
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    if v == int(v) and abs(v) < 1e15 and decimals <= 0:
        return f"{int(v):,}"
    return fmt.number(v, decimals)


def _cell(x: Any) -> str:
    """One cell as text: "—" for a missing value, dates as ISO, yes/no, numbers in the one format."""
    if _is_missing(x):
        return fmt.DASH
    if isinstance(x, (pd.Timestamp, _dt.datetime)):
        return x.strftime("%Y-%m-%d")
    if isinstance(x, (bool, np.bool_)):
        return "yes" if x else "no"
    if isinstance(x, (int, np.integer)):
        return f"{int(x):,}"
    if isinstance(x, (float, np.floating)):
        return _num_text(float(x))
    return str(x)


def _is_num(x: Any) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, (bool, np.bool_))


_NO_STUDY = SimpleNamespace(currency="", period="", elements=(), subsegment_ids=())


@lru_cache(maxsize=512)
def _known(col: str) -> tuple[str, Any]:
    """The reader's label of a column name and how it is formatted ("money", "percent", decimals or None)."""
    from .labels import human_labels

    t = human_labels(pd.DataFrame(columns=[col]), _NO_STUDY)  # type: ignore[arg-type]
    label = str(t.columns[0])
    f = t.attrs.get("formats", {})
    kind = "money" if label in f.get("money", ()) else "percent" if label in f.get("percent", ()) else \
        f.get("decimals", {}).get(label)
    return label, kind


def column_label(col: Any) -> str:
    """A column name as a reader's label: known names (``ci_low`` -> ``95% interval low``), else words.

    Examples
    --------
    >>> column_label("ci_low"), column_label("not_in_log"), column_label("Mean (EUR/year)")
    ('95% interval low', 'Not in log', 'Mean (EUR/year)')
    """
    text = str(col)
    if not _SNAKE.fullmatch(text):
        return text  # already a label
    return _known(text)[0]


def _layout(df: pd.DataFrame, money_cols: set, pct: set, decimals: Mapping[str, int], currency: str,
            labels: bool) -> tuple[list[str], list[list[tuple[str, bool]]]]:
    """Headers and cells (text, is a number) of a table, formatted."""
    heads, columns = [], []
    for c in df.columns:
        name = str(c)
        known = _known(name) if labels and _SNAKE.fullmatch(name) else (name, None)
        label, kind = known
        if c in money_cols or (kind == "money" and c not in pct and c not in decimals):
            kind = "money"
            label = f"{label} ({currency})" if currency and c in money_cols else label
        elif c in pct:
            kind, label = "percent", f"{label} (%)"
        elif c in decimals:
            kind = int(decimals[c])
        elif kind == "percent":
            vals = pd.to_numeric(df[c], errors="coerce").dropna()
            kind, label = ("percent", f"{label} (%)") if len(vals) and vals.between(0, 1).all() else (None, label)
        heads.append(label)
        columns.append(kind)
    rows = []
    for rec in df.itertuples(index=False, name=None):
        cells = []
        for kind, x in zip(columns, rec):
            if kind == "money":
                cells.append((fmt.money(x) if _is_num(x) or _is_missing(x) else str(x), True))
            elif kind == "percent":
                cells.append((_number(float(x) * 100, 0) if _is_num(x) else _cell(x), True))
            elif isinstance(kind, int):
                cells.append((_number(x, kind), True))
            else:
                text = _cell(x)
                cells.append((text, _is_num(x) or text == fmt.DASH and not isinstance(x, str)))
        rows.append(cells)
    return heads, rows


def _table(heads: Sequence[str], rows: Sequence[Sequence[tuple[str, bool]]], caption: str) -> str:
    e = html.escape
    cap = f"<caption>{e(caption)}</caption>" if caption else ""
    th = "".join(f"<th>{e(h)}</th>" for h in heads)
    body = "".join("<tr>" + "".join(f"<td class='num'>{e(t)}</td>" if num else f"<td>{e(t)}</td>"
                                    for t, num in r) + "</tr>" for r in rows)
    return f'<table class="cvm-table">{cap}<thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>'


def _groups(heads: Sequence[str], rows: Sequence[Sequence[tuple[str, bool]]], max_columns: int,
            ) -> list[list[int]]:
    """Column groups of a wide table: its leading text (key) columns repeated in each, at most ``max_columns``."""
    n_keys = 0
    while n_keys < min(3, max_columns - 4, len(heads) - 1) and rows and not any(r[n_keys][1] for r in rows):
        n_keys += 1
    size = max(1, max_columns - n_keys)
    rest = list(range(n_keys, len(heads)))
    chunks = [rest[i:i + size] for i in range(0, len(rest), size)]
    if len(chunks) > 1 and len(chunks[-1]) < size // 2:  # even out a short last group
        per = math.ceil(len(rest) / len(chunks))
        chunks = [rest[i:i + per] for i in range(0, len(rest), per)]
    return [list(range(n_keys)) + c for c in chunks]


def table_html(df: pd.DataFrame, *, money: Iterable[str] = (), currency: str = "", percent: Iterable[str] = (),
               decimals: dict[str, int] | None = None, caption: str = "", max_rows: int = 500,
               index: bool = False, study: Any = None, labels: bool = True, max_columns: int = 8) -> str:
    """A DataFrame as an escaped HTML table a manager reads.

    Parameters
    ----------
    df : DataFrame
    money : columns
        Money amounts (:func:`cvm_kit.reporting.fmt.money`; the currency goes into the header).
    currency : str
        Shown in money column headers (default the study's unit when ``study`` is given).
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
    study : Study, optional
        Element ids are shown as the element names, money headers carry its unit.
    labels : bool
        Turn ``snake_case`` column names into labels (known names from
        :mod:`cvm_kit.reporting.labels`, others into words).
    max_columns : int
        A wider table is split into column groups (each repeating the
        leading text columns), so no page scrolls sideways.

    Returns
    -------
    str
        ``<div class="cvm-tables"><table class="cvm-table">...``; every cell and
        header escaped, "—" where a figure does not apply, with a footnote
        saying so.

    Examples
    --------
    >>> import pandas as pd
    >>> t = table_html(pd.DataFrame({"who": ["<b>"], "net_value": [1090.0]}), money=["net_value"], currency="EUR")
    >>> "<td>&lt;b&gt;</td>" in t and "<td class='num'>1,090</td>" in t and "<th>Net value (EUR)</th>" in t
    True
    """
    money_cols, pct = set(money), set(percent)
    decimals = dict(decimals or {})
    data = df.reset_index() if index else df
    for dropped, kept in _DUPLICATES:
        if dropped in data.columns and kept in data.columns:
            data = data.drop(columns=[dropped])
    if study is not None:
        from .labels import element_names, unit

        currency = currency or unit(study)
        if "element_id" in data.columns:
            names = element_names(study)
            data = data.assign(element_id=[names.get(x, x) if isinstance(x, str) else x for x in data["element_id"]])
    shown = data.head(max_rows)
    heads, rows = _layout(shown, money_cols, pct, decimals, currency, labels)
    if len(heads) > max_columns:
        groups = _groups(heads, rows, max_columns)
        parts = []
        for i, g in enumerate(groups, 1):
            cap = f"{caption} ({i} of {len(groups)})" if caption else f"Columns, part {i} of {len(groups)}"
            parts.append(_table([heads[j] for j in g], [[r[j] for j in g] for r in rows], cap))
        tables = "".join(parts)
        wrap = "cvm-tables cvm-split"  # one table shown as column groups
    else:
        tables, wrap = _table(heads, rows, caption), "cvm-tables"
    notes = ""
    if any(t == fmt.DASH for r in rows for t, _ in r):
        notes += f"<p class='cvm-footnote'>{html.escape(DASH_NOTE)}</p>"
    if len(data) > len(shown):
        notes += f"<p class='cvm-note'>{len(data) - len(shown)} more rows not shown.</p>"
    return f'<div class="{wrap}">{tables}</div>{notes}'


def display_table(df: pd.DataFrame, **kw: Any) -> None:
    """Display :func:`table_html` (with a plain-text form of the same table for logs)."""
    kw_money = set(kw.get("money", ()))
    plain = df.copy()
    for c in kw_money & set(plain.columns):
        plain[c] = plain[c].map(fmt.money)
    with pd.option_context("display.max_rows", kw.get("max_rows", 500), "display.width", 200,
                           "display.max_columns", 50):
        text = (kw.get("caption", "") + "\n" if kw.get("caption") else "") + plain.to_string(index=kw.get("index", False))
    _display(_Html(table_html(df, **kw), text))


def note(text: str, *, kind: str = "note") -> None:
    """Display a short escaped paragraph (``kind="warning"`` shows it as a warning)."""
    cls = "cvm-note cvm-warning" if kind == "warning" else "cvm-note"
    _display(_Html(f"<p class='{cls}'>{html.escape(str(text))}</p>", str(text)))

def show(obj: Any) -> None:
    """Display a matplotlib Axes or Figure now, as an embedded PNG with its title as alt text, and close it.

    Closing keeps the inline backend from showing the figure a second time and
    frees its memory in long batch runs.
    """
    import matplotlib.pyplot as plt
    from IPython.display import Image

    from .png import png_bytes

    fig = obj.figure if hasattr(obj, "figure") and not hasattr(obj, "savefig") else obj
    try:
        data = png_bytes(fig, dpi=100)
    finally:
        plt.close(fig)
    _display(Image(data=data, format="png", metadata={"alt": _figure_title(fig)}))


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
    from ..errors import AnalysisError

    try:
        return func(*args, **kw)
    except AnalysisError as exc:
        note(f"Not computed on this data: {exc}", kind="warning")  # the reader's words, not the function's name
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
    from ..errors import require

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
