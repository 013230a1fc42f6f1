"""The report helpers the notebooks call (cvm_kit.report, cvm_kit.plotting.report), on the tiny study."""

from __future__ import annotations

import csv
import math
import shutil
from collections import Counter
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import yaml  # noqa: E402

import cvm_kit as cvm  # noqa: E402
from cvm_kit import report  # noqa: E402
from cvm_kit.errors import AnalysisError, CvmError, StudyError  # noqa: E402
from cvm_kit.plotting import report as plots  # noqa: E402

TINY = Path(__file__).parent / "data" / "tiny"
# element values of the tiny study, worked out by hand (see the brief / tests/data/tiny)
VALUES = {
    "downtime": {"A1": 600, "A2": 300, "A3": 1080, "B1": 100, "B2": 300, "B3": 200},
    "energy": {"A1": 40, "A2": 30, "A3": 50, "B1": 10, "B2": 20, "B3": math.nan},
    "service": {"A1": 150, "A2": 0, "A3": 100, "B1": 50, "B2": 0, "B3": 200},
    "safety": dict.fromkeys(["A1", "A2", "A3", "B1", "B2", "B3"], 0),
    "scrap": {"A1": 400, "A2": 200, "A3": 600, "B1": 0, "B2": 0, "B3": 0},
}
NET = {"A1": 1090, "A2": 500, "A3": 1630, "B1": 150, "B2": 315, "B3": math.nan}
BIG, SMALL = ["A1", "A2", "A3"], ["B1", "B2", "B3"]


@pytest.fixture(scope="module")
def tiny():
    return cvm.load_study(TINY)


def _nanmean(xs):
    xs = [x for x in xs if not math.isnan(x)]
    return sum(xs) / len(xs)


# -- customer report -------------------------------------------------------


@pytest.mark.parametrize("cid", ["A1", "B3"])
def test_customer_values_against_subsegment_and_segment(tiny, cid):
    t = report.customer_values(tiny, cid).set_index("element_id")
    peers = BIG if cid in BIG else SMALL
    for eid, by in VALUES.items():
        want, sub, seg = by[cid], _nanmean([by[c] for c in peers]), _nanmean(list(by.values()))
        got = t.loc[eid]
        if math.isnan(want):
            assert math.isnan(got["value"])
        else:
            assert got["value"] == pytest.approx(want)
            assert got["vs_subsegment"] == pytest.approx(want - sub)
        assert got["subsegment_mean"] == pytest.approx(sub)
        assert got["segment_mean"] == pytest.approx(seg)
    # the placeholder is listed, never valued; scrap is a parity point for small customers
    assert t.loc["brand", "status"] == "placeholder" and math.isnan(t.loc["brand", "value"])
    assert t.loc["scrap", "status"] == ("difference" if cid in BIG else "parity")
    if cid == "B3":
        assert t.loc["energy", "missing_inputs"] == "kWh, offering"


def test_customer_totals_net_value(tiny):
    t = report.customer_totals(tiny, "A1").set_index("quantity")
    assert t.loc["net_value", "value"] == pytest.approx(1090)
    assert t.loc["net_value", "subsegment_mean"] == pytest.approx(_nanmean([NET[c] for c in BIG]))
    assert t.loc["net_value", "segment_mean"] == pytest.approx(_nanmean(list(NET.values())))
    assert t.loc["differential_value", "value"] == pytest.approx(600 + 40 + 150 + 0 + 400)
    assert t.loc["price_difference", "value"] == pytest.approx(100)
    assert t.loc["contention_value", "value"] == pytest.approx(150)


def test_customer_missing_names_input_and_contact(tiny):
    m = report.customer_missing(tiny, "B3")
    assert m[["phrase", "needed_by", "with"]].values.tolist() == [["kWh, offering", "energy", "Buyer B3"]]
    assert report.customer_missing(tiny, "A1").empty


def test_customer_assumptions_only_the_customers_own(tiny):
    b3 = report.customer_assumptions(tiny, "B3")
    a1 = report.customer_assumptions(tiny, "A1")
    assert "B3: Service calls avoided" in set(b3["subject"])
    assert not any(s.startswith("B3:") for s in a1["subject"])
    assert any("Point of parity for small" in a for a in b3["assumption"])
    assert not any("Point of parity for small" in a for a in a1["assumption"])
    assert "Lost hours are not recovered." in set(a1["assumption"])


