"""Issue 15 item 4: partially pooled subsegment means (empirical Bayes, DerSimonian-Laird).

Worked by hand: three subsegments of four customers with means 10, 20, 30
and the same spread (values m-9, m-3, m+3, m+9: sd^2 = 60, se^2 = 15). With
equal se^2 the DerSimonian-Laird tau^2 is the variance of the means less
se^2: 100 - 15 = 85, so each weight is 85/100 = 0.85 and the shrunk means
are 0.85 m + 0.15 * 20 = 11.5, 20, 28.5. With means 10, 12, 14 the variance
of the means (4) is below se^2: tau^2 truncates to 0 (the boundary) and
every mean pools fully to 12. Unequal cases are checked against
statsmodels.stats.meta_analysis.combine_effects(method_re="dl").
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from inference_studies import write_study
from statsmodels.stats.meta_analysis import combine_effects

from cvm_kit.cli import main
from cvm_kit.shrinkage import SHRINK_COLUMNS, dersimonian_laird, shrink
from cvm_kit.study import load_study


def spread(m: float) -> list[float]:
    return [m - 9, m - 3, m + 3, m + 9]


@pytest.fixture
def study(tmp_path):
    vals = {"wide": {"a": spread(10), "b": spread(20), "c": spread(30)},
            "close": {"a": spread(10), "b": spread(12), "c": spread(14)}}
    return load_study(write_study(tmp_path / "s", vals))


def test_hand_computation(study):
    t = shrink(study).set_index(["element_id", "subsegment"])
    assert list(t.reset_index().columns) == SHRINK_COLUMNS
    for sid, m, shrunk in (("a", 10, 11.5), ("b", 20, 20.0), ("c", 30, 28.5)):
        r = t.loc[("wide", sid)]
        assert r["n"] == 4 and r["mean"] == pytest.approx(m) and r["se"] == pytest.approx(np.sqrt(15))
        assert r["tau2"] == pytest.approx(85.0) and r["weight"] == pytest.approx(0.85)
        assert r["pooled_mean"] == pytest.approx(20.0)
        assert r["shrunk_mean"] == pytest.approx(shrunk)
        assert r["pulled_by"] == pytest.approx(shrunk - m)
        assert not r["at_boundary"]
    for sid, m in (("a", 10), ("b", 12), ("c", 14)):
        r = t.loc[("close", sid)]
        assert r["tau2"] == 0.0 and r["at_boundary"] and r["weight"] == 0.0
        assert r["shrunk_mean"] == pytest.approx(12.0) and r["pulled_by"] == pytest.approx(12.0 - m)
    assert "moves up by 1.5 to 11.5 EUR" in t.loc[("wide", "a"), "finding"]
    assert "85% weight on its own 4 customers" in t.loc[("wide", "a"), "finding"]
    assert "fully pooled" in t.loc[("close", "a"), "finding"]


def test_totals_rows(study):
    t = shrink(study).set_index(["element_id", "subsegment"])
    # no price: net value = differential value = wide + close per customer
    net = {s: np.add(spread(m1), spread(m2)) for s, m1, m2 in (("a", 10, 10), ("b", 20, 12), ("c", 30, 14))}
    r = dersimonian_laird(np.array([x.mean() for x in net.values()]),
                          np.array([x.std(ddof=1) / 2 for x in net.values()]))
    for i, sid in enumerate(net):
        assert t.loc[("net_value", sid), "shrunk_mean"] == pytest.approx(r["shrunk"][i])
        assert t.loc[("differential_value", sid), "shrunk_mean"] == pytest.approx(r["shrunk"][i])


@pytest.mark.parametrize("means,se", [
    ([10.0, 25.0, 13.0], [2.0, 5.0, 3.0]),
    ([43207.5, 0.0, 51000.0, 20000.0], [5125.0, 9000.0, 3000.0, 7000.0]),
    ([1.0, 1.1], [0.5, 0.4]),  # close: boundary
])
@pytest.mark.filterwarnings("ignore:invalid value encountered in sqrt:RuntimeWarning")
def test_against_statsmodels_combine_effects(means, se):
    r = dersimonian_laird(np.array(means), np.array(se))
    sm = combine_effects(np.array(means), np.array(se) ** 2, method_re="dl")
    assert r["tau2"] == pytest.approx(max(0.0, sm.tau2), rel=1e-12, abs=1e-9)
    assert r["tau2_raw"] == pytest.approx(sm.tau2, rel=1e-9)
    assert r["at_boundary"] == (sm.tau2 <= 0)
    # statsmodels weighs by its untruncated tau^2; truncated at 0 the random-effects mean is the fixed-effect one
    mu = sm.mean_effect_re if sm.tau2 > 0 else sm.mean_effect_fe
    assert r["pooled_mean"] == pytest.approx(mu, rel=1e-9)
    w = r["tau2"] / (r["tau2"] + np.array(se) ** 2)
    assert r["shrunk"] == pytest.approx(w * np.array(means) + (1 - w) * mu)


def test_subsegments_left_out(tmp_path):
    vals = {"par_b": {"a": spread(10), "b": spread(50), "c": spread(30)},
            "flat": {"a": [5.0] * 4, "b": spread(20), "c": spread(30)},
            "one": {"a": [5.0, None, None, None], "b": spread(20), "c": [1.0, None, None, None]}}
    s = load_study(write_study(tmp_path / "s", vals, statuses={"par_b": {"status": "difference", "b": "parity"}}))
    t = shrink(s).set_index(["element_id", "subsegment"])
    assert ("par_b", "b") not in t.index  # a declared parity is not estimated
    r = dersimonian_laird(np.array([10.0, 30.0]), np.sqrt([15.0, 15.0]))
    assert t.loc[("par_b", "a"), "shrunk_mean"] == pytest.approx(r["shrunk"][0])
    assert t.loc[("flat", "a"), "note"] == "no spread (se = 0)" and np.isnan(t.loc[("flat", "a"), "shrunk_mean"])
    assert t.loc[("flat", "b"), "tau2"] == pytest.approx(dersimonian_laird(np.array([20.0, 30.0]),
                                                                           np.sqrt([15.0, 15.0]))["tau2"])
    assert t.loc[("one", "a"), "note"] == "fewer than 2 values"
    assert t.loc[("one", "b"), "note"] == "fewer than 2 subsegments to pool with"
    assert "not pooled" in t.loc[("one", "b"), "finding"]


def test_example_study(example_path):
    t = shrink(load_study(example_path))
    ok = t.dropna(subset=["shrunk_mean"])
    assert ok["weight"].between(0, 1).all()
    # each shrunk mean lies between its raw mean and the pooled mean
    lo = np.minimum(ok["mean"], ok["pooled_mean"]) - 1e-9
    hi = np.maximum(ok["mean"], ok["pooled_mean"]) + 1e-9
    assert ((ok["shrunk_mean"] >= lo) & (ok["shrunk_mean"] <= hi)).all()


def test_cli_shrink(tmp_path, study):
    out = tmp_path / "shrink.csv"
    assert main(["shrink", str(study.path), "-o", str(out)]) == 0
    got = pd.read_csv(out).set_index(["element_id", "subsegment"])
    assert got.loc[("wide", "c"), "shrunk_mean"] == pytest.approx(28.5)
