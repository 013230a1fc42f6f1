"""Tests of cvm_kit.segments (drivers, best split, suggestion), cvm_kit.prospects, plots and CLI.

Regressions are re-fitted here with statsmodels on design matrices built in
the test; splits are found by brute force; the example study's seeded truth
(truth.json) says which characteristic drives which element.
"""

from __future__ import annotations

import io
import itertools
import json

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from cvm_kit.cli import main
from cvm_kit.errors import CvmError
from cvm_kit.prospects import rank_customers, score_prospects
from cvm_kit.segments import DRIVER_COLUMNS, best_split, driver_frame, drivers, segmentation_suggestion
from cvm_kit.study import load_study

IDS = ["A1", "A2", "A3", "B1", "B2", "B3"]
SIZE = np.array([50, 30, 100, 20, 10, 10], float)
REGION = np.array(["north", "south", "north", "south", "north", "south"], object)
SUBSEGMENT = np.array(["big"] * 3 + ["small"] * 3, object)
DOWNTIME = np.array([600, 300, 1080, 100, 300, 200], float)
NET = np.array([1090, 500, 1630, 150, 315, np.nan])


def test_drivers_match_statsmodels(tiny):
    d = drivers(tiny).set_index(["element_id", "characteristic"])
    assert list(d.reset_index().columns) == DRIVER_COLUMNS
    ref = sm.OLS(DOWNTIME, sm.add_constant(SIZE)).fit()
    row = d.loc[("downtime", "size")]
    assert row["kind"] == "numeric" and row["n"] == 6 and row["levels"] == 5
    assert row["r_squared"] == pytest.approx(ref.rsquared, rel=1e-10)
    assert row["adj_r_squared"] == pytest.approx(ref.rsquared_adj, rel=1e-10)
    assert row["f_statistic"] == pytest.approx(ref.fvalue, rel=1e-10)
    assert row["p_value"] == pytest.approx(ref.f_pvalue, rel=1e-10)
    # categorical: dummies with the first level dropped; net value misses B3
    ok = ~np.isnan(NET)
    dummies = pd.get_dummies(pd.Series(REGION[ok]), drop_first=True, dtype=float)
    ref = sm.OLS(NET[ok], sm.add_constant(dummies.to_numpy())).fit()
    row = d.loc[("net_value", "region")]
    assert row["kind"] == "categorical" and row["n"] == 5 and row["levels"] == 2
    assert row["r_squared"] == pytest.approx(ref.rsquared, rel=1e-10)
    assert row["p_value"] == pytest.approx(ref.f_pvalue, rel=1e-10)
    # rank by adjusted R² within each element
    for _eid, g in drivers(tiny).groupby("element_id"):
        assert list(g.sort_values("rank")["adj_r_squared"]) == sorted(g["adj_r_squared"], reverse=True)
    assert "small sample" in row["note"]
    # safety (parity everywhere) explains nothing by construction: not a target
    assert set(d.index.get_level_values(0)) == {"downtime", "energy", "service", "scrap", "differential_value",
                                                "net_value"}


def test_example_truth_driver_comes_out_on_top(example_path):
    truth = json.loads((example_path / "truth.json").read_text())["driver"]
    study = load_study(example_path)
    d = drivers(study)
    top = d[(d["element_id"] == truth["element_id"]) & (d["rank"] == 1)]
    assert top["characteristic"].item() == truth["characteristic"]
    assert top["r_squared"].item() > 0.5
    assert best_split(study, truth["element_id"])["characteristic"].iloc[0] == truth["characteristic"]
    frame = driver_frame(study, truth["element_id"])
    assert frame["driver"].iloc[0] == truth["characteristic"]


def _variant(tiny_copy, **edits):
    c = pd.read_csv(tiny_copy / "customers.csv")
    for col, values in edits.items():
        c[col] = values
    c.to_csv(tiny_copy / "customers.csv", index=False)
    return load_study(tiny_copy)


def test_one_level_characteristic(tiny_copy):
    study = _variant(tiny_copy, region=["north"] * 6)
    d = drivers(study).set_index(["element_id", "characteristic"])
    row = d.loc[("downtime", "region")]
    assert np.isnan(row["r_squared"]) and np.isnan(row["rank"]) and row["note"] == "one level only: explains nothing"
    # the numeric characteristic is still fitted
    assert d.loc[("downtime", "size"), "rank"] == 1
    b = best_split(study, "downtime").set_index("characteristic")
    assert np.isnan(b.loc["region", "share_explained"]) and b.loc["region", "note"] == "one level only"


def test_too_many_levels_for_the_customers(tiny_copy):
    study = _variant(tiny_copy, region=IDS)  # a level per customer: no residual degrees of freedom
    row = drivers(study).set_index(["element_id", "characteristic"]).loc[("downtime", "region")]
    assert np.isnan(row["r_squared"]) and "no residual degrees of freedom" in row["note"]