def test_a_constant_the_customer_measured_itself_says_its_own_figure_is_used(tiny):
    # A3 measured its own margin per hour (120) over the study's constant (100)
    a3 = report.customer_assumptions(tiny, "A3").set_index("subject")["assumption"]
    a1 = report.customer_assumptions(tiny, "A1").set_index("subject")["assumption"]
    assert a3["Margin per hour"] == "= 100 (source: P&L review); this customer's own figure is used instead: 120 (data)"
    assert a1["Margin per hour"] == "= 100 (source: P&L review)"


def test_customer_facts_and_unknown_customer(tiny):
    f = report.customer_facts(tiny, "B3").set_index("field")["value"]
    assert f["Subsegment"] == "small" and f["Next-best-alternative"] == "Do nothing"
    assert f["region"] == "south" and f["size"] == "10"
    with pytest.raises(CvmError, match="'ZZ' is not in"):
        report.customer_values(tiny, "ZZ")
    assert report.pick_customer(tiny, "") == "A1"
    assert report.pick_customer(tiny, " B2 ") == "B2"


# -- data gathering --------------------------------------------------------


def test_coverage_summary_and_matrix(tiny):
    by_c = report.coverage_summary(tiny).set_index("customer_id")
    # big needs 10 inputs (scrap too), small 9 (scrap is parity there); B3 lacks [kWh, offering]
    assert by_c["needed"].to_dict() == {"A1": 10, "A2": 10, "A3": 10, "B1": 9, "B2": 9, "B3": 9}
    assert by_c.loc["B3", "missing"] == 1 and by_c["missing"].sum() == 1
    assert by_c.loc["B3", "share_on_file"] == pytest.approx(8 / 9)
    by_p = report.coverage_summary(tiny, by="phrase").set_index("phrase")
    assert by_p.loc["Scrap tonnes avoided", "needed"] == 3
    assert by_p.loc["kWh, offering", "on_file"] == 5
    m = report.coverage_matrix(tiny)
    assert list(m.index) == BIG + SMALL and m.columns[0] == "subsegment"
    assert m.loc["B3", "kWh, offering"] == 0.0 and m.loc["A1", "kWh, offering"] == 1.0
    assert math.isnan(m.loc["B1", "Scrap tonnes avoided"])
    with pytest.raises(CvmError):
        report.coverage_summary(tiny, by="nonsense")


def test_source_mix_counts_rows(tiny):
    sub = {r["customer_id"]: r["subsegment"] for r in csv.DictReader(open(TINY / "customers.csv"))}
    counts = Counter()
    for r in csv.DictReader(open(TINY / "measurements.csv")):
        counts[(sub[r["customer_id"]], r["source"], r["reliability"] or "unrated")] += 1
    mix = report.source_mix(tiny)
    got = {(r.subsegment, r.source, r.reliability): r.rows for r in mix.itertuples()}
    assert got == dict(counts)
    totals = Counter()
    for (s, _, _), n in counts.items():
        totals[s] += n
    for r in mix.itertuples():
        assert r.share == pytest.approx(r.rows / totals[r.subsegment])
    # data comes before estimate/perception/assumption within a subsegment
    order = [s for s in mix.loc[mix["subsegment"] == "small", "source"]]
    assert order == sorted(order, key=["data", "estimate", "perception", "assumption"].index)


def test_validated_study_shows_problems_then_raises(tmp_path, capsys):
    bad = tmp_path / "bad"
    shutil.copytree(TINY, bad)
    doc = yaml.safe_load((bad / "project.yaml").read_text())
    doc["elements"][0]["equation"] = "[Hours saved] ** 2"
    (bad / "project.yaml").write_text(yaml.safe_dump(doc))
    with pytest.raises(StudyError):
        report.validated_study(str(bad))
    assert "project.yaml" in capsys.readouterr().out  # the problems table was shown first
    s, check = report.validated_study(str(TINY))
    assert s.label == "tiny" and check.ok


# -- formatting ------------------------------------------------------------


def test_money():
    assert report.money(1090.0, "EUR") == "1,090 EUR"
    assert report.money(1234567.4) == "1,234,567"
    assert report.money(-12.5) == "-12.5"
    assert report.money(0.125) == "0.125" and report.money(0.00613) == "0.00613"  # under 1: 3 significant digits
    assert report.money(float("nan")) == "—"  # issue 13: "—" (footnoted), never "missing"
    assert report.money(-0.001) == "-0.001" and report.money(-0.0) == "0"


