"""Tests of cvm_kit.variance (subsegment comparison) and its plot and CLI.

Every figure is recomputed here independently: scipy's Welch t-test and
interval, Hedges' g by hand, the permutation p-value by brute force over
every split, Holm with statsmodels.multipletests, Welch's ANOVA by its
textbook formula.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from cvm_kit.cli import main
from cvm_kit.study import load_study
from cvm_kit.values import element_values
from cvm_kit.variance import COMPARE_COLUMNS, compare_subsegments, fmt_money

# tiny study, element values per customer (A = big, B = small)
DOWNTIME_BIG, DOWNTIME_SMALL = [600.0, 300.0, 1080.0], [100.0, 300.0, 200.0]
ENERGY_BIG, ENERGY_SMALL = [40.0, 30.0, 50.0], [10.0, 20.0]  # B3 missing an input
SERVICE_BIG, SERVICE_SMALL = [150.0, 0.0, 100.0], [50.0, 0.0, 200.0]
NET_BIG, NET_SMALL = [1090.0, 500.0, 1630.0], [150.0, 315.0]


def brute_permutation_p(a: list[float], b: list[float]) -> float:
    """Two-sided exact permutation p of the difference of means: every split of a+b."""
    y = np.array(a + b)
    obs = abs(np.mean(a) - np.mean(b))
    hits = total = 0
    for idx in itertools.combinations(range(len(y)), len(a)):
        mask = np.zeros(len(y), bool)
        mask[list(idx)] = True
        d = abs(y[mask].mean() - y[~mask].mean())
        hits += d >= obs - 1e-9
        total += 1
    return hits / total


def hedges_g(a: list[float], b: list[float]) -> float:
    a, b = np.array(a), np.array(b)
    na, nb = len(a), len(b)
    sp = math.sqrt(((na - 1) * a.var(ddof=1) + (nb - 1) * b.var(ddof=1)) / (na + nb - 2))
    return (1 - 3 / (4 * (na + nb) - 9)) * (a.mean() - b.mean()) / sp


@pytest.fixture
def table(tiny):
    return compare_subsegments(tiny).set_index("element_id")


def test_columns_and_rows(table):
    assert list(table.reset_index().columns) == COMPARE_COLUMNS
    # safety is parity everywhere (0 by definition) and brand a placeholder: not compared
    assert list(table.index) == ["downtime", "energy", "service", "scrap", "differential_value", "net_value"]
    assert (table["subsegment_a"] == "big").all() and (table["subsegment_b"] == "small").all()
    assert table.loc["energy", "n_a"] == 3 and table.loc["energy", "n_b"] == 2


@pytest.mark.parametrize("eid,a,b", [("downtime", DOWNTIME_BIG, DOWNTIME_SMALL),
                                     ("energy", ENERGY_BIG, ENERGY_SMALL),
                                     ("net_value", NET_BIG, NET_SMALL)])
def test_welch_matches_scipy(table, eid, a, b):
    ref = stats.ttest_ind(a, b, equal_var=False)
    ci = ref.confidence_interval(0.95)
    row = table.loc[eid]
    assert row["mean_a"] == pytest.approx(np.mean(a))
    assert row["mean_b"] == pytest.approx(np.mean(b))
    assert row["difference"] == pytest.approx(np.mean(a) - np.mean(b))
    assert row["statistic"] == pytest.approx(ref.statistic, rel=1e-10)
    assert row["df"] == pytest.approx(ref.df, rel=1e-10)
    assert row["p_value"] == pytest.approx(ref.pvalue, rel=1e-10)
    assert row["ci_low"] == pytest.approx(ci.low, rel=1e-10)
    assert row["ci_high"] == pytest.approx(ci.high, rel=1e-10)
    assert row["hedges_g"] == pytest.approx(hedges_g(a, b), rel=1e-10)
    assert row["test"] == "Welch t-test"


@pytest.mark.parametrize("eid,a,b,splits", [("downtime", DOWNTIME_BIG, DOWNTIME_SMALL, 20),
                                            ("energy", ENERGY_BIG, ENERGY_SMALL, 10),
                                            ("service", SERVICE_BIG, SERVICE_SMALL, 20)])
def test_exact_permutation_by_brute_force(table, eid, a, b, splits):
    assert table.loc[eid, "p_permutation"] == pytest.approx(brute_permutation_p(a, b))
    assert table.loc[eid, "permutation"] == f"exact ({splits})"


def test_holm_matches_statsmodels(table):
    from statsmodels.stats.multitest import multipletests

    el = table[table["kind"] == "element"]
    expected = multipletests(el["p_value"].to_numpy(), method="holm")[1]
    np.testing.assert_allclose(el["p_holm"].to_numpy(), expected, rtol=1e-12)
    # each total is its own family of one
    tot = table[table["kind"] == "total"]
    np.testing.assert_allclose(tot["p_holm"].to_numpy(), tot["p_value"].to_numpy())


def test_finding_is_plain_language(table):
    f = table.loc["downtime", "finding"]
    ratio = np.mean(DOWNTIME_BIG) / np.mean(DOWNTIME_SMALL)
    assert f.startswith(f"big customers value less downtime about {ratio:.1f}× more than small customers")
    assert "(mean 660 vs 200 EUR/year)" in f
    p = stats.ttest_ind(DOWNTIME_BIG, DOWNTIME_SMALL, equal_var=False).pvalue
    assert f"Welch p={p:.2f}" in f
    assert f"permutation p={brute_permutation_p(DOWNTIME_BIG, DOWNTIME_SMALL):.2f}" in f
    assert "3 vs 3 customers: small samples, read as indicative." in f
    assert "could well be chance" in f  # p = 0.17
    # scrap is a point of parity for small customers: no ratio, say so
    assert "a point of parity there" in table.loc["scrap", "finding"]
    assert table["finding"].str.contains("small samples, read as indicative").all()


def test_monte_carlo_close_to_exact_and_seeded(example_path):
    study = load_study(example_path)
    exact = compare_subsegments(study).set_index("element_id")
    mc = compare_subsegments(study, exact_limit=0, permutations=20_000, seed=3).set_index("element_id")
    again = compare_subsegments(study, exact_limit=0, permutations=20_000, seed=3).set_index("element_id")
    assert (mc["permutation"] == "monte_carlo (20000)").all()
    assert exact["permutation"].str.startswith("exact").all()
    np.testing.assert_array_equal(mc["p_permutation"].to_numpy(), again["p_permutation"].to_numpy())
    # binomial sd of a Monte Carlo p at 20,000 draws is at most 0.0035
    np.testing.assert_allclose(mc["p_permutation"].to_numpy(), exact["p_permutation"].to_numpy(), atol=0.015)
    # the Welch figures do not depend on the permutation scheme
    np.testing.assert_allclose(mc["p_value"].to_numpy(), exact["p_value"].to_numpy())


def test_example_net_value_exact_enumeration(example_path):
    study = load_study(example_path)
    c = compare_subsegments(study).set_index("element_id")
    # 7 high vs 7 low customers, C05 lacks a throughput input: 7 vs 6 for net value
    assert c.loc["rejects", "permutation"] == f"exact ({math.comb(14, 7)})"
    assert c.loc["net_value", "permutation"] == f"exact ({math.comb(13, 6)})"


def _edit(folder: Path, file: str, old: str, new: str) -> None:
    p = folder / file
    text = p.read_text()
    assert old in text, f"{old!r} not in {file}"
    p.write_text(text.replace(old, new))


def test_one_customer_in_a_subsegment(tiny_copy):
    _edit(tiny_copy, "customers.csv", "B2,small", "B2,big")
    _edit(tiny_copy, "customers.csv", "B3,small", "B3,big")
    c = compare_subsegments(load_study(tiny_copy)).set_index("element_id")
    row = c.loc["downtime"]
    assert row["n_b"] == 1
    assert np.isnan(row["p_value"]) and np.isnan(row["ci_low"]) and np.isnan(row["hedges_g"])
    assert "only 1 small customer has a value" in row["finding"]
    # the permutation test still works: 5 x 1 split has 6 arrangements
    a = [600.0, 300.0, 1080.0, 300.0, 200.0]
    assert row["p_permutation"] == pytest.approx(brute_permutation_p(a, [100.0]))


def test_zero_variance_both_groups(tiny_copy):
    # every customer avoids the same number of service calls: identical values
    m = pd.read_csv(tiny_copy / "measurements.csv")
    m.loc[m["variable"] == "Service calls avoided", "value"] = 2
    m.to_csv(tiny_copy / "measurements.csv", index=False)
    c = compare_subsegments(load_study(tiny_copy)).set_index("element_id")
    row = c.loc["service"]
    assert row["mean_a"] == row["mean_b"] == 100.0
    assert np.isnan(row["p_value"]) and np.isnan(row["statistic"]) and np.isnan(row["hedges_g"])
    assert row["finding"] == ("All 6 customers have the same value for fewer service calls (100 EUR/year): "
                              "nothing to compare.")
    # no spread within groups but different means: no t-test, the permutation p is still exact
    m.loc[m["variable"] == "Service calls avoided", "value"] = np.where(
        m.loc[m["variable"] == "Service calls avoided", "customer_id"].str.startswith("A"), 3, 1)
    m.to_csv(tiny_copy / "measurements.csv", index=False)
    row = compare_subsegments(load_study(tiny_copy)).set_index("element_id").loc["service"]
    assert np.isnan(row["p_value"])
    assert row["p_permutation"] == pytest.approx(brute_permutation_p([150.0] * 3, [50.0] * 3))  # 2/20
    assert "no spread" in row["finding"] and "permutation p=0.10" in row["finding"]


def test_all_values_missing(tiny_copy):
    # only B3 keeps an energy price, and B3 lacks [kWh, offering]: nobody has an energy value
    m = pd.read_csv(tiny_copy / "measurements.csv")
    m = m[(m["variable"] != "Energy price") | (m["customer_id"] == "B3")]
    m.to_csv(tiny_copy / "measurements.csv", index=False)
    assert element_values(load_study(tiny_copy)).query("element_id == 'energy'")["value"].isna().all()
    c = compare_subsegments(load_study(tiny_copy)).set_index("element_id")
    row = c.loc["energy"]
    assert row["n_a"] == 0 and row["n_b"] == 0 and np.isnan(row["p_value"]) and np.isnan(row["p_permutation"])
    assert "No customer has a value for lower energy use" in row["finding"]
    # the totals need energy too: also empty, and the other elements are unaffected
    assert "No customer has a value for net value" in c.loc["net_value", "finding"]
    assert c.loc["downtime", "p_value"] == pytest.approx(
        stats.ttest_ind(DOWNTIME_BIG, DOWNTIME_SMALL, equal_var=False).pvalue)


def welch_anova(groups: list[list[float]]) -> tuple[float, float, float, float]:
    """Welch's (1951) F, df1, df2 and p by the textbook formula."""
    g = [np.array(x) for x in groups]
    k = len(g)
    n = np.array([len(x) for x in g], float)
    m = np.array([x.mean() for x in g])
    w = n / np.array([x.var(ddof=1) for x in g])
    mw = (w * m).sum() / w.sum()
    a = (w * (m - mw) ** 2).sum() / (k - 1)
    lam = ((1 - w / w.sum()) ** 2 / (n - 1)).sum()
    b = 1 + 2 * (k - 2) / (k ** 2 - 1) * lam
    f = a / b
    df2 = (k ** 2 - 1) / (3 * lam)
    return f, k - 1, df2, stats.f.sf(f, k - 1, df2)


