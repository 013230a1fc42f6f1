"""A hostile value study, written at test time (never committed).

:func:`write_hostile_study` copies the tiny study (``tests/data/tiny``) and
renames its customers, a subsegment, an element, phrases and texts to strings
that try to break the outputs: Python code, HTML/JS, spreadsheet formulas.
Only names and texts change, never a number, so every figure of the hostile
study equals the tiny study's hand-worked figure (net value of the customer
that was A1 is 1090 ...): nothing may be lost or altered on the way.

The ``variant_*`` helpers write *broken* copies of the tiny study (Python code
in a word equation, latin-1 bytes, thousands separators, empty files ...) or
awkwardly encoded but valid ones (UTF-8 BOM, Windows line endings, a 10 MB
note), each returning the folder and, for broken ones, where the error must
point.

Python payloads name a *sentinel* file: if anything ever executed them, the
file would appear, so tests assert it never does.
"""

from __future__ import annotations

import csv
import io
import shutil
from dataclasses import dataclass
from pathlib import Path

import yaml

TINY = Path(__file__).resolve().parent / "data" / "tiny"

# -- payloads ----------------------------------------------------------------

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
HYPERLINK = '=HYPERLINK("http://evil","x")'
DDE = "+cmd|' /C calc'!A0"
AT_SUM = "@SUM(1)"
MINUS = "-2+3"
CLASS_ATTR = "[a].__class__"
PATH = "../../B3"  # a customer id that tries to write outside the output folder


def py_payload(sentinel: Path) -> str:
    """Python that would create ``sentinel`` if anything evaluated it."""
    return f"__import__('os').system('touch {sentinel}')"


def open_payload(sentinel: Path) -> str:
    """Another spelling of the same attack (a builtin call, no import)."""
    return f"open('{sentinel}', 'w').write('x')"


#: Spreadsheet formula payloads (OWASP CSV injection): each must stay text.
FORMULAS = (HYPERLINK, DDE, AT_SUM, MINUS)
#: HTML/JS payloads: each must be shown escaped.
MARKUP = (SCRIPT, IMG)

#: Tiny customer id -> hostile id (figures of the customer stay the tiny ones).
CUSTOMER_IDS = {
    "A1": HYPERLINK,
    "A2": SCRIPT,
    "B1": DDE,
    "B2": MINUS,
    "B3": PATH,
}
#: Tiny subsegment id -> hostile id.
SUBSEGMENT_IDS = {"small": AT_SUM}
#: Tiny element id -> hostile id.
ELEMENT_IDS = {"service": '=HYPERLINK("http://evil","svc")'}
#: Hand-worked net values of the tiny study, by hostile id (B3 lacks an input).
NET_VALUE = {HYPERLINK: 1090.0, SCRIPT: 500.0, "A3": 1630.0, DDE: 150.0, MINUS: 315.0, PATH: float("nan")}


def phrase_names(sentinel: Path) -> dict[str, str]:
    """Tiny phrase -> hostile phrase (as written in equations and measurements.csv)."""
    return {
        "Service calls avoided": py_payload(sentinel),
        "Energy price": f"{SCRIPT} price",
        "Tonnes": '=HYPERLINK("http://evil","t")',
        "Call cost": f"{IMG} call cost",
    }


@dataclass(frozen=True)
class Hostile:
    """A written hostile study and what it holds."""

    path: Path
    sentinel: Path
    notes: tuple[str, ...]  # measurement notes, in file order (non-empty ones)
    texts: tuple[str, ...]  # every hostile text planted anywhere


def _read_rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def _write_rows(path: Path, rows: list[list[str]]) -> None:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")


def _rename_column(rows: list[list[str]], column: str, mapping: dict[str, str]) -> None:
    j = rows[0].index(column)
    for r in rows[1:]:
        r[j] = mapping.get(r[j], r[j])


def _rename_in_equation(text: str, phrases: dict[str, str]) -> str:
    for old, new in phrases.items():
        text = text.replace(f"[{old}]", f"[{new}]")
    return text


