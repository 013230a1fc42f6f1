"""The warm-kernel engine (cvm_kit.warm): isolation between notebooks, failures, outputs equal to the cold path.

Slow tests execute real notebooks; the kernel-level tests call the job
function :func:`cvm_kit.warm.execute` directly in this process, so one warm
kernel serves the notebooks of a test one after another.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from cvm_kit import runs, warm

ROOT = Path(__file__).resolve().parents[1]
TINY = Path(__file__).parent / "data" / "tiny"
PARAMS = 'study: str = ""  # study\ncustomer_id: str = ""  # who\ninteractive: bool = True  # widgets'


@pytest.fixture
def study(tiny_copy):
    return tiny_copy


def _template(path: Path, *cells: str) -> Path:
    nb = new_notebook(cells=[new_code_cell(PARAMS, metadata={"tags": ["parameters"]})]
                      + [new_code_cell(textwrap.dedent(c).strip()) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def _job(template: Path, out: Path, name: str, study: Path, customer: str = "A1", timeout: float = 120,
         **extra) -> dict:
    p = {"study": str(study), "customer_id": customer, "interactive": False}
    return {"name": name, "template": str(template), "notebook": str(out / f"{name}.ipynb"),
            "html": str(out / f"{name}.html"), "parameters": p, "timeout": timeout, "kernel_name": None,
            "provenance": {"study": str(study)}, "title": name, **extra}


def _text(nb) -> str:
    return "\n".join(str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", "")) + str(o.get("evalue", ""))
                     for c in nb.cells if c.cell_type == "code" for o in c.outputs)


@contextlib.contextmanager
def _started(how: str, pool, *templates: Path):
    """Kernels of ``pool`` started on their own (``"own"``) or forked by a zygote of these templates."""
    if how == "own":
        yield
        return
    from cvm_kit.reporting.zygote import Zygote

    z = Zygote([str(t) for t in templates])
    pool.zygote = z.address
    try:
        yield
        assert pool.kernels and all(k.forked for k in pool.kernels)  # the zygote served, not the fallback
    finally:
        pool.zygote = None
        warm.shutdown()
        z.stop()


START = pytest.mark.parametrize("how", ["own", "zygote"])


# -- isolation ---------------------------------------------------------------

DIRTY = [
    """
    import builtins, os, sys, warnings
    import matplotlib, matplotlib.pyplot as plt, numpy as np, pandas as pd
    import cvm_kit, cvm_kit.report, cvm_kit.study
    LEAKED_GLOBAL = 42
    cvm_kit.report.note = lambda *a, **k: 'monkeypatched'
    cvm_kit.report.ADDED_BY_NOTEBOOK = 1
    cvm_kit.element_values = None
    cvm_kit.study.Study.leaked_attr = 'class patched'
    matplotlib.rcParams['lines.linewidth'] = 9.5
    matplotlib.rcParams['axes.prop_cycle'] = matplotlib.cycler(color=['k'])
    plt.figure()
    os.chdir('/')
    os.environ['CVM_LEAK'] = '1'
    os.environ.pop('PATH', None)
    warnings.simplefilter('error')
    pd.set_option('display.max_rows', 3)
    np.seterr(all='raise')
    sys.path.append('/leaked/path')
    builtins.leaked_builtin = 1
    get_ipython().display_formatter.formatters['text/plain'].for_type(int, lambda o, p, c: p.text('patched int'))
    print('dirty done')
    """,
]

CHECK = [
    """
    import builtins, os, sys, warnings
    import matplotlib, matplotlib.pyplot as plt, numpy as np, pandas as pd
    import cvm_kit, cvm_kit.report, cvm_kit.study
    problems = []
    if 'LEAKED_GLOBAL' in globals(): problems.append('global')
    if getattr(cvm_kit.report.note, '__name__', '') == '<lambda>': problems.append('module function')
    if hasattr(cvm_kit.report, 'ADDED_BY_NOTEBOOK'): problems.append('module attribute')
    if cvm_kit.element_values is None: problems.append('package attribute')
    if hasattr(cvm_kit.study.Study, 'leaked_attr'): problems.append('class attribute')
    if matplotlib.rcParams['lines.linewidth'] != 1.5: problems.append('rcParams')
    if matplotlib.rcParams['axes.prop_cycle'].by_key()['color'][0] == 'k': problems.append('prop_cycle')
    if plt.get_fignums(): problems.append('open figures')
    if os.getcwd() != EXPECTED_CWD: problems.append('cwd ' + os.getcwd())
    if 'CVM_LEAK' in os.environ or 'PATH' not in os.environ: problems.append('environ')
    if any(f[0] == 'error' and f[2] is Warning for f in warnings.filters): problems.append('warnings')
    if pd.get_option('display.max_rows') == 3: problems.append('pandas option')
    if np.geterr()['divide'] == 'raise': problems.append('numpy errors')
    if '/leaked/path' in sys.path: problems.append('sys.path')
    if hasattr(builtins, 'leaked_builtin'): problems.append('builtins')
    if len(In) != 5: problems.append('history %d' % len(In))  # '' + parameters, injected, cwd, this cell
    print('PROBLEMS', problems)
    """,
    "7",  # a plain int shows as 7 again (the display formatter is restored)
]


@pytest.mark.slow
@START
def test_a_notebook_leaves_nothing_behind_for_the_next(study, tmp_path, fresh_pool, monkeypatch, how):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    dirty = _template(tmp_path / "dirty.ipynb", *DIRTY)
    check = _template(tmp_path / "check.ipynb",
                      f"EXPECTED_CWD = {str(tmp_path)!r}", *CHECK)
    with _started(how, fresh_pool, dirty, check):
        first = warm.execute(_job(dirty, out, "dirty", study))
        assert first["status"] == "ok", first["error"]
        second = warm.execute(_job(check, out, "check", study))
        assert second["status"] == "ok", second["error"]
        assert fresh_pool.started == 1  # the same kernel ran both
    nb = nbformat.read(out / "check.ipynb", as_version=4)
    assert "PROBLEMS []" in _text(nb)
    # the prompt numbers start at 1 again, as in a fresh kernel: parameters, injected, then the cells
    assert [c.execution_count for c in nb.cells if c.cell_type == "code"] == [1, 2, 3, 4, 5]
    last = nb.cells[-1].outputs[0]
    assert last["data"]["text/plain"] == "7"


@pytest.mark.slow
def test_a_study_is_loaded_once_per_kernel_and_reloaded_when_it_changes(study, tmp_path, fresh_pool):
    out = tmp_path / "out"
    probe = _template(tmp_path / "probe.ipynb", """
        import sys
        from cvm_kit import report
        s = report.open_study(study)
        first = float(s.measurements["value"].iloc[0])
        s.measurements.loc[s.measurements.index[0], "value"] = -1e9  # a notebook that edits cells in place
        s.customers.loc[s.customers.index[0], "subsegment"] = "ZZ"
        s.measurements.drop(s.measurements.index, inplace=True)  # ... and changes its frames in place
        t = report.open_study(study)
        import cvm_kit as cvm
        assert float(t.measurements["value"].iloc[0]) == first and t.customers["subsegment"].iloc[0] != "ZZ"
        assert float(cvm.measurement_table(t)["value"].min()) > -1e9  # no cache saw the edit
        cache = sys.modules['cvm_kit._warm_kernel']._STUDY_CACHE
        print('ROWS', len(t.measurements), 'CACHED', len(cache), 'HASH', t.content_hash)
    """)
    rows = []
    for i in range(3):
        if i == 2:
            m = study / "measurements.csv"
            lines = m.read_text().splitlines()
            m.write_text("\n".join(lines[:-1]) + "\n")  # one row less
        r = warm.execute(_job(probe, out, f"p{i}", study))
        assert r["status"] == "ok", r["error"]
        text = _text(nbformat.read(out / f"p{i}.ipynb", as_version=4))
        rows.append(re.search(r"ROWS (\d+) CACHED (\d+) HASH (\w+)", text).groups())
    n = len((TINY / "measurements.csv").read_text().splitlines()) - 1
    seen = f"rows {rows}, kernels started {fresh_pool.started}"
    # the in-place change stays in the notebook's copy; the cache serves the same study again
    assert rows[0] == (str(n), "1", rows[0][2]) and rows[1] == rows[0], seen
    # a changed file is a different study: loaded again (its own content hash), cached beside the first
    assert rows[2][0] == str(n - 1) and rows[2][1] == "2" and rows[2][2] != rows[0][2], seen
    assert fresh_pool.started == 1, seen


# -- failures ----------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("kill", ["os._exit(3)", "os.kill(os.getpid(), 9)"])
@START
def test_a_notebook_that_kills_its_kernel_fails_alone(study, tmp_path, fresh_pool, kill, how):
    out = tmp_path / "out"
    killer = _template(tmp_path / "killer.ipynb", "print('before')", f"import os\n{kill}", "print('never')")
    ok = _template(tmp_path / "ok.ipynb", "print('fine', customer_id)")
    with _started(how, fresh_pool, ok, killer):
        r1 = warm.execute(_job(ok, out, "first", study))
        r2 = warm.execute(_job(killer, out, "killer", study))
        r3 = warm.execute(_job(ok, out, "after", study))
        assert fresh_pool.started == 2  # the dead kernel was replaced once, not retried (a cell had run)
        assert len(fresh_pool.kernels) == 1
    assert (r1["status"], r2["status"], r3["status"]) == ("ok", "failed", "ok")
    assert "DeadKernelError" in r2["error"]
    kept = nbformat.read(out / "killer.ipynb", as_version=4)
    assert "did not finish" in kept.cells[0].source and "before" in _text(kept) and "never" not in _text(kept)
    assert kept.metadata.cvm_kit["status"] == "failed" and not (out / "killer.html").exists()
    assert "fine A1" in _text(nbformat.read(out / "after.ipynb", as_version=4))


@pytest.mark.slow
def test_a_hanging_notebook_times_out_and_the_pool_recovers(study, tmp_path, fresh_pool):
    out = tmp_path / "out"
    hang = _template(tmp_path / "hang.ipynb", "print('started')", "import time\nwhile True:\n    time.sleep(0.1)")
    ok = _template(tmp_path / "ok.ipynb", "print('fine', customer_id)")
    assert warm.execute(_job(ok, out, "warmup", study))["status"] == "ok"
    old_pid = fresh_pool.kernels[0].pid
    t0 = time.perf_counter()
    r = warm.execute(_job(hang, out, "hang", study, timeout=3))
    assert time.perf_counter() - t0 < 30
    assert r["status"] == "timeout" and "time limit of 3 s" in r["error"]
    kept = nbformat.read(out / "hang.ipynb", as_version=4)
    assert "did not finish" in kept.cells[0].source and "started" in _text(kept)
    assert not _alive(old_pid)  # killed, not left running
    r2 = warm.execute(_job(ok, out, "next", study, customer="B2"))
    assert r2["status"] == "ok" and "fine B2" in _text(nbformat.read(out / "next.ipynb", as_version=4))
    assert fresh_pool.started == 2


@pytest.mark.slow
@pytest.mark.parametrize("noticed", ["before", "at the first cell"])
def test_a_kernel_lost_between_notebooks_is_replaced_without_a_failure(study, tmp_path, fresh_pool, monkeypatch,
                                                                        noticed):
    out = tmp_path / "out"
    ok = _template(tmp_path / "ok.ipynb", "print('fine', customer_id)")
    assert warm.execute(_job(ok, out, "a", study))["status"] == "ok"
    lost = fresh_pool.kernels[0]
    lost.ready(60)
    os.killpg(lost.pid, signal.SIGKILL)  # e.g. the OOM killer, while it waits
    if noticed == "before":
        time.sleep(0.5)
    else:  # the pool takes it for alive: the notebook itself finds it dead before its first cell, and is retried
        monkeypatch.setattr(warm.WarmKernel, "alive", lambda self: True)
    r = warm.execute(_job(ok, out, "b", study))
    assert r["status"] == "ok", r["error"]
    assert "fine A1" in _text(nbformat.read(out / "b.ipynb", as_version=4))
    assert fresh_pool.started == 2 and not _alive(lost.pid)


@pytest.mark.slow
def test_memory_limits_stop_a_runaway_notebook_and_recycle_a_grown_kernel(study, tmp_path, fresh_pool):
    out = tmp_path / "out"
    ok = _template(tmp_path / "ok.ipynb", "print('fine')")
    hog = _template(tmp_path / "hog.ipynb", "blob = bytearray(600 * 2**20)\nimport time\ntime.sleep(20)")
    assert warm.execute(_job(ok, out, "a", study))["status"] == "ok"
    base = fresh_pool.kernels[0].rss()
    assert base > 0
    limit_mb = base / 2**20 + 250
    r = warm.execute(_job(hog, out, "hog", study, memory_limit_mb=limit_mb))
    assert r["status"] == "failed" and "more than" in r["error"] and "MB of memory" in r["error"]
    assert fresh_pool.started == 2 or len(fresh_pool.kernels) == 0
    assert warm.execute(_job(ok, out, "b", study))["status"] == "ok"
    started = fresh_pool.started
    # a kernel that has grown past the pool's limit between notebooks is replaced before the next one
    fresh_pool.memory_limit = 1
    try:
        assert warm.execute(_job(ok, out, "c", study))["status"] == "ok"
    finally:
        fresh_pool.memory_limit = 4096 * 2**20
    assert fresh_pool.started == started + 1


# -- the same notebooks as the cold path ---------------------------------------

_VOLATILE = re.compile(r"0x[0-9a-f]{6,}")


def _normal(nb) -> list:
    """Cells as a reader sees them: type, source, tags, prompt numbers and outputs (minus times and addresses)."""
    out = []
    for c in nb.cells:
        outs = []
        for o in c.get("outputs", []):
            o = json.loads(_VOLATILE.sub("0x?", json.dumps(o, sort_keys=True)))
            o.pop("execution_count", None) if o.get("output_type") != "execute_result" else None
            outs.append(o)
        out.append((c.cell_type, c.source, sorted(c.metadata.get("tags", [])), c.get("execution_count"), outs,
                    sorted(c.metadata.get("papermill", {})), c.metadata.get("papermill", {}).get("status")))
    return out


@pytest.mark.slow
@START
def test_outputs_are_those_of_the_cold_engine(study, tmp_path, fresh_pool, how):
    tpl = runs.template_path(runs.CUSTOMER_NOTEBOOK)
    jobs = {}
    for engine in ("cold", "warm"):
        for cid in ("A1", "B3"):  # B3 runs second on the warm kernel: after a reset, not on a fresh kernel
            j = _job(tpl, tmp_path / engine, cid, study.resolve(), customer=cid)
            j["parameters"]["today"] = "2026-06-01"
            jobs[engine, cid] = j
    with _started(how, fresh_pool, tpl):
        for cid in ("A1", "B3"):
            assert runs._execute_here(jobs["cold", cid])["status"] == "ok"
            assert warm.execute(jobs["warm", cid])["status"] == "ok"
        assert fresh_pool.started == 1
    for cid in ("A1", "B3"):
        cold = nbformat.read(tmp_path / "cold" / f"{cid}.ipynb", as_version=4)
        hot = nbformat.read(tmp_path / "warm" / f"{cid}.ipynb", as_version=4)
        assert _normal(hot) == _normal(cold), cid
        assert sum("image/png" in o.get("data", {}) for c in hot.cells for o in c.get("outputs", [])) >= 1
        pc, ph = cold.metadata.papermill, hot.metadata.papermill
        assert sorted(ph) == sorted(pc)
        assert ph["parameters"] == pc["parameters"] and ph["version"] == pc["version"]
        assert ph["exception"] is None and ph["duration"] > 0
        assert ph["input_path"] == str(tpl) and ph["output_path"] == str(tmp_path / "warm" / f"{cid}.ipynb")
        assert hot.metadata.language_info == cold.metadata.language_info
        assert hot.metadata.cvm_kit["status"] == "ok"
        assert [c.metadata.get("tags") for c in hot.cells][:2] == [["parameters"], ["injected-parameters"]]
        # the management page shows the same body (the injected cell has a random id, in both engines)
        body = [re.sub(r"0x[0-9a-f]+|cell-id=[0-9a-f]+", "", (tmp_path / e / f"{cid}.html").read_text())
                for e in ("cold", "warm")]
        assert body[0] == body[1]


@pytest.mark.slow
def test_a_failing_notebook_gets_papermills_error_cells(study, tmp_path, fresh_pool):
    tpl = runs.template_path(runs.CUSTOMER_NOTEBOOK)
    r = warm.execute(_job(tpl, tmp_path, "ZZ", study, customer="ZZ"))
    assert r["status"] == "failed" and r["error"].startswith("CvmError: ") and "'ZZ' is not in" in r["error"]
    nb = nbformat.read(tmp_path / "ZZ.ipynb", as_version=4)
    assert "papermill-error-cell-tag" in nb.cells[0].metadata.get("tags", [])
    assert any(c.get("source", "").startswith('<span id="papermill-error-cell"') for c in nb.cells)
    assert nb.metadata.papermill["exception"] is True and not (tmp_path / "ZZ.html").exists()
    # a notebook error leaves the kernel healthy: the next customer runs on it
    assert warm.execute(_job(tpl, tmp_path, "A1", study))["status"] == "ok"
    assert fresh_pool.started == 1


# -- processes -------------------------------------------------------------------


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False


def _marked(marker: str) -> list[int]:
    """Live processes whose environment holds ``marker`` (every descendant of a run inherits it)."""
    found = []
    needle = f"CVM_TEST_MARK={marker}".encode()
    for e in os.listdir("/proc"):
        if not e.isdigit() or int(e) == os.getpid():
            continue
        try:
            with open(f"/proc/{e}/environ", "rb") as f:
                if needle in f.read().split(b"\0") and _alive(int(e)):
                    found.append(int(e))
        except OSError:
            pass
    return found


_RUNNER = """
import sys
from cvm_kit import runs
r = runs.run_batch(sys.argv[1], sys.argv[2].split(","), out_dir=sys.argv[3], workers=int(sys.argv[4]),
                   progress=False, force=True, timeout=float(sys.argv[5]), engine="warm",
                   **({"template": sys.argv[6]} if len(sys.argv) > 6 else {}))
