"""The tables the notebooks show at each stage: data gathering, the per-customer report, the value documenter.

Tidy DataFrames with the analysis' own (snake_case) column names;
:func:`cvm_kit.reporting.display.display_table` turns the names into labels
for the page.

Examples
--------
>>> import cvm_kit as cvm
>>> from cvm_kit.reporting import tables
>>> study = cvm.load_study(cvm.example_path())
>>> cid = study.customers["customer_id"].iloc[0]
>>> list(tables.customer_values(study, cid).columns)[:4]
['element_id', 'name', 'status', 'value']
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..errors import CvmError
from ..study import Study
from .disclosure import peer_mean, peer_means
from .display import _cell

__all__ = ["validation_table", "coverage_matrix", "coverage_summary", "source_mix", "customer_values",
           "customer_totals", "customer_missing", "customer_assumptions", "customer_facts", "placeholders",
           "documented_customers", "pick_customer", "TOTAL_LABELS"]

TOTAL_LABELS = {
    "differential_value": "Differential value",
    "contention_value": "of which contention",
    "price_difference": "Price difference",
    "net_value": "Net value to the customer",
}


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
    from ..values import input_coverage

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
    from ..values import input_coverage

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
    from ..study import RELIABILITIES, SOURCES

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
    from ..values import require_customer

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
        customers with a value, withheld (NaN) unless two customers besides
        this one have one (:mod:`cvm_kit.reporting.disclosure`);
        ``vs_subsegment = value - subsegment_mean``.
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
    from ..values import element_values

    row = _customer_row(study, customer_id)
    sub = row["subsegment"]
    v = values if values is not None else element_values(study)
    # means of at least two other customers: fewer would give their figures back (reporting.disclosure)
    seg_mean = peer_means(v, "element_id", "value", customer_id)
    sub_mean = peer_means(v[v["subsegment"] == sub], "element_id", "value", customer_id)
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
        for ``differential_value, contention_value, price_difference, net_value``;
        a mean fewer than two other customers have a value in is NaN.

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> from cvm_kit import report
    >>> study = cvm.load_study(cvm.example_path())
    >>> report.customer_totals(study, study.customers["customer_id"].iloc[0])["quantity"].iloc[-1]
    'net_value'
    """
    from ..values import totals

    row = _customer_row(study, customer_id)
    t = totals_df if totals_df is not None else totals(study)
    sub = t[t["subsegment"] == row["subsegment"]]
    mine = t[t["customer_id"] == customer_id].iloc[0]
    rows = []
    for q, label in TOTAL_LABELS.items():
        val, sm = float(mine[q]), peer_mean(sub[q], sub["customer_id"], customer_id)
        rows.append((q, label, val, sm, peer_mean(t[q], t["customer_id"], customer_id), val - sm))
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
    from ..research import missing_by_contact
    from ..values import missing_inputs

    _customer_row(study, customer_id)
    m = missing_by_contact(study, customer_id)  # this customer's log rows only: a report's cost does not grow with N
    if m.empty:  # no fieldwork log: still list what is missing
        m = missing_inputs(study).assign(stage="", next_step="", next_date=pd.NaT)
        m["with"] = ""
    cols = ["phrase", "needed_by", "stage", "with", "next_step", "next_date"]
    return m.loc[m["customer_id"] == customer_id, cols].reset_index(drop=True)


def customer_assumptions(study: Study, customer_id: str) -> pd.DataFrame:
    """The assumptions one customer's values rest on.

    The model's assumptions (elements, constants, derived quantities, the
    price) and this customer's own measurements whose source is
    ``assumption``; other customers' assumed measurements are left out. A
    constant this customer measured itself says so: its own figure is the
    one its values use.

    Returns
    -------
    DataFrame
        ``kind, subject, assumption``.
    """
    from ..estimates import assumptions

    _customer_row(study, customer_id)
    return assumptions(study, customer=customer_id)


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
        from ..documenter import document_value

        documented = document_value(study)
    have = set(map(str, documented["customer_id"]))
    in_study = [str(c) for c in study.customers["customer_id"] if str(c) in have]
    # rows naming a customer absent from customers.csv still get their history, after the others
    return in_study + sorted(have - set(in_study))


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
    from ..values import require_customer

    if customer_id is None or str(customer_id).strip() == "":
        if study.customers.empty:
            raise CvmError(f"{study.path / 'customers.csv'} lists no customer")
        return str(study.customers["customer_id"].iloc[0])
    cid = str(customer_id).strip()
    require_customer(study, cid)
    return cid
