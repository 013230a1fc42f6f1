"""``cvm report``: the notebook series executed on a study, its pages, index, provenance and management pack.

Each notebook of :data:`SERIES` runs (:mod:`~cvm_kit.reporting.pool`), is
exported to a page (:mod:`~cvm_kit.reporting.export`), and the report is
published whole: ``index.html`` (the executive summary first, then the pages,
the charter and provenance) and the management pack.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..errors import CvmError
from .execute import Job, NotebookRun, RunError, RunInterrupted, _to_run
from .export import _readable
from .notebooks import (
    CUSTOMER_NOTEBOOK,
    SERIES,
    declared_parameters,
    load_template,
    notebook_parameters,
    notebooks_dir,
    template_path,
    typed_parameters,
)
from .pool import _run_jobs, _start_pool, _stop_pool

__all__ = ["run_report", "SERIES", "CUSTOMER_NOTEBOOK", "PACK", "notebooks_dir", "template_path", "load_template",
           "notebook_parameters"]

PACK = "management_pack"  # <out>/management_pack.html and .pdf
# Parameters every run sets: batch and report runs are static (no widgets).
_RUN_PARAMETERS = {"interactive": False}


# ---------------------------------------------------------------------------
# provenance


def _load(study: str | Path):
    """The validated study and its content hash; a broken study stops the run before any notebook.

    Raises
    ------
    StudyError
        Every located problem of the study, once (the notebooks would each
        repeat it).
    """
    from ..study import load_study

    path = Path(study).expanduser().resolve()
    if not path.exists():
        raise CvmError(f"study {path} does not exist")
    s = load_study(path)
    return s, s.content_hash


def _provenance(study_path: Path, content_hash: str, parameters: Mapping[str, Any], template: Path) -> dict[str, Any]:
    from .. import __version__

    return {
        "study": str(study_path), "study_content_hash": content_hash, "cvm_kit_version": __version__,
        "parameters": dict(parameters), "template": template.name,
        "template_hash": _file_hash(template), "run_at": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
    }


def _file_hash(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def _check_parameters(parameters: Mapping[str, Any] | None, templates: Sequence[Path],
                      declared: Mapping[Path, Any] | None = None) -> dict[str, Any]:
    params = dict(parameters or {})
    types: dict[str, Any] = {}  # name -> its first declaration (type, default, help)
    for t in templates:
        for name, spec in (declared[t] if declared is not None and t in declared else notebook_parameters(t)).items():
            types.setdefault(name, spec)
    known = set(types)
    unknown = sorted(set(params) - known)
    if unknown:
        raise CvmError(f"unknown notebook parameter(s) {', '.join(unknown)}; the notebooks take "
                       f"{', '.join(sorted(known))}")
    for key in ("study",):
        if key in params:
            raise CvmError(f"parameter {key!r} is set by the run itself (pass the study as the first argument)")
    return typed_parameters(params, types)


def _title(template: Path, nb: Any = None) -> str:
    """A notebook's title: the heading its page shows (``report.header``), else its metadata ``title``, else its
    first markdown heading."""
    nb = load_template(template) if nb is None else nb
    shown = _shown_title(nb)
    if shown:
        return shown
    title = nb.metadata.get("title")
    if title:
        return str(title)
    for c in nb.cells:
        if c.cell_type == "markdown":
            for line in c.source.splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip()
    return template.stem



def _shown_title(nb: Any) -> str:
    """The title an executed notebook's page opens with (the ``<h1>`` of ``report.header``), else ""."""
    import html
    import re

    for c in nb.cells:
        for o in c.get("outputs", []) if c.cell_type == "code" else []:
            page = o.get("data", {}).get("text/html", "")
            m = re.search(r"<section class='cvm-header'><h1>(.*?)</h1>", page if isinstance(page, str) else
                          "".join(page), flags=re.S)
            if m:
                return html.unescape(m.group(1)).strip()
    return ""


# ---------------------------------------------------------------------------
# cvm report


