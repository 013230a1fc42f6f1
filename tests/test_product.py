"""cvm_kit as a product (issue 12): a new study in one command, lossless conversion,
the analyst's own notebooks, and an installed wheel that works outside the checkout.

The skeleton's figures are worked out by hand below; the conversion round
trips compare the loaded studies field by field (independently of
:func:`cvm_kit.convert.study_differences`, which is tested separately).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import math
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import yaml

import cvm_kit as cvm
from cvm_kit.cli import main
from cvm_kit.convert import study_differences
from cvm_kit.errors import CvmError
from cvm_kit.scaffold import copy_notebooks, init_study, report_series

ROOT = Path(__file__).resolve().parents[1]
TINY = Path(__file__).parent / "data" / "tiny"
SERIES_FILES = sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
DASHBOARDS = sorted(p.name for p in (ROOT / "notebooks" / "dashboards").glob("*.py"))


def _tree_hashes(path: Path) -> dict[str, str]:
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    return {str(p.relative_to(path.parent)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


# ---------------------------------------------------------------------------
# cvm init


def test_init_skeleton_loads_with_hand_worked_figures(tmp_path):
    path = init_study(tmp_path / "new")
    assert sorted(p.name for p in path.iterdir()) == ["README.md", "customers.csv", "measurements.csv", "project.yaml"]
    study = cvm.load_study(path)
    assert sorted(e.status for e in study.elements) == ["contention", "difference", "parity", "placeholder"]
    # EXAMPLE-1: downtime (40 - 25) h x 1000 = 15000; service 8000 - 5000 = 3000;
    # price difference (10 - 9) x 12000 units = 12000; net 15000 + 3000 - 12000 = 6000.
    # EXAMPLE-2 lacks [Downtime hours per year, offering]: downtime and net stay empty (never 0);
    # service 3000 - 2500 = 500; price difference (10 - 9.5) x 3000 = 1500.
    t = cvm.totals(study).set_index("customer_id")
    assert t.loc["EXAMPLE-1", "differential_value"] == pytest.approx(18000)
    assert t.loc["EXAMPLE-1", "price_difference"] == pytest.approx(12000)
    assert t.loc["EXAMPLE-1", "net_value"] == pytest.approx(6000)
    assert t.loc["EXAMPLE-2", "price_difference"] == pytest.approx(1500)
    assert math.isnan(t.loc["EXAMPLE-2", "net_value"])
    v = cvm.element_values(study).set_index(["customer_id", "element_id"])["value"]
    assert v["EXAMPLE-1", "downtime"] == pytest.approx(15000)
    assert v["EXAMPLE-1", "service"] == pytest.approx(3000)
    assert v["EXAMPLE-2", "service"] == pytest.approx(500)
    assert math.isnan(v["EXAMPLE-2", "downtime"])
    assert study.element("reputation").perceived_range == (0, 10000)
    assert study.charter is not None and study.charter.days_left(study.charter.start) == 90


def test_init_project_yaml_comments_every_key(tmp_path):
    text = (init_study(tmp_path / "new") / "project.yaml").read_text()
    data = yaml.safe_load(text)
    assert set(data) == {"name", "offering", "segment", "next_best_alternative", "currency", "period", "charter",
                         "subsegments", "constants", "derived", "price", "elements"}
    # every key of the model, at any depth, is commented on its line or the line above
    lines = text.splitlines()
    for key in ("currency", "period", "charter", "subsegments", "constants", "kind", "derived", "price", "elements",
                "category", "status", "assumptions", "status_by_subsegment", "perceived_range", "start"):
        i = next(i for i, line in enumerate(lines) if re.match(rf"\s*-?\s*{key}:", line))
        assert "#" in lines[i] or lines[i - 1].lstrip().startswith("#"), f"{key} has no comment"
    for word in ("parity", "difference", "contention", "placeholder", "technical", "economic", "service", "social",
                 "data", "estimate", "perception", "assumption", "docs/study-format.md"):
        assert word in text
    readme = (tmp_path / "new" / "README.md").read_text()
    for optional in ("prospects.csv", "fieldwork.csv", "realized.csv", "EXAMPLE"):
        assert optional in readme


def test_cli_init_validate_warns_what_to_fill_in(tmp_path, capsys):
    assert main(["init", str(tmp_path / "s")]) == 0
    assert main(["validate", str(tmp_path / "s")]) == 0
    out = capsys.readouterr().out
    assert "warning" in out and "EXAMPLE-2" in out and "[Downtime hours per year, offering]" in out


def test_init_xlsx_is_the_same_study_with_a_readme_sheet(tmp_path, capsys):
    from openpyxl import load_workbook

    assert main(["init", str(tmp_path / "book"), "--xlsx"]) == 0
    book = tmp_path / "book.xlsx"
    assert book.is_file()
    assert load_workbook(book).sheetnames[0] == "readme"
    folder = cvm.load_study(init_study(tmp_path / "folder"))
    assert study_differences(folder, cvm.load_study(book)) == []
    assert main(["validate", str(book)]) == 0
    assert "EXAMPLE-2" in capsys.readouterr().out


def test_init_never_overwrites(tmp_path, capsys):
    dest = tmp_path / "mine"
    dest.mkdir()
    (dest / "project.yaml").write_text("name: keep me\n")
    before = _tree_hashes(dest)
    assert main(["init", str(dest)]) == 1
    assert "already exists and is not empty" in capsys.readouterr().err
    assert _tree_hashes(dest) == before
    (tmp_path / "b.xlsx").write_bytes(b"not mine")
    with pytest.raises(CvmError, match="already exists"):
        init_study(tmp_path / "b", xlsx=True)
    assert (tmp_path / "b.xlsx").read_bytes() == b"not mine"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cvm.load_study(init_study(empty)).name.startswith("TODO")


# ---------------------------------------------------------------------------
# cvm convert


def _full_study(dest: Path) -> Path:
    """The tiny study plus every optional part and awkward text: constant kind and note, element unit,
    notes with newlines, formula-like text and non-ASCII."""
    shutil.copytree(TINY, dest)
    project = yaml.safe_load((dest / "project.yaml").read_text())
    project["constants"][0]["kind"] = "estimate"
    project["constants"][0]["note"] = "=HYPERLINK(\"http://x\") Zürich; line one\nline two"
    project["subsegments"][0]["next_best_alternative"] = "Épaisseur standard"
    for e in project["elements"]:
        if e.get("status") == "difference":
            e["unit"] = "h/year"
            e.setdefault("assumptions", []).append("+cmd| ' /C calc'!A0 stays text")
    (dest / "project.yaml").write_text(yaml.safe_dump(project, sort_keys=False, allow_unicode=True))
    m = pd.read_csv(dest / "measurements.csv", dtype=str, keep_default_na=False)
    m.loc[0, "note"] = "@SUM(A1:A2) from the plant log\nsecond line"
    m.to_csv(dest / "measurements.csv", index=False)
    return dest


def _assert_same(a, b) -> None:
    """Field by field, written out here rather than trusting study_differences."""
    for f in ("name", "offering", "segment", "next_best_alternative", "currency", "period", "charter",
              "subsegments", "constants"):
        assert getattr(a, f) == getattr(b, f), f
    assert [(d.name, d.equation.text) for d in a.derived] == [(d.name, d.equation.text) for d in b.derived]
    assert (a.price.text if a.price else None) == (b.price.text if b.price else None)
    assert len(a.elements) == len(b.elements)
    for ea, eb in zip(a.elements, b.elements):
        for f in ("id", "name", "category", "status", "assumptions", "perceived_range", "unit_hint"):
            assert getattr(ea, f) == getattr(eb, f), (ea.id, f)
        assert dict(ea.status_by_subsegment) == dict(eb.status_by_subsegment)
        assert (ea.equation.text if ea.equation else None) == (eb.equation.text if eb.equation else None)
    for name in ("customers", "measurements", "prospects", "fieldwork", "realized"):
        ta, tb = getattr(a, name), getattr(b, name)
        assert (ta is None) == (tb is None), name
        if ta is not None:
            ta = ta.drop(columns="line", errors="ignore").reset_index(drop=True)
            tb = tb.drop(columns="line", errors="ignore").reset_index(drop=True)
            assert list(ta.columns) == list(tb.columns), name
            for c in ta.columns:  # numbers stay numbers, text stays text (object or pandas' str dtype)
                assert pd.api.types.is_numeric_dtype(ta[c]) == pd.api.types.is_numeric_dtype(tb[c]), (name, c)
            pd.testing.assert_frame_equal(ta, tb, check_exact=True, check_dtype=False, obj=name)
    pd.testing.assert_frame_equal(cvm.element_values(a), cvm.element_values(b), check_exact=True)


@pytest.mark.parametrize("which", ["example", "full"])
def test_convert_round_trip_loses_nothing(tmp_path, which, capsys):
    src = cvm.example_path() if which == "example" else _full_study(tmp_path / "full")
    original = cvm.load_study(src)
    if which == "full":
        assert all(getattr(original, t) is not None for t in ("prospects", "fieldwork", "realized", "charter"))
        assert original.derived and any(e.status_by_subsegment for e in original.elements)
        assert any(e.perceived_range for e in original.elements) and any(e.unit_hint for e in original.elements)
        assert any(c.note and c.kind == "estimate" for c in original.constants)
        assert original.measurements["note"].str.contains("\n").any()
    before = _tree_hashes(src)
    assert main(["convert", str(src), str(tmp_path / "book.xlsx")]) == 0
    assert main(["convert", str(tmp_path / "book.xlsx"), str(tmp_path / "back")]) == 0
    assert "same study" in capsys.readouterr().out
    assert _tree_hashes(src) == before  # the study itself is only read
    book, back = cvm.load_study(tmp_path / "book.xlsx"), cvm.load_study(tmp_path / "back")
    _assert_same(original, book)
    _assert_same(original, back)
    assert study_differences(original, back) == []
    assert sorted(p.name for p in (tmp_path / "back").iterdir()) == sorted(
        p.name for p in src.iterdir() if p.suffix in (".yaml", ".csv"))


def test_study_differences_names_what_changed(tiny):
    assert study_differences(tiny, tiny) == []
    renamed = dataclasses.replace(tiny, name="Other")
    assert study_differences(tiny, renamed) == [f"name: {tiny.name!r} became 'Other'"]
    m = tiny.measurements.copy()
    m.loc[0, "note"] = "changed"
    diffs = study_differences(tiny, dataclasses.replace(tiny, measurements=m, realized=None))
    assert [d.split(":")[0] for d in diffs] == ["measurements", "realized"]


def test_convert_refuses_to_overwrite(tmp_path, capsys):
    out = tmp_path / "book.xlsx"
    out.write_bytes(b"keep")
    assert main(["convert", str(TINY), str(out)]) == 1
    assert "already exists" in capsys.readouterr().err and out.read_bytes() == b"keep"
    other = tmp_path / "other"
    shutil.copytree(TINY, other)
    before = _tree_hashes(other)
    assert main(["convert", str(TINY), str(other)]) == 1  # another study is never replaced
    assert "already exists" in capsys.readouterr().err and _tree_hashes(other) == before
    assert main(["convert", str(TINY), str(TINY)]) == 1
    assert "the study itself" in capsys.readouterr().err
    assert not list(tmp_path.glob(".*converting*"))


def test_convert_bad_study_names_the_problem(tmp_path, capsys):
    bad = tmp_path / "bad"
    shutil.copytree(TINY, bad)
    (bad / "customers.csv").write_text("customer_id,subsegment\nA1,nowhere\n")
    assert main(["convert", str(bad), str(tmp_path / "x.xlsx")]) == 1
    err = capsys.readouterr().err
    assert "customers.csv" in err and "nowhere" in err and "Traceback" not in err
    assert not (tmp_path / "x.xlsx").exists()


# ---------------------------------------------------------------------------
# cvm notebooks, --notebooks, --notebook


def test_notebooks_copies_series_and_dashboard_byte_for_byte(tmp_path, capsys):
    dest = tmp_path / "mine"
    assert main(["notebooks", str(dest)]) == 0
    assert sorted(p.name for p in dest.glob("*.py")) == SERIES_FILES
    assert sorted(p.name for p in (dest / "dashboards").glob("*.py")) == DASHBOARDS
    for p in dest.rglob("*.py"):
        assert p.read_bytes() == (ROOT / "notebooks" / p.relative_to(dest)).read_bytes()
    assert (dest / "jupytext.toml").read_bytes() == (ROOT / "notebooks" / "jupytext.toml").read_bytes()
    # a second copy refuses and writes nothing; --force overwrites
    (dest / "02_estimates.py").write_text("# mine\n")
    assert main(["notebooks", str(dest)]) == 1
    err = capsys.readouterr().err
    assert "02_estimates.py" in err and "--force" in err
    assert (dest / "02_estimates.py").read_text() == "# mine\n"
    assert main(["notebooks", str(dest), "--force"]) == 0
    assert (dest / "02_estimates.py").read_bytes() == (ROOT / "notebooks" / "02_estimates.py").read_bytes()


def test_report_series_runs_what_the_folder_holds(tmp_path):
    for name in ("02_estimates.py", "02_estimates.ipynb", "06_customer_report.py", "09_mine.ipynb", "notes.py"):
        (tmp_path / name).write_text("")
    assert [p.name for p in report_series(tmp_path)] == ["02_estimates.py", "09_mine.ipynb"]
    with pytest.raises(CvmError, match="no such folder"):
        report_series(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CvmError, match="no report notebooks; expected numbered notebooks"):
        report_series(tmp_path / "empty")


def test_report_series_missing_folder(tmp_path, capsys):
    assert main(["report", str(TINY), "--notebooks", str(tmp_path / "nope")]) == 1
    assert "no such folder" in capsys.readouterr().err


def test_batch_notebook_must_be_a_notebook(tmp_path, capsys):
    (tmp_path / "x.txt").write_text("")
    assert main(["batch", str(TINY), "--notebook", str(tmp_path / "x.txt")]) == 2
    assert "expected a notebook" in capsys.readouterr().err


def test_jupyterlab_save_keeps_the_text_source_and_drops_outputs(tmp_path):
    """Open each notebook as JupyterLab does (jupytext's contents manager), add outputs, save: same bytes."""
    import nbformat
    from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager
    from jupytext.async_contentsmanager import build_async_jupytext_contents_manager_class

    copy_notebooks(tmp_path)
    cm = build_async_jupytext_contents_manager_class(AsyncLargeFileManager)(root_dir=str(tmp_path))
    names = SERIES_FILES + [f"dashboards/{d}" for d in DASHBOARDS]

    async def edit_and_save() -> None:
        for name in names:
            nb = (await cm.get(name, type="notebook"))["content"]
            assert nb.cells[0].metadata.get("tags") == ["parameters"], name
            for cell in nb.cells:
                if cell.cell_type == "code":
                    cell.outputs = [nbformat.v4.new_output("stream", text="OUTPUT-SENTINEL")]
                    cell.execution_count = 7
                    cell.metadata["scrolled"] = True
            nb.metadata["language_info"] = {"name": "python", "version": "3.11"}
            await cm.save({"type": "notebook", "content": nb, "format": "json"}, name)

    asyncio.run(edit_and_save())
    for name in names:
        assert (tmp_path / name).read_bytes() == (ROOT / "notebooks" / name).read_bytes(), name
    assert not list(tmp_path.rglob("*.ipynb"))


# ---------------------------------------------------------------------------
# the installed wheel


def test_packaging_metadata():
    tomllib = pytest.importorskip("tomllib")
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert meta["project"]["license"] == "MIT" and meta["project"]["license-files"] == ["LICENSE"]
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    assert (ROOT / "jupytext.toml").read_text() == (ROOT / "notebooks" / "jupytext.toml").read_text()


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess:
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, f"{' '.join(cmd)} exited {r.returncode}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r


@pytest.mark.slow
def test_built_wheel_works_outside_the_checkout(tmp_path):
    """Build the sdist, the wheel from it, install it into a fresh venv and use `cvm` from elsewhere.

    The venv gets cvm_kit from the wheel (``--no-deps``) and its dependencies
    through a ``.pth`` line naming this test environment's site-packages (the
    ``.pth`` files there, such as the editable install's finder, are not
    processed, so the checkout stays invisible). JUPYTER_PATH names this
    environment's Jupyter data (nbconvert templates, kernel spec) as an
    installation with its dependencies would have them in its own prefix.
    """
    dist = tmp_path / "dist"
    build = subprocess.run([sys.executable, "-m", "build", "--sdist", "-o", str(dist), str(ROOT)],
                           capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    (sdist,) = dist.glob("cvm_kit-*.tar.gz")
    with tarfile.open(sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    assert {f"notebooks/{n}" for n in SERIES_FILES} <= names and "setup.py" in names and "LICENSE" in names
    wheel_build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-v", "-w", str(dist), str(sdist)],
                                 capture_output=True, text=True, timeout=600)
    assert wheel_build.returncode == 0, wheel_build.stdout[-3000:] + wheel_build.stderr[-3000:]
    log = wheel_build.stdout + wheel_build.stderr
    assert "SetuptoolsDeprecationWarning" not in log and "License classifiers are deprecated" not in log
    (wheel,) = dist.glob("cvm_kit-*.whl")
    with zipfile.ZipFile(wheel) as z:
        bundled = sorted(n for n in z.namelist() if "/_bundled/" in n)
        assert "cvm_kit-0.1.0.dist-info/licenses/LICENSE" in z.namelist()
        # every data file of the package (report templates, styles ...) is in the wheel
        data = [f"cvm_kit/{p.relative_to(ROOT / 'cvm_kit').as_posix()}" for p in (ROOT / "cvm_kit").rglob("*")
                if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts]
        assert set(data) <= set(z.namelist()), sorted(set(data) - set(z.namelist()))
    expected = ([f"cvm_kit/_bundled/examples/pipe_coating/{p.name}" for p in
                 (ROOT / "data/examples/pipe_coating").iterdir() if p.name == "project.yaml" or p.suffix == ".csv"]
                + [f"cvm_kit/_bundled/notebooks/{n}" for n in SERIES_FILES + ["jupytext.toml"]]
                + [f"cvm_kit/_bundled/notebooks/dashboards/{n}" for n in DASHBOARDS]
                + [f"cvm_kit/_bundled/docs/{p.name}" for p in (ROOT / "docs").glob("*.md")])
    assert bundled == sorted(expected)  # no truth.json, no generator script

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], tmp_path, dict(os.environ))
    py = venv / "bin" / "python"
    purelib = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    Path(purelib, "zz_test_environment.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(Path(sys.prefix) / "share" / "jupyter"),
                                                        os.environ.get("JUPYTER_PATH")]))
    install = _run([str(py), "-m", "pip", "install", "--no-deps", str(wheel)], tmp_path, env)
    assert "eprecat" not in install.stdout + install.stderr
    work = tmp_path / "analyst"
    work.mkdir()
    where = _run([str(py), "-c", "import cvm_kit, cvm_kit.runs as r; print(cvm_kit.__file__); "
                  "print(cvm_kit.example_path()); print(r.notebooks_dir())"], work, env).stdout.split()
    site = str(Path(purelib) / "cvm_kit")
    assert all(w.startswith(site) for w in where), where
    assert "_bundled" in where[1] and "_bundled" in where[2]

    cvm_bin = str(venv / "bin" / "cvm")
    assert "Customers: high_volume 7, low_volume 7 (total 14)" in _run([cvm_bin, "validate"], work, env).stdout
    # the study format, which every error message points to, comes with the package
    assert _run([cvm_bin, "format", "--path"], work, env).stdout.strip().startswith(site)
    assert _run([cvm_bin, "format"], work, env).stdout == (ROOT / "docs" / "study-format.md").read_text() + "\n"
    _run([cvm_bin, "report", "--workers", "2", "-p", "draws", "2000"], work, env)
    report = work / "reports" / "pipe_coating"
    stems = ["01_data_gathering", "02_estimates", "03_subsegment_variance", "04_sensitivity",
             "05_drivers_and_prospects", "07_value_documenter", "08_business_case"]
    for stem in stems:
        assert (report / f"{stem}.ipynb").is_file() and (report / f"{stem}.html").is_file(), stem
    index = (report / "index.html").read_text()
    assert all(f"{stem}.html" in index for stem in stems)
    assert "Executive summary" in index and (report / "management_pack.html").is_file()  # templates shipped
    _run([cvm_bin, "batch", "--customers", "C01", "--customers", "C02", "--workers", "1", "--no-progress"], work, env)
    customers = work / "reports" / "pipe_coating" / "customers"
    assert sorted(p.name for p in customers.glob("*.html")) == ["C01.html", "C02.html", "index.html"]
    assert sorted(p.name for p in customers.glob("*.ipynb")) == ["C01.ipynb", "C02.ipynb"]

    # the analyst's own copy: edits flow into their reports only
    pristine = _tree_hashes(Path(where[2]))
    _run([cvm_bin, "notebooks", "mine"], work, env)
    for p in (work / "mine").glob("[0-9][0-9]_*.py"):
        if p.name not in ("02_estimates.py", "06_customer_report.py"):
            p.unlink()
    est = work / "mine" / "02_estimates.py"
    est.write_text(re.sub(r"^#   title: .*$", "#   title: Estimates, analyst edition", est.read_text(), count=1,
                          flags=re.M))
    cust = work / "mine" / "06_customer_report.py"
    cust.write_text(cust.read_text() + "\n# %%\nimport cvm_kit\nprint('KERNEL-CVM-KIT', cvm_kit.__file__)\n")
    _run([cvm_bin, "report", "--notebooks", "mine", "--out", "reports/mine"], work, env)
    mine = work / "reports" / "mine"
    shown = sorted(p.name for p in mine.iterdir() if not p.name.startswith("."))  # .cvm_report_files: the list
    assert shown == ["02_estimates.html", "02_estimates.ipynb", "index.html", "management_pack.html"]
    assert "Estimates, analyst edition" in (mine / "index.html").read_text()
    _run([cvm_bin, "batch", "--notebook", "mine/06_customer_report.py", "--customers", "C03", "--workers", "1",
          "--no-progress", "--out", "reports/mine/customers"], work, env)
    html = (mine / "customers" / "C03.html").read_text()
    assert f"KERNEL-CVM-KIT {site}" in html  # the kernel ran the installed cvm_kit
    assert _tree_hashes(Path(where[2])) == pristine

    # a new study from the installed package
    _run([cvm_bin, "init", "fresh"], work, env)
    out = _run([cvm_bin, "validate", "fresh"], work, env).stdout
    assert "EXAMPLE-2" in out


