"""An element that is a placeholder in some subsegments only: listed there, never valued nor summed."""

from __future__ import annotations

import numpy as np
import pytest

import cvm_kit as cvm
from cvm_kit.hypothesis_tests import check_hypotheses
from cvm_kit.sensitivity import tornado
from cvm_kit.variance import compare_subsegments


def _variant(root, old: str, new: str):
    y = root / "project.yaml"
    text = y.read_text()
    assert old in text
    y.write_text(text.replace(old, new))
    return cvm.load_study(root)


def test_a_difference_held_as_a_placeholder_in_one_subsegment(tiny_copy, tiny):
    s = _variant(tiny_copy, "    status_by_subsegment:\n      small: parity\n",
                 "    status_by_subsegment:\n      small: placeholder\n")
    v = cvm.element_values(s)
    scrap = v[v["element_id"] == "scrap"]
    assert sorted(scrap["customer_id"]) == ["A1", "A2", "A3"]  # no rows for the small customers
    assert list(scrap["value"]) == [400.0, 200.0, 600.0]  # [Scrap tonnes avoided] * 200: 2, 1, 3 tonnes
    # totals: the placeholder adds nothing, exactly as the original parity (0) did
    t = cvm.totals(s).set_index("customer_id")
    want = cvm.totals(tiny).set_index("customer_id")
    for c in ("differential_value", "net_value"):
        assert t[c].to_numpy() == pytest.approx(want[c].to_numpy(), nan_ok=True)
    # the element's own estimate rests on the customers who value it: 400 for big and for all
    sm = cvm.summarize(s).set_index(["element_id", "subsegment"])
    assert sm.loc[("scrap", "all"), "mean"] == pytest.approx(400.0) and sm.loc[("scrap", "all"), "n"] == 3
    assert sm.loc[("scrap", "small"), "n"] == 0 and sm.loc[("scrap", "small"), "status"] == "placeholder"
    # the whole segment's tornado counts the small customers' 0, as their totals do: (400 * 3 + 0 * 3) / 6
    tor = tornado(s).set_index("factor")
    assert tor.loc["scrap", "base_input"] == pytest.approx(200.0)
    # no hypothesis is tested where it is a placeholder; the comparison says why it has nothing to compare
    h = check_hypotheses(s)
    assert not ((h["element_id"] == "scrap") & (h["subsegment"] == "small")).any()
    c = compare_subsegments(s).set_index("element_id")
    assert "placeholder for small customers" in c.loc["scrap", "finding"]


def test_a_placeholder_valued_in_one_subsegment(tiny_copy, tiny):
    s = _variant(tiny_copy, "    status: placeholder\n    perceived_range: [1000, 5000]\n",
                 "    status: placeholder\n    perceived_range: [1000, 5000]\n"
                 "    equation: \"[Scrap tonnes avoided] * 10\"\n    status_by_subsegment:\n      big: difference\n")
    assert s.element("brand").quantified
    v = cvm.element_values(s)
    brand = v[v["element_id"] == "brand"].set_index("customer_id")
    assert list(brand.index) == ["A1", "A2", "A3"] and list(brand["value"]) == [20.0, 10.0, 30.0]
    t = cvm.totals(s).set_index("customer_id")["differential_value"]
    want = cvm.totals(tiny).set_index("customer_id")["differential_value"]
    assert (t - want).to_dict() == pytest.approx({"A1": 20.0, "A2": 10.0, "A3": 30.0, "B1": 0.0, "B2": 0.0,
                                                  "B3": np.nan}, nan_ok=True)
