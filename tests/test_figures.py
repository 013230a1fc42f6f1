"""Issue 13, item 3: every figure of the notebook series reads well at 1,280 px and in print.

Each figure is drawn from the data the notebooks pass it, displayed through
``report.show`` (the layout the pages get) and checked with the Agg
renderer: every text artist lies inside the figure (1 px of slack) and no
two tick labels of one axis overlap. The studies: the tiny study, the
bundled example, and a hostile copy of the tiny study with 60+ character
element names, input phrases and characteristics, and values above a
million.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")

import matplotlib  # noqa: E402

matplotlib.use("Agg")

import cvm_kit as cvm  # noqa: E402
from cvm_kit import report  # noqa: E402
from cvm_kit.plotting import layout_problems  # noqa: E402

TINY = Path(__file__).resolve().parent / "data" / "tiny"

LONG_NAMES = {
    "Less downtime": "Less unplanned downtime of the filling lines thanks to predictive maintenance",
    "Lower energy use": "Lower electricity use of the compressors and the drying ovens over a year",
    "Fewer service calls": "Fewer emergency service calls by the supplier's field engineers at night",
    "Less scrap": "Less scrap and rework of off-specification batches at the end of the line",
}
LONG_PHRASE = "Hours of unplanned production downtime per year with the alternative supplier's equipment"
LONG_CHARACTERISTIC = "sales_region_as_recorded_in_the_crm_system_of_record_2025"


def hostile_study(dest: Path) -> Path:
    """A copy of the tiny study with 60+ character names and values above a million."""
    shutil.copytree(TINY, dest)
    y = (dest / "project.yaml").read_text(encoding="utf-8")
    for short, long in LONG_NAMES.items():
        y = y.replace(f"name: {short}", f"name: {long}")
    y = y.replace("name: Margin per hour\n    value: 100", "name: Margin per hour\n    value: 250000")
    y = y.replace("[Hours lost, alternative]", f"[{LONG_PHRASE}]")
    (dest / "project.yaml").write_text(y, encoding="utf-8")
    m = (dest / "measurements.csv").read_text(encoding="utf-8")
    m = re.sub(r'"hours lost,\s*alternative"', f'"{LONG_PHRASE}"', m, flags=re.IGNORECASE)
    (dest / "measurements.csv").write_text(m, encoding="utf-8")
    c = (dest / "customers.csv").read_text(encoding="utf-8")
    (dest / "customers.csv").write_text(c.replace(",region", f",{LONG_CHARACTERISTIC}", 1), encoding="utf-8")
    return dest


def series_figures(study):
    """(page, name, Axes) of every figure the notebooks 01-08 draw, on the data they pass."""
    from cvm_kit.business_case import business_case
    from cvm_kit.documenter import delivery_by_element, document_value, value_case_history
    from cvm_kit.executive import value_waterfall
    from cvm_kit.plotting import report as rp
    from cvm_kit.plotting.business_case import INCENTIVE_QUANTITIES, plot_profit_range
    from cvm_kit.plotting.documenter import plot_delivery_by_element, plot_value_case_history
    from cvm_kit.plotting.research import plot_fieldwork_funnel
    from cvm_kit.plotting.segments import plot_drivers, plot_value_vs_driver
    from cvm_kit.plotting.sensitivity import plot_simulation, plot_sobol, plot_tornado
    from cvm_kit.plotting.variance import plot_subsegment_values
    from cvm_kit.plotting.waterfall import plot_value_waterfall
    from cvm_kit.reporting.customer import customer_headline
    from cvm_kit.reporting.labels import element_names, unit
    from cvm_kit.research import fieldwork_by_subsegment
    from cvm_kit.segments import driver_frame, drivers
    from cvm_kit.sensitivity import simulate, sobol_indices, tornado

    s = study
    u = unit(s)
    names = element_names(s)
    values = cvm.element_values(s)
    totals = cvm.totals(s, values)
    summary = cvm.summarize(s, values)
    # 01 data gathering
    yield "01", "funnel", plot_fieldwork_funnel(fieldwork_by_subsegment(s))
    yield "01", "coverage", rp.plot_coverage(report.coverage_matrix(s))
    yield "01", "source mix", rp.plot_source_mix(report.source_mix(s))
    # 02 estimates
    for sub in s.subsegment_ids:
        yield "02", f"waterfall {sub}", plot_value_waterfall(value_waterfall(s, sub, values=values, totals=totals))
    yield "02", "estimates", rp.plot_estimates(summary, currency=u, names=names)
    yield "02", "net values", rp.plot_net_values(totals, currency=u)
    # 03 subsegment variance
    for e in s.elements:
        if e.quantified:
            yield "03", f"variance {e.id}", plot_subsegment_values(values, element_id=e.id, name=names[e.id],
                                                                   currency=u)
    yield "03", "variance net", plot_subsegment_values(totals, element_id="net_value", name="Net value", currency=u)
    # 04 sensitivity
    yield "04", "tornado", plot_tornado(tornado(s, values=values), max_factors=12, currency=u)
    for sub in s.subsegment_ids:
        yield "04", f"tornado {sub}", plot_tornado(tornado(s, subsegment=sub, values=values), max_factors=12,
                                                   currency=u, title=f"{sub}: each factor moved alone from its low "
                                                                         "to its high input")
    sobol = sobol_indices(s, samples=256, seed=0)
    for sub, part in sobol.groupby("subsegment", sort=False):
        yield "04", f"sobol {sub}", plot_sobol(part, max_factors=12)
    yield "04", "simulation", plot_simulation(simulate(s, draws=2000, seed=0, values=values, totals=totals),
                                              currency=u)
    # 05 drivers
    found = drivers(s, values=values)
    yield "05", "drivers", plot_drivers(found, element_id="net_value", name="net value")
    yield "05", "value vs driver", plot_value_vs_driver(driver_frame(s, "net_value", values=values),
                                                        name="Net value", currency=u)
    # 06 customer report (every customer)
    for cid in s.customers["customer_id"]:
        yield "06", f"headline {cid}", rp.plot_customer_headline(customer_headline(s, cid, totals=totals), currency=u)
        yield "06", f"customer {cid}", rp.plot_customer_values(report.customer_values(s, cid, values), currency=u)
    # 07 value documenter
    if s.realized is not None:
        documented = document_value(s)
        yield "07", "delivery", plot_delivery_by_element(delivery_by_element(s, documented))
        for cid in report.documented_customers(s, "", documented):
            yield "07", f"history {cid}", plot_value_case_history(value_case_history(s, cid, documented), currency=u)
    # 08 business case
    market = report.market_customers(s, "")  # the notebook's default: the studied customers
    bc = business_case(s, target_subsegment=s.subsegment_ids[0], market_customers=market, adoption_share=0.25,
                       price_change=0.0, change_costs={}, draws=500, seed=0)
    yield "08", "incentive", plot_profit_range(bc.incentive, quantities=INCENTIVE_QUANTITIES, currency=s.currency,
                                               title="Customer's incentive at the new price")


def _shown(ax, monkeypatch):
    """Display ``ax`` as a page does (``report.show``: layout, PNG at 100 dpi) and return its figure."""
    import matplotlib.pyplot as plt

    fig = ax.figure
    monkeypatch.setattr(report, "_display", lambda obj: None)
    monkeypatch.setattr(plt, "close", lambda *a, **k: None)  # keep the figure to inspect it
    report.show(ax)
    monkeypatch.undo()
    return fig


def _check_all(study, monkeypatch) -> tuple[int, list[str]]:
    import matplotlib.pyplot as plt

    problems, count = [], 0
    for page, name, ax in series_figures(study):
        fig = _shown(ax, monkeypatch)
        count += 1
        problems += [f"{page} {name}: {p}" for p in layout_problems(fig, tol=1.0)]
        plt.close(fig)
    return count, problems


def test_every_figure_reads_well_on_the_tiny_study(tiny, monkeypatch):
    count, problems = _check_all(tiny, monkeypatch)
    assert count >= 25
    assert problems == []


def test_every_figure_reads_well_with_long_names_and_large_values(tmp_path, monkeypatch):
    s = cvm.load_study(hostile_study(tmp_path / "hostile"))
    assert max(len(e.name) for e in s.elements) >= 60
    values = cvm.totals(s)
    assert values["differential_value"].abs().max() > 1e6  # large values: compact axis labels
    count, problems = _check_all(s, monkeypatch)
    assert count >= 25
    assert problems == []


def test_every_figure_reads_well_on_the_example(example_path, monkeypatch):
    count, problems = _check_all(cvm.load_study(example_path), monkeypatch)
    assert count >= 20
    assert problems == []


def test_value_axes_use_compact_labels_and_names(tmp_path):
    """Large values read ``1.2M``, never ``1200000`` or ``1.2e+06``; elements are named, not ids."""
    from cvm_kit.plotting import report as rp
    from cvm_kit.reporting.labels import element_names, unit

    s = cvm.load_study(hostile_study(tmp_path / "hostile"))
    ax = rp.plot_estimates(cvm.summarize(s), currency=unit(s), names=element_names(s))
    ax.figure.canvas.draw()
    ticks = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert any(t.endswith("M") for t in ticks), ticks
    assert all("e+" not in t and not re.fullmatch(r"-?\d{5,}", t.replace(",", "")) for t in ticks), ticks
    labels = [t.get_text().replace("\n", " ") for t in ax.get_yticklabels()]
    assert LONG_NAMES["Less downtime"] in labels
    assert "downtime" not in labels  # the id is not shown
    assert ax.get_xlabel().startswith("Mean value per customer (EUR/year)")


def test_layout_problems_finds_clipped_titles_and_overlapping_ticks():
    """The checker itself: a title wider than the figure and crowded tick labels are reported."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3, 2))
    ax.set_title("A title far too long to fit a three-inch-wide figure without being clipped at both ends")
    ax.set_xticks(range(6))
    ax.set_xticklabels([f"label number {i}" for i in range(6)])
    found = layout_problems(fig)
    assert any("lies outside the figure" in p for p in found)
    assert any("overlap" in p for p in found)
