"""Sobol global sensitivity (issue 15.5) checked against known answers and against SALib run directly.

A value equation linear in independent inputs has analytic indices:
S1_i = ST_i = a_i^2 Var(x_i) / sum_j a_j^2 Var(x_j), with Var the variance of
the input's empirical distribution (each customer's value equally likely,
population variance). A product x1 * x2 of independent inputs has
S1_1 = m2^2 v1 / V and ST_1 = (m2^2 v1 + v1 v2) / V with
V = m1^2 v2 + m2^2 v1 + v1 v2 (+ the other terms' variance).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cvm_kit.cli import main
from cvm_kit.errors import AnalysisError, CvmError
from cvm_kit.sensitivity import SOBOL_COLUMNS, empirical_ppf, sobol_indices
from cvm_kit.study import load_study

X1 = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
X2 = [10.0, 10.0, 20.0, 20.0, 30.0, 60.0]
X3 = [0.0, 0.0, 0.0, 0.0, 0.0, 100.0]
P = [5.0, 1.0, 3.0, 2.0, 4.0, 6.0]
# a second subsegment with other values: indices are per subsegment
Y1 = [2.0, 4.0, 4.0, 4.0]
Y2 = [10.0, 10.0, 10.0, 10.0]  # no spread: held fixed
Y3 = [1.0, 3.0, 5.0, 7.0]
Q = [1.0, 1.0, 2.0, 2.0]


def _write_study(folder: Path, elements: str, price: str = "[P]", constants: str = "",
                 extra_rows: list[tuple[str, str, float]] = ()) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "project.yaml").write_text(f"""name: Sobol test study
offering: Offering X
segment: Test segment
next_best_alternative: Alternative Y
currency: EUR
period: year
subsegments:
  - id: s
    description: six customers
  - id: t
    description: four customers
{constants}price:
  equation: "{price}"
elements:
{elements}""")
    ids_s = [f"S{i}" for i in range(1, 7)]
    ids_t = [f"T{i}" for i in range(1, 5)]
    pd.DataFrame({"customer_id": ids_s + ids_t, "subsegment": ["s"] * 6 + ["t"] * 4,
                  "size": range(10)}).to_csv(folder / "customers.csv", index=False)
    rows = []
    for ids, cols in ((ids_s, {"X1": X1, "X2": X2, "X3": X3, "P": P}),
                      (ids_t, {"X1": Y1, "X2": Y2, "X3": Y3, "P": Q})):
        for var, vals in cols.items():
            rows += [(c, var, v) for c, v in zip(ids, vals)]
    rows += list(extra_rows)
    pd.DataFrame([(c, v, x, "data", "high", "") for c, v, x in rows],
                 columns=["customer_id", "variable", "value", "source", "reliability", "note"]
                 ).to_csv(folder / "measurements.csv", index=False)
    return folder


LINEAR = """  - id: e1
    name: One
    category: economic
    status: difference
    equation: "[X1] * 2"
  - id: e2
    name: Two
    category: economic
    status: difference
    equation: "3 * [X2]"
  - id: e3
    name: Three
    category: economic
    status: contention
    equation: "[X3]"
"""

PRODUCT = """  - id: e1
    name: Product
    category: economic
    status: difference
    equation: "[X1] * [X2]"
  - id: e3
    name: Three
    category: economic
    status: difference
    equation: "[X3]"
