"""Interchange: BODS 0.4, FollowTheMoney, GLEIF Level 2, the statecap CSV layout, Parquet, GEXF/GraphML.

`import_files` reads files into a store (all or nothing, or skipping bad records into a rejects
file); `export_store` writes a store out. docs/formats.md maps each format to statecap records.
"""

from statecap.io.api import EXPORT_FORMATS, IMPORT_FORMATS, ImportResult, export_store, import_files

__all__ = ["EXPORT_FORMATS", "IMPORT_FORMATS", "ImportResult", "export_store", "import_files"]
