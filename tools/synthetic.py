"""Synthetic customer value studies: the bundled example and large random ones.

Two writers produce studies in the canonical folder form of the project
format (``project.yaml``, ``customers.csv``, ``measurements.csv`` and the
optional tables):

* :func:`write_example_study` writes the small, realistic example study
  (DuraCoat 500 premium pipe coating against standard epoxy, 14 steel pipe
  fabricators in two subsegments) together with ``truth.json``, the seeded
  truth the generator used. Tests and demos compare what cvm_kit computes
  with that truth.
* :func:`write_random_study` writes a large study of any size for
  benchmarks and tests.

Both are deterministic for a given seed. The truth is computed here with
plain arithmetic on the generated per-customer means, independently of the
cvm_kit equation evaluator, so that it can be used to check that evaluator.
Only numpy, pandas and pyyaml are used. Not part of the runtime package:
tests, benchmarks and ``data/examples/make_examples.py`` import it as
``tools.synthetic`` from the repository root.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

__all__ = [
    "EXAMPLE_SEED",
    "MEASUREMENT_COLUMNS",
    "SOURCES",
    "RELIABILITIES",
    "FIELDWORK_STEPS",
    "FIELDWORK_STATUSES",
    "write_example_study",
    "write_random_study",
]

#: The default seed of the bundled example study.
EXAMPLE_SEED = 20260112

MEASUREMENT_COLUMNS = ["customer_id", "variable", "value", "source", "reliability", "note"]
FIELDWORK_COLUMNS = ["customer_id", "date", "step", "status", "with", "note"]
REALIZED_COLUMNS = [
    "customer_id", "element_id", "period_start", "period_end", "promised", "realized", "source", "note",
]
SOURCES = ("data", "estimate", "perception", "assumption")
RELIABILITIES = ("high", "medium", "low")
FIELDWORK_STEPS = ("invited", "initial_meeting", "data_visit", "data_received", "review")
FIELDWORK_STATUSES = ("planned", "done", "declined")

# ---------------------------------------------------------------------------
# The example study: phrases (variables, constants, derived quantities)
# ---------------------------------------------------------------------------

HIGH, LOW = "high_volume", "low_volume"

TONNES = "Tonnes coated per year"
DOWN_ALT = "Downtime hours per year, alternative"
DOWN_OFF = "Downtime hours per year, offering"
REJ_ALT = "Rejected joints per year, alternative"
REJ_OFF = "Rejected joints per year, offering"
CURE_ALT = "Cure minutes per joint, alternative"
CURE_OFF = "Cure minutes per joint, offering"
UNMET = "Unmet orders, tonnes per year"
KWH_ALT = "Curing energy kWh per tonne, alternative"
KWH_OFF = "Curing energy kWh per tonne, offering"
ENG_ALT = "Coating engineer days per year, alternative"
ENG_OFF = "Coating engineer days per year, offering"
WAR_ALT = "Warranty claims cost per year, alternative"
WAR_OFF = "Warranty claims cost per year, offering"
PRICE_ALT = "Price per tonne, alternative"

MARGIN_HOUR = "Contribution margin per line hour"
REWORK = "Rework cost per rejected joint"
MARGIN_T = "Contribution margin per tonne"
ENG_DAY = "Loaded cost per engineer day"
KWH_PRICE = "Energy price per kWh"
PRICE_OFF = "Price per tonne, offering"

GAIN = "Capacity gain, share"
EXTRA = "Extra capacity, tonnes per year"

CONSTANTS: dict[str, tuple[float, str]] = {
    MARGIN_HOUR: (1200, "Average of three customer P&L reviews, 2025"),
    REWORK: (380, "Strip-and-recoat cost study by Field Applications, 2025 (labour, blasting, powder, re-inspection)"),
    MARGIN_T: (65, "Industry benchmark for coated line pipe, Eurofer margin survey 2025"),
    ENG_DAY: (720, "Loaded day rate of a coating engineer, HR cost tables 2026"),
    KWH_PRICE: (0.14, "Industrial gas tariff per kWh, EU average H1 2026"),
    PRICE_OFF: (58, "DuraCoat 500 price list 2027, volume band 2, per tonne of pipe coated"),
}

DERIVED: list[tuple[str, str]] = [
    (GAIN, f"[{CURE_ALT}] ÷ [{CURE_OFF}] − 1"),
    (EXTRA, f"[{TONNES}] × [{GAIN}]"),
]

PRICE_EQUATION = f"([{PRICE_OFF}] - [{PRICE_ALT}]) * [{TONNES}]"

# id, name, category, status, equation, assumptions, extra keys
ELEMENTS: list[dict[str, Any]] = [
    {
        "id": "coating_quality",
        "name": "Corrosion protection and adhesion to EN ISO 21809",
        "category": "technical",
        "status": "parity",
    },
    {
        "id": "downtime",
        "name": "Less unplanned line downtime",
        "category": "economic",
        "status": "difference",
        "equation": f"([{DOWN_ALT}] - [{DOWN_OFF}]) * [{MARGIN_HOUR}]",
        "assumptions": [
            "Lost line hours are not recovered by overtime on high-volume lines.",
            "Downtime with DuraCoat 500 is the maintenance manager's estimate after a two-week trial.",
        ],
        "status_by_subsegment": {LOW: "parity"},
    },
    {
        "id": "rejects",
        "name": "Fewer coating rejects and rework",
        "category": "technical",
        "status": "difference",
        "equation": f"([{REJ_ALT}] − [{REJ_OFF}]) × [{REWORK}]",
        "assumptions": [
            "Every rejected joint is stripped and recoated once; none is scrapped.",
            "Reject counts are holiday-test failures at the final inspection.",
        ],
    },
    {
        "id": "throughput",
        "name": "Faster cure, more tonnes through the line",
        "category": "economic",
        "status": "difference",
        "equation": f"min([{EXTRA}], [{UNMET}]) * [{MARGIN_T}]",
        "assumptions": [
            "The curing station is the bottleneck of the coating line.",
            "Extra capacity is only worth something up to the orders currently turned away.",
        ],
    },
    {
        "id": "energy",
        "name": "Curing energy (DuraCoat 500 cures hotter)",
        "category": "economic",
        "status": "difference",
        "equation": f"([{KWH_ALT}] - [{KWH_OFF}]) * [{TONNES}] * [{KWH_PRICE}]",
        "assumptions": [
            "Negative differentiation: the offering needs a higher oven temperature.",
            "Energy use per tonne of the offering is taken from the technical data sheet.",
        ],
    },
    {
        "id": "tech_service",
        "name": "On-site application support by our engineers",
        "category": "service",
        "status": "difference",
        "equation": f"([{ENG_ALT}] − [{ENG_OFF}]) × [{ENG_DAY}]",
        "assumptions": [
            "Four supplier engineer visits a year are included in the price.",
            "Engineer days saved are redeployed, not cut.",
        ],
    },
    {
        "id": "warranty",
        "name": "Lower warranty claims from pipeline owners",
        "category": "service",
        "status": "contention",
        "equation": f"[{WAR_ALT}] - [{WAR_OFF}]",
        "assumptions": [
            "Claims figures are the customers' perceptions; several plant managers dispute any difference.",
        ],
    },
    {
        "id": "reputation",
        "name": "Premium brand recognised by pipeline owners",
        "category": "social",
        "status": "placeholder",
        "perceived_range": [5000, 25000],
    },
    {
        "id": "spec_approval",
        "name": "Easier approval on owners' coating specifications",
        "category": "technical",
        "status": "placeholder",
    },
]

REGIONS = ("Germany", "Benelux", "Poland", "Italy", "Nordics")
END_MARKETS = ("Oil & gas", "Water", "District heating")
CHARACTERISTICS = ("tonnes_per_year", "humidity_pct", "line_speed_m_min", "employees", "region", "end_market")

FIRST_NAMES = ("K.", "A.", "M.", "J.", "L.", "P.", "S.", "T.", "E.", "R.", "F.", "H.")
LAST_NAMES = (
    "Weber", "Rossi", "Janssen", "Nowak", "Lindqvist", "Moreau", "Kowalski", "Bianchi", "De Vries",
    "Schmidt", "Hansen", "Ferrari", "Dubois", "Peeters", "Wojcik", "Berg", "Fischer", "Conti",
)
SALES_REPS = ("M. Janssen", "P. Kowalski")
FAE = "R. Hartmann (FAE)"

# measurement-row metadata per variable: (source, reliability, note, decimals, noise sd)
_ROW_META: dict[str, tuple[str, str, str, int, float]] = {
    TONNES: ("data", "high", "ERP shipments 2025", -1, 0.0),
    DOWN_ALT: ("data", "high", "Maintenance log 2025", 1, 4.0),
    DOWN_OFF: ("estimate", "medium", "Maintenance manager's estimate after two-week trial", 1, 2.0),
    REJ_ALT: ("data", "high", "QA holiday-test records 2025", 0, 4.0),
    REJ_OFF: ("estimate", "medium", "Trial run Oct 2026, annualised", 0, 2.0),
    CURE_ALT: ("data", "high", "Timed on line during data visit", 1, 0.4),
    CURE_OFF: ("data", "medium", "Trial run timing", 1, 0.4),
    UNMET: ("estimate", "medium", "Sales manager: orders turned away in 2025", -1, 0.0),
    KWH_ALT: ("data", "high", "Oven gas meter 2025", 1, 0.3),
    KWH_OFF: ("assumption", "low", "Technical data sheet DC500 rev. 4, corrected for oven efficiency", 1, 0.0),
    ENG_ALT: ("estimate", "medium", "Quality manager's estimate", 1, 1.0),
    ENG_OFF: ("estimate", "low", "With four supplier visits a year", 1, 0.5),
    WAR_ALT: ("perception", "low", "Plant manager's view", -2, 800.0),
    WAR_OFF: ("perception", "", "Plant manager's view", -2, 500.0),
    PRICE_ALT: ("data", "high", "Invoices 2025, average", 1, 0.0),
}


# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------


def _rnd(x: float, decimals: int) -> float | int:
    """Round ``x`` to ``decimals`` places; integers for ``decimals <= 0``.

    Parameters
    ----------
    x : float
        The number.
    decimals : int
        Decimal places (negative: tens, hundreds ...).

    Returns
    -------
    float or int
    """
    if decimals <= 0:
        return int(round(float(x), decimals))
    return round(float(x), decimals)


def _mean(values: list[float]) -> float:
    """Plain arithmetic mean of a non-empty list (``nan`` when empty)."""
    return sum(values) / len(values) if values else math.nan


def _json_num(x: float) -> float | None:
    """A float for JSON, ``None`` for missing."""
    x = float(x)
    return None if math.isnan(x) else x


def _write_csv(df: pd.DataFrame, path: Path) -> None:
    """Write a CSV the same way everywhere (UTF-8, ``\\n`` line ends, no index)."""
    df.to_csv(path, index=False, lineterminator="\n", encoding="utf-8")


def _write_yaml(doc: Mapping[str, Any], path: Path, header: str) -> None:
    """Write ``doc`` as block-style YAML, keys in insertion order, with a comment header."""
    body = yaml.safe_dump(dict(doc), sort_keys=False, allow_unicode=True, width=1000, default_flow_style=False)
    path.write_text(header + body, encoding="utf-8")


# ---------------------------------------------------------------------------
# The example study: generating distributions
# ---------------------------------------------------------------------------


def _draw_characteristics(rng: np.random.Generator, sub: str, n: int) -> dict[str, np.ndarray]:
    """Draw customer characteristics of ``n`` fabricators of subsegment ``sub``.

    ``humidity_pct`` (average relative humidity in the coating shop) is drawn
    independently of everything else; it is the characteristic that drives
    the ``rejects`` element.
    """
    lo, hi = (5600, 14000) if sub == HIGH else (1500, 4900)
    tonnes = np.round(rng.uniform(lo, hi, n), -2)
    humidity = np.round(rng.uniform(38, 86, n))
    line_speed = np.round(3.5 + tonnes / 2500 + rng.normal(0, 1.0, n), 1)
    employees = np.clip(np.round(40 + tonnes / 70 + rng.normal(0, 35, n)), 20, None).astype(int)
    region = rng.choice(np.array(REGIONS, dtype=object), n)
    end_market = rng.choice(np.array(END_MARKETS, dtype=object), n)
    return {
        "tonnes_per_year": tonnes,
        "humidity_pct": humidity,
        "line_speed_m_min": line_speed,
        "employees": employees,
        "region": region,
        "end_market": end_market,
    }


def _draw_true_inputs(rng: np.random.Generator, sub: str, chars: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Draw each customer's true (noise-free) input values.

    Parameters
    ----------
    rng : numpy.random.Generator
    sub : str
        Subsegment id; high-volume plants have downtime inputs, bigger order
        backlogs, fewer own engineer days to save and buy epoxy cheaper.
    chars : mapping
        Characteristics from :func:`_draw_characteristics`.

    Returns
    -------
    dict
        Phrase -> array of true values, one per customer.
    """
    t = np.asarray(chars["tonnes_per_year"], dtype=float)
    hum = np.asarray(chars["humidity_pct"], dtype=float)
    n = len(t)
    hv = sub == HIGH
    out: dict[str, np.ndarray] = {TONNES: t * (1 + rng.normal(0, 0.02, n))}
    if hv:
        down_alt = np.clip(rng.normal(72, 16, n), 30, None)
        out[DOWN_ALT] = down_alt
        out[DOWN_OFF] = down_alt * rng.uniform(0.45, 0.65, n)
    out[REJ_ALT] = 10 + 1.9 * hum + rng.normal(0, 7, n)
    out[REJ_OFF] = 12 + 0.2 * hum + rng.normal(0, 3, n)
    cure_alt = rng.normal(42, 3.5, n)
    out[CURE_ALT] = cure_alt
    out[CURE_OFF] = cure_alt * rng.uniform(0.68, 0.78, n)
    share = rng.uniform(0.12, 0.45, n) if hv else np.clip(rng.normal(0.03, 0.015, n), 0.005, None)
    out[UNMET] = t * share
    kwh_alt = rng.normal(26, 2, n)
    out[KWH_ALT] = kwh_alt
    out[KWH_OFF] = kwh_alt + rng.uniform(3, 6, n)
    eng_alt = np.clip(rng.normal(12, 4, n), 3, None) if hv else np.clip(rng.normal(30, 6, n), 10, None)
    out[ENG_ALT] = eng_alt
    out[ENG_OFF] = eng_alt * rng.uniform(0.3, 0.5, n)
    war_alt = np.clip(rng.normal(14000, 5000, n), 3000, None)
    out[WAR_ALT] = war_alt
    out[WAR_OFF] = war_alt * rng.uniform(0.5, 0.8, n)
    out[PRICE_ALT] = rng.normal(44, 1.8, n) if hv else rng.normal(49, 2.5, n)
    return out


