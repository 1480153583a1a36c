"""SQL through adbc_driver_flightsql's dbapi: planned and pass-through statements, `?`
parameters, several parameter rows, schemas before execution, errors and read-only refusals."""

from __future__ import annotations

import datetime as dt

import adbc_driver_flightsql.dbapi
import adbc_driver_manager
import pyarrow as pa
import pyarrow.flight as flight
import pytest

from flightsql import any_message, fetch, length_delimited


@pytest.fixture
def shop(database):
    database.execute(
        "CREATE TABLE items (id integer PRIMARY KEY, name text, price numeric(10,2), "
        "added timestamptz, tags text[])",
        "INSERT INTO items VALUES (1, 'apple', 1.50, '2024-01-01 10:00+00', '{red}'),"
        " (2, 'pear', 2.25, '2024-02-01 10:00+00', NULL), (3, NULL, NULL, NULL, NULL)",
        "CREATE TABLE orders (id integer, item_id integer, qty integer)",
        "INSERT INTO orders VALUES (1, 1, 5), (2, 1, 2), (3, 2, 7)",
    )
    return database


@pytest.fixture
def conn(shop, server):
    with adbc_driver_flightsql.dbapi.connect(server.grpc_uri, autocommit=True) as conn:
        yield conn


def query(conn, sql, params=None) -> pa.Table:
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetch_arrow_table()


def test_planned_select_without_parameters(conn):
    table = query(conn, "SELECT id, name FROM items WHERE id >= 2 ORDER BY id")
    assert table.to_pydict() == {"id": [2, 3], "name": ["pear", None]}
    assert table.schema.field("id").type == pa.int32()


def test_parameters_int_text_timestamp_and_null(conn):
    assert query(conn, "SELECT name FROM items WHERE id = ?", (2,)).column(0).to_pylist() == ["pear"]
    assert query(conn, "SELECT id FROM items WHERE name = ?", ("apple",)).column(0).to_pylist() == [1]
    since = dt.datetime(2024, 1, 15, tzinfo=dt.timezone.utc)
    assert query(conn, "SELECT id FROM items WHERE added > ?", (since,)).column(0).to_pylist() == [2]
    table = query(conn, "SELECT ?::text IS NULL AS is_null, coalesce(?::int, 42) AS v", (None, None))
    assert table.to_pydict() == {"is_null": [True], "v": [42]}


def test_several_parameter_rows_run_once_each(conn):
    params = pa.record_batch([pa.array([1, 2, 3], pa.int64())], names=["p"])
    table = query(conn, "SELECT id, name FROM items WHERE id = ?", params)
    assert table.column("id").to_pylist() == [1, 2, 3]


def test_description_is_known_before_fetch(conn):
    with conn.cursor() as cur:
        cur.execute("SELECT id, name, price, added FROM items ORDER BY id")
        names = [d[0] for d in cur.description]
        assert names == ["id", "name", "price", "added"]


def test_join_and_aggregate_pass_through(conn):
    table = query(
        conn,
        "SELECT i.name, sum(o.qty) AS total FROM items i JOIN orders o ON o.item_id = i.id "
        "GROUP BY i.name ORDER BY i.name",
    )
    assert table.to_pydict() == {"name": ["apple", "pear"], "total": [7, 7]}


def test_postgres_only_functions(conn):
    assert query(conn, "SELECT to_char(date '2024-03-05', 'DD/MM/YYYY') AS d").column(0).to_pylist() == [
        "05/03/2024"
    ]
    assert query(conn, "SELECT g FROM generate_series(1, 4) g").column(0).to_pylist() == [1, 2, 3, 4]
    values = query(conn, "SELECT jsonb_path_query('{\"a\":[1,2]}', '$.a[*]') AS v").column(0).to_pylist()
    assert values == ["1", "2"]


def test_syntax_error_is_invalid_argument_with_position(conn):
    with pytest.raises(adbc_driver_manager.ProgrammingError) as err:
        query(conn, "SELEC 1")
    text = str(err.value)
    assert "INVALID_ARGUMENT" in text or "InvalidArgument" in text or "Invalid" in text, text
    assert 'syntax error at or near "SELEC"' in text and "at character 1" in text, text


