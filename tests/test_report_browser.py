"""A generated report in Debian's headless Chromium, offline: figures load, no code shows, no errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
TINY = Path(__file__).parent / "data" / "tiny"
ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory):
    from cvm_kit.runs import run_report

    base = tmp_path_factory.mktemp("browser")
    study = base / "tiny"
    shutil.copytree(TINY, study)
    # the estimates page and a per-customer page (the first customer, A1), with their index
    index = run_report(study, base / "reports" / "tiny", series=("02_estimates", "06_customer_report"),
                       parameters={"today": "2026-06-01"}, timeout=300)
    return index.parent


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"chromium not installed: {CHROMIUM} is missing (Debian package `chromium`, "
                    "installed by `make system-deps`)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed (pip install 'cvm_kit[browser]')")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


def _open(browser, path: Path):
    page = browser.new_page()
    errors: list[str] = []
    outside: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))

    def route(r):
        url = r.request.url
        if url.startswith(("file:", "data:")):
            r.continue_()
        else:  # the network is blocked: a report must not need it
            outside.append(url)
            r.abort()

    page.route("**/*", route)
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return page, errors, outside


@pytest.mark.parametrize("name", ["02_estimates.html", "06_customer_report.html"])
def test_report_page_reads_offline(browser, report_dir, name):
    page, errors, outside = _open(browser, report_dir / name)
    try:
        widths = page.evaluate("Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.alt])")
        assert len(widths) >= 1
        assert all(done and w > 0 for done, w, _ in widths), widths
        assert all(alt and alt != "No description has been provided for this image" for _, _, alt in widths)
        code = page.evaluate("""() => document.querySelectorAll(
            '.jp-InputPrompt, .jp-CodeMirrorEditor, .cm-editor, .highlight, .jp-Cell-inputArea pre').length""")
        assert code == 0
        text = page.evaluate("document.body.innerText")
        assert "import cvm_kit" not in text and "report.header(" not in text and "In [" not in text
        assert "1,090" in text
        # the management pages open with the study charter; a per-customer page never does (issue 10 item 10)
        assert ("Study charter: Tiny test study" in text) == (name != "06_customer_report.html")
        visible_tables = page.evaluate("""() => Array.from(document.querySelectorAll('table.cvm-table'))
            .filter(t => t.getBoundingClientRect().height > 0).length""")
        assert visible_tables >= 2
        assert errors == [] and outside == []
    finally:
        page.close()


def test_index_links_the_pages(browser, report_dir):
    page, errors, outside = _open(browser, report_dir / "index.html")
    try:
        links = page.evaluate("Array.from(document.querySelectorAll('a')).map(a => a.getAttribute('href'))")
        assert "02_estimates.html" in links and "06_customer_report.html" in links
        text = page.evaluate("document.body.innerText")
        assert "Study content hash" in text and "Days left" in text
        page.click("a[href='02_estimates.html']")
        page.wait_for_load_state("load")
        assert page.url.endswith("02_estimates.html")
        assert errors == [] and outside == []
    finally:
        page.close()
