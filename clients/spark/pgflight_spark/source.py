"""The `pgflight` data source: schema from pgflight, one Spark partition per Flight endpoint.

The driver plans (GetFlightInfo) and logs in once; each partition carries its endpoint's sealed
ticket, its locations and the connection (with the bearer token), and an executor streams it
with DoGet as Arrow record batches, which Spark takes without converting row by row.
"""

from __future__ import annotations

import dataclasses
from typing import Iterator, Optional, Sequence

import pyarrow as pa
from pyspark.sql.datasource import DataSource, DataSourceReader, InputPartition
from pyspark.sql.pandas.types import from_arrow_schema
from pyspark.sql.types import DecimalType, StructType

from pgflight_spark.connection import Connection
from pgflight_spark.options import ReadOptions
from pgflight_spark.planned import decode


def storage_schema(schema: pa.Schema) -> pa.Schema:
    """The schema with extension types (pgflight's `arrow.json`) as their storage types, which
    is what Spark reads."""
    fields = [
        field.with_type(field.type.storage_type) if isinstance(field.type, pa.BaseExtensionType) else field
        for field in schema
    ]
    return pa.schema(fields, metadata=schema.metadata)


#: The widest decimal Spark holds.
SPARK_MAX_PRECISION = 38


class UnsupportedColumn(TypeError):
    """A column whose Arrow type Spark cannot hold."""


def spark_schema(schema: pa.Schema) -> StructType:
    """Spark's schema for pgflight's Arrow schema (timestamps with a time zone become
    TimestampType, without one TimestampNTZType). A column Spark cannot hold (`oid` as uint32,
    `interval`, numeric wider than 38 digits) is an error naming it."""
    schema = storage_schema(schema)
    for field in schema:
        try:
            spark_type = from_arrow_schema(pa.schema([field]), prefer_timestamp_ntz=True)[0].dataType
        except Exception as err:
            raise UnsupportedColumn(
                f"column {field.name!r} is {field.type}, which Spark cannot hold: cast it in SQL "
                f"(option \"sql\", e.g. {field.name}::text or ::int8)"
            ) from err
        if isinstance(spark_type, DecimalType) and spark_type.precision > SPARK_MAX_PRECISION:
            raise UnsupportedColumn(
                f"column {field.name!r} is {field.type}, wider than Spark's {SPARK_MAX_PRECISION} digits: "
                f"cast it in SQL (option \"sql\", e.g. {field.name}::text)"
            )
    return from_arrow_schema(schema, prefer_timestamp_ntz=True)


class EndpointPartition(InputPartition):
    """One Flight endpoint: its ticket and locations, and how to reach pgflight."""

    def __init__(self, index: int, ticket: bytes, locations: Sequence[str], connection: Connection) -> None:
        super().__init__(index)
        self.index = index
        self.ticket = ticket
        self.locations = list(locations)
        self.connection = connection


class PgflightDataSource(DataSource):
    """`spark.read.format("pgflight")`: see `pgflight_spark.options` for the options."""

    @classmethod
    def name(cls) -> str:
        return "pgflight"

    def __init__(self, options) -> None:
        super().__init__(options)
        self.read_options = ReadOptions.parse(options)

    def schema(self) -> StructType:
        read = self.read_options
        if read.flight_info:
            return spark_schema(decode(read.flight_info).schema)
        # One endpoint, so that asking for the schema never holds a split read's snapshot open.
        single = dataclasses.replace(read, partitions=1) if read.entity else read
        return spark_schema(read.connect().flight_info(single.descriptor()).schema)

    def reader(self, schema: StructType) -> "PgflightReader":
        return PgflightReader(self.read_options)


class PgflightReader(DataSourceReader):
    """Plans on the driver (`partitions`), streams on the executors (`read`)."""

    def __init__(self, read_options: ReadOptions) -> None:
        self.read_options = read_options

    def partitions(self) -> Sequence[InputPartition]:
        read = self.read_options
        connection = read.connect()
        info = decode(read.flight_info) if read.flight_info else connection.flight_info(read.descriptor())
        return [
            EndpointPartition(
                index=index,
                ticket=endpoint.ticket.ticket,
                locations=[location.uri.decode() for location in endpoint.locations],
                connection=connection,
            )
            for index, endpoint in enumerate(info.endpoints)
        ]

    def read(self, partition: InputPartition) -> Iterator[pa.RecordBatch]:
        assert isinstance(partition, EndpointPartition)
        schema: Optional[pa.Schema] = None
        for batch in partition.connection.stream(partition.ticket, partition.locations):
            schema = schema or storage_schema(batch.schema)
            yield pa.RecordBatch.from_arrays(
                [column.storage if isinstance(column, pa.ExtensionArray) else column for column in batch.columns],
                schema=schema,
            )