def _example_derived(v: Mapping[str, Any]) -> dict[str, Any]:
    """The derived quantities, by plain arithmetic (scalars or arrays)."""
    gain = v[CURE_ALT] / v[CURE_OFF] - 1
    extra = v[TONNES] * gain
    return {GAIN: gain, EXTRA: extra}


def _example_elements(v: Mapping[str, Any], sub: str) -> dict[str, Any]:
    """Element values of one customer (or an array of customers) of subsegment ``sub``.

    Parameters
    ----------
    v : mapping
        Phrase -> value for every measured variable and constant (after
        overrides); a missing input is ``nan``.
    sub : str
        The subsegment (``downtime`` is parity, worth 0, for ``low_volume``).

    Returns
    -------
    dict
        Element id -> value, for parity, difference and contention elements.
    """
    d = _example_derived(v)
    zero = v[TONNES] * 0.0
    out: dict[str, Any] = {"coating_quality": zero}
    if sub == HIGH:
        out["downtime"] = (v[DOWN_ALT] - v[DOWN_OFF]) * v[MARGIN_HOUR]
    else:
        out["downtime"] = zero
    out["rejects"] = (v[REJ_ALT] - v[REJ_OFF]) * v[REWORK]
    out["throughput"] = _min(d[EXTRA], v[UNMET]) * v[MARGIN_T]
    out["energy"] = (v[KWH_ALT] - v[KWH_OFF]) * v[TONNES] * v[KWH_PRICE]
    out["tech_service"] = (v[ENG_ALT] - v[ENG_OFF]) * v[ENG_DAY]
    out["warranty"] = v[WAR_ALT] - v[WAR_OFF]
    return out


