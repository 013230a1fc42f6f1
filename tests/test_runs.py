"""The notebook series and the papermill runs (cvm_kit.runs, cvm report, cvm batch).

Slow tests execute real notebooks in fresh kernels on a copy of the tiny
study; each runs one scenario end to end so ``pytest -n 2`` spreads them over
both workers without repeating a run.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pandas as pd
import pytest
import yaml
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

import cvm_kit as cvm
from cvm_kit import runs
from cvm_kit.cli import main
from cvm_kit.errors import CvmError

ROOT = Path(__file__).resolve().parents[1]
TINY = Path(__file__).parent / "data" / "tiny"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")


@pytest.fixture
def study(tmp_path):
    dest = tmp_path / "tiny"
    shutil.copytree(TINY, dest)
    return dest


def _images(nb) -> int:
    return sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.outputs)


def _outputs_text(nb) -> str:
    parts = []
    for c in nb.cells:
        for o in c.get("outputs", []):
            parts.append(str(o.get("data", {}).get("text/html", "")))
            parts.append(str(o.get("data", {}).get("text/plain", "")))
            parts.append(str(o.get("text", "")))
    return "\n".join(parts)


def _rows_of(table: str) -> list[dict[str, str]]:
    heads = [re.sub(r" \(.*\)$", "", h) for h in re.findall(r"<th>(.*?)</th>", table)]
    return [dict(zip(heads, re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)))
            for row in re.findall(r"<tr>(.*?)</tr>", table.split("</thead>", 1)[-1], flags=re.S)]


def _table_rows(html_text: str, column: str) -> list[dict[str, str]]:
    """The rows (column -> cell text) of every HTML table in the outputs whose header has ``column``.

    A wide table shown as column groups (issue 13: no horizontal scrolling; each group repeats the key
    columns) is read back as the one table it is.
    """
    tables = []
    for block in re.findall(r'<div class="cvm-tables[^"]*">(.*?)</div>', html_text, flags=re.S):
        groups = [_rows_of(t) for t in re.findall(r"<table.*?</table>", block, flags=re.S)]
        tables.append([{k: v for g in row for k, v in g.items()} for row in zip(*groups)])
    rest = re.sub(r'<div class="cvm-tables[^"]*">.*?</div>', "", html_text, flags=re.S)
    tables += [_rows_of(t) for t in re.findall(r"<table.*?</table>", rest, flags=re.S)]
    return [row for rows in tables if rows and column in rows[0] for row in rows]


def _body(html_text: str) -> str:
    return html_text[html_text.index("<body"):]


def _assert_management_html(path: Path) -> str:
    """No code, no prompts, no script fetched from anywhere, figures embedded."""
    text = path.read_text(encoding="utf-8")
    body = _body(text)
    for marker in ("jp-InputPrompt", "jp-OutputPrompt", "jp-CodeMirrorEditor", "cm-editor", "highlight-ipynb",
                   "import cvm_kit"):
        assert marker not in body, (path.name, marker)
    assert not re.search(r"<script[^>]*\bsrc=", text), path.name
    assert not re.search(r"<link[^>]*https?://", text), path.name
    return text


# -- the templates ---------------------------------------------------------


def test_series_is_complete_and_stored_clean():
    stems = [p.stem for p in NOTEBOOKS]
    assert stems == sorted(list(runs.SERIES) + [runs.CUSTOMER_NOTEBOOK])
    assert stems == ["01_data_gathering", "02_estimates", "03_subsegment_variance", "04_sensitivity",
                     "05_drivers_and_prospects", "06_customer_report", "07_value_documenter", "08_business_case"]
    for path in NOTEBOOKS:
        nb = runs.load_template(path)
        nbformat.validate(nb)
        first = nb.cells[0]
        assert first.cell_type == "code" and first.metadata.get("tags") == ["parameters"], path.name
        for c in nb.cells:
            if c.cell_type == "code":
                assert c.outputs == [] and c.execution_count is None, path.name
        assert nb.metadata.get("title")
        assert "widgets" not in nb.metadata


def test_no_notebook_is_stored_with_outputs():
    """The series is kept as text sources; any .ipynb in the repository must carry no outputs."""
    stored = [p for p in ROOT.rglob("*.ipynb") if ".venv" not in p.parts and "reports" not in p.parts
              and ".ipynb_checkpoints" not in p.parts and "test-artifacts" not in p.parts]
    for path in stored:
        nb = nbformat.read(path, as_version=4)
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), f"{path} has outputs"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_parameter_is_documented(path):
    params = runs.notebook_parameters(path)
    assert {"study", "interactive", "today"} <= set(params)
    for name, p in params.items():
        assert p["help"], f"{path.name}: parameter {name} has no comment"
        assert p["type"] != "None", f"{path.name}: parameter {name} has no annotation"
    assert params["study"]["default"] == '""' and params["interactive"]["default"] == "True"
    # widgets only behind `interactive`
    nb = runs.load_template(path)
    for c in nb.cells:
        if "choose(" in c.source or "value_calculator(" in c.source:
            assert c.source.lstrip().startswith("if interactive"), path.name


@pytest.mark.slow
def test_papermill_help_notebook_lists_parameters(tmp_path):
    # papermill reads .ipynb: the text source converted as a papermill user would (jupytext --to ipynb)
    nb_path = tmp_path / "06.ipynb"
    nbformat.write(runs.load_template(runs.template_path(runs.CUSTOMER_NOTEBOOK)), nb_path)
    out = subprocess.run([str(Path(sys.executable).with_name("papermill")), "--help-notebook",
                          str(nb_path)], capture_output=True, text=True)
    assert out.returncode == 0
    for name in ("study", "customer_id", "interactive", "today"):
        assert f"{name}: " in out.stdout
    assert "the first customer" in out.stdout


@pytest.mark.slow
def test_customer_notebook_imports_stay_light(tmp_path):
    """Notebook 6's code, run in an IPython shell: no statsmodels, seaborn or scipy gets imported."""
    nb = runs.load_template(runs.template_path(runs.CUSTOMER_NOTEBOOK))
    # the inline backend needs a kernel; Agg draws the same figures here
    cells = [c.source.replace("%matplotlib inline", "import matplotlib\nmatplotlib.use('Agg')")
             for c in nb.cells if c.cell_type == "code"]
    cells.insert(1, f"study = {str(TINY)!r}\ncustomer_id = 'B3'\ninteractive = False")
    script = tmp_path / "run.py"
    script.write_text(
        "import json, sys\n"
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "sh = InteractiveShell.instance()\n"
        f"for src in {cells!r}:\n"
        "    r = sh.run_cell(src)\n"
        "    if not r.success: sys.exit(3)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('statsmodels', 'seaborn', 'scipy', 'sklearn'))))\n")
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
    assert "kWh, offering" in out.stdout  # the table of what is still missing from B3


