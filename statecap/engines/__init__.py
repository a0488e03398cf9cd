"""One interface, two engines: the whole-registry questions on this machine or on Apache Spark.

``get_engine("local")`` runs the scipy/numba kernels of `statecap.analytics`; ``get_engine("spark",
master=...)`` runs the same questions on PySpark DataFrames (pyspark is an optional extra,
imported only here, on demand). Both read a registry as Parquet (`RegistrySource`, `open_source`)
and return the same tables, so the same tests check both. Names are imported lazily, so that the
command line can name the engines without loading numpy or pyarrow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

ENGINES = ("local", "spark")
DEFAULT_SPARK_MASTER = "local[*]"

if TYPE_CHECKING:
    from statecap.engines.base import OWNERSHIP_SCHEMA, Engine, compare_ownership
    from statecap.engines.source import RegistrySource, open_source, store_to_parquet

__all__ = [
    "DEFAULT_SPARK_MASTER",
    "ENGINES",
    "OWNERSHIP_SCHEMA",
    "Engine",
    "RegistrySource",
    "compare_ownership",
    "get_engine",
    "open_source",
    "store_to_parquet",
]

_LAZY = {
    "OWNERSHIP_SCHEMA": "statecap.engines.base",
    "Engine": "statecap.engines.base",
    "compare_ownership": "statecap.engines.base",
    "RegistrySource": "statecap.engines.source",
    "open_source": "statecap.engines.source",
    "store_to_parquet": "statecap.engines.source",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(name)


def get_engine(name: str = "local", master: str | None = DEFAULT_SPARK_MASTER, **options: Any) -> Engine:
    """The engine called `name` (``local`` or ``spark``).

    Args:
        name: ``local`` (default) or ``spark``.
        master: the Spark master URL (spark only; default ``local[*]``; None under spark-submit).
        options: passed to `SparkEngine` (work_dir, shuffle_partitions, driver_memory, conf, progress).

    Raises:
        UsageError: an unknown engine, or pyspark missing for ``spark``.
    """
    from statecap.errors import UsageError

    if name == "local":
        from statecap.engines.local import LocalEngine

        return LocalEngine()
    if name == "spark":
        from statecap.engines.spark.engine import SparkEngine

        return SparkEngine(master, **options)
    raise UsageError(f"--engine {name!r}: choose one of {', '.join(ENGINES)}")
