"""plot_value_distributions: seaborn strip + box plot of customers' values by subsegment (issue 11)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402

from cvm_kit.errors import CvmError  # noqa: E402
from cvm_kit.plotting.distributions import plot_value_distributions  # noqa: E402

# 3 customers in A, 2 in B; a2 has no value for e2 (missing, never drawn as 0)
VALUES = pd.DataFrame({
    "customer_id": ["a1", "a2", "a3", "b1", "b2"] * 2,
    "subsegment": ["A", "A", "A", "B", "B"] * 2,
    "element_id": ["e1"] * 5 + ["e2"] * 5,
    "value": [1.0, 2.0, 3.0, 10.0, 11.0, 5.0, np.nan, 7.0, 8.0, 9.0],
})


def _points(ax) -> dict[tuple[str, str], list[float]]:
    """(row label, subsegment) -> sorted x values of the points drawn, read off the Axes."""
    rows = {round(t): lab.get_text() for t, lab in zip(ax.get_yticks(), ax.get_yticklabels())}
    legend = ax.get_legend()
    colour = {to_hex(h.get_markerfacecolor()): t.get_text().split(" ")[0]
              for h, t in zip(legend.legend_handles, legend.get_texts())}
    out: dict[tuple[str, str], list[float]] = {}
    for coll in ax.collections:
        xy = np.asarray(coll.get_offsets())
        if not len(xy):
            continue
        sub = colour[to_hex(coll.get_facecolor()[0])]
        for x, y in xy:
            out.setdefault((rows[int(round(y))], sub), []).append(float(x))
    return {k: sorted(v) for k, v in out.items()}


def test_every_customer_value_is_one_point_in_its_row_and_colour():
    import matplotlib.pyplot as plt

    ax = plot_value_distributions(VALUES, names={"e1": "Element one", "e2": "Element two"})
    try:
        assert [t.get_text() for t in ax.get_yticklabels()] == ["Element one", "Element two (1 missing)"]
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["A (n=3)", "B (n=2)"]
        assert ax.get_legend().get_title().get_text() == "subsegment"
        assert _points(ax) == {
            ("Element one", "A"): [1.0, 2.0, 3.0], ("Element one", "B"): [10.0, 11.0],
            ("Element two (1 missing)", "A"): [5.0, 7.0], ("Element two (1 missing)", "B"): [8.0, 9.0],
        }
        assert sum(len(c.get_offsets()) for c in ax.collections) == 9  # 10 values, 1 missing
        assert len(ax.patches) == 4  # one box per element and subsegment
    finally:
        plt.close(ax.figure)


def test_order_elements_and_currency():
    import matplotlib.pyplot as plt

    ax = plot_value_distributions(VALUES, elements=["e2"], order=["B", "A"], box=False, currency="EUR/year")
    try:
        assert [t.get_text() for t in ax.get_yticklabels()] == ["e2 (1 missing)"]
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["B (n=2)", "A (n=2)"]
        assert ax.get_xlabel() == "value (EUR/year)"
        assert not ax.patches
        assert _points(ax) == {("e2 (1 missing)", "A"): [5.0, 7.0], ("e2 (1 missing)", "B"): [8.0, 9.0]}
    finally:
        plt.close(ax.figure)


def test_totals_table_draws_its_three_totals():
    import matplotlib.pyplot as plt

    totals = pd.DataFrame({"customer_id": ["a1", "a2", "b1"], "subsegment": ["A", "A", "B"],
                           "differential_value": [10.0, 20.0, 30.0], "contention_value": [0.0, 0.0, 0.0],
                           "price_difference": [1.0, 2.0, 3.0], "net_value": [9.0, 18.0, 27.0]})
    ax = plot_value_distributions(totals)
    try:
        assert [t.get_text() for t in ax.get_yticklabels()] == ["differential_value", "price_difference",
                                                                "net_value"]
        pts = _points(ax)
        assert pts[("net_value", "A")] == [9.0, 18.0] and pts[("net_value", "B")] == [27.0]
    finally:
        plt.close(ax.figure)


def test_seeded_jitter_leaves_the_global_random_state_alone():
    import matplotlib.pyplot as plt

    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    a = plot_value_distributions(VALUES, seed=7)
    b = plot_value_distributions(VALUES, seed=7)
    try:
        assert np.array_equal(np.random.get_state()[1], before)
        ya = np.concatenate([np.asarray(c.get_offsets())[:, 1] for c in a.collections if len(c.get_offsets())])
        yb = np.concatenate([np.asarray(c.get_offsets())[:, 1] for c in b.collections if len(c.get_offsets())])
        assert np.array_equal(ya, yb)
    finally:
        plt.close(a.figure)
        plt.close(b.figure)


def test_bad_tables_are_named():
    with pytest.raises(CvmError, match="no element 'nope'.*known: e1, e2"):
        plot_value_distributions(VALUES, elements=["nope"])
    with pytest.raises(CvmError, match="expected element values"):
        plot_value_distributions(pd.DataFrame({"x": [1.0]}))
    with pytest.raises(CvmError, match="nothing to plot"):
        plot_value_distributions(VALUES.assign(value=np.nan))


def test_available_from_the_plotting_package_and_on_a_real_study():
    import matplotlib.pyplot as plt

    import cvm_kit as cvm
    from cvm_kit import plotting

    assert plotting.plot_value_distributions is plot_value_distributions
    study = cvm.load_study(cvm.example_path())
    values = cvm.element_values(study)
    ax = plot_value_distributions(values, order=study.subsegment_ids)
    try:
        assert sum(len(c.get_offsets()) for c in ax.collections) == int(values["value"].notna().sum())
    finally:
        plt.close(ax.figure)
