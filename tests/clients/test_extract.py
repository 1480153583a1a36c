"""Full-table extraction with pyarrow.flight: the seed's JSON command and path descriptors,
ListFlights, empty tables, quoted identifiers, error statuses, and a client that walks away."""

from __future__ import annotations

import hashlib
import json
import time

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.flight as flight
import pytest


def full_table(entity: str) -> flight.FlightDescriptor:
    return flight.FlightDescriptor.for_command(json.dumps({"mode": {"fullTable": {"entity": entity}}}))


def read(client: flight.FlightClient, descriptor: flight.FlightDescriptor) -> tuple[flight.FlightInfo, pa.Table]:
    info = client.get_flight_info(descriptor)
    tables = [client.do_get(endpoint.ticket).read_all() for endpoint in info.endpoints]
    return info, pa.concat_tables(tables)


def digest_of(table: pa.Table) -> str:
    """md5 of `id:name` rows joined by `|` in id order, as PostgreSQL computes it below."""
    rows = sorted(zip(table.column("id").to_pylist(), table.column("name").to_pylist()))
    return hashlib.md5("|".join(f"{i}:{n}" for i, n in rows).encode()).hexdigest()


@pytest.fixture
def users(database):
    database.execute(
        "CREATE SCHEMA app",
        "CREATE TABLE app.users (id bigint PRIMARY KEY, name text, updated_at timestamptz NOT NULL)",
        "INSERT INTO app.users SELECT g, 'ü-' || g, timestamptz '2024-01-01' + g * interval '1 second'"
        " FROM generate_series(1, 50000) g",
        "UPDATE app.users SET name = NULL WHERE id % 1000 = 0",
        "ANALYZE app.users",
    )
    return database


def expected(database) -> tuple[int, int, str]:
    [(count, total, digest)] = database.query(
        "SELECT count(*), sum(id), md5(string_agg(id || ':' || coalesce(name, 'None'), '|' ORDER BY id))"
        " FROM app.users"
    )
    return count, int(total), digest


def test_full_table_json_and_path_return_exactly_the_table(users, start_server):
    server = start_server(env={"PGFLIGHT_BATCH_SIZE": "4096"})
    client = flight.FlightClient(server.grpc_uri)
    count, total, digest = expected(users)
    for descriptor in (full_table("app.users"), flight.FlightDescriptor.for_path("app", "users")):
        info, table = read(client, descriptor)
        assert info.total_records == count
        assert table.num_rows == count
        assert pc.sum(table.column("id")).as_py() == total
        assert digest_of(table) == digest
        assert table.schema.field("updated_at").type == pa.timestamp("us", tz="UTC")
        assert not table.schema.field("updated_at").nullable
        assert max(batch.num_rows for batch in table.to_batches()) <= 4096


def test_list_flights_lists_tables_with_schemas(users, start_server):
    users.execute("CREATE VIEW app.recent AS SELECT id FROM app.users WHERE id > 49000")
    server = start_server()
    client = flight.FlightClient(server.grpc_uri)
    flights = {tuple(p.decode() for p in f.descriptor.path): f for f in client.list_flights()}
    assert set(flights) == {("app", "recent"), ("app", "users")}
    assert flights[("app", "users")].schema.names == ["id", "name", "updated_at"]
    _, table = read(client, flights[("app", "recent")].descriptor)
    assert table.num_rows == 1000


def test_empty_table_has_its_schema_and_no_rows(database, start_server):
    database.execute("CREATE TABLE empty_one (id int NOT NULL, note text, price numeric(10,2))")
    server = start_server()
    client = flight.FlightClient(server.grpc_uri)
    info, table = read(client, full_table("empty_one"))
    assert table.num_rows == 0
    assert table.schema.names == ["id", "note", "price"]
    assert table.schema.field("price").type == pa.decimal128(10, 2)
    assert info.schema.names == table.schema.names


def test_quoted_identifiers_with_spaces_quotes_and_unicode(database, start_server):
    database.execute(
        'CREATE SCHEMA "Sales Ops"',
        'CREATE TABLE "Sales Ops"."Q""uarter ✓" ("Région" text, "a""b" int)',
        """INSERT INTO "Sales Ops"."Q""uarter ✓" VALUES ('Île-de-France', 1), ('Nord', 2)""",
    )
    server = start_server()
    client = flight.FlightClient(server.grpc_uri)
    _, table = read(client, full_table('"Sales Ops"."Q""uarter ✓"'))
    assert table.schema.names == ["Région", 'a"b']
    assert sorted(table.column("Région").to_pylist()) == ["Nord", "Île-de-France"]
    _, table = read(client, flight.FlightDescriptor.for_path("Sales Ops", 'Q"uarter ✓'))
    assert table.num_rows == 2


def test_errors_are_clear_statuses(database, start_server):
    """pyarrow raises ArrowKeyError for gRPC NOT_FOUND and ArrowInvalid for INVALID_ARGUMENT."""
    database.execute("CREATE TABLE t (id int)")
    server = start_server()
    client = flight.FlightClient(server.grpc_uri)
    with pytest.raises(pa.ArrowKeyError, match=r'entity "missing_table" not found'):
        client.get_flight_info(full_table("missing_table"))
    with pytest.raises(pa.ArrowKeyError, match="not found"):
        client.get_flight_info(full_table("t'; DROP TABLE t; --"))
    with pytest.raises(pa.ArrowInvalid, match="expected"):
        client.get_flight_info(flight.FlightDescriptor.for_command(b'{"mode": {"fullTabel": {}}}'))
    with pytest.raises(pa.ArrowInvalid, match="expected"):
        client.get_flight_info(flight.FlightDescriptor.for_command(b'{"mode": 1}'))
    with pytest.raises(pa.ArrowInvalid, match="not a relation name"):
        client.get_flight_info(full_table('"unterminated'))
    with pytest.raises(pa.ArrowInvalid):
        client.do_get(flight.Ticket(b"forged ticket")).read_all()

    # The server is still healthy and the table is still there.
    _, table = read(client, full_table("t"))
    assert table.num_rows == 0


def test_client_that_stops_reading_leaves_no_running_query(database, start_server):
    database.execute(
        "CREATE TABLE big AS SELECT g::bigint AS id, repeat('x', 300) AS pad FROM generate_series(1, 300000) g"
    )
    server = start_server(env={"PGFLIGHT_BATCH_SIZE": "1000"})
    client = flight.FlightClient(server.grpc_uri)
    info = client.get_flight_info(full_table("big"))
    reader = client.do_get(info.endpoints[0].ticket)
    first = reader.read_chunk()
    assert first.data.num_rows == 1000
    active = (
        "SELECT count(*) FROM pg_stat_activity WHERE (application_name = 'pgflight' OR application_name LIKE 'pgflight %')"
        " AND state = 'active' AND datname = current_database()"
    )
    assert database.query(active)[0][0] == 1
    reader.cancel()
    client.close()
    deadline = time.monotonic() + 1.0
    while database.query(active)[0][0] != 0:
        assert time.monotonic() < deadline, "the COPY kept running after the client left"
        time.sleep(0.05)
