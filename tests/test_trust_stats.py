"""Issue 10 items 5, 6, 7 (and 15.7): figures worked out by hand on small studies whose truth is set here.

10.5 tornado: a constant that one customer overrides. Twelve customers; [Margin] is a constant 100 that
C12 overrides with 160; [Hours] is 10 for C01..C11 and 20 for C12; downtime = [Hours] * [Margin];
price difference = [Fee] = 50 for everyone.
- resolved Margin: 11 x 100 and 160 -> mean 105; p10 and p90 are both 100 (collapsed) -> min-max 100..160
- Hours: mean 130 / 12 = 10.8333; p10 = p90 = 10 (collapsed) -> min-max 10..20
- base case (every input at its mean): 10.8333 x 105 = 1137.5 differential, 1087.5 net
- Margin: low 10.8333 x 100 = 1083.33, high 10.8333 x 160 = 1733.33 (swing 650) differential
- Hours: low 10 x 105 = 1050, high 20 x 105 = 2100 (swing 1050)
- the customers' mean differential value: (11 x 1000 + 20 x 160) / 12 = 1183.33 (not the base case)
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cvm_kit.study import load_study

IDS = [f"C{i:02d}" for i in range(1, 13)]


def _tornado_study(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "project.yaml").write_text("""name: Override study
offering: Offering X
segment: Test segment
next_best_alternative: Alternative Y
currency: EUR
period: year
subsegments:
  - id: s
    description: twelve plants
constants:
  - name: Margin
    value: 100
    source: P&L review
price:
  equation: "[Fee]"
elements:
  - id: downtime
    name: Less downtime
    category: economic
    status: difference
    equation: "[Hours] * [Margin]"