# -- pieces that need no kernel ------------------------------------------


def test_export_html_is_static_and_self_contained(tmp_path):
    nb = new_notebook(cells=[
        new_code_cell("secret_code = 1", outputs=[new_output("display_data", data={"image/png": PNG,
                                                                                   "text/plain": "<Figure>"})]),
        new_markdown_cell("## Heading"),
        new_code_cell("print('x')", outputs=[new_output("stream", name="stderr", text="DeprecationWarning: noise"),
                                             new_output("stream", name="stdout", text="visible")]),
        new_code_cell("w", outputs=[new_output("display_data", data={
            "application/vnd.jupyter.widget-view+json": {"model_id": "abc", "version_major": 2, "version_minor": 0},
            "text/plain": "VBox()"})]),
    ])
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    out = runs.export_html(nb, tmp_path / "page.html", title="A <page>")
    text = _assert_management_html(out)
    assert "secret_code" not in text and "data:image/png;base64," + PNG[:20] in text
    assert "visible" in text and "DeprecationWarning" not in text
    assert "widget-view+json" not in text and "widget-state+json" not in text
    assert "<title>A &lt;page&gt;</title>" in text
    assert (out.stat().st_mode & 0o077) != 0  # readable by others (umask permitting), not 0600


def test_file_stems_are_safe_and_distinct():
    assert runs._file_stem("A1") == "A1"
    names = {runs._file_stem(c) for c in ["a/b", "a_b", "../x", "ü", "a b"]}
    assert len(names) == 5
    assert all(re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9._-]*", n) for n in names)


