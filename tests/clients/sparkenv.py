"""The environment a Spark test runs in: Python workers on this interpreter, importing
pgflight_spark from clients/spark, everything bound to loopback."""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Iterator

from conftest import REPO

SPARK_CLIENT = REPO / "clients" / "spark"


@contextlib.contextmanager
def spark_environment() -> Iterator[None]:
    """Sets PYSPARK_PYTHON, PYTHONPATH and SPARK_LOCAL_IP (and this process's sys.path) while a
    SparkSession runs; restores them afterwards."""
    keys = ("PYSPARK_PYTHON", "PYTHONPATH", "SPARK_LOCAL_IP")
    saved = {key: os.environ.get(key) for key in keys}
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SPARK_CLIENT), saved["PYTHONPATH"]]))
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
    if str(SPARK_CLIENT) not in sys.path:
        sys.path.insert(0, str(SPARK_CLIENT))
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def stop_active_session() -> None:
    """Stops the SparkSession a snippet left running."""
    from pyspark.sql import SparkSession

    session = SparkSession.getActiveSession()
    if session is not None:
        session.stop()