def test_all_missing_element(tiny_copy):
    m = pd.read_csv(tiny_copy / "measurements.csv")
    m = m[(m["variable"] != "Energy price") | (m["customer_id"] == "B3")]
    m.to_csv(tiny_copy / "measurements.csv", index=False)
    study = load_study(tiny_copy)
    d = drivers(study)
    e = d[d["element_id"] == "energy"]
    assert e["r_squared"].isna().all() and (e["n"] == 0).all()
    assert (e["note"] == "no customer has both values").all()
    b = best_split(study, "energy")
    assert b["share_explained"].isna().all()
    assert (b["note"] == "no customer has both the value and the characteristic").all()


def brute_best_threshold(y, x, min_size=2):
    sst = ((y - y.mean()) ** 2).sum()
    best = (-1.0, None)
    xs = np.unique(x)
    for lo, hi in zip(xs[:-1], xs[1:]):
        t = (lo + hi) / 2
        a = x <= t
        if a.sum() < min_size or (~a).sum() < min_size:
            continue
        ssb = a.sum() * (y[a].mean() - y.mean()) ** 2 + (~a).sum() * (y[~a].mean() - y.mean()) ** 2
        if ssb / sst > best[0]:
            best = (ssb / sst, t)
    return best


def test_best_split_by_brute_force(tiny):
    b = best_split(tiny, "net_value").set_index("characteristic")
    ok = ~np.isnan(NET)
    share, thr = brute_best_threshold(NET[ok], SIZE[ok])
    assert b.loc["size", "threshold"] == pytest.approx(thr)
    assert b.loc["size", "share_explained"] == pytest.approx(share)
    assert b.loc["size", "rule"] == f"size <= {thr:g}"
    y, subs = NET[ok], SUBSEGMENT[ok]
    sst = ((y - y.mean()) ** 2).sum()
    current = sum((subs == s).sum() * (y[subs == s].mean() - y.mean()) ** 2 for s in ("big", "small")) / sst
    assert b.loc["size", "current_share"] == pytest.approx(current)
    assert b.loc["size", "gain"] == pytest.approx(share - current)
    # region has two levels: the only split
    north = REGION[ok] == "north"
    ssb = north.sum() * (y[north].mean() - y.mean()) ** 2 + (~north).sum() * (y[~north].mean() - y.mean()) ** 2
    assert b.loc["region", "share_explained"] == pytest.approx(ssb / sst)
    assert {b.loc["region", "group_a"], b.loc["region", "group_b"]} == {"north", "south"}
    # best first
    assert best_split(tiny, "net_value")["share_explained"].is_monotonic_decreasing


def test_best_split_categories_enumerated_and_by_mean_order(tiny_copy):
    # five levels: every two-group partition is enumerated; compare with brute force
    levels = ["a", "b", "c", "d", "e", "e"]
    study = _variant(tiny_copy, region=levels)
    b = best_split(study, "downtime", min_size=1).set_index("characteristic").loc["region"]
    y = DOWNTIME
    sst = ((y - y.mean()) ** 2).sum()
    best = 0.0
    labels = np.array(levels)
    for r in range(1, 5):
        for group in itertools.combinations("abcde", r):
            a = np.isin(labels, group)
            ssb = a.sum() * (y[a].mean() - y.mean()) ** 2 + (~a).sum() * (y[~a].mean() - y.mean()) ** 2
            best = max(best, ssb / sst)
    assert b["share_explained"] == pytest.approx(best)
    with pytest.raises(CvmError, match="no target 'nope'"):
        best_split(study, "nope")


def test_segmentation_suggestion(example_path, tiny):
    s = segmentation_suggestion(load_study(example_path))
    # the example's subsegments follow tonnes a year, which drives net value: keep
    assert s.action == "keep" and s.text.startswith("Keep the current segmentation")
    assert "Caution: 13 customers" in s.text
    assert "rejects by humidity_pct" in s.text  # an element a different split explains much better
    assert list(s.table["target"])[0] == "net_value"
    forced = segmentation_suggestion(tiny, min_gain=-1.0, min_size=2)  # any split "beats" the subsegments
    assert forced.action == "resegment" and forced.characteristic in ("size", "region")
    assert forced.text.startswith(f"Consider segmenting by {forced.characteristic}: splitting at {forced.rule}")
    assert "Caution: 5 customers" in forced.text
    kept = segmentation_suggestion(tiny, min_gain=2.0, min_size=2)
    assert kept.action == "keep" and kept.rule == ""


def test_rank_customers(tiny):
    r = rank_customers(tiny)
    assert list(r["customer_id"]) == ["A3", "A1", "A2", "B2", "B1", "B3"]
    assert list(r["rank"].iloc[:5]) == [1, 2, 3, 4, 5] and pd.isna(r["rank"].iloc[5])
    assert {"size", "region", "subsegment", "net_value"} <= set(r.columns)