def write_hostile_study(dest: Path, sentinel: Path) -> Hostile:
    """Write the hostile study into ``dest`` (created; must not exist).

    Parameters
    ----------
    dest : Path
        The study folder to create.
    sentinel : Path
        A file no payload may ever create (its folder should exist).

    Returns
    -------
    Hostile
    """
    shutil.copytree(TINY, dest)
    phrases = phrase_names(sentinel)
    cid = dict(CUSTOMER_IDS)

    # ---- project.yaml ---------------------------------------------------
    p = yaml.safe_load((TINY / "project.yaml").read_text(encoding="utf-8"))
    p["name"] = f"{SCRIPT} study"
    p["offering"] = IMG
    p["segment"] = DDE
    p["next_best_alternative"] = HYPERLINK
    p["charter"].update(business_issue=SCRIPT, success=HYPERLINK, sponsor=IMG, team=[AT_SUM, DDE])
    for s in p["subsegments"]:
        if s["id"] == "big":
            s["description"] = IMG
        s["id"] = SUBSEGMENT_IDS.get(s["id"], s["id"])
    for c in p["constants"]:
        c["name"] = phrases.get(c["name"], c["name"])
        if c["name"] == "Margin per hour":
            c["source"] = HYPERLINK
    for d in p["derived"]:
        d["equation"] = _rename_in_equation(d["equation"], phrases)
    p["price"]["equation"] = _rename_in_equation(p["price"]["equation"], phrases)
    for e in p["elements"]:
        if e.get("equation"):
            e["equation"] = _rename_in_equation(e["equation"], phrases)
        e["id"] = ELEMENT_IDS.get(e["id"], e["id"])
        if e["id"] == "downtime":
            e["name"] = SCRIPT
            e["assumptions"] = [HYPERLINK, py_payload(sentinel)]
        elif e["id"] == "energy":
            e["name"] = IMG
            e["assumptions"] = [DDE]
        if "status_by_subsegment" in e:
            e["status_by_subsegment"] = {SUBSEGMENT_IDS.get(k, k): v for k, v in e["status_by_subsegment"].items()}
    (dest / "project.yaml").write_text(yaml.safe_dump(p, sort_keys=False, allow_unicode=True), encoding="utf-8")

    # ---- customers.csv: hostile ids, subsegment, a hostile characteristic --
    rows = _read_rows(TINY / "customers.csv")
    _rename_column(rows, "customer_id", cid)
    _rename_column(rows, "subsegment", SUBSEGMENT_IDS)
    j = rows[0].index("region")
    region = {HYPERLINK: AT_SUM, SCRIPT: IMG, DDE: SCRIPT}
    for r in rows[1:]:
        r[j] = region.get(r[0], r[j])
    _write_rows(dest / "customers.csv", rows)

    # ---- measurements.csv: ids, phrases, a note per payload --------------
    rows = _read_rows(TINY / "measurements.csv")
    _rename_column(rows, "customer_id", cid)
    _rename_column(rows, "variable", phrases)
    note_payloads = [HYPERLINK, DDE, AT_SUM, MINUS, SCRIPT, IMG, py_payload(sentinel), open_payload(sentinel),
                     CLASS_ATTR, 'He said "=1+1", then left\nsecond line; third, with commas']
    jn = rows[0].index("note")
    for r, note in zip(rows[1:], note_payloads * 3):
        r[jn] = note
    _write_rows(dest / "measurements.csv", rows)
    notes = tuple(r[jn] for r in rows[1:] if r[jn])

    # ---- optional tables ------------------------------------------------
    rows = _read_rows(TINY / "fieldwork.csv")
    _rename_column(rows, "customer_id", cid)
    jw, jn = rows[0].index("with"), rows[0].index("note")
    for r in rows[1:]:
        r[jw] = f"{SCRIPT}; {r[jw]}"
        r[jn] = HYPERLINK
    _write_rows(dest / "fieldwork.csv", rows)

    rows = _read_rows(TINY / "realized.csv")
    _rename_column(rows, "customer_id", cid)
    _rename_column(rows, "element_id", ELEMENT_IDS)
    jn = rows[0].index("note")
    for r in rows[1:]:
        r[jn] = AT_SUM
    _write_rows(dest / "realized.csv", rows)

    rows = _read_rows(TINY / "prospects.csv")
    _rename_column(rows, "subsegment", SUBSEGMENT_IDS)
    rows[1][0] = "=P1"
    rows[1][rows[0].index("region")] = SCRIPT
    _write_rows(dest / "prospects.csv", rows)

    texts = (SCRIPT, IMG, HYPERLINK, DDE, AT_SUM, MINUS, py_payload(sentinel), open_payload(sentinel), CLASS_ATTR)
    return Hostile(dest, sentinel, notes, texts)


