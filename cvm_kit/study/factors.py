"""Factorized text columns: a column's distinct values and where each occurs, worked out once.

Loading a study visits its largest text columns (customer ids, phrases and
sources of 600,000 measurement rows) many times: each check, the phrase
checks and the measurement table need the distinct values and the rows that
hold them. ``pd.factorize`` costs 25-60 ms per such column, so the result is
remembered per column array.

A column is known by its array (address, shape, strides, dtype) while the
memo holds a reference to it, so the address cannot be reused by another
array; under pandas' copy-on-write (always on from pandas 3) an in-place edit
of a frame sharing that array copies it first, so an edited column is a new
array and is factorized afresh. Without copy-on-write (pandas 2) nothing is
remembered.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["copy_on_write", "factorize", "first_rows", "from_codes", "map_codes", "remember"]

_MEMO: OrderedDict[tuple[Any, ...], tuple[pd.Series, np.ndarray, np.ndarray]] = OrderedDict()
_MAX_ENTRIES = 64
_MAX_ROWS = 16_000_000  # the memo holds its columns alive: bound what it may hold


def copy_on_write() -> bool:
    """Whether pandas copies a shared column before an in-place edit (always from pandas 3).

    Caches keyed by a column's array (here, the measurement table, the warm
    kernels' study copies) rely on it.

    Examples
    --------
    >>> isinstance(copy_on_write(), bool)
    True
    """
    if int(pd.__version__.split(".")[0]) >= 3:  # always on (reading the option warns)
        return True
    return getattr(pd.options.mode, "copy_on_write", False) is True


def _key(col: pd.Series) -> tuple[Any, ...] | None:
    """Where the column's data lives; None for arrays that are not one numpy buffer (e.g. pyarrow-backed)."""
    arr = getattr(col.array, "_ndarray", None)  # object columns and python-backed str columns
    if not isinstance(arr, np.ndarray) or not copy_on_write():
        return None
    return (arr.__array_interface__["data"][0], arr.shape, arr.strides, str(col.dtype))


def _remember(col: pd.Series, codes: np.ndarray, uniques: np.ndarray) -> None:
    key = _key(col)
    if key is None:
        return
    codes.flags.writeable = False  # shared by every caller: nobody may change it
    uniques.flags.writeable = False
    _MEMO[key] = (col, codes, uniques)
    _MEMO.move_to_end(key)
    while len(_MEMO) > _MAX_ENTRIES or (len(_MEMO) > 1 and sum(len(v[1]) for v in _MEMO.values()) > _MAX_ROWS):
        _MEMO.popitem(last=False)


def factorize(col: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """The codes and distinct values of a column, in order of first appearance (remembered per array).

    Missing values (None, NaN) are distinct values like any other (no -1
    sentinel), so ``uniques[codes]`` gives the column back.

    Parameters
    ----------
    col : Series
        A text (object or str) column.

    Returns
    -------
    codes : ndarray of int, read-only
        Position in ``uniques`` of each row's value.
    uniques : ndarray of object, read-only
        The distinct values.

    Examples
    --------
    >>> import pandas as pd
    >>> codes, uniques = factorize(pd.Series(["b", "a", "b"], dtype=object))
    >>> codes.tolist(), uniques.tolist()
    ([0, 1, 0], ['b', 'a'])
    """
    key = _key(col)
    hit = _MEMO.get(key) if key is not None else None
    if key is not None and hit is not None:
        _MEMO.move_to_end(key)
        return hit[1], hit[2]
    codes, uniques = pd.factorize(col, use_na_sentinel=False)
    codes = np.asarray(codes)
    uniques = np.asarray(uniques, dtype=object)
    _remember(col, codes, uniques)
    return codes, uniques


def _keep(col: pd.Series, codes: np.ndarray, uniques: np.ndarray) -> pd.Series:
    """Remember ``col``'s factorization; the memo keeps it read-only, so a view or a borrowed array is copied."""
    codes = codes if isinstance(codes, np.ndarray) and codes.flags.owndata else np.array(codes, copy=True)
    _remember(col, codes, uniques.copy())
    return col


def remember(col: pd.Series, codes: np.ndarray, uniques: np.ndarray) -> pd.Series:
    """Record that ``uniques[codes]`` is ``col`` (built by the caller, who knows its codes); returns ``col``.

    ``uniques`` must be distinct. The codes are kept read-only (copied
    unless the array owns its data).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> col = pd.Series(["a", "b", "a"], dtype=object)
    >>> col = remember(col, np.array([0, 1, 0]), np.array(["a", "b"], dtype=object))
    >>> factorize(col)[0].tolist()
    [0, 1, 0]
    """
    return _keep(col, codes, np.asarray(uniques, dtype=object))


def from_codes(codes: np.ndarray, uniques: np.ndarray, index: pd.Index | None = None,
               dtype: Any = object, remember: bool = True) -> pd.Series:
    """The text column ``uniques[codes]``, remembered as factorized (no hashing needed later).

    ``uniques`` must be distinct; ``dtype`` is the column's (``object`` or ``str``).
    With ``remember``, an array ``codes`` that owns its data is kept (made
    read-only) rather than copied: the caller hands it over.

    Examples
    --------
    >>> import numpy as np
    >>> from_codes(np.array([1, 0, 1]), np.array(["x", "y"], dtype=object)).tolist()
    ['y', 'x', 'y']
    """
    uniques = np.asarray(uniques, dtype=object)
    col = pd.Series(uniques[codes], index=index, dtype=dtype, copy=False)
    return _keep(col, codes, uniques) if remember else col


def map_codes(col: pd.Series, fn: Callable[[Any], Any], dtype: Any = object, remember: bool = True) -> pd.Series:
    """``fn`` applied once per distinct value of ``col`` (600,000 rows, a few hundred distinct values).

    The result is remembered as factorized too (values ``fn`` maps together
    share a code) unless ``remember`` is false (a column used once).

    Examples
    --------
    >>> import pandas as pd
    >>> map_codes(pd.Series([" a", "B", "a "], dtype=object), lambda t: t.strip().lower()).tolist()
    ['a', 'b', 'a']
    """
    codes, uniques = factorize(col)
    mapped = np.empty(len(uniques), dtype=object)
    mapped[:] = [fn(u) for u in uniques]
    if col.dtype == dtype and all(type(a) is type(b) and a == b for a, b in zip(mapped, uniques)):
        return col  # nothing changes (source words already lower case): no new column of 600,000 rows
    new_codes, new_uniques = pd.factorize(mapped, use_na_sentinel=False)
    return from_codes(np.asarray(new_codes)[codes], np.asarray(new_uniques, dtype=object), col.index, dtype,
                      remember)


def first_rows(codes: np.ndarray, n_uniques: int) -> np.ndarray:
    """The position of each value's first row (``len(codes)`` for a value no row holds).

    Examples
    --------
    >>> import numpy as np
    >>> first_rows(np.array([1, 0, 1, 0]), 3).tolist()
    [1, 0, 4]
    """
    first = np.full(n_uniques, len(codes), dtype=np.int64)
    np.minimum.at(first, codes, np.arange(len(codes), dtype=np.int64))
    return first
