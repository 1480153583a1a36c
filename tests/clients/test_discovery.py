"""Schema discovery through Flight SQL with real clients: ADBC's get_objects at every depth,
get_table_schema against DoGet's schema, table types and info; pyarrow.flight sending the raw
key and cross-reference commands, checked against PostgreSQL's own catalog; LIKE patterns,
hostile patterns, empty answers, and a role that may not SELECT a table."""

from __future__ import annotations

import json

import adbc_driver_flightsql.dbapi as flightsql_dbapi
import pyarrow as pa
import pyarrow.flight as flight
import pytest

from flightsql import any_message, fetch, length_delimited, sql_info

ODD = 'Odd "Schema"'  # a space and a double quote
ODD_SQL = '"Odd ""Schema"""'

FIXTURE = [
    "CREATE SCHEMA app",
    f"CREATE SCHEMA {ODD_SQL}",
    # A composite primary key, referenced by a composite foreign key (key order differs from
    # column order on purpose).
    "CREATE TABLE app.regions (code text, country char(2), name varchar(40) NOT NULL,"
    " PRIMARY KEY (country, code))",
    "CREATE TABLE app.customers (id bigint PRIMARY KEY, name text NOT NULL, balance numeric(12,2),"
    " profile jsonb, region_country char(2), region_code text,"
    " CONSTRAINT customers_region_fk FOREIGN KEY (region_country, region_code)"
    " REFERENCES app.regions (country, code) ON DELETE SET NULL ON UPDATE CASCADE)",
    "CREATE VIEW app.rich_customers AS SELECT id, name FROM app.customers WHERE balance > 1000",
    "CREATE MATERIALIZED VIEW app.customer_counts AS SELECT region_code, count(*) AS n"
    " FROM app.customers GROUP BY region_code",
    "CREATE TABLE app.events (id bigint, at date NOT NULL, payload text) PARTITION BY RANGE (at)",
    "CREATE TABLE app.events_2024 PARTITION OF app.events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')",
    f'CREATE TABLE {ODD_SQL}."Weird ""Table""" (id int PRIMARY KEY, "Mixed Case" text,'
    " customer_id bigint REFERENCES app.customers (id) ON DELETE CASCADE)",
    # Names that only LIKE wildcards and escapes tell apart.
    "CREATE TABLE app.a_b (x int)",
    "CREATE TABLE app.axb (x int)",
    "CREATE TABLE app.\"a%b\" (x int)",
]

TABLE_TYPES = {"TABLE", "VIEW", "MATERIALIZED VIEW", "PARTITIONED TABLE", "FOREIGN TABLE"}


@pytest.fixture
def fixture_db(database):
    database.execute(*FIXTURE)
    return database


def adbc(server):
    return flightsql_dbapi.connect(server.grpc_uri, autocommit=True)


def objects(conn, **kwargs) -> list[dict]:
    return conn.adbc_get_objects(**kwargs).read_all().to_pylist()


def test_get_objects_at_every_depth(fixture_db, server):
    with adbc(server) as conn:
        catalogs = objects(conn, depth="catalogs")
        assert [c["catalog_name"] for c in catalogs] == [fixture_db.name]
        assert not catalogs[0]["catalog_db_schemas"]

        [catalog] = objects(conn, depth="db_schemas")
        schemas = {s["db_schema_name"] for s in catalog["catalog_db_schemas"]}
        assert {"app", ODD, "public"} <= schemas
        assert not schemas & {"pg_catalog", "information_schema", "pg_toast"}

        [catalog] = objects(conn, depth="tables")
        tables = {
            (s["db_schema_name"], t["table_name"]): t["table_type"]
            for s in catalog["catalog_db_schemas"]
            for t in s["db_schema_tables"]
        }
        assert tables == {
            ("app", "regions"): "TABLE",
            ("app", "customers"): "TABLE",
            ("app", "rich_customers"): "VIEW",
            ("app", "customer_counts"): "MATERIALIZED VIEW",
            ("app", "events"): "PARTITIONED TABLE",  # its partition is not listed
            ("app", "a_b"): "TABLE",
            ("app", "axb"): "TABLE",
            ("app", "a%b"): "TABLE",
            (ODD, 'Weird "Table"'): "TABLE",
        }

        assert objects(conn, depth="columns") == objects(conn, depth="all")
        [catalog] = objects(conn, depth="all")
        columns = {
            (s["db_schema_name"], t["table_name"]): [
                (c["column_name"], c["ordinal_position"]) for c in t["table_columns"]
            ]
            for s in catalog["catalog_db_schemas"]
            for t in s["db_schema_tables"]
        }
        assert columns[("app", "customers")] == [
            ("id", 1),
            ("name", 2),
            ("balance", 3),
            ("profile", 4),
            ("region_country", 5),
            ("region_code", 6),
        ]
        assert columns[(ODD, 'Weird "Table"')] == [("id", 1), ("Mixed Case", 2), ("customer_id", 3)]
        assert columns[("app", "customer_counts")] == [("region_code", 1), ("n", 2)]
        assert columns[("app", "events")] == [("id", 1), ("at", 2), ("payload", 3)]


