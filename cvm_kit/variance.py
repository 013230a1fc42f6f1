"""Do subsegments value the elements differently? (subsegment variance)

For every quantified element, and for differential and net value, compare
the subsegments' customers:

* two subsegments: Welch t-test (unequal variances, statsmodels), the
  difference of means with its Welch 95% interval, Hedges' g and a
  permutation p-value (exact enumeration of every split when there are at
  most ``exact_limit`` of them, else Monte Carlo with a seed);
* three or more: Welch ANOVA (:func:`statsmodels.stats.oneway.anova_oneway`
  with unequal variances) and a Monte Carlo permutation p-value on the
  between-subsegment sum of squares.

p-values are Holm-adjusted across the element rows. Each row ends in a
plain-language ``finding`` a manager can read, always with the sample-size
caution: value studies interview 6-8 customers per subsegment.
"""

from __future__ import annotations

import itertools
import math
import warnings
from functools import lru_cache
from typing import Any, cast

import numpy as np
import pandas as pd

from .errors import AnalysisError
from .study import Study
from .values import QUANTIFIED, element_values
from .values import totals as _totals

TOTALS = ("differential_value", "net_value")
TOTAL_NAMES = {"differential_value": "differential value", "net_value": "net value"}
COMPARE_COLUMNS = ["element_id", "name", "kind", "subsegment_a", "subsegment_b", "n_a", "n_b", "mean_a", "mean_b",
                   "difference", "ci_low", "ci_high", "statistic", "df", "df_num", "p_value", "p_permutation",
                   "permutation", "p_holm", "hedges_g", "test", "finding"]
SMALL_SAMPLE = 30  # below this many customers in a group, say "small samples, read as indicative"


# ---------------------------------------------------------------------------
# shared helpers (used by sensitivity, segments and prospects too)


def valued_elements(study: Study, subsegment: str | None = None) -> list:
    """Quantified elements that are not a point of parity everywhere (or in ``subsegment``).

    A parity element is worth 0 by definition, so it carries no variation worth testing.
    """
    subs = study.subsegment_ids if subsegment is None else [subsegment]
    return [e for e in study.elements if e.quantified and any(e.status_for(s) in QUANTIFIED for s in subs)]


def value_matrix(study: Study, values: pd.DataFrame | None = None, totals: pd.DataFrame | None = None,
                 *, with_totals: bool = True) -> pd.DataFrame:
    """Customers x (valued elements, differential_value, net_value), plus ``subsegment``.

    Returns
    -------
    DataFrame
        Indexed by ``customer_id`` in customers.csv order; columns
        ``subsegment``, one per valued element id, then
        ``differential_value, net_value, price_difference``.
    """
    env = None
    if values is None:
        from .values import environment

        env = environment(study)  # resolved once for both the values and the totals
        values = element_values(study, env)
    ids = pd.Index(study.customers["customer_id"], name="customer_id")
    out = pd.DataFrame({"subsegment": study.customers["subsegment"].to_numpy(object)}, index=ids)
    elems = [e.id for e in valued_elements(study)]
    if len(values) and elems:
        wide = values.pivot(index="customer_id", columns="element_id", values="value")
        wide = wide.reindex(index=ids, columns=elems)
        out = pd.concat([out, wide.astype(float)], axis=1)
    else:
        for e in elems:
            out[e] = np.nan
    if with_totals:
        t = totals if totals is not None else _totals(study, values, env)
        t = t.set_index("customer_id").reindex(ids)
        for c in TOTALS + ("price_difference",):
            out[c] = t[c].to_numpy(float)
    return out


def fmt_money(x: float) -> str:
    """A figure for prose: 3 significant digits, thousands separators (``45,200``; ``-1,480``; ``0.25``).

    The one prose rule, :func:`cvm_kit.reporting.fmt.prose_money`.
    """
    from .reporting.fmt import prose_money

    return prose_money(x)


