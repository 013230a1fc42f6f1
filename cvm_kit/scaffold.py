"""What an analyst starts from: a new study skeleton, and their own copy of the notebooks.

:func:`init_study` writes a new, commented study (``cvm init``): a
``project.yaml`` whose comments say what each key means, with one element of
each status, ``customers.csv`` and ``measurements.csv`` with two example
customers (marked ``EXAMPLE``; the second lacks one input on purpose so
``cvm validate`` shows what a gap looks like), and a ``README.md`` that
describes the optional files. It loads as is, so every command runs on it
from the first minute.

:func:`copy_notebooks` copies the notebook series and the dashboard into an
analyst's folder (``cvm notebooks``); :func:`report_series` lists the
notebooks of such a folder for ``cvm report --notebooks``.
"""

from __future__ import annotations

import datetime as _dt
import shutil
import tempfile
from pathlib import Path

from .errors import CvmError

__all__ = ["init_study", "copy_notebooks", "notebook_files", "report_series", "FORMAT_DOC"]

#: Where the study format is described (in the cvm_kit repository and its sdist).
FORMAT_DOC = "docs/study-format.md"

# project.yaml of a new study. {start}/{end}: the charter's dates.
_PROJECT_YAML = """\
# A customer value study (cvm_kit). One study = one offering, one market
# segment, one next-best-alternative. Every key is described in the study
# format (`cvm format` prints it; {doc} in the cvm_kit repository); the
# comments below are the short version.
# Replace every TODO and every EXAMPLE, then run `cvm validate <this folder>`:
# it lists every problem at once, and warns about inputs still missing.

name: "TODO: study title shown on every report"
offering: "TODO: your product or service being valued"
segment: "TODO: the market segment studied (who the customers are)"
next_best_alternative: "TODO: what these customers would use instead of the offering"
currency: EUR          # every value is in this currency ...
period: year           # ... per customer per this period

charter:               # optional: why the study exists (shown on every report)
  business_issue: "TODO: the decision this study informs"
  success: "TODO: what result, by when"
  sponsor: "TODO: who owns the result"
  team: ["TODO: names and roles"]
  start: {start}       # dates as YYYY-MM-DD; reports count the days left to `end`
  end: {end}

subsegments:           # the groups compared (the method studies two); each customer is in one
  - id: subsegment_a   # short id, used in customers.csv `subsegment`
    description: "TODO: who is in this subsegment"
  - id: subsegment_b
    description: "TODO: who is in this subsegment"
    next_best_alternative: "TODO: optional, when this subsegment's alternative differs"

constants:             # study-wide inputs, each with its source
  - name: Contribution margin per line hour   # used in equations as [Contribution margin per line hour]
    value: 1000                               # a plain number
    source: "EXAMPLE: where the figure comes from"
    kind: assumption   # how reliable: data | estimate | perception | assumption
  - name: Price per unit, offering
    value: 10
    source: "EXAMPLE: your price list"

derived: []            # optional: named intermediate quantities, e.g.
#  - name: Line hours per year, offering
#    equation: "[Line hours per year] - [Downtime hours per year, offering]"

price:                 # the price difference to the customer versus the alternative (per period)
  equation: "([Price per unit, offering] - [Price per unit, alternative]) * [Units per year]"

# Value elements: what differs between the offering and the alternative.
# A word equation uses phrases in square brackets, each measured per customer
# (measurements.csv `variable`), a constant or a derived name; operators
# + - * / ( ), min( , ), max( , ), abs( ). Positive: the offering is worth more.
elements:
  - id: quality        # short id, used in realized.csv and reports
    name: Product quality to the customer's specification
    category: technical   # technical | economic | service | social
    status: parity     # as good as the alternative: worth 0, needs no equation
  - id: downtime
    name: Less unplanned downtime
    category: economic
    status: difference # better (or worse) than the alternative: valued and summed
    equation: "([Downtime hours per year, alternative] - [Downtime hours per year, offering]) * [Contribution margin per line hour]"
    assumptions:       # what the figures rest on (listed on every report)
      - "EXAMPLE: lost hours are not recovered by overtime."
    status_by_subsegment: {{}}   # optional, e.g. {{subsegment_b: parity}} when a subsegment sees no difference
  - id: service
    name: Technical service
    category: service
    status: contention # the customer disputes the difference: summed, and also shown on its own
    equation: "[Service cost per year, alternative] - [Service cost per year, offering]"
  - id: reputation
    name: Brand reputation with the customer's customers
    category: social
    status: placeholder  # hard to measure or social: listed with its worth, never summed
    perceived_range: [0, 10000]   # optional: low and high worth as the customer perceives it
"""