def test_get_objects_filters(fixture_db, server):
    with adbc(server) as conn:
        [catalog] = objects(conn, depth="tables", db_schema_filter="Odd %", table_name_filter="Weird%")
        assert [
            (s["db_schema_name"], [t["table_name"] for t in s["db_schema_tables"]])
            for s in catalog["catalog_db_schemas"]
        ] == [(ODD, ['Weird "Table"'])]

        [catalog] = objects(conn, depth="tables", db_schema_filter="app", table_types_filter=["VIEW"])
        [app] = catalog["catalog_db_schemas"]
        assert [t["table_name"] for t in app["db_schema_tables"]] == ["rich_customers"]

        assert objects(conn, depth="tables", catalog_filter="no_such_db") == []

        [catalog] = objects(conn, depth="columns", db_schema_filter="app", table_name_filter="customers",
                            column_name_filter="region%")
        [app] = catalog["catalog_db_schemas"]
        [customers] = app["db_schema_tables"]
        assert [c["column_name"] for c in customers["table_columns"]] == ["region_country", "region_code"]


def table_names(conn, pattern: str, schema: str = "app") -> list[str]:
    [catalog] = objects(conn, depth="tables", db_schema_filter=schema, table_name_filter=pattern)
    return sorted(t["table_name"] for s in catalog["catalog_db_schemas"] for t in s["db_schema_tables"] or [])


def test_patterns_follow_like_semantics(fixture_db, server):
    with adbc(server) as conn:
        assert table_names(conn, "a_b") == ["a%b", "a_b", "axb"]
        assert table_names(conn, "a\\_b") == ["a_b"]
        assert table_names(conn, "a\\%b") == ["a%b"]
        assert table_names(conn, "a%b") == ["a%b", "a_b", "axb"]
        assert table_names(conn, "%custom%") == ["customer_counts", "customers", "rich_customers"]
        assert table_names(conn, "CUSTOMERS") == []  # LIKE is case-sensitive, as PostgreSQL's names


def test_hostile_patterns_are_values(fixture_db, server):
    with adbc(server) as conn:
        for pattern in ["'; DROP TABLE app.customers; --", "x' OR '1'='1", '"); SELECT 1; --', "%' OR 1=1 --"]:
            assert table_names(conn, pattern) == []
            [catalog] = objects(conn, depth="db_schemas", db_schema_filter=pattern)
            assert not catalog["catalog_db_schemas"]
    assert fixture_db.query("SELECT count(*) FROM app.customers") == [(0,)]


def test_system_schemas_only_when_named(fixture_db, server):
    with adbc(server) as conn:
        [catalog] = objects(conn, depth="db_schemas", db_schema_filter="pg_catalog")
        assert [s["db_schema_name"] for s in catalog["catalog_db_schemas"]] == ["pg_catalog"]
        [catalog] = objects(conn, depth="db_schemas", db_schema_filter="%")
        names = {s["db_schema_name"] for s in catalog["catalog_db_schemas"]}
        assert "pg_catalog" not in names and "information_schema" not in names


def full_table_schema(server, entity: str) -> pa.Schema:
    client = flight.FlightClient(server.grpc_uri)
    command = json.dumps({"mode": {"fullTable": {"entity": entity}}})
    info = client.get_flight_info(flight.FlightDescriptor.for_command(command))
    return client.do_get(info.endpoints[0].ticket).read_all().schema


@pytest.mark.parametrize(
    "schema,table,entity",
    [
        ("app", "customers", "app.customers"),
        ("app", "events", "app.events"),
        ("app", "customer_counts", "app.customer_counts"),
        (ODD, 'Weird "Table"', '"Odd ""Schema"""."Weird ""Table"""'),
    ],
)
def test_get_table_schema_equals_doget_schema(fixture_db, server, schema, table, entity):
    with adbc(server) as conn:
        from_discovery = conn.adbc_get_table_schema(table, db_schema_filter=schema)
    from_doget = full_table_schema(server, entity)
    assert from_discovery.equals(from_doget, check_metadata=True)
    assert from_discovery.field(0).metadata[b"ARROW:FLIGHT:SQL:TABLE_NAME"] == table.encode()


