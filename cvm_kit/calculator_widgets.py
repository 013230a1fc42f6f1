"""The interactive value calculator: plain functions and an ipywidgets front end.

The calculator values one customer (a studied one or a new prospect) from
its inputs, using the study's own word equations through
:func:`cvm_kit.values.evaluate`, so it always agrees with the value tables.

- :func:`calculator_inputs` lists every input with a pre-fill: the customer's
  own measurement, else the study's constant of that name, else the mean of
  the subsegment's customers.
- :func:`calculate` values a set of inputs: element values and the totals.
- :func:`waterfall_table` turns a result into the steps of a value waterfall:
  the alternative's price, each element, the offering's value to the
  customer (and the offering's price with the customer's incentive).
- :func:`value_calculator` is the notebook widget over the three.

ipywidgets and matplotlib are imported only when the widget is built.
"""

from __future__ import annotations

import functools
import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from . import values as V
from .equations import normalize_phrase
from .errors import CvmError
from .study import Study

INPUT_COLUMNS = ["phrase", "value", "source", "used_by", "needed"]
RESULT_COLUMNS = ["element_id", "name", "kind", "status", "value", "missing_inputs"]
WATERFALL_COLUMNS = ["step", "kind", "element_id", "start", "end", "delta"]
TOTAL_LABELS = {
    "differential_value": "Differential value",
    "contention_value": "of which contention",
    "price_difference": "Price difference",
    "net_value": "Net value to the customer",
}
SUMMED = ("difference", "contention")


# ---------------------------------------------------------------------------
# plain functions


def _resolve_subsegment(study: Study, customer: str | None, subsegment: str | None) -> str:
    if subsegment is not None:
        if subsegment not in study.subsegment_ids:
            raise CvmError(f"subsegment {subsegment!r} is not in {study.path / 'project.yaml'}; "
                           f"expected one of {', '.join(study.subsegment_ids)}")
        return subsegment
    if customer is not None:
        V.require_customer(study, customer)
        c = study.customers
        return str(c.loc[c["customer_id"] == customer, "subsegment"].iloc[0])
    return study.subsegment_ids[0]