def test_table_html_escapes_and_formats():
    df = pd.DataFrame({"who": ["<script>alert(1)</script>", "B"], "net": [1090.0, np.nan],
                       "share": [0.5, 1.0], "flag": [True, False]})
    t = report.table_html(df, money=["net"], currency="EUR", percent=["share"], caption="<b>cap</b>")
    assert "<script>" not in t and "&lt;script&gt;" in t
    # issue 13: human labels ("net" -> "Net"), "—" with its footnote where a figure is missing
    assert "<th>Net (EUR)</th>" in t and "<td class='num'>1,090</td>" in t and ">—<" in t and "missing" not in t
    assert "— : does not apply or not available" in t
    assert "<th>Share (%)</th>" in t and "<td class='num'>50</td>" in t and "<td class='num'>100</td>" in t
    assert "<td>yes</td>" in t and "&lt;b&gt;cap&lt;/b&gt;" in t
    long = report.table_html(pd.DataFrame({"x": range(12)}), max_rows=5)
    assert long.count("<tr>") == 6 and "7 more rows not shown" in long


def test_header_html_escapes_study_text(tmp_path, tiny):
    evil = tmp_path / "evil"
    shutil.copytree(TINY, evil)
    doc = yaml.safe_load((evil / "project.yaml").read_text())
    doc["name"] = "<img src=x onerror=alert(1)>"
    doc["charter"]["sponsor"] = "<script>x()</script>"
    (evil / "project.yaml").write_text(yaml.safe_dump(doc))
    h = report.header_html(cvm.load_study(evil), "Title <i>", today="2026-06-01")
    assert "<img src=x" not in h and "<script>x()" not in h and "&lt;script&gt;" in h
    h = report.header_html(tiny, "T", today="2026-06-01")
    assert tiny.content_hash in h and "Study charter" in h
    assert "<dd>394</dd>" in h  # days left from 2026-06-01 to 2027-06-30


def test_display_table_has_text_fallback(capsys):
    report.display_table(pd.DataFrame({"customer_id": ["A1"], "net_value": [1090.0]}), money=["net_value"])
    out = capsys.readouterr().out
    assert "A1" in out and "1,090" in out


def test_attempt_turns_analysis_errors_into_a_note(capsys):
    def too_few():
        raise AnalysisError("only one customer")

    assert report.attempt(too_few) is None
    assert "only one customer" in capsys.readouterr().out

    def bad_input():
        raise CvmError("bad")

    with pytest.raises(CvmError):
        report.attempt(bad_input)


def test_choose_renders_each_choice():
    pytest.importorskip("ipywidgets")
    seen = []
    box = report.choose("Element", {"Downtime": "downtime", "Energy": "energy"}, seen.append, value="energy")
    dd = box.children[0]
    assert seen == ["energy"]
    dd.value = "downtime"
    assert seen == ["energy", "downtime"]
    with pytest.raises(CvmError):
        report.choose("Nothing", [], seen.append)


# -- plots -----------------------------------------------------------------


def test_plot_customer_values_bars_and_means(tiny):
    t = report.customer_values(tiny, "B3")
    ax = plots.plot_customer_values(t, currency="EUR")
    shown = t[t["status"] != "placeholder"]
    widths = [p.get_width() for p in ax.patches]
    assert widths == pytest.approx(np.nan_to_num(shown["value"].to_numpy(float)).tolist())
    labels = [x.get_text().replace("\n", " ") for x in ax.get_yticklabels()]
    assert labels == shown["name"].tolist()  # issue 13: element names, not ids (long names wrap)
    sub_line, seg_line = ax.lines[0], ax.lines[1]
    assert np.allclose(sub_line.get_xdata(), shown["subsegment_mean"], equal_nan=True)
    assert np.allclose(seg_line.get_xdata(), shown["segment_mean"], equal_nan=True)
    assert any(a.get_text() == "missing" for a in ax.texts)  # energy lacks an input for B3


def test_plot_coverage_and_source_mix(tiny):
    m = report.coverage_matrix(tiny)
    ax = plots.plot_coverage(m)
    data = ax.images[0].get_array()
    assert data.shape == (6, m.shape[1] - 1)
    assert int((data == 0).sum()) == 1 and int(data.mask.sum()) == 3  # B1..B3 need no scrap input
    mix = report.source_mix(tiny)
    ax = plots.plot_source_mix(mix)
    per_bar = Counter()
    for p in ax.patches:
        per_bar[round(p.get_y(), 3)] += p.get_width()
    assert all(v == pytest.approx(100) for v in per_bar.values()) and len(per_bar) == 2


def test_plot_estimates_and_net_values(tiny):
    s = cvm.summarize(tiny)
    ax = plots.plot_estimates(s)
    assert len(ax.containers) == 3  # big, small, all
    t = cvm.totals(tiny)
    ax = plots.plot_net_values(t)
    heights = [p.get_height() for p in ax.patches]
    assert heights == sorted([v for v in NET.values() if not math.isnan(v)], reverse=True)
    assert "1 missing" in ax.get_title()
    with pytest.raises(CvmError):
        plots.plot_net_values(t.drop(columns=["net_value"]))


