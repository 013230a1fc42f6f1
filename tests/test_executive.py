"""The executive summary, the value waterfall and the management pack, against figures worked out here."""

from __future__ import annotations

import itertools
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import cvm_kit as cvm
from cvm_kit.executive import executive_summary, top_elements, value_waterfall

# customer -> (subsegment, hours, rate source, calls, price difference)
ROWS = {
    "A1": ("alpha", 10, "data", 4, 300), "A2": ("alpha", 12, "data", 2, 500), "A3": ("alpha", 7, "estimate", 5, 100),
    "A4": ("alpha", 15, "data", 1, 900),
    "B1": ("beta", 2, "data", 8, 250), "B2": ("beta", 3, "perception", 6, 300), "B3": ("beta", 1, "data", 9, 200),
}
RATE = 100.0  # [Rate], a constant


def _write_study(root: Path, *, charter: bool = True, name: str = "Exec test") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    charter_text = textwrap.dedent("""\
        charter:
          business_issue: Should we sell Widget Pro to alpha plants at a premium?
          success: Ten alpha plants signed by the end of 2027
          sponsor: VP
        """) if charter else ""
    (root / "project.yaml").write_text(textwrap.dedent(f"""\
        name: {name}
        offering: Widget Pro
        segment: Test plants
        next_best_alternative: Widget Basic
        currency: EUR
        period: year
        """) + charter_text + textwrap.dedent("""\
        subsegments:
          - id: alpha
            description: Large plants
          - id: beta
            description: Small plants
        constants:
          - name: Rate
            value: 100
            source: P&L
        price:
          equation: "[Price difference paid]"
        elements:
          - id: hours
            name: Hours saved
            category: economic
            status: difference
            equation: "[Hours] * [Rate]"
          - id: calls
            name: Fewer calls
            category: service
            status: contention
            equation: "[Calls] * 50"
          - id: safety
            name: Safety
            category: technical
            status: parity
          - id: brand
            name: Brand
            category: social
            status: placeholder
            perceived_range: [100, 500]
        """), encoding="utf-8")
    cust = ["customer_id,subsegment,size"] + [f"{c},{r[0]},{i + 1}" for i, (c, r) in enumerate(ROWS.items())]
    (root / "customers.csv").write_text("\n".join(cust) + "\n", encoding="utf-8")
    meas = ["customer_id,variable,value,source,reliability,note"]
    for c, (_, hours, src, calls, price) in ROWS.items():
        meas += [f"{c},Hours,{hours},{src},,", f"{c},Calls,{calls},data,,", f"{c},Price difference paid,{price},data,,"]
    (root / "measurements.csv").write_text("\n".join(meas) + "\n", encoding="utf-8")
    return root


@pytest.fixture
def study(tmp_path):
    return cvm.load_study(_write_study(tmp_path / "exec"))


def _hand(sub: str) -> dict[str, np.ndarray]:
    r = [v for v in ROWS.values() if v[0] == sub]
    hours = np.array([x[1] * RATE for x in r], float)
    calls = np.array([x[3] * 50.0 for x in r], float)
    price = np.array([x[4] for x in r], float)
    return {"hours": hours, "calls": calls, "price": price, "net": hours + calls - price,
            "data_only": np.array([x[2] == "data" for x in r], float)}


def _exact_bootstrap(sub: str) -> np.ndarray:
    """Every equally likely outcome of the independent per-element bootstrap (elements and price)."""
    h = _hand(sub)
    return np.array([a + b - p for a, b, p in itertools.product(h["hours"], h["calls"], h["price"])])


def test_net_value_interval_and_n_match_a_hand_t_interval(study):
    ex = executive_summary(study, draws=20_000, seed=3).set_index("subsegment")
    for sub in ("alpha", "beta"):
        net = _hand(sub)["net"]
        n = net.size
        half = stats.t.ppf(0.975, n - 1) * net.std(ddof=1) / np.sqrt(n)
        assert ex.loc[sub, "n"] == n
        assert ex.loc[sub, "net_mean"] == pytest.approx(net.mean())
        assert ex.loc[sub, "net_ci_low"] == pytest.approx(net.mean() - half)
        assert ex.loc[sub, "net_ci_high"] == pytest.approx(net.mean() + half)
        h = _hand(sub)
        assert ex.loc[sub, "differential_mean"] == pytest.approx((h["hours"] + h["calls"]).mean())
        assert ex.loc[sub, "price_difference_mean"] == pytest.approx(h["price"].mean())