def calculator_inputs(study: Study, *, customer: str | None = None, subsegment: str | None = None,
                      scenario: str | None = None, percentiles: Sequence[float] | None = None,
                      band: float = 0.2) -> pd.DataFrame:
    """Every input the calculator needs, pre-filled.

    The pre-fill of a phrase is, in this order: the customer's own
    measurement (repeats averaged), the study's constant of that name (the
    study-wide agreed figure, not other customers' overrides of it), the mean
    of the subsegment's customers (:func:`cvm_kit.values.subsegment_input_means`);
    a phrase with none of these stays missing (NaN), never 0.

    With a ``scenario`` (``conservative``, ``base``, ``optimistic``) every
    input takes instead that scenario's value: for a customer, its own
    figure moved ``band`` to the low-value side, kept, or moved to the
    high-value side (:func:`cvm_kit.values.own_scenarios`: no peer's figure
    reaches a customer's screen); for a prospect, from the subsegment's observed
    spread (:func:`cvm_kit.values.input_scenarios`: by default the 10th /
    50th / 90th percentile, oriented so that conservative is the low-value
    side for the net value); an input with too few customers for
    percentiles keeps its pre-fill.

    Parameters
    ----------
    study : Study
    customer : str, optional
        A studied customer whose own inputs pre-fill the calculator; None for
        a new prospect.
    subsegment : str, optional
        The subsegment whose means fill the gaps and whose statuses (parity)
        apply; default the customer's subsegment, else the first one.
    scenario : str, optional
        ``conservative``, ``base`` or ``optimistic`` (None: the pre-fill).
    percentiles : three numbers, optional
        A prospect's scenarios' percentiles (default the study option, else 10, 50, 90).
    band : float
        A customer's scenarios: the share its figures move (default 0.2).

    Returns
    -------
    DataFrame
        ``phrase, value, source, used_by, needed``: ``phrase`` as written in
        the equations; ``source`` is ``customer``, ``constant``,
        ``subsegment mean`` or ``missing`` (or, in a scenario, e.g.
        ``conservative: 90th percentile of big``); ``used_by`` lists the elements
        (and ``price``) resting on it; ``needed`` is False when every user is
        a point of parity in the subsegment (the input then changes nothing).

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> from cvm_kit.calculator_widgets import calculator_inputs
    >>> study = cvm.load_study(cvm.example_path())
    >>> t = calculator_inputs(study, subsegment=study.subsegment_ids[0])
    >>> sorted(t["source"].unique())
    ['constant', 'subsegment mean']
    """
    sub = _resolve_subsegment(study, customer, subsegment)
    scen = None
    if scenario is not None:
        key = str(scenario).strip().casefold()
        if key not in V.SCENARIOS:
            raise CvmError(f"scenario {scenario!r}: expected one of {', '.join(V.SCENARIOS)}")
        pct = V.scenario_percentiles(study, percentiles)
    display = V.display_names(study)
    users = V.phrase_users(study)
    consts = {normalize_phrase(c.name): float(c.value) for c in study.constants}
    # the mean of one customer's figure would be that figure, shown as a "subsegment mean" (two give only their sum)
    means = V.subsegment_input_means(study, min_own=2)
    own: dict[str, float] = {}
    if customer is not None:
        V.require_customer(study, customer)
        t = V.measurement_table(study)
        t = t[t["customer_id"] == customer]
        own = dict(zip(t["phrase"], t["value"].astype(float)))
    if scenario is not None and customer is not None:  # its own figures moved either way, never its peers'
        mine = {display.get(p, p): own.get(p, consts.get(p, math.nan)) for p in V.input_phrases(study)}
        scen = V.own_scenarios(study, sub, mine, band).set_index("phrase")
    elif scenario is not None:
        scen = V.input_scenarios(study, sub, pct).set_index("phrase")
    rows = []
    for p in V.input_phrases(study):
        name = display.get(p, p)
        if p in own and not math.isnan(own[p]):
            value, source = own[p], "customer"
        elif p in consts:
            value, source = consts[p], "constant"
        else:
            m = float(means.at[sub, name]) if name in means.columns else math.nan
            value, source = (m, "subsegment mean") if not math.isnan(m) else (math.nan, "missing")
        if scen is not None and name in scen.index and not math.isnan(scen.at[name, key]):
            sc = scen.loc[name]
            which = {1: (0, 2), -1: (2, 0), 0: (0, 2)}[int(sc["direction"])]
            if customer is not None:
                moved = {"conservative": which[0] - 1, "base": 0, "optimistic": which[1] - 1}[key]
                value, source = float(sc[key]), f"{key}: own figure {moved * band:+.0%}"
            else:
                q = {"conservative": pct[which[0]], "base": pct[1], "optimistic": pct[which[1]]}[key]
                value, source = float(sc[key]), f"{key}: {q:g}th percentile of {sub}"
        u = users.get(p, [])
        rows.append((name, value, source, ", ".join(u), bool(V.needed_for(study, u, sub))))
    return pd.DataFrame(rows, columns=INPUT_COLUMNS)


def _input_mapping(study: Study, inputs: Mapping[str, float] | pd.DataFrame) -> dict[str, float]:
    """Normalised phrase -> float, checked against the study's input phrases."""
    if isinstance(inputs, pd.DataFrame):
        if {"phrase", "value"} <= set(inputs.columns):
            pairs = list(zip(inputs["phrase"], inputs["value"]))
        elif len(inputs) == 1:
            pairs = list(inputs.iloc[0].items())
        else:
            raise CvmError("calculator inputs: expected a table with columns 'phrase' and 'value' "
                           f"or one row with a column per phrase; got {len(inputs)} rows and columns "
                           f"{', '.join(map(str, inputs.columns[:8]))}")
    else:
        pairs = list(inputs.items())
    known = set(V.input_phrases(study))
    derived = {normalize_phrase(d.name): d for d in study.derived}
    display = V.display_names(study)
    out: dict[str, float] = {}
    for phrase, value in pairs:
        p = normalize_phrase(str(phrase))
        if p == "subsegment":
            continue
        if p in derived:
            raise CvmError(f"calculator input [{phrase}] is derived ({derived[p].equation.text}); "
                           "give the inputs it is computed from instead")
        if p not in known:
            shown = ", ".join(f"[{display.get(k, k)}]" for k in V.input_phrases(study))
            raise CvmError(f"calculator input [{phrase}] is not used by any equation of the study; "
                           f"expected one of {shown}")
        if value is None or (isinstance(value, float) and math.isnan(value)):
            out[p] = math.nan
            continue
        try:
            out[p] = float(value)
        except (TypeError, ValueError):
            raise CvmError(f"calculator input [{phrase}]: {str(value)[:60]!r} is not a number") from None
    return out