_CUSTOMERS_CSV = """\
customer_id,subsegment,employees,region
EXAMPLE-1,subsegment_a,250,EXAMPLE region
EXAMPLE-2,subsegment_b,40,EXAMPLE region
"""

_MEASUREMENTS_CSV = """\
customer_id,variable,value,source,reliability,note
EXAMPLE-1,Units per year,12000,data,high,EXAMPLE row: replace with your customers' measurements
EXAMPLE-1,"Price per unit, alternative",9,data,high,EXAMPLE row
EXAMPLE-1,"Downtime hours per year, alternative",40,data,medium,EXAMPLE row
EXAMPLE-1,"Downtime hours per year, offering",25,estimate,medium,EXAMPLE row
EXAMPLE-1,"Service cost per year, alternative",8000,perception,low,EXAMPLE row
EXAMPLE-1,"Service cost per year, offering",5000,perception,low,EXAMPLE row
EXAMPLE-2,Units per year,3000,data,high,EXAMPLE row
EXAMPLE-2,"Price per unit, alternative",9.5,data,high,EXAMPLE row
EXAMPLE-2,"Downtime hours per year, alternative",12,estimate,medium,EXAMPLE row
EXAMPLE-2,"Service cost per year, alternative",3000,perception,low,EXAMPLE row
EXAMPLE-2,"Service cost per year, offering",2500,perception,low,EXAMPLE row
"""

_README = """\
# {name}

A customer value study in cvm_kit's format (described in full by `cvm format`,
or `{doc}` in the cvm_kit repository). Check it with `cvm validate {folder}`; it lists every
problem at once and warns about inputs still missing.

## Files

| file | holds |
| --- | --- |
| `project.yaml` | the model: offering, next-best-alternative, subsegments, constants, price difference, value elements (its comments say what each key means) |
| `customers.csv` | one row per participating customer: `customer_id`, `subsegment` (an id of project.yaml), then any characteristic columns (numbers or categories: plant size, region ...) used for segmentation and prospect scoring |
| `measurements.csv` | one row per customer and input: `customer_id`, `variable` (a bracketed phrase of an equation, without the brackets), `value` (a plain number), `source` (`data`, `estimate`, `perception` or `assumption`), `reliability` (optional: `high`, `medium`, `low`), `note` (optional). Repeated rows for one input are averaged |

The rows whose id or note says `EXAMPLE` are examples: replace them with your
customers. `EXAMPLE-2` lacks `Downtime hours per year, offering` on purpose:
`cvm validate` warns about it, and its downtime value stays empty (never 0)
until it is measured.

## Optional files

Add them when you have them; every command works without.

| file | columns | what for |
| --- | --- | --- |
| `prospects.csv` | `prospect_id`, optional `subsegment`, then the characteristic columns of `customers.csv` | customers not yet interviewed, scored by predicted value (`cvm prospects`) |
| `fieldwork.csv` | `customer_id, date, step, status, with, note`; `step`: `invited`, `initial_meeting`, `data_visit`, `data_received`, `review`; `status`: `planned`, `done`, `declined` | the research log: who agreed, who was visited, what is missing from whom (`cvm fieldwork`) |
| `realized.csv` | `customer_id, element_id, period_start, period_end, promised, realized, source, note` | the value documenter: value promised against value later documented with the customer (`cvm document`) |

## Next

- `cvm convert {folder} {folder}.xlsx`: the same study as one workbook (and back).
- `cvm worksheet {folder}`: one data-gathering workbook per customer.
- `cvm report {folder}`: the executed notebook report under `reports/`.
"""


