"""What drives value across customers, and should the segmentation change?

* :func:`drivers`: for each element (with variation) and for net value, how
  much of its variation across customers each characteristic of
  customers.csv explains: OLS R², adjusted R², F-test p-value (statsmodels,
  on design matrices built here: a numeric characteristic is one column plus
  a constant, a categorical one is dummies with the first level dropped;
  no formula is ever built from user column names).
* :func:`best_split`: the single split of the customers (a threshold on a
  numeric characteristic, or two groups of categories) that explains the
  most variance, against the share the current subsegments explain.
* :func:`segmentation_suggestion`: keep the segmentation, or segment by X
  at threshold T, in plain language with the small-sample caution.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .errors import AnalysisError, CvmError
from .reporting.fmt import plain
from .study import Study
from .variance import SMALL_SAMPLE, fmt_money, mid, value_matrix, valued_elements

DRIVER_COLUMNS = ["element_id", "characteristic", "kind", "n", "levels", "r_squared", "adj_r_squared", "f_statistic",
                  "p_value", "rank", "note"]
SPLIT_COLUMNS = ["target", "characteristic", "kind", "rule", "threshold", "group_a", "group_b", "n_a", "n_b",
                 "mean_a", "mean_b", "share_explained", "current_share", "gain", "note"]
MAX_ENUMERATED_LEVELS = 8


def _is_numeric(s: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)


def _targets(study: Study, values: pd.DataFrame | None) -> tuple[pd.DataFrame, list[tuple[str, str]]]:
    wide = value_matrix(study, values)
    targets = [(e.id, "element") for e in valued_elements(study)] + [("differential_value", "total"),
                                                                      ("net_value", "total")]
    return wide, targets


def _prepare(x: pd.Series, numeric: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(present mask, level codes, design matrix over all customers) of one characteristic."""
    present = x.notna().to_numpy()
    if numeric:
        v = x.to_numpy(float)
        codes = pd.factorize(v)[0]
        return present, codes, np.column_stack([np.ones(len(x)), v])
    codes, levels = pd.factorize(x.astype(str).where(present), sort=True)
    dummies = (codes[:, None] == np.arange(len(levels))[None, :]).astype(float)
    return present, codes, np.column_stack([np.ones(len(x)), dummies])


def _fit_one(y: np.ndarray, present: np.ndarray, codes: np.ndarray, design: np.ndarray, numeric: bool) -> dict:
    """OLS of y on one characteristic; NaN and a note when it cannot be fitted."""
    from statsmodels.regression.linear_model import OLS

    ok = ~np.isnan(y) & present
    y = y[ok]
    n = int(ok.sum())
    c = codes[ok]
    levels = int(np.count_nonzero(np.bincount(c[c >= 0]))) if n else 0
    out = {"n": n, "levels": levels, "r_squared": np.nan, "adj_r_squared": np.nan, "f_statistic": np.nan,
           "p_value": np.nan, "note": ""}
    if levels < 2:
        out["note"] = "one level only: explains nothing" if n else "no customer has both values"
        return out
    if np.ptp(y) == 0:
        out["note"] = "every customer has the same value: nothing to explain"
        return out
    X = design[ok]
    if not numeric:
        # dummies of the levels present here, the first one dropped (it is the baseline)
        used = np.flatnonzero(X[:, 1:].any(axis=0)) + 1
        X = np.column_stack([X[:, 0], X[:, used[1:]]])
    if n - X.shape[1] < 1:
        out["note"] = f"too few customers ({n}) for {levels} levels: no residual degrees of freedom"
        return out
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = OLS(y, X).fit()
    out.update(r_squared=float(res.rsquared), adj_r_squared=float(res.rsquared_adj), f_statistic=float(res.fvalue),
               p_value=float(res.f_pvalue))
    if n < SMALL_SAMPLE:
        out["note"] = f"{n} customers: small sample, read as indicative"
    return out