def _missing_for(phrases: list[str], leaves: Mapping[str, tuple[str, ...]], given: Mapping[str, float],
                 consts: set[str], display: Mapping[str, str]) -> list[str]:
    need = dict.fromkeys(q for p in phrases for q in leaves.get(p, (p,)))
    # a constant left empty falls back to the study's figure (as evaluate does): not missing
    return [display.get(q, q) for q in need
            if (q not in given and q not in consts) or (q in given and math.isnan(given[q]) and q not in consts)]


def calculate(study: Study, inputs: Mapping[str, float] | pd.DataFrame, *, subsegment: str) -> pd.DataFrame:
    """Value one customer's inputs: each element, the differential value, price and net value.

    Parameters
    ----------
    study : Study
    inputs : mapping or DataFrame
        Phrase -> value (any case/spacing), or the table of
        :func:`calculator_inputs` (columns ``phrase, value``), or one row
        with a column per phrase. Constants fill phrases not given; a missing
        (NaN) input leaves the elements resting on it missing.
    subsegment : str
        The customer's subsegment (decides per-subsegment parity).

    Returns
    -------
    DataFrame
        ``element_id, name, kind, status, value, missing_inputs``: one row
        per element (``kind`` ``element``; placeholders as ``placeholder``
        with NaN value, never summed), then the ``total`` rows
        ``differential_value``, ``contention_value`` (already inside the
        differential value), ``price_difference`` and ``net_value``.
        ``missing_inputs`` names the inputs a missing value waits for, and
        any step with no finite result (``division by zero in [a] / [b]``).

    Raises
    ------
    CvmError
        An unknown or derived phrase, a non-number, an unknown subsegment.

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> from cvm_kit.calculator_widgets import calculate, calculator_inputs
    >>> study = cvm.load_study(cvm.example_path())
    >>> sub = study.subsegment_ids[0]
    >>> r = calculate(study, calculator_inputs(study, subsegment=sub), subsegment=sub)
    >>> r.loc[r["kind"] == "total", "element_id"].tolist()
    ['differential_value', 'contention_value', 'price_difference', 'net_value']
    """
    _resolve_subsegment(study, None, subsegment)
    given = _input_mapping(study, inputs)
    display = V.display_names(study)
    frame = pd.DataFrame({display.get(p, p): [v] for p, v in given.items()}, index=pd.Index([0]))
    out = V.evaluate(study, frame, subsegment=subsegment).iloc[0]
    env = V.what_if_environment(study, frame, subsegment)
    why = {k: a[3][0] for k, a in V.element_arrays(study, env).items()}  # division by zero, overflow
    why["price"] = V.price_arrays(study, env)[1][0]
    leaves = V.leaf_phrases(study)
    consts = {normalize_phrase(c.name) for c in study.constants}
    rows = []
    all_missing: list[str] = []
    for e in study.elements:
        if not e.quantified or e.status_for(subsegment) == "placeholder":  # listed, never valued here
            rows.append((e.id, e.name, "placeholder", e.status_for(subsegment), math.nan, ""))
            continue
        status = e.status_for(subsegment)
        miss = [] if status == "parity" or e.equation is None else \
            _missing_for(list(e.equation.phrases), leaves, given, consts, display)
        if why.get(e.id):
            miss.append(why[e.id])
        if status in SUMMED:
            all_missing.extend(miss)
        rows.append((e.id, e.name, "element", status, float(out[e.id]), "; ".join(miss)))
    price_miss = _missing_for(list(study.price.phrases), leaves, given, consts, display) if study.price else []
    if why["price"]:
        price_miss.append(why["price"])
    diff_miss = "; ".join(dict.fromkeys(all_missing))
    for key, label in TOTAL_LABELS.items():
        missing = {"differential_value": diff_miss, "contention_value": "",
                   "price_difference": "; ".join(price_miss),
                   "net_value": "; ".join(dict.fromkeys(all_missing + price_miss))}[key]
        rows.append((key, label, "total", "", float(out[key]), missing))
    return pd.DataFrame(rows, columns=RESULT_COLUMNS)


