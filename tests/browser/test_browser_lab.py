"""JupyterLab in a real browser: the estimates notebook runs, shows a figure and an interactive widget.

A ``jupyter lab`` server on 127.0.0.1 (token set, no browser of its own,
isolated config and runtime folders, nothing fetched from the internet)
serves a copy of ``notebooks/02_estimates.ipynb`` whose ``study`` parameter
points at the tiny study. Headless Chromium opens it, runs all cells through
the Run menu, then checks that a figure rendered (a loaded <img>), that the
ipywidgets dropdown rendered, and that choosing another element redraws the
table under it with that element's values as cvm_kit computes them.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
from browserkit import offline

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "tests" / "data" / "tiny"
NOTEBOOK = ROOT / "notebooks" / "02_estimates.py"
OPENED = "02_estimates.ipynb"  # the text source converted, with its study set, as an analyst's copy
BUDGET = 110  # seconds for the whole test, server start included


def _with_study(src: Path, dest: Path, study: Path) -> None:
    """Copy a notebook, setting its ``study`` parameter (first cell tagged ``parameters``)."""
    import nbformat

    from cvm_kit.runs import load_template

    nb = load_template(src)
    cells = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert cells, f"{src.name} has no cell tagged 'parameters'"
    source, n = re.subn(r'^study(\s*:\s*str)?\s*=\s*"[^"\n]*"', lambda m: f"study{m.group(1) or ''} = {json.dumps(str(study))}",
                        cells[0].source, count=1, flags=re.M)
    assert n == 1, f"{src.name}: no `study = \"...\"` line in the parameters cell:\n{cells[0].source}"
    cells[0].source = source
    nbformat.write(nb, dest)


def _lab_env(tmp_path: Path, runtime: Path) -> dict[str, str]:
    """Isolated Jupyter config and runtime folders; no news or update checks in the UI."""
    cfg = tmp_path / "jupyter-config"
    settings = cfg / "lab" / "user-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}), encoding="utf-8")
    return {"JUPYTER_CONFIG_DIR": str(cfg), "JUPYTER_RUNTIME_DIR": str(runtime),
            "IPYTHONDIR": str(tmp_path / "ipython"), "JUPYTER_PLATFORM_DIRS": "1"}


@pytest.fixture
def runtime():
    """A short-named Jupyter runtime folder, removed after the server (set up first, torn down last).

    Kernels talk over Unix sockets there (``--KernelManager.transport=ipc``; socket paths
    are limited to ~100 bytes): no TCP ports to race for with the kernels a parallel
    test run starts at the same time.
    """
    path = Path(tempfile.mkdtemp(prefix="cvm-lab-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _start_session(base: str, token: str, path: str) -> None:
    """Start the notebook's kernel session through the Jupyter server REST API."""
    body = json.dumps({"path": path, "name": path, "type": "notebook", "kernel": {"name": "python3"}}).encode()
    req = urllib.request.Request(f"{base}/api/sessions", data=body, method="POST",
                                 headers={"Authorization": f"token {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        assert r.status == 201, r.status


def _wait_kernel_idle(page, timeout_ms: float) -> None:
    """Until the notebook's kernel is connected and idle (status bar 'Idle') for a second running."""
    page.wait_for_function(
        """() => new Promise(done => {
             const idle = () => {
               const ind = document.querySelector('.jp-Notebook-ExecutionIndicator');
               const bar = document.querySelector('#jp-main-statusbar');
               return ind && ind.dataset.status === 'idle' && bar && /\\|\\s*Idle/.test(bar.innerText);
             };
             if (!idle()) return done(false);
             setTimeout(() => done(idle()), 1000);
           })""", timeout=timeout_ms, polling=500)


# JupyterLab occasionally swaps the kernel while opening a notebook and never reconnects (a client
# race, not cvm_kit): a fresh server and browser page then passes. Retried, never skipped.
@pytest.mark.flaky(reruns=2, reruns_delay=2)
def test_estimates_notebook_runs_in_jupyterlab(runtime, page, serve, free_port, tmp_path):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    from cvm_kit.report import money
    from cvm_kit.study import load_study
    from cvm_kit.values import element_values

    t0 = time.monotonic()

    def left() -> float:
        """Milliseconds left of the test's budget (every wait is bounded by it)."""
        return max(1_000.0, (BUDGET - (time.monotonic() - t0)) * 1000)

    if not NOTEBOOK.exists():
        pytest.fail(f"{NOTEBOOK} is missing")
    root = tmp_path / "lab"
    root.mkdir()
    _with_study(NOTEBOOK, root / OPENED, TINY)
    token = secrets.token_hex(16)
    base = f"http://127.0.0.1:{free_port}"
    serve([sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={free_port}",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}", "--allow-root",
           "--ServerApp.terminals_enabled=False", "--LabApp.news_url=None",
           "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
           "--LabApp.extension_manager=readonly", "--KernelManager.transport=ipc"],
          f"{base}/api/status?token={token}", env=_lab_env(tmp_path, runtime), cwd=root, timeout=60)

    # The notebook's kernel session exists before the page opens: JupyterLab then connects to it,
    # instead of racing to create two sessions and connecting to the one it shuts down.
    _start_session(base, token, OPENED)

    # JupyterLab needs nothing from the internet: any request out is refused
    offline(page, ("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:"))
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{base}/lab/tree/{OPENED}?token={token}", timeout=left())
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=left())

    # Run > Run All Cells (JupyterLab command runmenu:run-all), once the kernel is connected and idle.
    # Under load JupyterLab sometimes swaps the session's kernel while opening the notebook and its
    # kernel connection then stays "Connecting" (a Run All issued then is dropped): reload the page,
    # which connects to the session's current kernel, and try again.
    for attempt in range(3):
        last = attempt == 2
        try:
            _wait_kernel_idle(page, left() if last else min(left(), 35_000))
            page.locator(".lm-MenuBar-item", has_text=re.compile(r"^Run$")).click(timeout=left())
            page.locator(".lm-Menu-item[data-command='runmenu:run-all']").click(timeout=left())
            page.wait_for_function(
                "() => Array.from(document.querySelectorAll('.jp-CodeCell .jp-InputPrompt'))"
                ".some(p => /\\[(\\*|\\d+)\\]/.test(p.innerText))", timeout=min(left(), 15_000))
            break
        except PlaywrightTimeout:
            if last:
                raise
            print(f"kernel not ready or Run All dropped (attempt {attempt + 1}): reloading the page")
            page.reload(timeout=left())
            page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=left())

    # the interactive cell is last: once its dropdown shows, every cell above ran
    select = page.locator(".jp-OutputArea-output .widget-dropdown select").first
    select.wait_for(timeout=left())
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=left())
    tracebacks = page.locator(".jp-RenderedText[data-mime-type='application/vnd.jupyter.error']")
    assert tracebacks.count() == 0, tracebacks.first.inner_text()[:2000]

    # a figure: every output image decoded (naturalWidth > 0)
    widths = page.evaluate("Array.from(document.querySelectorAll('.jp-OutputArea-output img'))"
                           ".map(i => i.complete ? i.naturalWidth : 0)")
    assert widths and all(w > 0 for w in widths), widths

    # the widget: the element dropdown and the output it redraws
    output = page.locator(".jp-OutputArea-output .widget-vbox .widget-output").first
    output.locator("table").wait_for(timeout=left())
    values = element_values(load_study(TINY))

    study = load_study(TINY)
    by_name = {e.name: e.id for e in study.elements}  # the dropdown shows element names

    def shown_values() -> dict[str, str]:
        rows = output.locator("table tbody tr")
        heads = [h.strip() for h in output.locator("table thead th").all_inner_texts()]
        col_id = heads.index("Customer")
        col_val = next(i for i, h in enumerate(heads) if h.startswith("Value"))
        return {cells[col_id].strip(): cells[col_val].strip()
                for cells in (r.locator("td").all_inner_texts() for r in rows.all())}

    def expected(element_id: str) -> dict[str, str]:
        v = values[values["element_id"] == element_id]
        return {cid: money(x) for cid, x in zip(v["customer_id"], v["value"])}

    first = by_name[select.input_value()]
    assert shown_values() == expected(first)
    before = output.inner_text()
    choice = "energy" if first != "energy" else "downtime"
    select.select_option(study.element(choice).name)
    page.wait_for_function("([el, old]) => el.innerText !== old && el.querySelector('tbody tr') !== null",
                           arg=[output.element_handle(), before], timeout=left())
    assert shown_values() == expected(choice)  # energy: B3 shown as "—", never 0
    assert output.locator("img").count() >= 1
    assert not errors, errors
