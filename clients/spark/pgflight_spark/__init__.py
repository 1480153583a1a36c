"""pgflight as a PySpark 4 data source (the Python Data Source API, `pyspark.sql.datasource`).

    from pgflight_spark import PgflightDataSource, plan
    spark.dataSource.register(PgflightDataSource)
    orders = spark.read.format("pgflight").option("uri", "grpc://pgflight:8080").load("public.orders")

Each Flight endpoint of pgflight's answer becomes one Spark partition, read by an executor at the
endpoint's locations. `plan()` asks pgflight on the driver first, for incremental runs whose new
cursor must be kept.
"""

from pgflight_spark.options import ReadOptions
from pgflight_spark.planned import Planned, plan
from pgflight_spark.source import PgflightDataSource

__all__ = ["PgflightDataSource", "Planned", "ReadOptions", "plan"]
