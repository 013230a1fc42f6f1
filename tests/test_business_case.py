"""The business case for change on the tiny study, checked by hand and by enumeration.

Tiny 'big' customers: price differences A1 100, A2 30, A3 200 (mean 110);
net values 1090, 500, 1630 (mean 3220 / 3).
The supplier's contribution per adopting customer is an input of the case (issue 10.7): here 70 at today's
price, + the price change of 50 = 120 per adopter; 100 x 0.2 = 20 adopters -> 2,400, less 1,000 of costs.
"""

from __future__ import annotations

import itertools
import math
import shutil
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from scipy import stats  # noqa: E402

import cvm_kit as cvm  # noqa: E402
from cvm_kit.business_case import BusinessCase, business_case  # noqa: E402
from cvm_kit.errors import AnalysisError, CvmError  # noqa: E402
from cvm_kit.plotting.business_case import plot_profit_range  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "data" / "tiny"
PD_BIG = np.array([100.0, 30.0, 200.0])
NV_BIG = np.array([1090.0, 500.0, 1630.0])


@pytest.fixture(scope="module")
def tiny():
    return cvm.load_study(TINY)


def _case(study, **kw) -> BusinessCase:
    args = dict(target_subsegment="big", market_customers={"big": 100, "small": 300}, adoption_share=0.2,
                price_change=50.0, change_costs={"Sales training": 600.0, "Value calculator": 400.0},
                contribution_per_customer=70.0, draws=4000)
    args.update(kw)
    return business_case(study, **args)


def _row(df: pd.DataFrame, quantity: str) -> pd.Series:
    return df.set_index("quantity").loc[quantity]


@pytest.fixture(scope="module")
def uniform_study(tmp_path_factory):
    """Every big customer measured exactly like A1: no variance in the target subsegment."""
    d = tmp_path_factory.mktemp("uniform") / "tiny"
    shutil.copytree(TINY, d)
    m = pd.read_csv(d / "measurements.csv", keep_default_na=False)
    a1 = m[m["customer_id"] == "A1"]
    rest = m[~m["customer_id"].isin(["A1", "A2", "A3"])]
    m = pd.concat([a1, a1.assign(customer_id="A2"), a1.assign(customer_id="A3"), rest], ignore_index=True)
    m.to_csv(d / "measurements.csv", index=False)
    return cvm.load_study(d)


def test_zero_variance_case_by_hand(uniform_study):
    case = _case(uniform_study)
    p = case.profitability
    assert list(p.columns) == ["quantity", "label", "mean", "p5", "p50", "p95", "p_positive"]
    expect = {
        "adopting_customers": 100 * 0.2,
        "contribution_per_adopter": 70 + 50,
        "incremental_contribution": 20 * 120,
        "change_costs": 1000,
        "incremental_profit": 20 * 120 - 1000,
        "break_even_customers": 1000 / 120,
    }
    assert p["quantity"].tolist() == list(expect)
    for q, v in expect.items():
        r = _row(p, q)
        assert (r["mean"], r["p5"], r["p50"], r["p95"]) == pytest.approx((v, v, v, v)), q
    assert case.p_profit_positive == 1.0
    inc = case.incentive.set_index("quantity")
    assert inc.at["net_value_now", "mean"] == pytest.approx(1090)
    assert inc.at["price_difference_now", "mean"] == pytest.approx(100)
    assert inc.at["price_difference_new", "p95"] == pytest.approx(150)
    assert inc.at["incentive_at_new_price", "mean"] == pytest.approx(1040)
    assert inc.at["incentive_at_new_price", "p5"] == pytest.approx(1040)
    assert inc.at["share_with_positive_incentive", "mean"] == 1.0


def test_means_are_point_estimates(tiny):
    case = _case(tiny)
    assert case.value("adopting_customers") == 20
    assert case.value("price_difference_now") == pytest.approx(110)
    assert case.value("price_difference_new") == pytest.approx(160)
    assert case.value("incremental_profit") == pytest.approx(20 * 120 - 1000)
    assert case.value("break_even_customers") == pytest.approx(1000 / 120)
    # the supplier's figures rest on the case's inputs: no range
    for q in ("adopting_customers", "change_costs", "incremental_profit", "contribution_per_adopter"):
        r = _row(case.profitability, q)
        assert r["p5"] == r["p95"] == r["mean"]


def test_contribution_and_unit_cost_definitions(tiny):
    # unit_margin_before is the former name of contribution_per_customer
    old_name = _case(tiny, contribution_per_customer=None, unit_margin_before=80.0)
    r = _row(old_name.profitability, "incremental_profit")
    assert (r["mean"], r["p5"], r["p95"]) == pytest.approx((20 * 130 - 1000,) * 3)
    with_cost = _case(tiny, unit_cost=30.0)  # an extra cost to serve each adopter
    assert with_cost.value("contribution_per_adopter") == pytest.approx(70 + 50 - 30)
    assert with_cost.value("incremental_profit") == pytest.approx(20 * 90 - 1000)
    as_text = _case(tiny, contribution_per_customer=" 70 ")  # a notebook parameter arrives as text
    assert as_text.value("incremental_profit") == pytest.approx(1400)
    none = _case(tiny, contribution_per_customer="")
    assert math.isnan(none.value("incremental_profit")) and not none.contribution_given