def run_report(study: str | Path, out_dir: str | Path | None = None, *, parameters: Mapping[str, Any] | None = None,
               kernel_name: str | None = None, workers: int = 2, timeout: float = 600,
               progress: bool = False, series: Sequence[str | Path] | None = None, engine: str = "warm",
               pdf: bool = False) -> Path:
    """Execute the notebook series on a study and write the HTML report with its index.

    Each notebook of :data:`SERIES` is executed (on warm kernels unless
    ``engine="papermill"``; parameters injected as papermill does:
    ``study`` = the study's absolute path, ``interactive=False``, plus
    ``parameters``) and exported to HTML with no code and no prompts; an
    ``index.html`` links them with the run's provenance (study content hash,
    cvm_kit version, parameters, date) and the study charter. Everything is
    produced in a temporary folder first and moved into ``out_dir`` only when
    every notebook succeeded, so ``out_dir`` holds a whole report or the
    previous one. ``out_dir/customers`` (from :func:`run_batch`) is left alone.

    Parameters
    ----------
    study : path
        Study folder or workbook.
    out_dir : path, optional
        Default ``reports/<study label>``.
    parameters : mapping, optional
        Notebook parameters (e.g. ``{"draws": 20000}``); each notebook gets the
        ones it declares. Unknown names are an error.
    kernel_name : str, optional
        Jupyter kernel (default the notebooks' ``python3``).
    workers : int
        Notebooks executed at once (separate processes).
    timeout : float
        Seconds allowed per notebook (per cell and in total).
    progress : bool
        Show a progress bar on stderr.
    series : sequence of str, optional
        Template stems or paths (default :data:`SERIES`).
    engine : {"warm", "papermill"}
        ``"warm"`` (default): notebooks run one after another on kernels that
        start once per worker and are reset between notebooks
        (:mod:`cvm_kit.reporting.warm`); ``"papermill"``: a fresh kernel per notebook.
    pdf : bool
        Also print the management pack (executive summary, every page, the
        charter and provenance) to ``out_dir/management_pack.pdf`` with
        headless Chromium. ``management_pack.html`` is always written.

    Returns
    -------
    Path
        ``out_dir/index.html``: the executive summary first, then the pages.

    Raises
    ------
    StudyError
        The study does not validate: every located problem, before any
        notebook runs.
    RunError
        A notebook failed: the message lists each failure with its executed
        notebook, kept (with papermill's error cell) in ``<out_dir>.failed/``;
        ``out_dir`` is unchanged.
    RunInterrupted
        Ctrl-C: every kernel and worker ended, ``out_dir`` unchanged.
    """
    from .. import _fast_imports  # noqa: F401 - before nbformat: see the module
    study_path = Path(study).expanduser().resolve()
    templates = [template_path(t) for t in (SERIES if series is None else series)]
    # the workers and their warm kernels start first: their start-up overlaps validation and template reading
    early = _early_pool(engine, workers, kernel_name, templates)
    try:
        return _run_report(study_path, templates, out_dir, early, parameters=parameters, kernel_name=kernel_name,
                           workers=workers, timeout=timeout, progress=progress, engine=engine, pdf=pdf)
    finally:
        if early is not None:
            _stop_pool(early)  # a no-op once the run has shut it down


# Expected cost of the series' notebooks (relative): the longest start first, so the two workers end together.
_COST = {"04_sensitivity": 8, "03_subsegment_variance": 6, "02_estimates": 5, "01_data_gathering": 4,
         "07_value_documenter": 4, "05_drivers_and_prospects": 3, "08_business_case": 1}
_SUMMARY_COST = 2  # the executive summary made on a warm kernel: queued among the notebooks by this cost


def _early_pool(engine: str, workers: int, kernel_name: str | None, templates: Sequence[Path]) -> Any:
    """The process pool of a warm run with more than one worker, started now (None otherwise)."""
    n = max(1, min(int(workers), len(templates)))
    if engine != "warm" or n < 2:
        return None
    return _start_pool(n, engine, kernel_name, [str(t) for t in templates])