def test_customer_keys_follow_the_customers_rows(study):
    tpl = runs.template_path(runs.CUSTOMER_NOTEBOOK)
    before = runs._customer_keys(cvm.load_study(study), ["A1", "B1"], tpl, {})
    m = (study / "measurements.csv").read_text().replace("A1,Tonnes,50,data,high,", "A1,Tonnes,50,data,high,re-read")
    (study / "measurements.csv").write_text(m)
    after = runs._customer_keys(cvm.load_study(study), ["A1", "B1"], tpl, {})
    assert after["A1"] != before["A1"] and after["B1"] == before["B1"]
    # a changed value moves the means every report compares against: every key changes
    m = m.replace("B2,Tonnes,10,", "B2,Tonnes,12,")
    (study / "measurements.csv").write_text(m)
    again = runs._customer_keys(cvm.load_study(study), ["A1", "B1"], tpl, {})
    assert again["A1"] != after["A1"] and again["B1"] != after["B1"]
    # and so do the parameters
    assert runs._customer_keys(cvm.load_study(study), ["B1"], tpl, {"today": "2026-01-01"})["B1"] != again["B1"]


def test_bad_parameters_are_refused_before_running(study, tmp_path):
    with pytest.raises(CvmError, match="unknown parameter 'draws'"):
        runs.run_batch(study, ["A1"], parameters={"draws": 5}, out_dir=tmp_path / "o", progress=False)
    with pytest.raises(CvmError, match="set per job"):
        runs.run_batch(study, ["A1"], parameters={"customer_id": "B1"}, out_dir=tmp_path / "o", progress=False)
    with pytest.raises(CvmError, match="unknown notebook parameter"):
        runs.run_report(study, tmp_path / "r", parameters={"nonsense": 1})
    with pytest.raises(CvmError, match="does not exist"):
        runs.run_batch(tmp_path / "nowhere", progress=False)


def test_parameters_are_typed_as_the_notebooks_declare_them(study, tmp_path, capsys):
    from cvm_kit.reporting.series import _check_parameters

    series = [runs.template_path(t) for t in runs.SERIES]
    # text from the command line: a str parameter keeps its text (an id 001 is not the number 1)
    got = _check_parameters({"draws": "2000", "target_subsegment": "001", "adoption_share": "0.5",
                             "today": "2026-06-01"}, series)
    assert got == {"draws": 2000, "target_subsegment": "001", "adoption_share": 0.5, "today": "2026-06-01"}
    assert type(got["draws"]) is int
    with pytest.raises(CvmError, match=r"parameter 'draws' is a whole number .*got 'abc'"):
        _check_parameters({"draws": "abc"}, series)
    # the CLI refuses it before any notebook runs, without a traceback
    rc = main(["report", str(study), "--out", str(tmp_path / "r"), "-p", "draws", "abc"])
    err = capsys.readouterr().err
    assert rc == 1 and "parameter 'draws' is a whole number" in err and "Traceback" not in err
    assert not (tmp_path / "r").exists() and not (tmp_path / "r.failed").exists()
    from cvm_kit.reporting.batch import _batch_parameters

    assert _batch_parameters({"today": "2026-06-01", "interactive": "false"},
                             runs.template_path(runs.CUSTOMER_NOTEBOOK)) == {"today": "2026-06-01",
                                                                              "interactive": False}


def test_cli_help_lists_the_commands(capsys):
    assert main(["batch", "--help"]) == 0
    out = capsys.readouterr().out
    for opt in ("--customers", "--workers", "--timeout", "--force", "--scheduler", "--out"):
        assert opt in out
    assert main(["report", "--help"]) == 0
    assert "--out" in capsys.readouterr().out


# -- executing the notebooks -------------------------------------------------


