"""The interchange formats statecap reads and writes (kept apart so the CLI can list them cheaply)."""

IMPORT_FORMATS = ("bods", "ftm", "gleif", "csv")
EXPORT_FORMATS = ("bods", "ftm", "parquet", "gexf", "graphml", "csv")
