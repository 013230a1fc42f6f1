"""``cvm batch``: the per-customer notebook run once per customer, with a manifest and an index page.

Each customer's report is remembered in ``manifest.json`` with a hash of
everything it shows (:func:`_customer_keys`), so unchanged customers are
skipped; file names are safe and never collide (:func:`_file_stems`); the
index page lists every customer with a report in the folder.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import glob
import hashlib
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from ..errors import CvmError
from .execute import Job, NotebookRun, Outcome, RunInterrupted, _remove, _to_run
from .export import _readable
from .notebooks import CUSTOMER_NOTEBOOK, notebook_parameters, template_path, typed_parameters
from .pool import _no_interrupts, _run_jobs, _start_pool, _stop_pool
from .series import _RUN_PARAMETERS, _file_hash, _load, _provenance

__all__ = ["run_batch", "BatchResult", "MANIFEST"]

MANIFEST = "manifest.json"


@dataclass
class BatchResult:
    """Every notebook of a batch run, and how long the batch took."""

    out_dir: Path
    runs: list[NotebookRun] = field(default_factory=list)
    seconds: float = 0.0
    workers: int = 1
    scheduler: str | None = None

    @property
    def failed(self) -> list[NotebookRun]:
        """Runs that failed or timed out."""
        return [r for r in self.runs if not r.ok]

    @property
    def executed(self) -> list[NotebookRun]:
        """Runs executed this time (not skipped)."""
        return [r for r in self.runs if r.status != "skipped"]

    @property
    def skipped(self) -> list[NotebookRun]:
        """Runs skipped because the customer's inputs and the template were unchanged."""
        return [r for r in self.runs if r.status == "skipped"]

    @property
    def ok(self) -> bool:
        """True when no notebook failed."""
        return not self.failed

    def to_frame(self):
        """The runs as a DataFrame: ``name, status, notebook, html, seconds, error``."""
        import pandas as pd

        return pd.DataFrame([(r.name, r.status, str(r.notebook or ""), str(r.html or ""), r.seconds, r.error)
                             for r in self.runs], columns=["name", "status", "notebook", "html", "seconds", "error"])

    def summary(self) -> str:
        """A few lines for the terminal: counts, time, then every failure with its path."""
        n_ok = sum(r.status == "ok" for r in self.runs)
        where = f"on {self.scheduler}" if self.scheduler else f"{self.workers} worker(s)"
        lines = [f"{len(self.runs)} notebook(s) in {self.out_dir}: {n_ok} executed, {len(self.skipped)} skipped "
                 f"(unchanged), {len(self.failed)} failed; {self.seconds:.1f} s with {where}"]
        done = [r.seconds for r in self.runs if r.status == "ok"]
        if done:
            lines.append(f"per notebook: {sum(done) / len(done):.2f} s mean, "
                         f"{self.seconds / max(len(self.executed), 1):.2f} s of batch time")
        for r in self.failed:
            lines.append(f"FAILED {r.name} ({r.status}): {r.error}\n    notebook: {r.notebook}")
        return "\n".join(lines)



_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
# Names the batch's own files take (index.html, manifest.json), and names some file systems refuse.
_RESERVED = frozenset({"index", "manifest"})
_DEVICES = frozenset({"con", "prn", "aux", "nul"} | {f"{d}{i}" for d in ("com", "lpt") for i in range(10)})


def _file_stem(customer_id: str) -> str:
    """A file-system safe name for a customer's files (a hash is added when the id had to be changed)."""
    stem = _UNSAFE.sub("_", customer_id)[:80].lstrip(".") or "customer"
    if stem != customer_id:
        stem += "-" + hashlib.sha256(customer_id.encode()).hexdigest()[:8]
    return stem


