"""The value calculator as a Voilà dashboard, driven in Chromium.

Voilà serves ``notebooks/dashboards/value_calculator.ipynb`` on 127.0.0.1
(its ``study`` and ``customer_id`` parameters set in a copy). In the browser
the test changes one input and checks that the net value shown becomes the
number :func:`cvm_kit.values.evaluate` computes for that input. On the
hostile study the same happens with phrases, ids and names that are HTML/JS
and spreadsheet formulas: they must show as text, no script may run (no
dialog opens), and the arithmetic is unchanged.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pandas as pd
import pytest
from browserkit import offline

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "tests" / "data" / "tiny"
DASHBOARD = ROOT / "notebooks" / "dashboards" / "value_calculator.py"
NET_LABEL = "Net value to the customer"


def _dashboard_copy(dest: Path, study: Path, customer: str) -> Path:
    """The dashboard notebook with its ``study`` and ``customer_id`` parameters set."""
    import nbformat

    from cvm_kit.runs import load_template

    nb = load_template(DASHBOARD)
    cell = next(c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", []))
    for name, value in (("study", str(study)), ("customer_id", customer)):
        cell.source, n = re.subn(rf'^{name}(\s*:\s*str)?\s*=\s*"[^"\n]*"',
                                 lambda m, v=value, k=name: f"{k}{m.group(1) or ''} = {json.dumps(v)}",
                                 cell.source, count=1, flags=re.M)
        assert n == 1, f"{DASHBOARD.name}: no `{name} = \"...\"` in the parameters cell"
    nbformat.write(nb, dest)
    return dest


def _expected_net(study_path: Path, customer: str, phrase: str | None = None, value: float | None = None) -> float:
    """The customer's net value from its own measurements (one input replaced), by cvm_kit.values.evaluate."""
    from cvm_kit.study import load_study
    from cvm_kit.values import evaluate, measurement_table

    s = load_study(study_path)
    t = measurement_table(s)
    t = t[t["customer_id"] == customer]
    inputs = dict(zip(t["variable"], t["value"].astype(float)))
    if phrase is not None:
        inputs[phrase] = value
    sub = s.customers.set_index("customer_id").at[customer, "subsegment"]
    return float(evaluate(s, pd.DataFrame([inputs]), subsegment=sub)["net_value"].iloc[0])


def _shown_net(page) -> float:
    row = page.locator(".cvm-calculator tr", has_text=NET_LABEL).first
    text = row.locator("td").last.inner_text().strip()
    return float(text.replace(",", ""))


@pytest.fixture
def hostile_study(tmp_path):
    sys.path.insert(0, str(ROOT / "tests"))
    try:
        import hostile as H
    finally:
        sys.path.remove(str(ROOT / "tests"))
    return H, H.write_hostile_study(tmp_path / "hostile", tmp_path / "PWNED")


# ipykernel 7 now and then leaves a fresh kernel idle with Voila's first execute request unanswered
# (its shell channel thread misses the request: ipython/ipykernel#1554; seen in CI under load, kernel at
# 2 s CPU, the page on "Executing 2 of 3" for 90 s). Not cvm_kit: a new server and kernel then pass.
# Only a page that never loads is retried; a wrong figure, a dialog or a stale net value fails at once.
@pytest.mark.flaky(reruns=3, reruns_delay=2, only_rerun=[r"TimeoutError: Page\.(goto|wait_for_selector)"])
@pytest.mark.parametrize("which", ["tiny", "hostile"])
def test_calculator_dashboard_updates_net_value(which, page, serve, free_port, tmp_path, request):
    if not DASHBOARD.exists():
        pytest.fail(f"{DASHBOARD} is missing")
    if which == "tiny":
        study, customer, phrase, H = TINY, "A1", "Tonnes", None
    else:
        H, hostile = request.getfixturevalue("hostile_study")
        study, customer, phrase = hostile.path, H.HYPERLINK, H.phrase_names(hostile.sentinel)["Tonnes"]
    root = tmp_path / "dash"
    root.mkdir()
    nb = _dashboard_copy(root / "calculator.ipynb", study, customer)
    base = f"http://127.0.0.1:{free_port}"
    serve([sys.executable, "-m", "voila", str(nb), "--no-browser", f"--port={free_port}", "--Voila.ip=127.0.0.1",
           "--show_tracebacks=True"],
          f"{base}/cvm-ready-check",  # any answer (404) means up; "/" would execute the notebook
          env={"JUPYTER_RUNTIME_DIR": str(tmp_path / "rt"), "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg"),
               "IPYTHONDIR": str(tmp_path / "ipython")},
          cwd=root, timeout=60)

    # Voila's page template links Font Awesome from a CDN (icons only): refused like everything not local
    offline(page, ("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:"))
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{base}/", timeout=90_000)
    page.wait_for_selector(".cvm-calculator", timeout=90_000)

    assert _shown_net(page) == pytest.approx(_expected_net(study, customer), abs=0.005)
    row = page.locator(".widget-hbox").filter(
        has=page.locator(".widget-label", has_text=re.compile("^" + re.escape(phrase) + "$"))).first
    field = row.locator("input").first
    before = row.page.locator(".cvm-calculator tr", has_text=NET_LABEL).first.inner_text()
    field.fill("80")
    field.press("Enter")
    page.wait_for_function(
        "([label, old]) => { const r = Array.from(document.querySelectorAll('.cvm-calculator tr'))"
        ".find(tr => tr.innerText.includes(label)); return r && r.innerText !== old; }",
        arg=[NET_LABEL, before], timeout=30_000)
    expected = _expected_net(study, customer, phrase, 80.0)
    assert _shown_net(page) == pytest.approx(expected, abs=0.005)
    if which == "tiny":
        assert expected == pytest.approx(1030.0)  # 1190 differential - (12 - 10) * 80

    if H is not None:
        # hostile texts are shown as text; nothing they carry ran
        labels = page.locator(".widget-label").all_inner_texts()
        assert f"{H.SCRIPT} price" in labels and phrase in labels
        assert H.IMG in page.locator("h4").first.inner_text()
        options = page.locator(".widget-dropdown select").first.evaluate(
            "s => Array.from(s.options).map(o => o.text)")
        assert any(o.startswith(H.HYPERLINK) for o in options), options
        injected = page.evaluate(
            "() => ({img: document.querySelectorAll('img[src=\"x\"]').length,"
            " scripts: Array.from(document.scripts).filter(s => s.text.includes('alert(1)')).length})")
        assert injected == {"img": 0, "scripts": 0}
        assert H.SCRIPT in page.locator(".cvm-calculator").inner_text()
    assert not dialogs, f"a script from the study ran: {dialogs}"
    assert not errors, errors