def _skeleton_files(name: str, folder: str, today: _dt.date) -> dict[str, str]:
    end = today + _dt.timedelta(days=90)
    return {
        "project.yaml": _PROJECT_YAML.format(doc=FORMAT_DOC, start=today.isoformat(), end=end.isoformat()),
        "customers.csv": _CUSTOMERS_CSV,
        "measurements.csv": _MEASUREMENTS_CSV,
        "README.md": _README.format(name=name, doc=FORMAT_DOC, folder=folder),
    }


def _refuse_existing(dest: Path) -> None:
    if dest.is_dir() and any(dest.iterdir()):
        raise CvmError(f"{dest} already exists and is not empty; choose a new folder (cvm init never overwrites)")
    if dest.exists() and not dest.is_dir():
        raise CvmError(f"{dest} already exists; choose a new name (cvm init never overwrites)")


def init_study(dest: str | Path, *, xlsx: bool = False, today: _dt.date | None = None) -> Path:
    """Write a new, commented study skeleton that loads and validates (with warnings).

    Parameters
    ----------
    dest : path
        A new (or empty) folder; with ``xlsx`` (or a name ending in ``.xlsx``)
        a new workbook, ``.xlsx`` added if missing.
    xlsx : bool
        Write the study as one workbook (sheets as in the format, plus a
        ``readme`` sheet with the file descriptions) instead of a folder.
    today : date, optional
        The charter's start (end: 90 days later); default today.

    Returns
    -------
    Path
        The folder or workbook written (whole or not at all).

    Raises
    ------
    CvmError
        ``dest`` exists (and is not an empty folder).

    Examples
    --------
    >>> import tempfile, cvm_kit as cvm
    >>> from cvm_kit.scaffold import init_study
    >>> path = init_study(tempfile.mkdtemp() + "/new_study")
    >>> sorted(e.status for e in cvm.load_study(path).elements)
    ['contention', 'difference', 'parity', 'placeholder']
    """
    from .io import atomic_dir, atomic_file

    dest = Path(dest)
    xlsx = xlsx or dest.suffix.lower() == ".xlsx"
    if xlsx and dest.suffix.lower() != ".xlsx":
        dest = dest.with_name(dest.name + ".xlsx")
    _refuse_existing(dest)
    name = dest.resolve().name  # `cvm init .` in an empty folder: that folder's name
    stem = Path(name).stem if xlsx else name
    files = _skeleton_files(stem, str(dest), today or _dt.date.today())
    if not xlsx:
        if not dest.is_dir():
            with atomic_dir(dest) as tmp:
                for fname, text in files.items():
                    (tmp / fname).write_text(text, encoding="utf-8")
            return dest
        # an existing empty folder (perhaps the current one): fill it, file by file, all or nothing
        written: list[Path] = []
        try:
            for fname, text in files.items():
                with atomic_file(dest / fname, study_input=True) as tmp:  # a new study, checked empty above
                    tmp.write_text(text, encoding="utf-8")
                written.append(dest / fname)
        except BaseException:
            for w in written:
                w.unlink(missing_ok=True)
            raise
        return dest
    from .study import load_study
    from .workbook import write_study_workbook

    with tempfile.TemporaryDirectory() as d:
        folder = Path(d) / stem
        folder.mkdir()
        for fname, text in files.items():
            if fname != "README.md":
                (folder / fname).write_text(text, encoding="utf-8")
        study = load_study(folder)
    with atomic_file(dest) as tmp:
        write_study_workbook(study, tmp)
        _add_readme_sheet(tmp, files["README.md"])
    return dest


