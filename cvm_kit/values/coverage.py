"""Which customer has which needed input on file, and which inputs are still missing."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import CvmError
from ..study import Study
from ..study.factors import factorize
from .inputs import measurement_table
from .phrases import customer_phrases, display_names, needed_for, phrase_users

__all__ = ["coverage_counts", "input_coverage", "missing_inputs", "require_customer"]

def input_coverage(study: Study) -> pd.DataFrame:
    """Which customer has which needed input on file.

    An input counts as needed for a customer when an element that is not a
    point of parity in the customer's subsegment (or the price) rests on it.

    Returns
    -------
    DataFrame
        ``customer_id, subsegment, phrase, present, needed_by`` for every
        customer x needed input phrase (constants excluded: they need no
        fieldwork unless a customer overrides them).
    """
    return _coverage(study, only_missing=False)


def _presence(study: Study) -> tuple[list[str], np.ndarray, list[np.ndarray]]:
    """The needed phrases, which customer has each on file (customers x phrases) and who needs each.

    ``needed_by[j]`` holds, per customer, the elements (or price) resting on
    phrase ``j`` in its subsegment, ``""`` where the customer does not need it.
    """
    phrases = customer_phrases(study)
    users = phrase_users(study)
    table = measurement_table(study)
    cust_ids = study.customers["customer_id"].to_numpy(object)
    subs = study.customers["subsegment"].to_numpy(object)
    sub_codes = pd.Index(study.subsegment_ids).get_indexer(subs)
    # presence matrix customers x phrases from the aggregated table, no Python loop per row
    pidx = {p: j for j, p in enumerate(phrases)}
    cc, cids = factorize(table["customer_id"])  # per distinct id and phrase, then by code
    pc, tphrases = factorize(table["phrase"])
    rows = pd.Index(cust_ids).get_indexer(cids)[cc] if len(cc) else np.zeros(0, dtype=np.int64)
    cols = np.array([pidx.get(p, -1) for p in tphrases], dtype=np.int64)[pc] if len(pc) else rows
    ok = (rows >= 0) & (cols >= 0)
    present = np.zeros((len(cust_ids), len(phrases)), dtype=bool)
    present[rows[ok], cols[ok]] = True
    needed_by = []
    for p in phrases:
        need = np.array([", ".join(needed_for(study, users.get(p, []), sid)) for sid in study.subsegment_ids] + [""],
                        dtype=object)
        needed_by.append(need[sub_codes])  # code -1 (unknown subsegment) picks the trailing ""
    return phrases, present, needed_by


def coverage_counts(study: Study) -> tuple[int, int]:
    """How many needed customer x phrase inputs are on file, and how many are needed.

    The counts of :func:`input_coverage` (``present.sum()`` and its length)
    without building its table.

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> s = cvm.load_study(cvm.example_path())
    >>> cov = input_coverage(s)
    >>> coverage_counts(s) == (int(cov["present"].sum()), len(cov))
    True
    """
    _, present, needed_by = _presence(study)
    have = needed = 0
    for j, nb in enumerate(needed_by):
        need = nb != ""
        needed += int(need.sum())
        have += int((present[:, j] & need).sum())
    return have, needed


def _coverage(study: Study, *, only_missing: bool) -> pd.DataFrame:
    phrases, present, needed = _presence(study)
    display = display_names(study)
    cust_ids = study.customers["customer_id"].to_numpy(object)
    subs = study.customers["subsegment"].to_numpy(object)
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("customer_id", "subsegment", "phrase", "present",
                                                          "needed_by")}
    for j, p in enumerate(phrases):
        needed_by = needed[j]
        keep = needed_by != ""
        if only_missing:
            keep &= ~present[:, j]
        parts["customer_id"].append(cust_ids[keep])
        parts["subsegment"].append(subs[keep])
        parts["phrase"].append(np.full(int(keep.sum()), display.get(p, p), dtype=object))
        parts["present"].append(present[keep, j])
        parts["needed_by"].append(needed_by[keep])
    if not phrases:
        return pd.DataFrame(columns=list(parts))
    return pd.DataFrame({k: pd.Series(np.concatenate(v), dtype=bool if k == "present" else object)
                         for k, v in parts.items()})


def missing_inputs(study: Study) -> pd.DataFrame:
    """The inputs still missing, with the elements (or price) waiting for them.

    Returns
    -------
    DataFrame
        ``customer_id, subsegment, phrase, needed_by``.
    """
    cov = _coverage(study, only_missing=True)
    return cov[["customer_id", "subsegment", "phrase", "needed_by"]].reset_index(drop=True)


def require_customer(study: Study, customer_id: str) -> None:
    """Raise a clear :class:`CvmError` if ``customer_id`` is not in the study."""
    if customer_id not in set(study.customers["customer_id"]):
        raise CvmError(f"customer {customer_id!r} is not in {study.path / 'customers.csv'}; "
                       f"known: {', '.join(map(str, study.customers['customer_id'][:20]))}")