""")
    pd.DataFrame({"customer_id": IDS, "subsegment": "s", "size": range(12)}).to_csv(folder / "customers.csv",
                                                                                   index=False)
    rows = [(c, "Hours", 20.0 if c == "C12" else 10.0) for c in IDS] + [(c, "Fee", 50.0) for c in IDS]
    rows.append(("C12", "Margin", 160.0))  # the customer's own figure overrides the constant
    pd.DataFrame([(c, v, x, "data", "high", "") for c, v, x in rows],
                 columns=["customer_id", "variable", "value", "source", "reliability", "note"]
                 ).to_csv(folder / "measurements.csv", index=False)
    return folder


@pytest.fixture(scope="module")
def override(tmp_path_factory):
    return load_study(_tornado_study(tmp_path_factory.mktemp("ovr") / "ovr"))


def test_overridden_constant_gets_its_swing_from_the_customers(override):
    from cvm_kit.sensitivity import tornado

    hours = 130 / 12
    t = tornado(override, by="variable", range="p10-p90", of="differential", subsegment="s").set_index("factor")
    m = t.loc["Margin"]
    assert (m["low_input"], m["base_input"], m["high_input"]) == pytest.approx((100, 105, 160))
    assert (m["low_value"], m["base_value"], m["high_value"]) == pytest.approx((hours * 100, hours * 105,
                                                                                hours * 160))
    assert m["swing"] == pytest.approx(650.0)  # was 0 (low = high) before
    assert m["kind"] == "constant" and "min-max" in m["range_rule"] and "11 of 12" in m["range_rule"]
    h = t.loc["Hours"]
    assert (h["low_value"], h["high_value"], h["swing"]) == pytest.approx((1050, 2100, 1050))
    assert list(t.index) == ["Hours", "Margin"]  # widest first
    # the base case is said, with the customers' mean beside it (they differ: the equation is a product)
    assert t["base_value"].tolist() == pytest.approx([1137.5, 1137.5])
    assert t["mean_value"].tolist() == pytest.approx([14200 / 12] * 2)
    text = t["base_case"].iloc[0]
    assert "every factor at its mean" in text and "value 1,138" in text and "mean differential value is 1,183" in text
    net = tornado(override, by="variable", range="p10-p90", of="net").set_index("factor")
    assert net.loc["Margin", "swing"] == pytest.approx(650.0)
    assert net.loc["Margin", "base_value"] == pytest.approx(1087.5)
    assert net["mean_value"].iloc[0] == pytest.approx(14200 / 12 - 50)


def test_other_ranges_and_no_mean_line_when_equal(override):
    from cvm_kit.sensitivity import tornado

    sd = tornado(override, by="variable", range="sd", of="differential").set_index("factor")
    x = np.array([100.0] * 11 + [160.0])
    assert (sd.loc["Margin", "low_input"], sd.loc["Margin", "high_input"]) == pytest.approx(
        (105 - x.std(ddof=1), 105 + x.std(ddof=1)))
    assert "p10-p90 collapses" not in sd.loc["Margin", "range_rule"]
    # by element the base case is the element means less the mean price: equal to the customers' mean here
    el = tornado(override, by="element", range="minmax")
    assert el["base_value"].iloc[0] == pytest.approx(14200 / 12 - 50)
    assert el["mean_value"].iloc[0] == pytest.approx(14200 / 12 - 50)
    assert "customers' mean" not in el["base_case"].iloc[0]


def test_plot_states_the_base_case_and_the_mean(override):
    from cvm_kit.plotting.sensitivity import plot_tornado
    from cvm_kit.sensitivity import tornado

    t = tornado(override, by="variable", of="differential")
    ax = plot_tornado(t)
    label = ax.get_xlabel()
    assert "base case (every factor at its mean): 1,138" in label and "customers' mean: 1,183" in label
    xs = sorted(float(line.get_xdata()[0]) for line in ax.lines)
    assert xs == pytest.approx([1137.5, 14200 / 12])
    legend = [tx.get_text() for tx in ax.get_legend().get_texts()]
    assert any(s.startswith("customers' mean differential value") for s in legend)
    el = plot_tornado(tornado(override, by="element"))
    assert len(el.lines) == 1 and "customers' mean" not in el.get_xlabel()  # equal: no second line


# ---------------------------------------------------------------------------
# 10.6 / 15.7 value documenter: realized against the promise made to each customer, and the documented rate

TINY = Path(__file__).resolve().parent / "data" / "tiny"
RANGE_HEADER = ("customer_id,element_id,period_start,period_end,promised,realized,source,note,promised_low,"
                "promised_high\n")
RANGE_ROWS = (
    "A1,downtime,2026-01-01,2026-06-30,600,450,data,,500,700\n"   # below its range
    "A2,downtime,2026-01-01,2026-06-30,300,320,data,,250,350\n"   # inside
    "A3,downtime,2026-01-01,2026-06-30,1000,1200,data,,800,1100\n"  # above
    "A1,energy,2026-01-01,2026-06-30,40,50,data,,,\n"             # point promise met
    "A2,energy,2026-01-01,2026-06-30,30,20,data,,,\n"             # point promise missed
    "B1,downtime,2026-01-01,2026-06-30,100,90,data,,80,\n"        # open-ended range: at least 80
    "A3,energy,2026-01-01,2026-06-30,,60,data,,,70\n"             # at most 70, nothing else promised
)
Z95 = 1.959963984540054


def _wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval worked out from its formula (not through statsmodels)."""
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def _realized_study(tmp_path: Path, body: str, header: str = RANGE_HEADER) -> Path:
    import shutil

    d = tmp_path / "tiny"
    shutil.copytree(TINY, d)
    (d / "realized.csv").write_text(header + body)
    return d


def test_realized_against_the_promised_range(tmp_path):
    from cvm_kit.documenter import document_value

    d = document_value(load_study(_realized_study(tmp_path, RANGE_ROWS)))
    assert d["vs_promise"].tolist() == ["below", "inside", "above", "met", "below", "inside", "inside"]
    assert d["meets_promise"].tolist() == [False, True, True, True, False, True, True]
    assert d["promised_low"].tolist()[:3] == [500, 250, 800] and np.isnan(d["promised_high"].iloc[5])
    # the subsegment estimate is still there, but the verdict is against the customer's own promise:
    # A2's downtime (320) is far below the big subsegment's mean for half a year (330 would be "below")
    assert d.loc[1, "estimate_for_period"] == pytest.approx(330) and d.loc[1, "vs_promise"] == "inside"


