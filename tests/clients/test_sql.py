"""SQL through adbc_driver_flightsql's dbapi: planned and pass-through statements, `?`
parameters, several parameter rows, schemas before execution, errors and read-only refusals."""

from __future__ import annotations

import datetime as dt

import adbc_driver_flightsql.dbapi
import adbc_driver_manager
import pyarrow as pa
import pytest


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
    assert "COPY (\nSELECT count(*) FROM items\n) TO STDOUT (FORMAT binary)" in plan, plan
