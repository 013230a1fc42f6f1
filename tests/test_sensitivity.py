"""Tests of cvm_kit.sensitivity (tornado, Monte Carlo) and its plots and CLI.

Tornado figures are worked out by hand on the tiny study; the simulation is
checked for reproducibility, against the analytic normal (parametric) and
against the customers it resamples (bootstrap).
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from cvm_kit.cli import main
from cvm_kit.errors import CvmError
from cvm_kit.sensitivity import TORNADO_COLUMNS, max_premium_at, simulate, simulation_summary, tornado
from cvm_kit.study import load_study
from cvm_kit.values import element_values, evaluate
from cvm_kit.values import totals as value_totals

# tiny study, per customer A1 A2 A3 B1 B2 B3
ELEMENTS = {
    "downtime": [600, 300, 1080, 100, 300, 200],
    "energy": [40, 30, 50, 10, 20, np.nan],
    "service": [150, 0, 100, 50, 0, 200],
    "scrap": [400, 200, 600, 0, 0, 0],
}
PRICE = [100, 30, 200, 10, 5, 10]


def test_tornado_by_element_minmax_by_hand(tiny):
    t = tornado(tiny, by="element", range="minmax").set_index("factor")
    assert list(t.reset_index().columns) == TORNADO_COLUMNS
    means = {k: np.nanmean(v) for k, v in ELEMENTS.items()}
    base = sum(means.values()) - np.mean(PRICE)  # 430 + 30 + 83.33 + 200 - 59.17
    assert base == pytest.approx(684.1666666, rel=1e-8)
    assert set(t.index) == {"downtime", "energy", "service", "scrap", "price_difference"}  # safety: parity
    for eid, vals in ELEMENTS.items():
        lo, hi = np.nanmin(vals), np.nanmax(vals)
        row = t.loc[eid]
        assert (row["low_input"], row["base_input"], row["high_input"]) == pytest.approx((lo, means[eid], hi))
        assert row["base_value"] == pytest.approx(base)
        assert row["low_value"] == pytest.approx(base - means[eid] + lo)
        assert row["high_value"] == pytest.approx(base - means[eid] + hi)
        assert row["swing"] == pytest.approx(hi - lo)
    p = t.loc["price_difference"]
    assert p["low_value"] == pytest.approx(base + np.mean(PRICE) - 5)  # a lower price raises net value
    assert p["high_value"] == pytest.approx(base + np.mean(PRICE) - 200)
    assert p["kind"] == "price" and t.loc["downtime", "kind"] == "element"
    # widest first
    assert list(t.index[:2]) == ["downtime", "scrap"] and t["swing"].is_monotonic_decreasing


def test_tornado_ranges_and_outcome(tiny):
    x = np.array(ELEMENTS["downtime"], float)
    sd = tornado(tiny, range="sd", of="differential").set_index("factor").loc["downtime"]
    assert (sd["low_input"], sd["high_input"]) == pytest.approx((x.mean() - x.std(ddof=1), x.mean() + x.std(ddof=1)))
    p = tornado(tiny, range="p10-p90").set_index("factor").loc["downtime"]
    assert (p["low_input"], p["high_input"]) == pytest.approx(tuple(np.percentile(x, [10, 90])))
    diff = tornado(tiny, of="differential").set_index("factor")
    assert "price_difference" not in diff.index
    assert diff["base_value"].iloc[0] == pytest.approx(sum(np.nanmean(v) for v in ELEMENTS.values()))
    # one subsegment: scrap is parity for small customers, so it is not a factor there
    small = tornado(tiny, subsegment="small", range="minmax").set_index("factor")
    assert "scrap" not in small.index
    assert small.loc["downtime", "base_value"] == pytest.approx(200 + 15 + 250 / 3 - 25 / 3)


def test_tornado_by_variable_by_hand(tiny):
    t = tornado(tiny, by="variable", range="minmax", of="differential", subsegment="big").set_index("factor")
    # big customers' input means: hours saved 10 - 4, margin (100, 100, 120), kWh 1166.67 - 900 at 0.2,
    # service calls 4/3 at 50, scrap tonnes 2 at 200
    margin = (100 + 100 + 120) / 3
    base = 6 * margin + (3500 / 3 - 900) * 0.2 + 4 / 3 * 50 + 2 * 200
    assert base == pytest.approx(1160.0)
    assert t["base_value"].to_numpy() == pytest.approx(np.full(len(t), base))
    h = t.loc["Hours lost, alternative"]  # A1's two readings 9 and 11 average to 10: range 8..12
    assert (h["low_input"], h["base_input"], h["high_input"]) == pytest.approx((8, 10, 12))
    assert (h["low_value"], h["high_value"]) == pytest.approx((base - 2 * margin, base + 2 * margin))
    m = t.loc["Margin per hour"]  # a constant A3 overrides: it has a spread
    assert (m["low_value"], m["high_value"]) == pytest.approx((base - 6 * (margin - 100), base + 6 * (120 - margin)))
    c = t.loc["Call cost"]  # a constant: moved +-10%
    assert (c["low_input"], c["high_input"]) == pytest.approx((45, 55))
    assert (c["low_value"], c["high_value"]) == pytest.approx((base - 4 / 3 * 5, base + 4 / 3 * 5))
    assert c["kind"] == "constant" and "10%" in c["range_rule"]
    s = t.loc["Service calls avoided"]  # max(-1, 0) = 0 at the low end
    assert (s["low_value"], s["high_value"]) == pytest.approx((base - 200 / 3, base + 150 - 200 / 3))
    # price inputs do not move differential value, so they are not factors
    assert not {"Price, offering", "Price, alternative", "Tonnes"} & set(t.index)
    assert t["swing"].is_monotonic_decreasing


def test_tornado_by_variable_whole_segment_weights_subsegments(tiny):
    t = tornado(tiny, by="variable", range="minmax", of="net").set_index("factor")
    # the base case: every input at its all-customer mean, evaluated as a big and as a small customer
    # (scrap is parity for small), weighted by the subsegments' shares (3 and 3 customers)
    assert t.loc["Tonnes", "base_input"] == pytest.approx((50 + 30 + 100 + 20 + 10 + 10) / 6)
    row = t.loc["Tonnes"]
    means = {k: v for k, v in zip(t.index, t["base_input"])}
    inputs = pd.DataFrame([means, means])
    res = evaluate(tiny, inputs, subsegment=["big", "small"])["net_value"].to_numpy()
    assert row["base_value"] == pytest.approx(res.mean())


def test_tornado_bad_arguments(tiny):
    with pytest.raises(CvmError, match="range must be one of"):
        tornado(tiny, range="iqr")
    with pytest.raises(CvmError, match="no subsegment 'medium'"):
        tornado(tiny, subsegment="medium")


def test_simulate_is_seeded(tiny):
    a = simulate(tiny, draws=500, seed=7)
    b = simulate(tiny, draws=500, seed=7)
    c = simulate(tiny, draws=500, seed=8)
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["net_value"], c["net_value"])
    assert list(a.columns) == ["subsegment", "draw", "differential_value", "price_difference", "net_value", "method"]
    assert (a.groupby("subsegment").size() == 500).all()
    assert (a["net_value"] == a["differential_value"] - a["price_difference"]).all()


def test_bootstrap_resamples_each_element_independently(tiny):
    d = simulate(tiny, draws=100_000, seed=1, subsegment="small")
    # small customers: downtime 100/300/200, energy 10/20 (B3 missing), service 50/0/200, scrap 0 (parity)
    diff_mean = 200 + 15 + 250 / 3
    var = np.var([100, 300, 200]) + np.var([10, 20]) + np.var([50, 0, 200])  # resampling: population variances
    se = np.sqrt(var / len(d))
    assert d["differential_value"].mean() == pytest.approx(diff_mean, abs=5 * se)
    assert d["differential_value"].var() == pytest.approx(var, rel=0.03)
    # every draw is a sum of observed values: 3 x 2 x 3 combinations at most
    assert d["differential_value"].nunique() <= 18
    assert set(np.round(d["price_difference"], 9)) <= {10.0, 5.0}


def test_bootstrap_customers_draws_whole_customers(tiny):
    d = simulate(tiny, draws=2000, seed=2, method="bootstrap_customers")
    assert set(d.loc[d["subsegment"] == "big", "net_value"].round(6)) == {1090.0, 500.0, 1630.0}
    assert set(d.loc[d["subsegment"] == "small", "net_value"].round(6)) == {150.0, 315.0}
    assert any("small: 1 customer(s) with missing values left out" in n for n in d.attrs["notes"])


def test_parametric_matches_analytic_normal(example_path):
    study = load_study(example_path)
    d = simulate(study, draws=200_000, seed=5, method="parametric")
    v = element_values(study)
    t = value_totals(study, v)
    for sub in study.subsegment_ids:
        w = v[v["subsegment"] == sub].pivot(index="customer_id", columns="element_id", values="value")
        w = w.drop(columns=[e.id for e in study.elements if e.quantified and
                            all(e.status_for(s) == "parity" for s in study.subsegment_ids)])
        price = t.loc[t["subsegment"] == sub, "price_difference"]
        mean = w.mean().sum() - price.mean()  # pandas skips missing values per column
        sd = np.sqrt((w.var(ddof=1).fillna(0)).sum() + price.var(ddof=1))
        x = d.loc[d["subsegment"] == sub, "net_value"].to_numpy()
        assert x.mean() == pytest.approx(mean, abs=0.02 * sd)
        assert x.std() == pytest.approx(sd, rel=0.01)
        for q in (5, 25, 50, 75, 95):
            assert np.percentile(x, q) == pytest.approx(stats.norm.ppf(q / 100, mean, sd), abs=0.02 * sd)
        s = simulation_summary(d).set_index("subsegment").loc[sub]
        assert s["p_net_positive"] == pytest.approx(stats.norm.sf(0, mean, sd), abs=0.005)


def test_summary_and_max_premium(tiny):
    d = simulate(tiny, draws=50_000, seed=3)
    s = simulation_summary(d, prob=0.8).set_index("subsegment")
    for sub, g in d.groupby("subsegment"):
        net = g["net_value"].to_numpy()
        q20 = np.sort(net)[len(net) - int(np.ceil(0.8 * len(net)))]
        assert s.loc[sub, "net_p5"] == pytest.approx(np.percentile(net, 5))
        assert s.loc[sub, "net_p95"] == pytest.approx(np.percentile(net, 95))
        assert s.loc[sub, "differential_p50"] == pytest.approx(np.median(g["differential_value"]))
        assert s.loc[sub, "p_net_positive"] == pytest.approx((net > 0).mean())
        assert s.loc[sub, "max_premium"] == pytest.approx(q20)
        assert q20 == pytest.approx(np.quantile(net, 0.2), abs=0.02 * net.std())
        # any lower premium keeps 80% of the draws positive; this one (or any higher) does not
        assert (net - (q20 - 1e-6) > 0).mean() >= 0.8
        assert (net - q20 > 0).mean() < 0.8
    assert s["assumption"].str.contains("independently").all()
    # a net value that is rarely positive: no premium is safe
    worse = d.assign(net_value=d["net_value"] - 10_000)
    m = max_premium_at(worse, 0.8)
    assert m["max_premium"].isna().all() and (m["net_quantile"] < 0).all()


def test_simulate_all_missing_element(tiny_copy):
    m = pd.read_csv(tiny_copy / "measurements.csv")
    m = m[(m["variable"] != "Energy price") | (m["customer_id"] == "B3")]
    m.to_csv(tiny_copy / "measurements.csv", index=False)
    d = simulate(load_study(tiny_copy), draws=1000, seed=0)
    assert "big: energy left out (no customer has a value)" in d.attrs["notes"]
    s = simulation_summary(d).set_index("subsegment")
    assert "energy left out" in s.loc["big", "note"]
    with pytest.raises(CvmError, match="method must be one of"):
        simulate(load_study(tiny_copy), method="mcmc")


def test_plot_tornado_matches_table(example_path):
    import matplotlib.pyplot as plt

    from cvm_kit.plotting.sensitivity import plot_tornado

    t = tornado(load_study(example_path), by="element", range="p10-p90")
    ax = plot_tornado(t.sample(frac=1.0, random_state=0))  # the plot sorts by swing itself
    try:
        n = len(t)
        low, high = ax.patches[:n], ax.patches[n:2 * n]
        assert len(ax.patches) == 2 * n
        ys = [p.get_y() + p.get_height() / 2 for p in low]
        assert ys == sorted(ys, reverse=True)  # widest on top: the first bar has the largest y
        ticks = sorted(zip(ax.get_yticks(), [tl.get_text() for tl in ax.get_yticklabels()]), reverse=True)
        # top to bottom = widest first (issue 13: long labels wrap onto several lines)
        assert [label.replace("\n", " ") for _, label in ticks] == list(t["label"])
        base = t["base_value"].iloc[0]
        for p, q, (_, row) in zip(low, high, t.iterrows()):
            assert p.get_x() == pytest.approx(base) and q.get_x() == pytest.approx(base)
            assert p.get_x() + p.get_width() == pytest.approx(row["low_value"])
            assert q.get_x() + q.get_width() == pytest.approx(row["high_value"])
        widths = [abs(q.get_x() + q.get_width() - (p.get_x() + p.get_width())) for p, q in zip(low, high)]
        assert widths == sorted(widths, reverse=True)
        assert any(line.get_xdata()[0] == pytest.approx(base) for line in ax.lines)  # base line
        texts = {tx.get_text() for tx in ax.texts}
        from cvm_kit.variance import fmt_money

        assert fmt_money(t["high_input"].iloc[0]) in texts and fmt_money(t["low_input"].iloc[0]) in texts
    finally:
        plt.close(ax.figure)


def test_plot_simulation_legend(tiny):
    import matplotlib.pyplot as plt

    from cvm_kit.plotting.sensitivity import plot_simulation

    d = simulate(tiny, draws=2000, seed=0)
    ax = plot_simulation(d)
    try:
        texts = [t.get_text() for t in ax.get_legend().get_texts()]
        for sub, g in d.groupby("subsegment", sort=False):
            assert f"{sub}: P(net value > 0) = {(g['net_value'] > 0).mean():.0%}" in texts
    finally:
        plt.close(ax.figure)


def test_cli_tornado_and_simulate(tiny_path, tmp_path, capsys):
    out = tmp_path / "t.csv"
    assert main(["tornado", str(tiny_path), "--by", "element", "--range", "minmax", "-o", str(out)]) == 0
    t = pd.read_csv(out).set_index("factor")
    assert t.loc["downtime", "low_value"] == pytest.approx(684.1666666 - 430 + 100)
    assert main(["tornado", str(tiny_path), "--by", "variable", "--of", "differential", "--subsegment", "big",
                 "--range", "minmax"]) == 0
    tv = pd.read_csv(io.StringIO(capsys.readouterr().out)).set_index("factor")
    assert tv.loc["Hours lost, alternative", "high_value"] == pytest.approx(1160 + 2 * 320 / 3)
    assert main(["simulate", str(tiny_path), "--draws", "3000", "--seed", "4"]) == 0
    cap = capsys.readouterr()
    s = pd.read_csv(io.StringIO(cap.out)).set_index("subsegment")
    ref = simulation_summary(simulate(load_study(tiny_path), draws=3000, seed=4)).set_index("subsegment")
    assert s.loc["big", "net_p50"] == pytest.approx(ref.loc["big", "net_p50"])
    assert s.loc["small", "p_net_positive"] == pytest.approx(ref.loc["small", "p_net_positive"])
    assert "method: bootstrap" in cap.err
    assert main(["tornado", str(tiny_path), "--subsegment", "nope"]) == 1
    assert "no subsegment 'nope'" in capsys.readouterr().err


def test_seeded_draws_do_not_depend_on_the_order_of_customers_csv(tiny_copy, tiny):
    from cvm_kit.variance import compare_subsegments

    c = pd.read_csv(tiny_copy / "customers.csv", dtype=str)
    c.iloc[::-1].to_csv(tiny_copy / "customers.csv", index=False)
    flipped = load_study(tiny_copy)
    assert list(flipped.customers["customer_id"]) != list(tiny.customers["customer_id"])
    for method in ("bootstrap", "bootstrap_customers"):
        a = simulate(tiny, draws=2000, seed=5, method=method)
        b = simulate(flipped, draws=2000, seed=5, method=method)
        pd.testing.assert_frame_equal(a, b)
    a = compare_subsegments(tiny, exact_limit=0, permutations=500, seed=1)["p_permutation"]
    b = compare_subsegments(flipped, exact_limit=0, permutations=500, seed=1)["p_permutation"]
    assert list(a) == list(b)  # Monte Carlo permutations, not the exact enumeration


def test_tornado_labels_of_long_inputs_stay_inside_the_axes(example_path):
    """A low input of 1,000,000 at the end of the longest bar ran over the frame into the factor names."""
    import matplotlib.pyplot as plt

    from cvm_kit.plotting.sensitivity import plot_tornado
    from cvm_kit.reporting.png import png_bytes

    t = tornado(load_study(example_path), by="variable")
    t.loc[t.index[0], ["low_input", "high_input"]] = [1_000_000.0, 2_460_000.0]
    ax = plot_tornado(t)
    try:
        png_bytes(ax.figure, dpi=100)  # laid out and drawn as a report draws it
        r = ax.figure.canvas.get_renderer()
        frame = ax.get_window_extent(r)
        labels = {tx.get_text(): tx.get_window_extent(r) for tx in ax.texts}
        assert {"1,000,000", "2,460,000"} <= set(labels)
        for text, box in labels.items():
            assert frame.x0 - 1 <= box.x0 and box.x1 <= frame.x1 + 1, text
    finally:
        plt.close(ax.figure)
