"""The fast loading path (issue 11) gives the numbers the plain pandas way gives.

Loading works on factorized columns (cvm_kit.study.factors), aggregates the
measurements with numpy, describes groups with numpy and parses project.yaml
with libyaml: each is checked here against an independent oracle (pandas
groupby, numpy, PyYAML's pure-Python loader) on data whose truth is known.
"""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
import yaml

from cvm_kit.estimates import _grouped_describe
from cvm_kit.study import load_study
from cvm_kit.study.factors import factorize, first_rows, from_codes, map_codes
from cvm_kit.study.read import read_csv_text
from cvm_kit.study.yamlsafe import _Loader, load_yaml
from cvm_kit.values import measurement_table


def _oracle_table(m: pd.DataFrame) -> pd.DataFrame:
    rank = {"data": 0, "estimate": 1, "perception": 2, "assumption": 3}
    f = m.assign(rank=m["source"].map(rank), row=np.arange(len(m)))
    g = f.groupby(["customer_id", "phrase"], sort=False)
    out = g.agg(value=("value", "mean"), n=("value", "size"), sd=("value", "std"), min=("value", "min"),
                max=("value", "max"), rank=("rank", "max"), row=("row", "min")).reset_index()
    return out.sort_values("row").reset_index(drop=True)


def test_measurement_table_matches_pandas_groupby_with_repeats_and_gaps(tiny):
    rng = np.random.default_rng(7)
    cids = tiny.customers["customer_id"].to_numpy(object)
    phrases = tiny.measurements["phrase"].unique()
    n = 3000
    m = pd.DataFrame({
        "customer_id": rng.choice(cids, n),
        "phrase": rng.choice(phrases, n),
        "value": np.where(rng.random(n) < 0.05, np.nan, rng.normal(100, 30, n)),
        "source": rng.choice(["data", "estimate", "perception", "assumption"], n),
    })
    m["variable"] = m["phrase"].str.upper()
    m.loc[m.index[:40], "customer_id"] = "Z-first"  # a group seen first, repeated
    study = tiny.__class__(**{**tiny.__dict__, "measurements": m})
    got = measurement_table(study)
    want = _oracle_table(m)
    assert list(got["customer_id"]) == list(want["customer_id"])  # groups in order of their first row
    assert list(got["phrase"]) == list(want["phrase"])
    for c in ("value", "sd", "min", "max"):
        np.testing.assert_allclose(got[c].to_numpy(float), want[c].to_numpy(float), rtol=1e-12, equal_nan=True)
    assert got["n"].tolist() == want["n"].tolist()
    names = np.array(["data", "estimate", "perception", "assumption"], dtype=object)
    assert got["source"].tolist() == names[want["rank"].to_numpy(int)].tolist()
    assert got["variable"].tolist() == m["variable"].to_numpy(object)[want["row"].to_numpy()].tolist()
    assert int(got["n"].max()) > 1 and (got["n"] == 1).any()  # both paths of the aggregation ran


def test_measurement_table_hand_case():
    from cvm_kit.values.inputs import _aggregate

    m = pd.DataFrame({"customer_id": ["A", "A", "B", "A"], "phrase": ["x", "x", "x", "y"],
                      "variable": ["X", "x ", "X", "Y"], "value": [10.0, 14.0, 5.0, 1.0],
                      "source": ["data", "perception", "estimate", "data"]})
    t = _aggregate(m)
    assert t[["customer_id", "phrase"]].values.tolist() == [["A", "x"], ["B", "x"], ["A", "y"]]
    assert t["value"].tolist() == [12.0, 5.0, 1.0]
    assert t["n"].tolist() == [2, 1, 1]
    assert t["sd"].iloc[0] == pytest.approx(np.sqrt(8.0)) and np.isnan(t["sd"].iloc[1])
    assert t["source"].tolist() == ["perception", "estimate", "data"]  # the weakest of a group's rows
    assert t["variable"].tolist() == ["X", "X", "Y"]  # as written on the group's first row


def test_factorization_is_remembered_and_never_stale(tiny):
    col = tiny.measurements["customer_id"]
    c1, u1 = factorize(col)
    c2, u2 = factorize(col)
    assert c1 is c2 and u1 is u2  # remembered: loading's checks and the table reuse one factorization
    assert not c1.flags.writeable  # nobody can corrupt the shared codes
    assert (u1[c1] == col.to_numpy(object)).all()
    m = tiny.measurements.copy()
    m.loc[0, "customer_id"] = "EDITED"  # in place: copy-on-write gives the column a new array
    c3, u3 = factorize(m["customer_id"])
    assert "EDITED" in set(u3) and u3[c3[0]] == "EDITED"
    assert "EDITED" not in set(u1)