def test_bootstrap_matches_enumeration(tiny):
    # the customer's side is bootstrapped: P(mean price difference of 3 resampled customers > 110) by enumeration
    case = _case(tiny, price_change=-60.0, draws=10_000, seed=1)
    sums = [sum(c) for c in itertools.product(PD_BIG, repeat=3)]
    p_exact = np.mean([s > 330 for s in sums])
    tol = 4 * math.sqrt(p_exact * (1 - p_exact) / 10_000)
    assert (case.draws["price_difference"] > 110).mean() == pytest.approx(p_exact, abs=tol)
    # spread of the bootstrap mean: population sd / sqrt(n)
    sd_exact = PD_BIG.std(ddof=0) / math.sqrt(3)
    assert case.draws["price_difference"].std() == pytest.approx(sd_exact, rel=0.05)
    r = _row(case.incentive, "price_difference_new")
    assert (r["p5"], r["p50"], r["p95"]) == pytest.approx(
        tuple(np.percentile(case.draws["price_difference"] - 60, [5, 50, 95])))
    # the supplier's profit does not follow the customer's price difference: 20 x (70 - 60) - 1000
    assert (case.draws["incremental_profit"] == 20 * 10 - 1000).all()


def test_seeded_reproducibility(tiny):
    a, b, c = _case(tiny, seed=7), _case(tiny, seed=7), _case(tiny, seed=8)
    pd.testing.assert_frame_equal(a.profitability, b.profitability)
    pd.testing.assert_frame_equal(a.draws, b.draws)
    assert not np.array_equal(a.draws["net_value"], c.draws["net_value"])


def test_incentive_by_hand(tiny):
    case = _case(tiny, price_change=1000.0)
    inc = case.incentive.set_index("quantity")
    mean = NV_BIG.mean()
    half = stats.t.ppf(0.975, 2) * NV_BIG.std(ddof=1) / math.sqrt(3)
    assert inc.at["net_value_now", "mean"] == pytest.approx(mean)
    assert (inc.at["net_value_now", "ci_low"], inc.at["net_value_now", "ci_high"]) == pytest.approx(
        (mean - half, mean + half))
    assert inc.at["incentive_at_new_price", "mean"] == pytest.approx(mean - 1000)
    assert inc.at["incentive_at_new_price", "ci_low"] == pytest.approx(mean - half - 1000)
    single = NV_BIG - 1000  # 90, -500, 630
    assert inc.at["incentive_single_customer", "p5"] == pytest.approx(np.percentile(single, 5))
    assert inc.at["incentive_single_customer", "p95"] == pytest.approx(np.percentile(single, 95))
    assert inc.at["share_with_positive_incentive", "mean"] == pytest.approx(2 / 3)
    assert inc.at["price_change", "mean"] == 1000
    assert (inc["n"] == 3).all()
    kinds = set(case.concerns["kind"])
    assert "incentive" in kinds
    assert any("33%" in c for c in case.concerns.loc[case.concerns["kind"] == "incentive", "concern"])


def test_concerns_from_the_study(tiny):
    big = _case(tiny).concerns
    assert list(big.columns) == ["kind", "subject", "concern"]
    pairs = set(zip(big["kind"], big["subject"]))
    assert ("placeholder", "Brand") in pairs
    assert ("low reliability", "Service calls avoided") in pairs  # A1's perception, reliability low
    assert ("data share", "Fewer service calls") in pairs  # no big customer's service value rests on data
    assert ("sample", "big") in pairs
    assert "profitability" not in set(big["kind"])  # P(profit > 0) is 1 here
    small = business_case(tiny, target_subsegment="small", market_customers={"small": 50}, adoption_share=0.5,
                          price_change=0.0, change_costs={}, draws=500).concerns
    pairs = set(zip(small["kind"], small["subject"]))
    assert ("missing input", "kWh, offering") in pairs  # B3
    assert ("assumed input", "Service calls avoided") in pairs  # B3's team guess
    assert ("resources", "change costs") in pairs
    assert any("1 of 3" in c for c in small["concern"])  # B3 left out of the figures
    losing = _case(tiny, price_change=-100.0, change_costs={"Launch": 5000.0}).concerns
    assert "profitability" in set(losing["kind"])


def test_small_subsegment_uses_complete_customers_only(tiny):
    case = business_case(tiny, target_subsegment="small", market_customers={"small": 50}, adoption_share=0.5,
                         price_change=0.0, change_costs={"x": 10.0}, contribution_per_customer=4.0, draws=500)
    assert case.n_customers == 2  # B1, B2 (B3 lacks [kWh, offering])
    assert case.value("price_difference_now") == pytest.approx((10 + 5) / 2)
    assert case.value("net_value_now") == pytest.approx((150 + 315) / 2)
    assert case.value("incremental_profit") == pytest.approx(25 * 4 - 10)