print("STATUS", ",".join(x.status for x in r.runs), flush=True)
"""


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc")
def test_no_process_is_left_after_a_batch(study, tmp_path):
    marker = uuid.uuid4().hex
    env = dict(os.environ, CVM_TEST_MARK=marker)
    p = subprocess.run([sys.executable, "-c", _RUNNER, str(study), "A1,B3,A2", str(tmp_path / "out"), "2", "300"],
                       env=env, capture_output=True, text=True, timeout=600, check=False)
    assert p.returncode == 0, p.stderr[-3000:]
    assert "STATUS ok,ok,ok" in p.stdout
    assert _marked(marker) == []
    assert not list((tmp_path / "out").glob(".*"))  # no temporary file left


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc")
@pytest.mark.parametrize("workers", [1, 2])
def test_no_kernel_outlives_a_killed_batch(study, tmp_path, workers):
    hang = _template(tmp_path / "hang.ipynb", "print('started')", "import time\nwhile True:\n    time.sleep(0.1)")
    marker = uuid.uuid4().hex
    env = dict(os.environ, CVM_TEST_MARK=marker)
    p = subprocess.Popen([sys.executable, "-c", _RUNNER, str(study), "A1,B3", str(tmp_path / "out"), str(workers),
                          "300", str(hang)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        # wait until every kernel runs the hanging cell (a kernel is a process whose parent is not the runner)
        # the runner and its kernel; or runner, forkserver, 2 workers, the zygote and the 2 kernels it forked
        want = 2 if workers == 1 else 7
        while time.monotonic() < deadline and len(_marked(marker)) < want:
            time.sleep(0.5)
        assert len(_marked(marker)) >= want
        if workers == 2:  # the kernels were forked by the zygote (they share its command line)
            assert sum(b"cvm_kit._zygote" in Path(f"/proc/{pid}/cmdline").read_bytes()
                       for pid in _marked(marker)) == 3
        time.sleep(2)
        p.kill()  # SIGKILL: nothing of the runner's own clean-up runs
        p.wait(10)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and _marked(marker):
            time.sleep(0.25)
        assert _marked(marker) == []
    finally:
        if p.poll() is None:
            p.kill()
        for pid in _marked(marker):
            os.kill(pid, signal.SIGKILL)


# -- the zygote ------------------------------------------------------------------

_PROBE = ("import os, sys, random, numpy as np; print('PROBE', os.getppid(), sys.argv[0], '|'.join(sys.path), "
          "os.getcwd(), os.environ.get('JPY_PARENT_PID'), os.environ.get('CVM_ZYGOTE_TEST'), random.random(), "
          "np.random.rand())")


def _probe(k) -> list[str]:
    """Run the probe on a started kernel (outside any notebook); its printed fields."""
    from cvm_kit.reporting.warm_kernel import _loop

    k.kc.execute(_PROBE)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        m = _loop().run(k.kc.get_iopub_msg(timeout=10))
        if m["msg_type"] == "stream" and "PROBE" in m["content"]["text"]:
            return m["content"]["text"].split()[1:]
    raise AssertionError("no probe output")


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the zygote forks: Linux")
def test_kernels_forked_by_the_zygote_start_as_new_kernels_would(tmp_path, fresh_pool, monkeypatch):
    from cvm_kit.reporting.zygote import Zygote

    tpl = runs.template_path(runs.CUSTOMER_NOTEBOOK)
    z = Zygote([str(tpl)])  # started before the change below: a kernel gets the environment it is started with
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CVM_ZYGOTE_TEST", "seen")
    try:
        fresh_pool.zygote = z.address
        for _ in range(2):
            fresh_pool.prestart("python3", warm.template_imports([tpl]))
        ks = list(fresh_pool.kernels)
        for k in ks:
            k.ready(60)
        own = warm.WarmKernel("python3", warm.template_imports([tpl]))  # started the usual way, to compare
        own.start_async()
        own.ready(60)
        try:
            probes = [_probe(k) for k in (*ks, own)]
        finally:
            own.kill()
        assert [k.forked for k in ks] == [True, True] and not own.forked
        for (ppid, argv0, path, cwd, jpy, env, *_), k in zip(probes[:2], ks):
            assert int(ppid) == z.pid != k.pid  # forked by the zygote, in a session of its own
            assert os.getpgid(k.pid) == k.pid
            # what `python -m ipykernel_launcher` shows a notebook (the kernel started on its own shows the same)
            assert (argv0, path, cwd, jpy, env) == tuple(probes[2][1:6]) == (
                probes[2][1], probes[2][2], str(tmp_path), str(os.getpid()), "seen")
            assert "" in path.split("|") and str(tmp_path) not in path.split("|")
            assert argv0.endswith("ipykernel_launcher.py")
        assert probes[0][6:] != probes[1][6:]  # each kernel has its own random seeds, not the zygote's
        # a kernel belongs to its worker, not to the zygote: it outlives it
        os.kill(z.pid, signal.SIGKILL)
        time.sleep(2.5)  # ipykernel's parent poller, were it running, would have ended it within a second
        assert all(k.alive() for k in ks)
        r = warm.execute(_job(tpl, tmp_path / "out", "A1", TINY.resolve()))  # and runs a notebook
        assert r["status"] == "ok", r["error"]
        assert fresh_pool.started == 2  # on one of those kernels
    finally:
        fresh_pool.zygote = None
        warm.shutdown()
        z.stop()
    assert not Path(z.dir).exists() and not _alive(z.pid)


@pytest.mark.slow
def test_without_the_zygote_a_kernel_starts_on_its_own(study, tmp_path, fresh_pool):
    ok = _template(tmp_path / "ok.ipynb", "print('fine', customer_id)")
    fresh_pool.zygote = str(tmp_path / "gone")  # e.g. the zygote died: nothing listens there
    try:
        r = warm.execute(_job(ok, tmp_path / "out", "a", study))
        assert r["status"] == "ok", r["error"]
        assert [k.forked for k in fresh_pool.kernels] == [False]
    finally:
        fresh_pool.zygote = None


def _kids(pid: int) -> list[int]:
    out = []
    for e in os.listdir("/proc"):
        if e.isdigit():
            try:
                with open(f"/proc/{e}/stat", "rb") as f:
                    if int(f.read().rsplit(b")", 1)[1].split()[1]) == pid and _alive(int(e)):
                        out.append(int(e))
            except (OSError, ValueError, IndexError):
                pass
    return out


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the zygote forks: Linux")
def test_a_forked_kernel_ends_with_its_worker_and_the_zygote_with_its_starter(tmp_path):
    from cvm_kit.reporting.zygote import ZygoteProcess

    starter = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from cvm_kit.reporting.zygote import Zygote; z = Zygote([]); "
        "print(z.address, z.pid, flush=True); time.sleep(300)")], stdout=subprocess.PIPE, text=True)
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])  # stands for a pool worker
    kernel = None
    try:
        address, zpid = starter.stdout.readline().split()
        gave_up = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)  # a worker that gave up waiting
        gave_up.connect(address)
        gave_up.sendall(json.dumps({"argv": [], "cwd": str(tmp_path), "env": {}, "watch": worker.pid}).encode()
                        + b"\n")
        gave_up.close()
        kernel = ZygoteProcess(address, [sys.executable, "-m", "ipykernel_launcher", "-f", str(tmp_path / "k.json")],
                               {"cwd": str(tmp_path), "env": dict(os.environ)}, watch=worker.pid, cleanup=None)
        time.sleep(1)
        assert kernel.poll() is None and _alive(kernel.pid)
        assert _kids(int(zpid)) == [kernel.pid]  # nothing forked for the request nobody waits for
        worker.kill()
        worker.wait(10)
        assert kernel.wait(timeout=15) != 0  # the kernel noticed its worker was gone and killed its group
        assert not _alive(kernel.pid)
        starter.kill()  # SIGKILL: the zygote notices its starter is gone by itself
        starter.wait(10)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and _alive(int(zpid)):
            time.sleep(0.2)
        assert not _alive(int(zpid))
    finally:
        for p in (starter, worker):
            if p.poll() is None:
                p.kill()
        if kernel is not None and _alive(kernel.pid):
            os.kill(kernel.pid, signal.SIGKILL)


def _fake_kernel(greet: bool):
    """A kernel's shell and iopub sockets that answer kernel_info; iopub publishes nothing for the first request
    (its status "went out before the subscription") and greets new subscribers only when ``greet``."""
    import threading

    import zmq
    from jupyter_client.asynchronous import AsyncKernelClient
    from jupyter_client.session import Session

    ctx = zmq.Context()
    session = Session(key=b"test")
    shell = ctx.socket(zmq.ROUTER)
    iopub = ctx.socket(zmq.XPUB)
    ports = {"shell_port": shell.bind_to_random_port("tcp://127.0.0.1"),
             "iopub_port": iopub.bind_to_random_port("tcp://127.0.0.1")}
    asked: list[float] = []
    stop = threading.Event()

    def serve() -> None:
        poller = zmq.Poller()
        poller.register(shell, zmq.POLLIN)
        poller.register(iopub, zmq.POLLIN)
        while not stop.is_set():
            for sock, _ in poller.poll(50):
                if sock is iopub:
                    iopub.recv()  # a subscription
                    if greet:
                        session.send(iopub, "iopub_welcome", {"subscription": ""})
                    continue
                idents, msg = session.feed_identities(shell.recv_multipart())
                msg = session.deserialize(msg)
                asked.append(time.monotonic())
                if len(asked) > 1:  # the first request's status is lost
                    session.send(iopub, "status", {"execution_state": "idle"}, parent=msg)
                session.send(shell, "kernel_info_reply", {"status": "ok", "protocol_version": "5.3"}, parent=msg,
                             ident=idents)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    kc = AsyncKernelClient(ip="127.0.0.1", transport="tcp", session=Session(key=b"test"), **ports)
    kc.start_channels(shell=True, iopub=True, stdin=False, hb=False, control=False)

    def close() -> None:
        stop.set()
        thread.join(5)
        kc.stop_channels()
        ctx.destroy(linger=0)

    return kc, asked, close


@pytest.mark.parametrize("greet", [True, False], ids=["greets", "silent"])
def test_a_kernel_is_ready_once_it_answers_and_iopub_is_connected(greet):
    """ipykernel greets a new iopub subscriber: ready at the first reply; a kernel that does not is asked again."""
    from cvm_kit.reporting.warm_kernel import _loop

    kc, asked, close = _fake_kernel(greet)
    try:
        k = warm.WarmKernel("python3")

        class _Alive:
            async def is_alive(self) -> bool:
                return True

        k.kc, k.km = kc, _Alive()
        _loop().run(k._aready(20), timeout=30)
        # greeted: ready at the first reply; silent: its first status message was lost, so it is asked again
        assert len(asked) == 1 if greet else len(asked) >= 2
    finally:
        close()
        k.kc = k.km = None
        k.kill()
