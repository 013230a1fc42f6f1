"""Issue 13: every page of ``cvm report`` reads well at 1,280 px in Debian's Chromium.

For the example study and for a study written here (three subsegments, long
element and study names, no charter, no placeholder element), every page of
one ``cvm report`` run (made once per study per session):

- no horizontal scrolling: the document is no wider than the window, and no
  element with ``overflow: auto/scroll`` is wider than its box;
- no visible ``nan``, ``NaN`` or ``None``, and no table cell, figure or list entry reading ``missing``
  (prose such as "what is still missing" is allowed);
- no table header is a snake_case identifier;
- the executive summary's net value per subsegment is on the first screen
  (1280 x 800) and equals ``cvm totals``' mean (:func:`cvm_kit.summarize_totals`)
  to the precision shown.
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import cvm_kit as cvm

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
WIDTH, HEIGHT = 1280, 800
NOT_A_VALUE = re.compile(r"\b(nan|NaN|None|missing)\b")
NOT_A_PYTHON_VALUE = re.compile(r"\b(nan|NaN|None)\b")
SNAKE = re.compile(r"^[a-z]+(_[a-z0-9]+)+$")
LONG = "Reduced unplanned downtime of the continuous coating and curing line, all shifts included"

OVERFLOW_JS = """() => {
  const s = document.scrollingElement;
  const bad = [];
  for (const el of document.querySelectorAll('body *')) {
    const ox = getComputedStyle(el).overflowX;
    if ((ox === 'auto' || ox === 'scroll') && el.scrollWidth > el.clientWidth + 1)
      bad.push(`${el.tagName}.${el.className} ${el.scrollWidth}>${el.clientWidth}`);
  }
  return {doc: [s.scrollWidth, s.clientWidth], bad: bad.slice(0, 8)};
}"""


def _cvm_report(study: Path, out: Path) -> Path:
    r = subprocess.run([sys.executable, "-m", "cvm_kit.cli", "report", str(study), "--out", str(out)],
                       capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-4000:]
    return out


def _written_study(base: Path) -> Path:
    """Three subsegments, long names, no charter, no placeholder (a random study, renamed)."""
    sys.path.insert(0, str(ROOT))
    try:
        from tools.synthetic import write_random_study
    finally:
        sys.path.remove(str(ROOT))
    study = write_random_study(base / "wide", n_customers=18, n_elements=5, n_subsegments=3, seed=7)
    doc = yaml.safe_load((study / "project.yaml").read_text(encoding="utf-8"))
    doc.pop("charter", None)
    doc["name"] = "A study of a premium offering with a deliberately long name for the page layout"
    for i, e in enumerate(doc["elements"]):
        assert e.get("status") != "placeholder"
        e["name"] = f"{LONG} ({i + 1})"
    for s in doc["subsegments"]:
        s["description"] = "Plants running three shifts with their own maintenance crew and a long description"
    (study / "project.yaml").write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return study


@pytest.fixture(scope="module", params=["example", "written"])
def report(request, tmp_path_factory):
    """(study path, report folder): one ``cvm report`` per study per session."""
    base = tmp_path_factory.mktemp(f"pages-{request.param}")
    study = cvm.example_path() if request.param == "example" else _written_study(base)
    cvm.load_study(study)  # a study that does not load fails here, not in the browser
    return study, _cvm_report(study, base / "report")


@pytest.fixture
def window(browser):
    ctx = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT})
    blocked: list[str] = []

    def route(r):
        if r.request.url.startswith(("file:", "data:")):
            r.continue_()
        else:  # a report needs no network
            blocked.append(r.request.url)
            r.abort()

    ctx.route("**/*", route)
    page = ctx.new_page()
    yield page, blocked
    ctx.close()


def _pages(out: Path) -> list[Path]:
    return [out / "index.html"] + sorted(p for p in out.glob("*.html") if p.name != "index.html")


def _check_page(page, path: Path) -> list[str]:
    """What is wrong with one page (empty: nothing)."""
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    problems = []
    o = page.evaluate(OVERFLOW_JS)
    if o["doc"][0] > o["doc"][1] + 1:
        problems.append(f"the page scrolls sideways: {o['doc'][0]} px wide in a {o['doc'][1]} px window")
    problems += [f"scrolls sideways: {b}" for b in o["bad"]]
    text = page.evaluate("document.body.innerText")
    for m in NOT_A_PYTHON_VALUE.finditer(text):
        problems.append(f"shows {m.group(0)!r}: ...{text[max(0, m.start() - 60):m.end() + 40]!r}...")
    # a figure, label or list entry reading "missing" (prose may say what is still missing)
    cells = page.evaluate("""() => Array.from(document.querySelectorAll('td, th, dd, dt, li, caption, .headline'))
        .map(e => e.innerText.trim())""")
    problems += [f"a cell reads {c!r}" for c in cells if NOT_A_VALUE.search(c)]
    heads = page.evaluate("Array.from(document.querySelectorAll('th')).map(t => t.innerText.trim())")
    problems += [f"snake_case header {h!r}" for h in heads if SNAKE.match(h)]
    return [f"{path.name}: {p}" for p in problems]


def test_every_page_reads_at_1280px(report, window):
    study, out = report
    page, blocked = window
    pages = _pages(out)
    # the index, one page per notebook and the management pack
    assert {p.name for p in pages} == {"index.html", "management_pack.html"} | {
        p.with_suffix(".html").name for p in out.glob("*.ipynb")}
    problems = [p for path in pages for p in _check_page(page, path)]
    assert not problems, "\n".join(problems[:40])
    assert blocked == []


def _decimals(text: str) -> int:
    m = re.search(r"\.(\d+)", text)
    return len(m.group(1)) if m else 0


def test_summary_net_values_on_first_screen_equal_cvm_totals(report, window):
    study, out = report
    page, _ = window
    page.goto((out / "index.html").as_uri())
    page.wait_for_load_state("load")
    shown = page.evaluate("""() => Array.from(document.querySelectorAll('[data-net-mean]')).map(e => ({
        sub: e.closest('[data-subsegment]').dataset.subsegment, text: e.dataset.netMean,
        top: e.getBoundingClientRect().top, visible: e.getBoundingClientRect().height > 0}))""")
    s = cvm.load_study(study)
    t = cvm.summarize_totals(s)
    net = t[t["quantity"] == "net_value"].set_index("subsegment")["mean"]
    assert sorted(r["sub"] for r in shown) == sorted(s.subsegment_ids)
    for r in shown:
        assert r["visible"] and r["top"] < HEIGHT, (r, "below the first screen")
        value = float(r["text"].replace(",", "").replace("−", "-").split()[0])
        d = _decimals(r["text"])
        want = float(net[r["sub"]])
        assert math.isfinite(want)
        assert abs(value - want) <= 0.5 * 10 ** -d + 1e-9, (r["sub"], r["text"], want)
