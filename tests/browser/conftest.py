"""Fixtures for the browser tests: Debian's Chromium driven by Playwright, servers on loopback.

The browser is the system's ``/usr/bin/chromium`` (Debian packages
``chromium`` and ``chromium-driver``, installed by ``make system-deps``),
never a browser downloaded by Playwright. Without it, or without the Python
``playwright`` package, every browser test is *skipped with a reason* that
``pytest -ra`` prints; nothing passes silently.

Fixtures
--------
chromium_executable
    Path of Debian's Chromium (``CVM_CHROMIUM`` overrides it), else skip.
browser
    A headless Chromium launched by Playwright from that executable (one per
    test module).
context, page
    A fresh browser context / page per test; on failure a screenshot of every
    open page is saved under ``test-artifacts/``.
free_port
    A free TCP port on 127.0.0.1.
serve
    Start a server process (its own session), wait until a URL answers, stop
    it (and the processes it started) when the test ends.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from browserkit import Server, answers, artifact_path, find_free_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-dev-shm-usage",
]
SKIP_NO_CHROMIUM = "chromium not installed: run `make system-deps` (Debian chromium)"


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Everything under tests/browser is a browser test, marked or not (so `-m "not browser"` leaves it out)."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the item, so fixtures can tell whether the test failed."""
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)


def _failed(request: pytest.FixtureRequest) -> bool:
    rep = getattr(request.node, "rep_call", None)
    return rep is None or rep.failed


# ---------------------------------------------------------------------------
# the browser


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    """Debian's Chromium, or skip every browser test with a reason CI prints."""
    path = os.environ.get("CVM_CHROMIUM", CHROMIUM)
    if not Path(path).is_file() or not os.access(path, os.X_OK):
        pytest.skip(SKIP_NO_CHROMIUM)
    return path


@pytest.fixture(scope="module")
def browser(chromium_executable):
    """A headless Chromium driven by Playwright (Python), launched from the system executable.

    Module-scoped: Playwright's sync API allows one running instance per thread, so
    it is stopped before other test modules (with their own Playwright) run.
    """
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright not installed: pip install 'cvm_kit[browser]' (or make install)")
    pw = sync_playwright().start()
    try:
        b = pw.chromium.launch(executable_path=chromium_executable, args=CHROMIUM_ARGS, headless=True,
                               timeout=60_000)
    except Exception as exc:  # a broken install must fail loudly, not skip
        pw.stop()
        raise RuntimeError(f"Chromium at {chromium_executable} did not start under Playwright: {exc}") from exc
    yield b
    b.close()
    pw.stop()


@pytest.fixture
def context(browser, request):
    """A fresh context; if the test fails, a screenshot of every open page and the browser console go to test-artifacts/."""
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    ctx.set_default_timeout(30_000)
    console: list[str] = []
    ctx.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    ctx.on("weberror", lambda e: console.append(f"page error: {e.error}"))
    yield ctx
    if _failed(request):
        artifact_path(request, "-console.log").write_text("\n".join(console[-500:]), encoding="utf-8")
        for i, pg in enumerate(ctx.pages):
            try:
                pg.screenshot(path=str(artifact_path(request, f"-{i}.png")), full_page=True, timeout=10_000)
            except Exception:  # noqa: BLE001 - a screenshot is a courtesy; keep the real failure
                pass
    ctx.close()


@pytest.fixture
def page(context):
    return context.new_page()


# ---------------------------------------------------------------------------
# servers


@pytest.fixture
def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    return find_free_port()


@pytest.fixture
def serve(tmp_path, request):
    """``serve(cmd, url, *, env=None, cwd=None, timeout=60) -> Server``: start, wait for ``url``, stop at the end."""
    started: list[Server] = []

    def start(cmd: list[str], url: str, *, env: dict | None = None, cwd: Path | None = None,
              timeout: float = 60) -> Server:
        log = tmp_path / f"server-{len(started)}.log"
        fh = log.open("wb")
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, cwd=cwd,
                                env={**os.environ, **(env or {})}, start_new_session=True)
        fh.close()
        server = Server(proc, url, log)
        started.append(server)
        deadline = time.monotonic() + timeout
        while not answers(url):
            if proc.poll() is not None:
                pytest.fail(f"server exited with {proc.returncode} before answering {url}:\n{server.log_tail()}")
            if time.monotonic() > deadline:
                pytest.fail(f"server did not answer {url} within {timeout:g} s:\n{server.log_tail()}")
            time.sleep(0.3)
        return server

    yield start
    for server in started:
        server.stop()
        if _failed(request):
            try:
                artifact_path(request, f"-server{started.index(server)}.log").write_text(server.log_tail(400))
            except OSError:
                pass