def _add_readme_sheet(path: Path, readme: str) -> None:
    """A ``readme`` sheet (ignored when the study is read): the README's lines, one per row, as text."""
    from openpyxl import load_workbook

    wb = load_workbook(path)
    ws = wb.create_sheet("readme", 0)
    ws.column_dimensions["A"].width = 120
    for line in readme.splitlines():
        ws.append([line])
        cell = ws.cell(row=ws.max_row, column=1)
        cell.data_type = "s"  # text, never a formula
    wb.active = 0
    wb.save(path)


# ---------------------------------------------------------------------------
# the analyst's own notebooks


def notebook_files() -> list[tuple[Path, str]]:
    """The notebooks ``cvm notebooks`` copies: ``(source, relative destination)``.

    The numbered series (``NN_name.py``), the dashboard (``dashboards/*.py``)
    and ``jupytext.toml`` (so JupyterLab saves them back as text).
    """
    from .runs import notebooks_dir

    src = notebooks_dir()
    found = sorted(src.glob("[0-9][0-9]_*.py")) + sorted(src.glob("dashboards/*.py"))
    if (src / "jupytext.toml").exists():
        found.append(src / "jupytext.toml")
    return [(p, p.relative_to(src).as_posix()) for p in found]


def copy_notebooks(dest: str | Path, *, force: bool = False) -> list[Path]:
    """Copy the notebook series and the dashboard into ``dest``.

    Nothing is overwritten unless ``force``: if any file exists, nothing is
    copied and the error lists them.

    Returns
    -------
    list of Path
        The files written.

    Examples
    --------
    >>> import tempfile
    >>> from cvm_kit.scaffold import copy_notebooks
    >>> sorted(p.name for p in copy_notebooks(tempfile.mkdtemp()))[:2]
    ['01_data_gathering.py', '02_estimates.py']
    """
    from .io import atomic_file

    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise CvmError(f"{dest} is a file; expected a folder for the notebooks")
    files = notebook_files()
    clash = [dest / rel for _, rel in files if (dest / rel).exists()]
    if clash and not force:
        raise CvmError(f"{len(clash)} file(s) already exist in {dest}: "
                       f"{', '.join(str(c.relative_to(dest)) for c in clash)}; "
                       "nothing was copied (--force overwrites them)")
    written = []
    for src, rel in files:
        target = dest / rel
        with atomic_file(target) as tmp:
            shutil.copyfile(src, tmp)
        written.append(target)
    return written


def report_series(folder: str | Path) -> list[Path]:
    """The report notebooks of an analyst's folder, for ``cvm report --notebooks``.

    Every numbered notebook ``NN_name.py`` (or ``NN_name.ipynb`` when there is
    no ``.py`` of that name) in ``folder``, in name order, except the
    per-customer notebook (``06_customer_report``, run by ``cvm batch``).
    Notebooks deleted from the folder are not run; notebooks added to it are.

    Raises
    ------
    CvmError
        ``folder`` does not exist or holds no numbered notebook.
    """
    from .runs import CUSTOMER_NOTEBOOK

    folder = Path(folder)
    if not folder.is_dir():
        raise CvmError(f"{folder}: no such folder; expected a folder of notebooks "
                       f"(make one with `cvm notebooks {folder}`)")
    by_stem: dict[str, Path] = {}
    for p in sorted(folder.glob("[0-9][0-9]_*.ipynb")) + sorted(folder.glob("[0-9][0-9]_*.py")):
        by_stem[p.stem] = p  # .py wins over a paired .ipynb of the same name
    series = [by_stem[s] for s in sorted(by_stem) if s != CUSTOMER_NOTEBOOK]
    if not series:
        raise CvmError(f"{folder}: no report notebooks; expected numbered notebooks such as 02_estimates.py "
                       f"(copy the series with `cvm notebooks {folder}`)")
    return series