def _file_stems(ids: Iterable[str]) -> dict[str, str]:
    """A file name per customer that no other customer's and no output of the batch can take.

    Names are compared ignoring case (two ids differing only by case share a
    file on Windows and macOS) and never equal ``index`` or ``manifest``;
    where they would, a hash of the id is added.

    Examples
    --------
    >>> from cvm_kit.runs import _file_stems
    >>> _file_stems(["A1", "index"])["A1"], _file_stems(["A1", "index"])["index"] != "index"
    ('A1', True)
    """
    ids = list(dict.fromkeys(str(c) for c in ids))
    stems = {cid: _file_stem(cid) for cid in ids}
    for rounds in range(5):
        groups: dict[str, list[str]] = {}
        for cid, st in stems.items():
            groups.setdefault(st.lower(), []).append(cid)
        clash = [cid for key, members in groups.items()
                 if len(members) > 1 or key in _RESERVED or key.split(".")[0] in _DEVICES for cid in members]
        if not clash:
            return stems
        for cid in clash:
            base = _UNSAFE.sub("_", cid.replace(".", "_"))[:80] or "customer"
            stems[cid] = f"{base}-{hashlib.sha256(cid.encode()).hexdigest()[:8 + 4 * (rounds + 1)]}"
    # pathological ids (hash prefixes that meet): number them, still deterministic for this set
    return {cid: f"{st}-{i}" for i, (cid, st) in enumerate(stems.items())}


def _frame_text(df: Any) -> str:
    if df is None or len(df) == 0:
        return ""
    return df.drop(columns=[c for c in ("line",) if c in df.columns]).to_csv(index=False, float_format="%.12g")


def _customer_keys(s: Any, ids: Iterable[str], template: Path, params: Mapping[str, Any]) -> dict[str, str]:
    """A hash per customer over everything its report shows.

    The customer's own rows (customers, measurements, fieldwork, realized),
    the study model (project), the means the report compares against, the
    template, the parameters and the cvm_kit version.
    """
    from .. import __version__
    from ..study import project_dict
    from ..values import element_values, totals

    v = element_values(s)
    t = totals(s, v)
    means = (v.groupby(["subsegment", "element_id"])["value"].mean().to_csv(float_format="%.12g")
             + t.drop(columns=["customer_id"]).groupby("subsegment").mean().to_csv(float_format="%.12g")
             + t.drop(columns=["customer_id", "subsegment"]).mean().to_csv(float_format="%.12g"))
    common = hashlib.sha256()
    for part in (__version__, _file_hash(template), json.dumps(dict(params), sort_keys=True, default=str),
                 json.dumps(project_dict(s), sort_keys=True, default=str), means):
        common.update(part.encode())
        common.update(b"\0")
    frames = {"customers": s.customers, "measurements": s.measurements, "fieldwork": s.fieldwork,
              "realized": s.realized}
    groups = {k: (f.groupby("customer_id", sort=False) if f is not None and len(f) else None) for k, f in frames.items()}
    keys = {}
    for cid in ids:
        h = common.copy()
        for k, g in groups.items():
            rows = g.get_group(cid) if g is not None and cid in g.groups else None
            h.update(k.encode())
            h.update(_frame_text(rows).encode())
        keys[cid] = h.hexdigest()[:24]
    return keys


def _read_manifest(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) and isinstance(data.get("customers"), dict) else {"customers": {}}
    except (OSError, ValueError):
        return {"customers": {}}


def _write_manifest(path: Path, manifest: Mapping[str, Any]) -> None:
    from ..io import atomic_file

    with atomic_file(path) as tmp:
        tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True), encoding="utf-8")
        _readable(tmp)


