"""What a value calculator holds for a customer or a subsegment: its inputs, where each comes from, its assumptions.

Customer-safe by construction: a customer's calculator gets that customer's
own figures (constants where it has none) and the study's assumptions and
its own assumed measurements; a subsegment's gets subsegment statistics only
(a mean of one customer's figure is withheld, and so is a constant's mean
when only one customer has its own figure of it). :mod:`cvm_kit.calculator`
writes them into the workbook.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .equations import normalize_phrase
from .errors import CvmError
from .study import Study


def _case(study: Study, customer: str | None, subsegment: str | None):
    """(subsegment, label, inputs row as a one-row DataFrame, per-phrase source/note text)."""
    from . import values as V

    display = V.display_names(study)
    phrases = V.input_phrases(study)
    consts = {normalize_phrase(c.name): c for c in study.constants}
    info: dict[str, tuple[str, str]] = {}
    users = V.phrase_users(study)

    def needed(p: str, sub: str) -> bool:
        return bool(V.needed_for(study, users.get(p, []), sub))

    if customer is not None and subsegment is not None:
        raise CvmError("give either a customer or a subsegment, not both")
    if customer is not None:
        V.require_customer(study, customer)
        env = V.environment(study)
        i = int(np.flatnonzero(env.ids == customer)[0])
        sub = str(env.subsegments[i])
        row = {p: float(env.values[p][i]) if p in env.values else np.nan for p in phrases}
        table = V.measurement_table(study)
        own = table[table["customer_id"] == customer].set_index("phrase")
        m = study.measurements
        m = m[m["customer_id"] == customer]
        for p in phrases:
            if p in own.index:
                r = own.loc[p]
                src = str(r["source"]) + (f" (mean of {int(r['n'])} rows)" if int(r["n"]) > 1 else "")
                if p in consts:
                    src += f"; overrides the study constant {consts[p].value:g}"
                notes = [n for n in m.loc[m["phrase"] == p, "note"] if n]
                info[p] = (src, " | ".join(notes))
            elif p in consts:
                info[p] = (f"study constant ({consts[p].source or 'no source given'})", "")
            elif not needed(p, sub):
                info[p] = ("", f"not needed for {sub} customers (the elements using it are points of parity there)")
            else:
                info[p] = ("", "missing for this customer: enter a value; the elements using it show #N/A until then")
        label = f"Customer {customer} (subsegment {sub})"
    else:
        sub = subsegment if subsegment is not None else study.subsegment_ids[0]
        study.subsegment(sub)  # KeyError naming the known ids
        means = V.subsegment_input_means(study)
        counts = study.customers["subsegment"].value_counts()
        n = int(counts.get(sub, 0))
        row = {}
        env = V.environment(study)
        in_sub = env.subsegments == sub
        own = V.own_figures(study)
        for p in phrases:
            v = float(means.loc[sub, display.get(p, p)])
            k = int((~np.isnan(env.values[p][in_sub])).sum()) if p in env.values else 0
            own_k = int(own.get((sub, p), 0))  # customers of the subsegment with their own figure
            measured = own_k > 0
            if p in consts and own_k == 1:
                # one customer's own figure among the constant: the mean would give it back (n * mean - rest)
                row[p] = float(consts[p].value)
                info[p] = (f"study constant ({consts[p].source or 'no source given'})",
                           f"only 1 of the {n} {sub} customers has its own figure: not averaged in (it would "
                           "give that figure away)")
                continue
            if k == 1 and measured:
                # the "mean" of one customer is that customer's figure: withheld
                row[p] = np.nan
                info[p] = ("", f"only 1 of the {n} {sub} customers has a value (not shown: it is that customer's "
                               "own figure); enter one" + ("" if needed(p, sub) else
                                                          "; not needed for the points of parity here"))
                continue
            row[p] = v
            if p in consts and not measured:
                info[p] = (f"study constant ({consts[p].source or 'no source given'})", "")
            elif np.isnan(v) and not needed(p, sub):
                info[p] = ("", f"not needed for {sub} customers (the elements using it are points of parity there)")
            elif np.isnan(v):
                info[p] = ("", f"no value for any of the {n} {sub} customers: enter one; the elements using it "
                               "show #N/A until then")
            else:
                info[p] = (f"mean of {k} of {n} {sub} customers", "")
        label = f"Subsegment {sub}: means of its {n} studied customers"
    inputs = pd.DataFrame([{display.get(p, p): row[p] for p in phrases}])
    return sub, label, inputs, info


def _basis(sc: pd.Series, sub: str, first: str, pct: tuple[float, float, float]) -> str:
    """What an input's scenario values are, in one line."""
    from . import values as V

    n = int(sc["n"])
    if np.isnan(sc["p_mid"]):
        return (f"{n} {sub} customer(s) with a value, fewer than {V.MIN_SCENARIO_CUSTOMERS}: "
                f"every scenario keeps the {first.lower()} value")
    low, mid, high = pct
    side = {1: f"higher raises net value: Conservative = {low:g}th percentile",
            -1: f"higher lowers net value: Conservative = {high:g}th percentile",
            0: f"no effect on net value at the {mid:g}th percentiles: Conservative = {low:g}th percentile"}
    return f"percentiles of {n} {sub} customers; {side[int(sc['direction'])]}"


def _own_basis(sc: pd.Series, band: float) -> str:
    """What a customer's scenario values of an input are, in one line."""
    if int(sc["n"]) == 0:
        return "no figure on file: every scenario is empty"
    side = {1: "higher raises net value: Conservative is the lower figure",
            -1: "higher lowers net value: Conservative is the higher figure",
            0: "no effect on net value here: Conservative is the lower figure"}
    return f"the customer's own figure, {band:.0%} either way; {side[int(sc['direction'])]}"


def _safe_assumptions(study: Study, customer: str | None, sub: str) -> pd.DataFrame:
    """The assumptions a calculator may carry: study-level ones, plus the customer's own.

    Team assumptions among measurements are per customer: a customer's
    calculator lists that customer's only; a subsegment's calculator says
    how many of its customers' values of each input are assumed, naming none.
    """
    from .estimates import assumptions

    if customer is not None:
        return assumptions(study, customer=customer)
    a = assumptions(study)
    rows = [tuple(r) for r in a[a["kind"] != "measurement"].itertuples(index=False)]
    m = study.measurements
    m = m[m["source"] == "assumption"]
    ids = study.customers.loc[study.customers["subsegment"] == sub, "customer_id"]
    n = len(ids)
    mine = m[m["customer_id"].isin(set(ids))]
    for var, k in mine.groupby("phrase", sort=False)["customer_id"].nunique().items():
        shown = mine.loc[mine["phrase"] == var, "variable"].iloc[0]
        rows.append(("measurement", str(shown), f"{k} of the {n} {sub} customers' values are assumed by the team"))
    return pd.DataFrame(rows, columns=list(a.columns))
