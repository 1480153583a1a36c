"""Python beyond the DB-API: SQLAlchemy (the `adbc+flightsql` dialect of sqlalchemy-adbc over the
ADBC Flight SQL driver: engine, queries, `inspect()` reflection of tables, columns and keys),
`pandas.read_sql` and `polars.read_database` on an ADBC connection — each compared with what
PostgreSQL returns for clients_fixture.sql."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import adbc_driver_flightsql.dbapi as flightsql
import pandas as pd
import polars as pl
import pytest
import sqlalchemy as sa

from test_go import load_fixture


@pytest.fixture
def shop(database, start_server):
    load_fixture(database)
    return database, start_server()


def test_sqlalchemy_engine_queries_and_reflection(shop):
    database, server = shop
    # README "Clients": SQLAlchemy
    engine = sa.create_engine(f"adbc+flightsql://127.0.0.1:{server.port}?tls=false")
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT id, name FROM customers ORDER BY id")).all()
        assert [tuple(r) for r in rows] == database.query("SELECT id, name FROM customers ORDER BY id")
        assert conn.execute(sa.text("SELECT count(*) FROM orders")).scalar() == 3

    inspector = sa.inspect(engine)
    assert "public" in inspector.get_schema_names()
    # sqlalchemy-adbc 0.3.0 lists a table only when ADBC reports its type as lower-case
    # "table"/"view" (as the PostgreSQL and SQLite ADBC drivers do); Flight SQL servers, pgflight
    # among them, report "TABLE"/"VIEW" (what the JDBC driver and DBeaver expect). So listing
    # comes back empty; reflecting a named table works. When the dialect learns the upper-case
    # names, these become the lists of tables and views: update README "Clients" too.
    assert inspector.get_table_names(schema="public") == []
    assert inspector.get_view_names(schema="public") == []
    columns = {c["name"]: c for c in inspector.get_columns("orders", schema="public")}
    assert list(columns) == ["id", "customer_id", "total", "placed_at"]
    assert isinstance(columns["id"]["type"], sa.BigInteger)
    assert isinstance(columns["total"]["type"], sa.Numeric)
    assert isinstance(columns["placed_at"]["type"], sa.DateTime)
    # Keys and nullability: the ADBC Flight SQL driver's adbc_get_objects (1.13) fills no
    # table_constraints and no xdbc_nullable from Flight SQL, so the dialect reflects no keys
    # and every column as nullable. pgflight serves both (GetPrimaryKeys, GetImportedKeys, field
    # nullability): read them with adbc_get_objects' siblings or pyarrow.flight when needed.
    assert inspector.get_pk_constraint("orders", schema="public")["constrained_columns"] == []
    assert inspector.get_foreign_keys("orders", schema="public") == []

    # Table reflection, then a Core query built from it.
    orders = sa.Table("orders", sa.MetaData(), autoload_with=engine, schema="public")
    with engine.connect() as conn:
        query = sa.select(orders.c.id).where(orders.c.customer_id == 1).order_by(orders.c.id)
        assert conn.execute(query).scalars().all() == [1, 2]
    engine.dispose()


def test_pandas_read_sql_on_an_adbc_connection(shop):
    database, server = shop
    sql = "SELECT id, b, i8, f8, n, t, d, ts, tstz FROM families ORDER BY id"
    # README "Clients": pandas
    with flightsql.connect(f"grpc://127.0.0.1:{server.port}", autocommit=True) as conn:
        frame = pd.read_sql(sql, conn)
    expected = database.query(sql)
    assert list(frame.columns) == ["id", "b", "i8", "f8", "n", "t", "d", "ts", "tstz"]
    assert len(frame) == len(expected) == 3
    first = frame.iloc[0]
    want = expected[0]
    assert first["id"] == want[0] and bool(first["b"]) is want[1] and first["i8"] == want[2]
    # adbc_driver_postgresql answers numeric as text
    assert first["f8"] == want[3] and Decimal(str(first["n"])) == Decimal(want[4]) and first["t"] == want[5]
    assert first["d"] == want[6]
    assert first["ts"] == pd.Timestamp(want[7])
    assert first["tstz"] == pd.Timestamp(want[8]) and str(first["tstz"].tz) == "UTC"
    assert frame.iloc[2][["b", "i8", "t"]].isna().all()


def test_polars_read_database_on_an_adbc_connection(shop):
    database, server = shop
    sql = "SELECT id, i4, n, t, by, d, ts, tstz, ai FROM families ORDER BY id"
    # README "Clients": polars
    with flightsql.connect(f"grpc://127.0.0.1:{server.port}", autocommit=True) as conn:
        frame = pl.read_database(sql, connection=conn)
    assert frame.schema["n"] == pl.Decimal(12, 3)
    assert frame.schema["tstz"] == pl.Datetime("us", "UTC")
    assert frame.schema["ai"] == pl.List(pl.Int32)
    expected = [(r[0], r[1], None if r[2] is None else Decimal(r[2]), *r[3:]) for r in database.query(sql)]
    assert frame.rows() == expected  # (adbc_driver_postgresql answers numeric as text)