def run_batch(study: str | Path, customers: Sequence[str] | None = None, *, workers: int = 2, timeout: float = 600,
              force: bool = False, scheduler: str | None = None, out_dir: str | Path | None = None,
              parameters: Mapping[str, Any] | None = None, kernel_name: str | None = None,
              template: str | Path | None = None, progress: bool = True, engine: str = "warm") -> BatchResult:
    """Execute the per-customer notebook once per customer, in parallel, with HTML for each.

    Parameters
    ----------
    study : path
        Study folder or workbook.
    customers : sequence of str, optional
        Customer ids (default every customer of the study). An id that is not
        in the study yields a failed notebook saying so, like any other
        failure.
    workers : int
        Worker processes (each executes notebooks one after another, each in
        a fresh kernel).
    timeout : float
        Seconds per notebook: papermill's per-cell ``execution_timeout`` and a
        wall-clock limit on the whole notebook (its kernel is killed).
    force : bool
        Execute every customer even if unchanged since the last run.
    scheduler : str, optional
        Address of a Dask distributed scheduler (``tcp://host:8786``): run the
        same jobs there instead of on local processes (needs ``cvm_kit[dask]``
        and cvm_kit installed on the workers, which must see the same paths).
    out_dir : path, optional
        Default ``reports/<study label>/customers``.
    parameters : mapping, optional
        Extra notebook parameters (the template's; ``study``, ``customer_id``
        are set per job).
    kernel_name : str, optional
    template : str or path, optional
        Another per-customer template (default :data:`CUSTOMER_NOTEBOOK`).
    progress : bool
        A progress bar on stderr.
    engine : {"warm", "papermill"}
        ``"warm"`` (default): notebooks run one after another on kernels that
        start once per worker and are reset between notebooks
        (:mod:`cvm_kit.reporting.warm`); ``"papermill"``: a fresh kernel per notebook.

    Returns
    -------
    BatchResult
        One :class:`NotebookRun` per customer: ``ok`` (``<id>.ipynb`` and
        ``<id>.html`` written), ``skipped`` (inputs and template unchanged),
        ``failed`` or ``timeout`` (the executed notebook kept with the error
        cell, no HTML). Files are named after the id, made file-system safe;
        an id that would take the name of another customer's files (ids
        differing only by case) or of the batch's own (``index``,
        ``manifest``) gets a hash of the id added. ``out_dir/manifest.json``
        remembers what each report was made from, and ``out_dir/index.html``
        lists every customer with a report in the folder, from any run.

    Raises
    ------
    StudyError
        The study does not validate: every located problem, before any
        notebook runs.
    RunInterrupted
        Ctrl-C: running kernels and workers ended, temporary files removed,
        what finished recorded in the manifest and the index.

    Examples
    --------
    >>> from cvm_kit.runs import run_batch
    >>> r = run_batch("tests/data/tiny", ["A1", "B2"], progress=False)   # doctest: +SKIP
    >>> [x.status for x in r.runs]                                      # doctest: +SKIP
    ['ok', 'ok']
    """
    from .. import _fast_imports  # noqa: F401 - before nbformat: see the module
    t0 = time.perf_counter()
    study_path = Path(study).expanduser().resolve()
    tpl = template_path(template if template is not None else CUSTOMER_NOTEBOOK)
    label = study_path.stem if study_path.suffix else study_path.name  # Study.label, known before loading
    out = (Path(out_dir) if out_dir is not None else Path("reports") / label / "customers").resolve()
    early = _early_pool(out, customers, workers=workers, scheduler=scheduler, engine=engine, force=force,
                        kernel_name=kernel_name, template=tpl) if study_path.exists() else None
    try:
        return _run_batch(study_path, customers, out, tpl, early, t0, timeout=timeout, force=force,
                          scheduler=scheduler, parameters=parameters, kernel_name=kernel_name, workers=workers,
                          progress=progress, engine=engine)
    finally:
        if early is not None:
            _stop_pool(early)  # a no-op once the run has shut it down


def _early_pool(out: Path, customers: Sequence[str] | None, *, workers: int, scheduler: str | None, engine: str,
                force: bool, kernel_name: str | None, template: Path) -> Any:
    """The warm engine's process pool, started before the study is validated (None when it may not be needed).

    Its workers and kernels start while this process reads and checks the
    study and plans the jobs (as :func:`cvm_kit.reporting.series.run_report`
    does). Only on a first run or with ``force``: a re-run whose customers may
    all be unchanged starts no process it might not use.
    """
    n = int(workers) if customers is None else min(int(workers), len(set(customers)))
    if engine != "warm" or scheduler or n < 2:
        return None
    if not force and _read_manifest(out / MANIFEST)["customers"]:
        return None
    return _start_pool(n, engine, kernel_name, [str(template)])