def _min(a: Any, b: Any) -> Any:
    """``min`` that propagates ``nan`` for scalars and arrays alike."""
    return np.minimum(a, b)


def _example_price(v: Mapping[str, Any]) -> Any:
    """Price difference against the next-best-alternative."""
    return (v[PRICE_OFF] - v[PRICE_ALT]) * v[TONNES]


# ---------------------------------------------------------------------------
# The example study: writer
# ---------------------------------------------------------------------------


def _example_project() -> dict[str, Any]:
    """The ``project.yaml`` document of the example study."""
    elements = []
    for e in ELEMENTS:
        d = {k: e[k] for k in ("id", "name", "category", "status")}
        for k in ("equation", "assumptions", "status_by_subsegment", "perceived_range"):
            if k in e:
                d[k] = e[k]
        elements.append(d)
    return {
        "name": "Premium pipe coating, mid-size fabricators",
        "offering": "DuraCoat 500",
        "segment": "Mid-size steel pipe fabricators in Europe",
        "next_best_alternative": "Standard epoxy from the incumbent supplier",
        "currency": "EUR",
        "period": "year",
        "charter": {
            "business_issue": "Should we target low-volume fabricators, and at what price premium over standard epoxy?",
            "success": "1,000,000 EUR incremental contribution within 12 months of launch",
            "sponsor": "VP Coatings Europe",
            "team": [
                "Field applications engineer (R. Hartmann)",
                "Product manager DuraCoat",
                "Two sales reps (M. Janssen, P. Kowalski)",
                "Controller Coatings Europe",
            ],
            "start": _dt.date(2026, 9, 1),
            "end": _dt.date(2027, 2, 26),
        },
        "subsegments": [
            {
                "id": HIGH,
                "description": "More than 5,000 t of pipe coated a year, lines running two or three shifts",
            },
            {
                "id": LOW,
                "description": "5,000 t or less a year, one shift, coating partly in-house",
                "next_best_alternative": "Powder coating done in-house",
            },
        ],
        "constants": [{"name": k, "value": v, "source": s} for k, (v, s) in CONSTANTS.items()],
        "derived": [{"name": k, "equation": eq} for k, eq in DERIVED],
        "price": {"equation": PRICE_EQUATION},
        "elements": elements,
    }


