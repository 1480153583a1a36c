"""Incremental extraction with pyarrow.flight and ADBC: repeated runs feeding each new cursor
into the next, the cursor in FlightInfo.app_metadata and in the stream's schema metadata, the
commit-ordered mode, the pgflight_incremental() table function, and bad requests."""

from __future__ import annotations

import json

import adbc_driver_flightsql.dbapi
import pyarrow as pa
import pyarrow.flight as flight
import pytest


def incremental(entity: str, field: str, cursor: str | None) -> flight.FlightDescriptor:
    request = {"mode": {"incremental": {"entity": entity, "cursorField": field, "cursor": cursor}}}
    return flight.FlightDescriptor.for_command(json.dumps(request))


def run(client: flight.FlightClient, entity: str, field: str, cursor: str | None) -> tuple[pa.Table, str | None]:
    info = client.get_flight_info(incremental(entity, field, cursor))
    metadata = json.loads(info.app_metadata)
    assert metadata["entity"] == entity and metadata["cursorField"] == field
    tables = []
    for endpoint in info.endpoints:
        reader = client.do_get(endpoint.ticket)
        table = reader.read_all()
        assert json.loads(table.schema.metadata[b"pgflight.cursor"]) == metadata
        tables.append(table)
    return pa.concat_tables(tables), metadata["cursor"]


@pytest.fixture
def events(database):
    database.execute(
        "CREATE SCHEMA app",
        "CREATE TABLE app.events (id bigserial PRIMARY KEY, ver int NOT NULL DEFAULT 1,"
        " updated_at timestamptz DEFAULT clock_timestamp(), amount numeric(12,3))",
        "CREATE INDEX ON app.events (updated_at)",
        "INSERT INTO app.events (amount) SELECT g / 1000.0 FROM generate_series(1, 3000) g",
    )
    return database


@pytest.mark.parametrize("field", ["updated_at", "xmin", "id"])
def test_repeated_runs_deliver_every_change_once(events, start_server, field):
    server = start_server()
    client = flight.FlightClient(server.grpc_uri)
    table, cursor = run(client, "app.events", field, None)
    assert table.num_rows == 3000
    for round_ in range(4):
        [(before,)] = events.query("SELECT max(id) FROM app.events")
        events.execute(
            "INSERT INTO app.events (amount) SELECT 1 FROM generate_series(1, 20)",
            f"UPDATE app.events SET ver = ver + 1, updated_at = clock_timestamp() WHERE id % 101 = {round_}",
        )
        table, cursor = run(client, "app.events", field, cursor)
        ids = table.column("id").to_pylist()
        assert len(ids) == len(set(ids))
        if field == "id":
            # A sequence cursor sees inserts only.
            assert len(ids) == 20
        else:
            [(changed,)] = events.query(f"SELECT count(*) FROM app.events WHERE id > {before} OR id % 101 = {round_}")
            assert len(ids) == changed
        again, same = run(client, "app.events", field, cursor)
        assert again.num_rows == 0
        if field != "xmin":
            assert same == cursor


def test_cursor_text_is_exact(events, start_server):
    events.execute(
        "INSERT INTO app.events (updated_at, amount) VALUES ('2999-01-01 00:00:00.000007+05', 123456789.125)"
    )
    client = flight.FlightClient(start_server().grpc_uri)
    _, cursor = run(client, "app.events", "updated_at", None)
    assert cursor == "2998-12-31T19:00:00.000007+00:00"
    _, cursor = run(client, "app.events", "amount", None)
    assert cursor == "123456789.125"


def test_bad_requests_are_invalid_arguments(events, start_server):
    client = flight.FlightClient(start_server().grpc_uri)
    for field, cursor, words in [
        ("nope", None, ['"nope"', "not a column"]),
        ("updated_at", "2024-01-01'; DROP TABLE app.events; --", ["timestamptz", '"updated_at"']),
        ("amount", "1e3", ["numeric", '"amount"']),
    ]:
        with pytest.raises(pa.ArrowInvalid, match="invalid argument") as err:
            client.get_flight_info(incremental("app.events", field, cursor))
        for word in words:
            assert word in str(err.value), str(err.value)
    assert events.query("SELECT count(*) FROM app.events") == [(3000,)]


def test_adbc_table_function_feeds_its_cursor_forward(events, start_server):
    server = start_server()
    with adbc_driver_flightsql.dbapi.connect(server.grpc_uri, autocommit=True) as conn:
        cursor_value = None
        for expected in (3000, 0):
            arg = "NULL" if cursor_value is None else "'" + cursor_value.replace("'", "''") + "'"
            with conn.cursor() as cur:
                cur.execute(f"SELECT * FROM pgflight_incremental('app.events', 'updated_at', {arg})")
                table = cur.fetch_arrow_table()
            assert table.num_rows == expected
            metadata = json.loads(table.schema.metadata[b"pgflight.cursor"])
            assert metadata["cursorField"] == "updated_at"
            cursor_value = metadata["cursor"]
            assert cursor_value.endswith("+00:00")