def test_table_types(fixture_db, server):
    with adbc(server) as conn:
        types = conn.adbc_get_table_types()
    assert set(types) == TABLE_TYPES and len(types) == len(TABLE_TYPES)


def test_get_info(fixture_db, server):
    with adbc(server) as conn:
        info = conn.adbc_get_info()
    [(version,)] = fixture_db.query("SELECT current_setting('server_version')")
    assert info["vendor_name"] == "pgflight"
    assert info["vendor_version"].endswith(f"(PostgreSQL {version})")
    assert info["vendor_arrow_version"]


def test_sql_info_answers_every_key_with_an_empty_list(fixture_db, server):
    client = flight.FlightClient(server.grpc_uri)
    every = sql_info(client)
    [(keywords,)] = fixture_db.query("SELECT array_agg(upper(word) ORDER BY word) FROM pg_get_keywords()")
    assert every[508] == keywords  # SQL_KEYWORDS: PostgreSQL's own
    assert every[504] == '"'  # identifier quote char
    assert every[503] == 3  # unquoted identifiers are stored lower case
    assert every[526] == 1  # ANSI92 entry level
    assert every[525] == 3  # minimum + core grammar
    assert every[563] is False  # transactions: none
    assert every[3] is True  # read-only
    assert every[513] == "\\"  # LIKE escape in patterns
    assert len(every) > 80
    assert sql_info(client, [504, 3]) == {504: '"', 3: True}


# --- raw Flight SQL key commands (pyarrow.flight) ---------------------------------------------


def string_field(field: int, value: str) -> bytes:
    return length_delimited(field, value.encode())


def keys_command(name: str, schema: str | None, table: str) -> bytes:
    body = (string_field(2, schema) if schema is not None else b"") + string_field(3, table)
    return any_message(name, body)


def cross_reference_command(pk: tuple[str, str], fk: tuple[str, str]) -> bytes:
    body = string_field(2, pk[0]) + string_field(3, pk[1]) + string_field(5, fk[0]) + string_field(6, fk[1])
    return any_message("CommandGetCrossReference", body)


RULES = {"c": 0, "r": 1, "n": 2, "a": 3, "d": 4}

PG_FOREIGN_KEYS = """
SELECT pn.nspname, pc.relname, pa.attname, fn.nspname, fc.relname, fa.attname, u.ord::int,
       k.conname, pk.conname, k.confupdtype::text, k.confdeltype::text
  FROM pg_constraint k
  CROSS JOIN LATERAL unnest(k.conkey, k.confkey) WITH ORDINALITY AS u(f, p, ord)
  JOIN pg_class fc ON fc.oid = k.conrelid JOIN pg_namespace fn ON fn.oid = fc.relnamespace
  JOIN pg_class pc ON pc.oid = k.confrelid JOIN pg_namespace pn ON pn.oid = pc.relnamespace
  JOIN pg_attribute fa ON fa.attrelid = fc.oid AND fa.attnum = u.f
  JOIN pg_attribute pa ON pa.attrelid = pc.oid AND pa.attnum = u.p
  JOIN pg_constraint pk ON pk.conindid = k.conindid AND pk.conrelid = k.confrelid
 WHERE k.contype = 'f' AND {where}
 ORDER BY u.ord
"""


def pg_foreign_keys(db, where: str, database: str) -> list[dict]:
    out = []
    for row in db.query(PG_FOREIGN_KEYS.format(where=where)):
        out.append(
            {
                "pk_catalog_name": database,
                "pk_db_schema_name": row[0],
                "pk_table_name": row[1],
                "pk_column_name": row[2],
                "fk_catalog_name": database,
                "fk_db_schema_name": row[3],
                "fk_table_name": row[4],
                "fk_column_name": row[5],
                "key_sequence": row[6],
                "fk_key_name": row[7],
                "pk_key_name": row[8],
                "update_rule": RULES[row[9]],
                "delete_rule": RULES[row[10]],
            }
        )
    return out


