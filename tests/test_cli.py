"""Tests of the ``cvm`` command (foundation commands: validate, values, summary, totals, tables).

Most run ``cvm_kit.cli.main`` in-process with capsys; the traceback and
import-weight checks run a fresh interpreter.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from cvm_kit.cli import main

RUN_CLI = [sys.executable, "-c", "from cvm_kit.cli import main; raise SystemExit(main())"]
IDS = ["A1", "A2", "A3", "B1", "B2", "B3"]


def run(capsys, *args: str) -> tuple[int, str, str]:
    rc = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return rc, out, err


def break_study(folder: Path) -> None:
    """Three distinct errors in three files."""
    c = folder / "customers.csv"
    c.write_text(c.read_text().replace("B1,small", "B1,smal"))
    m = folder / "measurements.csv"
    m.write_text(m.read_text().replace("A2,Tonnes,30,data", "A2,Tonnes,30,guess"))
    p = folder / "project.yaml"
    p.write_text(p.read_text().replace("  end: 2027-06-30", "  end: 2025-12-31"))


# ---------------------------------------------------------------------------
# validate


def test_validate_ok_prints_summary(capsys, tiny_path):
    rc, out, err = run(capsys, "validate", tiny_path)
    assert rc == 0
    assert "big 3, small 3" in out
    assert "total 6" in out
    assert "parity 1, difference 3, contention 1, placeholder 1" in out
    assert "56 of 57" in out  # inputs coverage
    # the coverage warning is shown too
    assert "B3" in out and "[kWh, offering]" in out
    assert "Traceback" not in out + err


def test_validate_broken_lists_every_problem_exit_1(capsys, tiny_copy):
    break_study(tiny_copy)
    rc, out, err = run(capsys, "validate", tiny_copy)
    assert rc == 1
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(lines) == 3, err
    assert any("customers.csv: line 5, column subsegment" in ln and "'smal'" in ln for ln in lines)
    assert any("measurements.csv: line 22, column source" in ln and "'guess'" in ln for ln in lines)
    assert any("project.yaml: charter.end" in ln for ln in lines)
    assert "3 error(s)" in err


def test_validate_broken_subprocess_no_traceback(tiny_copy):
    break_study(tiny_copy)
    r = subprocess.run(RUN_CLI + ["validate", str(tiny_copy)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 1
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout
    assert sum(ln.startswith("error:") for ln in r.stderr.splitlines()) == 3


def test_validate_non_numeric_value_subprocess_no_traceback(tiny_copy):
    m = tiny_copy / "measurements.csv"
    m.write_text(m.read_text().replace("A2,Tonnes,30", 'A2,Tonnes,"1,200"'))
    r = subprocess.run(RUN_CLI + ["validate", str(tiny_copy)], capture_output=True, text=True, timeout=120)
    assert "Traceback" not in r.stderr
    assert r.returncode == 1
    assert "measurements.csv: line 22, column value" in r.stderr and "thousands" in r.stderr


@pytest.mark.parametrize("command", ["values", "summary", "totals"])
def test_commands_on_broken_study_exit_1_listing_problems(capsys, tiny_copy, command):
    break_study(tiny_copy)
    rc, out, err = run(capsys, command, tiny_copy)
    assert rc == 1
    assert out == ""
    assert "Traceback" not in err
    assert "'smal'" in err and "'guess'" in err and "charter.end" in err


def test_validate_missing_folder(capsys, tmp_path):
    rc, out, err = run(capsys, "validate", tmp_path / "nope")
    assert rc == 1 and "no such study" in err


# ---------------------------------------------------------------------------
# values


def test_values_csv(capsys, tiny_path):
    rc, out, err = run(capsys, "values", tiny_path)
    assert rc == 0
    df = pd.read_csv(io.StringIO(out), keep_default_na=False)
    assert list(df.columns) == ["customer_id", "subsegment", "element_id", "status", "value", "weakest_source"]
    assert len(df) == 30
    b3 = df[(df["customer_id"] == "B3") & (df["element_id"] == "energy")].iloc[0]
    assert b3["value"] == ""  # empty, never 0
    a3 = df[(df["customer_id"] == "A3") & (df["element_id"] == "downtime")].iloc[0]
    assert float(a3["value"]) == 1080.0 and a3["weakest_source"] == "data"
    b1 = df[(df["customer_id"] == "B1") & (df["element_id"] == "downtime")].iloc[0]
    assert b1["weakest_source"] == "estimate"
    # stderr names the customer and the phrase it lacks
    assert "B3" in err and "[kWh, offering]" in err and "energy" in err


def test_values_output_file(capsys, tiny_path, tmp_path):
    out_file = tmp_path / "v.csv"
    rc, out, err = run(capsys, "values", tiny_path, "-o", out_file)
    assert rc == 0 and out == ""
    df = pd.read_csv(out_file)
    assert len(df) == 30 and df["value"].isna().sum() == 1


# ---------------------------------------------------------------------------
# summary


def test_summary_numbers(capsys, tiny_path, tmp_path):
    out_file = tmp_path / "summary.csv"
    rc, _, _ = run(capsys, "summary", tiny_path, "-o", out_file)
    assert rc == 0
    s = pd.read_csv(out_file)
    assert list(s.columns) == ["element_id", "status", "subsegment", "n", "mean", "sd", "se", "ci_low", "ci_high",
                               "min", "max", "share_from_data"]
    s = s.set_index(["element_id", "subsegment"])
    x = np.array([600, 300, 1080, 100, 300, 200], float)
    d = s.loc[("downtime", "all")]
    assert d["n"] == 6 and d["mean"] == pytest.approx(430.0)
    assert d["sd"] == pytest.approx(np.std(x, ddof=1))
    assert d["se"] == pytest.approx(np.std(x, ddof=1) / np.sqrt(6))
    lo, hi = stats.t.interval(0.95, 5, loc=x.mean(), scale=stats.sem(x))
    assert d["ci_low"] == pytest.approx(lo) and d["ci_high"] == pytest.approx(hi)
    assert (d["min"], d["max"]) == (100.0, 1080.0)
    assert d["share_from_data"] == pytest.approx(5 / 6)
    e = s.loc[("energy", "small")]
    assert e["n"] == 2 and e["mean"] == pytest.approx(15.0)
    lo, hi = stats.t.interval(0.95, 1, loc=15.0, scale=stats.sem([10.0, 20.0]))
    assert e["ci_low"] == pytest.approx(lo) and e["ci_high"] == pytest.approx(hi)
    assert sorted(set(s.index.get_level_values("subsegment"))) == ["all", "big", "small"]
    assert "brand" not in set(s.index.get_level_values("element_id"))


# ---------------------------------------------------------------------------
# totals


def test_totals_csv(capsys, tiny_path):
    rc, out, err = run(capsys, "totals", tiny_path)
    assert rc == 0
    t = pd.read_csv(io.StringIO(out), keep_default_na=False)
    assert list(t.columns) == ["customer_id", "subsegment", "differential_value", "contention_value",
                               "price_difference", "net_value"]
    t = t.set_index("customer_id").reindex(IDS)
    assert [float(v) for v in t["net_value"].iloc[:5]] == [1090.0, 500.0, 1630.0, 150.0, 315.0]
    assert t.loc["B3", "net_value"] == ""
    assert t.loc["B3", "differential_value"] == ""
    assert float(t.loc["B3", "contention_value"]) == 200.0
    assert [float(v) for v in t["price_difference"]] == [100.0, 30.0, 200.0, 10.0, 5.0, 10.0]
    assert "B3" in err


# ---------------------------------------------------------------------------
# tables (the main job)


def test_tables_writes_every_table(capsys, tiny_path, tmp_path):
    folder = tmp_path / "reports" / "tiny" / "tables"
    rc, out, _ = run(capsys, "tables", tiny_path, "--out", folder)
    assert rc == 0
    names = sorted(p.name for p in folder.iterdir())
    for want in ("values.csv", "summary.csv", "totals.csv", "value_summary.csv", "assumptions.csv"):
        assert want in names
    assert not [n for n in names if n.startswith(".")]  # no temporary files left
    t = pd.read_csv(folder / "totals.csv").set_index("customer_id")
    assert t.loc["A3", "net_value"] == 1630.0


# ---------------------------------------------------------------------------
# import weight


HEAVY = ["statsmodels", "seaborn", "matplotlib", "papermill"]


def test_help_and_validate_stay_light(tiny_path):
    code = (
        "import io, json, sys, contextlib\n"
        "from cvm_kit.cli import main\n"
        "buf = io.StringIO()\n"
        "with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):\n"
        "    rc_help = main(['--help'])\n"
        "after_help = sorted(m for m in sys.modules if m.split('.')[0] in HEAVY)\n"
        "with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):\n"
        "    rc_val = main(['validate', PATH])\n"
        "after_validate = sorted(m for m in sys.modules if m.split('.')[0] in HEAVY)\n"
        "print(json.dumps([rc_help, rc_val, after_help, after_validate, buf.getvalue()]))\n"
    ).replace("HEAVY", repr(HEAVY)).replace("PATH", repr(str(tiny_path)))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    rc_help, rc_val, after_help, after_validate, text = json.loads(r.stdout.strip().splitlines()[-1])
    assert rc_help == 0 and "validate" in text and "summary" in text
    assert rc_val == 0 and "big 3, small 3" in text
    assert after_help == []
    assert after_validate == []


# ---------------------------------------------------------------------------
# outputs whole or not at all


def test_output_into_new_deep_folder(capsys, tiny_path, tmp_path):
    target = tmp_path / "a" / "b" / "c" / "totals.csv"
    rc, _, err = run(capsys, "totals", tiny_path, "-o", target)
    assert rc == 0
    assert len(pd.read_csv(target)) == 6
    assert sorted(p.name for p in target.parent.iterdir()) == ["totals.csv"]


def test_unwritable_output_fails_cleanly(capsys, tiny_path, tmp_path):
    blocker = tmp_path / "afile"
    blocker.write_text("not a folder")
    target = blocker / "sub" / "values.csv"
    rc, out, err = run(capsys, "values", tiny_path, "-o", target)
    assert rc == 1
    assert err.splitlines()[-1].startswith("error:")
    assert "Traceback" not in err
    assert not target.exists()
    assert blocker.read_text() == "not a folder"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


def test_output_onto_a_folder_fails_without_leftovers(capsys, tiny_path, tmp_path):
    target = tmp_path / "out.csv"
    target.mkdir()
    rc, _, err = run(capsys, "summary", tiny_path, "-o", target)
    assert rc == 1 and "error:" in err
    assert target.is_dir() and list(target.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]  # no temporary file left behind


def test_failed_command_keeps_previous_output(capsys, tiny_copy, tmp_path):
    target = tmp_path / "values.csv"
    target.write_text("old\n")
    break_study(tiny_copy)
    rc, _, _ = run(capsys, "values", tiny_copy, "-o", target)
    assert rc == 1
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny", "values.csv"]


def test_output_text_is_guarded(capsys, tiny_copy, tmp_path):
    """A customer id that a spreadsheet would run as a formula is neutralised in CSV output."""
    for name in ("customers.csv", "measurements.csv"):
        p = tiny_copy / name
        p.write_text(p.read_text().replace("B2,", "=B2,"))
    rc, out, _ = run(capsys, "values", tiny_copy)
    assert rc == 0
    df = pd.read_csv(io.StringIO(out), keep_default_na=False)
    assert "'=B2" in set(df["customer_id"])
    assert not df["customer_id"].str.startswith("=").any()


def test_values_explains_every_empty_value(capsys, tiny_copy):
    p = tiny_copy / "project.yaml"
    p.write_text(p.read_text().replace('"[Scrap tonnes avoided] * 200"',
                                       '"[Scrap tonnes avoided] * 200 / ([Price, offering] - [Price, alternative])"'))
    m = tiny_copy / "measurements.csv"
    m.write_text(m.read_text().replace('A2,"Price, offering",11', 'A2,"Price, offering",10'))  # equal prices
    rc, out, err = run(capsys, "values", tiny_copy)
    assert rc == 0
    df = pd.read_csv(io.StringIO(out), keep_default_na=False)
    a2 = df[(df["customer_id"] == "A2") & (df["element_id"] == "scrap")].iloc[0]
    assert a2["value"] == ""  # never a silent 0 or inf
    assert any(ln.startswith("A2:") and "scrap" in ln for ln in err.splitlines()), err


def test_validate_default_study_is_the_example(capsys, example_path):
    rc, out, err = run(capsys, "validate")
    assert rc == 0, err
    assert out.startswith("Study: ") and "Customers: " in out


def test_values_stderr_brackets_each_missing_phrase(capsys, tiny_copy):
    m = tiny_copy / "measurements.csv"
    m.write_text(m.read_text().replace("B3,Energy price,0.2,data,,\n", ""))
    rc, _, err = run(capsys, "values", tiny_copy)
    assert rc == 0
    line = next(ln for ln in err.splitlines() if ln.startswith("B3:") and "energy" in ln)
    assert "[kWh, offering]" in line and "[Energy price]" in line


def test_without_study_the_folder_it_runs_in_else_the_example(tmp_path, tiny_path, monkeypatch, capsys):
    import shutil

    from cvm_kit.cli import main

    here = tmp_path / "mine"
    shutil.copytree(tiny_path, here)
    monkeypatch.chdir(here)
    assert main(["validate"]) == 0
    out, err = capsys.readouterr()
    assert "Tiny test study" in out and "bundled example" not in err  # it used to check the example instead
    monkeypatch.chdir(tmp_path)
    assert main(["validate"]) == 0
    out, err = capsys.readouterr()
    assert "no STUDY given and no project.yaml here: using the bundled example study" in err