def test_documented_rate_with_wilson_interval(tmp_path):
    from statsmodels.stats.proportion import proportion_confint

    from cvm_kit.documenter import documented_rate

    study = load_study(_realized_study(tmp_path, RANGE_ROWS))
    rows = documented_rate(study, by="row").set_index("element_id")
    assert (rows.at["all", "n"], rows.at["all", "met"]) == (7, 5)
    assert rows.at["all", "rate"] == pytest.approx(5 / 7)
    assert (rows.at["all", "ci_low"], rows.at["all", "ci_high"]) == pytest.approx(_wilson(5, 7))
    cust = documented_rate(study).set_index("element_id")  # by customer (default)
    assert list(cust.index) == ["downtime", "energy", "all"]
    # downtime: A1 450 < 500 misses; A2, A3, B1 meet -> 3 of 4; energy: A1 meets, A2 misses, A3 (at most 70) meets
    assert (cust.at["downtime", "n"], cust.at["downtime", "met"]) == (4, 3)
    assert (cust.at["energy", "n"], cust.at["energy", "met"]) == (3, 2)
    # all elements: A1 (downtime missed) and A2 (energy missed) fail; A3 and B1 meet every promise -> 2 of 4
    assert (cust.at["all", "n"], cust.at["all", "met"]) == (4, 2)
    for eid, k, n in (("downtime", 3, 4), ("energy", 2, 3), ("all", 2, 4)):
        assert (cust.at[eid, "ci_low"], cust.at[eid, "ci_high"]) == pytest.approx(_wilson(k, n))
    assert _wilson(2, 4) == pytest.approx(proportion_confint(2, 4, method="wilson"))  # the formula is Wilson's
    ninety = documented_rate(study, confidence=0.9).set_index("element_id")
    assert (ninety.at["all", "ci_low"], ninety.at["all", "ci_high"]) == pytest.approx(_wilson(2, 4, 1.6448536269514722))


def test_documented_rate_on_the_tiny_study_by_hand():
    from cvm_kit.documenter import documented_rate

    r = documented_rate(load_study(TINY)).set_index("element_id")
    # A1 downtime 450 < 600, A2 300 >= 300 -> 1 of 2; energy A1 50 >= 40; all: A1 misses downtime -> 1 of 2
    assert (r.at["downtime", "met"], r.at["downtime", "n"], r.at["all", "met"], r.at["all", "n"]) == (1, 2, 1, 2)
    assert (r.at["all", "ci_low"], r.at["all", "ci_high"]) == pytest.approx(_wilson(1, 2))


@pytest.mark.parametrize("body, where, what", [
    ("A1,downtime,2026-01-01,2026-06-30,600,450,data,,abc,700\n", "line 2, column promised_low", "'abc'"),
    ("A1,downtime,2026-01-01,2026-06-30,600,450,data,,500,700\nA2,downtime,,,300,320,data,,400,350\n",
     "line 3, columns promised_low, promised_high", "above the high end"),
])
def test_bad_promised_range_is_a_located_error(tmp_path, capsys, body, where, what):
    from cvm_kit.cli import main
    from cvm_kit.documenter import document_value
    from cvm_kit.errors import CvmError

    path = _realized_study(tmp_path, body)
    with pytest.raises(CvmError) as err:
        document_value(load_study(path))
    assert "realized.csv" in str(err.value) and where in str(err.value) and what in str(err.value)
    assert main(["document", str(path), "--out", str(tmp_path / "o")]) == 1
    msg = capsys.readouterr().err
    assert where in msg and "Traceback" not in msg
    assert not (tmp_path / "o").exists() or not list((tmp_path / "o").iterdir())


def test_cli_document_writes_the_rate(tmp_path):
    from cvm_kit.cli import main

    path = _realized_study(tmp_path, RANGE_ROWS)
    assert main(["document", str(path), "--out", str(tmp_path / "o")]) == 0
    r = pd.read_csv(tmp_path / "o" / "documented_rate.csv").set_index("element_id")
    assert r.at["downtime", "rate"] == pytest.approx(0.75)
    d = pd.read_csv(tmp_path / "o" / "value_documenter.csv")
    assert d["vs_promise"].tolist()[:3] == ["below", "inside", "above"]


