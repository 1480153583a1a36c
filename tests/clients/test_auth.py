"""Authentication with real clients: `auth = "password"` (users file made with
`pgflight hash-password`) and `auth = "postgres"` (PostgreSQL's own roles, row-level security),
through pyarrow.flight and the ADBC Flight SQL driver; and no password or token in the log."""

from __future__ import annotations

import json

import adbc_driver_flightsql.dbapi as flightsql
import pyarrow.flight as flight
import pytest

from conftest import PASSWORDS


def full_table(entity: str) -> flight.FlightDescriptor:
    return flight.FlightDescriptor.for_command(json.dumps({"mode": {"fullTable": {"entity": entity}}}))


def read(client: flight.FlightClient, options: flight.FlightCallOptions, entity: str) -> list:
    info = client.get_flight_info(full_table(entity), options)
    return sorted(client.do_get(info.endpoints[0].ticket, options).read_all().column(0).to_pylist())


@pytest.fixture
def password_server(database, start_server, users_file):
    database.execute("CREATE TABLE t AS SELECT g::int8 AS id FROM generate_series(1, 5) g")
    return start_server(env={
        "PGFLIGHT_AUTH": "password",
        "PGFLIGHT_USERS_FILE": str(users_file),
        "PGFLIGHT_LOG_LEVEL": "trace",
    })


def test_passwords_cover_every_length_modulo_3():
    assert {len(f"{user}:{password}".encode()) % 3 for user, password in PASSWORDS} == {0, 1, 2}


def adbc_count(server, user: str, password: str) -> int:
    with flightsql.connect(server.grpc_uri, db_kwargs={"username": user, "password": password},
                           autocommit=True) as conn:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) AS n FROM t")
            return cur.fetchone()[0]


@pytest.mark.parametrize("user,password", PASSWORDS, ids=[user for user, _ in PASSWORDS])
def test_every_password_logs_in_with_adbc_and_pyarrow(password_server, user, password):
    # ADBC (Go underneath) sends the Handshake's basic credentials as unpadded base64.
    assert adbc_count(password_server, user, password) == 5
    # pyarrow.flight (C++) sends them padded.
    client = flight.FlightClient(password_server.grpc_uri)
    header = client.authenticate_basic_token(user.encode(), password.encode())
    assert read(client, flight.FlightCallOptions(headers=[header]), "t") == [1, 2, 3, 4, 5]
    for wrong in (password + "x", password[:-1]):
        with pytest.raises(Exception, match="(?i)unauthenticated|authentication"):
            adbc_count(password_server, user, wrong)
        with pytest.raises(flight.FlightUnauthenticatedError):
            flight.FlightClient(password_server.grpc_uri).authenticate_basic_token(user.encode(), wrong.encode())


def test_empty_password_is_refused(password_server):
    with pytest.raises(Exception, match="(?i)unauthenticated|authentication"):
        adbc_count(password_server, "alice", "")
    with pytest.raises(flight.FlightUnauthenticatedError):
        flight.FlightClient(password_server.grpc_uri).authenticate_basic_token(b"alice", b"")


def test_password_auth_with_pyarrow(password_server):
    client = flight.FlightClient(password_server.grpc_uri)
    header = client.authenticate_basic_token(b"alice", b"Alice-Pw-7f3a91")
    assert header[0].lower() == b"authorization" and header[1].startswith(b"Bearer ")
    options = flight.FlightCallOptions(headers=[header])
    assert read(client, options, "t") == [1, 2, 3, 4, 5]
    with pytest.raises(flight.FlightUnauthenticatedError):
        flight.FlightClient(password_server.grpc_uri).authenticate_basic_token(b"alice", b"guess")
    with pytest.raises(flight.FlightUnauthenticatedError):
        flight.FlightClient(password_server.grpc_uri).get_flight_info(full_table("t"))

    # The log, at trace, holds neither the password nor the token.
    log = password_server.log_text()
    assert "TRACE" in log
    assert "Alice-Pw-7f3a91" not in log
    token = header[1].decode()[len("Bearer "):]
    assert token not in log


def test_password_auth_with_adbc(password_server):
    with flightsql.connect(password_server.grpc_uri, db_kwargs={"username": "alice", "password": "Alice-Pw-7f3a91"},
                           autocommit=True) as conn:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) AS n FROM t")
            assert cur.fetchone()[0] == 5
    with pytest.raises(Exception, match="(?i)unauthenticated|authentication"):
        with flightsql.connect(password_server.grpc_uri, db_kwargs={"username": "alice", "password": "no"},
                               autocommit=True) as conn:
            conn.adbc_get_info()


def test_postgres_roles_see_their_own_rows(database, start_server):
    database.execute(
        "CREATE TABLE notes (id int8, owner text)",
        "INSERT INTO notes VALUES (1, 'py_reader_a'), (2, 'py_reader_b'), (3, 'py_reader_a')",
        "ALTER TABLE notes ENABLE ROW LEVEL SECURITY",
        "CREATE POLICY own ON notes USING (owner = current_user)",
        "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'py_reader_a') THEN "
        "CREATE ROLE py_reader_a LOGIN PASSWORD 'pw-a'; END IF; "
        "IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'py_reader_b') THEN "
        "CREATE ROLE py_reader_b LOGIN PASSWORD 'pw-b'; END IF; END $$",
        "GRANT SELECT ON notes TO py_reader_a, py_reader_b",
    )
    server = start_server(env={"PGFLIGHT_AUTH": "postgres"})
    seen = {}
    for role, password in (("py_reader_a", "pw-a"), ("py_reader_b", "pw-b")):
        client = flight.FlightClient(server.grpc_uri)
        options = flight.FlightCallOptions(headers=[client.authenticate_basic_token(role.encode(), password.encode())])
        seen[role] = read(client, options, "notes")
    assert seen == {"py_reader_a": [1, 3], "py_reader_b": [2]}
    with pytest.raises(flight.FlightUnauthenticatedError):
        flight.FlightClient(server.grpc_uri).authenticate_basic_token(b"py_reader_a", b"wrong")