def test_chance_and_premium_match_the_exact_bootstrap_distribution(study):
    ex = executive_summary(study, draws=40_000, seed=1).set_index("subsegment")
    for sub in ("alpha", "beta"):
        exact = _exact_bootstrap(sub)
        assert ex.loc[sub, "p_net_positive"] == pytest.approx((exact > 0).mean(), abs=0.01)
        # the largest premium keeping P(net - premium > 0) >= 80%: the 20% quantile of net value
        q20 = np.sort(exact)[exact.size - int(np.ceil(0.8 * exact.size))]
        spread = np.percentile(exact, 25) - np.percentile(exact, 15)
        assert ex.loc[sub, "max_premium"] == pytest.approx(q20, abs=max(spread, 1.0))


def test_top_elements_data_share_and_method_count(study):
    ex = executive_summary(study, draws=2_000).set_index("subsegment")
    top = top_elements(study)
    # alpha: hours (mean 1,100) before calls (150); beta: calls (383.3) before hours (200)
    assert list(top.loc[top["subsegment"] == "alpha", "element_id"]) == ["hours", "calls"]
    assert list(top.loc[top["subsegment"] == "beta", "element_id"]) == ["calls", "hours"]
    assert ex.loc["alpha", "top_elements"] == "Hours saved; Fewer calls"
    for sub in ("alpha", "beta"):
        h = _hand(sub)
        # hours rests on data for data-sourced customers only; calls always on data (weights: |mean|)
        w_h, w_c = abs(h["hours"].mean()), abs(h["calls"].mean())
        want = (w_h * h["data_only"].mean() + w_c * 1.0) / (w_h + w_c)
        assert ex.loc[sub, "share_from_data"] == pytest.approx(want)
    assert ex.loc["alpha", "customers_vs_method"].startswith("4 customers: fewer than the 6 to 8")
    assert ex.attrs["placeholders"] == [{"name": "Brand", "perceived_low": 100.0, "perceived_high": 500.0}]
    assert ex.attrs["business_issue"].startswith("Should we sell Widget Pro")


def test_finding_is_generated_from_the_figures(study):
    ex = executive_summary(study, draws=2_000).set_index("subsegment")
    f = ex.loc["alpha", "finding"]
    # alpha: differential 1,250, price 450, net 800 on average
    assert "worth 1,250 EUR per year more" in f and "price premium of 450" in f and "gains 800" in f
    assert "Small samples" in f and "n = 4" in f
    assert "Hours saved (1,100), Fewer calls (150, disputed by the customer)" in f  # calls is a contention


def test_waterfall_adds_up_to_the_net_value(study):
    w = value_waterfall(study, "alpha")
    h = _hand("alpha")
    assert list(w["kind"]) == ["element", "element", "differential", "price", "net"]
    assert list(w["value"][:2]) == pytest.approx([h["hours"].mean(), h["calls"].mean()])
    assert w["end"].iloc[1] == pytest.approx(w["value"].iloc[4] + h["price"].mean())
    assert w["end"].iloc[3] == pytest.approx(h["net"].mean()) and w["end"].iloc[4] == pytest.approx(h["net"].mean())
    # each element bar starts where the previous ended
    assert w["start"].iloc[1] == pytest.approx(w["end"].iloc[0])
    assert w.attrs["placeholders"] == ["Brand"]
    with pytest.raises(cvm.CvmError, match="no subsegment 'gamma'"):
        value_waterfall(study, "gamma")


