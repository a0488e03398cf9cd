"""The Spark engine: the ownership and screening questions on PySpark DataFrames.

pyspark is an optional extra (``pip install 'statecap[spark]'``); nothing here imports it until
an engine is made. See docs/scale.md for running on a cluster.
"""

from __future__ import annotations

from statecap.engines.spark.session import MISSING, java_available, require_pyspark, spark_session

__all__ = ["MISSING", "SparkEngine", "java_available", "require_pyspark", "spark_session"]


def __getattr__(name: str) -> object:
    if name == "SparkEngine":
        from statecap.engines.spark.engine import SparkEngine

        return SparkEngine
    raise AttributeError(name)
