"""The research phase: charter, per-subsegment alternatives and parity, the fieldwork log.

Every count below is worked out by hand from the log written in the test.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import cvm_kit as cvm
from cvm_kit import research
from cvm_kit.cli import main
from cvm_kit.validate import validate

TINY = Path(__file__).parent / "data" / "tiny"


def _copy(tmp_path: Path, name: str = "study") -> Path:
    dst = tmp_path / name
    shutil.copytree(TINY, dst)
    return dst


# A log over the tiny study plus six more big customers A4..A9 (no measurements:
# they only add missing-input warnings). Hand counts, per customer:
#   A1 invited, meeting, visit, data done; review declined -> agreed, visited, data; NOT declined
#   A2 invited done, initial_meeting declined                -> invited, declined
#   A3 invited, meeting done; data_visit planned 02-10         -> agreed; next visit, overdue on 03-01
#   A4, A5, A6 invited, meeting, visit, data done              -> agreed, visited, data
#   A7 meeting declined 01-15, then meeting/visit/data done    -> agreed, visited, data (declined earlier, then agreed)
#   A8 invited done, data_received done (figures by mail)      -> agreed, data, not visited
#   A9 no row                                                  -> not in log
#   B1 invited, meeting, visit done; data_received planned 04-01 -> agreed, visited; not overdue
#   B2 invited planned 03-15 only                               -> in log, not invited
#   B3 invited, meeting, visit, data done; stale planned visit 01-25; review planned 02-20
#      -> agreed, visited, data; next step review (overdue on 03-01)
# big (A1..A9): customers 9, not_in_log 1, invited 8, agreed 7, visited 5 (A1, A4..A7), data 6, declined 1
# small (B1..B3): customers 3, not_in_log 0, invited 2, agreed 2, visited 2, data 1, declined 0
LOG = """customer_id,date,step,status,with,note
A1,2026-01-05,invited,done,Plant manager A1; Rep Ann,
A1,2026-01-10,initial_meeting,done,Plant manager A1; Rep Ann,Gives: records. Gets: benchmark
A1,2026-01-15,data_visit,done,QA lead A1,
A1,2026-01-20,data_received,done,QA lead A1,
A1,2026-02-15,review,declined,Plant manager A1; Rep Ann,no time
A2,2026-01-05,invited,done,Owner A2,
A2,2026-01-12,initial_meeting,declined,Owner A2,not interested
A3,2026-01-06,invited,done,Manager A3,
A3,2026-01-12,initial_meeting,done,Manager A3,
A3,2026-02-10,data_visit,planned,Engineer A3,
A4,2026-01-05,invited,done,C4,
A4,2026-01-10,initial_meeting,done,C4,
A4,2026-01-15,data_visit,done,C4,
A4,2026-01-20,data_received,done,C4,
A5,2026-01-05,invited,done,C5,
A5,2026-01-10,initial_meeting,done,C5,
A5,2026-01-15,data_visit,done,C5,
A5,2026-01-20,data_received,done,C5,
A6,2026-01-05,invited,done,C6,
A6,2026-01-10,initial_meeting,done,C6,
A6,2026-01-15,data_visit,done,C6,
A6,2026-01-20,data_received,done,C6,
A7,2026-01-05,invited,done,C7,
A7,2026-01-15,initial_meeting,declined,C7,busy
A7,2026-01-25,initial_meeting,done,C7,rescheduled
A7,2026-02-01,data_visit,done,C7,
A7,2026-02-05,data_received,done,C7,
A8,2026-01-05,invited,done,C8,
A8,2026-01-30,data_received,done,C8,sent by mail
B1,2026-01-05,invited,done,Buyer B1,
B1,2026-01-10,initial_meeting,done,Buyer B1,
B1,2026-01-20,data_visit,done,Buyer B1,
B1,2026-04-01,data_received,planned,Buyer B1,
B2,2026-03-15,invited,planned,Rep Bob,
B3,2026-01-05,invited,done,Buyer B3; Rep Bob,
B3,2026-01-25,data_visit,planned,Buyer B3,
B3,2026-01-15,initial_meeting,done,Buyer B3,
B3,2026-01-30,data_visit,done,Buyer B3,
B3,2026-02-05,data_received,done,Buyer B3,
B3,2026-02-20,review,planned,Buyer B3 and Engineer,
"""

EXTRA_CUSTOMERS = "".join(f"A{i},big,40,north\n" for i in range(4, 10))


@pytest.fixture(scope="module")
def logged(tmp_path_factory) -> cvm.Study:
    folder = _copy(tmp_path_factory.mktemp("logged"))
    with open(folder / "customers.csv", "a", encoding="utf-8") as f:
        f.write(EXTRA_CUSTOMERS)
    (folder / "fieldwork.csv").write_text(LOG, encoding="utf-8")
    return cvm.load_study(folder)


@pytest.fixture(scope="module")
def tiny() -> cvm.Study:
    return cvm.load_study(TINY)


# ---------------------------------------------------------------------------
# fieldwork counts


def test_fieldwork_counts_by_hand(logged):
    f = research.fieldwork_by_subsegment(logged).set_index("subsegment")
    cols = ["customers", "not_in_log", "invited", "agreed", "visited", "data_received", "declined"]
    assert f.loc["big", cols].tolist() == [9, 1, 8, 7, 5, 6, 1]
    assert f.loc["small", cols].tolist() == [3, 0, 2, 2, 2, 1, 0]
    # inputs on file: A1..A3 complete, A4..A9 have no measurements; B3 lacks [kWh, offering]
    assert f.loc["big", "inputs_complete"] == 3
    assert f.loc["small", "inputs_complete"] == 2
    assert (f["target_min"] == 6).all() and (f["target_max"] == 8).all()


def test_subsegment_below_six_is_flagged(logged):
    f = research.fieldwork_by_subsegment(logged).set_index("subsegment")
    # big has exactly six with data: not flagged; small has one
    assert not f.loc["big", "below_target"] and f.loc["big", "flag"] == ""
    assert f.loc["small", "below_target"]
    assert f.loc["small", "flag"] == "below the method's six to eight: 1 with data received"
    # raising the bar to seven flags big too
    f7 = research.fieldwork_by_subsegment(logged, target_min=7).set_index("subsegment")
    assert f7.loc["big", "below_target"]


def test_per_customer_last_and_next_step(logged):
    c = research.fieldwork_by_customer(logged, today=dt.date(2026, 3, 1)).set_index("customer_id")
    ts = pd.Timestamp
    expect = {
        # customer: stage, last_step, last_date, next_step, next_date, overdue, with
        "A1": ("data received", "data_received", ts("2026-01-20"), "", pd.NaT, False, "Plant manager A1; Rep Ann"),
        "A2": ("declined", "invited", ts("2026-01-05"), "", pd.NaT, False, "Owner A2"),
        "A3": ("agreed", "initial_meeting", ts("2026-01-12"), "data_visit", ts("2026-02-10"), True, "Engineer A3"),
        "A7": ("data received", "data_received", ts("2026-02-05"), "", pd.NaT, False, "C7"),
        "A8": ("data received", "data_received", ts("2026-01-30"), "", pd.NaT, False, "C8"),
        "A9": ("not in log", "", pd.NaT, "", pd.NaT, False, ""),
        "B1": ("visited", "data_visit", ts("2026-01-20"), "data_received", ts("2026-04-01"), False, "Buyer B1"),
        "B2": ("planned", "", pd.NaT, "invited", ts("2026-03-15"), False, "Rep Bob"),
        # the stale planned visit of 01-25 is skipped: the visit was done on 01-30
        "B3": ("data received", "data_received", ts("2026-02-05"), "review", ts("2026-02-20"), True,
               "Buyer B3 and Engineer"),
    }
    for cid, (stage, last, last_d, nxt, nxt_d, overdue, who) in expect.items():
        row = c.loc[cid]
        assert row["stage"] == stage, cid
        assert row["last_step"] == last, cid
        assert (pd.isna(row["last_date"]) and pd.isna(last_d)) or row["last_date"] == last_d, cid
        assert row["next_step"] == nxt, cid
        assert (pd.isna(row["next_date"]) and pd.isna(nxt_d)) or row["next_date"] == nxt_d, cid
        assert bool(row["overdue"]) is overdue, cid
        assert row["with"] == who, cid
    # one row per customer of customers.csv, in its order
    assert list(c.index) == list(logged.customers["customer_id"])
    # a planned date is not overdue on that very day
    same_day = research.fieldwork_by_customer(logged, today="2026-02-10").set_index("customer_id")
    assert not same_day.loc["A3", "overdue"]


def test_missing_by_contact_on_tiny(tiny):
    m = research.missing_by_contact(tiny)
    assert len(m) == 1
    row = m.iloc[0]
    got = (row["customer_id"], row["subsegment"], row["phrase"], row["needed_by"])
    assert got == ("B3", "small", "kWh, offering", "energy")
    # the latest `with` of B3 in tiny's fieldwork.csv
    assert row["with"] == "Buyer B3"
    assert row["stage"] == "visited"
    assert (row["next_step"], row["next_date"]) == ("data_received", pd.Timestamp("2026-03-01"))
    c = research.fieldwork_by_customer(tiny, today="2026-01-01").set_index("customer_id")
    assert c.loc["B3", "missing_inputs"] == "kWh, offering"
    assert c.loc["A1", "missing_inputs"] == ""


def test_missing_by_contact_customer_not_in_log(logged):
    m = research.missing_by_contact(logged)
    a9 = m[m["customer_id"] == "A9"]
    # A9 has no measurements at all; nobody to ask yet
    assert len(a9) > 0 and (a9["with"] == "").all() and (a9["stage"] == "not in log").all()
    b3 = m[m["customer_id"] == "B3"]
    assert b3["phrase"].tolist() == ["kWh, offering"]
    assert b3["with"].tolist() == ["Buyer B3 and Engineer"]


def test_study_without_fieldwork(tmp_path):
    folder = _copy(tmp_path)
    (folder / "fieldwork.csv").unlink()
    s = cvm.load_study(folder)
    assert s.fieldwork is None
    f = research.fieldwork_by_subsegment(s).set_index("subsegment")
    cols = ["customers", "not_in_log", "invited", "data_received", "inputs_complete"]
    assert f.loc["big", cols].tolist() == [3, 3, 0, 0, 3]
    assert f["below_target"].all()
    c = research.fieldwork_by_customer(s, today="2026-01-01")
    assert len(c) == 6 and (c["stage"] == "not in log").all() and not c["overdue"].any()
    m = research.missing_by_contact(s)
    assert m["customer_id"].tolist() == ["B3"] and m["with"].tolist() == [""]
    assert "No fieldwork.csv" in research.fieldwork_note(s)
    assert research.fieldwork_note(cvm.load_study(TINY)) == ""


# ---------------------------------------------------------------------------
# bad fieldwork rows


BAD_LOG = """customer_id,date,step,status,with,note
A1,2026-01-10,invited,done,x,
Z9,2026-01-11,invited,done,x,
A2,2026-01-12,coffee,done,x,
A3,2026-01-13,invited,maybe,x,
B1,next tuesday,invited,done,x,
B2,2026-02-30,invited,done,x,
"""


def test_bad_fieldwork_rows_are_located(tmp_path):
    folder = _copy(tmp_path)
    (folder / "fieldwork.csv").write_text(BAD_LOG, encoding="utf-8")
    report = validate(folder)
    assert not report.ok and report.study is None
    fw = [p for p in report.errors if p.file == "fieldwork.csv"]
    got = {(p.where, p.severity) for p in fw}
    assert got == {
        ("line 3, column customer_id", "error"),
        ("line 4, column step", "error"),
        ("line 5, column status", "error"),
        ("line 6, column date", "error"),
        ("line 7, column date", "error"),
    }
    msg = {p.where: p.message for p in fw}
    assert "Z9" in msg["line 3, column customer_id"]
    assert "coffee" in msg["line 4, column step"] and "initial_meeting" in msg["line 4, column step"]
    assert "maybe" in msg["line 5, column status"] and "declined" in msg["line 5, column status"]
    assert "next tuesday" in msg["line 6, column date"] and "YYYY-MM-DD" in msg["line 6, column date"]
    assert len(report.errors) == 5  # nothing else is wrong


def test_cvm_validate_exits_1_naming_fieldwork_line(tmp_path, capsys):
    folder = _copy(tmp_path)
    (folder / "fieldwork.csv").write_text(BAD_LOG, encoding="utf-8")
    rc = main(["validate", str(folder)])
    err = capsys.readouterr().err
    assert rc == 1
    assert "fieldwork.csv: line 4, column step" in err
    assert "fieldwork.csv: line 3, column customer_id" in err
    # the commands that need a loaded study fail the same way, without a traceback
    rc = main(["fieldwork", str(folder)])
    err = capsys.readouterr().err
    assert rc == 1 and "fieldwork.csv" in err and "Traceback" not in err


# ---------------------------------------------------------------------------
# per-subsegment parity: scrap is parity for small


def test_per_subsegment_parity_values(tiny):
    v = cvm.element_values(tiny)
    scrap = v[v["element_id"] == "scrap"].set_index("customer_id")
    assert scrap.loc[["A1", "A2", "A3"], "value"].tolist() == [400.0, 200.0, 600.0]
    # B1 measured 5 scrap tonnes avoided (= 1000 if it were a difference); parity makes it 0
    assert scrap.loc[["B1", "B2", "B3"], "value"].tolist() == [0.0, 0.0, 0.0]
    assert scrap.loc[["A1", "B1"], "status"].tolist() == ["difference", "parity"]
    assert (scrap.loc[["B1", "B2", "B3"], "missing_inputs"] == "").all()  # B2, B3 never measured it


def test_per_subsegment_parity_totals_and_summary(tiny):
    t = cvm.totals(tiny).set_index("customer_id")
    # B1: downtime 100 + energy 10 + service 50 + scrap 0 (not 1000) = 160; price 10
    assert t.loc["B1", "differential_value"] == pytest.approx(160.0)
    assert t.loc["B1", "net_value"] == pytest.approx(150.0)
    # B2: 300 + 20 + 0 + 0 = 320, although B2 never measured scrap
    assert t.loc["B2", "differential_value"] == pytest.approx(320.0)
    assert t.loc["B2", "net_value"] == pytest.approx(315.0)
    # A1: 600 + 40 + 150 + 400 = 1190
    assert t.loc["A1", "differential_value"] == pytest.approx(1190.0)

    s = cvm.summarize(tiny)
    scrap = s[s["element_id"] == "scrap"].set_index("subsegment")
    assert scrap.loc["small", "status"] == "parity"
    assert scrap.loc["small", "mean"] == 0.0 and scrap.loc["small", "n"] == 3
    assert scrap.loc["small", "sd"] == 0.0
    assert scrap.loc["big", "status"] == "difference"
    assert scrap.loc["big", "mean"] == pytest.approx(400.0) and scrap.loc["big", "n"] == 3
    assert scrap.loc["big", "sd"] == pytest.approx(np.std([400, 200, 600], ddof=1))
    assert scrap.loc["all", "mean"] == pytest.approx(200.0) and scrap.loc["all", "n"] == 6
    assert scrap.loc["all", "sd"] == pytest.approx(np.std([400, 200, 600, 0, 0, 0], ddof=1))


def test_per_subsegment_parity_what_if(tiny):
    cases = pd.DataFrame({"Scrap tonnes avoided": [5.0, 5.0]})
    out = cvm.evaluate(tiny, cases, subsegment=["big", "small"])
    assert out["scrap"].tolist() == [1000.0, 0.0]


# ---------------------------------------------------------------------------
# alternatives and hypotheses


def test_alternatives_per_subsegment(tiny):
    a = research.alternatives(tiny).set_index("subsegment")
    assert a.loc["small", "next_best_alternative"] == "Do nothing" and bool(a.loc["small", "own"])
    assert a.loc["big", "next_best_alternative"] == "Alternative Y" and not bool(a.loc["big", "own"])
    assert a.loc["small", "points_of_parity"] == "safety, scrap"
    assert a.loc["big", "points_of_parity"] == "safety"
    assert a.loc["big", "points_of_difference"] == "downtime, energy, scrap"
    assert a.loc["small", "points_of_contention"] == "service"
    assert a["customers"].tolist() == [3, 3]


def test_hypotheses_tidy(tiny):
    h = research.hypotheses(tiny)
    assert len(h) == 2 * 6
    scrap = h[h["element_id"] == "scrap"].set_index("subsegment")
    assert scrap.loc["big", "status"] == "difference" and not scrap.loc["big", "by_subsegment"]
    assert scrap.loc["small", "status"] == "parity" and scrap.loc["small", "by_subsegment"]
    assert h.loc[h["element_id"] == "brand", "status"].unique().tolist() == ["placeholder"]


def test_unknown_subsegment_in_status_by_subsegment(tmp_path):
    folder = _copy(tmp_path)
    y = (folder / "project.yaml").read_text(encoding="utf-8")
    (folder / "project.yaml").write_text(y.replace("      small: parity", "      smal: parity"), encoding="utf-8")
    report = validate(folder)
    errs = [p for p in report.errors if "status_by_subsegment" in p.where]
    assert len(errs) == 1
    assert errs[0].file == "project.yaml"
    assert errs[0].where == "elements[4].status_by_subsegment.smal (id=scrap)"
    assert "smal" in errs[0].message and "big" in errs[0].message and "small" in errs[0].message


# ---------------------------------------------------------------------------
# charter


def test_charter_days_left(tiny):
    assert tiny.charter.days_left(dt.date(2026, 6, 30)) == 365  # 2026-06-30 -> 2027-06-30
    t = research.charter_summary(tiny, today="2026-06-30").set_index("field")["value"]
    assert list(t.index) == ["Business issue", "Success definition", "Sponsor", "Team", "Time frame", "Days left"]
    assert t["Days left"] == "365"
    assert t["Business issue"] == "Is X worth a premium?"
    assert t["Team"] == "Engineer; Sales"
    assert t["Time frame"] == "2026-01-01 to 2027-06-30"
    past = research.charter_summary(tiny, today=dt.date(2027, 7, 10)).set_index("field")["value"]
    assert past["Days left"] == "-10 (ended 2027-06-30, 10 days ago)"
    assert "<dd>365</dd>" in research.charter_html(tiny, today="2026-06-30")
    assert "- **Days left:** 365" in research.charter_markdown(tiny, today="2026-06-30")


def test_charter_text_is_escaped(tmp_path):
    folder = _copy(tmp_path)
    y = (folder / "project.yaml").read_text(encoding="utf-8")
    y = y.replace("business_issue: Is X worth a premium?",
                  "business_issue: \"<script>alert(1)</script> & [link](http://x) *bold*\"")
    (folder / "project.yaml").write_text(y, encoding="utf-8")
    s = cvm.load_study(folder)
    h = research.charter_html(s, today="2026-06-30")
    assert "<script>" not in h and "&lt;script&gt;alert(1)&lt;/script&gt; &amp;" in h
    md = research.charter_markdown(s, today="2026-06-30")
    assert "\\<script\\>" in md and "\\[link\\](http://x)" in md and "\\*bold\\*" in md


def test_no_charter(tmp_path, capsys):
    folder = _copy(tmp_path)
    lines = (folder / "project.yaml").read_text(encoding="utf-8").splitlines(keepends=True)
    start = next(i for i, ln in enumerate(lines) if ln.startswith("charter:"))
    end = next(i for i in range(start + 1, len(lines)) if not lines[i].startswith(" "))
    (folder / "project.yaml").write_text("".join(lines[:start] + lines[end:]), encoding="utf-8")
    s = cvm.load_study(folder)
    assert s.charter is None
    t = research.charter_summary(s)
    assert t.empty and list(t.columns) == ["field", "value"]
    assert "No charter" in research.charter_html(s)
    assert "No charter" in research.charter_markdown(s)
    assert main(["charter", str(folder)]) == 0
    assert "No charter" in capsys.readouterr().out


@pytest.mark.parametrize("old,new,where", [
    ("  success: 10 customers won by end of year\n", "", "charter.success"),
    ("  end: 2027-06-30", "  end: 2025-06-30", "charter.end"),
])
def test_charter_validation(tmp_path, old, new, where):
    folder = _copy(tmp_path)
    y = (folder / "project.yaml").read_text(encoding="utf-8")
    assert old in y
    (folder / "project.yaml").write_text(y.replace(old, new), encoding="utf-8")
    report = validate(folder)
    assert [p.where for p in report.errors] == [where]
    assert report.errors[0].file == "project.yaml"


# ---------------------------------------------------------------------------
# CLI


def test_cli_fieldwork(tmp_path, capsys, logged):
    out_csv = tmp_path / "customers_fieldwork.csv"
    rc = main(["fieldwork", str(logged.path), "--today", "2026-03-01", "-o", str(out_csv)])
    cap = capsys.readouterr()
    assert rc == 0
    text = cap.out
    assert "as of 2026-03-01" in text
    assert "below the method's six to eight: 1 with data received" in text
    sub_lines = [ln.split() for ln in text.splitlines() if ln.strip().startswith(("big ", "small "))]
    assert sub_lines[0][:9] == ["big", "9", "1", "8", "7", "5", "6", "1", "3"]
    assert sub_lines[1][:9] == ["small", "3", "0", "2", "2", "2", "1", "0", "2"]
    assert "Missing inputs and who to ask:" in text and "Buyer B3 and Engineer" in text
    back = pd.read_csv(out_csv, keep_default_na=False)
    expect = research.fieldwork_by_customer(logged, today="2026-03-01")
    assert back["customer_id"].tolist() == expect["customer_id"].tolist()
    assert back["stage"].tolist() == expect["stage"].tolist()
    assert back.set_index("customer_id").loc["A3", "next_date"] == "2026-02-10"
    assert back.set_index("customer_id").loc["A3", "overdue"] in (True, "True")


def test_cli_charter(capsys):
    rc = main(["charter", str(TINY), "--today", "2026-06-30"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "Days left:" in out and out.rstrip().endswith("365")
    assert "Success definition: 10 customers won by end of year" in out
    assert main(["charter", str(TINY), "--today", "soon"]) == 1
    assert "not a date" in capsys.readouterr().err


def test_cli_guards_csv_and_terminal(tmp_path, capsys):
    folder = _copy(tmp_path)
    log = (TINY / "fieldwork.csv").read_text(encoding="utf-8").replace("Buyer B3,kWh", "=HYPERLINK(1) \x1b[31m,kWh")
    (folder / "fieldwork.csv").write_text(log, encoding="utf-8")
    out_csv = tmp_path / "fw.csv"
    assert main(["fieldwork", str(folder), "--today", "2026-03-01", "-o", str(out_csv)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out
    back = pd.read_csv(out_csv, keep_default_na=False).set_index("customer_id")
    assert back.loc["B3", "with"].startswith("'=HYPERLINK")


# ---------------------------------------------------------------------------
# plot


def test_plot_fieldwork_funnel(logged):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    from cvm_kit.plotting import plot_fieldwork_funnel

    df = research.fieldwork_by_subsegment(logged)
    ax = plot_fieldwork_funnel(df)
    try:
        assert len(ax.containers) == 4
        heights = [[b.get_height() for b in c] for c in ax.containers]
        # invited, agreed, visited, data received; per container: big, small
        assert heights == [[8, 2], [7, 2], [5, 2], [6, 1]]
        # bars of one subsegment sit side by side around its tick
        xs = [c[0].get_x() + c[0].get_width() / 2 for c in ax.containers]
        assert xs == sorted(xs) and -0.4 < xs[0] < xs[-1] < 0.4
        # the 6..8 band
        bands = [p for p in ax.patches if isinstance(p, Rectangle) and p not in [b for c in ax.containers for b in c]]
        assert len(bands) == 1
        # in the band's own coordinates: x in axes fraction (full width), y in data (6 to 8)
        verts = bands[0].get_patch_transform().transform(bands[0].get_path().vertices)
        assert (verts[:, 1].min(), verts[:, 1].max()) == (6.0, 8.0)
        assert (verts[:, 0].min(), verts[:, 0].max()) == (0.0, 1.0)
        labels = [t.get_text() for t in ax.get_xticklabels()]
        assert labels == ["big", "small\n(below 6)"]
        assert ax.get_ylabel() == "customers"
    finally:
        plt.close(ax.figure)


def test_a_customers_missing_inputs_come_from_its_own_log_rows_only(monkeypatch):
    import tempfile
    from pathlib import Path

    import cvm_kit as cvm
    from cvm_kit import research
    from cvm_kit.reporting.tables import customer_missing
    from tools.synthetic import write_random_study

    d = Path(tempfile.mkdtemp()) / "s"
    write_random_study(d, n_customers=30, n_elements=5, seed=3, missing_share=0.2)
    ids = pd.read_csv(d / "customers.csv", dtype=str)["customer_id"].tolist()
    steps = ["invited", "initial_meeting", "data_visit", "data_received", "review"]
    rows = [(cid, f"2026-10-{1 + k:02d}", step, "done" if k < i % 5 else "planned", f"contact {i}", "")
            for i, cid in enumerate(ids) for k, step in enumerate(steps[: 1 + i % 5])]
    rows += [("OUTSIDER", "2026-10-02", "invited", "declined", "someone", "not a customer of the study")]
    pd.DataFrame(rows, columns=["customer_id", "date", "step", "status", "with", "note"]).to_csv(
        d / "fieldwork.csv", index=False)
    for s in (cvm.load_study(cvm.example_path()), cvm.load_study(d)):
        whole = research.missing_by_contact(s)  # every customer's state: the oracle
        assert s.fieldwork is not None and len(whole)
        for cid in s.customers["customer_id"]:
            want = whole[whole["customer_id"] == cid].reset_index(drop=True)
            got = research.missing_by_contact(s, cid)
            if want.empty:  # nothing missing: the empty table of the same columns
                assert got.empty and list(got.columns) == list(want.columns)
            else:
                pd.testing.assert_frame_equal(got, want)
        calls: list[int] = []

        def counted(rows, calls=calls, real=research._customer_state):
            calls.append(1)
            return real(rows)

        monkeypatch.setattr(research, "_customer_state", counted)
        cid = whole["customer_id"].iloc[0]
        got = customer_missing(s, cid)
        assert len(calls) == 1  # one customer's state, however many customers the study has
        assert got.equals(whole.loc[whole["customer_id"] == cid, list(got.columns)].reset_index(drop=True))
        monkeypatch.undo()


def test_without_a_fieldwork_log_the_flag_counts_customers_with_figures(tiny_copy):
    """It read 'below the method's six to eight: 0 with data received' for every subsegment."""
    from cvm_kit.research import fieldwork_by_subsegment

    (tiny_copy / "fieldwork.csv").unlink()
    f = fieldwork_by_subsegment(cvm.load_study(tiny_copy)).set_index("subsegment")
    assert f.loc["big", "flag"] == "below the method's six to eight: 3 with figures in measurements.csv"
    assert bool(f.loc["small", "below_target"])