def test_three_subsegments_welch_anova(tiny_copy):
    doc = yaml.safe_load((tiny_copy / "project.yaml").read_text())
    doc["subsegments"].append({"id": "mid", "description": "Mid plants"})
    (tiny_copy / "project.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    _edit(tiny_copy, "customers.csv", "A3,big", "A3,mid")
    _edit(tiny_copy, "customers.csv", "B2,small", "B2,mid")
    c = compare_subsegments(load_study(tiny_copy), permutations=4000, seed=1).set_index("element_id")
    row = c.loc["downtime"]
    groups = {"big": [600.0, 300.0], "small": [100.0, 200.0], "mid": [1080.0, 300.0]}
    f, df1, df2, p = welch_anova([groups["big"], groups["small"], groups["mid"]])
    assert row["test"] == "Welch ANOVA (3 subsegments)"
    assert row["statistic"] == pytest.approx(f, rel=1e-9)
    assert row["df_num"] == pytest.approx(df1) and row["df"] == pytest.approx(df2, rel=1e-9)
    assert row["p_value"] == pytest.approx(p, rel=1e-9)
    assert (row["subsegment_a"], row["subsegment_b"]) == ("mid", "small")
    assert row["difference"] == pytest.approx(690.0 - 150.0)
    assert np.isnan(row["ci_low"]) and np.isnan(row["hedges_g"])
    assert row["permutation"] == "monte_carlo (4000)"
    # permutation p of the between-group sum of squares, brute force over all 6!/(2!2!2!) = 90 labelings
    y = np.array(groups["big"] + groups["small"] + groups["mid"])
    def ssb(lab):
        return sum((lab == g).sum() * (y[lab == g].mean() - y.mean()) ** 2 for g in range(3))
    obs = ssb(np.repeat(np.arange(3), 2))
    labs = set(itertools.permutations([0, 0, 1, 1, 2, 2]))
    exact = np.mean([ssb(np.array(lab)) >= obs - 1e-9 for lab in labs])
    assert row["p_permutation"] == pytest.approx(exact, abs=0.03)
    assert "mid customers value less downtime most" in row["finding"]


def test_needs_two_subsegments(tiny_copy):
    from cvm_kit.errors import AnalysisError

    doc = yaml.safe_load((tiny_copy / "project.yaml").read_text())
    doc["subsegments"] = doc["subsegments"][:1]
    for e in doc["elements"]:
        e.pop("status_by_subsegment", None)
    (tiny_copy / "project.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    c = (tiny_copy / "customers.csv")
    c.write_text(c.read_text().replace(",small,", ",big,"))
    (tiny_copy / "prospects.csv").unlink()
    with pytest.raises(AnalysisError, match="at least two"):
        compare_subsegments(load_study(tiny_copy))


def test_fmt_money():
    assert [fmt_money(x) for x in (45213, -1482.88, 0.25, 12.5, 999.6, float("nan"))] == \
        ["45,200", "-1,480", "0.25", "12.5", "1,000", "n/a"]


def test_plot_subsegment_values(tiny):
    import matplotlib.pyplot as plt

    from cvm_kit.plotting.variance import plot_subsegment_values

    ax = plot_subsegment_values(element_values(tiny), element_id="energy", order=["big", "small"])
    try:
        assert [t.get_text() for t in ax.get_xticklabels()] == ["big\n(n=3)", "small\n(n=2, 1 missing)"]
        from matplotlib.collections import PathCollection

        assert [len(c.get_offsets()) for c in ax.collections if isinstance(c, PathCollection)] == [3, 2]
        for cont, vals in zip(ax.containers, (ENERGY_BIG, ENERGY_SMALL)):
            x = np.array(vals)
            half = stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x))
            line = cont.lines[0]
            assert line.get_ydata()[0] == pytest.approx(x.mean())
            seg = cont.lines[2][0].get_segments()[0]
            assert (seg[0][1], seg[1][1]) == pytest.approx((x.mean() - half, x.mean() + half))
    finally:
        plt.close(ax.figure)


def test_cli_compare(tiny_path, tmp_path, capsys):
    out = tmp_path / "compare.csv"
    rc = main(["compare", str(tiny_path), "-o", str(out)])
    assert rc == 0
    got = pd.read_csv(out).set_index("element_id")
    assert list(got.reset_index().columns) == COMPARE_COLUMNS
    ref = stats.ttest_ind(NET_BIG, NET_SMALL, equal_var=False)
    assert got.loc["net_value", "p_value"] == pytest.approx(ref.pvalue)
    assert got.loc["downtime", "p_permutation"] == pytest.approx(brute_permutation_p(DOWNTIME_BIG, DOWNTIME_SMALL))
    # stdout when no -o
    rc = main(["compare", str(tiny_path)])
    text = capsys.readouterr().out
    assert rc == 0 and text.splitlines()[0].startswith("element_id,name,kind,subsegment_a")