def test_map_codes_merges_values_and_first_rows():
    col = pd.Series([" b", "a", "b ", "a", "c"], dtype=object)
    out = map_codes(col, str.strip)
    assert out.tolist() == ["b", "a", "b", "a", "c"]
    codes, uniques = factorize(out)
    assert uniques[codes].tolist() == out.tolist()
    assert first_rows(np.array([2, 0, 2, 1]), 4).tolist() == [1, 3, 0, 4]
    s = from_codes(np.array([1, 1, 0]), np.array(["p", "q"], dtype=object), dtype="str")
    assert s.tolist() == ["q", "q", "p"] and str(s.dtype) == str(pd.Series(["x"], dtype="str").dtype)


def test_read_csv_strips_ids_once_and_keeps_notes():
    text = ("customer_id,variable,value,source,reliability,note\n"
            " C1 ,Tonnes,5,data,high,  spaced note \n"
            "C1,Tonnes ,6,Data ,,x\n")
    problems: list = []
    df = read_csv_text(text, "measurements.csv", problems)
    assert problems == []
    assert df["customer_id"].tolist() == ["C1", "C1"]
    assert df["variable"].tolist() == ["Tonnes", "Tonnes"]
    assert df["source"].tolist() == ["data", "Data"]  # stripped; case is the checks' business
    assert df["note"].tolist() == ["  spaced note ", "x"]
    assert df["value"].tolist() == [5.0, 6.0] and df["line"].tolist() == [2, 3]
    assert factorize(df["customer_id"])[1].tolist() == ["C1"]  # ' C1 ' and 'C1' are one customer


def test_underflow_is_named_when_the_value_column_parses_in_c(tiny_copy):
    path = tiny_copy / "measurements.csv"
    m = pd.read_csv(path, dtype=str, keep_default_na=False)
    m.loc[m["value"] == "0", "value"] = "1"  # no zero of its own: the text check must come from the underflow
    m.loc[0, "value"] = "1e-400"
    m.to_csv(path, index=False)
    from cvm_kit.study import validate

    report = validate(tiny_copy)
    assert any("'1e-400' underflows to 0" in p.message and p.where.startswith("line 2") for p in report.errors)


def test_grouped_describe_matches_pandas_and_scipy():
    from scipy import stats

    rng = np.random.default_rng(3)
    n = 500
    df = pd.DataFrame({"e": rng.choice(["E1", "E2", "E3"], n), "s": rng.choice(["A", "B", None], n),
                       "value": np.where(rng.random(n) < 0.1, np.nan, rng.normal(50, 10, n)),
                       "f": np.where(rng.random(n) < 0.2, np.nan, rng.integers(0, 2, n).astype(float))})
    df.loc[df["e"] == "E3", "value"] = np.where(df.loc[df["e"] == "E3", "s"] == "A", 7.0, np.nan)  # one value
    got = _grouped_describe(df, ["e", "s"], "value", 0.9, {"share": ("f", "mean")})
    for row in got.itertuples(index=False):
        x = df.loc[(df["e"] == row.e) & (df["s"] == row.s), ["value", "f"]].dropna(subset=["value"])
        v = x["value"].to_numpy()
        assert row.n == len(v) and row.mean == pytest.approx(v.mean(), rel=1e-12)
        assert row.min == v.min() and row.max == v.max()
        assert row.share == pytest.approx(np.nanmean(x["f"].to_numpy()), rel=1e-12, nan_ok=True)
        if len(v) >= 2 and v.std() == 0:
            assert (row.sd, row.ci_low, row.ci_high) == (0.0, v[0], v[0])
        elif len(v) >= 2:
            lo, hi = stats.t.interval(0.9, len(v) - 1, loc=v.mean(), scale=stats.sem(v))
            assert (row.ci_low, row.ci_high) == pytest.approx((lo, hi), rel=1e-10)
            assert row.sd == pytest.approx(v.std(ddof=1), rel=1e-12)
        else:
            assert np.isnan(row.sd) and np.isnan(row.ci_low)
    # groups as pandas orders them (first appearance), missing keys left out
    want = df.dropna(subset=["value"]).groupby(["e", "s"], sort=False).size()
    assert list(zip(got["e"], got["s"])) == list(want.index)


def test_yaml_c_loader_reads_what_the_python_loader_reads(tiny):
    text = (tiny.path / "project.yaml").read_text()
    data, problems, lines = load_yaml(text)
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        want = loader.construct_document(root)
    finally:
        loader.dispose()
    assert data == want and problems == []
    assert lines[("elements", 0)] == next(i for i, ln in enumerate(text.splitlines(), 1)
                                           if ln.lstrip().startswith("- ") and i > lines[("elements",)])
    _, dup, _ = load_yaml("a: 1\nb:\n  c: 2\n  c: 3\n")
    assert "key 'c' appears twice in one mapping (lines 3 and 4)" in str(dup[0])
    with pytest.raises(yaml.YAMLError, match="nested more than 64"):
        load_yaml("a: " + "[" * 70 + "]" * 70)


