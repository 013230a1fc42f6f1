"""Regenerate the bundled example study in ``data/examples/pipe_coating``.

Run from anywhere::

    python data/examples/make_examples.py

The study is written by :func:`tools.synthetic.write_example_study` from a
fixed seed, so running this again reproduces the committed files exactly.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tools.synthetic import EXAMPLE_SEED, write_example_study  # noqa: E402


def main() -> Path:
    """Write the example study and return its folder."""
    out = write_example_study(ROOT / "data" / "examples" / "pipe_coating", seed=EXAMPLE_SEED)
    print(f"wrote {out.relative_to(ROOT)}")
    return out


if __name__ == "__main__":
    main()