def test_primary_keys_match_the_catalog(fixture_db, server):
    client = flight.FlightClient(server.grpc_uri)
    _, table = fetch(client, keys_command("CommandGetPrimaryKeys", "app", "regions"))
    expected = [
        {
            "catalog_name": fixture_db.name,
            "db_schema_name": "app",
            "table_name": "regions",
            "column_name": column,
            "key_name": key,
            "key_sequence": seq,
        }
        for column, key, seq in fixture_db.query(
            "SELECT a.attname, k.conname, u.ord::int FROM pg_constraint k"
            " CROSS JOIN LATERAL unnest(k.conkey) WITH ORDINALITY AS u(attnum, ord)"
            " JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum"
            " WHERE k.conrelid = 'app.regions'::regclass AND k.contype = 'p' ORDER BY u.ord"
        )
    ]
    assert table.to_pylist() == expected
    assert [r["column_name"] for r in expected] == ["country", "code"]  # key order, not column order

    _, odd = fetch(client, keys_command("CommandGetPrimaryKeys", ODD, 'Weird "Table"'))
    assert [(r["db_schema_name"], r["column_name"]) for r in odd.to_pylist()] == [(ODD, "id")]
    _, none = fetch(client, keys_command("CommandGetPrimaryKeys", "app", "rich_customers"))
    assert none.num_rows == 0
    assert none.schema.names == [
        "catalog_name", "db_schema_name", "table_name", "column_name", "key_name", "key_sequence"
    ]


def test_imported_exported_and_cross_reference_match_the_catalog(fixture_db, server):
    client = flight.FlightClient(server.grpc_uri)
    db = fixture_db.name

    _, imported = fetch(client, keys_command("CommandGetImportedKeys", "app", "customers"))
    assert imported.to_pylist() == pg_foreign_keys(fixture_db, "fc.oid = 'app.customers'::regclass", db)
    assert [(r["fk_column_name"], r["pk_column_name"], r["key_sequence"]) for r in imported.to_pylist()] == [
        ("region_country", "country", 1),
        ("region_code", "code", 2),
    ]
    assert {(r["update_rule"], r["delete_rule"]) for r in imported.to_pylist()} == {(0, 2)}

    _, exported = fetch(client, keys_command("CommandGetExportedKeys", "app", "customers"))
    assert exported.to_pylist() == pg_foreign_keys(fixture_db, "pc.oid = 'app.customers'::regclass", db)
    [row] = exported.to_pylist()
    assert (row["fk_db_schema_name"], row["fk_table_name"], row["delete_rule"], row["update_rule"]) == (
        ODD, 'Weird "Table"', 0, 3
    )

    _, cross = fetch(client, cross_reference_command(("app", "regions"), ("app", "customers")))
    assert cross.to_pylist() == imported.to_pylist()
    _, unrelated = fetch(client, cross_reference_command(("app", "customers"), ("app", "regions")))
    assert unrelated.num_rows == 0
    assert unrelated.schema == cross.schema


def test_empty_results_keep_their_schema(fixture_db, server):
    with adbc(server) as conn:
        [catalog] = objects(conn, depth="all", db_schema_filter="app", table_name_filter="nothing%")
        [app] = catalog["catalog_db_schemas"]
        assert not app["db_schema_tables"]
    client = flight.FlightClient(server.grpc_uri)
    tables_cmd = any_message(
        "CommandGetTables", string_field(3, "nothing_matches%") + bytes([0x28, 0x01])  # include_schema
    )
    info, table = fetch(client, tables_cmd)
    assert table.num_rows == 0
    assert table.schema.names == ["catalog_name", "db_schema_name", "table_name", "table_type", "table_schema"]
    assert info.schema == table.schema


def test_a_role_without_select_does_not_see_the_table(fixture_db, start_server):
    fixture_db.cluster.execute("postgres", "DROP ROLE IF EXISTS reader")
    fixture_db.execute(
        "CREATE ROLE reader LOGIN PASSWORD 'reader-pw'",
        "GRANT USAGE ON SCHEMA app TO reader",
        "GRANT SELECT ON app.customers TO reader",
    )
    try:
        server = start_server(env={"PGFLIGHT_USERNAME": "reader", "PGFLIGHT_PASSWORD": "reader-pw"})
        with adbc(server) as conn:
            [catalog] = objects(conn, depth="tables")
            seen = {
                (s["db_schema_name"], t["table_name"])
                for s in catalog["catalog_db_schemas"]
                for t in s["db_schema_tables"] or []
            }
            schemas = {s["db_schema_name"] for s in catalog["catalog_db_schemas"]}
        assert seen == {("app", "customers")}
        assert ODD not in schemas  # no USAGE on it
        client = flight.FlightClient(server.grpc_uri)
        # The foreign key to app.regions is not described: the role cannot read app.regions.
        _, imported = fetch(client, keys_command("CommandGetImportedKeys", "app", "customers"))
        assert imported.num_rows == 0
        _, pks = fetch(client, keys_command("CommandGetPrimaryKeys", "app", "regions"))
        assert pks.num_rows == 0
    finally:
        fixture_db.execute(
            "REVOKE ALL ON app.customers FROM reader", "REVOKE ALL ON SCHEMA app FROM reader"
        )
        fixture_db.cluster.execute("postgres", "DROP ROLE reader")
