"""The study-level inputs other stages read from project.yaml: parity margins, scenario percentiles, contribution."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

import cvm_kit as cvm

TINY = Path(__file__).parent / "data" / "tiny"


def _with(tmp_path: Path, extra: str, *, element_extra: str = "") -> Path:
    d = tmp_path / "s"
    shutil.copytree(TINY, d)
    y = (d / "project.yaml").read_text()
    if element_extra:
        y = y.replace("    name: Lower energy use\n", "    name: Lower energy use\n" + element_extra)
    (d / "project.yaml").write_text(y + extra)
    return d


FIELDS = """parity_margin: 25
options:
  scenario_percentiles: [20, 50, 80]
business_case:
  contribution_per_customer: 400
"""


def test_fields_load_and_round_trip_through_folder_and_workbook(tmp_path):
    s = cvm.load_study(_with(tmp_path, FIELDS, element_extra="    parity_margin: 7.5\n"))
    assert s.parity_margin == 25
    assert s.element("energy").parity_margin == 7.5 and s.element("downtime").parity_margin is None
    assert tuple(s.options["scenario_percentiles"]) == (20, 50, 80)
    assert s.business_case == {"contribution_per_customer": 400}
    assert not [w for w in s.warnings if "parity_margin" in str(w) or "options" in str(w)]
    for target in (tmp_path / "copy", tmp_path / "copy.xlsx"):
        cvm.save_study(s, target)
        t = cvm.load_study(target)
        assert t.parity_margin == 25 and t.element("energy").parity_margin == 7.5
        assert tuple(t.options["scenario_percentiles"]) == (20, 50, 80)
        assert t.business_case == {"contribution_per_customer": 400}


@pytest.mark.parametrize("extra, where", [
    ("parity_margin: -3\n", "parity_margin"),
    ("options:\n  scenario_percentiles: [90, 50, 10]\n", "scenario_percentiles"),
    ("business_case:\n  contribution_per_customer: .nan\n", "contribution_per_customer"),
])
def test_bad_fields_are_located_errors(tmp_path, extra, where):
    rep = cvm.validate(_with(tmp_path, extra))
    assert rep.errors and any(where in str(p) for p in rep.errors), [str(p) for p in rep.errors]


def test_stages_use_the_study_fields(tmp_path):
    from cvm_kit.business_case import business_case
    from cvm_kit.hypothesis_tests import resolve_margins
    from cvm_kit.values import scenario_percentiles

    s = cvm.load_study(_with(tmp_path, FIELDS, element_extra="    parity_margin: 7.5\n"))
    assert scenario_percentiles(s) == (20, 50, 80)
    margins = resolve_margins(s)
    assert margins["energy"] == 7.5 and margins["downtime"] == 25
    # contribution 400 per adopter from the study: 2 of 4 market customers adopt, costs 100 -> profit 2 * 400 - 100
    bc = business_case(s, target_subsegment="big", market_customers={"big": 4, "small": 3}, adoption_share=0.5,
                       price_change=0.0, change_costs={"training": 100.0}, draws=500)
    prof = bc.profitability.set_index("quantity")["mean"]
    assert prof["incremental_profit"] == pytest.approx(2 * 400 - 100)
    assert np.isfinite(prof["break_even_customers"])