def test_plot_shows_the_promised_range(tmp_path):
    from cvm_kit.documenter import value_case_history
    from cvm_kit.plotting.documenter import plot_value_case_history

    h = value_case_history(load_study(_realized_study(tmp_path, RANGE_ROWS)), "A3")
    ax = plot_value_case_history(h)
    segs = ax.collections[0].get_segments()
    # A3: downtime range 800..1100; energy only "at most 70" (the low end stops at the promise: none -> 70..70)
    spans = sorted((float(s[0][1]), float(s[1][1])) for s in segs)
    assert spans[-1] == pytest.approx((800, 1100))
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert "above promise" in labels[0] and "inside promise" in labels[1]


# ---------------------------------------------------------------------------
# 10.7 business case: the supplier's contribution is its own input, never the customer's price difference
# Tiny 'big' customers: price differences 100, 30, 200 (mean 110); net values 1090, 500, 1630.


def _bc(study, **kw):
    from cvm_kit.business_case import business_case

    args = dict(target_subsegment="big", market_customers={"big": 100}, adoption_share=0.2, price_change=0.0,
                change_costs={"Training": 1000.0}, draws=2000, seed=0)
    args.update(kw)
    return business_case(study, **args)


def test_cheaper_offering_is_not_a_certain_loss():
    study = load_study(TINY)
    # a price cut of 300 makes the offering cost the customer 190 less than the alternative a year ...
    case = _bc(study, price_change=-300.0, contribution_per_customer=400.0)
    assert case.value("price_difference_new") == pytest.approx(110 - 300)
    # ... yet the supplier still earns its own margin: 20 adopters x (400 - 300) - 1000 = 1000
    assert case.value("contribution_per_adopter") == pytest.approx(100)
    assert case.value("incremental_profit") == pytest.approx(1000)
    assert case.value("break_even_customers") == pytest.approx(10)
    assert case.p_profit_positive == 1.0
    assert "profitability" not in set(case.concerns["kind"])
    # the old definition (price difference as profit) would have said 20 x (-190) - 1000 = -4,800


def test_defaults_give_a_clean_report_with_one_break_even():
    study = load_study(TINY)
    case = _bc(study)  # no contribution given: documented default
    assert math.isnan(case.value("incremental_profit")) and math.isnan(case.value("break_even_customers"))
    md = case.to_markdown()
    assert md.count("Break-even") == 1
    assert "each of the 20.0 expected adopting customers must contribute at least 50.00 EUR per year" in md
    assert "not computed" in md
    assert "profitability" not in set(case.concerns["kind"])
    # no "range from X to X": the price change has no range, and the supplier's table has no range columns
    h = case.to_html()
    assert "<td>Price change per customer</td><td>0.00</td><td></td><td></td>" in h
    assert "<th>5%</th>" in h.split("<h3>Profitability impact</h3>")[1].split("<h3>")[1]  # incentive table only
    prof = h.split("<h3>Profitability impact</h3>")[1].split("<h3>")[0]
    assert "<th>5%</th>" not in prof and "Adopting customers needed to break even" not in prof
    given = _bc(study, contribution_per_customer=150.0).to_markdown()
    # 1000 / 150 = 6.67 adopting customers to break even; 20 expected: stated once
    assert given.count("Break-even") == 1 and "Break-even: 6.7 adopting customers" in given
    assert "Expected incremental profit 2,000 EUR per year" in given


def test_no_costs_and_losing_contribution_break_even_sentences():
    study = load_study(TINY)
    free = _bc(study, change_costs={}, contribution_per_customer=10.0)
    assert free.break_even_text == "Break-even: from the first adopting customer (no change costs are listed)."
    losing = _bc(study, contribution_per_customer=-5.0)
    assert losing.break_even_text.startswith("Break-even: none") and losing.value("incremental_profit") == -1100
    assert "profitability" in set(losing.concerns["kind"])