def test_placeholders_listed_never_summed(tiny):
    p = report.placeholders(tiny)
    assert p[["element_id", "perceived_low", "perceived_high"]].values.tolist() == [["brand", 1000.0, 5000.0]]
    assert p["note"].tolist() == ["listed, never summed"]


# -- value documenter and business case helpers ------------------------------


def test_documented_customers(tiny, tmp_path):
    # realized.csv documents A1 (two rows) and A2
    assert report.documented_customers(tiny) == ["A1", "A2"]
    assert report.documented_customers(tiny, " B2 ") == ["B2"]
    with pytest.raises(CvmError, match="'ZZ' is not in"):
        report.documented_customers(tiny, "ZZ")
    bare = tmp_path / "bare"
    shutil.copytree(TINY, bare)
    (bare / "realized.csv").unlink()
    assert report.documented_customers(cvm.load_study(bare)) == []


def test_pick_subsegment(tiny):
    assert report.pick_subsegment(tiny, "") == "big"
    assert report.pick_subsegment(tiny, " small ") == "small"
    with pytest.raises(CvmError, match="expected one of big, small"):
        report.pick_subsegment(tiny, "medium")


def test_mapping_parameter_parses_never_evaluates():
    assert report.mapping_parameter("", "x") == {} and report.mapping_parameter(None, "x") == {}
    assert report.mapping_parameter({"big": 400}, "x") == {"big": 400}
    assert report.mapping_parameter('{"Sales training": 50000, "Pilot": 1.5}', "x") == {"Sales training": 50000,
                                                                                         "Pilot": 1.5}
    assert report.mapping_parameter("Sales training: 50000, Pilot: 2e4", "x") == {"Sales training": 50000,
                                                                                   "Pilot": 20000.0}
    assert report.mapping_parameter("{big: 400}", "x") == {"big": 400}
    with pytest.raises(CvmError, match="change_costs: 'Pilot' has .__import__.*not a number"):
        report.mapping_parameter("Pilot: __import__('os')", "change_costs")
    with pytest.raises(CvmError, match="market_customers: cannot read"):
        report.mapping_parameter("big 400", "market_customers")
    for not_a_mapping in ("400", "[1, 2]"):
        with pytest.raises(CvmError, match="expected name: number pairs"):
            report.mapping_parameter(not_a_mapping, "market_customers")


def test_market_customers_default_is_the_studied_customers(tiny):
    assert report.market_customers(tiny) == {"big": 3, "small": 3}
    assert report.market_customers(tiny, '{"small": 40}') == {"small": 40}
    with pytest.raises(CvmError, match="'medium' is not in"):
        report.market_customers(tiny, "medium: 5")


# -- issue 13 item 3: tables that read well ----------------------------------------


def _heads(t: str) -> list[str]:
    import re

    return re.findall(r"<th>(.*?)</th>", t)


def test_table_labels_numbers_and_dashes(tiny):
    from cvm_kit.reporting import fmt

    df = pd.DataFrame({"element_id": ["downtime", "energy"], "n": [3, 2], "mean": [162345.4, float("nan")],
                       "ci_low": [-1234.5, None], "p_value": [0.01234, 0.5], "not_in_log": [1e-5, 38.09123],
                       "share_from_data": [0.943, 1.0]})
    t = report.table_html(df, money=["mean", "ci_low"], percent=["share_from_data"], study=tiny)
    # human labels with the study's unit; element ids shown as the element names
    assert _heads(t) == ["Element", "Customers (n)", "Mean (EUR/year)", "95% interval low (EUR/year)", "p-value",
                         "Not in log", "Share on measured data (%)"]
    assert "<td>Less downtime</td>" in t and "<td>Lower energy use</td>" in t and "<td>downtime</td>" not in t
    # one number format: thousands separators, no scientific notation, money in whole units from 100
    assert "<td class='num'>162,345</td>" in t and "<td class='num'>-1,234</td>" in t
    assert "<td class='num'>0.012</td>" in t and "<td class='num'>0.00001</td>" in t and ">38.09<" in t
    assert "e-05" not in t and "e+05" not in t and "<td class='num'>94</td>" in t
    # "—" where a figure does not apply, with its footnote; never nan/None/missing
    assert t.count(f">{fmt.DASH}<") == 2 and "— : does not apply or not available" in t
    for word in ("nan", "NaN", "None", "missing", "&lt;NA&gt;"):
        assert f">{word}<" not in t
    # a table with nothing missing has no footnote
    assert "does not apply" not in report.table_html(df.dropna())


