"""Shrinkage for thin subsegments: partially pooled subsegment means.

With six to eight customers a subsegment's mean is noisy; the other
subsegments say something about it too. The empirical Bayes normal-normal
model treats each subsegment's true mean as drawn around a common mean
``mu`` with between-subsegment variance ``tau^2``, and each observed mean
``m_s`` as its true mean plus sampling error of variance ``se_s^2``
(``se_s = sd_s / sqrt(n_s)``).

``tau^2`` is estimated by the method of moments of DerSimonian and Laird::

    w_s = 1 / se_s^2,   m_FE = sum(w m) / sum(w),   Q = sum(w (m - m_FE)^2)
    tau^2 = max(0, (Q - (k - 1)) / (sum(w) - sum(w^2) / sum(w)))

truncated at 0; ``at_boundary`` is True when the truncation applied (the
subsegments differ no more than their sampling error suggests, so every
mean is pooled fully). The pooled mean is ``mu = sum(m / (se^2 + tau^2)) /
sum(1 / (se^2 + tau^2))`` and each subsegment's shrunk mean::

    weight = tau^2 / (tau^2 + se_s^2)
    shrunk = weight * m_s + (1 - weight) * mu,    pulled_by = shrunk - m_s

A subsegment enters the pooling when the element is a point of difference
or contention there (a parity is worth 0 by declaration) and it has at
least two values with some spread (``se > 0``). At least two subsegments
must enter; otherwise nothing is pooled (NaN, with a note).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .study import Study

SHRINK_COLUMNS = ["element_id", "subsegment", "n", "mean", "se", "pooled_mean", "shrunk_mean", "weight",
                  "pulled_by", "tau2", "at_boundary", "note", "finding"]
TOTALS = ("differential_value", "net_value")


def dersimonian_laird(means: np.ndarray, se: np.ndarray) -> dict[str, Any]:
    """Partial pooling of group means by the DerSimonian-Laird estimate of ``tau^2``.

    Parameters
    ----------
    means, se : array_like
        Each group's mean and standard error (``se > 0``; two groups or more).

    Returns
    -------
    dict
        ``tau2`` (truncated at 0), ``tau2_raw`` (before truncation),
        ``at_boundary``, ``pooled_mean``, ``weight``, ``shrunk`` (arrays per
        group).

    Examples
    --------
    >>> r = dersimonian_laird(np.array([10.0, 20.0, 30.0]), np.sqrt([15.0, 15.0, 15.0]))
    >>> round(r["tau2"], 6), r["shrunk"].round(6).tolist()
    (85.0, [11.5, 20.0, 28.5])
    """
    m = np.asarray(means, float)
    v = np.asarray(se, float) ** 2
    w = 1.0 / v
    k = m.size
    m_fe = float(np.sum(w * m) / np.sum(w))
    q = float(np.sum(w * (m - m_fe) ** 2))
    c = float(np.sum(w) - np.sum(w ** 2) / np.sum(w))
    raw = (q - (k - 1)) / c if c > 0 else 0.0
    tau2 = max(0.0, raw)
    w_re = 1.0 / (v + tau2)
    mu = float(np.sum(w_re * m) / np.sum(w_re))
    weight = tau2 / (tau2 + v)
    return {"tau2": tau2, "tau2_raw": raw, "at_boundary": raw <= 0, "pooled_mean": mu, "weight": weight,
            "shrunk": weight * m + (1 - weight) * mu}


def _finding(label: str, sid: str, r: dict[str, Any], currency: str) -> str:
    from .variance import fmt_money

    cur = f" {currency}" if currency else ""
    if r["note"]:
        return f"{sid}, {label}: not pooled ({r['note']})."
    way = "up" if r["pulled_by"] > 0 else "down"
    base = (f"{sid}, {label}: the mean of {fmt_money(r['mean'])}{cur} moves {way} by {fmt_money(abs(r['pulled_by']))} "
            f"to {fmt_money(r['shrunk_mean'])}{cur}, toward the pooled mean of {fmt_money(r['pooled_mean'])}")
    if r["at_boundary"]:
        return base + " (the subsegments differ no more than chance: fully pooled)."
    return base + f" ({100 * r['weight']:.0f}% weight on its own {r['n']} customers)."


def shrink(study: Study, values: pd.DataFrame | None = None, totals: pd.DataFrame | None = None) -> pd.DataFrame:
    """Raw and partially pooled subsegment means per element, differential and net value.

    Parameters
    ----------
    study : Study
    values, totals : DataFrame, optional
        :func:`~cvm_kit.values.element_values` and :func:`~cvm_kit.values.totals`
        (computed if omitted).

    Returns
    -------
    DataFrame
        ``element_id, subsegment, n, mean, se, pooled_mean, shrunk_mean,
        weight, pulled_by, tau2, at_boundary, note, finding``: one row per
        element that is a difference or contention in the subsegment, then
        ``differential_value`` and ``net_value`` per subsegment. See the
        module docstring for the model; ``finding`` says each row in one
        sentence.

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> t = shrink(cvm.load_study(cvm.example_path()))
    >>> bool((t["weight"].dropna().between(0, 1)).all())
    True
    """
    from .values import element_values, environment
    from .values import totals as _totals

    env = environment(study) if values is None or totals is None else None  # resolved once for both
    v = values if values is not None else element_values(study, env)
    t = totals if totals is not None else _totals(study, v, env)
    keep = v["status"].isin(("difference", "contention"))
    stats = v[keep].dropna(subset=["value"]).groupby(["element_id", "subsegment"], sort=False)["value"].agg(
        n="size", mean="mean", sd="std")
    long = t.melt(id_vars=["customer_id", "subsegment"], value_vars=list(TOTALS), var_name="element_id")
    tstats = long.dropna(subset=["value"]).groupby(["element_id", "subsegment"], sort=False)["value"].agg(
        n="size", mean="mean", sd="std")
    stats = pd.concat([stats, tstats])

    groups: list[tuple[str, str, list[str]]] = []
    for e in study.elements:
        if e.quantified:
            subs = [s for s in study.subsegment_ids if e.status_for(s) in ("difference", "contention")]
            if subs:
                groups.append((e.id, e.name, subs))
    groups += [(q, q.replace("_", " "), list(study.subsegment_ids)) for q in TOTALS]

    rows = []
    for eid, name, subs in groups:
        recs = []
        for sid in subs:
            if (eid, sid) in stats.index:
                st = stats.loc[(eid, sid)]
                n, mean, sd = int(st["n"]), float(st["mean"]), float(st["sd"])
            else:
                n, mean, sd = 0, np.nan, np.nan
            se = sd / np.sqrt(n) if n >= 2 else np.nan
            note = ("fewer than 2 values" if n < 2 else "no spread (se = 0)" if se == 0 else "")
            recs.append({"element_id": eid, "subsegment": sid, "n": n, "mean": mean, "se": se,
                         "pooled_mean": np.nan, "shrunk_mean": np.nan, "weight": np.nan, "pulled_by": np.nan,
                         "tau2": np.nan, "at_boundary": pd.NA, "note": note})
        use = [r for r in recs if not r["note"]]
        if len(use) >= 2:
            dl = dersimonian_laird(np.array([r["mean"] for r in use]), np.array([r["se"] for r in use]))
            for i, r in enumerate(use):
                r.update(pooled_mean=dl["pooled_mean"], shrunk_mean=float(dl["shrunk"][i]),
                         weight=float(dl["weight"][i]), tau2=dl["tau2"], at_boundary=bool(dl["at_boundary"]))
                r["pulled_by"] = r["shrunk_mean"] - r["mean"]
        else:
            for r in use:
                r["note"] = "fewer than 2 subsegments to pool with"
        for r in recs:
            label = name if eid in TOTALS else _mid(name)
            r["finding"] = _finding(label, r["subsegment"], r, study.currency)
            rows.append(r)
    out = pd.DataFrame(rows, columns=SHRINK_COLUMNS)
    out["at_boundary"] = out["at_boundary"].astype("boolean")
    return out


def _mid(name: str) -> str:
    from .variance import mid

    return mid(name)