def _run_batch(study_path: Path, customers: Sequence[str] | None, out: Path, tpl: Path, early: Any, t0: float, *,
               timeout: float, force: bool, scheduler: str | None, parameters: Mapping[str, Any] | None,
               kernel_name: str | None, workers: int, progress: bool, engine: str) -> BatchResult:
    s, content_hash = _load(study_path)
    params = _batch_parameters(parameters, tpl)
    study_ids = [str(c) for c in s.customers["customer_id"]]
    ids = study_ids if customers is None else list(dict.fromkeys(str(c) for c in customers))
    if not ids:
        raise CvmError("no customers to run")
    keys = _customer_keys(s, study_ids, tpl, params)
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / MANIFEST
    manifest = _read_manifest(manifest_path)
    entries: dict[str, Any] = manifest["customers"]
    stems = _file_stems(study_ids + ids + list(entries))
    base = {"study": str(study_path), **_RUN_PARAMETERS, **params}
    runs, jobs = _plan(ids, stems, out, entries, keys, force=force, template=tpl, parameters=base,
                       timeout=timeout, kernel_name=kernel_name, content_hash=content_hash)

    def record(o: Outcome) -> None:
        r = runs[str(o["name"])] = _to_run(o)
        entries[r.name] = _manifest_entry(r, keys.get(r.name, ""), content_hash)
        _write_manifest(manifest_path, manifest)  # after each notebook: an interrupted batch resumes

    gen = _run_jobs(jobs, workers=workers, scheduler=scheduler, progress=progress, desc="cvm batch", engine=engine,
                    executor=early)
    interrupted = False
    try:
        for o in gen:
            record(o)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        gen.close()  # on an interrupt: workers and kernels ended here
    with _no_interrupts() if interrupted else contextlib.nullcontext():
        if interrupted:
            _forget_unfinished(jobs, runs, out)
        result = BatchResult(out, [runs[c] for c in ids], time.perf_counter() - t0, workers, scheduler)
        _write_manifest(manifest_path, manifest)
        _write_customer_index(out / "index.html", s, study_path, content_hash, manifest, study_ids, keys)
        _link_from_report(out)
        if interrupted:
            done = [j for j in jobs if runs[j["name"]].status != "interrupted"]
            raise RunInterrupted(
                f"interrupted: {len(done)} of {len(jobs)} notebook(s) finished "
                f"({sum(runs[j['name']].status == 'ok' for j in done)} ok), recorded in {manifest_path} and "
                f"{out / 'index.html'}; {len(jobs) - len(done)} not run", result)
    return result


def _manifest_entry(r: NotebookRun, key: str, content_hash: str) -> dict[str, Any]:
    """What the manifest remembers of a customer's run."""
    return {"key": key, "status": r.status, "notebook": r.notebook.name if r.notebook else "",
            "html": r.html.name if r.html else "", "seconds": round(r.seconds, 3), "error": r.error,
            "study_content_hash": content_hash, "run_at": _dt.datetime.now().astimezone().isoformat(timespec="seconds")}


def unchecked_banner(template: Path) -> str:
    """The mark on a page whose notebook is not a customer report (it declares no ``internal`` parameter)."""
    from .headers import INTERNAL_MARK

    return (f"{INTERNAL_MARK}: {Path(template).name} is not a customer report (it declares no `internal` "
            "parameter), so nothing keeps this page to one customer's figures.")


def _batch_parameters(parameters: Mapping[str, Any] | None, tpl: Path) -> dict[str, Any]:
    """The batch's extra notebook parameters, checked against those the template declares."""
    params = dict(parameters or {})
    declared = notebook_parameters(tpl)
    for k in params:
        if k in ("study", "customer_id"):
            raise CvmError(f"parameter {k!r} is set per job by the batch itself")
        if k not in declared:
            raise CvmError(f"unknown parameter {k!r} for {tpl.name}; it takes {', '.join(sorted(declared))}")
    return typed_parameters(params, declared)


def _plan(ids: Sequence[str], stems: Mapping[str, str], out: Path, entries: Mapping[str, Any],
          keys: Mapping[str, str], *, force: bool, template: Path, parameters: Mapping[str, Any], timeout: float,
          kernel_name: str | None, content_hash: str) -> tuple[dict[str, NotebookRun], list[Job]]:
    """The customers skipped (unchanged since their last run) and the jobs to run.

    Files of an earlier run under another name (the set of ids changed a
    name) are removed before anything is written.
    """
    runs: dict[str, NotebookRun] = {}
    jobs: list[Job] = []
    study_path = Path(parameters["study"])
    declared = notebook_parameters(template)
    for cid in ids:
        stem = stems[cid]
        nb_path, html_path = out / f"{stem}.ipynb", out / f"{stem}.html"
        prev = entries.get(cid, {})
        if (not force and cid in keys and prev.get("key") == keys[cid] and prev.get("status") == "ok"
                and prev.get("notebook") == nb_path.name and prev.get("html") == html_path.name
                and nb_path.exists() and html_path.exists()):
            runs[cid] = NotebookRun(cid, "skipped", nb_path, html_path, 0.0, "")
            continue
        p = {"study": parameters["study"], "customer_id": cid, **{k: v for k, v in parameters.items() if k != "study"}}
        unchecked = "internal" not in declared  # not the customer report: nothing keeps the page customer-safe
        jobs.append({"name": cid, "template": str(template), "notebook": str(nb_path), "html": str(html_path),
                     "parameters": p, "timeout": timeout, "kernel_name": kernel_name,
                     "provenance": _provenance(study_path, content_hash, p, template),
                     "title": f"{cid}: customer value report" + (" (internal)" if p.get("internal") or unchecked
                                                                  else ""),
                     "banner": unchecked_banner(template) if unchecked else ""})
    claimed = {f"{st}.{ext}" for st in stems.values() for ext in ("ipynb", "html")}
    for j in jobs:
        prev = entries.get(j["name"], {})
        for f in (prev.get("notebook"), prev.get("html")):
            if f and f not in claimed and Path(f).name == f:
                _remove(out / f)
    return runs, jobs