def test_loading_a_copy_twice_gives_equal_studies(tiny_copy, tmp_path):
    other = tmp_path / "again"
    shutil.copytree(tiny_copy, other)
    a, b = load_study(tiny_copy), load_study(other)
    pd.testing.assert_frame_equal(a.measurements, b.measurements)
    pd.testing.assert_frame_equal(measurement_table(a), measurement_table(b))


def test_a_header_longer_than_the_sniffed_prefix_is_read_whole():
    names = [f"characteristic_{i:05d}" for i in range(4000)]  # a ~90 KB header line
    text = "customer_id,subsegment," + ",".join(names) + "\n" + "C1,a," + ",".join("1" for _ in names) + "\n"
    problems: list = []
    df = read_csv_text(text, "customers.csv", problems)
    assert problems == [] and list(df.columns[:3]) == ["customer_id", "subsegment", names[0]]
    assert df.columns[-2] == names[-1] and len(df.columns) == len(names) + 3  # + line


def test_map_codes_gives_the_column_back_when_nothing_changes():
    col = pd.Series(["data", "estimate", "data"], dtype=object)
    assert map_codes(col, str.lower) is col  # already lower case: no new 600,000-row column
    upper = pd.Series(["Data", "data", "DATA"], dtype=object)
    out = map_codes(upper, str.lower)
    assert out is not upper and out.tolist() == ["data", "data", "data"]
    assert upper.tolist() == ["Data", "data", "DATA"]  # the input is never changed
    # equal text of another type, or a different dtype asked for, is a change
    assert map_codes(col, lambda t: np.str_(t)) is not col
    assert map_codes(col, str.lower, dtype="str") is not col


def test_source_words_in_mixed_case_are_lowered_and_lower_case_kept(tiny_copy):
    m = pd.read_csv(tiny_copy / "measurements.csv", dtype=str, keep_default_na=False)
    m.loc[0, "source"] = m.loc[0, "source"].upper()
    m.to_csv(tiny_copy / "measurements.csv", index=False)
    s = load_study(tiny_copy)
    assert s.measurements["source"].tolist() == m["source"].str.lower().tolist()


def test_content_hash_made_in_a_thread_equals_the_plain_hash(tmp_path):
    from cvm_kit.study.model import content_hash
    from cvm_kit.study.read import RawStudy, _Hashing

    files = {"measurements.csv": b"x" * (2 << 20), "project.yaml": b"name: a\n"}  # over the thread's 1 MB
    h = _Hashing(files)
    assert h.result() == content_hash(files)
    small = {"project.yaml": b"name: b\n"}
    assert _Hashing(small).result() == content_hash(small)
    raw = RawStudy(tmp_path, None, {}, {}, dict(files), hashing=h)
    assert raw.content_hash() == content_hash(files)
    raw.files["project.yaml"] = b"name: changed\n"  # the files changed after reading: hashed again
    assert raw.content_hash() == content_hash(raw.files) != content_hash(files)


def test_cli_imports_the_checks_in_a_thread_while_reading(tiny_path):
    import json
    import subprocess
    import sys

    # a fresh interpreter: pydantic, the checks and scipy.special are not imported yet when reading starts
    code = """
import contextlib, json, sys, threading
import cvm_kit._prefetch as P
import cvm_kit.study.read as R
seen = {}
orig, orig_prefetch = R.read_raw, P.prefetch
def spy(path):
    seen["threads"] = [t.name for t in threading.enumerate()]
    return orig(path)
@contextlib.contextmanager
def spy_prefetch(*modules):
    seen["checks_before"] = "cvm_kit.study.load" in sys.modules  # not imported before the thread starts
    seen["modules"] = list(modules)
    with orig_prefetch(*modules):
        yield
R.read_raw, P.prefetch = spy, spy_prefetch
from cvm_kit.cli import main
sys.argv = ["cvm", "summary", sys.argv[1]]
try:
    main()
except SystemExit as e:
    seen["rc"] = e.code or 0
seen["scipy"] = "scipy.special" in sys.modules
print(json.dumps(seen), file=sys.stderr)
"""
    out = subprocess.run([sys.executable, "-c", code, str(tiny_path)], capture_output=True, text=True, check=True)
    seen = json.loads(out.stderr.strip().splitlines()[-1])
    # the thread runs while reading (it may already be done on a fast machine: then it is not listed)
    assert not seen["checks_before"] and seen["modules"][:2] == ["cvm_kit.study.load", "cvm_kit.estimates"]
    assert "scipy.special" in seen["modules"]
    assert seen.get("rc", 0) == 0 and seen["scipy"]
    assert out.stdout.startswith("element_id,status,subsegment,n,mean")


