"""The value documenter on the tiny study's realized.csv, worked out by hand.

tests/data/tiny/realized.csv (all 2026-01-01 .. 2026-06-30, half the study's year):
A1 downtime promised 600 realized 450 -> rate 0.75, gap -150;
A1 energy 40 -> 50 -> rate 1.25, gap +10; A2 downtime 300 -> 300 -> rate 1.0.
Study estimates (big): downtime mean (600 + 300 + 1080) / 3 = 660, energy (40 + 30 + 50) / 3 = 40.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import cvm_kit as cvm  # noqa: E402
from cvm_kit.cli import main  # noqa: E402
from cvm_kit.documenter import (  # noqa: E402
    delivery_by_element,
    document_value,
    period_fraction,
    value_case_history,
)
from cvm_kit.errors import AnalysisError, CvmError  # noqa: E402
from cvm_kit.plotting.documenter import plot_delivery_by_element, plot_value_case_history  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "data" / "tiny"
HEADER = "customer_id,element_id,period_start,period_end,promised,realized,source,note\n"


@pytest.fixture(scope="module")
def tiny():
    return cvm.load_study(TINY)


def _variant(tmp_path: Path, realized: str | None) -> Path:
    d = tmp_path / "tiny"
    shutil.copytree(TINY, d)
    if realized is None:
        (d / "realized.csv").unlink()
    else:
        (d / "realized.csv").write_text(HEADER + realized)
    return d


def test_document_value_by_hand(tiny):
    d = document_value(tiny)
    assert list(d.columns) == ["customer_id", "subsegment", "element_id", "element", "period_start", "period_end",
                               "promised", "realized", "realization_rate", "gap", "source", "note",
                               "estimate", "estimate_for_period", "promised_low", "promised_high", "vs_promise",
                               "meets_promise"]
    assert d["customer_id"].tolist() == ["A1", "A1", "A2"]
    assert d["subsegment"].tolist() == ["big", "big", "big"]
    assert d["element"].tolist() == ["Less downtime", "Lower energy use", "Less downtime"]
    assert d["realization_rate"].tolist() == pytest.approx([0.75, 1.25, 1.0])
    assert d["gap"].tolist() == pytest.approx([-150, 10, 0])
    assert d["source"].tolist() == ["data", "data", "estimate"]
    assert d["period_start"].iloc[0] == pd.Timestamp("2026-01-01")
    assert d["period_end"].iloc[0] == pd.Timestamp("2026-06-30")
    assert d["estimate"].tolist() == pytest.approx([660, 40, 660])
    assert d["estimate_for_period"].tolist() == pytest.approx([330, 20, 330])  # six months of a year
    # against the promise to each customer (no promised range in the tiny file): 450 < 600, 50 >= 40, 300 >= 300
    assert d["vs_promise"].tolist() == ["below", "met", "met"]
    assert d["meets_promise"].tolist() == [False, True, True]
    assert d["promised_low"].isna().all() and d["promised_high"].isna().all()


def test_rate_missing_when_nothing_promised(tmp_path):
    study = cvm.load_study(_variant(tmp_path, "A1,downtime,2026-01-01,2026-12-31,0,100,data,\n"
                                              "A2,energy,,,50,,estimate,no figure yet\n"))
    d = document_value(study)
    assert math.isnan(d["realization_rate"].iloc[0]) and d["gap"].iloc[0] == 100
    assert d["estimate_for_period"].iloc[0] == pytest.approx(660)  # a whole year
    assert math.isnan(d["realization_rate"].iloc[1]) and math.isnan(d["gap"].iloc[1])
    assert pd.isna(d["period_start"].iloc[1]) and math.isnan(d["estimate_for_period"].iloc[1])
    t = delivery_by_element(study).set_index("element_id")
    assert math.isnan(t.at["downtime", "overall_rate"])  # nothing promised in total
    assert math.isnan(t.at["energy", "share_at_or_above"])  # no row with both figures


def test_no_rate_against_a_negative_promise(tmp_path):
    # an element where the offering is worse: -100 realized against -200 promised beats the promise
    study = cvm.load_study(_variant(tmp_path, "A1,downtime,2026-01-01,2026-12-31,-200,-100,data,\n"
                                              "A2,downtime,2026-01-01,2026-12-31,100,50,data,\n"))
    d = document_value(study)
    assert math.isnan(d["realization_rate"].iloc[0]) and d["gap"].iloc[0] == 100
    assert d["vs_promise"].iloc[0] == "met" and d["realization_rate"].iloc[1] == 0.5
    t = delivery_by_element(study).set_index("element_id")
    assert math.isnan(t.at["downtime", "overall_rate"])  # -100 promised in total: no ratio
    assert t.at["downtime", "mean_rate"] == 0.5 and t.at["downtime", "total_gap"] == 50
    assert t.at["downtime", "share_at_or_above"] == 0.5


def test_value_case_history_cumulates_per_element_in_time(tmp_path):
    # listed out of order: the history sorts by element (project.yaml order) then period
    study = cvm.load_study(_variant(tmp_path, (
        "A1,energy,2026-01-01,2026-06-30,40,50,data,\n"
        "A1,downtime,2026-07-01,2026-12-31,600,630,data,\n"
        "A1,downtime,2026-01-01,2026-06-30,600,450,data,\n"
        "A2,downtime,2026-01-01,2026-06-30,300,300,estimate,\n")))
    h = value_case_history(study, "A1")
    assert h["element_id"].tolist() == ["downtime", "downtime", "energy"]
    assert h["period_start"].dt.strftime("%m").tolist() == ["01", "07", "01"]
    assert h["cum_promised"].tolist() == pytest.approx([600, 1200, 40])
    assert h["cum_realized"].tolist() == pytest.approx([450, 1080, 50])
    assert h["cum_rate"].tolist() == pytest.approx([0.75, 0.9, 1.25])


def test_value_case_history_of_tiny(tiny):
    h = value_case_history(tiny, "A2")
    assert len(h) == 1 and h["cum_rate"].iloc[0] == 1.0
    with pytest.raises(AnalysisError, match="A3"):
        value_case_history(tiny, "A3")  # studied but nothing documented
    with pytest.raises(CvmError, match="ZZ"):
        value_case_history(tiny, "ZZ")


def test_delivery_by_element_by_hand(tiny):
    t = delivery_by_element(tiny)
    assert t["element_id"].tolist() == ["downtime", "energy"]
    dt = t.set_index("element_id").loc["downtime"]
    assert (dt["n_customers"], dt["n_rows"]) == (2, 2)
    assert (dt["total_promised"], dt["total_realized"], dt["total_gap"]) == (900, 750, -150)
    assert dt["overall_rate"] == pytest.approx(750 / 900)
    assert dt["mean_rate"] == pytest.approx((0.75 + 1.0) / 2)
    assert dt["median_rate"] == pytest.approx(0.875)
    assert dt["share_at_or_above"] == 0.5  # A2 met its promise, A1 did not
    assert dt["total_estimate_for_period"] == pytest.approx(660)
    assert dt["realized_vs_estimate"] == pytest.approx(750 / 660)
    en = t.set_index("element_id").loc["energy"]
    assert (en["n_customers"], en["overall_rate"], en["share_at_or_above"]) == (1, 1.25, 1.0)


def test_delivery_on_example_matches_rows():
    study = cvm.load_study(cvm.example_path())
    d = document_value(study)
    t = delivery_by_element(study, d).set_index("element_id")
    for eid, g in d.groupby("element_id"):
        assert t.at[eid, "total_promised"] == pytest.approx(g["promised"].sum())
        assert t.at[eid, "total_realized"] == pytest.approx(g["realized"].sum())
        assert t.at[eid, "median_rate"] == pytest.approx(np.median(g["realized"] / g["promised"]))
        assert t.at[eid, "n_customers"] == g["customer_id"].nunique()


def test_no_realized_file_is_a_clear_error(tmp_path):
    study = cvm.load_study(_variant(tmp_path, None))
    with pytest.raises(CvmError) as err:
        document_value(study)
    msg = str(err.value)
    assert "realized.csv" in msg and "optional" in msg
    for col in ("customer_id", "element_id", "promised", "realized"):
        assert col in msg


@pytest.mark.parametrize("start, end, period, expect", [
    ("2026-01-01", "2026-06-30", "year", 0.5),
    ("2024-01-01", "2024-12-31", "year", 1.0),  # leap year: still one year
    ("2026-01-15", "2026-02-14", "month", 1.0),
    ("2026-01-01", "2026-01-14", "week", 2.0),
    ("2026-01-01", "2026-03-31", "per quarter", 1.0),
    ("2026-01-01", "2026-06-30", "fortnight", math.nan),
])
def test_period_fraction(start, end, period, expect):
    got = period_fraction(pd.Series([pd.Timestamp(start)]), pd.Series([pd.Timestamp(end)]), period).iloc[0]
    assert got == pytest.approx(expect, nan_ok=True)


# ---------------------------------------------------------------------------
# CLI


def test_cli_document_writes_both_tables(tiny, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["document", str(TINY), "--out", str(out)]) == 0
    assert "value_documenter.csv" in capsys.readouterr().out
    d = pd.read_csv(out / "value_documenter.csv")
    assert d["realization_rate"].tolist() == pytest.approx([0.75, 1.25, 1.0])
    assert d["period_start"].tolist() == ["2026-01-01"] * 3
    t = pd.read_csv(out / "delivery_by_element.csv")
    assert t["total_realized"].tolist() == [750, 50]
    assert not list(out.glob(".*"))  # no temporary files left behind


def test_cli_document_default_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["document", str(TINY)]) == 0
    assert (tmp_path / "reports" / "tiny" / "value_documenter.csv").exists()
    assert (tmp_path / "reports" / "tiny" / "delivery_by_element.csv").exists()


def test_cli_document_without_realized(tmp_path, capsys):
    d = _variant(tmp_path, None)
    assert main(["document", str(d), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error:") and "realized.csv" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists() or not list((tmp_path / "o").iterdir())


def test_cli_document_guards_formula_text(tmp_path):
    d = _variant(tmp_path, 'A1,downtime,2026-01-01,2026-06-30,600,450,data,"=HYPERLINK(""http://x"")"\n')
    assert main(["document", str(d), "--out", str(tmp_path / "o")]) == 0
    text = (tmp_path / "o" / "value_documenter.csv").read_text()
    assert "'=HYPERLINK" in text and ",=HYPERLINK" not in text


# ---------------------------------------------------------------------------
# plots


def test_plot_value_case_history_bars(tmp_path):
    study = cvm.load_study(_variant(tmp_path, (
        "A1,downtime,2026-01-01,2026-06-30,600,450,data,\n"
        "A1,downtime,2026-07-01,2026-12-31,600,630,data,\n"
        "A1,energy,2026-01-01,2026-06-30,40,50,data,\n")))
    h = value_case_history(study, "A1")
    ax = plot_value_case_history(h, currency="EUR")
    promised, realized = ax.containers[0], ax.containers[1]
    assert [p.get_height() for p in promised] == pytest.approx(h["promised"].tolist())
    assert [p.get_height() for p in realized] == pytest.approx(h["realized"].tolist())
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels[0].startswith("Less downtime") and "2026-07" in labels[1]
    assert "A1" in ax.get_title()
    assert sorted(t.get_text() for t in ax.texts) == ["105%", "125%", "75%"]


def test_plot_delivery_by_element_bars(tiny):
    t = delivery_by_element(tiny)
    ax = plot_delivery_by_element(t)
    bars = sorted(ax.patches, key=lambda p: -p.get_y())  # first row at the top
    assert [b.get_width() for b in bars] == pytest.approx(t["overall_rate"].tolist())
    ticks = dict(zip(ax.get_yticks(), (lbl.get_text() for lbl in ax.get_yticklabels())))
    assert [ticks[b.get_y() + b.get_height() / 2] for b in bars] == t["element"].tolist()
    ax2 = plot_delivery_by_element(t, rate="median_rate")
    assert sorted(p.get_width() for p in ax2.patches) == pytest.approx(sorted(t["median_rate"]))
    with pytest.raises(CvmError, match="nonsense"):
        plot_delivery_by_element(t, rate="nonsense")


def test_totals_rest_on_rows_with_both_figures_and_none_is_not_zero(tmp_path):
    study = cvm.load_study(_variant(tmp_path, "A1,downtime,2026-01-01,2026-12-31,500,,data,\n"  # not realized yet
                                              "A2,energy,2026-01-01,2026-12-31,100,80,data,\n"
                                              "A3,energy,2026-01-01,2026-12-31,500,,data,\n"))
    t = delivery_by_element(study).set_index("element_id")
    # downtime: promised, never realized: no total (it read 0 promised, 0 realized, gap 0)
    assert t.at["downtime", "n_compared"] == 0
    assert all(math.isnan(t.at["downtime", c]) for c in ("total_promised", "total_realized", "total_gap"))
    # energy: A3's 500 promised has nothing to compare with: the totals are A2's, and say over how many rows
    assert (t.at["energy", "total_promised"], t.at["energy", "total_realized"], t.at["energy", "n_compared"]) \
        == (100, 80, 1)


def test_the_same_row_twice_is_a_warning(tmp_path):
    from cvm_kit.validate import validate

    row = "A1,downtime,2026-01-01,2026-12-31,500,400,data,\n"
    r = validate(_variant(tmp_path, row + "A2,downtime,2026-01-01,2026-12-31,100,50,data,\n" + row))
    [w] = [p for p in r.warnings if p.file == "realized.csv"]
    assert w.where == "lines 2, 4" and "add up" in w.message and not r.errors