def fmt_p(p: float) -> str:
    """A p-value for prose: ``p=0.03``, ``p=0.004``, ``p<0.001``, ``p=n/a``."""
    if p is None or not np.isfinite(p):
        return "p=n/a"
    if p < 0.001:
        return "p<0.001"
    if p < 0.01:
        return f"p={p:.3f}"
    return f"p={p:.2f}"


def mid(name: str) -> str:
    """A name for the middle of a sentence: first letter lower-cased, unless its first word is a name.

    A first word with a capital after its first letter (an acronym such as
    ``OEE``, a brand such as ``DuraCoat``) is kept as written.

    Examples
    --------
    >>> mid("Less downtime"), mid("OEE gain"), mid("DuraCoat savings"), mid("x")
    ('less downtime', 'OEE gain', 'DuraCoat savings', 'x')
    """
    first = name.split(maxsplit=1)[0] if name.strip() else name
    return name if any(ch.isupper() for ch in first[1:]) else name[:1].lower() + name[1:]


def caution(ns: list[int]) -> str:
    """The sample-size caution every finding ends with."""
    if min(ns) < SMALL_SAMPLE:
        return "small samples, read as indicative."
    return "with this many customers even a small difference tests significant: judge its size, not only p."


# ---------------------------------------------------------------------------
# permutation tests


@lru_cache(maxsize=32)
def _combinations(n: int, k: int) -> np.ndarray:
    """Every k-subset of range(n) as rows (cached: the same sizes recur across elements)."""
    return np.fromiter(itertools.chain.from_iterable(itertools.combinations(range(n), k)), dtype=np.int32,
                       count=math.comb(n, k) * k).reshape(-1, k)


def _exact_two_sample(y: np.ndarray, in_a: np.ndarray) -> float:
    """Exact two-sided permutation p-value of the difference of means (every split enumerated)."""
    n, na = y.size, int(in_a.sum())
    nb = n - na
    combos = _combinations(n, na)
    total = y.sum()
    sum_a = y[combos].sum(axis=1)
    diff = sum_a / na - (total - sum_a) / nb
    obs = y[in_a].mean() - y[~in_a].mean()
    tol = 1e-9 * (np.abs(y).max() + 1e-300)  # splits tying with the observed one count as extreme
    return float(np.mean(np.abs(diff) >= abs(obs) - tol))