def waterfall_table(result: pd.DataFrame, *, alternative_price: float = 0.0,
                    include_price: bool = True) -> pd.DataFrame:
    """The steps of a value waterfall from a :func:`calculate` result.

    The waterfall starts at the next-best-alternative's price (the reference
    value), adds each summed element (difference and contention; parity and
    placeholders add nothing and are left out) and ends at the offering's
    value to the customer = alternative's price + differential value. With
    ``include_price`` it then shows the offering's price (alternative's price
    + price difference) and the customer's incentive to buy, the gap between
    the offering's value and its price (= net value).

    Parameters
    ----------
    result : DataFrame
        The output of :func:`calculate`.
    alternative_price : float
        The alternative's price for this customer per period, in the study's
        currency; 0 (the default) draws the differential value on its own.
    include_price : bool
        Add the ``price`` and ``incentive`` steps.

    Returns
    -------
    DataFrame
        ``step, kind, element_id, start, end, delta`` (``delta = end -
        start``); ``kind`` is ``start`` (the alternative's price), ``element``,
        ``total`` (the offering's value), ``price`` and ``incentive``. A
        missing element value makes the steps after it missing.

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> from cvm_kit.calculator_widgets import calculate, calculator_inputs, waterfall_table
    >>> study = cvm.load_study(cvm.example_path())
    >>> sub = study.subsegment_ids[0]
    >>> r = calculate(study, calculator_inputs(study, subsegment=sub), subsegment=sub)
    >>> w = waterfall_table(r, alternative_price=100_000)
    >>> w["kind"].iloc[[0, -1]].tolist()
    ['start', 'incentive']
    """
    missing = {"element_id", "kind", "status", "value", "name"} - set(result.columns)
    if missing:
        raise CvmError("waterfall_table: expected the table of calculate(); "
                       f"missing columns {', '.join(sorted(missing))}")
    try:
        p_alt = float(alternative_price)
    except (TypeError, ValueError):
        raise CvmError(f"alternative_price {alternative_price!r} is not a number") from None
    rows = [("Alternative's price", "start", "", 0.0, p_alt)]
    cum = p_alt
    el = result[(result["kind"] == "element") & result["status"].isin(SUMMED)]
    for eid, name, v in zip(el["element_id"], el["name"], el["value"].astype(float)):
        rows.append((str(name), "element", str(eid), cum, cum + v))
        cum = cum + v
    rows.append(("Offering's value to the customer", "total", "", 0.0, cum))
    if include_price:
        totals = result[result["kind"] == "total"].set_index("element_id")["value"]
        price = p_alt + float(totals.get("price_difference", 0.0))
        rows.append(("Offering's price", "price", "", 0.0, price))
        rows.append(("Customer's incentive (net value)", "incentive", "", price, cum))
    out = pd.DataFrame(rows, columns=["step", "kind", "element_id", "start", "end"])
    out["delta"] = out["end"] - out["start"]
    return out[WATERFALL_COLUMNS]


# ---------------------------------------------------------------------------
# the widget


def _fmt(x: float) -> str:
    return "missing" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:,.2f}"


def result_html(study: Study, result: pd.DataFrame, *, subsegment: str) -> str:
    """The calculator's result as a small HTML table (all study text escaped)."""
    e = html.escape
    unit = f"{study.currency} per {study.period}"
    head = (f"<p><b>{e(study.offering)}</b> versus <b>{e(study.alternative_for(subsegment))}</b> "
            f"({e(subsegment)}), {e(unit)}</p>")
    body = []
    for r in result.itertuples(index=False):
        if r.kind == "placeholder":
            rng = study.element(r.element_id).perceived_range
            note = f"not summed (perceived {rng[0]:,.0f} to {rng[1]:,.0f})" if rng else "not summed"
            body.append(f"<tr><td>{e(str(r.name))}</td><td>placeholder</td><td><i>{e(note)}</i></td></tr>")
            continue
        value = _fmt(r.value)
        if r.missing_inputs and isinstance(r.value, float) and math.isnan(r.value):
            value = f"missing: {r.missing_inputs}"
        cell = f"<b>{e(value)}</b>" if r.kind == "total" else e(value)
        name = f"<b>{e(str(r.name))}</b>" if r.kind == "total" else e(str(r.name))
        body.append(f"<tr><td>{name}</td><td>{e(str(r.status))}</td><td style='text-align:right'>{cell}</td></tr>")
    return (head + "<table class='cvm-calculator'><thead><tr><th>Element</th><th>Status</th>"
            f"<th>Value</th></tr></thead><tbody>{''.join(body)}</tbody></table>")


