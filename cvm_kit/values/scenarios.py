"""Conservative, base and optimistic inputs from a subsegment's observed spread."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from ..equations import normalize_phrase
from ..errors import CvmError
from ..study import Study
from .elements import element_arrays, price_arrays
from .inputs import Environment, environment, own_figures, what_if_environment
from .phrases import display_names, input_phrases, needed_for, phrase_users

__all__ = ["DEFAULT_SCENARIO_PERCENTILES", "MIN_SCENARIO_CUSTOMERS", "OWN_BAND", "SCENARIOS", "SCENARIO_COLUMNS",
           "input_scenarios", "own_scenarios", "scenario_percentiles"]

SCENARIOS = ("conservative", "base", "optimistic")


DEFAULT_SCENARIO_PERCENTILES = (10.0, 50.0, 90.0)


SCENARIO_COLUMNS = ["phrase", "n", "p_low", "p_mid", "p_high", "direction", "conservative", "base", "optimistic"]


def scenario_percentiles(study: Study, percentiles: Iterable[float] | None = None) -> tuple[float, float, float]:
    """The (low, mid, high) percentiles the scenarios use.

    In this order: ``percentiles`` if given; the study's option
    ``scenario_percentiles`` (``options: {scenario_percentiles: [10, 50, 90]}``
    in project.yaml) where the study model exposes its options; else
    10, 50 and 90.

    Raises
    ------
    CvmError
        Unless three finite numbers with 0 <= low < mid < high <= 100.

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> scenario_percentiles(cvm.load_study(cvm.example_path()), [5, 50, 95])
    (5.0, 50.0, 95.0)
    """
    where = "scenario percentiles"
    if percentiles is None:
        options = getattr(study, "options", None)
        if isinstance(options, Mapping) and options.get("scenario_percentiles") is not None:
            percentiles = options["scenario_percentiles"]
            where = f"{study.path / 'project.yaml'}: options.scenario_percentiles"
        else:
            return DEFAULT_SCENARIO_PERCENTILES
    try:
        vals = tuple(float(x) for x in percentiles)
    except (TypeError, ValueError):
        raise CvmError(f"{where}: expected three numbers (low, mid, high), e.g. 10, 50, 90; "
                       f"got {str(percentiles)[:60]!r}") from None
    if len(vals) != 3 or not all(np.isfinite(vals)) or not (0 <= vals[0] < vals[1] < vals[2] <= 100):
        raise CvmError(f"{where}: expected three increasing percentiles between 0 and 100 "
                       f"(low, mid, high), e.g. 10, 50, 90; got {', '.join(f'{v:g}' for v in vals)}")
    return vals  # type: ignore[return-value]


#: Fewest customers with a value for an input's percentiles to be given: with one, a
#: "percentile" is that customer's own figure; with two, the low and high percentiles give
#: both figures back exactly.
MIN_SCENARIO_CUSTOMERS = 3


def input_scenarios(study: Study, subsegment: str, percentiles: Iterable[float] | None = None,
                    env: Environment | None = None, *, min_customers: int = MIN_SCENARIO_CUSTOMERS
                    ) -> pd.DataFrame:
    """Conservative, base and optimistic values of every input, from a subsegment's observed spread.

    For each input phrase, the low, mid and high percentiles (default 10th,
    50th, 90th; :func:`scenario_percentiles`; numpy's linear interpolation)
    of the subsegment's customers' resolved values (a customer's own
    measurement, else the constant). Only these subsegment statistics are
    returned, never a customer's row.

    Orientation: an input whose high percentile gives a higher net value
    than its low percentile (every other input at its mid percentile,
    counting only the elements and price resting on it) has conservative =
    low percentile and optimistic = high; one that lowers net value (a cost,
    the offering's price) the reverse. Where the effect is 0 or cannot be
    computed (an input of the same element has no value in the subsegment),
    conservative is the low percentile and ``direction`` is 0.

    Parameters
    ----------
    study : Study
    subsegment : str
    percentiles : three numbers, optional
        Overrides the study option.
    env : Environment, optional
        The studied customers' inputs (computed if omitted).
    min_customers : int
        Fewest customers with a value for the percentiles to be given
        (default :data:`MIN_SCENARIO_CUSTOMERS`); below it they are NaN, so
        no single customer's figure passes for a subsegment statistic (nor
        for a constant only one customer has its own figure of).

    Returns
    -------
    DataFrame
        ``phrase, n, p_low, p_mid, p_high, direction, conservative, base,
        optimistic``: one row per input phrase (display form, order of
        :func:`input_phrases`); ``n`` counts the subsegment's customers with
        a value; ``direction`` is +1 (higher raises net value), -1 or 0;
        NaN percentiles where fewer than ``min_customers`` have a value.

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> study = cvm.load_study(cvm.example_path())
    >>> s = input_scenarios(study, study.subsegment_ids[0])
    >>> s["base"].equals(s["p_mid"])
    True
    """
    study.subsegment(subsegment)  # KeyError naming the known ids
    low, mid, high = scenario_percentiles(study, percentiles)
    env = env if env is not None else environment(study)
    display = display_names(study)
    phrases = input_phrases(study)
    in_sub = env.subsegments == subsegment
    own = own_figures(study)
    consts = {normalize_phrase(c.name) for c in study.constants}
    rows = []
    for p in phrases:
        x = env.values[p][in_sub] if p in env.values else np.array([])
        x = x[~np.isnan(x)]
        # one customer's own figure among a constant: its percentiles would give that figure back
        lone = p in consts and int(own.get((subsegment, p), 0)) == 1
        q = np.percentile(x, [low, mid, high]) if x.size >= max(min_customers, 1) and not lone \
            else np.full(3, np.nan)
        rows.append((display.get(p, p), int(x.size), *map(float, q)))
    return _oriented(study, subsegment, phrases, rows)


#: A customer's own scenarios: its figure this share below and above (20%).
OWN_BAND = 0.2


def own_scenarios(study: Study, subsegment: str, own: Mapping[str, float], band: float = OWN_BAND) -> pd.DataFrame:
    """Conservative, base and optimistic inputs around one customer's own figures, using no other customer's.

    A customer's calculator must not carry its peers' figures, and a
    percentile of a handful of customers is one of them (the median of
    three is a peer's exact figure), so a customer's scenarios move its own
    figure by ``band`` either way: ``p_low`` and ``p_high`` are the figure
    times ``1 - band`` and ``1 + band`` (the smaller first), ``p_mid`` the
    figure itself. Orientation as in :func:`input_scenarios`.

    Parameters
    ----------
    study : Study
    subsegment : str
        Whose statuses (parity) apply.
    own : mapping
        Display phrase -> the customer's figure (NaN: none; its scenarios stay NaN).
    band : float
        Share moved either way, ``0 < band < 1`` (default :data:`OWN_BAND`).

    Returns
    -------
    DataFrame
        The columns of :func:`input_scenarios`; ``n`` is 1 where the
        customer has a figure, else 0.

    Raises
    ------
    CvmError
        ``band`` outside (0, 1).

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> from cvm_kit.values import display_names, input_phrases
    >>> study = cvm.load_study(cvm.example_path())
    >>> names = display_names(study)
    >>> s = own_scenarios(study, "high_volume", {names.get(p, p): 100.0 for p in input_phrases(study)})
    >>> sorted(set(s["p_low"])), sorted(set(s["p_high"]))
    ([80.0], [120.0])
    """
    study.subsegment(subsegment)
    try:
        band = float(band)
    except (TypeError, ValueError):
        raise CvmError(f"scenario band {band!r}: expected a share between 0 and 1, e.g. 0.2") from None
    if not 0 < band < 1:
        raise CvmError(f"scenario band {band:g}: expected a share between 0 and 1 (exclusive), e.g. 0.2")
    display = display_names(study)
    phrases = input_phrases(study)
    rows = []
    for p in phrases:
        name = display.get(p, p)
        v = float(own.get(name, np.nan))
        a, b = v * (1 - band), v * (1 + band)
        rows.append((name, int(np.isfinite(v)), min(a, b), v, max(a, b)))
    return _oriented(study, subsegment, phrases, rows)


def _oriented(study: Study, subsegment: str, phrases: list[str], rows: list[tuple]) -> pd.DataFrame:
    """``(phrase, n, low, mid, high)`` rows as :data:`SCENARIO_COLUMNS`: conservative on the low-value side."""
    out = pd.DataFrame(rows, columns=["phrase", "n", "p_low", "p_mid", "p_high"])
    out["direction"] = _directions(study, subsegment, phrases, out)
    up = out["direction"].to_numpy() >= 0
    out["conservative"] = np.where(up, out["p_low"], out["p_high"])
    out["base"] = out["p_mid"]
    out["optimistic"] = np.where(up, out["p_high"], out["p_low"])
    return out[SCENARIO_COLUMNS]


def _directions(study: Study, subsegment: str, phrases: list[str], pct: pd.DataFrame) -> np.ndarray:
    """+1/-1/0: the sign of net value(high percentile) - net value(low), one input at a time."""
    k = len(phrases)
    if not k:
        return np.zeros(0, dtype=int)
    names = pct["phrase"].tolist()
    base = pct["p_mid"].to_numpy(float)
    cases = np.tile(base, (2 * k, 1))
    for j in range(k):  # row 2j: input j at its low percentile, row 2j+1: at its high one
        cases[2 * j, j] = pct["p_low"].iat[j]
        cases[2 * j + 1, j] = pct["p_high"].iat[j]
    frame = pd.DataFrame(cases, columns=names)
    env = what_if_environment(study, frame, subsegment)
    arrays = element_arrays(study, env)
    price, _ = price_arrays(study, env)
    users = phrase_users(study)
    out = np.zeros(k, dtype=int)
    for j, p in enumerate(phrases):
        effect = 0.0
        for u in needed_for(study, users.get(p, []), subsegment):
            v = price if u == "price" else arrays[u][0]
            effect += (v[2 * j + 1] - v[2 * j]) * (-1.0 if u == "price" else 1.0)
        if np.isfinite(effect) and effect != 0:
            out[j] = 1 if effect > 0 else -1
    return out