@pytest.mark.slow
def test_report_runs_the_series(study, tmp_path):
    out = tmp_path / "reports" / "tiny"
    (out / "customers").mkdir(parents=True)
    (out / "customers" / "keep.txt").write_text("a batch's output is left alone")
    index = runs.run_report(study, out, parameters={"today": "2026-06-01", "draws": 2000}, workers=2, timeout=300)
    assert index == out.resolve() / "index.html"
    s = cvm.load_study(study)
    idx = index.read_text(encoding="utf-8")
    assert s.content_hash in idx and cvm.__version__ in idx
    # the parameter's repr, escaped (Jinja2 writes ' as &#39;)
    assert "<code>&#39;2026-06-01&#39;</code>" in idx and "<code>2000</code>" in idx
    assert "Study charter: Tiny test study" in idx and "Is X worth a premium?" in idx
    assert "customers/index.html" in idx or "cvm batch" in idx
    assert (out / "customers" / "keep.txt").exists()
    assert not list(out.parent.glob(".tiny.*")) and not (out.parent / "tiny.failed").exists()
    pages = {}
    for stem in runs.SERIES:
        nb = nbformat.read(out / f"{stem}.ipynb", as_version=4)
        assert _images(nb) > 0, stem
        p = nb.metadata.papermill.parameters
        assert p["study"] == str(study.resolve()) and p["interactive"] is False and p["today"] == "2026-06-01"
        assert nb.metadata.cvm_kit["study_content_hash"] == s.content_hash
        assert nb.metadata.cvm_kit["status"] == "ok"
        html_text = _assert_management_html(out / f"{stem}.html")
        imgs = re.findall(r'<img[^>]*src="data:image/png;base64,', _body(html_text))
        assert len(imgs) == _images(nb), stem
        assert f'href="{stem}.html"' in idx
        pages[stem] = _outputs_text(nb)
        assert "Days left" in pages[stem] and "394" in pages[stem]  # the charter opens every notebook
    # each notebook shows the tiny study's own figures
    assert "kWh, offering" in pages["01_data_gathering"] and "Buyer B3" in pages["01_data_gathering"]
    est = pages["02_estimates"]
    for net in ("1,090", "1,630", "315"):
        assert net in est
    assert "Lost hours are not recovered." in est and "placeholder" in est
    # issue 13: human column labels ("Finding", "Swing", "Chance net value > 0"), not snake_case names
    assert "Finding" in pages["03_subsegment_variance"] and "Welch" in pages["03_subsegment_variance"]
    assert "Swing" in pages["04_sensitivity"] and "Chance net value &gt; 0" in pages["04_sensitivity"]
    assert "A3" in pages["05_drivers_and_prospects"] and "P1" in pages["05_drivers_and_prospects"]
    # the value documenter: realized.csv has A1 downtime promised 600, realized 450 -> 450 / 600 = 0.75
    doc = _table_rows(pages["07_value_documenter"], "Realization rate")
    a1 = [r for r in doc if r.get("Customer") == "A1" and r.get("Element") == "Less downtime"]
    assert len(a1) == 1
    assert (a1[0]["Promised"], a1[0]["Realized"], a1[0]["Realization rate"], a1[0]["Gap"]) == ("600", "450", "0.75",
                                                                                                 "-150")
    assert "Value case history: A1" in pages["07_value_documenter"]
    # downtime across A1 and A2: (450 + 300) / (600 + 300)
    delivery = {r["Element"]: r for r in _table_rows(pages["07_value_documenter"], "Realized ÷ promised")}
    assert delivery["Less downtime"]["Realized ÷ promised"] == f"{750 / 900:.2f}"
    # the business case on big (default): 3 studied customers in the market x 0.25 = 0.75 adopt; no supplier
    # contribution given (issue 10.7: never the customers' price difference), so no profit is computed; no costs
    bc = pages["08_business_case"]
    assert "<h3>Profitability impact</h3>" in bc and "<td>Expected adopting customers</td><td>0.8</td>" in bc
    assert "<td>Incremental profit</td><td>not computed</td>" in bc
    assert bc.count("Break-even") == 1 and "class='cvm-note' style='color:#b03a2e'" not in bc  # once; no red
    assert "Milestones: targeting big" in bc and "not started" in bc


@pytest.mark.slow
def test_documenter_without_realized_and_business_case_parameters(study, tmp_path):
    """A study without realized.csv still gets its documenter page (a note); the case takes its parameters."""
    (study / "realized.csv").unlink()
    out = tmp_path / "r"
    runs.run_report(study, out, series=["07_value_documenter", "08_business_case"], workers=2, timeout=300,
                    parameters={"target_subsegment": "small", "market_customers": '{"small": 40, "big": 10}',
                                "adoption_share": 0.5, "price_change": 5, "change_costs": "Training: 20",
                                "contribution_per_customer": 7.5, "draws": 500})
    doc = _outputs_text(nbformat.read(out / "07_value_documenter.ipynb", as_version=4))
    assert "Nothing documented yet" in doc and "realized.csv" in doc
    _assert_management_html(out / "07_value_documenter.html")
    nb = nbformat.read(out / "08_business_case.ipynb", as_version=4)
    assert nb.metadata.papermill.parameters["market_customers"] == '{"small": 40, "big": 10}'
    bc = _outputs_text(nb)
    # the supplier's contribution 7.5 per adopter, + the price change 5 -> 12.5;
    # 40 x 0.5 = 20 adopters x 12.5 = 250, less 20 of training -> 230; break-even 20 / 12.5 = 1.6 adopters
    assert "<td>Expected adopting customers</td><td>20.0</td>" in bc
    assert "<td>Incremental profit</td><td>230</td>" in bc and "<td>Training</td>" in bc
    assert bc.count("Break-even") == 1 and "Break-even: 1.6 adopting customers" in bc
    assert "No market counts given" not in bc


