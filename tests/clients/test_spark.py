"""The Spark data source of clients/spark (PySpark 4's Python Data Source API) on `local[2]`:
each Flight endpoint a Spark partition, read by executors; row counts and checksums equal
PostgreSQL's. Java 17 and pyspark (tests/clients/requirements.txt) are needed."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from decimal import Decimal
from typing import Iterator

import pyarrow.flight as flight
import pytest
from pyspark.sql.functions import spark_partition_id

from conftest import PASSWORDS, free_port, pgflight_bin
from sparkenv import SPARK_CLIENT, spark_environment
from test_tls import certs, tls_env  # noqa: F401 (certs is a fixture)

pytestmark = pytest.mark.spark

sys.path.insert(0, str(SPARK_CLIENT))

from pgflight_spark import PgflightDataSource, ReadOptions, plan  # noqa: E402
from pgflight_spark.options import OptionError  # noqa: E402
from pgflight_spark.connection import Connection  # noqa: E402


@pytest.fixture(scope="module")
def spark(tmp_path_factory) -> Iterator[object]:
    """A local[2] SparkSession whose Python workers import pgflight_spark from clients/spark."""
    from pyspark.sql import SparkSession

    with spark_environment():
        session = (
            SparkSession.builder.master("local[2]")
            .appName("pgflight-spark-test")
            .config("spark.ui.enabled", "false")
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.sql.shuffle.partitions", "2")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.local.dir", str(tmp_path_factory.mktemp("spark")))
            .config("spark.driver.memory", "1g")
            .getOrCreate()
        )
        session.dataSource.register(PgflightDataSource)
        try:
            yield session
        finally:
            session.stop()


#: The same checksum on both sides: the first 32 bits of md5(id || '|' || kind), summed unsigned.
PG_CHECKSUM = "sum(('x' || lpad(substr(md5(id::text || '|' || kind), 1, 8), 16, '0'))::bit(64)::bigint)::bigint"
SPARK_CHECKSUM = "sum(cast(conv(substr(md5(concat(cast(id AS string), '|', kind)), 1, 8), 16, 10) AS bigint))"


def make_events(database, rows: int = 40_000) -> None:
    database.execute(
        "CREATE TABLE events (id bigint PRIMARY KEY, kind text NOT NULL, amount numeric(12,2),"
        " at timestamptz NOT NULL, doc jsonb)",
        f"INSERT INTO events SELECT g, 'k' || (g % 13), (g % 1000) / 7.0, timestamptz '2024-01-01'"
        f" + g * interval '1 s', CASE WHEN g % 5 = 0 THEN jsonb_build_object('g', g) END"
        f" FROM generate_series(1, {rows}) g",
        "DELETE FROM events WHERE id % 11 = 0",
        "ANALYZE events",
    )


def pg_totals(database, where: str = "TRUE") -> tuple:
    [row] = database.query(
        f"SELECT count(*), sum(id)::bigint, sum(amount)::text, count(doc), {PG_CHECKSUM} FROM events WHERE {where}"
    )
    return row


def spark_totals(frame) -> tuple:
    [row] = frame.selectExpr("count(*)", "sum(id)", "sum(amount)", "count(doc)", SPARK_CHECKSUM).collect()
    return tuple(row)


def test_a_split_table_is_one_spark_partition_per_endpoint(spark, database, start_server):
    make_events(database)
    server = start_server(env={"PGFLIGHT_PARTITION_MIN_ROWS": "10000", "PGFLIGHT_MAX_PARTITIONS": "4"})
    frame = spark.read.format("pgflight").option("uri", server.grpc_uri).load("public.events")
    assert frame.rdd.getNumPartitions() == 4
    assert [field.name for field in frame.schema] == ["id", "kind", "amount", "at", "doc"]
    assert frame.schema["at"].dataType.typeName() == "timestamp"
    assert frame.schema["amount"].dataType.simpleString() == "decimal(12,2)"
    # The endpoints of a split read share one snapshot, released once all have started: read
    # them once (one action), keeping the rows for the checks below.
    kept = frame.localCheckpoint()
    count, total, amount, docs, checksum = pg_totals(database)
    assert spark_totals(kept) == (count, total, Decimal(amount), docs, checksum)
    # Every partition held rows: the executors read the endpoints side by side.
    sizes = [row[1] for row in kept.groupBy(spark_partition_id()).count().collect()]
    assert len(sizes) == 4 and all(size > 0 for size in sizes) and sum(sizes) == count
    [(first_at,)] = database.query("SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') FROM events WHERE id = 1")
    [row] = kept.where("id = 1").select("at", "doc").collect()
    assert row.at.strftime("%Y-%m-%d %H:%M:%S") == first_at and row.doc is None
    # A second action on the same DataFrame reads the same tickets: the snapshot is gone.
    with pytest.raises(Exception, match="request expired"):
        frame.count()


def test_sql_and_partitions_options(spark, database, start_server):
    make_events(database, rows=30_000)
    server = start_server()
    by_sql = (
        spark.read.format("pgflight").option("uri", server.grpc_uri)
        .option("sql", "SELECT id, kind, amount, doc FROM events WHERE id % 7 = 0").load()
    )
    count, total, _, docs, checksum = pg_totals(database, "id % 7 = 0")
    got = spark_totals(by_sql)
    assert (got[0], got[1], got[3], got[4]) == (count, total, docs, checksum)
    asked = spark.read.format("pgflight").option("uri", server.grpc_uri).option("partitions", "3").load("events")
    assert asked.rdd.getNumPartitions() == 3
    assert asked.count() == pg_totals(database)[0]


def test_incremental_runs_keep_the_cursor_of_the_rows_read(spark, database, start_server):
    make_events(database, rows=20_000)
    server = start_server()
    options = {"uri": server.grpc_uri, "entity": "events", "cursor_field": "at"}
    first = plan(options)
    assert first.schema.names == ["id", "kind", "amount", "at", "doc"]
    frame = spark.read.format("pgflight").options(**first.spark_options()).load()
    assert spark_totals(frame)[0] == pg_totals(database)[0]
    [(high,)] = database.query("SELECT max(at) FROM events")
    assert first.cursor is not None and first.cursor.startswith(high.strftime("%Y-%m-%dT%H:%M:%S"))
    database.execute(
        "INSERT INTO events SELECT g, 'new', 1, timestamptz '2030-01-01' + g * interval '1 s', NULL"
        " FROM generate_series(1000001, 1000500) g"
    )
    second = plan({**options, "cursor": first.cursor})
    changed = spark.read.format("pgflight").options(**second.spark_options()).load()
    assert spark_totals(changed) == (500, sum(range(1000001, 1000501)), Decimal(500), 0, pg_totals(database, "kind = 'new'")[4])
    # Without plan(): the data source plans by itself (the new cursor is then not kept).
    again = (
        spark.read.format("pgflight").option("uri", server.grpc_uri).option("cursor_field", "at")
        .option("cursor", second.cursor).load("events")
    )
    assert again.count() == 0


def test_credentials_are_checked_on_the_driver_and_carried_to_executors(spark, database, start_server, users_file):
    make_events(database, rows=5_000)
    server = start_server(env={"PGFLIGHT_AUTH": "password", "PGFLIGHT_USERS_FILE": str(users_file)})
    user, password = PASSWORDS[0]

    def reader():  # DataFrameReader.option changes the reader itself: a new one each time
        return spark.read.format("pgflight").option("uri", server.grpc_uri).option("username", user)

    assert reader().option("password", password).load("events").count() == pg_totals(database)[0]
    with pytest.raises(Exception, match="(?i)unauthenticated|credentials"):
        reader().option("password", password + "x").load("events").count()
    with pytest.raises(Exception, match="(?i)unauthenticated|credentials|token"):
        spark.read.format("pgflight").option("uri", server.grpc_uri).load("events").count()
    with flight.FlightClient(server.grpc_uri) as client:
        _, token = client.authenticate_basic_token(user, password)
    by_token = spark.read.format("pgflight").option("uri", server.grpc_uri).option("token", token.decode().removeprefix("Bearer "))
    assert by_token.load("events").count() == pg_totals(database)[0]


def test_mutual_tls_material_reaches_the_executors(spark, database, start_server, certs):  # noqa: F811
    make_events(database, rows=2_000)
    server = start_server(env=tls_env(certs, mutual=True))

    def reader():  # DataFrameReader.option changes the reader itself: a new one each time
        return (
            spark.read.format("pgflight").option("uri", f"grpc+tls://localhost:{server.port}")
            .option("tls_root_certs", str(certs["ca_pem"]))
        )

    mutual = reader().option("tls_cert_chain", str(certs["client_pem"])).option("tls_private_key", str(certs["client_key"]))
    assert mutual.option("partitions", "2").load("events").count() == pg_totals(database)[0]
    with pytest.raises(Exception, match="(?i)unavailable|handshake|tls|ssl|certificate"):  # no client certificate
        reader().load("events").count()


@pytest.mark.parametrize(
    "options,message",
    [
        ({}, '"uri" is required'),
        ({"uri": "grpc://h:1"}, "name a relation"),
        ({"uri": "grpc://h:1", "path": "a", "sql": "SELECT 1"}, "one of them"),
        ({"uri": "grpc://h:1", "path": "a", "entity": "b"}, "different relations"),
        ({"uri": "grpc://h:1", "sql": "SELECT 1", "partitions": "2"}, "apply to a relation"),
        ({"uri": "grpc://h:1", "path": "a", "cursor": "5"}, 'needs "cursor_field"'),
        ({"uri": "grpc://h:1", "path": "a", "partitions": "zero"}, "at least 1"),
        ({"uri": "grpc://h:1", "path": "a", "username": "u"}, "go together"),
        ({"uri": "grpc://h:1", "path": "a", "token": "t", "username": "u", "password": "p"}, "not both"),
        ({"uri": "grpc://h:1", "path": "a", "tls_cert_chain": "/c"}, "mutual TLS"),
        ({"uri": "grpc://h:1", "path": "a", "tls_root_certs": "/nonexistent/ca.pem"}, "cannot read /nonexistent/ca.pem"),
    ],
)
def test_option_errors_name_the_option(options, message):
    with pytest.raises(OptionError, match=re.escape(message)):
        ReadOptions.parse(options)


def test_options_become_the_seed_request_or_a_flight_sql_command():
    incremental = ReadOptions.parse({"uri": "grpc://h:1", "path": "app.users", "cursor_field": "at", "partitions": "2"})
    assert json.loads(incremental.descriptor().command) == {
        "mode": {"incremental": {"entity": "app.users", "cursorField": "at", "cursor": None}}, "partitions": 2,
    }
    assert json.loads(ReadOptions.parse({"URI": "grpc://h:1", "entity": "t"}).descriptor().command) == {
        "mode": {"fullTable": {"entity": "t"}}
    }
    command = ReadOptions.parse({"uri": "grpc://h:1", "sql": "SELECT 'é'"}).descriptor().command
    assert b"CommandStatementQuery" in command and "SELECT 'é'".encode() in command
    assert "secret" not in repr(ReadOptions.parse({"uri": "grpc://h:1", "path": "t", "username": "u", "password": "secret"}))


def test_bad_options_are_refused_with_their_names(spark):
    with pytest.raises(Exception, match="uri"):
        spark.read.format("pgflight").load("events").schema
    with pytest.raises(Exception, match="unknown option"):
        spark.read.format("pgflight").option("uri", "grpc://127.0.0.1:1").option("cursorfeld", "x").load("events").schema


def test_a_column_spark_cannot_hold_is_named_and_a_cast_reads_it(spark, database, start_server):
    database.execute("CREATE TABLE typed AS SELECT g AS id, g::oid AS o FROM generate_series(1, 3) g")
    server = start_server()
    with pytest.raises(Exception, match="column 'o' is uint32"):
        spark.read.format("pgflight").option("uri", server.grpc_uri).load("typed").schema
    cast = spark.read.format("pgflight").option("uri", server.grpc_uri).option("sql", "SELECT id, o::int8 AS o FROM typed").load()
    assert sorted(tuple(row) for row in cast.collect()) == [(1, 1), (2, 2), (3, 3)]


def flight_calls(server, method: str) -> int:
    """The server's flight_requests_total for one method (0 before the first)."""
    status, text = server.get("/metrics")
    assert status == 200
    found = re.search(rf'^flight_requests_total{{method="{method}"}} (\d+)', text, re.M)
    return int(found.group(1)) if found else 0