# ---------------------------------------------------------------------------
# the format, in the repository


def test_study_format_doc_covers_what_validation_reads():
    """docs/study-format.md names every key, file and word the validator knows; nothing points outside."""
    from cvm_kit import study as st
    from cvm_kit.validate import _KNOWN_KEYS

    doc = (ROOT / "docs" / "study-format.md").read_text()
    for section, keys in _KNOWN_KEYS.items():
        for key in keys:
            assert f"`{key}`" in doc, f"{section or 'top level'}: key {key} not described"
    for word in (*st.STATUSES, *st.CATEGORIES, *st.SOURCES, *st.RELIABILITIES, *st.FIELDWORK_STEPS,
                 *st.FIELDWORK_STATUSES, st.PROJECT_FILE, st.CUSTOMERS_FILE, st.MEASUREMENTS_FILE, *st.OPTIONAL_FILES):
        assert f"`{word}`" in doc or word in doc, word
    for text in (doc, (ROOT / "README.md").read_text(), (ROOT / "docs" / "format-extensions.md").read_text()):
        assert "shared/spec" not in text and "../shared" not in text
    assert "docs/study-format.md" in (ROOT / "README.md").read_text()


def test_validate_failure_points_at_the_format(tmp_path, capsys):
    (tmp_path / "project.yaml").write_text("name: x\n")
    assert main(["validate", str(tmp_path)]) == 1
    assert "the study format: `cvm format` prints it" in capsys.readouterr().err
    assert main(["format"]) == 0 and capsys.readouterr().out.startswith("# The study format")


