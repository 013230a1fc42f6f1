"""Issue 14 (speed of ``cvm report`` on the warm engine): what the faster paths must keep exactly as they were.

The executive summary made on a warm kernel is the summary the parent would
make; the kernel's imports read from a template's Python source are those of
its cells; the series is handed to the pool longest first (the pages keep their
order); a figure shown by ``report.show`` is the same PNG without its extra draw.
"""

from __future__ import annotations

import io
import sys

import pytest

from cvm_kit import runs
from cvm_kit.reporting import series, warm
from cvm_kit.reporting.notebooks import CUSTOMER_NOTEBOOK, SERIES, template_path


@pytest.fixture
def study(tiny_copy):
    return tiny_copy


@pytest.mark.slow
def test_the_summary_made_on_a_warm_kernel_is_the_parents(study, fresh_pool):
    from cvm_kit.reporting.summary import executive_html
    from cvm_kit.study import load_study

    templates = [str(template_path(t)) for t in SERIES]
    hot = warm.summary_job({"study": str(study.resolve()), "templates": templates, "timeout": 120})
    cold = executive_html(load_study(study.resolve()))
    assert hot == cold  # same text, same figures to the byte
    assert hot.count("data:image/png;base64,") == 2  # one waterfall per subsegment of the tiny study
    assert fresh_pool.started == 1 and len(fresh_pool.kernels) == 1  # the kernel went back to the pool


def test_imports_read_from_the_source_are_those_of_the_cells():
    from cvm_kit.reporting.notebooks import load_template

    for name in (*SERIES, CUSTOMER_NOTEBOOK):
        path = str(template_path(name))
        by_cell: list = []
        for cell in load_template(path).cells:
            if cell.cell_type == "code":
                by_cell.extend(x for x in warm._import_statements(cell.source) if x not in by_cell)
        got = warm.template_imports([path])
        assert got[:len(by_cell)] == by_cell, name
        # then only the libraries the imported cvm_kit modules load on first use
        extra = {m for m, _ in got[len(by_cell):]}
        expected = {lib for m, _ in by_cell for lib in warm._LIBRARIES.get(m, ())}
        assert extra == expected, name
        assert warm._spec_name(path) == warm._kernel_name(warm._template(path), None) == "python3"
    got = {m for m, _ in warm.template_imports([str(template_path("03_subsegment_variance"))])}
    assert {"scipy.stats", "statsmodels.stats.multitest"} <= got
    assert not {m for m, _ in warm.template_imports([str(template_path(CUSTOMER_NOTEBOOK))])} & {
        "scipy.stats", "seaborn"}  # the customer report loads no statistics it does not use


def test_the_series_is_handed_out_longest_first_and_published_in_order(study, tmp_path, monkeypatch):
    seen: list[str] = []

    def fake(jobs, **kw):
        seen.extend(j["name"] for j in jobs)
        assert kw["executor"] is None and kw["engine"] == "papermill"
        assert kw["after_at"] == len(jobs) - 1  # a warm run's summary goes ahead of 08 (cheaper than it)
        for j in reversed(jobs):  # any completion order
            yield {"name": j["name"], "status": "failed", "notebook": None, "html": None, "seconds": 0.0,
                   "error": "not run"}

    monkeypatch.setattr(runs, "_run_jobs", fake)
    with pytest.raises(runs.RunError) as err:
        runs.run_report(study, tmp_path / "r", engine="papermill", workers=2, progress=False)
    assert seen == ["04_sensitivity", "03_subsegment_variance", "02_estimates", "01_data_gathering",
                    "07_value_documenter", "05_drivers_and_prospects", "08_business_case"]
    assert [r.name for r in err.value.runs] == list(SERIES)  # the report's own order


def test_an_early_pool_is_stopped_when_no_notebook_runs(study, tmp_path, monkeypatch):
    started = []
    real = series._start_pool

    def spy(*a, **k):
        p = real(*a, **k)
        started.append(p)
        return p

    monkeypatch.setattr(series, "_start_pool", spy)
    monkeypatch.setattr(runs, "_run_jobs", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("stop")))
    with pytest.raises(RuntimeError, match="stop"):
        runs.run_report(study, tmp_path / "r", workers=2, progress=False)
    assert len(started) == 1
    procs = list((started[0]._processes or {}).values())
    assert all(not p.is_alive() for p in procs)