def _person(rng: np.random.Generator) -> str:
    """A plausible contact name such as ``K. Weber``."""
    return f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"


def write_example_study(out_dir: str | Path, *, seed: int = EXAMPLE_SEED) -> Path:
    """Write the bundled example study (folder form) plus ``truth.json``; return the folder.

    The study compares DuraCoat 500, a premium pipe coating, with standard
    epoxy at 14 European steel pipe fabricators (7 high-volume, 7
    low-volume), in EUR per year. Besides ``project.yaml``,
    ``customers.csv`` and ``measurements.csv`` it writes ``prospects.csv``,
    ``fieldwork.csv``, ``realized.csv`` and ``truth.json``.

    Parameters
    ----------
    out_dir : str or pathlib.Path
        The study folder; created if needed, the files it writes are replaced.
    seed : int, default 20260112
        Seed of the random generator; the same seed writes identical files.

    Returns
    -------
    pathlib.Path
        The study folder.

    Notes
    -----
    ``truth.json`` holds what the generator knows: the per-customer element
    values, derived quantities and price differences computed here by plain
    arithmetic from the per-customer means of the written measurement rows
    (constants unless overridden), the population means of the generating
    distributions per subsegment, the characteristic that drives the
    ``rejects`` element, the one missing input, and the one customer that
    overrides a constant.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)

    # --- customers --------------------------------------------------------
    n_per = 7
    subs = np.array([HIGH] * n_per + [LOW] * n_per, dtype=object)
    rng.shuffle(subs)
    ids = [f"C{i + 1:02d}" for i in range(len(subs))]
    cust_rows: list[dict[str, Any]] = []
    true_inputs: dict[str, dict[str, float]] = {}
    for cid, sub in zip(ids, subs):
        ch = _draw_characteristics(rng, sub, 1)
        ti = _draw_true_inputs(rng, sub, ch)
        cust_rows.append({"customer_id": cid, "subsegment": sub, **{k: ch[k][0] for k in CHARACTERISTICS}})
        true_inputs[cid] = {k: float(a[0]) for k, a in ti.items()}
    customers = pd.DataFrame(cust_rows)
    customers[["tonnes_per_year", "humidity_pct"]] = customers[["tonnes_per_year", "humidity_pct"]].astype(int)
    sub_of = dict(zip(ids, subs))
    high_ids = [c for c in ids if sub_of[c] == HIGH]
    low_ids = [c for c in ids if sub_of[c] == LOW]

    # --- the special customers -------------------------------------------
    missing_cid = str(rng.choice(low_ids))
    missing_var = UNMET
    override_cid = str(rng.choice(high_ids))
    override_value = 1450
    repeated: dict[tuple[str, str], int] = {}
    for c in rng.choice(high_ids, 3, replace=False):
        repeated[(str(c), DOWN_ALT)] = 2
    for c in rng.choice(ids, 3, replace=False):
        repeated[(str(c), REJ_ALT)] = 3
    for c in rng.choice(ids, 2, replace=False):
        repeated[(str(c), WAR_ALT)] = 2
    assumed_rej_off = {str(c) for c in rng.choice(low_ids, 2, replace=False)}
    variants = {
        (ids[1], TONNES): "tonnes coated per year",
        (ids[4], REJ_ALT): "Rejected joints  per year, alternative",
        (ids[9], CURE_OFF): "CURE MINUTES PER JOINT, OFFERING",
        (ids[12], WAR_OFF): "warranty claims cost per year,   offering",
    }
    rep_notes = {
        DOWN_ALT: ["Maintenance log 2025", "Maintenance log 2024"],
        REJ_ALT: [
            "QA holiday-test records Q1 2026, annualised",
            "QA holiday-test records Q2 2026, annualised",
            "QA holiday-test records Q3 2026, annualised",
        ],
        WAR_ALT: ["Plant manager's view", "Quality manager's view"],
    }

    # --- measurement rows -------------------------------------------------
    rows: list[dict[str, Any]] = []
    means: dict[str, dict[str, float]] = {}
    used_variants: list[dict[str, str]] = []
    for cid in ids:
        sub = sub_of[cid]
        means[cid] = {}
        ti = true_inputs[cid]
        for var, (source, rel, note, dec, sd) in _ROW_META.items():
            if var not in ti:  # downtime is not measured where it is parity
                continue
            if (cid, var) == (missing_cid, missing_var):
                means[cid][var] = math.nan
                continue
            k = repeated.get((cid, var), 1)
            vals: list[float] = []
            for r in range(k):
                noise = rng.normal(0, sd) if sd > 0 else 0.0
                val = _rnd(ti[var] + noise, dec)
                vals.append(float(val))
                src, rl, nt = source, rel, note
                if k > 1:
                    nt = rep_notes[var][r]
                if var == REJ_OFF and cid in assumed_rej_off:
                    src, rl, nt = "assumption", "low", "Team assumption: trial reject rate at a comparable plant"
                if var == PRICE_ALT and sub == LOW:
                    nt = "In-house powder: material, energy and labour per tonne, controller 2025"
                if var == WAR_ALT and r == 1:
                    rl = "medium"
                name = var
                if r == 0 and (cid, var) in variants:
                    name = variants[(cid, var)]
                    used_variants.append({"customer_id": cid, "written": name, "phrase": var})
                rows.append({
                    "customer_id": cid, "variable": name, "value": val,
                    "source": src, "reliability": rl, "note": nt,
                })
            means[cid][var] = _mean(vals)
        if cid == override_cid:
            rows.append({
                "customer_id": cid, "variable": MARGIN_HOUR, "value": override_value, "source": "data",
                "reliability": "high", "note": "Plant controller: 2025 actual, includes overtime premium",
            })
    measurements = pd.DataFrame(rows, columns=MEASUREMENT_COLUMNS)
    measurements["value"] = pd.Series([r["value"] for r in rows], dtype=object)  # ints stay ints

    # --- truth: plain arithmetic on per-customer means ----------------------
    const_values = {k: float(v) for k, (v, _) in CONSTANTS.items()}
    element_values: dict[str, dict[str, float | None]] = {}
    derived_values: dict[str, dict[str, float | None]] = {}
    price_diff: dict[str, float | None] = {}
    totals: dict[str, dict[str, float | None]] = {}
    status = {e["id"]: e["status"] for e in ELEMENTS}
    for cid in ids:
        v = {**const_values, **means[cid]}
        if cid == override_cid:
            v[MARGIN_HOUR] = float(override_value)
        ev = {k: float(x) for k, x in _example_elements(v, sub_of[cid]).items()}
        element_values[cid] = {k: _json_num(x) for k, x in ev.items()}
        derived_values[cid] = {k: _json_num(x) for k, x in _example_derived(v).items()}
        p = float(_example_price(v))
        price_diff[cid] = _json_num(p)
        diff = [ev[k] for k in ev if status[k] == "difference"]
        cont = [ev[k] for k in ev if status[k] == "contention"]
        known = [x for x in diff + cont if not math.isnan(x)]
        dv = sum(diff + cont)
        totals[cid] = {
            "differential_value": _json_num(dv),
            "contention_value": _json_num(sum(cont)),
            "net_value": _json_num(dv - p),
            "differential_value_excluding_missing": sum(known),
            "missing_elements": [k for k in ev if math.isnan(ev[k])],
        }

    # population means of the generating distributions (no measurement noise)
    mc_rng = np.random.default_rng(seed + 1)
    n_draws = 200_000
    population: dict[str, dict[str, float]] = {}
    population_price: dict[str, float] = {}
    for sub in (HIGH, LOW):
        ch = _draw_characteristics(mc_rng, sub, n_draws)
        ti = _draw_true_inputs(mc_rng, sub, ch)
        v = {**{k: np.full(n_draws, x) for k, x in const_values.items()}, **ti}
        for k, arr in _example_elements(v, sub).items():
            population.setdefault(k, {})[sub] = round(float(np.mean(arr)), 2)
        population_price[sub] = round(float(np.mean(_example_price(v))), 2)
    sample_means: dict[str, dict[str, float]] = {}
    for k in population:
        for sub in (HIGH, LOW):
            xs = [element_values[c][k] for c in ids if sub_of[c] == sub and element_values[c][k] is not None]
            sample_means.setdefault(k, {})[sub] = _mean(xs)

    # the driver: R^2 of the driven element on its characteristic
    y = np.array([element_values[c]["rejects"] for c in ids], dtype=float)
    x = customers["humidity_pct"].to_numpy(dtype=float)
    r2 = float(np.corrcoef(x, y)[0, 1] ** 2)

    # --- prospects ----------------------------------------------------------
    p_rows = []
    p_subs = np.array([HIGH] * 4 + [LOW] * 6, dtype=object)
    rng.shuffle(p_subs)
    for i, sub in enumerate(p_subs):
        ch = _draw_characteristics(rng, sub, 1)
        p_rows.append({"prospect_id": f"P{i + 1:02d}", "subsegment": sub, **{k: ch[k][0] for k in CHARACTERISTICS}})
    prospects = pd.DataFrame(p_rows)
    prospects[["tonnes_per_year", "humidity_pct"]] = prospects[["tonnes_per_year", "humidity_pct"]].astype(int)

    # --- fieldwork log ---------------------------------------------------------
    today = _dt.date(2026, 11, 24)
    start = _dt.date(2026, 9, 1)
    declined_review = str(rng.choice([c for c in ids if c != missing_cid]))
    f_rows: list[dict[str, Any]] = []
    for i, cid in enumerate(ids):
        pm, qa = _person(rng), _person(rng)
        rep = SALES_REPS[i % 2]
        invited = start + _dt.timedelta(days=int(rng.integers(1, 10)))
        meeting = invited + _dt.timedelta(days=int(rng.integers(7, 17)))
        visit = meeting + _dt.timedelta(days=int(rng.integers(10, 26)))
        received = min(visit + _dt.timedelta(days=int(rng.integers(3, 15))), _dt.date(2026, 11, 18))
        review = received + _dt.timedelta(days=int(rng.integers(14, 45)))
        gives = ("line records for two years and a trial slot" if sub_of[cid] == HIGH
                 else "one day of line records and QA logs")
        f_rows += [
            {"customer_id": cid, "date": invited, "step": "invited", "status": "done",
             "with": f"{pm} (plant manager); sales: {rep}", "note": "Invitation letter and study outline sent"},
            {"customer_id": cid, "date": meeting, "step": "initial_meeting", "status": "done",
             "with": f"{pm} (plant manager), {qa} (QA lead); sales: {rep}",
             "note": f"Gives: {gives}. Gets: benchmark report on rejects and downtime against peers"},
            {"customer_id": cid, "date": visit, "step": "data_visit", "status": "done",
             "with": f"{qa} (QA lead); {FAE}; sales: {rep}", "note": "Line timed, maintenance and QA logs copied"},
        ]
        if cid == missing_cid:
            f_rows.append({"customer_id": cid, "date": _dt.date(2026, 12, 4), "step": "data_received",
                           "status": "planned", "with": f"{pm} (plant manager); sales: {rep}",
                           "note": f"Still waiting for the order backlog figures ({missing_var}) "
                                   "from their sales manager"})
            continue
        f_rows.append({"customer_id": cid, "date": received, "step": "data_received", "status": "done",
                       "with": f"{qa} (QA lead); {FAE}", "note": "All figures received and checked"})
        if cid == declined_review:
            f_rows.append({"customer_id": cid, "date": review, "step": "review", "status": "declined",
                           "with": f"{pm} (plant manager); sales: {rep}",
                           "note": "No time for a review meeting; results sent by e-mail"})
        else:
            f_rows.append({"customer_id": cid, "date": review, "step": "review",
                           "status": "done" if review <= today else "planned",
                           "with": f"{pm} (plant manager), {qa} (QA lead); {FAE}; sales: {rep}",
                           "note": "Walk through the value worksheet with the customer"})
    fieldwork = pd.DataFrame(f_rows, columns=FIELDWORK_COLUMNS)
    fieldwork["date"] = fieldwork["date"].map(lambda d: d.isoformat())

    # --- value documenter rows ----------------------------------------------
    complete = [c for c in ids if c != missing_cid]
    doc_high = [str(c) for c in rng.choice([c for c in complete if sub_of[c] == HIGH], 3, replace=False)]
    doc_low = [str(c) for c in rng.choice([c for c in complete if sub_of[c] == LOW], 2, replace=False)]
    r_rows = []
    for cid in sorted(doc_high + doc_low):
        elems = ["downtime", "rejects", "throughput"] if sub_of[cid] == HIGH else ["rejects", "tech_service"]
        for eid in elems:
            promised = _rnd(element_values[cid][eid], -2)
            realized = _rnd(promised * rng.uniform(0.7, 1.15), -2)
            src = "data" if eid != "tech_service" else "estimate"
            r_rows.append({
                "customer_id": cid, "element_id": eid, "period_start": "2025-10-01", "period_end": "2026-09-30",
                "promised": promised, "realized": realized, "source": src,
                "note": "Pilot line; documented with the plant controller" if src == "data"
                else "Quality manager's estimate of engineer days saved",
            })
    realized_df = pd.DataFrame(r_rows, columns=REALIZED_COLUMNS)

    # --- write ------------------------------------------------------------------
    header = (
        "# Example customer value study, generated by cvm_kit.synthetic.write_example_study"
        f"(seed={seed}).\n# Regenerate with: python data/examples/make_examples.py\n"
    )
    _write_yaml(_example_project(), out / "project.yaml", header)
    _write_csv(customers, out / "customers.csv")
    _write_csv(measurements, out / "measurements.csv")
    _write_csv(prospects, out / "prospects.csv")
    _write_csv(fieldwork, out / "fieldwork.csv")
    _write_csv(realized_df, out / "realized.csv")

    truth = {
        "generator": "cvm_kit.synthetic.write_example_study",
        "seed": seed,
        "currency": "EUR",
        "period": "year",
        "subsegment_of": dict(sub_of),
        "statuses": status,
        "status_by_subsegment": {e["id"]: e["status_by_subsegment"] for e in ELEMENTS if "status_by_subsegment" in e},
        "placeholders": [e["id"] for e in ELEMENTS if e["status"] == "placeholder"],
        "constants": const_values,
        "element_values": element_values,
        "derived_values": derived_values,
        "price_difference": price_diff,
        "totals": totals,
        "element_means_by_subsegment": {
            "population": population,
            "population_n_draws": n_draws,
            "sample": sample_means,
        },
        "price_difference_population_mean": population_price,
        "driver": {
            "characteristic": "humidity_pct",
            "element_id": "rejects",
            "variable": REJ_ALT,
            "r_squared": r2,
            "note": "Rejected joints with the alternative rise with shop humidity "
                    "(10 + 1.9 x humidity_pct + noise); all other characteristics are unrelated to rejects.",
        },
        "missing_input": {"customer_id": missing_cid, "variable": missing_var, "element_id": "throughput"},
        "constant_override": {
            "customer_id": override_cid,
            "constant": MARGIN_HOUR,
            "project_value": const_values[MARGIN_HOUR],
            "customer_value": float(override_value),
            "element_id": "downtime",
        },
        "repeated_measurements": [
            {"customer_id": c, "variable": v, "rows": k} for (c, v), k in sorted(repeated.items())
        ],
        "variant_spellings": used_variants,
        "unmeasured_parity": {"element_id": "downtime", "subsegment": LOW, "variables": [DOWN_ALT, DOWN_OFF]},
        "declined_review": declined_review,
    }
    (out / "truth.json").write_text(json.dumps(truth, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return out


# ---------------------------------------------------------------------------
# Random studies for benchmarks and tests
# ---------------------------------------------------------------------------

_QUANTITIES = (
    "Downtime hours", "Rejected units", "Energy kWh", "Engineer days", "Scrap tonnes", "Changeover minutes",
    "Inspection hours", "Spare parts", "Freight pallets", "Stock days", "Overtime hours", "Returns",
)
_RANDOM_CATEGORIES = ("technical", "economic", "service", "economic")


def write_random_study(
    out_dir: str | Path,
    *,
    n_customers: int,
    n_elements: int,
    n_subsegments: int = 2,
    repeats: int = 3,
    seed: int = 0,
    missing_share: float = 0.0,
) -> Path:
    """Write a large synthetic study in the project format; return the folder.

    Each element has a word equation on 2-4 per-customer variables
    (``([A] - [B]) * [C]``, ``min([A] - [B], [D]) * [C]`` ...), sometimes
    with a constant; every fourth element goes through a derived quantity
    and every eighth through a derived quantity built on another one. Every
    seventh element is a contention, the rest are differences. About 5 % of
    customer/variable pairs are measured ``repeats`` times, the rest once,
    so the study has roughly ``3 * n_customers * n_elements`` measurement
    rows (5,000 customers x 40 elements: about 600,000).

    Parameters
    ----------
    out_dir : str or pathlib.Path
        The study folder; created if needed.
    n_customers : int
        Number of customers (at least 1).
    n_elements : int
        Number of value elements (at least 1).
    n_subsegments : int, default 2
        Number of subsegments ``sub1``, ``sub2`` ...; their values differ by level.
    repeats : int, default 3
        Rows of a repeated measurement (1: no repeated measurements).
    seed : int, default 0
        Seed of the random generator; the same arguments write identical files.
    missing_share : float, default 0.0
        Share of customer/variable pairs left unmeasured (missing inputs).

    Returns
    -------
    pathlib.Path
        The study folder holding ``project.yaml``, ``customers.csv``,
        ``measurements.csv`` and ``truth.json`` (parameters, per-element mean
        values and missing counts).
    """
    if n_customers < 1 or n_elements < 1 or n_subsegments < 1 or repeats < 1:
        raise ValueError("n_customers, n_elements, n_subsegments and repeats must be at least 1")
    if not 0.0 <= missing_share < 1.0:
        raise ValueError(f"missing_share must be in [0, 1), got {missing_share}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    n = n_customers

    # --- customers -----------------------------------------------------------
    sub_ids = [f"sub{k + 1}" for k in range(n_subsegments)]
    sub_idx = rng.integers(0, n_subsegments, n)
    m = min(n, n_subsegments)
    sub_idx[:m] = np.arange(m)
    width = max(5, len(str(n)))
    cust_ids = np.array([f"R{i + 1:0{width}d}" for i in range(n)], dtype=object)
    level = 1.0 + 0.25 * sub_idx  # subsegments differ in level
    units = np.round(rng.lognormal(7.5, 0.5, n) * level)
    customers = pd.DataFrame({
        "customer_id": cust_ids,
        "subsegment": np.array(sub_ids, dtype=object)[sub_idx],
        "units_per_year": units.astype(int),
        "plant_age_years": rng.integers(2, 40, n),
        "region": rng.choice(np.array(REGIONS, dtype=object), n),
        "industry": rng.choice(np.array(("Food", "Chemicals", "Automotive", "Packaging"), dtype=object), n),
    })

    # --- model and true values ------------------------------------------------
    var_names: list[str] = []
    var_values: list[np.ndarray] = []
    var_source: list[int] = []  # index into SOURCES

    def add_var(name: str, values: np.ndarray, source: int) -> None:
        var_names.append(name)
        var_values.append(np.round(values, 2))
        var_source.append(source)

    constants: list[dict[str, Any]] = [
        {"name": "Price per unit, offering", "value": 100, "source": "Price list (synthetic)"},
        {"name": "Utilisation factor", "value": 0.85, "source": "Team assumption (synthetic)"},
    ]
    const_val: dict[str, float] = {"Price per unit, offering": 100.0, "Utilisation factor": 0.85}
    derived: list[dict[str, str]] = []
    elements: list[dict[str, Any]] = []
    plans: list[dict[str, Any]] = []  # how to recompute each element
    for j in range(1, n_elements + 1):
        tag = f"E{j:02d}"
        qty = _QUANTITIES[(j - 1) % len(_QUANTITIES)]
        k = int(rng.choice([2, 3, 4], p=[0.4, 0.4, 0.2]))
        use_const = bool(rng.random() < 0.4)
        base = rng.uniform(40, 120)
        a = base * level * rng.lognormal(0, 0.25, n)
        b = a * rng.uniform(0.5, 0.85, n)
        pa, pb = f"{qty} for {tag}, alternative", f"{qty} for {tag}, offering"
        add_var(pa, a, 0)
        add_var(pb, b, 1)
        plan: dict[str, Any] = {"a": pa, "b": pb, "k": k, "const": None, "literal": None, "c": None, "d": None}
        if j % 4 == 0:
            dname = f"{qty} saved for {tag}"
            derived.append({"name": dname, "equation": f"[{pa}] - [{pb}]"})
            gap = f"[{dname}]"
            if j % 8 == 0:
                d2 = f"{qty} saved for {tag}, weighted"
                derived.append({"name": d2, "equation": f"[{dname}] * 1.1"})
                gap = f"[{d2}]"
                plan["weight"] = 1.1
        else:
            gap = f"([{pa}] - [{pb}])"
        if k == 2:
            if use_const:
                cname = f"Value per unit for {tag}"
                cval = int(round(rng.uniform(50, 500)))
                constants.append({"name": cname, "value": cval, "source": "Benchmark (synthetic)"})
                const_val[cname] = cval
                plan["const"] = cname
                eq = f"{gap} * [{cname}]"
            else:
                plan["literal"] = 50.0
                eq = f"{gap} * 50"
        else:
            pc = f"Cost per unit for {tag}"
            add_var(pc, rng.uniform(50, 400) * rng.lognormal(0, 0.2, n), 1)
            plan["c"] = pc
            if k == 4:
                pd_ = f"Cap for {tag}"
                add_var(pd_, (a - b) * rng.uniform(0.6, 1.4, n), 1 + int(rng.random() < 0.5))
                plan["d"] = pd_
                eq = f"min({gap}, [{pd_}]) * [{pc}]"
            else:
                eq = f"{gap} * [{pc}]"
            if use_const:
                plan["const"] = "Utilisation factor"
                eq += " * [Utilisation factor]"
        status = "contention" if j % 7 == 0 else "difference"
        elements.append({
            "id": f"e{j:02d}",
            "name": f"Element {j}: fewer {qty.lower()}",
            "category": _RANDOM_CATEGORIES[(j - 1) % len(_RANDOM_CATEGORIES)],
            "status": status,
            "equation": eq,
            "assumptions": ["Synthetic element."],
        })
        plans.append(plan)
    add_var("Price per unit, alternative", rng.uniform(80, 95, n), 0)
    add_var("Units per year", units * rng.uniform(0.97, 1.03, n), 0)

    # --- measurement rows (vectorised) -----------------------------------------
    n_vars = len(var_names)
    V = np.stack(var_values, axis=1)  # (n, n_vars)
    p_rep = 0.05 if repeats > 1 else 0.0
    rep = rng.random((n, n_vars)) < p_rep
    miss = rng.random((n, n_vars)) < missing_share if missing_share > 0 else np.zeros((n, n_vars), bool)
    counts = np.where(miss, 0, np.where(rep, repeats, 1)).ravel()
    pair = np.repeat(np.arange(n * n_vars), counts)  # customer-major order
    ci, vi = np.divmod(pair, n_vars)
    values = V.ravel()[pair]
    is_rep = counts[pair] > 1
    values = np.where(is_rep, np.round(values * (1 + rng.normal(0, 0.03, len(values))), 2), values)
    sums = np.bincount(pair, weights=values, minlength=n * n_vars)
    with np.errstate(invalid="ignore", divide="ignore"):
        M = (sums / counts).reshape(n, n_vars)  # per-customer means, nan where missing
    src_code = np.asarray(var_source)[vi]
    flip = rng.random(len(pair)) < 0.1
    src_code = np.where(flip, rng.integers(0, len(SOURCES), len(pair)), src_code)
    rel_levels = list(RELIABILITIES) + [""]
    rel_code = rng.integers(0, len(rel_levels), len(pair))
    note_levels = ["", "synthetic row"]
    note_code = (rng.random(len(pair)) < 0.1).astype(np.int64)
    measurements = pd.DataFrame({
        "customer_id": pd.Categorical.from_codes(ci, categories=list(cust_ids)),
        "variable": pd.Categorical.from_codes(vi, categories=var_names),
        "value": values,
        "source": pd.Categorical.from_codes(src_code, categories=list(SOURCES)),
        "reliability": pd.Categorical.from_codes(rel_code, categories=rel_levels),
        "note": pd.Categorical.from_codes(note_code, categories=note_levels),
    })

    # --- truth: recompute element values from the means ------------------------
    col = {name: M[:, i] for i, name in enumerate(var_names)}
    elem_means: dict[str, float | None] = {}
    elem_missing: dict[str, int] = {}
    for e, plan in zip(elements, plans):
        gap = col[plan["a"]] - col[plan["b"]]
        if "weight" in plan:
            gap = gap * plan["weight"]
        if plan["d"] is not None:
            gap = np.minimum(gap, col[plan["d"]])
        val = gap * (col[plan["c"]] if plan["c"] is not None else 1.0)
        if plan["literal"] is not None:
            val = val * plan["literal"]
        if plan["const"] is not None:
            val = val * const_val[plan["const"]]
        ok = ~np.isnan(val)
        elem_means[e["id"]] = float(val[ok].mean()) if ok.any() else None
        elem_missing[e["id"]] = int((~ok).sum())
    price = (const_val["Price per unit, offering"] - col["Price per unit, alternative"]) * col["Units per year"]

    project = {
        "name": f"Synthetic study ({n_customers} customers, {n_elements} elements, seed {seed})",
        "offering": "Offering X",
        "segment": "Synthetic segment",
        "next_best_alternative": "Alternative Y",
        "currency": "EUR",
        "period": "year",
        "subsegments": [{"id": s, "description": f"Synthetic subsegment {k + 1}"} for k, s in enumerate(sub_ids)],
        "constants": constants,
        "derived": derived,
        "price": {"equation": "([Price per unit, offering] - [Price per unit, alternative]) * [Units per year]"},
        "elements": elements,
    }
    header = (
        "# Synthetic study generated by cvm_kit.synthetic.write_random_study("
        f"n_customers={n_customers}, n_elements={n_elements}, n_subsegments={n_subsegments}, "
        f"repeats={repeats}, seed={seed}, missing_share={missing_share})\n"
    )
    _write_yaml(project, out / "project.yaml", header)
    _write_csv(customers, out / "customers.csv")
    _write_csv(measurements, out / "measurements.csv")
    ok_price = ~np.isnan(price)
    truth = {
        "generator": "cvm_kit.synthetic.write_random_study",
        "parameters": {
            "n_customers": n_customers, "n_elements": n_elements, "n_subsegments": n_subsegments,
            "repeats": repeats, "seed": seed, "missing_share": missing_share,
        },
        "n_measurement_rows": int(len(measurements)),
        "n_variables": n_vars,
        "n_missing_pairs": int(miss.sum()),
        "element_means": elem_means,
        "element_missing": elem_missing,
        "price_difference_mean": float(price[ok_price].mean()) if ok_price.any() else None,
    }
    (out / "truth.json").write_text(json.dumps(truth, indent=2) + "\n", encoding="utf-8")
    return out
