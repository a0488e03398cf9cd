"""Interchange: BODS 0.4, FollowTheMoney, GLEIF Level 2, the statecap CSV layout, Parquet, GEXF/GraphML.

`import_files` reads files into a store (all or nothing, or skipping bad records into a rejects
file); `export_store` writes a store out. docs/formats.md maps each format to statecap records.
Names are loaded on first use (PEP 562), so `statecap.io.formats` stays cheap to import.
"""

from __future__ import annotations

import importlib
from typing import Any

from statecap.io.formats import EXPORT_FORMATS, IMPORT_FORMATS

__all__ = ["EXPORT_FORMATS", "IMPORT_FORMATS", "ImportResult", "export_store", "import_files"]


def __getattr__(name: str) -> Any:
    if name in ("ImportResult", "export_store", "import_files"):
        return getattr(importlib.import_module("statecap.io.api"), name)
    raise AttributeError(f"module 'statecap.io' has no attribute {name!r}")