def test_partitions_are_read_at_the_locations_the_endpoints_advertise(spark, database, start_server):
    """Three instances with one ticket_secret: the one planning advertises the other two, whose
    executors' DoGets read the endpoints, one snapshot, the sums equal PostgreSQL's."""
    help_text = subprocess.run([str(pgflight_bin()), "serve", "--help"], capture_output=True, text=True, check=True).stdout
    if "--advertise" not in help_text:
        pytest.skip(f"{pgflight_bin()} has no `advertise` key (serve --help): endpoints carry no locations")
    make_events(database)
    shared = {"PGFLIGHT_TICKET_SECRET": "one-secret-for-every-instance", "PGFLIGHT_PARTITION_MIN_ROWS": "10000",
              "PGFLIGHT_MAX_PARTITIONS": "4"}
    readers = [start_server(env=shared), start_server(env=shared)]
    planner = start_server(env={**shared, "PGFLIGHT_ADVERTISE": json.dumps([r.grpc_uri for r in readers])})
    info = plan({"uri": planner.grpc_uri, "entity": "events"}).info
    firsts = [endpoint.locations[0].uri.decode() for endpoint in info.endpoints]
    assert len(firsts) == 4 and set(firsts) == {r.grpc_uri for r in readers}
    frame = spark.read.format("pgflight").option("uri", planner.grpc_uri).load("events").localCheckpoint()
    count, total, amount, docs, checksum = pg_totals(database)
    assert spark_totals(frame) == (count, total, Decimal(amount), docs, checksum)
    assert flight_calls(planner, "DoGet") == 0
    assert all(flight_calls(reader, "DoGet") >= 1 for reader in readers)
    assert sum(flight_calls(reader, "DoGet") for reader in readers) == 4


def test_an_unreachable_location_falls_back_to_the_next(database, start_server):
    """The executor's side without Spark: an endpoint whose first location is down is read at
    its second."""
    make_events(database, rows=1_000)
    server = start_server()
    info = plan({"uri": server.grpc_uri, "entity": "events"}).info
    connection = Connection(uri=server.grpc_uri)
    dead = f"grpc://127.0.0.1:{free_port()}"
    batches = list(connection.stream(info.endpoints[0].ticket.ticket, [dead, server.grpc_uri]))
    assert sum(batch.num_rows for batch in batches) == pg_totals(database)[0]
    with pytest.raises(flight.FlightUnavailableError):
        list(connection.stream(info.endpoints[0].ticket.ticket, [dead]))