def test_show_draws_once_and_the_png_is_unchanged(monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cvm_kit.plotting import new_axes
    from cvm_kit.reporting import display

    def figure():
        ax = new_axes()
        ax.barh(["a much longer label", "b"], [1.0, -2.0])
        ax.set_title("Swing")
        return ax

    shown = []
    monkeypatch.setattr(display, "_display", lambda obj: shown.append(obj))
    ax = figure()
    draws = []
    ax.figure.canvas.mpl_connect("draw_event", lambda e: draws.append(1))
    display.show(ax)
    assert len(draws) == 1
    ref = figure().figure
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref.tight_layout()  # the layout show() makes, then savefig with the layout engine left in place
    buf = io.BytesIO()
    ref.savefig(buf, format="png", dpi=100, facecolor="white")
    plt.close(ref)
    import numpy as np
    from PIL import Image

    # the same picture, pixel for pixel, written as RGB (the figure is opaque)
    got, want = Image.open(io.BytesIO(shown[0].data)), Image.open(buf)
    assert got.mode == "RGB" and want.mode == "RGBA"
    assert np.array_equal(np.asarray(got), np.asarray(want.convert("RGB")))


def test_work_queued_by_after_goes_where_after_at_says():
    from concurrent.futures import Future

    from cvm_kit.reporting.pool import _run_jobs

    order: list[str] = []

    class Recorder:  # a pool that records what is queued, in order, and runs nothing
        def submit(self, fn, job):
            order.append(job["name"] if isinstance(job, dict) and "name" in job else str(job))
            f: Future = Future()
            f.set_result({"name": order[-1], "status": "ok", "notebook": None, "html": None, "seconds": 0.0,
                          "error": ""})
            return f

        def shutdown(self, wait=True):
            pass

    jobs = [{"name": n, "template": "t"} for n in ("a", "b", "c", "d")]
    for at, want in ((2, ["a", "b", "S", "c", "d"]), (None, ["a", "b", "c", "d", "S"]), (0, ["S", "a", "b", "c", "d"])):
        order.clear()
        out = list(_run_jobs(jobs, workers=2, scheduler=None, progress=False, desc="t", engine="papermill",
                             executor=Recorder(), after=lambda pool: pool.submit(None, "S"), after_at=at))
        assert order == want
        assert sorted(o["name"] for o in out) == ["a", "b", "c", "d"]  # only the jobs' outcomes are yielded


def _stock_exporter():
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    from cvm_kit.reporting import export
    from cvm_kit.reporting.render import template_text

    page = {"cvm_report.html.j2": template_text(export._PAGE_TEMPLATE)}
    return HTMLExporter(template_name="lab", exclude_input=True, exclude_input_prompt=True,
                        exclude_output_prompt=True, extra_loaders=[DictLoader(page)],
                        template_file="cvm_report.html.j2")


def _varied_notebook():
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

    png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
    html = ("<div class='jp-OutputArea-output x' title='a > b'>user div</div><IMG SRC='u.png'>"
            "<div class=\"jp-OutputArea-output\" tabindex=\"-1\">own tabindex</div>"
            "<table class='cvm-table'><tr><td data-x=\"1>0\">1 &lt; 2</td></tr></table>")
    return new_notebook(cells=[
        new_markdown_cell("# Title\n\nSome *text* and an image: ![pic](data:image/png;base64," + png + ")"),
        new_code_cell("x", outputs=[
            new_output("display_data", data={"text/html": html, "text/plain": "t"}),
            new_output("display_data", data={"image/png": png, "text/plain": "<Figure>"},
                       metadata={"alt": "Net value by customer"}),
            new_output("display_data", data={"image/png": png, "text/plain": "<Figure>"}),
            new_output("stream", name="stdout", text="printed <b>not bold</b>\n")]),
        new_code_cell("y", outputs=[new_output("execute_result", data={"text/plain": "42"}, execution_count=1)]),
    ], metadata={"language_info": {"name": "python"}})


def test_the_page_export_makes_nbconverts_accessibility_edits_without_reparsing(monkeypatch):
    from bs4 import BeautifulSoup

    from cvm_kit.reporting import export
    from cvm_kit.reporting.render import stylesheet

    nb = _varied_notebook()
    res = {"metadata": {"name": "x"}, "cvm_css": stylesheet()}
    stock = _stock_exporter().from_notebook_node(nb, resources=dict(res))[0]
    fast = export._exporter().from_notebook_node(nb, resources=dict(res))[0]
    assert fast != stock  # not re-parsed and re-written ...
    assert str(BeautifulSoup(fast, features="html.parser")) == stock  # ... yet the same document
    assert fast.count(export.NO_ALT) == stock.count(export.NO_ALT) == 1  # the user's IMG (figures have theirs)
    assert 'alt="Net value by customer"' in fast and 'title=\'a > b\' tabindex="0"' in fast
    assert 'tabindex="0">own tabindex' in fast and 'tabindex="-1"' not in fast
    # an nbconvert whose exporter is built otherwise: its own export, as it makes it
    monkeypatch.setitem(sys.modules, "nbconvert.filters.widgetsdatatypefilter", None)
    assert export._exporter().from_notebook_node(nb, resources=dict(res))[0] == stock


def test_accessible_edits_only_the_tags_it_should():
    from cvm_kit.reporting.export import NO_ALT, _accessible

    page = ('<div class="jp-Cell-inputWrapper">a</div><div class="other">b</div><img src="a" alt="">'
            '<img src="b"/><img src=c>')
    out, missing = _accessible(page)
    assert missing == 2
    assert out == ('<div class="jp-Cell-inputWrapper" tabindex="0">a</div><div class="other">b</div>'
                   f'<img src="a" alt=""><img src="b" alt="{NO_ALT}"/><img src=c alt="{NO_ALT}">')


def test_a_first_batch_starts_its_pool_before_the_study_is_validated(study, tmp_path, monkeypatch):
    import json

    from cvm_kit.errors import StudyError
    from cvm_kit.reporting import batch

    events: list[str] = []
    pool = object()
    monkeypatch.setattr(batch, "_start_pool", lambda n, *a: events.append(f"start {n}") or pool)
    monkeypatch.setattr(batch, "_stop_pool", lambda p: events.append("stop" if p is pool else "stop other"))

    def failing_load(path):
        events.append("load")
        raise StudyError([], str(path))

    monkeypatch.setattr(batch, "_load", failing_load)
    out = tmp_path / "customers"
    with pytest.raises(StudyError):
        batch.run_batch(study, workers=2, out_dir=out, progress=False)
    assert events == ["start 2", "load", "stop"]  # started first, stopped when the study fails

    events.clear()  # a re-run where every customer may be unchanged: no process it might not use
    out.mkdir()
    (out / batch.MANIFEST).write_text(json.dumps({"customers": {"A1": {"key": "k"}}}), encoding="utf-8")
    with pytest.raises(StudyError):
        batch.run_batch(study, workers=2, out_dir=out, progress=False)
    assert events == ["load"]
    events.clear()  # ... unless forced
    with pytest.raises(StudyError):
        batch.run_batch(study, workers=2, out_dir=out, progress=False, force=True)
    assert events == ["start 2", "load", "stop"]
    events.clear()  # one customer, one worker, the papermill engine, a missing study: none early
    for kw in ({"customers": ["A1"]}, {"workers": 1}, {"engine": "papermill"}):
        with pytest.raises(StudyError):
            batch.run_batch(study, out_dir=tmp_path / "x", progress=False, **{"workers": 2, **kw})
    with pytest.raises(StudyError):
        batch.run_batch(tmp_path / "no_such_study", workers=2, out_dir=tmp_path / "y", progress=False)
    assert events == ["load"] * 4