def _monte_carlo(Y: np.ndarray, labels: np.ndarray, n_groups: int, permutations: int,
                 rng: np.random.Generator) -> np.ndarray:
    """Monte Carlo permutation p-values for several columns at once.

    Labels are shuffled across all customers (one shuffle serves every
    column); a column's statistic uses its non-missing customers only. Two
    groups: |difference of means|; more: between-group sum of squares.
    p = (1 + #extreme) / (1 + #permutations), never 0 (Phipson & Smyth 2010).
    """
    n, k = Y.shape
    M = ~np.isnan(Y)
    mu = np.nanmean(Y, axis=0)
    Y0 = np.where(M, Y - mu, 0.0)  # centred: keeps the float32 sums accurate
    has_missing = bool((~M).any())
    Y32, M32 = Y0.astype(np.float32), M.astype(np.float32)
    tot_s = Y0.sum(axis=0)
    tot_n = M.sum(axis=0).astype(float)
    sizes = np.bincount(labels, minlength=n_groups).astype(float)

    def stat(inds: list[np.ndarray]) -> np.ndarray:
        # inds: per group a (B, n) float32 indicator -> (B, k) statistic
        sums = [(ind @ Y32).astype(float) for ind in inds]
        cnts = [(ind @ M32).astype(float) if has_missing else np.full((ind.shape[0], k), size)
                for ind, size in zip(inds, sizes)]
        with np.errstate(invalid="ignore", divide="ignore"):
            if n_groups == 2:
                # group b is the complement: its sums follow from the totals
                return np.abs(sums[0] / cnts[0] - (tot_s - sums[0]) / (tot_n - cnts[0]))
            # centred data: a column's grand mean over its non-missing customers is 0
            return cast(np.ndarray, sum(np.where(c > 0, s * s / np.where(c > 0, c, 1.0), 0.0)
                                        for s, c in zip(sums, cnts)))  # at least two groups: never the start 0

    def indicators(lab: np.ndarray) -> list[np.ndarray]:
        groups = range(1) if n_groups == 2 else range(n_groups)
        return [(lab == g).astype(np.float32) for g in groups]

    obs = stat(indicators(labels[None, :]))[0]
    scale = np.nanmax(np.abs(Y0), axis=0) + 1e-300
    tol = 1e-6 * scale if n_groups == 2 else 1e-6 * n * scale ** 2  # float32 round-off, not real differences
    extreme = np.zeros(k)
    valid = np.zeros(k)
    chunk = max(1, min(permutations, 4_000_000 // max(n, 1)))
    na = int(sizes[0])
    base = None if n_groups == 2 else np.tile(labels.astype(np.int8), (chunk, 1))
    done = 0
    while done < permutations:
        b = min(chunk, permutations - done)
        if n_groups == 2:
            # a uniformly random subset of na customers: the na smallest of n uniform keys
            keys = rng.random((b, n))
            thr = np.partition(keys, na - 1, axis=1)[:, na - 1:na]
            inds = [(keys <= thr).astype(np.float32)]
        else:
            inds = indicators(rng.permuted(cast(np.ndarray, base)[:b], axis=1))  # made above for k groups
        s = stat(inds)
        ok = np.isfinite(s)
        extreme += (ok & (s >= obs - tol)).sum(axis=0)
        valid += ok.sum(axis=0)
        done += b
    return (1.0 + extreme) / (1.0 + valid)


# ---------------------------------------------------------------------------
# the comparison


def _hedges_g(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = a.size, b.size
    if na < 2 or nb < 2:
        return np.nan
    sp2 = ((na - 1) * a.var(ddof=1) + (nb - 1) * b.var(ddof=1)) / (na + nb - 2)
    if sp2 <= 0:
        return np.nan
    j = 1.0 - 3.0 / (4.0 * (na + nb) - 9.0)  # small-sample correction (Hedges 1981)
    return float(j * (a.mean() - b.mean()) / np.sqrt(sp2))


def _welch(a: np.ndarray, b: np.ndarray, confidence: float) -> dict[str, float]:
    from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

    cm = CompareMeans(DescrStatsW(a), DescrStatsW(b))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        t, p, df = cm.ttest_ind(usevar="unequal")
        lo, hi = cm.tconfint_diff(alpha=1 - confidence, usevar="unequal")
    return {"statistic": float(t), "p_value": float(p), "df": float(df), "ci_low": float(lo), "ci_high": float(hi)}


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _lead(name: str, sa: str, ma: float, sb: str, mb: float, unit: str, total: bool,
          parity: frozenset = frozenset()) -> str:
    """The first clause of a finding: who values the element more, and how much.

    '<a> customers value <name> about 2.1x more than <b> customers (mean 45,000 vs 21,000 EUR/year)'.
    """
    nm = mid(name)
    if (ma > 0 and mb > 0) or (ma < 0 and mb < 0):
        hi_s, hi_m, lo_s, lo_m = (sa, ma, sb, mb) if abs(ma) >= abs(mb) else (sb, mb, sa, ma)
        means = f"(mean {fmt_money(hi_m)} vs {fmt_money(lo_m)} {unit})"
        r = abs(hi_m) / abs(lo_m)
        if r < 1.1:
            return (f"{sa} and {sb} customers get about the same {nm} " if total
                    else f"{sa} and {sb} customers value {nm} about the same ") + means
        if hi_m > 0:
            return (f"{_cap(nm)} of {hi_s} customers is about {r:.1f}× that of {lo_s} customers " if total
                    else f"{hi_s} customers value {nm} about {r:.1f}× more than {lo_s} customers ") + means
        return f"{_cap(nm)} costs {hi_s} customers about {r:.1f}× more than {lo_s} customers " + means
    # opposite signs or a zero: a ratio would mislead
    def part(s: str, m: float) -> str:
        return f"{fmt_money(m)} to {s} customers" + (" (a point of parity there)" if s in parity else "")

    return (f"{_cap(nm)} is worth {part(sa, ma)} and {part(sb, mb)} on average ({unit}; difference "
            f"{fmt_money(ma - mb)})")


def _verdict(p: float) -> str:
    return "" if p < 0.05 else "the difference could well be chance: "


def _compare_two(y: np.ndarray, subs: np.ndarray, sa: str, sb: str, *, name: str, unit: str, total: bool,
                 confidence: float, exact_limit: int, parity: frozenset = frozenset(),
                 held: frozenset = frozenset()) -> tuple[dict, bool]:
    """One row of the two-subsegment comparison; returns (row, needs Monte Carlo)."""
    keep = ~np.isnan(y)
    a, b = y[keep & (subs == sa)], y[keep & (subs == sb)]
    na, nb = a.size, b.size
    row = {"subsegment_a": sa, "subsegment_b": sb, "n_a": na, "n_b": nb,
           "mean_a": float(a.mean()) if na else np.nan, "mean_b": float(b.mean()) if nb else np.nan,
           "ci_low": np.nan, "ci_high": np.nan, "statistic": np.nan, "df": np.nan, "df_num": np.nan,
           "p_value": np.nan, "p_permutation": np.nan, "permutation": "", "hedges_g": np.nan,
           "test": "Welch t-test"}
    row["difference"] = row["mean_a"] - row["mean_b"]
    nm = mid(name)
    if na == 0 and nb == 0:
        row["finding"] = f"No customer has a value for {nm} (missing inputs): nothing to compare."
        return row, False
    if na == 0 or nb == 0:
        empty, full, n_full = (sa, sb, nb) if na == 0 else (sb, sa, na)
        row["finding"] = (f"{_cap(nm)} is a placeholder for {empty} customers (listed, not valued there): "
                          "nothing to compare." if empty in held else
                          f"No {empty} customer has a value for {nm} ({n_full} {full} customers do): "
                          f"nothing to compare; collect the missing inputs.")
        return row, False
    mc = False
    n_splits = math.comb(na + nb, na)
    if n_splits <= exact_limit:
        row["p_permutation"] = _exact_two_sample(np.concatenate([a, b]), np.r_[np.ones(na, bool), np.zeros(nb, bool)])
        row["permutation"] = f"exact ({n_splits})"
    else:
        mc = True
    sizes = f"{na} vs {nb} customers"
    lead = _lead(name, sa, row["mean_a"], sb, row["mean_b"], unit, total, parity)
    if na < 2 or nb < 2:
        one = sa if na < 2 else sb
        row["finding"] = (f"{lead}; only 1 {one} customer has a value ({sizes}): too few for a t-test or "
                          f"interval, read as anecdote; interview more {one} customers.")
        return row, mc
    if a.var(ddof=1) == 0 and b.var(ddof=1) == 0:
        if row["mean_a"] == row["mean_b"]:
            row["finding"] = (f"All {na + nb} customers have the same value for {nm} ({fmt_money(row['mean_a'])} "
                              f"{unit}): nothing to compare.")
        else:
            row["finding"] = (f"{lead}; every customer within a subsegment has the same value (no spread), so no "
                              f"t-test; permutation {{pperm}}, {sizes}: {caution([na, nb])}")
        return row, mc
    row.update(_welch(a, b, confidence))
    row["hedges_g"] = _hedges_g(a, b)
    row["finding"] = (f"{lead}; {_verdict(row['p_value'])}Welch {fmt_p(row['p_value'])}, permutation {{pperm}}, "
                      f"{sizes}: {caution([na, nb])}")
    return row, mc


def _compare_many(y: np.ndarray, subs: np.ndarray, order: list[str], *, name: str, unit: str) -> dict:
    """One row of the k-subsegment comparison (Welch ANOVA)."""
    from statsmodels.stats.oneway import anova_oneway

    keep = ~np.isnan(y)
    groups = {s: y[keep & (subs == s)] for s in order}
    present = {s: g for s, g in groups.items() if g.size}
    row: dict[str, Any] = {
           "subsegment_a": "", "subsegment_b": "", "n_a": 0, "n_b": 0, "mean_a": np.nan, "mean_b": np.nan,
           "difference": np.nan, "ci_low": np.nan, "ci_high": np.nan, "statistic": np.nan, "df": np.nan,
           "df_num": np.nan, "p_value": np.nan, "p_permutation": np.nan, "permutation": "", "hedges_g": np.nan,
           "test": f"Welch ANOVA ({len(order)} subsegments)"}
    nm = mid(name)
    if not present:
        row["finding"] = f"No customer has a value for {nm} (missing inputs): nothing to compare."
        return row
    hi = max(present, key=lambda s: present[s].mean())
    lo = min(present, key=lambda s: present[s].mean())
    row.update(subsegment_a=hi, subsegment_b=lo, n_a=present[hi].size, n_b=present[lo].size,
               mean_a=float(present[hi].mean()), mean_b=float(present[lo].mean()))
    row["difference"] = row["mean_a"] - row["mean_b"]
    sizes = "/".join(str(groups[s].size) for s in order) + " customers (" + "/".join(order) + ")"
    usable = {s: g for s, g in present.items() if g.size >= 2}
    dropped = [s for s in order if s not in usable]
    note = f" ({', '.join(dropped)} left out: fewer than 2 customers)" if dropped else ""
    spread = (f"{hi} customers value {nm} most (mean {fmt_money(row['mean_a'])} {unit}), {lo} least "
              f"(mean {fmt_money(row['mean_b'])})")
    ns = [g.size for g in groups.values()]
    if len(usable) < 2:
        row["finding"] = (f"{spread}; fewer than two subsegments have 2 or more customers with a value: no test; "
                          f"{sizes}: {caution(ns)}")
        return row
    flat = [s for s, g in usable.items() if g.var(ddof=1) == 0]
    if flat:
        row["finding"] = (f"{spread}; no spread within {', '.join(flat)}, so no Welch ANOVA{note}; permutation "
                          f"{{pperm}}, {sizes}: {caution(ns)}")
        return row
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = anova_oneway(list(usable.values()), use_var="unequal", welch_correction=True)
    row.update(statistic=float(res.statistic), p_value=float(res.pvalue), df=float(res.df_denom),
               df_num=float(res.df_num))
    row["finding"] = (f"{spread}; {_verdict(row['p_value'])}Welch ANOVA {fmt_p(row['p_value'])}{note}, "
                      f"permutation {{pperm}}, {sizes}: {caution(ns)}")
    return row


def compare_subsegments(study: Study, values: pd.DataFrame | None = None, totals: pd.DataFrame | None = None, *,
                        permutations: int = 10_000, exact_limit: int = 20_000, seed: int = 0,
                        confidence: float = 0.95) -> pd.DataFrame:
    """Compare the subsegments' customers, element by element and on the totals.

    Parameters
    ----------
    study : Study
    values, totals : DataFrame, optional
        :func:`~cvm_kit.values.element_values` and :func:`~cvm_kit.values.totals`
        (computed if omitted).
    permutations : int
        Monte Carlo permutations, used when an exact enumeration would take
        more than ``exact_limit`` splits (and always for 3+ subsegments).
    exact_limit : int
        Largest number of splits enumerated exactly (7 vs 7 customers:
        C(14, 7) = 3,432).
    seed : int
        Seed of the Monte Carlo permutations (results are reproducible).
    confidence : float
        Level of the interval of the difference (Welch).

    Returns
    -------
    DataFrame
        One row per valued element (parity-everywhere elements are left out:
        they are 0 by definition), then ``differential_value`` and
        ``net_value``: ``element_id, name, kind (element|total),
        subsegment_a, subsegment_b, n_a, n_b, mean_a, mean_b, difference
        (mean_a - mean_b), ci_low, ci_high, statistic, df, df_num, p_value,
        p_permutation, permutation, p_holm, hedges_g, test, finding``.

        Two subsegments: ``a``/``b`` are the first and second subsegment of
        project.yaml; ``statistic`` is Welch's t, ``df`` its
        Welch-Satterthwaite degrees of freedom; ``hedges_g`` the
        standardised difference with the small-sample correction;
        ``permutation`` says ``exact (N splits)`` or ``monte_carlo (N)``
        (two-sided, |difference of means|).

        Three or more: one row per element; ``subsegment_a``/``_b`` are the
        subsegments with the highest and lowest mean, ``difference`` their
        gap; ``statistic`` is Welch's F with ``df_num``/``df`` (denominator);
        ``ci_low``, ``ci_high`` and ``hedges_g`` are NaN (an interval for
        the extreme pair picked after the fact would mislead); the
        permutation statistic is the between-subsegment sum of squares.

        ``p_holm`` adjusts ``p_value`` (Holm) across the element rows; each
        total is a family of its own, so there ``p_holm`` equals ``p_value``.
        Degenerate cases (no values, one customer, no spread) give NaN and
        say so in ``finding``.

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> from cvm_kit.variance import compare_subsegments
    >>> c = compare_subsegments(cvm.load_study(cvm.example_path()))
    >>> c.loc[c["element_id"] == "rejects", "permutation"].item()  # 7 vs 7 customers: C(14, 7) splits
    'exact (3432)'
    """
    from statsmodels.stats.multitest import multipletests

    if len(study.subsegment_ids) < 2:
        raise AnalysisError(f"study {study.label} has {len(study.subsegment_ids)} subsegment(s): "
                            "comparing subsegments needs at least two")
    wide = value_matrix(study, values, totals).sort_index(kind="stable")  # seeded draws: rows in id order
    subs = wide["subsegment"].to_numpy(object)
    order = study.subsegment_ids
    unit = f"{study.currency}/{study.period}"
    targets = [(e.id, e.name, "element") for e in valued_elements(study)] + \
              [(t, TOTAL_NAMES[t], "total") for t in TOTALS]
    rows = []
    mc_cols: list[int] = []
    for j, (tid, name, kind) in enumerate(targets):
        y = wide[tid].to_numpy(float)
        if len(order) == 2:
            status = {s: study.element(tid).status_for(s) for s in order} if kind == "element" else {}
            parity = frozenset(s for s, st in status.items() if st == "parity")
            held = frozenset(s for s, st in status.items() if st == "placeholder")
            row, mc = _compare_two(y, subs, order[0], order[1], name=name, unit=unit, total=kind == "total",
                                   confidence=confidence, exact_limit=exact_limit, parity=parity, held=held)
        else:
            row, mc = _compare_many(y, subs, order, name=name, unit=unit), True
        if mc and row["n_a"] > 0 and row["n_b"] > 0:
            mc_cols.append(j)
        rows.append({"element_id": tid, "name": name, "kind": kind, **row})
    if mc_cols and permutations > 0:
        code = {s: i for i, s in enumerate(order)}
        labels = np.array([code.get(s, -1) for s in subs], dtype=np.int8)
        inside = labels >= 0
        Y = np.column_stack([wide[targets[j][0]].to_numpy(float) for j in mc_cols])[inside]
        p = _monte_carlo(Y, labels[inside], len(order), permutations, np.random.default_rng(seed))
        for j, pj in zip(mc_cols, p):
            rows[j]["p_permutation"] = float(pj)
            rows[j]["permutation"] = f"monte_carlo ({permutations})"
    out = pd.DataFrame(rows)
    out["finding"] = [f.replace("{pperm}", fmt_p(pp)) for f, pp in zip(out["finding"], out["p_permutation"])]
    out["p_holm"] = out["p_value"]
    el = (out["kind"] == "element") & out["p_value"].notna()
    if el.any():
        out.loc[el, "p_holm"] = multipletests(out.loc[el, "p_value"].to_numpy(float), method="holm")[1]
    for c in ("n_a", "n_b"):
        out[c] = out[c].astype(int)
    return out[COMPARE_COLUMNS]