def test_tables_and_milestones(tiny):
    costs = pd.DataFrame({"item": ["Training", "Tools"], "cost_per_period": [600, 400], "owner": ["HR", "IT"]})
    case = _case(tiny, change_costs=costs)
    assert case.resources.columns.tolist() == ["item", "cost", "owner"]
    assert case.value("change_costs") == 1000
    m = case.milestones
    assert m.columns.tolist() == ["milestone", "owner", "due", "status"]
    assert len(m) == 7 and (m["status"] == "not started").all() and (m["owner"] == "").all()
    assert any("big" in x for x in m["milestone"])
    a = case.actions
    assert a.columns.tolist() == ["action", "detail"]
    assert a["action"].iloc[0] == "Target the big subsegment"
    # value elements led by the largest mean in 'big': downtime 660, scrap 400, service 83.3, energy 40
    lead = [x for x in a["action"] if x.startswith("Make the value case on")]
    assert lead == ["Make the value case on: Less downtime", "Make the value case on: Less scrap",
                    "Make the value case on: Fewer service calls", "Make the value case on: Lower energy use"]
    assert "price change" in set(case.assumptions["parameter"])


@pytest.mark.parametrize("kw, match", [
    (dict(target_subsegment="huge"), "huge"),
    (dict(adoption_share=1.5), "adoption_share"),
    (dict(market_customers={"small": 10}), "target subsegment"),
    (dict(market_customers={"big": 10, "mid": 3}), "mid"),
    (dict(market_customers={"big": -1}), "market_customers"),
    (dict(change_costs={"Training": -5}), "Training"),
    (dict(change_costs={"Training": "a lot"}), "not a number"),
    (dict(change_costs=pd.DataFrame({"what": ["x"], "eur": [1]})), "item"),
    (dict(unit_margin_before=10.0, contribution_per_customer=3.0), "not both"),
    (dict(contribution_per_customer="a lot"), "contribution_per_customer"),
    (dict(draws=0), "draws"),
    (dict(price_change=float("nan")), "price_change"),
])
def test_bad_inputs(tiny, kw, match):
    with pytest.raises(CvmError, match=match):
        _case(tiny, **kw)


def test_no_complete_customer(tmp_path):
    d = tmp_path / "tiny"
    shutil.copytree(TINY, d)
    m = pd.read_csv(d / "measurements.csv", keep_default_na=False)
    m = m[~(m["customer_id"].str.startswith("B") & (m["variable"] == "Tonnes"))]
    m.to_csv(d / "measurements.csv", index=False)
    study = cvm.load_study(d)
    with pytest.raises(AnalysisError, match="small"):
        business_case(study, target_subsegment="small", market_customers={"small": 5}, adoption_share=0.5,
                      price_change=0, change_costs={})


def test_rendering_escapes_study_text(tmp_path):
    d = tmp_path / "tiny"
    shutil.copytree(TINY, d)
    y = (d / "project.yaml").read_text()
    y = y.replace("offering: Offering X", 'offering: "<script>alert(1)</script>"')
    y = y.replace("name: Brand", 'name: "Brand | <img src=x onerror=alert(2)>"')
    (d / "project.yaml").write_text(y)
    study = cvm.load_study(d)
    case = _case(study, change_costs={"<b>Training</b> | team": 1000.0})
    h = case.to_html()
    assert "<script>" not in h and "<img" not in h and "<b>Training" not in h
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in h
    assert "&lt;img src=x onerror=alert(2)&gt;" in h
    for section in ("Profitability impact", "Actions", "Resources", "Concerns", "Milestones"):
        assert f"<h3>{section}</h3>" in h
    assert case._repr_html_() == h
    md = case.to_markdown()
    assert "<script>" not in md and "<img" not in md
    assert "&lt;b&gt;Training&lt;/b&gt; \\| team" in md  # a pipe cannot break the table
    assert md.startswith("## Business case for change: &lt;script&gt;")
    for section in ("### Profitability impact", "### Actions", "### Resources", "### Concerns", "### Milestones"):
        assert section in md
    # the management summary states the figures of the tables
    assert "Expected incremental profit 1,400 EUR per year" in md
    assert "| Total | 1,000 |" in md


def test_plot_profit_range(tiny):
    case = _case(tiny, price_change=-60.0)
    p = case.profitability
    ax = plot_profit_range(p, currency="EUR")
    drawn = ["incremental_contribution", "change_costs", "incremental_profit"]
    bars = sorted(ax.patches, key=lambda b: -b.get_y())  # first quantity at the top
    assert len(bars) == 3
    for b, q in zip(bars, drawn):
        r = _row(p, q)
        assert b.get_x() == pytest.approx(r["p5"])
        assert b.get_width() == pytest.approx(r["p95"] - r["p5"])
    medians = ax.lines[0].get_xdata()
    assert list(medians) == pytest.approx([_row(p, q)["p50"] for q in drawn])
    assert list(ax.lines[1].get_xdata()) == pytest.approx([_row(p, q)["mean"] for q in drawn])
    ax2 = plot_profit_range(p, quantities=["incremental_profit", "not_a_quantity"])
    assert len(ax2.patches) == 1
