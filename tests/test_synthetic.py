"""Tests of tools/synthetic.py (the test-data generator): the example study and random studies.

The truth is re-derived here from the written CSVs with an independent,
deliberately naive evaluator (word equations turned into Python expressions),
so neither the generator's arithmetic nor cvm_kit's equation code is trusted.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tools.synthetic import (
    EXAMPLE_SEED,
    FIELDWORK_STATUSES,
    FIELDWORK_STEPS,
    MEASUREMENT_COLUMNS,
    RELIABILITIES,
    SOURCES,
    write_example_study,
    write_random_study,
)

ROOT = Path(__file__).resolve().parents[1]
STATUSES = {"parity", "difference", "contention", "placeholder"}
CATEGORIES = {"technical", "economic", "service", "social"}
FILES = ("project.yaml", "customers.csv", "measurements.csv", "prospects.csv",
         "fieldwork.csv", "realized.csv", "truth.json")


def norm(phrase: str) -> str:
    """Phrase key: case-folded, runs of white space collapsed."""
    return " ".join(str(phrase).split()).casefold()


def phrases(equation: str) -> list[str]:
    return re.findall(r"\[([^\]]+)\]", equation)


def naive_eval(equation: str, env: dict[str, float]) -> float:
    """Evaluate a word equation by textual substitution (test-only)."""
    names: dict[str, float] = {}

    def sub(m: re.Match) -> str:
        key = f"v{len(names)}"
        names[key] = env[norm(m.group(1))]
        return key

    expr = re.sub(r"\[([^\]]+)\]", sub, equation)
    expr = expr.replace("×", "*").replace("÷", "/").replace("−", "-")
    assert re.fullmatch(r"[\sv0-9.+\-*/(),minaxbs]*", expr), expr
    return float(eval(expr, {"__builtins__": {}}, {"min": min, "max": max, "abs": abs, **names}))


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_example_study(tmp_path_factory.mktemp("ex") / "pipe_coating")


@pytest.fixture(scope="module")
def truth(example: Path) -> dict:
    return json.loads((example / "truth.json").read_text(encoding="utf-8"))


def test_example_is_deterministic(example: Path, tmp_path: Path) -> None:
    again = write_example_study(tmp_path / "again", seed=EXAMPLE_SEED)
    for f in FILES:
        assert (example / f).read_bytes() == (again / f).read_bytes(), f
    other = write_example_study(tmp_path / "other", seed=EXAMPLE_SEED + 1)
    assert (other / "measurements.csv").read_bytes() != (example / "measurements.csv").read_bytes()


def test_bundled_example_matches_generator(example: Path) -> None:
    bundled = ROOT / "data" / "examples" / "pipe_coating"
    if not bundled.exists():
        pytest.skip("data/examples/pipe_coating not generated")
    for f in FILES:
        assert (bundled / f).read_bytes() == (example / f).read_bytes(), f"{f}: rerun make_examples.py"


def test_example_project_shape(example: Path) -> None:
    p = yaml.safe_load((example / "project.yaml").read_text(encoding="utf-8"))
    for key in ("name", "offering", "segment", "next_best_alternative", "currency", "period"):
        assert p[key]
    assert p["currency"] == "EUR" and p["period"] == "year"
    ch = p["charter"]
    assert ch["start"] == dt.date(2026, 9, 1) and ch["end"] == dt.date(2027, 2, 26)
    assert [s["id"] for s in p["subsegments"]] == ["high_volume", "low_volume"]
    assert sum("next_best_alternative" in s for s in p["subsegments"]) == 1
    assert len(p["constants"]) >= 2 and all(c["source"] for c in p["constants"])
    els = p["elements"]
    statuses = [e["status"] for e in els]
    assert statuses.count("parity") >= 1 and statuses.count("contention") == 1
    assert statuses.count("placeholder") == 2 and statuses.count("difference") >= 3
    assert {e["category"] for e in els} == CATEGORIES
    assert all("equation" not in e for e in els if e["status"] == "parity")
    assert all(e.get("assumptions") for e in els if e["status"] in ("difference", "contention"))
    assert any(e.get("status_by_subsegment") == {"low_volume": "parity"} for e in els)
    assert any("perceived_range" in e and e["category"] == "social" for e in els)
    eqs = [e["equation"] for e in els if "equation" in e] + [d["equation"] for d in p["derived"]]
    assert any("×" in q or "−" in q for q in eqs) and any(re.search(r"\b(min|max|abs)\(", q) for q in eqs)
    derived = {norm(d["name"]) for d in p["derived"]}
    assert any(derived & {norm(x) for x in phrases(e.get("equation", ""))} for e in els)


def test_example_tables(example: Path, truth: dict) -> None:
    cust = pd.read_csv(example / "customers.csv")
    assert len(cust) == 14 and cust["customer_id"].is_unique
    assert cust["subsegment"].value_counts().to_dict() == {"high_volume": 7, "low_volume": 7}
    m = pd.read_csv(example / "measurements.csv", keep_default_na=False)
    assert list(m.columns) == MEASUREMENT_COLUMNS
    assert set(m["source"]) == set(SOURCES)
    assert set(m["reliability"]) <= set(RELIABILITIES) | {""}
    assert set(m["customer_id"]) <= set(cust["customer_id"])
    assert (m["variable"] != m["variable"].map(lambda s: " ".join(s.split()))).any()  # odd spacing
    assert m.groupby(["customer_id", m["variable"].map(norm)]).size().max() in (2, 3)
    pro = pd.read_csv(example / "prospects.csv")
    assert list(pro.columns) == ["prospect_id", "subsegment", *cust.columns[2:]]
    fw = pd.read_csv(example / "fieldwork.csv")
    assert list(fw.columns) == ["customer_id", "date", "step", "status", "with", "note"]
    assert set(fw["step"]) <= set(FIELDWORK_STEPS) and set(fw["status"]) <= set(FIELDWORK_STATUSES)
    assert set(fw["customer_id"]) == set(cust["customer_id"])
    pd.to_datetime(fw["date"], format="%Y-%m-%d")
    miss = truth["missing_input"]
    row = fw[(fw["customer_id"] == miss["customer_id"]) & (fw["step"] == "data_received")]
    assert row["status"].tolist() == ["planned"]
    re_ = pd.read_csv(example / "realized.csv")
    assert list(re_.columns) == ["customer_id", "element_id", "period_start", "period_end",
                                 "promised", "realized", "source", "note"]
    assert re_["customer_id"].nunique() == 5


def test_truth_recomputes_from_csvs(example: Path, truth: dict) -> None:
    p = yaml.safe_load((example / "project.yaml").read_text(encoding="utf-8"))
    cust = pd.read_csv(example / "customers.csv")
    m = pd.read_csv(example / "measurements.csv")
    m["key"] = m["variable"].map(norm)
    means = m.groupby(["customer_id", "key"])["value"].mean()
    constants = {norm(c["name"]): float(c["value"]) for c in p["constants"]}
    n_missing = 0
    for cid, sub in zip(cust["customer_id"], cust["subsegment"]):
        env = {**constants, **means.loc[cid].to_dict()}
        for d in p["derived"]:
            try:
                env[norm(d["name"])] = naive_eval(d["equation"], env)
            except KeyError:
                pass
        want = truth["element_values"][cid]
        for e in p["elements"]:
            status = e.get("status_by_subsegment", {}).get(sub, e["status"])
            if e["status"] == "placeholder":
                assert e["id"] not in want
                continue
            if status == "parity":
                assert want[e["id"]] == 0.0
                continue
            try:
                got = naive_eval(e["equation"], env)
            except KeyError:
                assert want[e["id"]] is None, (cid, e["id"])
                n_missing += 1
                continue
            assert want[e["id"]] == pytest.approx(got, rel=1e-9, abs=1e-6), (cid, e["id"])
        price = naive_eval(p["price"]["equation"], env)
        assert truth["price_difference"][cid] == pytest.approx(price, rel=1e-9)
    assert n_missing == 1


def test_truth_special_rows(example: Path, truth: dict) -> None:
    m = pd.read_csv(example / "measurements.csv")
    m["key"] = m["variable"].map(norm)
    miss = truth["missing_input"]
    assert not ((m["customer_id"] == miss["customer_id"]) & (m["key"] == norm(miss["variable"]))).any()
    assert truth["element_values"][miss["customer_id"]][miss["element_id"]] is None
    missing = [(c, e) for c, v in truth["element_values"].items() for e, x in v.items() if x is None]
    assert missing == [(miss["customer_id"], miss["element_id"])]
    ov = truth["constant_override"]
    rows = m[m["key"] == norm(ov["constant"])]
    assert rows["customer_id"].tolist() == [ov["customer_id"]]
    assert rows["value"].iloc[0] == ov["customer_value"] != ov["project_value"]


def test_driver_and_subsegment_contrast(example: Path, truth: dict) -> None:
    cust = pd.read_csv(example / "customers.csv").set_index("customer_id")
    drv = truth["driver"]
    y = pd.Series({c: v[drv["element_id"]] for c, v in truth["element_values"].items()})[cust.index]
    numeric = list(cust.select_dtypes("number").columns)
    r2 = {c: np.corrcoef(cust[c], y)[0, 1] ** 2 for c in numeric}
    for c in cust.columns.difference([*numeric, "subsegment"]):
        fitted = y.groupby(cust[c]).transform("mean")
        r2[c] = 1 - ((y - fitted) ** 2).sum() / ((y - y.mean()) ** 2).sum()
    assert max(r2, key=r2.get) == drv["characteristic"] and r2[drv["characteristic"]] > 0.6
    pop = truth["element_means_by_subsegment"]["population"]
    assert pop["throughput"]["high_volume"] > 5 * pop["throughput"]["low_volume"]
    assert pop["rejects"]["high_volume"] == pytest.approx(pop["rejects"]["low_volume"], rel=0.05)
    values = [x for v in truth["element_values"].values() for x in v.values() if x]
    assert max(values) > 100_000 and any(x < 0 for x in values)


def test_random_study_shapes(tmp_path: Path) -> None:
    out = write_random_study(tmp_path / "rnd", n_customers=50, n_elements=6, seed=3)
    p = yaml.safe_load((out / "project.yaml").read_text(encoding="utf-8"))
    cust = pd.read_csv(out / "customers.csv")
    m = pd.read_csv(out / "measurements.csv", keep_default_na=False)
    assert len(cust) == 50 and cust["customer_id"].is_unique
    assert set(cust["subsegment"]) == {s["id"] for s in p["subsegments"]}
    assert len(p["elements"]) == 6
    assert {e["status"] for e in p["elements"]} <= STATUSES
    assert {e["category"] for e in p["elements"]} <= CATEGORIES
    assert list(m.columns) == MEASUREMENT_COLUMNS
    assert set(m["source"]) <= set(SOURCES)
    assert set(m["reliability"]) <= set(RELIABILITIES) | {""}
    assert set(m["customer_id"]) == set(cust["customer_id"])
    assert 50 * 6 * 2 <= len(m) <= 50 * 6 * 5
    known = {norm(c["name"]) for c in p["constants"]} | {norm(d["name"]) for d in p["derived"]}
    measured = set(m["variable"].map(norm))
    used: set[str] = set()
    for e in p["elements"]:
        ph = {norm(x) for x in phrases(e["equation"])}
        assert 1 <= len(ph) <= 4
        used |= ph
    for eq in [d["equation"] for d in p["derived"]] + [p["price"]["equation"]]:
        used |= {norm(x) for x in phrases(eq)}
    assert used <= known | measured and measured <= used
    again = write_random_study(tmp_path / "rnd2", n_customers=50, n_elements=6, seed=3)
    assert (again / "measurements.csv").read_bytes() == (out / "measurements.csv").read_bytes()


def test_random_study_missing_share(tmp_path: Path) -> None:
    out = write_random_study(tmp_path / "m", n_customers=200, n_elements=5, missing_share=0.2, repeats=1)
    m = pd.read_csv(out / "measurements.csv")
    truth = json.loads((out / "truth.json").read_text())
    assert truth["n_missing_pairs"] > 0 and len(m) == truth["n_measurement_rows"]
    assert not m.duplicated(["customer_id", "variable"]).any()  # repeats=1
    assert len(m) + truth["n_missing_pairs"] == 200 * truth["n_variables"]
    assert not math.isnan(sum(v for v in truth["element_means"].values()))
