"""The layout of a data-gathering worksheet, shared by writing and reading it back."""

from __future__ import annotations

__all__ = ["COLUMNS", "FILL", "HEADER_LABELS", "REQUIRED", "SHEET"]

#: The sheet every worksheet holds its table in.
SHEET = "inputs"


#: Columns of the worksheet table, in order; the FILL ones are unlocked.
COLUMNS = ("phrase", "used by", "unit hint", "value on file", "on file from", "value", "source", "reliability",
           "note")


FILL = ("value", "source", "reliability", "note")


#: Columns :func:`read_worksheets` needs (the others are for the reader's eyes only).
REQUIRED = ("phrase", "value", "source", "reliability", "note")


HEADER_LABELS = ("study", "customer", "subsegment", "offering", "next-best-alternative", "period", "instructions")
