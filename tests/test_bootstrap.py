"""Issue 15 item 3: BCa bootstrap intervals beside the t intervals (`cvm summary --bootstrap`).

Each interval is compared with scipy.stats.bootstrap called directly with the
same data, seed and resamples; the fallback to percentile with a BCa forced
to degenerate; no interval with fewer than 3 values or all values equal.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from inference_studies import write_study
from scipy import stats

from cvm_kit import estimates
from cvm_kit.cli import main
from cvm_kit.estimates import (
    BOOT_BCA,
    BOOT_EQUAL,
    BOOT_FEW,
    BOOT_PERCENTILE,
    SUMMARY_COLUMNS,
    bootstrap_interval,
    summarize,
)
from cvm_kit.study import load_study

A = [100.0, 120.0, 80.0, 110.0, 90.0, 400.0]  # skewed: BCa and t differ
B = [40.0, 60.0, 55.0]
FEW = [5.0, 7.0, None]


def scipy_ci(x, method="BCa", n_resamples=9999, seed=0, confidence=0.95):
    r = stats.bootstrap((np.asarray(x, float),), np.mean, method=method, n_resamples=n_resamples,
                        confidence_level=confidence, rng=np.random.default_rng(seed))
    return float(r.confidence_interval.low), float(r.confidence_interval.high)


@pytest.mark.parametrize("x,seed,confidence", [(A, 0, 0.95), (A, 3, 0.9), (B, 1, 0.95),
                                               ([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0], 0, 0.95)])
def test_bca_equals_scipy(x, seed, confidence):
    lo, hi, method = bootstrap_interval(np.array(x), seed=seed, confidence=confidence, n_resamples=2000)
    assert method == BOOT_BCA
    assert (lo, hi) == pytest.approx(scipy_ci(x, seed=seed, confidence=confidence, n_resamples=2000), rel=1e-12)


def test_no_interval_for_few_or_equal_values():
    assert bootstrap_interval(np.array([1.0, 2.0, np.nan]))[2] == BOOT_FEW
    lo, hi, m = bootstrap_interval(np.array([3.0, 3.0, 3.0, 3.0]))
    assert np.isnan(lo) and np.isnan(hi) and m == BOOT_EQUAL


def test_percentile_fallback_when_bca_degenerates(monkeypatch):
    real = stats.bootstrap

    def bca_nan(data, statistic, **kw):
        res = real(data, statistic, **kw)
        if kw.get("method") == "BCa":  # as scipy returns it when BCa cannot be computed
            object.__setattr__(res, "confidence_interval", type(res.confidence_interval)(np.nan, np.nan))
        return res

    monkeypatch.setattr(stats, "bootstrap", bca_nan)
    lo, hi, method = bootstrap_interval(np.array(A), seed=4, n_resamples=3000)
    monkeypatch.setattr(stats, "bootstrap", real)
    assert method == BOOT_PERCENTILE == "percentile (BCa degenerate)"
    # the percentile interval of the same seeded bootstrap distribution
    assert (lo, hi) == pytest.approx(scipy_ci(A, method="percentile", seed=4, n_resamples=3000), rel=1e-12)


@pytest.fixture
def study(tmp_path):
    return load_study(write_study(tmp_path / "s", {"e1": {"a": A, "b": B + [None] * 3},
                                                   "e2": {"a": [1.0] * 6, "b": FEW + [None] * 3}}))


def test_summary_with_bootstrap(study):
    plain = summarize(study)
    s = summarize(study, bootstrap=True, n_resamples=1500, seed=2)
    cols = SUMMARY_COLUMNS[:SUMMARY_COLUMNS.index("ci_high") + 1] + ["boot_low", "boot_high", "boot_method"] + \
        SUMMARY_COLUMNS[SUMMARY_COLUMNS.index("ci_high") + 1:]
    assert list(s.columns) == cols
    pd.testing.assert_frame_equal(s[SUMMARY_COLUMNS], plain)  # the t columns are untouched
    assert list(plain.columns) == SUMMARY_COLUMNS  # default path: no bootstrap columns
    t = s.set_index(["element_id", "subsegment"])
    for key, x in {("e1", "a"): A, ("e1", "b"): B, ("e1", "all"): A + B}.items():
        assert t.loc[key, "boot_method"] == BOOT_BCA
        assert (t.loc[key, "boot_low"], t.loc[key, "boot_high"]) == pytest.approx(
            scipy_ci(x, seed=2, n_resamples=1500), rel=1e-12)
    assert t.loc[("e2", "a"), "boot_method"] == BOOT_EQUAL
    assert t.loc[("e2", "b"), "boot_method"] == BOOT_FEW and np.isnan(t.loc[("e2", "b"), "boot_low"])
    # BCa leans with the skew the t interval ignores: its upper limit is the higher
    assert t.loc[("e1", "a"), "boot_high"] - t.loc[("e1", "a"), "mean"] > \
        t.loc[("e1", "a"), "mean"] - t.loc[("e1", "a"), "boot_low"]


def test_large_groups_resample_in_batches():
    x = np.random.default_rng(0).lognormal(size=3000)
    lo, hi, m = bootstrap_interval(x, n_resamples=2000, seed=0)
    r = stats.bootstrap((x,), np.mean, method="BCa", n_resamples=2000, rng=np.random.default_rng(0),
                        batch=5_000_000 // 3000)
    assert m == BOOT_BCA and (lo, hi) == pytest.approx(tuple(r.confidence_interval), rel=1e-12)


def test_cli_summary_bootstrap(tmp_path, study):
    out = tmp_path / "s.csv"
    assert main(["summary", str(study.path), "--bootstrap", "--resamples", "1500", "--seed", "2",
                 "-o", str(out)]) == 0
    got = pd.read_csv(out).set_index(["element_id", "subsegment"])
    assert (got.loc[("e1", "a"), "boot_low"], got.loc[("e1", "a"), "boot_high"]) == pytest.approx(
        scipy_ci(A, seed=2, n_resamples=1500), rel=1e-9)
    assert got.loc[("e2", "a"), "boot_method"] == "none (all values equal)"
    assert main(["summary", str(study.path), "-o", str(out)]) == 0
    assert "boot_low" not in pd.read_csv(out).columns


def test_summarize_default_does_not_import_scipy_stats():
    import subprocess
    import sys

    code = ("import sys, cvm_kit as cvm; cvm.summarize(cvm.load_study(cvm.example_path())); "
            "print('scipy.stats' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.strip().splitlines()[-1] == "False"
    assert estimates.summarize.__kwdefaults__["bootstrap"] is False
