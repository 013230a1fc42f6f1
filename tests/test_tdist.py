"""The closed-form t quantile agrees with scipy.stats.t."""

import math

import pytest
from scipy import stats

from cvm_kit._tdist import t_cdf, t_ppf, t_quantile


@pytest.mark.parametrize("df", [1, 2, 3, 4, 5, 6, 7, 12, 13, 29, 30, 100, 101, 999, 4999])
@pytest.mark.parametrize("p", [0.025, 0.1, 0.5, 0.9, 0.975, 0.995])
def test_ppf_matches_scipy(df, p):
    assert t_ppf(p, df) == pytest.approx(stats.t.ppf(p, df), rel=1e-10, abs=1e-12)


@pytest.mark.parametrize("df", [1, 2, 5, 40])
@pytest.mark.parametrize("t", [-3.0, -0.5, 0.0, 1.7, 12.0])
def test_cdf_matches_scipy(df, t):
    assert t_cdf(t, df) == pytest.approx(stats.t.cdf(t, df), rel=1e-12, abs=1e-14)


def test_vectorised_and_bad_input():
    out = t_quantile(0.975, [2, 5, 2])
    assert out[0] == out[2] == pytest.approx(4.302652729911275)
    assert math.isclose(t_quantile(0.975, 5), stats.t.ppf(0.975, 5), rel_tol=1e-10)
    with pytest.raises(ValueError):
        t_ppf(1.5, 3)
    with pytest.raises(ValueError):
        t_cdf(1.0, 0)