def _in_ipython() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipywidgets
        return False
    return get_ipython() is not None


class _ValueCalculatorParts:
    """The value calculator widget; see :func:`value_calculator`.

    Attributes for code and tests: ``inputs`` (phrase -> FloatText),
    ``result`` (last :func:`calculate` table), ``waterfall`` (last
    :func:`waterfall_table`), ``customer`` and ``subsegment`` (Dropdowns),
    ``scenario`` (ToggleButtons: the pre-fill, conservative, base, optimistic),
    ``alternative_price`` (FloatText), ``table`` (HTML), ``chart`` (Output),
    ``unset`` (phrases with no value on file, missing until edited).
    """

    def _setup(self, widgets: Any, study: Study, customer: str | None, subsegment: str | None) -> None:
        """Build the controls and wire them (the widget class's ``__init__`` calls it)."""
        self._widgets = widgets
        self.study = study
        sub = _resolve_subsegment(study, customer, subsegment)
        cust = study.customers
        options = [("New prospect", "")] + [(f"{c} ({s})", str(c)) for c, s in
                                             zip(cust["customer_id"], cust["subsegment"])]
        self.customer = widgets.Dropdown(options=options, value=customer or "", description="Customer")
        self.subsegment = widgets.Dropdown(
            options=[(f"{s.id}: {s.description}" if s.description else s.id, s.id) for s in study.subsegments],
            value=sub, description="Subsegment")
        self.alternative_price = widgets.FloatText(value=0.0, description="Alternative's price",
                                                   style={"description_width": "initial"})
        # the same scenarios as the Excel calculator: the pre-fill, then the subsegment's spread
        self.scenario = widgets.ToggleButtons(
            options=[("Customer" if customer else "Pre-fill", ""), ("Conservative", "conservative"),
                     ("Base", "base"), ("Optimistic", "optimistic")], value="", description="Scenario")
        self.inputs: dict[str, Any] = {}
        self.unset: set[str] = set()
        self._hidden: dict[str, float] = {}
        self.inputs_box = widgets.VBox()
        self.table = widgets.HTML()
        self.chart = widgets.Output()
        self.result: pd.DataFrame | None = None
        self.waterfall: pd.DataFrame | None = None
        self._busy = False
        self.customer.observe(self._on_customer, names="value")
        self.subsegment.observe(self._on_subsegment, names="value")
        self.alternative_price.observe(lambda _c: self.recompute(), names="value")
        self.scenario.observe(lambda _c: self._fill(), names="value")
        title = widgets.HTML(f"<h4>Value calculator: {html.escape(study.offering)}</h4>")
        self.children = [title, widgets.HBox([self.customer, self.subsegment]), self.scenario,
                         self.alternative_price, self.inputs_box, self.table, self.chart]
        self._fill()

    # -- state ----------------------------------------------------------
    def _fill(self) -> None:
        """(Re)build the input fields for the current customer and subsegment, then recompute."""
        widgets = self._widgets
        cust = self.customer.value or None
        table = calculator_inputs(self.study, customer=cust, subsegment=self.subsegment.value,
                                  scenario=self.scenario.value or None)
        self.inputs, self.unset, self._hidden = {}, set(), {}
        rows = []
        for r in table.itertuples(index=False):
            if not r.needed:
                self._hidden[r.phrase] = r.value
                continue
            missing = math.isnan(r.value)
            # NaN cannot travel to the browser as JSON: show 0 but keep it missing until edited
            w = widgets.FloatText(value=0.0 if missing else float(r.value), layout=widgets.Layout(width="12em"))
            if missing:
                self.unset.add(r.phrase)
            note = "no value on file: enter one" if missing else r.source
            w.observe(functools.partial(self._on_input, r.phrase), names="value")
            self.inputs[r.phrase] = w
            rows.append(widgets.HBox([widgets.Label(r.phrase, layout=widgets.Layout(width="22em")), w,
                                      widgets.Label(f"{note}; used by {r.used_by}")]))
        self.inputs_box.children = rows
        self.recompute()

    def _on_input(self, phrase: str, _change: dict) -> None:
        self.unset.discard(phrase)
        self.recompute()

    def _on_customer(self, change: dict) -> None:
        cid = change["new"] or None
        if cid is not None:
            c = self.study.customers
            sub = str(c.loc[c["customer_id"] == cid, "subsegment"].iloc[0])
            if sub != self.subsegment.value:
                self._busy = True
                try:
                    self.subsegment.value = sub
                finally:
                    self._busy = False
        self._fill()

    def _on_subsegment(self, _change: dict) -> None:
        if not self._busy:
            self._fill()

    def current_inputs(self) -> dict[str, float]:
        """Phrase -> value as the calculator uses it now (NaN for inputs never entered)."""
        out = dict(self._hidden)
        for p, w in self.inputs.items():
            out[p] = math.nan if p in self.unset else float(w.value)
        return out

    def recompute(self) -> None:
        """Value the current inputs and redraw the table and the waterfall."""
        try:
            self.result = calculate(self.study, self.current_inputs(), subsegment=self.subsegment.value)
            self.waterfall = waterfall_table(self.result, alternative_price=self.alternative_price.value)
        except CvmError as exc:
            self.table.value = f"<p style='color:#b00'>{html.escape(str(exc))}</p>"
            return
        self.table.value = result_html(self.study, self.result, subsegment=self.subsegment.value)
        self._draw()

    def _draw(self) -> None:
        import matplotlib.pyplot as plt

        from .plotting.calculator import plot_value_waterfall

        fig, ax = plt.subplots(figsize=(7.5, 3.8))
        try:
            plot_value_waterfall(self.waterfall, ax=ax, currency=self.study.currency)
            if _in_ipython():  # outside IPython there is nowhere to show it
                from IPython.display import display

                fig.tight_layout()
                self.chart.clear_output(wait=True)
                with self.chart:
                    display(fig)
        finally:
            plt.close(fig)  # one figure per update, never accumulated

    @property
    def net_value(self) -> float:
        """The net value of the last calculation."""
        r = self.result
        return float(r.loc[r["element_id"] == "net_value", "value"].iloc[0]) if r is not None else math.nan