# -- variants of the tiny study ------------------------------------------------


@dataclass(frozen=True)
class Broken:
    """A broken study and where its error must point."""

    path: Path
    file: str  # the file named by the problem
    where: str  # a piece of the problem's location (line, key ...)
    message: str  # a piece of what it says was expected


def _copy(dest: Path) -> Path:
    shutil.copytree(TINY, dest)
    return dest


def _line_of(path: Path, needle: str) -> int:
    """1-based line number of the first line containing ``needle``."""
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in line:
            return i
    raise AssertionError(f"{needle!r} not in {path}")


def variant_equation(dest: Path, equation: str) -> Broken:
    """The downtime element's word equation replaced by ``equation``."""
    _copy(dest)
    p = yaml.safe_load((dest / "project.yaml").read_text(encoding="utf-8"))
    p["elements"][0]["equation"] = equation
    (dest / "project.yaml").write_text(yaml.safe_dump(p, sort_keys=False), encoding="utf-8")
    return Broken(dest, "project.yaml", "elements[0].equation (id=downtime)", "expected")


def variant_latin1(dest: Path) -> Broken:
    """A measurement note written in latin-1 (ü = 0xfc) on a known line."""
    _copy(dest)
    path = dest / "measurements.csv"
    text = path.read_text(encoding="utf-8")
    line = _line_of(path, "own P&L")
    raw = text.replace("own P&L", "Herr M\u00fcller, own P&L").encode("latin-1")
    path.write_bytes(raw)
    pos = raw.index(bytes([0xFC]))
    return Broken(dest, "measurements.csv", f"line {line}, byte {pos}", "UTF-8")


def variant_thousands(dest: Path) -> Broken:
    """A measurement value written "1,200" (quoted, so the CSV still parses)."""
    _copy(dest)
    path = dest / "measurements.csv"
    line = _line_of(path, "A1,Tonnes,50")
    path.write_text(path.read_text(encoding="utf-8").replace("A1,Tonnes,50,", 'A1,Tonnes,"1,200",'), encoding="utf-8")
    return Broken(dest, "measurements.csv", f"line {line}, column value", "thousands separators")


def variant_constant_thousands(dest: Path) -> Broken:
    """A constant's value written 1,200 in project.yaml (YAML reads it as text)."""
    _copy(dest)
    path = dest / "project.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("value: 100\n", "value: 1,200\n"), encoding="utf-8")
    return Broken(dest, "project.yaml", "constants[0].value", "1,200")


def variant_empty(dest: Path, name: str) -> Broken:
    """``name`` (a study file) emptied to 0 bytes."""
    _copy(dest)
    (dest / name).write_bytes(b"")
    if name == "project.yaml":
        return Broken(dest, name, "", "the file is empty")
    return Broken(dest, name, "", "empty")


def variant_header_only(dest: Path) -> Broken:
    """customers.csv with its header and no customer."""
    _copy(dest)
    (dest / "customers.csv").write_text("customer_id,subsegment,size,region\n", encoding="utf-8")
    return Broken(dest, "customers.csv", "", "no customers")


def variant_bom(dest: Path) -> Path:
    """Every file of the tiny study with a UTF-8 byte order mark (Excel's "CSV UTF-8")."""
    _copy(dest)
    for f in dest.iterdir():
        f.write_bytes(b"\xef\xbb\xbf" + f.read_bytes())
    return dest


def variant_crlf(dest: Path) -> Path:
    """Every file of the tiny study with Windows line endings (CR LF)."""
    _copy(dest)
    for f in dest.iterdir():
        f.write_bytes(f.read_bytes().replace(b"\n", b"\r\n"))
    return dest


def variant_crlf_bad_source(dest: Path) -> Broken:
    """Windows line endings and a wrong source word on a known line: the line number must still be right."""
    _copy(dest)
    path = dest / "measurements.csv"
    line = _line_of(path, "A1,Tonnes,50,data")
    path.write_text(path.read_text(encoding="utf-8").replace("A1,Tonnes,50,data", "A1,Tonnes,50,datum"),
                    encoding="utf-8")
    for f in dest.iterdir():
        f.write_bytes(f.read_bytes().replace(b"\n", b"\r\n"))
    return Broken(dest, "measurements.csv", f"line {line}, column source", "datum")


