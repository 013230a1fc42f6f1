"""The t quantile agrees with scipy.stats.t, at small and very large degrees of freedom."""

import math

import numpy as np
import pytest
from scipy import stats

from cvm_kit._tdist import t_quantile


@pytest.mark.parametrize("df", [1, 2, 3, 5, 7, 12, 29, 100, 4999, 1_000_000])
@pytest.mark.parametrize("p", [0.025, 0.1, 0.5, 0.9, 0.975, 0.995])
def test_quantile_matches_scipy(df, p):
    assert t_quantile(p, df) == pytest.approx(stats.t.ppf(p, df), rel=1e-10, abs=1e-12)


def test_vectorised_and_bad_input():
    out = t_quantile(0.975, [2, 5, 2])
    assert out[0] == out[2] == pytest.approx(4.302652729911275)
    assert math.isclose(t_quantile(0.975, 5), stats.t.ppf(0.975, 5), rel_tol=1e-10)
    big = t_quantile(0.975, np.arange(1, 1_000_001))  # one million distinct df in one call
    assert big[-1] == pytest.approx(stats.t.ppf(0.975, 1_000_000))
    with pytest.raises(ValueError):
        t_quantile(1.5, 3)
    with pytest.raises(ValueError):
        t_quantile(0.5, 0)
