"""Every HTML page of `cvm report` and `cvm batch` as management opens it: offline, in Chromium.

The real commands run on the tiny study into tmp_path (`cvm batch` for two
customers into ``<report>/customers``, then `cvm report`). Each page is then
opened from disk with every request that is not ``file:`` or ``data:``
aborted, and must show: no console error and no script error, every <img>
decoded (naturalWidth > 0, figures embedded), at least one figure on every
notebook page, no code and no prompts (no code-cell input areas, no
``In [ ]:``), and links that resolve to files of the report.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import pytest
from browserkit import artifact_path, offline

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "tests" / "data" / "tiny"
CODE = (".jp-CodeCell .jp-InputArea, .jp-InputPrompt, .jp-OutputPrompt, .input_area, .input_prompt, "
        ".output_prompt, .jp-CodeMirrorEditor, .cm-editor, .highlight")
CUSTOMERS = ("A1", "B3")


def _cvm(*args: str, timeout: float) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("cvm")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "cvm_kit.cli"]
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=timeout)


def test_report_and_batch_pages_open_offline(context, tmp_path, request):
    pytest.importorskip("cvm_kit.runs")
    out = tmp_path / "report"
    batch = _cvm("batch", str(TINY), *[a for c in CUSTOMERS for a in ("--customers", c)], "--workers", "2",
                 "--timeout", "120", "--out", str(out / "customers"), "--no-progress", timeout=300)
    assert batch.returncode == 0, batch.stdout + batch.stderr
    report = _cvm("report", str(TINY), "--out", str(out), "--workers", "2", "--timeout", "120", timeout=400)
    assert report.returncode == 0, report.stdout + report.stderr

    pages = sorted(out.rglob("*.html"))
    names = {p.relative_to(out).as_posix() for p in pages}
    assert {"index.html", "customers/index.html", *(f"customers/{c}.html" for c in CUSTOMERS)} <= names, names
    assert len([n for n in names if "/" not in n and n != "index.html"]) >= 5, names  # the notebook series

    blocked = offline(context, ("file:", "data:"))
    problems: list[str] = []
    for path in pages:
        rel = path.relative_to(out).as_posix()
        page = context.new_page()
        console: list[str] = []
        page.on("console", lambda m, c=console: c.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e, c=console: c.append(f"script error: {e}"))
        page.goto(path.as_uri(), wait_until="load", timeout=60_000)
        images = page.evaluate("Array.from(document.images).map(i => [i.complete && i.naturalWidth, "
                               "i.getAttribute('src').slice(0, 40)])")
        code = page.locator(CODE).count()
        text = page.evaluate("document.body.innerText")
        links = page.evaluate("Array.from(document.querySelectorAll('a[href]')).map(a => a.href)")
        found = []
        if console:
            found.append(f"console errors {console}")
        bad = [src for w, src in images if not w]
        if bad:
            found.append(f"images not loaded {bad}")
        if not rel.endswith("index.html") and not images:
            found.append("no figure")
        if code:
            found.append(f"{code} code element(s) visible")
        if re.search(r"\b(In|Out)\s*\[\s*[\d*]*\s*\]\s*:", text):
            found.append("an In [ ]: / Out[ ]: prompt is visible")
        for token in ("import cvm_kit", "report.display_table(", "pm.execute_notebook"):
            if token in text:
                found.append(f"code text visible: {token!r}")
        for href in links:
            u = urlparse(href)
            if u.scheme == "file" and not Path(u.path).exists():
                found.append(f"broken link {href}")
            elif u.scheme not in ("file", ""):
                found.append(f"link leaves the report: {href}")
        if found:
            page.screenshot(path=str(artifact_path(request, f"-{rel.replace('/', '_')}.png")), full_page=True)
            problems.append(f"{rel}: " + "; ".join(found))
        page.close()
    assert not blocked, f"pages asked the network for {blocked}"
    assert not problems, "\n".join(problems)