@functools.lru_cache(maxsize=1)
def _calculator_class(widgets: Any) -> type:
    """Build the widget class once ipywidgets is imported (kept out of module import)."""

    class ValueCalculator(_ValueCalculatorParts, widgets.VBox):
        __doc__ = _ValueCalculatorParts.__doc__

        def __init__(self, study: Study, customer: str | None, subsegment: str | None) -> None:
            super().__init__()
            self._setup(widgets, study, customer, subsegment)

    return ValueCalculator


def value_calculator(study: Study, *, customer: str | None = None, subsegment: str | None = None) -> Any:
    """An interactive value calculator for one customer (a studied one or a new prospect).

    One number field per input the subsegment's equations need, labelled by
    its phrase and pre-filled as :func:`calculator_inputs` says; dropdowns
    for the customer (or a new prospect) and the subsegment; scenario
    buttons (the pre-fill, conservative, base, optimistic: the subsegment's
    percentiles, as in the Excel calculator) that refill the fields; the element
    values, differential value, price difference and net value, and the
    value waterfall, updated on every change.

    Parameters
    ----------
    study : Study
    customer : str, optional
        Start from this studied customer's own inputs.
    subsegment : str, optional
        Start in this subsegment (default the customer's, else the first).

    Returns
    -------
    ipywidgets.VBox
        With ``.inputs`` (phrase -> FloatText), ``.result`` (the last
        :func:`calculate` table), ``.waterfall``, ``.net_value`` and
        ``.recompute()`` so code can drive it without a browser.

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> from cvm_kit.calculator_widgets import value_calculator
    >>> study = cvm.load_study(cvm.example_path())
    >>> calc = value_calculator(study, subsegment=study.subsegment_ids[0])
    >>> phrase = next(iter(calc.inputs))
    >>> calc.inputs[phrase].value = calc.inputs[phrase].value * 2  # recomputes
    >>> bool(calc.result["value"].notna().any())
    True
    """
    from .errors import require

    widgets = require("ipywidgets", "notebook")
    return _calculator_class(widgets)(study, customer, subsegment)
