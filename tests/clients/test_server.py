"""The server as real clients see it: pyarrow.flight, the ADBC Flight SQL driver, plain HTTP."""

from __future__ import annotations

import base64

import adbc_driver_flightsql.dbapi
import pyarrow as pa
import pyarrow.flight as flight
import pytest

import flightsql
from conftest import READER, READER_PASSWORD


class EchoAuthHandler(flight.ClientAuthHandler):
    """A raw Flight handshake: send one payload, keep what the server answers."""

    def __init__(self, payload: bytes):
        super().__init__()
        self.payload = payload
        self.answer = None

    def authenticate(self, outgoing, incoming):
        outgoing.write(self.payload)
        self.answer = incoming.read()

    def get_token(self):
        return b""


def test_pyarrow_basic_handshake_answers_an_anonymous_bearer_token(server):
    # auth = "none": any credentials get an (anonymous) bearer token.
    with flight.FlightClient(server.grpc_uri) as client:
        header, value = client.authenticate_basic_token(b"user", b"pass")
        assert header.lower() == b"authorization" and value.startswith(b"Bearer "), (header, value)


def test_pyarrow_raw_handshake_echoes_the_payload(server):
    with flight.FlightClient(server.grpc_uri) as client:
        handler = EchoAuthHandler(b"hello pgflight")
        client.authenticate(handler)
        assert handler.answer == b"hello pgflight"


def test_pyarrow_get_sql_info(server, pg_cluster):
    with flight.FlightClient(server.grpc_uri) as client:
        wanted = [
            flightsql.FLIGHT_SQL_SERVER_NAME,
            flightsql.FLIGHT_SQL_SERVER_VERSION,
            flightsql.FLIGHT_SQL_SERVER_READ_ONLY,
        ]
        info, table = flightsql.fetch(client, flightsql.command_get_sql_info(wanted))
        assert len(info.endpoints) == 1
        assert info.schema.field("info_name").type == pa.uint32()
        assert pa.types.is_union(info.schema.field("value").type)
        assert table.num_rows == 3
        values = dict(zip(table.column("info_name").to_pylist(), table.column("value").to_pylist()))
    assert values[flightsql.FLIGHT_SQL_SERVER_NAME] == "pgflight"
    version = values[flightsql.FLIGHT_SQL_SERVER_VERSION]
    assert f"PostgreSQL {pg_cluster.version_num // 10000}" in version, version
    assert values[flightsql.FLIGHT_SQL_SERVER_READ_ONLY] is True


def test_pyarrow_get_sql_info_with_empty_list_includes_identity(server):
    with flight.FlightClient(server.grpc_uri) as client:
        values = flightsql.sql_info(client)
    assert values[flightsql.FLIGHT_SQL_SERVER_NAME] == "pgflight"
    assert values[flightsql.FLIGHT_SQL_SERVER_READ_ONLY] is True


def test_adbc_get_info(server, pg_cluster):
    with adbc_driver_flightsql.dbapi.connect(server.grpc_uri, autocommit=True) as conn:
        info = conn.adbc_get_info()
    assert info["vendor_name"] == "pgflight"
    assert "PostgreSQL" in info["vendor_version"], info
    assert f"PostgreSQL {pg_cluster.version_num // 10000}" in info["vendor_version"], info


def test_adbc_with_credentials(server):
    """The Go ADBC driver insists on a bearer token when given credentials; auth = none
    issues an anonymous one."""
    with adbc_driver_flightsql.dbapi.connect(
        server.grpc_uri,
        db_kwargs={"username": "someone", "password": "anything"},
        autocommit=True,
    ) as conn:
        assert conn.adbc_get_info()["vendor_name"] == "pgflight"


def test_health_and_readiness_share_the_grpc_port(server):
    status, body = server.get("/healthz")
    assert (status, body.strip()) == (200, "ok")
    status, body = server.get("/readyz")
    assert (status, body.strip()) == (200, "ready")
    # ... and the same port still speaks gRPC.
    with flight.FlightClient(server.grpc_uri) as client:
        assert flightsql.sql_info(client, [flightsql.FLIGHT_SQL_SERVER_NAME]) == {
            flightsql.FLIGHT_SQL_SERVER_NAME: "pgflight"
        }


def test_trace_log_never_shows_a_password(start_server, database):
    pg_password = "Pg-Unmistakable-7f3c9a"
    database.execute(f"ALTER ROLE {READER} PASSWORD '{pg_password}'")
    try:
        handshake_password = "Hs-Unmistakable-2b8e41"
        server = start_server(env={"PGFLIGHT_LOG_LEVEL": "trace", "PGFLIGHT_PASSWORD": pg_password})
        with flight.FlightClient(server.grpc_uri) as client:
            client.authenticate_basic_token(b"someone", handshake_password.encode())
            assert flightsql.sql_info(client)[flightsql.FLIGHT_SQL_SERVER_NAME] == "pgflight"
        with adbc_driver_flightsql.dbapi.connect(server.grpc_uri, autocommit=True) as conn:
            assert conn.adbc_get_info()["vendor_name"] == "pgflight"
        log = server.log_text()
        # The log is really at trace level (so the check below is not vacuous) ...
        assert "TRACE" in log, log[-2000:]
        # ... and holds neither password, in clear or inside a basic authorization header.
        basic = base64.b64encode(f"someone:{handshake_password}".encode()).decode()
        for secret in (pg_password, handshake_password, basic):
            assert secret not in log, f"{secret!r} appears in the server log"
    finally:
        # The cluster is shared by the session: put the reader's password back.
        database.execute(f"ALTER ROLE {READER} PASSWORD '{READER_PASSWORD}'")
