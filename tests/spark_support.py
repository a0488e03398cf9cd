"""The shared local Spark session for the engine tests (one per test process, started on demand).

Spark tests skip, saying why, when pyspark or Java is missing, unless STATECAP_REQUIRE_SPARK=1
(CI sets it), in which case they fail.
"""

from __future__ import annotations

import importlib.util
import os

import pytest

ENGINES = [
    "local",
    pytest.param("spark", marks=[pytest.mark.spark, pytest.mark.xdist_group("spark")]),
]


def spark_missing() -> str | None:
    """Why Spark cannot run here, or None."""
    from statecap.engines.spark.session import java_available

    if importlib.util.find_spec("pyspark") is None:
        return "pyspark is not installed (pip install 'statecap[spark]')"
    if not java_available():
        return "no Java runtime on PATH or JAVA_HOME"
    return None


def require_spark() -> None:
    why = spark_missing()
    if why is None:
        return
    if os.environ.get("STATECAP_REQUIRE_SPARK") == "1":
        pytest.fail(f"STATECAP_REQUIRE_SPARK=1 but {why}")
    pytest.skip(why)


@pytest.fixture(scope="session")
def spark_engine(tmp_path_factory):
    """A SparkEngine on local[2]: 2 shuffle partitions, UI off, checkpoints and work under tmp."""
    require_spark()
    from statecap.engines import get_engine

    base = tmp_path_factory.mktemp("spark")
    engine = get_engine(
        "spark",
        "local[2]",
        shuffle_partitions=2,
        checkpoint_dir=str(base / "checkpoints"),
        work_dir=str(base / "work"),
        conf={"spark.sql.adaptive.coalescePartitions.initialPartitionNum": "2", "spark.driver.memory": "1g"},
    )
    yield engine
    engine.close()


def make_engine(name: str, request: pytest.FixtureRequest):
    """The engine called `name` (the Spark one from the session fixture)."""
    if name == "spark":
        return request.getfixturevalue("spark_engine")
    from statecap.engines import get_engine

    return get_engine("local")