@pytest.mark.slow
def test_batch_isolates_failures_and_skips_unchanged(study, tmp_path, capsys):
    out = tmp_path / "customers"
    r = runs.run_batch(study, ["A1", "B3", "ZZ"], out_dir=out, workers=2, timeout=300, progress=False,
                       parameters={"today": "2026-06-01"})
    status = {x.name: x.status for x in r.runs}
    assert status == {"A1": "ok", "B3": "ok", "ZZ": "failed"}
    assert [x.name for x in r.failed] == ["ZZ"] and not r.ok
    # the customer's numbers are in its report
    a1 = nbformat.read(out / "A1.ipynb", as_version=4)
    text = _outputs_text(a1)
    assert "1,090" in text and "1,073" in text and "737" in text  # net value, big mean, segment mean
    assert a1.metadata.papermill.parameters["customer_id"] == "A1" and _images(a1) >= 1
    b3 = _outputs_text(nbformat.read(out / "B3.ipynb", as_version=4))
    assert "kWh, offering" in b3 and "Buyer B3" in b3 and "B3: Service calls avoided" in b3
    _assert_management_html(out / "A1.html")
    # the failed notebook is kept with papermill's error cell; no page for it
    zz = nbformat.read(out / "ZZ.ipynb", as_version=4)
    assert "papermill-error-cell-tag" in zz.cells[0].metadata.get("tags", [])
    assert any(o.get("ename") == "CvmError" for c in zz.cells if c.cell_type == "code" for o in c.outputs)
    assert not (out / "ZZ.html").exists()
    summary = r.summary()
    assert "1 failed" in summary and "FAILED ZZ" in summary and str(out.resolve() / "ZZ.ipynb") in summary
    assert "'ZZ' is not in" in summary
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["customers"]["A1"]["status"] == "ok" and manifest["customers"]["ZZ"]["status"] == "failed"
    index = (out / "index.html").read_text()
    assert "href='A1.html'" in index and "failed" in index

    # unchanged inputs and template: skipped, no kernel started
    t0 = time.perf_counter()
    again = runs.run_batch(study, ["A1", "B3"], out_dir=out, progress=False, parameters={"today": "2026-06-01"})
    assert [x.status for x in again.runs] == ["skipped", "skipped"] and again.ok
    assert time.perf_counter() - t0 < 30

    # a change to B3's rows re-runs B3 only; --force re-runs the rest (through the CLI)
    m = study / "measurements.csv"
    m.write_text(m.read_text().replace("assumption,,team guess", "assumption,,team guess revised"))
    rc = main(["batch", str(study), "--customers", "A1", "--customers", "B3", "--out", str(out),
               "--no-progress", "-p", "today", "2026-06-01"])
    stdout = capsys.readouterr().out
    assert rc == 0 and "1 executed, 1 skipped" in stdout
    assert "team guess revised" in (out / "B3.html").read_text()
    rc = main(["batch", str(study), "--customers", "A1", "--out", str(out), "--no-progress", "--force",
               "-p", "today", "2026-06-01"])
    assert rc == 0 and "1 executed, 0 skipped" in capsys.readouterr().out

    # the CLI: a failure gives a summary naming it and a non-zero exit
    rc = main(["batch", str(study), "--customers", "ZZ", "--out", str(out), "--no-progress", "--timeout", "120"])
    stdout = capsys.readouterr().out
    assert rc == 1 and "FAILED ZZ" in stdout and "ZZ.ipynb" in stdout