def _run_report(study_path: Path, templates: Sequence[Path], out_dir: str | Path | None, early: Any, *,
                parameters: Mapping[str, Any] | None, kernel_name: str | None, workers: int, timeout: float,
                progress: bool, engine: str, pdf: bool) -> Path:
    s, content_hash = _load(study_path)
    label = s.label if s is not None else (study_path.stem if study_path.suffix else study_path.name)
    out = Path(out_dir) if out_dir is not None else Path("reports") / label
    out = out.resolve()
    parsed = {t: load_template(t) for t in templates}  # each template read once
    declared = {t: declared_parameters(nb) for t, nb in parsed.items()}
    params = _check_parameters(parameters, templates, declared)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    t0 = time.perf_counter()
    try:
        jobs: list[Job] = []
        for t in templates:
            p = {"study": str(study_path), **_RUN_PARAMETERS, **{k: v for k, v in params.items() if k in declared[t]}}
            jobs.append({"name": t.stem, "template": str(t), "notebook": str(tmp / f"{t.stem}.ipynb"),
                         "html": str(tmp / f"{t.stem}.html"), "parameters": p, "timeout": timeout,
                         "kernel_name": kernel_name, "provenance": _provenance(study_path, content_hash, p, t),
                         "title": _title(t, parsed[t]), "banner": ""})
        order = sorted(jobs, key=lambda j: -_COST.get(str(j["name"]), 3))  # stable: unknown ones keep their order
        summary: dict[str, Any] = {}

        def after(pool: Any) -> None:  # the summary on a warm kernel, queued among the notebooks (after_at)
            if s is not None:
                summary["future"] = pool.submit(_warm_summary, {
                    "study": str(study_path), "templates": [str(t) for t in templates], "kernel_name": kernel_name,
                    "timeout": timeout})

        outcomes: dict[str, NotebookRun] = {}
        # the summary goes ahead of the cheaper notebooks: the worker that takes it last would finish alone
        at = sum(_COST.get(str(j["name"]), 3) >= _SUMMARY_COST for j in order)
        gen = _run_jobs(order, workers=workers, scheduler=None, progress=progress, desc="cvm report", engine=engine,
                        executor=early, after=after if early is not None else None, after_at=at)
        try:
            for o in gen:
                outcomes[str(o["name"])] = _to_run(o)
        except KeyboardInterrupt:
            gen.close()  # workers and kernels are ended before the temporary folder goes
            done = sum(r.status == "ok" for r in outcomes.values())
            raise RunInterrupted(f"interrupted: {done} of {len(jobs)} notebook(s) had finished; nothing was "
                                 f"published, {out} was left unchanged") from None
        finally:
            gen.close()
        runs = [outcomes[t.stem] for t in templates]
        if any(not r.ok for r in runs):
            _keep_failed(runs, out)
        _finish(s, study_path, content_hash, params, t0, engine, runs, tmp, out, pdf, _summary_of(s, summary))
        _publish(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out / "index.html"


def _warm_summary(job: Mapping[str, Any]) -> str:
    """The executive summary made on a pool worker's warm kernel (see :func:`cvm_kit.reporting.warm.summary_job`)."""
    from .warm import summary_job

    return summary_job(job)


def _summary_of(s: Any, summary: Mapping[str, Any]) -> str:
    """The executive summary's HTML: the warm kernel's when it made it, else made here."""
    from .summary import executive_html

    if s is None:
        return ""
    fut = summary.get("future")
    if fut is not None:
        try:
            return str(fut.result(timeout=0))
        except Exception:  # noqa: BLE001 - e.g. its kernel died: made here instead, as the cold engine does
            pass
    return executive_html(s)


def _finish(s: Any, study_path: Path, content_hash: str, params: Mapping[str, Any], t0: float, engine: str,
            runs: Sequence[NotebookRun], tmp: Path, out: Path, pdf: bool, summary_html: str) -> None:
    """The management pack and the index page of a finished run, in the temporary folder."""
    from .pack import write_pack

    provenance_html = _provenance_html(s, study_path, content_hash, params, t0, engine)
    pages = [(_title_of(r), r.notebook) for r in runs if r.notebook is not None]
    if s is not None:
        packed = write_pack(s, pages, tmp, summary_html=summary_html, closing_html=provenance_html, pdf=pdf)
        if "pdf" in packed:
            _readable(packed["pdf"])
    _write_index(tmp / "index.html", s, study_path, runs, out, summary_html=summary_html,
                 provenance_html=provenance_html, pdf=f"{PACK}.pdf" if pdf and s is not None else None)


def _keep_failed(runs: Sequence[NotebookRun], out: Path) -> None:
    """Move every executed notebook to ``<out>.failed/`` and raise the :class:`RunError` listing the failures."""
    failed = [r for r in runs if not r.ok]
    keep = out.with_name(out.name + ".failed")
    if keep.exists():
        shutil.rmtree(keep)
    keep.mkdir(parents=True)
    for r in runs:
        if r.notebook is not None and r.notebook.exists():
            dest = keep / r.notebook.name
            shutil.move(str(r.notebook), dest)
            r.notebook, r.html = dest, None
    lines = [f"{len(failed)} of {len(runs)} notebook(s) failed; {out} was left unchanged:"]
    lines += [f"  {r.name}: {r.error}\n    notebook: {r.notebook}" for r in failed]
    raise RunError("\n".join(lines), runs)


_PUBLISHED = ".cvm_report_files"  # in out_dir: the files the last report published there, one per line


def _publish(tmp: Path, out: Path) -> None:
    """Rename every file of a finished report into ``out``, the index last; drop an older ``.failed`` folder.

    The pages of an earlier report that this one has not (a notebook removed
    from ``--notebooks DIR``) are removed: the folder holds one report, never
    two mixed. They are the files the last report listed in ``out/.cvm_report_files``,
    and numbered pages (``NN_name.html``/``.ipynb``); ``customers/`` and
    anything else are left alone.
    """
    import re

    out.mkdir(parents=True, exist_ok=True)
    names = [p.name for p in sorted(tmp.iterdir()) if p.name != "index.html"] + ["index.html"]
    listed = out / _PUBLISHED
    before = set(listed.read_text(encoding="utf-8").split("\n")) if listed.is_file() else set()
    before |= {p.name for p in out.iterdir() if p.is_file() and re.fullmatch(r"\d\d_[^/]+\.(?:html|ipynb)", p.name)}
    for name in names:
        os.replace(tmp / name, out / name)
    for name in sorted(before - set(names)):
        if name and "/" not in name and "\\" not in name and name not in (".", "..") and (out / name).is_file():
            (out / name).unlink()
    listed.write_text("\n".join(names), encoding="utf-8")
    stale = out.with_name(out.name + ".failed")
    if stale.exists():
        shutil.rmtree(stale, ignore_errors=True)


def _provenance_html(s: Any, study_path: Path, content_hash: str, params: Mapping[str, Any], t0: float,
                     engine: str) -> str:
    """The charter, provenance and parameters of a run (end of the index page and of the PDF pack)."""
    from .. import __version__
    from .render import render

    try:
        import papermill

        pm_version = papermill.__version__
    except Exception:  # noqa: BLE001
        pm_version = "?"
    charter = ""
    if s is not None:
        from ..research import charter_html

        charter = charter_html(s)
    all_params = {"study": str(study_path), **_RUN_PARAMETERS, **params}
    return render("provenance.html.j2", charter=charter, study_name=s.name if s is not None else study_path.name,
                  study_path=str(study_path), content_hash=content_hash, version=__version__, engine=engine,
                  papermill_version=pm_version, python_version=sys.version.split()[0],
                  run_at=_dt.datetime.now().astimezone().isoformat(timespec="seconds"),
                  seconds=f"{time.perf_counter() - t0:.0f}",
                  parameters=[(k, repr(v)) for k, v in all_params.items()])


def _write_index(path: Path, s: Any, study_path: Path, runs: Sequence[NotebookRun], out: Path, *,
                 summary_html: str, provenance_html: str, pdf: str | None) -> None:
    """The report's front page: the executive summary first, then the pages, the charter and provenance."""
    from .render import render

    pages = [{"html": r.html.name, "notebook": r.notebook.name, "title": _title_of(r), "seconds": f"{r.seconds:.1f}"}
             for r in runs if r.html is not None and r.notebook is not None]
    doc = render("index.html.j2", study_name=s.name if s is not None else study_path.name,
                 offering=getattr(s, "offering", ""), alternative=getattr(s, "next_best_alternative", ""),
                 segment=getattr(s, "segment", ""), summary=summary_html, pages=pages,
                 customers=(out / "customers" / "index.html").exists(), provenance=provenance_html, pdf=pdf)
    path.write_text(doc, encoding="utf-8")


def _title_of(r: NotebookRun) -> str:
    try:
        # the notebook as run: an analyst's own series (`cvm report --notebooks`) has its own titles
        return _title(r.notebook if r.notebook is not None and r.notebook.exists() else template_path(r.name))
    except CvmError:
        return r.name


