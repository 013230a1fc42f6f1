"""mypy on cvm_kit against a recorded baseline: fails when the error count grows.

Run by ``make test`` (before pytest)::

    python tools/mypy_baseline.py            # check (exit 1 if errors grew)
    python tools/mypy_baseline.py --update   # record the current count (after fixing errors)

The settings are ``[tool.mypy]`` in pyproject.toml. The baseline
(``tools/mypy-baseline.txt``) holds the total count on its first
non-comment line, then the count per file as comments (informational: files
move while modules are split, so only the total is compared). The baseline
only shrinks: lower it with ``--update`` whenever errors are fixed.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "tools" / "mypy-baseline.txt"
_ERROR = re.compile(r"^(?P<file>[^:\s]+\.py):\d+: error: ")


def run_mypy() -> tuple[int, Counter[str], str]:
    """Run mypy with the project's settings: (error count, errors per file, its output)."""
    proc = subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml")],
                          cwd=ROOT, capture_output=True, text=True)
    out = proc.stdout + proc.stderr
    if proc.returncode not in (0, 1):  # 2: mypy itself failed (bad config, crash)
        raise SystemExit(f"mypy failed to run (exit {proc.returncode}):\n{out}")
    per_file = Counter(m.group("file") for line in out.splitlines() if (m := _ERROR.match(line)))
    return sum(per_file.values()), per_file, out


def read_baseline(path: Path = BASELINE) -> int:
    """The recorded error count (the first line that is not a comment)."""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            return int(line.strip())
    raise SystemExit(f"{path}: no error count recorded")


def write_baseline(count: int, per_file: Counter[str], path: Path = BASELINE) -> None:
    """Record ``count`` (and the per-file counts, as comments)."""
    lines = ["# mypy errors in cvm_kit (settings: [tool.mypy] in pyproject.toml); only ever lower it.",
             "# Checked by tools/mypy_baseline.py (make test); update with: python tools/mypy_baseline.py --update",
             str(count), "# per file:"]
    lines += [f"#   {n:4d} {f}" for f, n in sorted(per_file.items(), key=lambda kv: (-kv[1], kv[0]))]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: list[str]) -> int:
    """Compare mypy's error count with the baseline; ``--update`` records it instead."""
    count, per_file, out = run_mypy()
    if "--update" in argv:
        write_baseline(count, per_file)
        print(f"mypy baseline: {count} error(s) recorded in {BASELINE.relative_to(ROOT)}")
        return 0
    baseline = read_baseline()
    if count > baseline:
        print(out)
        print(f"mypy: {count} error(s), more than the baseline of {baseline} "
              f"({BASELINE.relative_to(ROOT)}): fix the new ones", file=sys.stderr)
        return 1
    note = f"; fixed {baseline - count}: lower the baseline with `python tools/mypy_baseline.py --update`" \
        if count < baseline else ""
    print(f"mypy: {count} error(s), baseline {baseline}{note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