def drivers(study: Study, *, values: pd.DataFrame | None = None) -> pd.DataFrame:
    """Which customer characteristics explain each element's value (and net value)?

    Each element that varies (parity-everywhere elements are left out),
    ``differential_value`` and ``net_value`` is regressed (OLS) on each characteristic of customers.csv
    alone: a numeric characteristic as one column plus a constant, a
    categorical one as dummy columns (first level dropped) plus a constant.
    Customers missing the value or the characteristic are left out of that fit.

    Returns
    -------
    DataFrame
        ``element_id`` (an element id, ``differential_value`` or
        ``net_value``), ``characteristic,
        kind`` (numeric|categorical), ``n`` (customers in the fit),
        ``levels`` (distinct values), ``r_squared, adj_r_squared,
        f_statistic, p_value`` (F-test of the characteristic), ``rank``
        (1 = explains most, by adjusted R², within the element; NaN when not
        fitted), ``note`` (why a fit is NaN: one level, no variation, too
        few customers; or the small-sample caution).

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> from cvm_kit.segments import drivers
    >>> d = drivers(cvm.load_study(cvm.example_path()))
    >>> d.loc[(d["element_id"] == "rejects") & (d["rank"] == 1), "characteristic"].item()
    'humidity_pct'
    """
    chars = study.characteristics
    if not chars:
        raise AnalysisError(f"{study.path / 'customers.csv'} has no characteristic columns beyond customer_id and "
                            "subsegment: nothing to explain value with")
    wide, targets = _targets(study, values)
    cust = study.customers.set_index("customer_id").reindex(wide.index)
    prepared = {c: (_is_numeric(cust[c]),) + _prepare(cust[c], _is_numeric(cust[c])) for c in chars}
    rows = []
    for tid, _ in targets:
        y = wide[tid].to_numpy(float)
        for c in chars:
            numeric, present, codes, design = prepared[c]
            rows.append({"element_id": tid, "characteristic": c, "kind": "numeric" if numeric else "categorical",
                         **_fit_one(y, present, codes, design, numeric)})
    out = pd.DataFrame(rows)
    out["rank"] = out.groupby("element_id", sort=False)["adj_r_squared"].rank(ascending=False, method="min")
    order = {t: i for i, (t, _) in enumerate(targets)}
    out = out.sort_values(["element_id", "rank"], key=lambda s: s.map(order) if s.name == "element_id" else s,
                          na_position="last", kind="stable").reset_index(drop=True)
    return out[DRIVER_COLUMNS]


# ---------------------------------------------------------------------------
# splits


def _ss_between(sums: np.ndarray, counts: np.ndarray, total: float, n: int) -> np.ndarray:
    """Between-group sum of squares of a two-group split from group a's sums and counts."""
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / n
        ma = sums / counts
        mb = (total - sums) / (n - counts)
        return counts * (ma - mean) ** 2 + (n - counts) * (mb - mean) ** 2


def _share_by(y: np.ndarray, groups: np.ndarray) -> float:
    """Share of the variance of y explained by a grouping (between SS / total SS)."""
    sst = float(((y - y.mean()) ** 2).sum())
    if sst == 0:
        return np.nan
    g = pd.Series(y).groupby(pd.Series(groups, dtype=object).to_numpy())
    ssb = float((g.size() * (g.mean() - y.mean()) ** 2).sum())
    return ssb / sst


def _same_partition(mask: np.ndarray, subs: np.ndarray) -> bool:
    """Whether a two-group split puts the customers exactly as the current subsegments do."""
    if len(set(subs)) != 2:
        return False
    first = subs == subs[0]
    return bool((mask == first).all() or (mask == ~first).all())


def _best_numeric(y: np.ndarray, x: np.ndarray, min_size: int) -> dict | None:
    order = np.argsort(x, kind="stable")
    xs, ys = x[order], y[order]
    n = xs.size
    cs = np.cumsum(ys)
    # split after position i (0-based) only where x changes and both sides keep min_size customers
    i = np.arange(n - 1)
    ok = (xs[1:] > xs[:-1]) & (i + 1 >= min_size) & (n - i - 1 >= min_size)
    if not ok.any():
        return None
    i = i[ok]
    ssb = _ss_between(cs[i], (i + 1).astype(float), float(cs[-1]), n)
    j = int(np.argmax(ssb))
    k = int(i[j])
    thr = float((xs[k] + xs[k + 1]) / 2)
    return {"ssb": float(ssb[j]), "threshold": thr, "mask_a": x <= thr}


