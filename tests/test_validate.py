"""Tests of cvm_kit.validate: every bad input is reported, located, all at once.

Each test breaks a copy of the tiny study (``tiny_copy``) in one way and
checks the problem names the file, the line/column or YAML key, the
offending text and what was expected.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from cvm_kit.errors import Problem, StudyError
from cvm_kit.study import load_study
from cvm_kit.validate import validate

# ---------------------------------------------------------------------------
# helpers


def edit(folder: Path, name: str, old: str, new: str, count: int = 1) -> None:
    """Replace ``old`` by ``new`` in a study file (``old`` must be there)."""
    p = folder / name
    text = p.read_text(encoding="utf-8")
    assert old in text, f"test setup: {old!r} not in {name}"
    p.write_text(text.replace(old, new, count), encoding="utf-8")


def file_line(folder: Path, name: str, startswith: str) -> int:
    """1-based line of the first line of ``name`` starting with ``startswith``."""
    for i, ln in enumerate((folder / name).read_text(encoding="utf-8").splitlines(), start=1):
        if ln.startswith(startswith):
            return i
    raise AssertionError(f"test setup: no line starting {startswith!r} in {name}")


def errors(folder: Path) -> list[Problem]:
    return validate(folder).errors


def only_error(folder: Path) -> Problem:
    errs = errors(folder)
    assert len(errs) == 1, "\n".join(map(str, errs))
    return errs[0]


def tree_digest(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder`` (relative name -> digest)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


# ---------------------------------------------------------------------------
# the tiny study itself


def test_tiny_study_is_valid_with_one_coverage_warning(tiny_path):
    report = validate(tiny_path)
    assert report.ok and report.errors == []
    assert report.study is not None
    assert [p.severity for p in report.warnings] == ["warning"]
    w = report.warnings[0]
    # B3 lacks [kWh, offering] (needed by energy)
    assert w.file == "measurements.csv"
    assert "B3" in w.where
    assert "[kWh, offering]" in w.message and "energy" in w.message


def test_load_study_raises_study_error_listing_every_problem(tiny_copy):
    edit(tiny_copy, "customers.csv", "B1,small", "B1,smal")
    edit(tiny_copy, "measurements.csv", "A1,Energy price,0.2,estimate,", "A1,Energy price,0.2,guess,")
    with pytest.raises(StudyError) as info:
        load_study(tiny_copy)
    assert len(info.value.problems) == 2
    text = str(info.value)
    assert "customers.csv" in text and "'smal'" in text
    assert "measurements.csv" in text and "'guess'" in text


# ---------------------------------------------------------------------------
# customers.csv


def test_unknown_subsegment_names_line_and_expected(tiny_copy):
    edit(tiny_copy, "customers.csv", "B1,small", "B1,smal")
    p = only_error(tiny_copy)
    assert p.file == "customers.csv"
    assert p.where == "line 5, column subsegment"
    assert "'smal'" in p.message and "B1" in p.message
    assert "big, small" in p.message  # what was expected


def test_duplicate_customer_names_both_lines(tiny_copy):
    edit(tiny_copy, "customers.csv", "B2,small,10,north", "A2,small,10,north")
    errs = errors(tiny_copy)
    dup = [p for p in errs if p.file == "customers.csv"]
    assert len(dup) == 1
    assert dup[0].where == "line 6, column customer_id"
    assert "duplicate customer 'A2'" in dup[0].message and "line 3" in dup[0].message


def test_reserved_subsegment_id_all(tiny_copy):
    edit(tiny_copy, "project.yaml", "  - id: big", "  - id: ALL")
    errs = errors(tiny_copy)
    reserved = [p for p in errs if p.where == "subsegments[0].id"]
    assert len(reserved) == 1
    assert reserved[0].file == "project.yaml"
    assert "'ALL'" in reserved[0].message and "reserved" in reserved[0].message


# ---------------------------------------------------------------------------
# measurements.csv


def test_non_numeric_value_names_line_column_and_text(tiny_copy):
    edit(tiny_copy, "measurements.csv", "A2,Tonnes,30", "A2,Tonnes,thirty")
    p = only_error(tiny_copy)
    assert p.file == "measurements.csv"
    line = file_line(tiny_copy, "measurements.csv", "A2,Tonnes,")
    assert p.where.startswith(f"line {line}, column value")
    assert "[Tonnes]" in p.where
    assert "'thirty'" in p.message and "number" in p.message
    assert "thousands" not in p.message


@pytest.mark.parametrize("text", ['"1,200"', '"1.200,50"', "1 200"])
def test_thousands_separator_gets_a_hint(tiny_copy, text):
    edit(tiny_copy, "measurements.csv", "A2,Tonnes,30", f"A2,Tonnes,{text}")
    p = only_error(tiny_copy)
    line = file_line(tiny_copy, "measurements.csv", "A2,Tonnes,")
    assert p.where.startswith(f"line {line}, column value")
    assert repr(text.strip('"')) in p.message
    assert "thousands separators" in p.message


@pytest.mark.parametrize("text,what", [
    ("", "empty value"),
    ("nan", "'nan'"),
    ("inf", "number"),
    ("1e999", "number"),
])
def test_empty_and_non_finite_values_are_errors(tiny_copy, text, what):
    edit(tiny_copy, "measurements.csv", "B1,Tonnes,20", f"B1,Tonnes,{text}")
    p = only_error(tiny_copy)
    line = file_line(tiny_copy, "measurements.csv", "B1,Tonnes,")
    assert p.where.startswith(f"line {line}, column value")
    assert what in p.message


def test_unicode_minus_is_a_number(tiny_copy):
    edit(tiny_copy, "measurements.csv", "A2,Service calls avoided,-1", "A2,Service calls avoided,\u22121")
    study = load_study(tiny_copy)
    m = study.measurements
    row = m[(m["customer_id"] == "A2") & (m["phrase"] == "service calls avoided")]
    assert row["value"].tolist() == [-1.0]


def test_bad_source_word(tiny_copy):
    edit(tiny_copy, "measurements.csv", "A1,Energy price,0.2,estimate,", "A1,Energy price,0.2,guess,")
    p = only_error(tiny_copy)
    line = file_line(tiny_copy, "measurements.csv", "A1,Energy price")
    assert (p.file, p.where) == ("measurements.csv", f"line {line}, column source")
    assert "'guess'" in p.message
    assert "data, estimate, perception, assumption" in p.message


def test_source_word_is_case_insensitive(tiny_copy):
    edit(tiny_copy, "measurements.csv", "A1,Energy price,0.2,estimate,", "A1,Energy price,0.2,Estimate,")
    assert validate(tiny_copy).ok


def test_bad_reliability_word(tiny_copy):
    edit(tiny_copy, "measurements.csv", "A1,Energy price,0.2,estimate,medium", "A1,Energy price,0.2,estimate,sometimes")
    p = only_error(tiny_copy)
    line = file_line(tiny_copy, "measurements.csv", "A1,Energy price")
    assert (p.file, p.where) == ("measurements.csv", f"line {line}, column reliability")
    assert "'sometimes'" in p.message and "high, medium, low" in p.message


def test_unknown_customer_in_measurements(tiny_copy):
    edit(tiny_copy, "measurements.csv", "B3,Tonnes,10", "Z9,Tonnes,10")
    p = only_error(tiny_copy)
    line = file_line(tiny_copy, "measurements.csv", "Z9,")
    assert (p.file, p.where) == ("measurements.csv", f"line {line}, column customer_id")
    assert "'Z9'" in p.message and "customers.csv" in p.message


def test_missing_column_names_the_header(tiny_copy):
    (tiny_copy / "customers.csv").write_text("customer_id,segment\nA1,big\n", encoding="utf-8")
    errs = [p for p in errors(tiny_copy) if p.file == "customers.csv"]
    assert len(errs) == 1
    assert errs[0].where == "header"
    assert "subsegment" in errs[0].message and "customer_id, segment" in errs[0].message


def test_line_numbers_survive_a_multiline_quoted_note(tiny_copy):
    edit(tiny_copy, "measurements.csv", "A1,Tonnes,50,data,high,", 'A1,Tonnes,50,data,high,"two\nlines"')
    edit(tiny_copy, "measurements.csv", "A2,Tonnes,30,data,,", "A2,Tonnes,30,guess,,")
    p = only_error(tiny_copy)
    line = file_line(tiny_copy, "measurements.csv", "A2,Tonnes,")
    assert p.where == f"line {line}, column source"


# ---------------------------------------------------------------------------
# phrases


def test_unmeasured_phrase_names_phrase_element_and_closest(tiny_copy):
    edit(tiny_copy, "project.yaml", "× [Energy price]", "× [Energy prices]")
    p = only_error(tiny_copy)
    assert p.file == "project.yaml"
    assert p.where == "elements[1].equation (id=energy)"
    assert "[Energy prices]" in p.message
    assert "not measured" in p.message and "constant" in p.message
    # the closest known phrase is suggested
    assert "did you mean [energy price]?" in p.message.lower()


def test_unmeasured_phrase_suggestion_is_written_as_in_the_data(tiny_copy):
    edit(tiny_copy, "project.yaml", "× [Energy price]", "× [Energy prices]")
    assert "did you mean [Energy price]?" in only_error(tiny_copy).message


def test_a_constant_provides_a_phrase(tiny_copy):
    """[Margin per hour] is measured only by A3; the constant covers the rest: no problem."""
    report = validate(tiny_copy)
    assert report.ok
    assert not any("Margin per hour" in p.message for p in report.problems)


def test_unused_measured_variable_warns_with_suggestion(tiny_copy):
    edit(tiny_copy, "measurements.csv", "A2,Tonnes,30,data,,", "A2,Tonnes,30,data,,\nA2,Tonnes coatd,30,data,,")
    report = validate(tiny_copy)
    assert report.ok  # a warning, not an error
    w = [p for p in report.warnings if "Tonnes coatd" in p.message]
    assert len(w) == 1
    line = file_line(tiny_copy, "measurements.csv", "A2,Tonnes coatd")
    assert (w[0].file, w[0].where) == ("measurements.csv", f"line {line}, column variable")
    assert "no equation uses it" in w[0].message
    assert "did you mean [tonnes]?" in w[0].message.lower()


def test_unused_measured_variable_suggestion_is_written_as_in_the_equation(tiny_copy):
    edit(tiny_copy, "measurements.csv", "A2,Tonnes,30,data,,", "A2,Tonnes,30,data,,\nA2,Tonnes coatd,30,data,,")
    w = [p for p in validate(tiny_copy).warnings if "Tonnes coatd" in p.message]
    assert "did you mean [Tonnes]?" in w[0].message


def test_customer_missing_an_input_is_a_warning_naming_customer_and_phrase(tiny_copy):
    # B2 also loses [Energy price]
    edit(tiny_copy, "measurements.csv", "B2,Energy price,0.2,data,,\n", "")
    report = validate(tiny_copy)
    assert report.ok
    texts = {(p.where, p.message) for p in report.warnings}
    assert any("B2" in w and "[Energy price]" in m and "energy" in m for w, m in texts)
    assert any("B3" in w and "[kWh, offering]" in m for w, m in texts)
    assert len(report.warnings) == 2


def test_missing_input_of_a_parity_element_is_not_needed(tiny_copy):
    """scrap is parity for small: B1 without [Scrap tonnes avoided] lacks nothing."""
    edit(tiny_copy, "measurements.csv", "B1,Scrap tonnes avoided,5,data,,\n", "")
    report = validate(tiny_copy)
    assert report.ok
    assert not any("B1" in p.where for p in report.warnings)


# ---------------------------------------------------------------------------
# project.yaml


def test_bad_status_word_names_element(tiny_copy):
    edit(tiny_copy, "project.yaml", "status: contention", "status: contentious")
    p = only_error(tiny_copy)
    assert p.file == "project.yaml"
    assert p.where == "elements[2].status (id=service)"
    assert "'contentious'" in p.message
    assert "'parity', 'difference', 'contention' or 'placeholder'" in p.message


def test_bad_category_word_names_element(tiny_copy):
    edit(tiny_copy, "project.yaml", "category: economic", "category: money")
    p = only_error(tiny_copy)
    assert (p.file, p.where) == ("project.yaml", "elements[0].category (id=downtime)")
    assert "'money'" in p.message and "'technical', 'economic', 'service' or 'social'" in p.message


def test_status_words_are_case_insensitive(tiny_copy):
    edit(tiny_copy, "project.yaml", "status: contention", "status: Contention")
    edit(tiny_copy, "project.yaml", "category: economic", "category: ECONOMIC")
    study = load_study(tiny_copy)
    assert study.element("service").status == "contention"
    assert study.element("downtime").category == "economic"


def test_bad_status_in_status_by_subsegment(tiny_copy):
    edit(tiny_copy, "project.yaml", "small: parity", "small: parrity")
    p = only_error(tiny_copy)
    assert (p.file, p.where) == ("project.yaml", "elements[4].status_by_subsegment.small (id=scrap)")
    assert "'parrity'" in p.message


def test_unknown_subsegment_in_status_by_subsegment(tiny_copy):
    edit(tiny_copy, "project.yaml", "small: parity", "smal: parity")
    p = only_error(tiny_copy)
    assert (p.file, p.where) == ("project.yaml", "elements[4].status_by_subsegment.smal (id=scrap)")
    assert "'smal'" in p.message and "big, small" in p.message


def test_malformed_yaml_gives_line_and_column(tiny_copy):
    edit(tiny_copy, "project.yaml", "currency: EUR", "currency: [EUR")
    p = only_error(tiny_copy)
    line = file_line(tiny_copy, "project.yaml", "period:")  # the parser trips on the next key
    assert p.file == "project.yaml"
    assert re.fullmatch(r"line \d+, column \d+", p.where)
    assert p.where.startswith(f"line {line},")
    assert "malformed YAML" in p.message


def test_yaml_tab_indent(tiny_copy):
    edit(tiny_copy, "project.yaml", "  sponsor: Test sponsor", "\tsponsor: Test sponsor")
    p = only_error(tiny_copy)
    line = file_line(tiny_copy, "project.yaml", "\tsponsor")
    assert p.where == f"line {line}, column 1"


def test_yaml_that_is_not_a_mapping(tiny_copy):
    (tiny_copy / "project.yaml").write_text("- a\n- b\n", encoding="utf-8")
    p = only_error(tiny_copy)
    assert p.file == "project.yaml" and "mapping" in p.message and "list" in p.message


def test_missing_required_key(tiny_copy):
    edit(tiny_copy, "project.yaml", "currency: EUR\n", "")
    p = only_error(tiny_copy)
    assert (p.file, p.where) == ("project.yaml", "currency")
    assert "missing" in p.message


@pytest.mark.parametrize("name", ["project.yaml", "customers.csv", "measurements.csv"])
def test_each_missing_file_is_named(tiny_copy, name):
    (tiny_copy / name).unlink()
    errs = errors(tiny_copy)
    mine = [p for p in errs if p.file == name]
    assert len(mine) == 1
    assert "missing" in mine[0].message


def test_all_three_files_missing_reported_at_once(tiny_copy):
    for name in ("project.yaml", "customers.csv", "measurements.csv"):
        (tiny_copy / name).unlink()
    assert sorted(p.file for p in errors(tiny_copy)) == ["customers.csv", "measurements.csv", "project.yaml"]


def test_no_such_folder(tmp_path):
    p = only_error(tmp_path / "nope")
    assert "no such study" in p.message


def test_equation_that_does_not_parse_gives_position(tiny_copy):
    edit(tiny_copy, "project.yaml", '"[Hours saved] * [Margin per hour]"', '"[Hours saved] * * [Margin per hour]"')
    p = only_error(tiny_copy)
    assert (p.file, p.where) == ("project.yaml", "elements[0].equation (id=downtime)")
    assert "does not parse" in p.message
    assert "position 16" in p.message  # 0-based index of the second '*'


@pytest.mark.parametrize(
    "old,new,position,what",
    [
        ('"[Hours saved] * [Margin per hour]"', '"[Hours saved * [Margin per hour]"', 15, "]"),
        ('"[Hours saved] * [Margin per hour]"', '"[Hours saved]] * [Margin per hour]"', 13, "no matching '['"),
        ('"[Scrap tonnes avoided] * 200"', '"([Scrap tonnes avoided] * 200"', 0, "')' to close"),
        ('"max([Service calls avoided], 0) * [Call cost]"', '"max([Service calls avoided], 0)) * [Call cost]"', 31,
         "no matching '('"),
    ],
)
def test_unbalanced_brackets(tiny_copy, old, new, position, what):
    edit(tiny_copy, "project.yaml", old, new)
    errs = errors(tiny_copy)
    assert len(errs) == 1, errs
    p = errs[0]
    assert p.file == "project.yaml" and p.where.startswith("elements[")
    assert f"position {position}" in p.message
    assert what in p.message


def test_no_unused_phrase_noise_after_a_parse_error(tiny_copy):
    edit(tiny_copy, "project.yaml", '"[Hours saved] * [Margin per hour]"', '"[Hours saved] * * [Margin per hour]"')
    warnings = validate(tiny_copy).warnings
    assert not [p for p in warnings if "no equation uses" in p.message], warnings


def test_element_id_used_twice(tiny_copy):
    edit(tiny_copy, "project.yaml", "  - id: brand", "  - id: energy")
    p = only_error(tiny_copy)
    assert (p.file, p.where) == ("project.yaml", "elements[5].id")
    assert "'energy'" in p.message and "twice" in p.message and "elements[1]" in p.message


def test_difference_element_without_equation(tiny_copy):
    edit(tiny_copy, "project.yaml", '    equation: "[Scrap tonnes avoided] * 200"\n', "")
    errs = errors(tiny_copy)
    eq = [p for p in errs if p.where == "elements[4].equation (id=scrap)"]
    assert len(eq) == 1 and "needs a value word equation" in eq[0].message


def test_derived_name_also_measured(tiny_copy):
    edit(tiny_copy, "measurements.csv", "A1,Tonnes,50,data,high,", "A1,Tonnes,50,data,high,\nA1,HOURS saved,5,data,,")
    p = only_error(tiny_copy)
    assert p.file == "project.yaml" and "Hours saved" in p.where
    assert "[Hours saved]" in p.message and "both derived and measured" in p.message


def test_derived_name_also_a_constant(tiny_copy):
    edit(tiny_copy, "project.yaml", "  - name: Call cost", "  - name: Hours saved")
    edit(tiny_copy, "project.yaml", '"max([Service calls avoided], 0) * [Call cost]"',
         '"max([Service calls avoided], 0) * 50"')
    p = only_error(tiny_copy)
    assert (p.file, p.where) == ("project.yaml", "derived[0].name")
    assert "'Hours saved'" in p.message and "constant" in p.message


def test_derived_cycle_names_the_quantities(tiny_copy):
    edit(tiny_copy, "project.yaml",
         '    equation: "[Hours lost, alternative] - [Hours lost, offering]"',
         '    equation: "[Hours lost, alternative] - [Hours lost, offering] + [Extra]"\n'
         '  - name: Extra\n    equation: "[Hours saved] * 0"')
    p = only_error(tiny_copy)
    assert p.file == "project.yaml" and p.where == "derived"
    assert "cycle" in p.message
    assert "[Hours saved]" in p.message and "[Extra]" in p.message


def test_derived_self_reference_is_a_cycle(tiny_copy):
    edit(tiny_copy, "project.yaml", '"[Hours lost, alternative] - [Hours lost, offering]"',
         '"[Hours lost, alternative] - [Hours lost, offering] + 0 * [Hours saved]"')
    p = only_error(tiny_copy)
    assert "cycle" in p.message and "[Hours saved] -> [Hours saved]" in p.message


def test_charter_end_before_start(tiny_copy):
    edit(tiny_copy, "project.yaml", "  end: 2027-06-30", "  end: 2025-12-31")
    p = only_error(tiny_copy)
    assert (p.file, p.where) == ("project.yaml", "charter.end")
    assert "2025-12-31" in p.message and "2026-01-01" in p.message


def test_charter_missing_success(tiny_copy):
    edit(tiny_copy, "project.yaml", "  success: 10 customers won by end of year\n", "")
    p = only_error(tiny_copy)
    assert (p.file, p.where) == ("project.yaml", "charter.success")
    assert "success" in p.message


def test_perceived_range_reversed(tiny_copy):
    edit(tiny_copy, "project.yaml", "[1000, 5000]", "[5000, 1000]")
    p = only_error(tiny_copy)
    assert (p.file, p.where) == ("project.yaml", "elements[5].perceived_range (id=brand)")


def test_constant_not_a_number(tiny_copy):
    edit(tiny_copy, "project.yaml", "value: 100", "value: lots")
    p = only_error(tiny_copy)
    assert (p.file, p.where) == ("project.yaml", "constants[0].value (name=Margin per hour)")
    assert "'lots'" in p.message


def test_unknown_yaml_key_is_a_warning(tiny_copy):
    edit(tiny_copy, "project.yaml", "    category: social\n", "    category: social\n    colour: red\n")
    report = validate(tiny_copy)
    assert report.ok
    w = [p for p in report.warnings if "colour" in p.where]
    assert len(w) == 1 and w[0].where == "elements[5].colour (id=brand)"


# ---------------------------------------------------------------------------
# encodings and empty files


@pytest.mark.parametrize("name", ["customers.csv", "measurements.csv"])
def test_empty_csv(tiny_copy, name):
    (tiny_copy / name).write_text("  \n", encoding="utf-8")
    mine = [p for p in errors(tiny_copy) if p.file == name]
    assert len(mine) == 1 and "empty" in mine[0].message


def test_header_only_customers(tiny_copy):
    (tiny_copy / "customers.csv").write_text("customer_id,subsegment\n", encoding="utf-8")
    mine = [p for p in errors(tiny_copy) if p.file == "customers.csv"]
    assert any("no customers" in p.message for p in mine)


def test_non_utf8_csv_names_line(tiny_copy):
    raw = (tiny_copy / "measurements.csv").read_bytes()
    (tiny_copy / "measurements.csv").write_bytes(raw.replace(b"own P&L", b"own P\xe9L"))  # latin-1 é
    p = only_error(tiny_copy)
    text = raw.decode()
    line = text[: text.index("own P&L")].count("\n") + 1
    assert p.file == "measurements.csv"
    assert p.where.startswith(f"line {line},")
    assert "UTF-8" in p.message and "0xe9" in p.message


def test_bom_and_windows_line_endings_load_fine(tiny_copy, tiny):
    for name in ("project.yaml", "customers.csv", "measurements.csv"):
        p = tiny_copy / name
        p.write_bytes(b"\xef\xbb\xbf" + p.read_bytes().replace(b"\n", b"\r\n"))
    report = validate(tiny_copy)
    assert report.ok, report.errors
    s = report.study
    assert list(s.customers.columns) == ["customer_id", "subsegment", "size", "region"]
    assert list(s.customers["customer_id"]) == ["A1", "A2", "A3", "B1", "B2", "B3"]
    assert s.measurements["note"].tolist() == tiny.measurements["note"].tolist()  # no stray '\r'
    assert s.measurements["line"].tolist() == tiny.measurements["line"].tolist()


# ---------------------------------------------------------------------------
# all at once


def test_three_distinct_errors_three_problems(tiny_copy):
    edit(tiny_copy, "customers.csv", "B3,small,10,south", "B3,small,10,south\nA2,small,10,north")  # duplicate
    edit(tiny_copy, "measurements.csv", "A1,Energy price,0.2,estimate,", "A1,Energy price,0.2,guess,")  # source
    edit(tiny_copy, "project.yaml", "  end: 2027-06-30", "  end: 2025-12-31")       # charter
    errs = errors(tiny_copy)
    assert len(errs) == 3, "\n".join(map(str, errs))
    assert sorted(p.file for p in errs) == ["customers.csv", "measurements.csv", "project.yaml"]


def test_errors_in_every_file_reported_together(tiny_copy):
    edit(tiny_copy, "customers.csv", "B1,small", "B1,smal")
    edit(tiny_copy, "measurements.csv", "A2,Tonnes,30", 'A2,Tonnes,"1,200"')
    edit(tiny_copy, "measurements.csv", "A1,Energy price,0.2,estimate,medium", "A1,Energy price,0.2,estimate,sometimes")
    edit(tiny_copy, "project.yaml", "  - id: brand", "  - id: energy")
    edit(tiny_copy, "project.yaml", "× [Energy price]", "× [Energy prices]")
    errs = errors(tiny_copy)
    wheres = {(p.file, p.where.split(" (")[0]) for p in errs}
    assert ("customers.csv", "line 5, column subsegment") in wheres
    assert ("project.yaml", "elements[5].id") in wheres
    assert ("project.yaml", "elements[1].equation") in wheres
    assert sum(1 for p in errs if p.file == "measurements.csv") == 2
    assert len(errs) == 5


def test_schema_error_does_not_hide_other_problems(tiny_copy):
    edit(tiny_copy, "project.yaml", "status: contention", "status: contentious")  # schema error
    edit(tiny_copy, "customers.csv", "B1,small", "B1,smal")                       # needs subsegment ids
    edit(tiny_copy, "project.yaml", "  - id: brand", "  - id: energy")             # element id twice
    errs = errors(tiny_copy)
    wheres = {(p.file, p.where) for p in errs}
    assert ("project.yaml", "elements[2].status (id=service)") in wheres
    assert ("customers.csv", "line 5, column subsegment") in wheres
    assert ("project.yaml", "elements[5].id") in wheres


# ---------------------------------------------------------------------------
# raw files are only read


def test_raw_files_never_modified(tiny_copy, tmp_path):
    import cvm_kit as cvm
    from cvm_kit.tables import write_tables
    from cvm_kit.workbook import write_study_workbook

    before = tree_digest(tiny_copy)
    mtimes = {p: p.stat().st_mtime_ns for p in tiny_copy.iterdir()}
    report = validate(tiny_copy)
    study = cvm.load_study(tiny_copy)
    v = cvm.element_values(study)
    cvm.totals(study, v)
    cvm.summarize(study, v)
    cvm.value_summary(study)
    write_tables(study, tmp_path / "out")
    report.summary()
    assert tree_digest(tiny_copy) == before
    assert {p: p.stat().st_mtime_ns for p in tiny_copy.iterdir()} == mtimes

    # the same for the workbook form
    book = tmp_path / "s.xlsx"
    write_study_workbook(study, book)
    digest = hashlib.sha256(book.read_bytes()).hexdigest()
    wstudy = cvm.load_study(book)
    cvm.element_values(wstudy)
    write_tables(wstudy, tmp_path / "out2")
    assert hashlib.sha256(book.read_bytes()).hexdigest() == digest


def test_content_hash_tracks_the_bytes(tiny_copy, tiny):
    assert load_study(tiny_copy).content_hash == tiny.content_hash
    edit(tiny_copy, "measurements.csv", "A1,Tonnes,50", "A1,Tonnes,51")
    assert load_study(tiny_copy).content_hash != tiny.content_hash


def test_bundled_example_is_valid(example_path):
    report = validate(example_path)
    assert report.ok, "\n".join(map(str, report.errors))
    s = report.study
    assert len(s.subsegments) == 2
    assert s.customers["subsegment"].value_counts().tolist() == [7, 7]
    # the spec asks for one customer missing an input: a coverage warning, not an error
    assert any("no value yet" in w.message for w in report.warnings)


# ---------------------------------------------------------------------------
# message quality (smaller bugs)


def test_parse_error_message_does_not_repeat_the_location(tiny_copy):
    edit(tiny_copy, "project.yaml", '"[Hours saved] * [Margin per hour]"', '"[Hours saved] * * [Margin per hour]"')
    p = only_error(tiny_copy)
    assert "elements[0].equation" in p.where
    assert "elements[0].equation" not in p.message
    assert "position 16" in p.message


def test_overflowing_value_is_reported_as_written(tiny_copy):
    edit(tiny_copy, "measurements.csv", "A2,Tonnes,30", "A2,Tonnes,1e999")
    p = only_error(tiny_copy)
    assert "1e999" in p.message or "finite" in p.message


def test_constant_with_thousands_separator_gets_the_hint(tiny_copy):
    edit(tiny_copy, "project.yaml", "value: 100", "value: 1,200")
    p = only_error(tiny_copy)
    assert (p.file, p.where) == ("project.yaml", "constants[0].value (name=Margin per hour)")
    assert "'1,200'" in p.message and "thousands separators" in p.message


def test_subsegment_without_id_is_one_problem(tiny_copy):
    # (the subsegment keeps one description: two would be a duplicate key, a problem of its own)
    edit(tiny_copy, "project.yaml", "  - id: small\n    description: Small plants\n", "  - description: no id\n")
    errs = errors(tiny_copy)
    assert [(p.file, p.where) for p in errs] == [("project.yaml", "subsegments[1].id")], errs
    assert not any("?" in p.message for p in errs)
