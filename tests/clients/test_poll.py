"""PollFlightInfo through ADBC: incremental execution (`adbc.statement.exec.incremental`)
polls a statement to completion (progress 1.0, every partition in the first answer, none in
the next), and `adbc_execute_partitions` hands out a split read's endpoints that other
connections read, together exactly the table."""

from __future__ import annotations

import adbc_driver_flightsql.dbapi as flightsql
import pyarrow as pa

INCREMENTAL = "adbc.statement.exec.incremental"
PROGRESS = "adbc.statement.exec.progress"


def read_partitions(uri: str, partitions: list[bytes]) -> pa.Table:
    """Each partition read on a connection of its own (as a distributed reader would)."""
    tables = []
    for partition in partitions:
        with flightsql.connect(uri, autocommit=True) as conn, conn.cursor() as cur:
            cur.adbc_read_partition(partition)
            tables.append(cur.fetch_arrow_table())
    return pa.concat_tables(tables)


def test_adbc_incremental_execution_polls_to_completion(database, start_server):
    database.execute(
        "CREATE TABLE events (id bigint PRIMARY KEY, kind text)",
        "INSERT INTO events SELECT g, 'k' || (g % 7) FROM generate_series(1, 60000) g",
        "ANALYZE events",
    )
    server = start_server(env={"PGFLIGHT_PARTITION_MIN_ROWS": "10000", "PGFLIGHT_MAX_PARTITIONS": "3"})
    query = "SELECT id, kind FROM events WHERE id > 100"
    with flightsql.connect(server.grpc_uri, autocommit=True) as conn, conn.cursor() as cur:
        cur.adbc_statement.set_options(**{INCREMENTAL: "true"})
        partitions, schema = cur.adbc_execute_partitions(query)
        assert len(partitions) == 3  # the split read's endpoints, all in the first poll
        assert schema.names == ["id", "kind"]
        assert cur.adbc_statement.get_option_float(PROGRESS) == 1.0
        table = read_partitions(server.grpc_uri, partitions)
        assert table.num_rows == 59900
        assert sorted(table.column("id").to_pylist()) == list(range(101, 60001))
        # The query is complete: the next call answers no more partitions.
        more, _ = cur.adbc_execute_partitions(query)
        assert more == []


def test_adbc_execute_partitions_read_elsewhere_add_up_to_the_table(database, start_server):
    database.execute(
        "CREATE TABLE events (id bigint PRIMARY KEY, kind text)",
        "INSERT INTO events SELECT g, 'k' || (g % 7) FROM generate_series(1, 40000) g",
        "ANALYZE events",
    )
    server = start_server(env={"PGFLIGHT_PARTITION_MIN_ROWS": "10000", "PGFLIGHT_MAX_PARTITIONS": "4"})
    with flightsql.connect(server.grpc_uri, autocommit=True) as conn, conn.cursor() as cur:
        partitions, schema = cur.adbc_execute_partitions("SELECT * FROM events")
    assert len(partitions) == 4
    table = read_partitions(server.grpc_uri, partitions)
    assert table.schema.names == schema.names == ["id", "kind"]
    assert table.num_rows == 40000
    assert len(set(table.column("id").to_pylist())) == 40000