def test_with_a_customer_missing_an_input_the_card_and_waterfall_rest_on_the_same_customers(tmp_path):
    """A2 lacks its price: its differential value (1,300) must not enter the card beside a net value without it."""
    import matplotlib

    matplotlib.use("Agg")
    from cvm_kit.plotting.waterfall import plot_value_waterfall
    from cvm_kit.reporting.summary import executive_html

    root = _write_study(tmp_path / "gap")
    meas = (root / "measurements.csv").read_text().replace("A2,Price difference paid,500,data,,\n", "")
    (root / "measurements.csv").write_text(meas)
    s = cvm.load_study(root)
    ex = executive_summary(s, draws=2_000).set_index("subsegment")
    keep = ["A1", "A3", "A4"]  # alpha customers with every input
    hours = np.array([ROWS[c][1] * RATE for c in keep])
    calls = np.array([ROWS[c][3] * 50.0 for c in keep])
    price = np.array([ROWS[c][4] for c in keep], float)
    a = ex.loc["alpha"]
    assert (a["n"], a["n_studied"]) == (3, 4)
    assert a["net_mean"] == pytest.approx((hours + calls - price).mean())
    assert a["net_mean"] == pytest.approx(800.0)  # by hand: (900 + 850 + 650) / 3
    assert a["differential_mean"] == pytest.approx((hours + calls).mean())  # 1,233.33, not 1,250 with A2
    assert a["price_difference_mean"] == pytest.approx(price.mean())  # 433.33
    assert a["differential_mean"] - a["price_difference_mean"] == pytest.approx(a["net_mean"])
    assert a["customers_vs_method"] == ("4 customers: fewer than the 6 to 8 the method asks for; "
                                        "3 with every input for a net value")
    assert "n = 3 of the 4 customers studied" in a["finding"] and "worth 1,230 EUR" in a["finding"]
    assert ex.loc["beta", "n"] == ex.loc["beta", "n_studied"] == 3
    # the card's largest elements rest on the same three customers: hours 1,066.67 (with A2's 1,200: 1,100)
    top = ex.attrs["top"].set_index(["subsegment", "element_id"])
    assert top.loc[("alpha", "hours"), "mean"] == pytest.approx(hours.mean()) == pytest.approx(3200 / 3)
    w = value_waterfall(s, "alpha")
    assert (w.attrs["n"], w.attrs["n_studied"]) == (3, 4)
    assert list(w["value"][:2]) == pytest.approx([hours.mean(), calls.mean()])  # A2's hours (1,200) left out
    assert w["end"].iloc[1] == pytest.approx(w["value"].iloc[2])  # the elements end at the differential value
    assert w["value"].iloc[4] == pytest.approx(800.0)
    ax = plot_value_waterfall(w)
    assert "3 of 4 customers" in ax.get_title()
    matplotlib.pyplot.close(ax.figure)
    # one customer with every input: no interval; the price bar (drawn leftwards) no longer pins the axis end
    (root / "measurements.csv").write_text(meas.replace("B1,Price difference paid,250,data,,\n", "")
                                           .replace("B2,Price difference paid,300,data,,\n", ""))
    w = value_waterfall(cvm.load_study(root), "beta")
    assert (w.attrs["n"], w["ci_low"].notna().sum()) == (1, 0)
    ax = plot_value_waterfall(w)
    assert ax.get_xlim()[0] == 0.0 and ax.get_xlim()[1] > w["end"].max() * 1.02
    page = executive_html(s, draws=1_000, figures=False)
    assert "3 of 4 studied" in page
    matplotlib.pyplot.close(ax.figure)


def test_a_subsegment_without_customers_has_no_waterfall_and_the_summary_leaves_it_out(tmp_path):
    root = _write_study(tmp_path / "empty")
    text = (root / "project.yaml").read_text()
    (root / "project.yaml").write_text(text.replace("subsegments:\n", "subsegments:\n  - id: nobody\n"
                                                    "    description: no customer yet\n", 1))
    s = cvm.load_study(root)
    assert "nobody" in s.subsegment_ids
    warnings = [p.message for p in cvm.validate(root).warnings]
    assert any("no customer is in subsegment 'nobody'" in m for m in warnings)
    with pytest.raises(cvm.AnalysisError, match="no customer of subsegment 'nobody'"):
        value_waterfall(s, "nobody")
    from cvm_kit.reporting.summary import waterfall_figures

    figs = waterfall_figures(s)
    assert [f["alt"] for f in figs] == [f"Value waterfall, {sid}" for sid in s.subsegment_ids if sid != "nobody"]