def test_unknown_table_is_not_found(conn):
    with pytest.raises(adbc_driver_manager.Error) as err:
        query(conn, "SELECT * FROM no_such_table")
    text = str(err.value)
    assert "NOT_FOUND" in text or "NotFound" in text, text
    assert 'relation "no_such_table" does not exist' in text, text


def test_writes_and_ddl_are_refused_and_change_nothing(conn, shop):
    for sql in (
        "INSERT INTO items (id) VALUES (99)",
        "INSERT INTO items (id) VALUES (98) RETURNING id",
        "DELETE FROM items",
        "CREATE TABLE x (a int)",
        "DROP TABLE items",
    ):
        with pytest.raises(adbc_driver_manager.Error) as err:
            query(conn, sql)
        assert "pgflight is read-only" in str(err.value), (sql, str(err.value))
    assert shop.query("SELECT count(*) FROM items") == [(3,)]
    assert shop.query("SELECT to_regclass('x') IS NULL") == [(True,)]


def test_prepared_schema_equals_result_schema(conn):
    for sql in (
        "SELECT id, name, price, added, tags FROM items WHERE id < 3",  # planned
        "SELECT i.*, o.qty FROM items i JOIN orders o ON o.item_id = i.id",  # pass-through
        "SELECT 1 AS a, '::1'::inet AS b, NULL::numeric(5,1) AS c",
    ):
        with conn.cursor() as cur:
            prepared = cur.adbc_execute_schema(sql)
            cur.execute(sql)
            result = cur.fetch_arrow_table().schema
        assert prepared.equals(result, check_metadata=True), (sql, prepared, result)


def test_explain_shows_the_path_and_pushed_filters(conn):
    plan = "\n".join(query(conn, "EXPLAIN SELECT id FROM items WHERE id > 1 AND name LIKE 'p%'").column(0).to_pylist())
    assert "path: planned" in plan, plan
    assert "pushed filters: (\"id\" > '1'::integer)" in plan, plan
    assert 'COPY (SELECT "id", "name" FROM "public"."items" WHERE ("id" > \'1\'::integer)' in plan, plan
    plan = "\n".join(query(conn, "EXPLAIN SELECT count(*) FROM items").column(0).to_pylist())
    assert "path: pass-through" in plan, plan
    # Pass-through SQL goes to PostgreSQL as the client wrote it (the extended protocol, no COPY).
    assert "sql sent: SELECT count(*) FROM items" in plan, plan
    assert "COPY" not in plan, plan


def unchanged(shop):
    """The fixture's rows, exactly as written (nothing a refused command did reached them)."""
    assert shop.query("SELECT id, name, price::text FROM items ORDER BY id") == [
        (1, "apple", "1.50"),
        (2, "pear", "2.25"),
        (3, None, None),
    ]
    assert shop.query("SELECT count(*) FROM orders") == [(3,)]


def test_update_commands_are_permission_denied(conn, shop, server):
    # CommandStatementUpdate (ADBC's ExecuteUpdate) and CommandPreparedStatementUpdate.
    with conn.cursor() as cur:
        cur.adbc_statement.set_sql_query("UPDATE items SET name = 'x'")
        with pytest.raises(adbc_driver_manager.ProgrammingError) as err:
            cur.adbc_statement.execute_update()
        assert "UNAUTHORIZED" in str(err.value) and "PermissionDenied" in str(err.value), err.value
        assert "pgflight is read-only: an update statement is refused" in str(err.value)
        with pytest.raises(adbc_driver_manager.ProgrammingError) as err:
            cur.executemany("UPDATE items SET name = ? WHERE id = 1", [("y",)])
        assert "pgflight is read-only" in str(err.value), err.value
    # The same command sent raw by pyarrow.flight: DoPut with a CommandStatementUpdate.
    client = flight.FlightClient(server.grpc_uri)
    command = any_message("CommandStatementUpdate", length_delimited(1, b"DELETE FROM orders"))
    with pytest.raises(flight.FlightUnauthorizedError) as err:
        writer, _ = client.do_put(flight.FlightDescriptor.for_command(command), pa.schema([]))
        writer.close()
    assert "PERMISSION_DENIED" in str(err.value), err.value
    assert "pgflight is read-only: an update statement is refused" in str(err.value), err.value
    unchanged(shop)