def variant_yaml_tag(dest: Path, sentinel: Path) -> Broken:
    """project.yaml whose name is a PyYAML python/object tag that would run a shell command."""
    _copy(dest)
    path = dest / "project.yaml"
    line = _line_of(path, "name: Tiny test study")
    text = path.read_text(encoding="utf-8").replace(
        "name: Tiny test study", f'name: !!python/object/apply:os.system ["touch {sentinel}"]')
    path.write_text(text, encoding="utf-8")
    return Broken(dest, "project.yaml", f"line {line}", "malformed YAML")


def variant_alias_bomb(dest: Path) -> Broken:
    """A YAML alias bomb ("billion laughs", 9**9 strings if expanded) as the charter team."""
    _copy(dest)
    path = dest / "project.yaml"
    lines = ['x0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"x{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)]
    text = path.read_text(encoding="utf-8").replace("team: [Engineer, Sales]", "team: *a8")
    path.write_text("\n".join(lines) + "\n" + text, encoding="utf-8")
    # refused while reading the YAML (issue 10 item 16), located at the alias's key
    return Broken(dest, "project.yaml", "charter.team", "an alias bomb")


def variant_status_alias_bomb(dest: Path) -> Broken:
    """The alias bomb as an element's status (its error message once repr()'d 387 M strings)."""
    _copy(dest)
    path = dest / "project.yaml"
    lines = ['x0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"x{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)]
    text = path.read_text(encoding="utf-8").replace("    status: parity\n", "    status: *a8\n", 1)
    path.write_text("\n".join(lines) + "\n" + text, encoding="utf-8")
    return Broken(dest, "project.yaml", "elements[3].status (id=safety), line", "an alias bomb")


def variant_deep_yaml(dest: Path, depth: int = 20_000) -> Broken:
    """project.yaml with a value nested ``depth`` lists deep (PyYAML recurses once per level)."""
    _copy(dest)
    path = dest / "project.yaml"
    line = _line_of(path, "sponsor: Test sponsor")
    text = path.read_text(encoding="utf-8").replace("sponsor: Test sponsor", "sponsor: " + "[" * depth + "]" * depth)
    path.write_text(text, encoding="utf-8")
    return Broken(dest, "project.yaml", f"line {line}, column", "nested more than")


def variant_control_id(dest: Path) -> Broken:
    """A customer id holding terminal escapes (clear screen, retitle, bell)."""
    _copy(dest)
    path = dest / "customers.csv"
    line = _line_of(path, "A2,big")
    path.write_text(path.read_text(encoding="utf-8").replace("A2,big", f"A2{TERMINAL},big"), encoding="utf-8")
    return Broken(dest, "customers.csv", f"line {line}, column customer_id", "control character")


def big_note(size: int = 10 * 1024 * 1024, *, lines: bool = False) -> str:
    """A note of ``size`` characters with quotes, commas, a formula start, markup and non-ASCII text.

    With ``lines`` it holds line breaks too (a note pasted from a report), so
    the CSV record spans many physical lines.
    """
    unit = '=HYPERLINK("http://evil","x"), <script>alert(1)</script> \u00e9\u20ac "quoted"; '
    if lines:
        unit += "line\n"
    text = (unit * (size // len(unit) + 1))[:size]
    return text.strip() + " end"


def variant_big_note(dest: Path, size: int = 10 * 1024 * 1024, *, lines: bool = False) -> tuple[Path, str]:
    """A measurement note of ``size`` characters on customer A1's first row."""
    _copy(dest)
    path = dest / "measurements.csv"
    rows = _read_rows(path)
    note = big_note(size, lines=lines)
    rows[1][rows[0].index("note")] = note
    _write_rows(path, rows)
    return dest, note

#: Terminal control sequences: clear the screen, set the window title (ESC ] 0 ; ... BEL).
TERMINAL = "\x1b[2J\x1b]0;pwned\x07"


def variant_terminal_escape(dest: Path) -> Path:
    """A valid study whose name and a customer id carry terminal control sequences."""
    _copy(dest)
    path = dest / "project.yaml"
    p = yaml.safe_load(path.read_text(encoding="utf-8"))
    p["name"] = f"Tiny{TERMINAL} study"
    path.write_text(yaml.safe_dump(p, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return dest
