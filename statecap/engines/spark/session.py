"""The Spark session: imported lazily, configured for the engine's iterated joins."""

from __future__ import annotations

import os
import sys
import tempfile
from typing import Any

from statecap.errors import UsageError

MISSING = "the spark engine needs pyspark: pip install 'statecap[spark]'"


def require_pyspark() -> Any:
    """Import pyspark, or raise the UsageError that says how to install it."""
    try:
        import pyspark
    except ImportError:
        raise UsageError(MISSING) from None
    return pyspark


def java_available() -> bool:
    """Whether a Java runtime is on PATH or under JAVA_HOME (Spark needs one)."""
    import shutil

    home = os.environ.get("JAVA_HOME")
    if home and os.path.exists(os.path.join(home, "bin", "java")):
        return True
    return shutil.which("java") is not None


def spark_session(
    master: str | None = "local[*]",
    *,
    shuffle_partitions: int | None = None,
    checkpoint_dir: str | None = None,
    driver_memory: str | None = None,
    conf: dict[str, str] | None = None,
) -> Any:
    """Get (or create) the SparkSession the engine runs on.

    An active session is reused as it is (on a cluster, or in tests); otherwise one is started
    with the UI off, Arrow on, and on a ``local`` master the workers running this Python.

    Args:
        master: the Spark master URL (``local[*]``, ``local[2]``, ``yarn``, ``k8s://...``,
            ``spark://...``); None leaves it to spark-submit or the environment.
        shuffle_partitions: ``spark.sql.shuffle.partitions`` (default: 2 x cores on local).
        checkpoint_dir: where RDD checkpoints go (default: a temporary folder on local).
        driver_memory: ``spark.driver.memory`` for a session started here (e.g. ``"8g"``).
        conf: more Spark settings.
    """
    require_pyspark()
    local = master is not None and master.startswith("local")
    if local and not java_available():
        raise UsageError("the spark engine needs Java (17 or later) on PATH or JAVA_HOME")
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    builder = SparkSession.builder.appName("statecap")
    if master is not None:
        builder = builder.master(master)
    settings: dict[str, str] = {
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.adaptive.enabled": "true",
        "spark.sql.session.timeZone": "UTC",
    }
    if local:
        cores = os.cpu_count() or 2
        settings["spark.sql.shuffle.partitions"] = str(shuffle_partitions or max(2, 2 * cores))
        settings["spark.pyspark.python"] = sys.executable
        settings["spark.pyspark.driver.python"] = sys.executable
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    elif shuffle_partitions:
        settings["spark.sql.shuffle.partitions"] = str(shuffle_partitions)
    if driver_memory:
        settings["spark.driver.memory"] = driver_memory
    settings.update(conf or {})
    for key, value in settings.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    if checkpoint_dir is None and local:
        checkpoint_dir = tempfile.mkdtemp(prefix="statecap-spark-ckpt-")
    if checkpoint_dir is not None:
        spark.sparkContext.setCheckpointDir(checkpoint_dir)
    return spark