def _best_categorical(y: np.ndarray, x: np.ndarray, min_size: int) -> dict | None:
    codes, levels = pd.factorize(x, sort=True)
    L = len(levels)
    if L < 2:
        return None
    sums = np.bincount(codes, weights=y, minlength=L)
    counts = np.bincount(codes, minlength=L).astype(float)
    if L <= MAX_ENUMERATED_LEVELS:
        # every two-group partition; level 0 stays in group a (the complement is the same split)
        bits = np.arange(2 ** (L - 1) - 1)  # excludes "all levels in a"
        cand = np.column_stack([np.ones(bits.size, bool)] +
                               [((bits >> j) & 1).astype(bool) for j in range(L - 1)])
    else:
        # with levels sorted by mean, the best split is contiguous in that order (Fisher 1958)
        order = np.argsort(sums / counts, kind="stable")
        cand = np.zeros((L - 1, L), bool)
        for k in range(L - 1):
            cand[k, order[: k + 1]] = True
    ca = cand @ counts
    ok = (ca >= min_size) & (y.size - ca >= min_size)
    if not ok.any():
        return None
    cand, ca = cand[ok], ca[ok]
    ssb = _ss_between(cand @ sums, ca, float(y.sum()), y.size)
    j = int(np.argmax(ssb))
    group_a = tuple(str(v) for v in levels[cand[j]])
    return {"ssb": float(ssb[j]), "group_a": group_a, "mask_a": cand[j][codes]}


def best_split(study: Study, target: str = "net_value", *, min_size: int = 2,
               values: pd.DataFrame | None = None) -> pd.DataFrame:
    """The split of the customers that best separates ``target``, per characteristic, best first.

    Numeric characteristics: every threshold midway between sorted distinct
    values with at least ``min_size`` customers on each side. Categorical:
    every two-group partition of the levels (up to 8 levels; above that,
    the contiguous splits of the levels sorted by mean, which contain the
    best one). The share explained is the between-group sum of squares over
    the total sum of squares, the same measure as for the current subsegments
    (``current_share``, on the same customers).

    Parameters
    ----------
    target : str
        ``net_value``, ``differential_value`` or an element id.
    min_size : int
        Fewest customers allowed on either side of a split.

    Returns
    -------
    DataFrame
        One row per characteristic, best first (the first row is the single
        best split): ``target, characteristic, kind, rule`` (e.g.
        ``humidity_pct <= 62.5``), ``threshold`` (numeric; NaN for
        categories), ``group_a, group_b`` (the sides in words),
        ``n_a, n_b, mean_a, mean_b, share_explained, current_share, gain``
        (share_explained - current_share), ``note``.

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> from cvm_kit.segments import best_split
    >>> b = best_split(cvm.load_study(cvm.example_path()), "rejects")
    >>> b["characteristic"].iloc[0]
    'humidity_pct'
    """
    return _best_split(study, value_matrix(study, values), target, min_size)