def test_prefetch_swallows_a_failing_import_for_the_caller_to_raise():
    import sys

    from cvm_kit._prefetch import prefetch

    with prefetch("cvm_kit_no_such_module", "json"):
        pass
    assert "cvm_kit_no_such_module" not in sys.modules
    with pytest.raises(ModuleNotFoundError):
        __import__("cvm_kit_no_such_module")


def test_command_line_run_keeps_freed_memory_and_library_calls_do_not():
    import subprocess
    import sys

    code = """
import sys
from cvm_kit import _malloc
from cvm_kit.cli import main
sys.argv = ["cvm", "--version"]
rc = main()
print(rc, _malloc._DONE)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    import platform

    expected = "[True]" if sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc" else "[False]"
    assert out.stdout.strip().splitlines()[-1] == f"0 {expected}"
    code_lib = "from cvm_kit import _malloc\nfrom cvm_kit.cli import main\nmain(['--version'])\nprint(_malloc._DONE)"
    out = subprocess.run([sys.executable, "-c", code_lib], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_command_line_summary_leaves_numpy_testing_unloaded_until_used(tiny_path, tmp_path):
    """scipy.special lists numpy.testing and numpy.f2py; a command-line run imports them only when used."""
    import subprocess
    import sys

    code = """
import sys
from cvm_kit.cli import main
sys.argv = ["cvm", "summary", sys.argv[1], "-o", sys.argv[2]]
rc = main()
import scipy.special
kinds = [type(sys.modules[n]).__name__ for n in ("numpy.testing", "numpy.f2py")]
import numpy
numpy.testing.assert_allclose(1.0, 1.0)  # first use loads it
print(rc, kinds, type(sys.modules["numpy.testing"]).__name__, numpy.testing is sys.modules["numpy.testing"])
"""
    out = subprocess.run([sys.executable, "-c", code, str(tiny_path), str(tmp_path / "s.csv")],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "0 ['_LazyModule', '_LazyModule'] module True"
    # an in-process call (a notebook, a test) imports them the ordinary way
    code_lib = """
import sys
from cvm_kit.cli import main
main(["summary", sys.argv[1], "-o", sys.argv[2]])
print(type(sys.modules["numpy.testing"]).__name__)
"""
    out = subprocess.run([sys.executable, "-c", code_lib, str(tiny_path), str(tmp_path / "s2.csv")],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "module"
    assert (tmp_path / "s.csv").read_bytes() == (tmp_path / "s2.csv").read_bytes()


def test_lazy_module_keeps_an_imported_module_and_loads_on_use():
    import json.decoder  # noqa: F401 - imported before the call
    import sys

    from cvm_kit._prefetch import lazy_module

    assert lazy_module("json.decoder") is False  # imported already: left as it is
    assert type(sys.modules["json.decoder"]).__name__ == "module"
    assert lazy_module("cvm_kit_no_such_pkg.sub") is False
    assert lazy_module("json.cvm_kit_no_such_module") is False
    assert "json.cvm_kit_no_such_module" not in sys.modules


def test_cli_reads_and_checks_with_the_collector_paused_and_restores_it(tiny_path, monkeypatch):
    import gc

    import cvm_kit.study.load as load_mod
    import cvm_kit.study.read as read_mod
    from cvm_kit.cli.common import read_and_check

    seen = []
    real_read, real_check = read_mod.read_raw, load_mod.check_raw
    monkeypatch.setattr(read_mod, "read_raw", lambda p: seen.append(gc.isenabled()) or real_read(p))
    monkeypatch.setattr(load_mod, "check_raw", lambda *a: seen.append(gc.isenabled()) or real_check(*a))
    assert gc.isenabled()
    report = read_and_check(tiny_path)
    assert report.ok and seen == [False, False] and gc.isenabled()

    def broken(p):
        raise OSError("disk gone")

    monkeypatch.setattr(read_mod, "read_raw", broken)
    with pytest.raises(OSError):
        read_and_check(tiny_path)
    assert gc.isenabled()  # back on after an error too


def test_count_newlines_equals_bytes_count_at_slice_edges():
    from cvm_kit.study.read import count_newlines

    rng = np.random.default_rng(5)
    step = 1 << 20
    for size in (0, 1, 2, step - 1, step, step + 1, 3 * step + 17):
        data = bytes(rng.choice(np.frombuffer(b"ab,\n\r1", dtype=np.uint8), size).tobytes())
        assert count_newlines(data) == data.count(b"\n")
    assert count_newlines(b"\n" * (step + 1)) == step + 1