def test_table_drops_repeated_columns_and_keeps_labels_as_given():
    df = pd.DataFrame({"element_id": ["a"], "name": ["Energy"], "factor": ["kWh"], "label": ["Energy use"],
                       "Mean (EUR/year)": [5.0]})
    assert _heads(report.table_html(df)) == ["Element", "Factor", "Mean (EUR/year)"]
    t = report.table_html(df)
    assert "<td>Energy</td>" in t and "<td>Energy use</td>" in t and ">kWh<" not in t


def test_wide_table_is_split_into_column_groups_repeating_its_keys():
    import re

    cols = {f"value_{i}": [float(i), float(10 * i)] for i in range(12)}
    df = pd.DataFrame({"customer_id": ["A1", "B2"], "subsegment": ["big", "small"], **cols})
    t = report.table_html(df, caption="Wide")
    tables = re.findall(r"<table.*?</table>", t, flags=re.S)
    assert len(tables) == 2 and 'class="cvm-tables cvm-split"' in t  # 2 keys + 6 columns each
    seen = []
    for i, tab in enumerate(tables, 1):
        heads = _heads(tab)
        assert len(heads) <= 8 and heads[:2] == ["Customer", "Subsegment"]
        assert f"<caption>Wide ({i} of 2)</caption>" in tab
        assert re.findall(r"<tr><td>(.*?)</td>", tab) == ["A1", "B2"]  # every group has every row, in order
        seen += heads[2:]
    assert seen == [f"Value {i}" for i in range(12)]  # every column once
    # eight columns or fewer: one table
    assert report.table_html(df.iloc[:, :8]).count("<table") == 1


def test_no_inline_css_in_the_package():
    from pathlib import Path

    root = Path(report.__file__).parent
    offenders = [str(p) for p in root.rglob("*.py") if "<style" in p.read_text(encoding="utf-8")]
    assert offenders == []
    css = (root / "reporting" / "templates" / "style.css").read_text(encoding="utf-8")
    assert "table.cvm-table" in css and ".cvm-footnote" in css and ".cvm-internal" in css


def test_customer_index_page_is_a_template_with_the_one_stylesheet(tmp_path, tiny):
    from cvm_kit.reporting.batch import _write_customer_index
    from cvm_kit.reporting.render import stylesheet

    (tmp_path / "A1.ipynb").write_text("{}")
    (tmp_path / "A1.html").write_text("")
    (tmp_path / "B1.ipynb").write_text("{}")
    manifest = {"customers": {
        "A1": {"key": "k1", "status": "ok", "notebook": "A1.ipynb", "html": "A1.html", "run_at": "2026-06-01"},
        "B1": {"key": "old", "status": "failed", "notebook": "B1.ipynb", "html": "", "error": "<b>boom</b>"},
        "Z9": {"key": "k", "status": "ok", "notebook": "gone.ipynb", "html": "gone.html"}}}
    _write_customer_index(tmp_path / "index.html", tiny, tmp_path, "abc123", manifest, ["A1", "B1"],
                          {"A1": "k1", "B1": "k2"})
    doc = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert stylesheet() in doc and "Tiny test study: customer value reports" in doc
    assert "<td><a href='A1.html'>A1</a></td><td>ok</td><td>2026-06-01</td><td>yes</td>" in doc
    assert "<td>B1</td><td>failed</td>" in doc and "no: inputs, template or parameters changed since" in doc
    assert "&lt;b&gt;boom&lt;/b&gt;" in doc and "<b>boom" not in doc
    assert "Z9" not in doc  # no report on disk


def test_large_figures_in_rules_and_assumptions_have_no_exponent(tiny_copy):
    import cvm_kit as cvm
    from cvm_kit.estimates import assumptions

    y = tiny_copy / "project.yaml"
    y.write_text(y.read_text().replace("value: 100", "value: 4500000"))
    a = assumptions(cvm.load_study(tiny_copy))
    assert "= 4,500,000 (source: P&L review)" in set(a["assumption"])  # was "= 4.5e+06"


def test_axis_labels_for_billions_and_cents():
    from cvm_kit.reporting.fmt import compact

    assert [compact(x) for x in (2.5e9, 6e9)] == ["2.5bn", "6bn"]  # "G" is no money unit
    # an element worth cents: its box plot's ticks all read "0" or "-0"
    assert [compact(x) for x in (-0.01, -0.005, 0.0, 0.005, 0.01)] == ["-0.01", "-0.005", "0", "0.005", "0.01"]