def _best_split(study: Study, wide: pd.DataFrame, target: str, min_size: int) -> pd.DataFrame:
    if target not in wide.columns or target == "subsegment":
        known = [c for c in wide.columns if c != "subsegment"]
        raise CvmError(f"no target {target!r} to split on; known: {', '.join(known)}")
    chars = study.characteristics
    if not chars:
        raise AnalysisError(f"{study.path / 'customers.csv'} has no characteristic columns: nothing to split on")
    cust = study.customers.set_index("customer_id").reindex(wide.index)
    y_all = wide[target].to_numpy(float)
    subs_all = wide["subsegment"].to_numpy(object)
    rows = []
    for c in chars:
        numeric = _is_numeric(cust[c])
        xs = cust[c]
        ok = ~np.isnan(y_all) & xs.notna().to_numpy()
        y, subs = y_all[ok], subs_all[ok]
        x = xs[ok].to_numpy(float) if numeric else xs[ok].astype(str).to_numpy(object)
        row: dict[str, Any] = {"target": target, "characteristic": c,
               "kind": "numeric" if numeric else "categorical", "rule": "",
               "threshold": np.nan, "group_a": "", "group_b": "", "n_a": 0, "n_b": 0, "mean_a": np.nan,
               "mean_b": np.nan, "share_explained": np.nan, "current_share": np.nan, "gain": np.nan, "note": ""}
        sst = float(((y - y.mean()) ** 2).sum()) if y.size else 0.0
        if y.size == 0:
            row["note"] = "no customer has both the value and the characteristic"
        elif sst == 0:
            row["note"] = "every customer has the same value: nothing to split"
        elif not numeric and y.size >= 3 and len(pd.unique(x)) == y.size:
            # a name or an id: any grouping of its levels is a grouping of customers, fitted to the noise
            row["note"] = "a different value for every customer (a name or an id): not a characteristic to split on"
        else:
            best = _best_numeric(y, x, min_size) if numeric else _best_categorical(y, x, min_size)
            if best is None:
                row["note"] = ("one level only" if len(pd.unique(x)) < 2 else
                               f"no split leaves {min_size}+ customers on each side")
            else:
                a = best["mask_a"]
                if numeric:
                    t = best["threshold"]
                    tt = plain(t)  # 3,765,070.5, not 3.76507e+06
                    row.update(threshold=t, rule=f"{c} <= {tt}", group_a=f"{c} <= {tt}", group_b=f"{c} > {tt}")
                else:
                    ga = sorted(best["group_a"])
                    gb = sorted(set(x) - set(ga))
                    row.update(rule=f"{c} in {{{', '.join(ga)}}}", group_a=", ".join(ga), group_b=", ".join(gb))
                row.update(n_a=int(a.sum()), n_b=int((~a).sum()), mean_a=float(y[a].mean()),
                           mean_b=float(y[~a].mean()), share_explained=best["ssb"] / sst)
                if y.size < SMALL_SAMPLE:
                    row["note"] = (f"{y.size} customers: the best of many candidate splits fits noise too; "
                                   "read as indicative")
        if y.size and sst > 0:
            row["current_share"] = _share_by(y, subs)
            gain = row["share_explained"] - row["current_share"]
            row["gain"] = 0.0 if abs(gain) < 1e-9 else gain  # the same split as the subsegments: exactly 0
            if row["n_a"] and best is not None and _same_partition(best["mask_a"], subs):
                row["note"] = ("the same customers as the current subsegments; " + row["note"]).rstrip("; ")
        rows.append(row)
    out = pd.DataFrame(rows, columns=SPLIT_COLUMNS)
    return out.sort_values("share_explained", ascending=False, na_position="last", kind="stable").reset_index(drop=True)


# ---------------------------------------------------------------------------
# the suggestion


@dataclass(frozen=True)
class SegmentationSuggestion:
    """A plain-language suggestion and the table behind it.

    ``action`` is ``keep`` or ``resegment``; ``characteristic`` and
    ``rule`` name the suggested split (empty when keeping).
    """

    text: str
    table: pd.DataFrame
    action: str
    characteristic: str = ""
    rule: str = ""

    def __str__(self) -> str:
        return self.text