def test_convert_refuses_a_lossy_conversion(tmp_path, capsys):
    """Excel cannot store ESC: the workbook would hold the text '\\x1b' instead, so nothing is written."""
    src = tmp_path / "esc"
    shutil.copytree(TINY, src)
    m = pd.read_csv(src / "measurements.csv", dtype=str, keep_default_na=False)
    m.loc[0, "note"] = "before\x1bafter"
    m.to_csv(src / "measurements.csv", index=False)
    assert cvm.load_study(src).measurements["note"].iloc[0] == "before\x1bafter"
    assert main(["convert", str(src), str(tmp_path / "esc.xlsx")]) == 1
    err = capsys.readouterr().err
    assert "would change the study; nothing was written" in err and "measurements" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["esc"]


def test_format_extensions_are_folded_into_study_format():
    """Every note of docs/format-extensions.md (from its first section on) is in study-format.md's extensions."""
    ext = (ROOT / "docs" / "format-extensions.md").read_text()
    body = re.sub(r"^## ", "### ", ext[ext.index("\n## ") + 1:], flags=re.M).replace(
        "../shared/spec/project-format.md", "the v1 format").strip()
    doc = (ROOT / "docs" / "study-format.md").read_text()
    extensions = doc[doc.index("## Extensions to v1"):]
    missing = [para for para in body.split("\n\n") if para.strip() and para.strip() not in extensions]
    assert not missing, ("docs/format-extensions.md has notes study-format.md lacks: copy its sections into "
                         "'## Extensions to v1' as '###' sections:\n" + "\n\n".join(missing)[:2000])