def test_waterfall_plot_bars_and_literal_labels(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from cvm_kit.plotting.waterfall import plot_value_waterfall

    root = _write_study(tmp_path / "dollar")
    text = (root / "project.yaml").read_text().replace("name: Hours saved", "name: Spend $k_2025 saved")
    (root / "project.yaml").write_text(text)
    s = cvm.load_study(root)
    w = value_waterfall(s, "beta")
    ax = plot_value_waterfall(w)
    ax.figure.canvas.draw()
    widths = [p.get_width() for p in ax.patches]
    assert widths == pytest.approx(list(w["end"] - w["start"]))
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert "Spend $k_2025 saved" in labels
    assert all(not t.get_parse_math() for t in ax.get_yticklabels())
    ticks = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert all("e+" not in t for t in ticks)


def test_summary_html_escapes_and_shows_net_values(tmp_path):
    from cvm_kit.reporting import fmt
    from cvm_kit.reporting.summary import executive_html

    root = _write_study(tmp_path / "esc", name="<script>alert(1)</script> study")
    text = (root / "project.yaml").read_text().replace("description: Large plants",
                                                       "description: <b>Large</b> & plants")
    (root / "project.yaml").write_text(text)
    s = cvm.load_study(root)
    page = executive_html(s, draws=2_000, figures=False)
    assert "<b>Large</b>" not in page and "&lt;b&gt;Large&lt;/b&gt; &amp; plants" in page
    for sub in ("alpha", "beta"):
        assert f'data-net-mean="{fmt.money(_hand(sub)["net"].mean())}"' in page
    assert "nan" not in page.lower().replace("finance", "") and "None" not in page


def test_study_without_charter_and_one_subsegment(tmp_path):
    from cvm_kit.reporting.summary import executive_html

    root = _write_study(tmp_path / "one", charter=False)
    cust = (root / "customers.csv").read_text().replace(",beta,", ",alpha,")
    (root / "customers.csv").write_text(cust)
    text = (root / "project.yaml").read_text().replace("  - id: beta\n    description: Small plants\n", "")
    (root / "project.yaml").write_text(text)
    s = cvm.load_study(root)
    ex = executive_summary(s, draws=1_000)
    assert list(ex["subsegment"]) == ["alpha"] and ex.loc[0, "n"] == 7
    page = executive_html(s, draws=1_000, figures=False)
    assert "Business issue" not in page and "alpha" in page


def test_pack_pdf_has_summary_first_and_one_section_per_page(tmp_path, study):
    import shutil

    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

    from cvm_kit.reporting.pack import pack_html, print_pdf
    from cvm_kit.reporting.summary import executive_html

    if not shutil.which("chromium") or not shutil.which("pdftotext"):
        pytest.skip("chromium/pdftotext not installed: run `make system-deps`")
    import subprocess

    nbs = []
    for i in (1, 2):
        cell = new_code_cell("x", outputs=[new_output("display_data", data={"text/html": f"<p>table {i}</p>"})])
        nbs.append((f"Page {i} title", new_notebook(cells=[new_markdown_cell(f"Intro of page {i}"), cell])))
    html = pack_html(title=study.name, summary_html=executive_html(study, draws=1_000, figures=False), sections=nbs,
                     closing_html="<h2>Provenance</h2>")
    (tmp_path / "pack.html").write_text(html)
    pdf = print_pdf(tmp_path / "pack.html", tmp_path / "pack.pdf")
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout
    pages = int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))
    assert pages >= 4
    first = subprocess.run(["pdftotext", "-f", "1", "-l", "1", str(pdf), "-"], capture_output=True, text=True).stdout
    assert "Executive summary" in first and "Net value to the customer" in first and f"Page 1 of {pages}" in first
    texts = [subprocess.run(["pdftotext", "-f", str(p), "-l", str(p), str(pdf), "-"], capture_output=True,
                            text=True).stdout for p in range(1, pages + 1)]
    starts = [next(i for i, t in enumerate(texts) if f"Page {k} title" in t) for k in (1, 2)]
    assert starts[0] < starts[1] and "Provenance" in texts[-1]


def test_summary_flags_contradicted_hypotheses(tmp_path):
    from cvm_kit.reporting.summary import executive_context

    root = _write_study(tmp_path / "flag")
    (root / "project.yaml").write_text((root / "project.yaml").read_text() + "parity_margin: 100000\n")
    s = cvm.load_study(root)
    flags = executive_context(s, draws=500, figures=False)["flags"]
    # every hours saving is within 100,000 of 0 with a tight interval: the declared difference is contradicted
    assert any("Hours saved" in f or "hours" in f.lower() for f in flags), flags