def segmentation_suggestion(study: Study, *, target: str = "net_value", min_gain: float = 0.15,
                            min_size: int = 3, values: pd.DataFrame | None = None) -> SegmentationSuggestion:
    """Keep the segmentation, or segment by X at threshold T? In plain language.

    The best single split of ``target`` (see :func:`best_split`) is
    suggested when it explains at least ``min_gain`` (15 points) more of the
    variance than the current subsegments and leaves ``min_size`` customers
    on each side; otherwise keep. Elements whose best split beats the
    subsegments by as much are mentioned as well.

    Returns
    -------
    SegmentationSuggestion
        ``text`` (the suggestion, why, and the small-sample caution),
        ``table`` (the best split per target: ``net_value`` and every
        element, columns of :func:`best_split`), ``action`` (keep|resegment),
        ``characteristic``, ``rule``.

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> from cvm_kit.segments import segmentation_suggestion
    >>> s = segmentation_suggestion(cvm.load_study(cvm.example_path()))
    >>> s.action in ("keep", "resegment")
    True
    """
    wide = value_matrix(study, values)
    if target not in wide.columns or target == "subsegment":
        raise CvmError(f"no target {target!r}; use net_value, differential_value or an element id")
    tables = []
    for t in [target] + [e.id for e in valued_elements(study) if e.id != target]:
        b = _best_split(study, wide, t, min_size)
        tables.append(b.head(1))
    table = pd.concat(tables, ignore_index=True)
    main = table.iloc[0]
    n = int(wide[target].notna().sum())
    tname = (target.replace("_", " ") if target in ("net_value", "differential_value")
             else mid(study.element(target).name))
    unit = f"{study.currency}/{study.period}"
    subs = " / ".join(study.subsegment_ids)
    cur = main["current_share"]
    caution_txt = (f"Caution: {n} customers. The best of many candidate splits always explains some variance "
                   "by chance; treat any new split as a hypothesis to check with further customers before "
                   "re-segmenting."
                   if n < SMALL_SAMPLE else
                   f"{n} customers: splits this large are unlikely to be chance, but check they make business sense.")
    if pd.isna(main["share_explained"]):
        text = (f"Keep the current segmentation ({subs}): no split of {tname} could be computed "
                f"({main['note'] or 'no usable characteristic'}). " + caution_txt)
        return SegmentationSuggestion(text, table, "keep")
    share, gain = float(main["share_explained"]), float(main["gain"]) if pd.notna(main["gain"]) else np.nan
    split_txt = (f"{main['rule']} ({main['n_a']} customers, mean {fmt_money(main['mean_a'])} {unit}) versus the "
                 f"rest ({main['n_b']}, mean {fmt_money(main['mean_b'])})")
    others = table.iloc[1:]
    others = others[(others["gain"] >= min_gain) & others["share_explained"].notna()]
    extra = ""
    if len(others):
        bits = [f"{r.target} by {r.rule} ({r.share_explained:.0%} vs {r.current_share:.0%})"
                for r in others.itertuples()]
        extra = " Elements that another split explains much better than the subsegments: " + "; ".join(bits) + "."
    if np.isfinite(gain) and gain >= min_gain:
        text = (f"Consider segmenting by {main['characteristic']}: splitting at {split_txt} explains {share:.0%} of "
                f"the variation in {tname} across customers, against {cur:.0%} for the current subsegments ({subs})."
                + extra + " " + caution_txt)
        return SegmentationSuggestion(text, table, "resegment", str(main["characteristic"]), str(main["rule"]))
    same = str(main["note"]).startswith("the same customers")
    why = (f"the current subsegments ({subs}) explain {cur:.0%} of the variation in {tname}; the best single split, "
           f"{split_txt}, explains {share:.0%}"
           + (" and puts the customers exactly as the subsegments do." if same else
              ", not enough more to re-segment." if share > cur else ", no more."))
    text = f"Keep the current segmentation: {why}" + extra + " " + caution_txt
    return SegmentationSuggestion(text, table, "keep")


def driver_frame(study: Study, element_id: str = "net_value", characteristic: str | None = None, *,
                 values: pd.DataFrame | None = None) -> pd.DataFrame:
    """Tidy frame for :func:`~cvm_kit.plotting.segments.plot_value_vs_driver`.

    Parameters
    ----------
    element_id : str
        An element id or ``net_value``/``differential_value``.
    characteristic : str, optional
        The characteristic; default the top driver of ``element_id``.

    Returns
    -------
    DataFrame
        ``customer_id, subsegment, element_id, value, driver, driver_value,
        driver_kind`` (one row per customer with a value).
    """
    wide = value_matrix(study, values)
    if element_id not in wide.columns or element_id == "subsegment":
        raise CvmError(f"no element {element_id!r}; known: {', '.join(c for c in wide.columns if c != 'subsegment')}")
    if characteristic is None:
        d = drivers(study, values=values)
        top = d[(d["element_id"] == element_id) & (d["rank"] == 1)]
        if top.empty:
            raise AnalysisError(f"no characteristic explains {element_id} (see drivers(): every fit is NaN)")
        characteristic = str(top["characteristic"].iloc[0])
    if characteristic not in study.characteristics:
        raise CvmError(f"no characteristic {characteristic!r} in customers.csv; "
                       f"known: {', '.join(study.characteristics)}")
    cust = study.customers.set_index("customer_id").reindex(wide.index)
    out = pd.DataFrame({"customer_id": wide.index.to_numpy(object), "subsegment": wide["subsegment"].to_numpy(object),
                        "element_id": element_id, "value": wide[element_id].to_numpy(float),
                        "driver": characteristic, "driver_value": cust[characteristic].to_numpy(),
                        "driver_kind": "numeric" if _is_numeric(cust[characteristic]) else "categorical"})
    return out[out["value"].notna()].reset_index(drop=True)