"""


@pytest.fixture(scope="module")
def linear(tmp_path_factory):
    return load_study(_write_study(tmp_path_factory.mktemp("lin") / "lin", LINEAR))


@pytest.fixture(scope="module")
def product(tmp_path_factory):
    return load_study(_write_study(tmp_path_factory.mktemp("prod") / "prod", PRODUCT))


def _v(x) -> float:
    return float(np.var(np.asarray(x, float)))  # the empirical distribution's (population) variance


def test_linear_net_value_has_analytic_indices(linear):
    out = sobol_indices(linear, of="net", samples=4096, seed=0)
    assert list(out.columns) == SOBOL_COLUMNS
    s = out[out["subsegment"] == "s"].set_index("factor")
    parts = {"X1": 4 * _v(X1), "X2": 9 * _v(X2), "X3": _v(X3), "P": _v(P)}  # price enters net value with -1
    total = sum(parts.values())
    assert set(s.index) == set(parts)
    for f, part in parts.items():
        assert s.at[f, "S1"] == pytest.approx(part / total, abs=0.02), f
        assert s.at[f, "ST"] == pytest.approx(part / total, abs=0.02), f
        assert 0 < s.at[f, "S1_conf"] < 0.1 and 0 < s.at[f, "ST_conf"] < 0.1
    assert (s["of"] == "net").all()
    assert list(s["ST"]) == sorted(s["ST"], reverse=True)  # widest first
    # by hand: Var X1 = Var P = 35/12, Var X2 = 1750/6, Var X3 = 12500/9; X2 carries 2625 / 4028.47 = 65%
    assert s.at["X2", "S1"] == pytest.approx(2625 / (4 * 35 / 12 + 2625 + 12500 / 9 + 35 / 12), abs=0.02)
    assert 2625 / (4 * 35 / 12 + 2625 + 12500 / 9 + 35 / 12) == pytest.approx(0.6516, abs=1e-4)


def test_linear_subsegment_t_holds_a_shared_input_fixed(linear):
    out = sobol_indices(linear, of="differential", subsegment="t", samples=4096, seed=1)
    t = out.set_index("factor")
    assert set(out["subsegment"]) == {"t"} and set(out["of"]) == {"differential"}
    assert "X2" not in t.index and "P" not in t.index  # X2 has no spread in t; price not in differential value
    parts = {"X1": 4 * _v(Y1), "X3": _v(Y3)}
    total = sum(parts.values())
    for f, part in parts.items():
        assert t.at[f, "S1"] == pytest.approx(part / total, abs=0.02)
        assert t.at[f, "ST"] == pytest.approx(part / total, abs=0.02)
    assert any("[X2]" in n and n.startswith("t:") for n in out.attrs["notes"])
    assert "independently" in out.attrs["assumption"]


def test_product_has_interaction(product):
    s = sobol_indices(product, of="differential", subsegment="s", samples=4096, seed=2).set_index("factor")
    m1, m2 = np.mean(X1), np.mean(X2)
    v1, v2, v3 = _v(X1), _v(X2), _v(X3)
    var = m1 ** 2 * v2 + m2 ** 2 * v1 + v1 * v2 + v3
    assert s.at["X1", "S1"] == pytest.approx(m2 ** 2 * v1 / var, abs=0.02)
    assert s.at["X1", "ST"] == pytest.approx((m2 ** 2 * v1 + v1 * v2) / var, abs=0.02)
    assert s.at["X2", "S1"] == pytest.approx(m1 ** 2 * v2 / var, abs=0.02)
    assert s.at["X2", "ST"] == pytest.approx((m1 ** 2 * v2 + v1 * v2) / var, abs=0.02)
    assert s.at["X3", "S1"] == pytest.approx(v3 / var, abs=0.02)
    assert s.at["X2", "ST"] - s.at["X2", "S1"] == pytest.approx(v1 * v2 / var, abs=0.02)


def test_equals_salib_run_directly(product):
    """The shortcut (re-evaluating only the parts an input moves, a vectorised bootstrap) is SALib's answer."""
    from SALib.analyze import sobol as salib_analyze
    from SALib.sample import sobol as salib_sample

    from cvm_kit.values import evaluate

    n, seed = 512, 5
    names = ["X1", "X2", "X3", "P"]  # the order the study's equations name them (elements, then price)
    observed = {"X1": X1, "X2": X2, "X3": X3, "P": P}
    problem = {"num_vars": 4, "names": names, "bounds": [[0.0, 1.0]] * 4}
    u = salib_sample.sample(problem, n, calc_second_order=False, seed=seed)
    inputs = pd.DataFrame({f: empirical_ppf(u[:, j], np.sort(observed[f])) for j, f in enumerate(names)})
    y = evaluate(product, inputs, subsegment="s")["net_value"].to_numpy()
    ref = salib_analyze.analyze(problem, y, calc_second_order=False, num_resamples=100, conf_level=0.95,
                                seed=seed + 1)
    got = sobol_indices(product, of="net", subsegment="s", samples=n, seed=seed).set_index("factor")
    for j, f in enumerate(names):
        for k in ("S1", "S1_conf", "ST", "ST_conf"):
            assert got.at[f, k] == pytest.approx(ref[k][j], rel=1e-9, abs=1e-12), (f, k)


