"""Issue 13, item 5: the per-customer page leads with the customer's net value against its subsegment and segment.

Hand computation on the tiny study (tests/test_values.py works every figure
out): per customer, differential value, price difference and net value

    A1 1190 100 1090 | A2 530 30 500 | A3 1830 200 1630      (subsegment big)
    B1  160  10  150 | B2 320  5 315 | B3  —   10  —         (subsegment small; B3 misses an input)

big means: net (1090 + 500 + 1630) / 3 = 1073.33, differential 3550 / 3 = 1183.33, price 330 / 3 = 110 (n = 3);
small: net (150 + 315) / 2 = 232.5 (n = 2), price 25 / 3; segment: net 3685 / 5 = 737,
differential 4030 / 5 = 806, price 355 / 6 (n = 5 with a net value).
"""

from __future__ import annotations

import math
import re

import pytest

import cvm_kit as cvm
from cvm_kit.reporting.customer import customer_headline, customer_headline_html, headline_finding

OTHERS = ["A2", "A3", "B1", "B2", "B3"]


def test_headline_figures_against_the_hand_computation(tiny):
    h = customer_headline(tiny, "A1").set_index("group")
    assert list(h.index) == ["customer", "subsegment", "segment"]
    assert h.loc["customer", ["net_value", "differential_value", "price_difference"]].tolist() == \
        pytest.approx([1090, 1190, 100])
    assert h.loc["subsegment", ["net_value", "differential_value", "price_difference"]].tolist() == \
        pytest.approx([3220 / 3, 3550 / 3, 110])
    assert h.loc["segment", ["net_value", "differential_value", "price_difference"]].tolist() == \
        pytest.approx([737, 806, 355 / 6])
    assert h["n"].tolist() == [1, 3, 5]
    assert h.loc["subsegment", "label"] == "Mean of big"


def test_customer_with_a_missing_input(tiny):
    h = customer_headline(tiny, "B3").set_index("group")
    assert math.isnan(h.loc["customer", "net_value"]) and h.loc["customer", "n"] == 0
    assert h.loc["customer", "price_difference"] == pytest.approx(10)
    assert h.loc["subsegment", "net_value"] == pytest.approx(232.5) and h.loc["subsegment", "n"] == 2
    assert h.loc["subsegment", "price_difference"] == pytest.approx(25 / 3)
    text = headline_finding(customer_headline(tiny, "B3"))
    assert "cannot be computed yet" in text and "232 EUR/year (n = 2)" in text  # 232.5 in whole units
    page = customer_headline_html(tiny, "B3", figure=False)
    assert "—" in page and not re.search(r"\bnan\b", page, re.IGNORECASE) and "None" not in page


def test_finding_states_the_gaps_to_the_means(tiny):
    text = headline_finding(customer_headline(tiny, "A1"))
    # 1090 - 1073.33 = 16.67 above big's mean; 1090 - 737 = 353 above the segment's
    assert text.startswith("A1 gains 1,090 EUR/year net")
    assert "16.67 EUR/year above the mean of big customers (1,073, n = 3)" in text
    assert "353 EUR/year above the segment's mean (737, n = 5)" in text
    assert "indicative" in text  # 3 customers: the small-sample caution
    text = headline_finding(customer_headline(tiny, "A2"))
    assert "573 EUR/year below the mean of big customers" in text  # 500 - 1073.33


def test_headline_html_is_customer_safe_and_escaped(tiny_copy):
    y = (tiny_copy / "project.yaml").read_text()
    y = y.replace("next_best_alternative: Alternative Y", "next_best_alternative: <b>Alt & Co</b>")
    (tiny_copy / "project.yaml").write_text(y)
    s = cvm.load_study(tiny_copy)
    page = customer_headline_html(s, "A1")
    assert "1,090" in page and "1,073" in page and "737" in page and "1,190" in page
    assert "&lt;b&gt;Alt &amp; Co&lt;/b&gt;" in page and "<b>Alt" not in page
    assert "data:image/png;base64," in page  # the comparison chart
    text = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", page)
    for other in OTHERS:
        assert other not in text, other
    assert "Is X worth a premium" not in page and "Test sponsor" not in page  # no charter


def test_headline_chart_bars(tiny):
    from cvm_kit.plotting.report import plot_customer_headline

    ax = plot_customer_headline(customer_headline(tiny, "A1"), currency="EUR/year")
    assert [p.get_width() for p in ax.patches] == pytest.approx([1090, 3220 / 3, 737])
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[0] == "This customer" and "big" in labels[1] and "n\u00a0=\u00a03" in labels[1]
    assert sorted(t.get_text() for t in ax.texts) == sorted(["1,090", "1,073", "737"])
    assert ax.get_xlabel() == "Net value (EUR/year)"
    ax = plot_customer_headline(customer_headline(tiny, "B3"))
    assert ax.patches[0].get_width() == 0 and ax.texts[0].get_text() == "—"


def test_unknown_customer_is_a_clear_error(tiny):
    with pytest.raises(cvm.CvmError, match="ZZ"):
        customer_headline(tiny, "ZZ")


def test_a_mean_over_fewer_than_two_other_customers_is_withheld(tiny):
    """small: B3 lacks kWh, offering, so B1's subsegment means of energy and net value rest on B1 and B2 only."""
    import math

    from cvm_kit import report
    from cvm_kit.reporting.customer import customer_headline, customer_headline_html, headline_finding

    head = customer_headline(tiny, "B1").set_index("group")
    assert math.isnan(head.loc["subsegment", "net_value"])  # B1 and B2: 2 * mean - own would be B2's figure
    assert math.isfinite(head.loc["segment", "net_value"])  # five customers with a net value
    text = headline_finding(customer_headline(tiny, "B1"))
    assert "the mean of small customers is not shown" in text.lower()
    mine = report.customer_values(tiny, "B1").set_index("element_id")
    assert math.isnan(mine.loc["energy", "subsegment_mean"])
    assert mine.loc["downtime", "subsegment_mean"] == pytest.approx((100 + 300 + 200) / 3)  # B1, B2, B3 by hand
    tot = report.customer_totals(tiny, "B1").set_index("quantity")
    assert math.isnan(tot.loc["net_value", "subsegment_mean"])
    assert tot.loc["price_difference", "subsegment_mean"] == pytest.approx((0.5 * 20 + 0.5 * 10 + 1 * 10) / 3)
    assert "data:image/png;base64," in customer_headline_html(tiny, "B1")  # a withheld mean still draws
    page = customer_headline_html(tiny, "B1", figure=False)
    assert "not shown" in page and "nan" not in page.lower()
