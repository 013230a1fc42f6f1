"""Imported first by the processes that run notebooks (``cvm batch``, ``cvm report``, their workers).

nbformat validates with jsonschema, and jsonschema, when the optional
``rfc3987_syntax`` package is installed (it comes with jupyter-events),
compiles that package's IRI grammar at import: about 1.5 s of CPU in every
process that imports nbformat or papermill, for an "iri" string format that
no notebook schema uses. Marking the package absent here (only if nothing has
imported it yet) makes jsonschema skip that one format check, as it does
when the package is not installed. Nothing else changes.
"""

from __future__ import annotations

import sys

if "rfc3987_syntax" not in sys.modules and "jsonschema" not in sys.modules:
    sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]  # import -> ImportError, handled by jsonschema