def test_empirical_ppf_gives_each_customer_equal_weight():
    x = np.array([1.0, 3.0, 7.0])
    u = (np.arange(3000) + 0.5) / 3000
    v = empirical_ppf(u, x)
    assert {k: int(c) for k, c in zip(*np.unique(v, return_counts=True))} == {1.0: 1000, 3.0: 1000, 7.0: 1000}
    assert empirical_ppf(np.array([0.0, 0.9999999]), x).tolist() == [1.0, 7.0]


def test_seeded(linear):
    a = sobol_indices(linear, samples=256, seed=3)
    b = sobol_indices(linear, samples=256, seed=3)
    c = sobol_indices(linear, samples=256, seed=4)
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["S1_conf"], c["S1_conf"])


def test_bad_arguments_and_undefined_values(linear, tmp_path):
    with pytest.raises(CvmError, match="power of 2"):
        sobol_indices(linear, samples=1000)
    with pytest.raises(CvmError, match="of must be"):
        sobol_indices(linear, of="gross")
    with pytest.raises(CvmError, match="no subsegment 'u'"):
        sobol_indices(linear, subsegment="u")
    # a division by zero for some combinations of observed inputs: located, not silently 0
    div = _write_study(tmp_path / "div", LINEAR.replace('"[X3]"', '"100 / [X3]"').replace("contention",
                                                                                        "difference"))
    st = load_study(div)
    with pytest.raises(AnalysisError, match="division by zero|no finite result"):
        sobol_indices(st, subsegment="s", samples=64)


def test_cli_tornado_sobol(linear, tmp_path, capsys):
    path = linear.path
    out = tmp_path / "sobol.csv"
    assert main(["tornado", str(path), "--method", "sobol", "--of", "differential", "--seed", "7",
                 "--samples", "1024", "-o", str(out)]) == 0
    got = pd.read_csv(out)
    assert list(got.columns) == SOBOL_COLUMNS
    ref = sobol_indices(linear, of="differential", samples=1024, seed=7)
    pd.testing.assert_frame_equal(got, ref.reset_index(drop=True), check_dtype=False)
    err = capsys.readouterr().err
    assert "Sobol" in err and "t: held at" in err
    assert main(["tornado", str(path), "--method", "sobol", "--samples", "1000"]) == 1
    assert "power of 2" in capsys.readouterr().err
    # default method: the tornado, with its base case on stderr
    assert main(["tornado", str(path), "--by", "element"]) == 0
    cap = capsys.readouterr()
    assert "base case: every factor at its mean" in cap.err
    assert "swing" in pd.read_csv(io.StringIO(cap.out)).columns


def test_plot_sobol_bars(linear):
    from cvm_kit.plotting.sensitivity import plot_sobol

    s = sobol_indices(linear, subsegment="s", samples=512, seed=0)
    ax = plot_sobol(s)
    n = len(s)
    first, total = ax.patches[:n], ax.patches[n:2 * n]
    assert [p.get_width() for p in first] == pytest.approx(list(s["S1"]))
    assert [p.get_width() for p in total] == pytest.approx(list(s["ST"]))
    ys = [p.get_y() for p in total]
    assert ys == sorted(ys, reverse=True)  # largest total-order index on top
    ticks = sorted(zip(ax.get_yticks(), [t.get_text() for t in ax.get_yticklabels()]), reverse=True)
    assert [t for _, t in ticks] == list(s["factor"])


def test_a_failing_subsegment_is_skipped_with_a_note(tmp_path):
    # X3 is 0 for five of s's customers: 100 / [X3] has no value there; t (X3 = 1, 3, 5, 7) is fine
    div = _write_study(tmp_path / "div2", LINEAR.replace('"[X3]"', '"100 / [X3]"'))
    out = sobol_indices(load_study(div), of="differential", samples=256)
    assert set(out["subsegment"]) == {"t"}
    assert any(n.startswith("s: not computed") for n in out.attrs["notes"])