def test_score_prospects_matches_statsmodels(tiny):
    p = score_prospects(tiny).set_index("prospect_id")
    ok = ~np.isnan(NET)
    ref = sm.OLS(NET[ok], sm.add_constant(SIZE[ok])).fit()
    frame = ref.get_prediction(np.array([[1, 80.0], [1, 15.0]])).summary_frame(alpha=0.05)
    assert p["drivers"].unique().tolist() == ["size"]  # size explains net value best
    np.testing.assert_allclose(p.loc[["P1", "P2"], "predicted_net_value"], frame["mean"], rtol=1e-10)
    np.testing.assert_allclose(p.loc[["P1", "P2"], "pi_low"], frame["obs_ci_lower"], rtol=1e-10)
    np.testing.assert_allclose(p.loc[["P1", "P2"], "pi_high"], frame["obs_ci_upper"], rtol=1e-10)
    assert list(p["rank"]) == [1, 2]


def test_prospect_with_unseen_level_and_no_prospects(tiny_copy):
    (tiny_copy / "prospects.csv").write_text("prospect_id,subsegment,size,region\nP1,big,80,north\nP2,small,15,east\n")
    study = load_study(tiny_copy)
    p = score_prospects(study, characteristics=["region"]).set_index("prospect_id")
    assert np.isnan(p.loc["P2", "predicted_net_value"]) and np.isnan(p.loc["P2", "pi_low"])
    assert "region 'east' not among the studied customers (north, south): cannot predict" in p.loc["P2", "note"]
    north = NET[(REGION == "north") & ~np.isnan(NET)]
    assert p.loc["P1", "predicted_net_value"] == pytest.approx(north.mean())
    assert p.index[0] == "P1"  # scorable first
    (tiny_copy / "prospects.csv").unlink()
    empty = score_prospects(load_study(tiny_copy))
    assert empty.empty and "no prospects.csv" in empty.attrs["message"]


def test_plots_drivers_and_value_vs_driver(example_path):
    import matplotlib.pyplot as plt
    from matplotlib.collections import PathCollection

    from cvm_kit.plotting.segments import plot_drivers, plot_value_vs_driver

    study = load_study(example_path)
    d = drivers(study)
    ax = plot_drivers(d, element_id="rejects")
    try:
        g = d[d["element_id"] == "rejects"].sort_values("r_squared", ascending=False)
        widths = [p.get_width() for p in ax.patches]
        np.testing.assert_allclose(widths, np.clip(g["r_squared"], 0, None))
        ys = [p.get_y() for p in ax.patches]
        assert ys == sorted(ys, reverse=True)  # best on top
    finally:
        plt.close(ax.figure)
    frame = driver_frame(study, "rejects")
    ax = plot_value_vs_driver(frame)
    try:
        cols = [c for c in ax.collections if isinstance(c, PathCollection)]
        assert [len(c.get_offsets()) for c in cols] == list(frame.groupby("subsegment", sort=False).size())
        assert ax.get_xlabel() == "humidity_pct"
        assert [t.get_text() for t in ax.get_legend().get_texts()][:2] == list(dict.fromkeys(frame["subsegment"]))
    finally:
        plt.close(ax.figure)


def test_cli_segment_and_prospects(tiny_path, example_path, tmp_path, capsys):
    out = tmp_path / "drivers.csv"
    assert main(["segment", str(example_path), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "Keep the current segmentation" in err
    d = pd.read_csv(out)
    assert list(d.columns) == DRIVER_COLUMNS
    top = d[(d["element_id"] == "rejects") & (d["rank"] == 1)]
    assert top["characteristic"].item() == "humidity_pct"
    assert main(["prospects", str(tiny_path)]) == 0
    t = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert list(t.columns) == ["kind", "rank", "id", "subsegment", "net_value", "pi_low", "pi_high", "basis", "note"]
    assert list(t.loc[t["kind"] == "customer", "id"]) == ["A3", "A1", "A2", "B2", "B1", "B3"]
    pros = t[t["kind"] == "prospect"].set_index("id")
    ok = ~np.isnan(NET)
    ref = sm.OLS(NET[ok], sm.add_constant(SIZE[ok])).fit()
    assert pros.loc["P1", "net_value"] == pytest.approx(ref.predict([[1, 80.0]])[0])
    assert pros.loc["P1", "basis"] == "predicted from size"


def test_suggestion_without_a_usable_split(tiny):
    # 5 customers with a net value cannot be split 3 + 3
    s = segmentation_suggestion(tiny)
    assert s.action == "keep"
    assert "no split of net value could be computed (no split leaves 3+ customers on each side)" in s.text


def test_a_name_per_customer_is_no_characteristic_to_split_on(tiny_copy):
    """A plant name per customer 'explained 74%' and was suggested as a new segmentation."""
    import pandas as pd

    from cvm_kit.segments import best_split, segmentation_suggestion

    c = pd.read_csv(tiny_copy / "customers.csv", dtype=str)
    c["plant"] = [f"Werk {i}" for i in range(len(c))]
    c.to_csv(tiny_copy / "customers.csv", index=False)
    s = load_study(tiny_copy)
    b = best_split(s, "net_value").set_index("characteristic")
    assert np.isnan(b.loc["plant", "share_explained"]) and "a name or an id" in b.loc["plant", "note"]
    assert segmentation_suggestion(s).characteristic != "plant"