def _forget_unfinished(jobs: Sequence[Job], runs: dict[str, NotebookRun], out: Path) -> None:
    """After an interrupt: the jobs that did not finish recorded as such, their hidden temporary files removed."""
    for j in jobs:
        if j["name"] not in runs:  # a job killed mid-way may leave its hidden temporary files
            stem = Path(j["notebook"]).stem
            for f in out.glob(f".{glob.escape(stem)}.*"):
                _remove(f)
            runs[j["name"]] = NotebookRun(j["name"], "interrupted", None, None, 0.0, "not finished: interrupted")


_STATE = {"ok": "ok", "skipped": "ok", "failed": "failed", "timeout": "timed out"}


_CUSTOMERS_BLOCK = re.compile(r"<!-- cvm:customers -->.*?<!-- /cvm:customers -->", re.S)


def _link_from_report(out: Path) -> None:
    """Point the report's index beside ``out`` (``cvm report`` then ``cvm batch``) at the customer reports.

    The report's page said "run cvm batch"; its block is replaced in place
    (whole file or not at all). Nothing happens without such a page.
    """
    page = out.parent / "index.html"
    if out.name != "customers" or not page.is_file():
        return
    try:
        text = page.read_text(encoding="utf-8")
    except (OSError, UnicodeError):
        return
    new = _CUSTOMERS_BLOCK.sub('<!-- cvm:customers -->\n<p><a href="customers/index.html">Per-customer value '
                               'reports</a></p>\n<!-- /cvm:customers -->', text, count=1)
    if new != text:
        from ..io import atomic_file

        with atomic_file(page) as tmp:
            tmp.write_text(new, encoding="utf-8")


def _write_customer_index(path: Path, s: Any, study_path: Path, content_hash: str, manifest: Mapping[str, Any],
                          study_ids: Sequence[str], keys: Mapping[str, str]) -> None:
    """The batch's index page: every customer with a report on disk (from the manifest), not only this run's."""
    from .. import __version__
    from ..io import atomic_file
    from .render import render

    out = path.parent
    entries = manifest.get("customers", {})
    order = [c for c in study_ids if c in entries] + sorted(c for c in entries if c not in set(study_ids))
    rows = []
    for cid in order:
        ent = entries[cid]
        nb_name, html_name = str(ent.get("notebook") or ""), str(ent.get("html") or "")
        if not nb_name or not (out / nb_name).exists():
            continue  # no report on disk
        status = str(ent.get("status", ""))
        if cid not in keys:
            current = "no longer in the study"
        elif ent.get("key") == keys[cid]:
            current = "yes"
        else:
            current = "no: inputs, template or parameters changed since"
        ok = status == "ok" and bool(html_name) and (out / html_name).exists()
        rows.append({"id": cid, "html": html_name if ok else "", "notebook": nb_name,
                     "status": _STATE.get(status, status), "run_at": str(ent.get("run_at", "")), "current": current,
                     "error": str(ent.get("error", ""))})
    doc = render("customers.html.j2", study_name=s.name if s is not None else study_path.name,
                 study_path=str(study_path), content_hash=content_hash, version=__version__,
                 written=_dt.datetime.now().astimezone().isoformat(timespec="seconds"), rows=rows)
    with atomic_file(path) as tmp:
        tmp.write_text(doc, encoding="utf-8")
        _readable(tmp)
