"""The catalog cache never serves a stale schema, through ADBC Flight SQL: after a query primed
it, every change to the table is answered correctly by the very next statement (schema and
values) — ADD, DROP, retype and RENAME COLUMN, DROP and CREATE under the same name, a new
table, REVOKE."""

from __future__ import annotations

import adbc_driver_flightsql.dbapi
import adbc_driver_manager
import pyarrow as pa
import pytest

from conftest import READER


def query(conn, sql) -> pa.Table:
    with conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetch_arrow_table()


def columns(table: pa.Table) -> list[tuple[str, pa.DataType]]:
    return [(field.name, field.type) for field in table.schema]


@pytest.fixture
def conn(database, server):
    database.execute(
        "CREATE TABLE t (id integer PRIMARY KEY, v integer, name text)",
        "INSERT INTO t VALUES (1, 10, 'a'), (2, 20, 'b')",
    )
    with adbc_driver_flightsql.dbapi.connect(server.grpc_uri, autocommit=True) as conn:
        # Prime the cache: a planned statement over t.
        primed = query(conn, "SELECT * FROM t WHERE id >= 1")
        assert columns(primed) == [("id", pa.int32()), ("v", pa.int32()), ("name", pa.string())]
        yield conn


def test_every_change_is_seen_by_the_next_statement(database, conn):
    database.execute("ALTER TABLE t ADD COLUMN extra text DEFAULT 'x'")
    got = query(conn, "SELECT * FROM t WHERE id >= 1").sort_by("id")
    assert got.column_names == ["id", "v", "name", "extra"]
    assert got.column("extra").to_pylist() == ["x", "x"]

    database.execute("ALTER TABLE t DROP COLUMN v")
    got = query(conn, "SELECT * FROM t WHERE id >= 1").sort_by("id")
    assert got.column_names == ["id", "name", "extra"]

    database.execute("ALTER TABLE t ALTER COLUMN id TYPE bigint")
    got = query(conn, "SELECT id FROM t WHERE id = 2")
    assert columns(got) == [("id", pa.int64())]
    assert got.column("id").to_pylist() == [2]

    database.execute("ALTER TABLE t RENAME COLUMN name TO label")
    got = query(conn, "SELECT * FROM t WHERE id = 1")
    assert got.column_names == ["id", "label", "extra"]
    assert got.column("label").to_pylist() == ["a"]

    database.execute(
        "DROP TABLE t",
        "CREATE TABLE t (id text, amount numeric(8,3))",
        "INSERT INTO t VALUES ('k', 1.250)",
    )
    got = query(conn, "SELECT * FROM t WHERE id = 'k'")
    assert columns(got) == [("id", pa.string()), ("amount", pa.decimal128(8, 3))]
    assert str(got.column("amount")[0]) == "1.250"


def test_a_new_table_and_a_revoke_are_seen_at_once(database, conn):
    with pytest.raises(adbc_driver_manager.Error):
        query(conn, "SELECT * FROM fresh WHERE id = 1")
    database.execute("CREATE TABLE fresh (id integer, x real)", "INSERT INTO fresh VALUES (1, 0.5)")
    got = query(conn, "SELECT * FROM fresh WHERE id = 1")
    assert columns(got) == [("id", pa.int32()), ("x", pa.float32())]
    assert got.column("x").to_pylist() == [0.5]

    database.execute(f"REVOKE SELECT ON t FROM {READER}")
    with pytest.raises(adbc_driver_manager.Error, match="not found"):
        query(conn, "SELECT * FROM t WHERE id >= 1")
