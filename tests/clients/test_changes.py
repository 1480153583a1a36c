"""Change data capture with ADBC (the pgflight_changes() table function) and pyarrow.flight
(the JSON request, DropChangeSlot): inserts, updates, deletes and a truncate arrive in commit
order with the cursor in the schema metadata; a lost cursor gets the same changes again."""

from __future__ import annotations

import json

import adbc_driver_flightsql.dbapi
import pyarrow.flight as flight

from conftest import READER


def test_adbc_reads_every_change_once_per_stored_cursor(database, start_server):
    database.execute(
        "SET synchronous_commit = on",
        "CREATE TABLE users (id bigint PRIMARY KEY, name text)",
        "INSERT INTO users SELECT g, 'user ' || g FROM generate_series(1, 3) g",
        f"ALTER ROLE {READER} REPLICATION",
        "CREATE PUBLICATION etl_users FOR TABLE users",
    )
    server = start_server()
    try:
        with adbc_driver_flightsql.dbapi.connect(server.grpc_uri, autocommit=True) as conn:

            def changes(args: str):
                with conn.cursor() as cur:
                    cur.execute(f"SELECT * FROM pgflight_changes('users', 'etl_users', {args})")
                    table = cur.fetch_arrow_table()
                return table, json.loads(table.schema.metadata[b"pgflight.cursor"])["cursor"]

            first, start = changes("create => 'true'")
            assert first.num_rows == 0
            assert first.column_names[-5:] == ["_op", "_lsn", "_xid", "_commit_time", "_unchanged"]
            database.execute(
                "INSERT INTO users VALUES (4, 'four')",
                "UPDATE users SET name = 'one' WHERE id = 1",
                "DELETE FROM users WHERE id = 2",
                "TRUNCATE users",
            )
            rows, cursor = changes(f"cursor => '{start}'")
            assert rows.column("_op").to_pylist() == ["insert", "update", "delete", "truncate"]
            assert rows.column("id").to_pylist() == [4, 1, 2, None]
            assert rows.column("name").to_pylist() == ["four", "one", None, None]
            # The client lost `cursor`: the old one gives the same rows again.
            again, _ = changes(f"'{start}'")
            assert again.column("_op").to_pylist() == rows.column("_op").to_pylist()
            done, _ = changes(f"cursor => '{cursor}'")
            assert done.num_rows == 0

        client = flight.FlightClient(server.grpc_uri)
        request = {"mode": {"changes": {"entity": "users", "slot": "etl_users", "cursor": cursor}}}
        info = client.get_flight_info(flight.FlightDescriptor.for_command(json.dumps(request)))
        assert json.loads(info.app_metadata)["slot"] == "etl_users"
        assert client.do_get(info.endpoints[0].ticket).read_all().num_rows == 0
        answer = client.do_action(flight.Action("DropChangeSlot", b'{"slot": "etl_users"}'))
        assert json.loads(next(iter(answer)).body.to_pybytes())["dropped"] is True
    finally:
        database.execute(f"ALTER ROLE {READER} NOREPLICATION")
