"""Issue 15 item 2: precision planning (customers needed) and its assurance.

n_needed is checked against a brute-force loop over n with scipy.stats.t
and a case worked by hand; the assurance against a numerical integral of
the same probability (scipy.integrate.quad over the chi-square law of the
sample variance) and against a brute-force simulation of whole samples.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from inference_studies import write_study
from scipy import integrate, stats

from cvm_kit.cli import main
from cvm_kit.errors import CvmError
from cvm_kit.planning import PLAN_COLUMNS, assurance, customers_needed, plan, plan_notes
from cvm_kit.study import load_study


def brute_n(mean: float, sd: float, precision: float, confidence: float) -> int:
    """The smallest n >= 2 with t_{q, n-1} sd / sqrt(n) <= precision |mean|, by trying every n."""
    q = 0.5 + confidence / 2
    n = 2
    while stats.t.ppf(q, n - 1) * sd / math.sqrt(n) > precision * abs(mean):
        n += 1
    return n


def test_hand_case():
    # mean 100, sd 20, ±20%: need t_{.975,n-1} <= sqrt(n).
    # n = 6: t_5 = 2.5706 > 2.4495; n = 7: t_6 = 2.4469 <= 2.6458.
    assert stats.t.ppf(0.975, 5) > math.sqrt(6) and stats.t.ppf(0.975, 6) <= math.sqrt(7)
    assert customers_needed(100.0, 20.0, precision=0.2, confidence=0.95).tolist() == [7.0]
    # sd 0: two customers already give a zero-width interval
    assert customers_needed(100.0, 0.0).tolist() == [2.0]


@pytest.mark.parametrize("mean,sd,precision,confidence", [
    (100.0, 20.0, 0.2, 0.95), (100.0, 50.0, 0.2, 0.95), (-3000.0, 2500.0, 0.1, 0.95), (50.0, 200.0, 0.2, 0.90),
    (1.0, 1.0, 0.05, 0.99), (35170.0, 17544.0, 0.2, 0.95), (10.0, 1.0, 0.5, 0.8), (1e6, 1e4, 0.01, 0.95),
])
def test_against_brute_force(mean, sd, precision, confidence):
    got = customers_needed(mean, sd, precision=precision, confidence=confidence)
    assert got.tolist() == [float(brute_n(mean, sd, precision, confidence))]


def test_vectorised_rows_are_independent():
    means = np.array([100.0, -250.0, 40.0, 7.0])
    sds = np.array([20.0, 300.0, 35.0, 1.0])
    got = customers_needed(means, sds, precision=0.2)
    assert got.tolist() == [float(brute_n(m, s, 0.2, 0.95)) for m, s in zip(means, sds)]


def test_unreachable_targets_are_missing():
    got = customers_needed(np.array([0.0, 1e-9, np.nan, 5.0]), np.array([5.0, 5.0, 1.0, np.nan]))
    assert np.isnan(got).all()
    with pytest.raises(CvmError, match="precision"):
        customers_needed(1.0, 1.0, precision=0)
    with pytest.raises(CvmError, match="confidence"):
        customers_needed(1.0, 1.0, confidence=1.0)


def exact_assurance(mean: float, sd: float, n: int, precision: float, confidence: float) -> float:
    """P(t s / sqrt(n) <= p |xbar|) for normal data: integrate the normal tail over the chi-square of s."""
    t = stats.t.ppf(0.5 + confidence / 2, n - 1)
    se = sd / math.sqrt(n)

    def integrand(u: float) -> float:
        s = sd * math.sqrt(u / (n - 1))
        c = t * s / (math.sqrt(n) * precision)  # |xbar| must be at least c
        return stats.chi2.pdf(u, n - 1) * (stats.norm.cdf((-c - mean) / se) + stats.norm.sf((c - mean) / se))

    return integrate.quad(integrand, 0, np.inf, limit=200)[0]


@pytest.mark.parametrize("mean,sd,n", [(100.0, 20.0, 7), (35170.0, 17544.0, 27), (-50.0, 40.0, 12)])
def test_assurance_against_integral(mean, sd, n):
    got = assurance(mean, sd, n, precision=0.2, draws=200_000, seed=1)[0]
    assert got == pytest.approx(exact_assurance(mean, sd, n, 0.2, 0.95), abs=0.005)


def test_assurance_against_whole_sample_simulation():
    mean, sd, n, sims = 100.0, 30.0, 9, 40_000
    rng = np.random.default_rng(7)
    x = rng.normal(mean, sd, size=(sims, n))
    half = stats.t.ppf(0.975, n - 1) * x.std(axis=1, ddof=1) / math.sqrt(n)
    brute = float((half <= 0.2 * np.abs(x.mean(axis=1))).mean())
    assert assurance(mean, sd, n, draws=200_000, seed=3)[0] == pytest.approx(brute, abs=0.012)


def test_assurance_seeded_and_edge_cases():
    a = assurance([100.0, 50.0], [20.0, 10.0], [7, 9], draws=2000, seed=5)
    b = assurance([100.0, 50.0], [20.0, 10.0], [7, 9], draws=2000, seed=5)
    assert a.tolist() == b.tolist()
    assert assurance(100.0, 0.0, 2).tolist() == [1.0]
    assert np.isnan(assurance(100.0, 20.0, np.nan)).all()


A = [100.0, 120.0, 80.0, 110.0, 90.0, 130.0]
B = [40.0, 60.0, 55.0, 35.0, 70.0, 45.0]
C_A = [10.0, 30.0, 20.0, 25.0, 15.0, 5.0]
C_B = [200.0, 210.0, 190.0, 220.0, 205.0, 195.0]  # declared parity in b: not planned


@pytest.fixture
def study(tmp_path):
    return load_study(write_study(tmp_path / "s", {"e1": {"a": A, "b": B}, "e2": {"a": C_A, "b": C_B}},
                                  statuses={"e2": {"status": "contention", "b": "parity"}}))


def test_plan_table_against_brute_force(study):
    p = plan(study, precision=0.2, confidence=0.95)
    assert list(p.columns) == PLAN_COLUMNS
    keys = list(zip(p["element_id"], p["subsegment"]))
    assert keys == [("e1", "a"), ("e1", "b"), ("e2", "a"), ("net_value", "a"), ("net_value", "b")]
    net_a = np.array(A) + np.array(C_A)  # no price: net value = differential value
    net_b = np.array(B)  # e2 is parity (worth 0) in b
    for (eid, sid), x in {("e1", "a"): A, ("e1", "b"): B, ("e2", "a"): C_A, ("net_value", "a"): net_a,
                          ("net_value", "b"): net_b}.items():
        row = p[(p["element_id"] == eid) & (p["subsegment"] == sid)].iloc[0]
        x = np.asarray(x, float)
        need = brute_n(x.mean(), x.std(ddof=1), 0.2, 0.95)
        assert row["n_now"] == 6
        assert row["n_needed"] == need
        assert row["more_needed"] == max(0, need - 6)
        assert row["mean"] == pytest.approx(x.mean()) and row["sd"] == pytest.approx(x.std(ddof=1))
        assert 0 <= row["assurance"] <= 1


def test_plan_assurance_is_the_seeded_simulation(study):
    p = plan(study, draws=500, seed=11)
    direct = assurance(p["mean"].to_numpy(), p["sd"].to_numpy(), p["n_needed"].to_numpy(float), draws=500, seed=11)
    assert p["assurance"].tolist() == direct.tolist()


def test_plan_missing_cases(tmp_path):
    s = load_study(write_study(tmp_path / "s", {"one": {"a": [5.0, None, None], "b": [1.0, 2.0, 3.0]},
                                                "zero": {"a": [-1.0, 1.0, 0.0], "b": [1.0, 2.0, 3.0]}}))
    p = plan(s).set_index(["element_id", "subsegment"])
    assert pd.isna(p.loc[("one", "a"), "n_needed"]) and "sd needs at least 2" in p.loc[("one", "a"), "note"]
    assert pd.isna(p.loc[("zero", "a"), "n_needed"]) and "mean is 0" in p.loc[("zero", "a"), "note"]
    assert np.isnan(p.loc[("zero", "a"), "assurance"])
    assert p.loc[("zero", "b"), "n_needed"] == brute_n(2.0, 1.0, 0.2, 0.95)


def test_plan_notes_text(study):
    p = plan(study)
    notes = plan_notes(p)
    row = p[(p["element_id"] == "net_value") & (p["subsegment"] == "a")].iloc[0]
    assert len(notes) == 2
    if row["more_needed"] > 0:
        assert notes[0].startswith(f"a: {row['more_needed']} more customer")
    else:
        assert notes[0].startswith("a: enough customers for ±20% on net value")
    assert f"{row['n_needed']} needed" in notes[0]


def test_example_net_value_plan(example_path):
    s = load_study(example_path)
    p = plan(s)
    from cvm_kit.values import totals

    t = totals(s).dropna(subset=["net_value"])
    for sid, g in t.groupby("subsegment"):
        row = p[(p["element_id"] == "net_value") & (p["subsegment"] == sid)].iloc[0]
        x = g["net_value"].to_numpy()
        assert row["n_now"] == len(x)
        assert row["n_needed"] == brute_n(x.mean(), x.std(ddof=1), 0.2, 0.95)


def test_cli_plan(tmp_path, study, capsys):
    out = tmp_path / "plan.csv"
    assert main(["plan", str(study.path), "--precision", "0.1", "--confidence", "0.9", "-o", str(out)]) == 0
    got = pd.read_csv(out)
    assert list(got.columns) == PLAN_COLUMNS
    x = np.array(A)
    assert got.loc[0, "n_needed"] == brute_n(x.mean(), x.std(ddof=1), 0.1, 0.9)
    assert "on net value" in capsys.readouterr().err
    assert main(["plan", str(study.path), "--precision", "0"]) == 2


def test_fieldwork_view_shows_the_plan(study, capsys):
    assert main(["fieldwork", str(study.path)]) == 0
    out = capsys.readouterr().out
    assert "Precision plan on net value" in out
    for line in plan_notes(plan(study)):
        assert line in out


def test_a_plan_out_of_reach_says_so():
    import pandas as pd

    from cvm_kit.planning import plan_notes

    t = pd.DataFrame({"element_id": ["net_value"], "subsegment": ["large"], "n_now": [6],
                      "n_needed": pd.array([1955447], "Int64"), "more_needed": pd.array([1955441], "Int64"),
                      "assurance": [0.5], "note": [""]})
    [line] = plan_notes(t)  # it read "large: 1955441 more customers for ±20% on net value"
    assert line.startswith("large: ±20% on net value is out of reach (1,955,447 customers needed, 6 now)")
