"""What a customer's own page may show of other customers: means of at least two of them.

A customer knows its own figures. A mean over itself and one other
customer gives that other's figure back (``2 * mean - own``), and a mean
over one other customer is that customer's figure, so a page made for one
customer shows a group mean only when at least :data:`MIN_OTHERS` other
customers have a value in it; otherwise the mean is withheld (NaN) and the
page says why.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["MIN_OTHERS", "peer_mean", "peer_means"]

#: Fewest other customers a mean shown to a customer must rest on.
MIN_OTHERS = 2


def peer_mean(values: pd.Series, ids: pd.Series, customer_id: str) -> float:
    """The mean of ``values`` if at least :data:`MIN_OTHERS` customers besides ``customer_id`` have one, else NaN.

    Examples
    --------
    >>> import pandas as pd
    >>> ids = pd.Series(["A", "B", "C"])
    >>> peer_mean(pd.Series([1.0, 2.0, 6.0]), ids, "A")
    3.0
    >>> peer_mean(pd.Series([1.0, 2.0, None]), ids, "A")  # only B besides A: B's figure would show
    nan
    """
    x = pd.to_numeric(values, errors="coerce").to_numpy(float)
    ok = np.isfinite(x)
    others = int((ok & (ids.to_numpy(object) != customer_id)).sum())
    return float(x[ok].mean()) if others >= MIN_OTHERS else float("nan")


def peer_means(frame: pd.DataFrame, by: str, value: str, customer_id: str) -> pd.Series:
    """Per ``by`` group, :func:`peer_mean` of ``value`` (``frame`` has ``customer_id``).

    Examples
    --------
    >>> import pandas as pd
    >>> f = pd.DataFrame({"customer_id": ["A", "B", "C", "A", "B"], "e": ["x", "x", "x", "y", "y"],
    ...                   "v": [1.0, 2.0, 6.0, 5.0, 7.0]})
    >>> peer_means(f, "e", "v", "A").to_dict()
    {'x': 3.0, 'y': nan}
    """
    ok = frame[value].notna() & (frame["customer_id"] != customer_id)
    others = ok.groupby(frame[by], sort=False).sum()
    means = frame.groupby(by, sort=False)[value].mean()
    return means.where(others.reindex(means.index).fillna(0) >= MIN_OTHERS)