def test_ingestion_is_permission_denied(conn, shop):
    rows = pa.table({"id": pa.array([7], pa.int32()), "item_id": pa.array([1], pa.int32()), "qty": pa.array([1], pa.int32())})
    for mode in ("append", "create"):
        target = "orders" if mode == "append" else "orders_copy"
        with conn.cursor() as cur:
            with pytest.raises(adbc_driver_manager.ProgrammingError) as err:
                cur.adbc_ingest(target, rows, mode=mode)
        text = str(err.value)
        assert "UNAUTHORIZED" in text and "PermissionDenied" in text, text
        assert "pgflight is read-only: bulk ingestion is refused" in text, text
    unchanged(shop)
    assert shop.query("SELECT to_regclass('orders_copy') IS NULL") == [(True,)]


def test_transactions_are_not_offered(shop, server):
    # ADBC asks GetSqlInfo first: pgflight reports no transaction support, so autocommit stays on.
    with pytest.warns(Warning, match="Cannot disable autocommit"):
        conn = adbc_driver_flightsql.dbapi.connect(server.grpc_uri)
    with conn:
        with pytest.raises(adbc_driver_manager.NotSupportedError) as err:
            conn.adbc_connection.set_autocommit(False)
        assert "server does not report transaction support" in str(err.value), err.value
        conn.commit()  # a no-op under autocommit, as DB-API allows
        assert query(conn, "SELECT count(*) AS n FROM items").to_pydict() == {"n": [3]}
    # Sent raw: BeginTransaction, and a prepared statement inside a transaction.
    client = flight.FlightClient(server.grpc_uri)
    begin = flight.Action("BeginTransaction", any_message("ActionBeginTransactionRequest", b""))
    with pytest.raises(pa.ArrowNotImplementedError) as err:
        list(client.do_action(begin))
    assert "a transaction is not supported: pgflight is read-only" in str(err.value), err.value
    prepare = any_message(
        "ActionCreatePreparedStatementRequest",
        length_delimited(1, b"DELETE FROM items") + length_delimited(2, b"txn-1"),
    )
    with pytest.raises(pa.ArrowNotImplementedError) as err:
        list(client.do_action(flight.Action("CreatePreparedStatement", prepare)))
    assert "pgflight is read-only and offers no transactions" in str(err.value), err.value
    unchanged(shop)


def test_planned_select_over_a_large_table_reads_several_endpoints(database, start_server):
    database.execute(
        "CREATE TABLE big (id bigint PRIMARY KEY, v integer, t text)",
        "INSERT INTO big SELECT g, g % 100, 'row ' || g FROM generate_series(1, 50000) g",
        "ANALYZE big",
    )
    server = start_server(
        env={"PGFLIGHT_PARTITION_MIN_ROWS": "10000", "PGFLIGHT_MAX_PARTITIONS": "4", "PGFLIGHT_MAX_CONNECTIONS": "6"}
    )
    sql = "SELECT id, t FROM big WHERE v < 30 AND t LIKE 'row 1%'"
    expected = sorted(row[0] for row in database.query(sql))
    # pyarrow.flight: a CommandStatementQuery answers several endpoints; their union is the result.
    client = flight.FlightClient(server.grpc_uri)
    command = any_message("CommandStatementQuery", length_delimited(1, sql.encode()))
    info, table = fetch(client, command)
    assert len(info.endpoints) == 4
    assert sorted(table.column("id").to_pylist()) == expected
    # ADBC reads every endpoint of the same statement (prepared first, as its dbapi does).
    with adbc_driver_flightsql.dbapi.connect(server.grpc_uri, autocommit=True) as conn:
        result = query(conn, sql)
        assert sorted(result.column("id").to_pylist()) == expected
        ordered = query(conn, "SELECT id FROM big WHERE v = 7 ORDER BY id DESC LIMIT 3")
        assert ordered.column("id").to_pylist() == [49907, 49807, 49707]
    info, _ = fetch(client, any_message("CommandStatementQuery", length_delimited(1, b"SELECT id FROM big ORDER BY id")))
    assert len(info.endpoints) == 1
    assert info.total_records == 50000