@pytest.mark.slow
def test_a_notebook_over_its_time_limit_is_stopped(study, tmp_path):
    tpl = tmp_path / "slow.ipynb"
    nb = new_notebook(cells=[
        new_code_cell('study: str = ""  # study\ncustomer_id: str = ""  # who\ninteractive: bool = True  # widgets',
                      metadata={"tags": ["parameters"]}),
        new_code_cell("print('started')"),
        new_code_cell("import time\nwhile True:\n    time.sleep(0.1)"),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tpl)
    out = tmp_path / "out"
    t0 = time.perf_counter()
    r = runs.run_batch(study, ["A1", "B1"], out_dir=out, template=tpl, timeout=8, workers=2, progress=False)
    elapsed = time.perf_counter() - t0
    assert [x.status for x in r.runs] == ["timeout", "timeout"]
    assert elapsed < 90  # stopped, not hung (kernel start-up included)
    kept = nbformat.read(out / "A1.ipynb", as_version=4)
    assert "did not finish" in kept.cells[0].source and "time limit of 8 s" in kept.cells[0].source
    assert "started" in _outputs_text(kept)  # what ran before the limit is kept
    assert kept.metadata.cvm_kit["status"] == "timeout"
    assert not (out / "A1.html").exists()
    assert "FAILED A1 (timeout)" in r.summary()


def test_a_corrupted_study_fails_clearly(study, tmp_path, capsys, monkeypatch):
    """Issue 10 item 22: validated once, first; the located problem printed once; no notebook runs."""
    doc = yaml.safe_load((study / "project.yaml").read_text())
    doc["elements"][1]["equation"] = "[kWh, alternative] -"
    (study / "project.yaml").write_text(yaml.safe_dump(doc))
    out = tmp_path / "reports" / "tiny"
    out.mkdir(parents=True)
    (out / "index.html").write_text("previous report")

    def no_notebooks(*a, **k):
        raise AssertionError("a notebook was started on a study that does not validate")

    monkeypatch.setattr(runs, "_run_jobs", no_notebooks)
    rc = main(["report", str(study), "--out", str(out), "--timeout", "120"])
    err = capsys.readouterr().err
    assert rc == 1
    assert "project.yaml" in err and "kWh, alternative" in err and "Traceback" not in err
    assert err.count("kWh, alternative] -") == 1  # once, not once per notebook
    assert (out / "index.html").read_text() == "previous report"  # whole or not at all
    assert not (out.parent / "tiny.failed").exists() and not list(out.parent.glob(".tiny.*"))
    # a batch stops the same way, with or without named customers
    with pytest.raises(cvm.StudyError, match="kWh, alternative"):
        runs.run_batch(study, out_dir=tmp_path / "c", progress=False)
    rc = main(["batch", str(study), "--customers", "A1", "--out", str(tmp_path / "c"), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 1 and err.count("kWh, alternative] -") == 1
    assert not (tmp_path / "c").exists() or not any((tmp_path / "c").iterdir())


@pytest.mark.slow
def test_batch_on_a_dask_cluster(study, tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, protocol="tcp",
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        r = runs.run_batch(study, ["A1", "B2"], out_dir=tmp_path / "dask", scheduler=cluster.scheduler_address,
                           timeout=300, progress=False)
    assert [x.status for x in r.runs] == ["ok", "ok"], r.summary()
    assert r.scheduler == cluster.scheduler_address and "on tcp://127.0.0.1" in r.summary()
    assert "1,090" in _outputs_text(nbformat.read(tmp_path / "dask" / "A1.ipynb", as_version=4))
    assert (tmp_path / "dask" / "B2.html").exists()


# -- issue 11: the reporting layer behind the compatibility module ---------------------------------------


def test_runs_is_a_compatibility_module_whose_patches_reach_the_code(monkeypatch):
    from cvm_kit.reporting import batch, execute, export, pool, series

    assert runs.run_report is series.run_report and runs.run_batch is batch.run_batch
    assert runs._LIVE is execute._LIVE and runs._LIVE_LOCK is execute._LIVE_LOCK  # cvm_kit.warm shares them
    original = pool._run_jobs

    def fake(*a, **k):
        raise AssertionError("patched")

    with monkeypatch.context() as m:
        m.setattr(runs, "_run_jobs", fake)
        assert series._run_jobs is fake and batch._run_jobs is fake and pool._run_jobs is fake
        m.setattr(runs, "_html_body", fake)
        assert export._html_body is fake and execute._html_body is fake
    assert series._run_jobs is original and batch._run_jobs is original and runs._run_jobs is original
    assert set(execute.Job.__annotations__) == {"name", "template", "notebook", "html", "parameters", "timeout",
                                                "kernel_name", "provenance", "title", "banner"}
    assert set(execute.Outcome.__annotations__) == {"name", "status", "notebook", "html", "seconds", "error"}


def test_exported_page_inlines_the_one_stylesheet(tmp_path):
    from cvm_kit import report
    from cvm_kit.reporting.render import stylesheet

    table = report.table_html(pd.DataFrame({"net_value": [1090.0, float("nan")]}), money=["net_value"])
    nb = new_notebook(cells=[new_markdown_cell("# A page"), new_code_cell("x", outputs=[
        new_output("display_data", data={"text/html": table, "text/plain": "t"})])])
    page = runs.export_html(nb, tmp_path / "page.html", title="A page").read_text(encoding="utf-8")
    assert stylesheet() in page and "table.cvm-table" in page
    assert "<th>Net value</th>" in page and ">1,090<" in page and "— : does not apply or not available" in page
    assert not re.search(r"<script[^>]*\bsrc=", page) and "<title>A page</title>" in page


def test_a_report_replaces_the_pages_of_the_last_one(tmp_path):
    """A notebook dropped from `--notebooks DIR` leaves no page behind: the folder holds one report."""
    from cvm_kit.reporting.series import _publish

    out = tmp_path / "out"
    (out / "customers").mkdir(parents=True)
    (out / "customers" / "C1.html").write_text("kept")
    (out / "notes.txt").write_text("the analyst's own file: kept")

    def run(*pages: str) -> None:
        tmp = tmp_path / f"tmp{len(list(tmp_path.iterdir()))}"
        tmp.mkdir()
        for name in (*pages, "index.html", "management_pack.html"):
            (tmp / name).write_text(name)
        _publish(tmp, out)

    run("01_a.html", "01_a.ipynb", "07_doc.html", "07_doc.ipynb")
    run("01_a.html", "01_a.ipynb", "09_mine.html", "09_mine.ipynb")
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        "01_a.html", "01_a.ipynb", "09_mine.html", "09_mine.ipynb", "customers", "index.html",
        "management_pack.html", "notes.txt"]
    assert (out / "customers" / "C1.html").read_text() == "kept"


def test_a_batch_after_the_report_links_the_report_to_the_customer_reports(tmp_path):
    from cvm_kit.reporting.batch import _link_from_report
    from cvm_kit.reporting.render import render

    page = render("index.html.j2", study_name="S", offering="X", alternative="Y", segment="Z", summary="",
                  pages=[], customers=False, provenance="", pdf=None)
    assert "run <code>cvm batch</code>" in page and 'href="customers/index.html"' not in page
    (tmp_path / "index.html").write_text(page)
    (tmp_path / "customers").mkdir()
    _link_from_report(tmp_path / "customers")
    linked = (tmp_path / "index.html").read_text()
    assert 'href="customers/index.html"' in linked and "run <code>cvm batch</code>" not in linked
    assert linked.replace(linked[linked.index("<!-- cvm:customers"):linked.index("<!-- /cvm:customers -->")], "") \
        == page.replace(page[page.index("<!-- cvm:customers"):page.index("<!-- /cvm:customers -->")], "")


def test_the_index_lists_a_page_by_the_title_it_shows(tmp_path):
    """An edited notebook's report.header(s, "2. Estimates (my edition)") names its page in the index."""
    import cvm_kit as cvm
    from cvm_kit.reporting.headers import header_html
    from cvm_kit.reporting.series import _title

    s = cvm.load_study(cvm.example_path())
    nb = new_notebook(cells=[new_code_cell("report.header(...)", outputs=[new_output(
        "display_data", data={"text/html": header_html(s, "2. Estimates & more (my edition)"), "text/plain": "x"})])])
    nb.metadata["title"] = "2. Estimates and the value summary"  # the template's own, left as it was
    assert _title(tmp_path / "02_estimates.ipynb", nb) == "2. Estimates & more (my edition)"
    nb.cells[0].outputs = []
    assert _title(tmp_path / "02_estimates.ipynb", nb) == "2. Estimates and the value summary"
