"""Cancellation: CancelFlightInfo (pyarrow raw DoAction), Flight SQL's CancelQuery and ADBC's
adbc_cancel() stop the PostgreSQL statements of a running query — a long aggregate and a
5M-row scan split into endpoints — on this pgflight or on another one sharing `ticket_secret`;
no backend is left running a second later, the server stays healthy, and a later DoGet of a
cancelled ticket is refused as CANCELLED."""

from __future__ import annotations

import json
import threading
import time

import adbc_driver_flightsql.dbapi as flightsql
import pyarrow as pa
import pyarrow.flight as flight
import pytest

from flightsql import any_message, length_delimited, sql_info

LONG_QUERY = "SELECT count(*) FROM generate_series(1, 50000000000) g"
CANCEL_STATUS_CANCELLED = 1
CANCEL_STATUS_NOT_CANCELLABLE = 3


def statement_query(sql: str) -> flight.FlightDescriptor:
    """CommandStatementQuery { query = 1 } in an Any, as a command descriptor."""
    return flight.FlightDescriptor.for_command(
        any_message("CommandStatementQuery", length_delimited(1, sql.encode()))
    )


def cancel_flight_info(client: flight.FlightClient, info: flight.FlightInfo) -> int:
    """The CancelFlightInfo action (body: CancelFlightInfoRequest { info = 1 }); its status."""
    body = length_delimited(1, info.serialize())
    [result] = list(client.do_action(flight.Action("CancelFlightInfo", body)))
    payload = result.body.to_pybytes()
    assert payload[:1] == b"\x08", payload  # CancelFlightInfoResult { status = 1 (varint) }
    return payload[1]


def cancel_query(client: flight.FlightClient, info: flight.FlightInfo) -> bytes:
    """Flight SQL's CancelQuery action: ActionCancelQueryRequest { bytes info = 1 } in an Any."""
    body = any_message("ActionCancelQueryRequest", length_delimited(1, info.serialize()))
    [result] = list(client.do_action(flight.Action("CancelQuery", body)))
    return result.body.to_pybytes()


def running(database, marker: str) -> int:
    """pgflight backends running a statement that mentions `marker` (endpoints of a split read
    are tagged `pgflight s=<id>/<n> q=<query>`)."""
    [(count,)] = database.query(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'pgflight%' "
        f"AND state = 'active' AND pid <> pg_backend_pid() AND query LIKE '%{marker}%'"
    )
    return count


def wait_for(condition, timeout: float, what: str) -> float:
    """Polls `condition` until true; the seconds it took. Fails the test after `timeout`."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            pytest.fail(f"{what}: not within {timeout}s")
        time.sleep(0.02)
    return time.monotonic() - start


class Reader(threading.Thread):
    """DoGet of one ticket on a connection of its own, read to the end; keeps the error."""

    def __init__(self, uri: str, ticket: flight.Ticket, pause: float = 0.0, options=None):
        super().__init__(daemon=True)
        self.uri, self.ticket, self.pause, self.options = uri, ticket, pause, options
        self.rows = 0
        self.error: Exception | None = None
        self.started_reading = threading.Event()

    def run(self) -> None:
        client = flight.FlightClient(self.uri)
        try:
            # Chunk by chunk: pyarrow turns a CANCELLED read_all() in a thread into a
            # KeyboardInterrupt of the main thread.
            reader = client.do_get(self.ticket, self.options)
            while True:
                try:
                    chunk = reader.read_chunk()
                except StopIteration:
                    break
                self.rows += chunk.data.num_rows
                self.started_reading.set()
                time.sleep(self.pause)
        except Exception as err:  # noqa: BLE001 - the test inspects it
            self.error = err
        finally:
            self.started_reading.set()
            client.close()


def cancelled_count(server) -> float:
    """postgres_errors_total{kind="cancelled"} on the server's /metrics."""
    status, text = server.get("/metrics")
    assert status == 200
    for line in text.splitlines():
        if line.startswith('postgres_errors_total{kind="cancelled"}'):
            return float(line.split()[-1])
    return 0.0


def assert_healthy(server) -> None:
    status, _ = server.get("/healthz")
    assert status == 200
    client = flight.FlightClient(server.grpc_uri)
    info = client.get_flight_info(statement_query("SELECT 41 + 1 AS answer"))
    assert client.do_get(info.endpoints[0].ticket).read_all().column(0).to_pylist() == [42]


def test_cancel_flight_info_stops_a_long_statement(database, server):
    client = flight.FlightClient(server.grpc_uri)
    info = client.get_flight_info(statement_query(LONG_QUERY))
    reader = Reader(server.grpc_uri, info.endpoints[0].ticket)
    reader.start()
    wait_for(lambda: running(database, "generate_series") == 1, 10, "the statement runs")

    other = flight.FlightClient(server.grpc_uri)  # another client cancels
    assert cancel_flight_info(other, info) == CANCEL_STATUS_CANCELLED
    took = wait_for(lambda: running(database, "generate_series") == 0, 1.0, "backend gone")
    reader.join(5)
    assert not reader.is_alive()
    assert isinstance(reader.error, flight.FlightCancelledError), reader.error
    assert took < 1.0

    # A later DoGet of the cancelled ticket is refused as cancelled, before PostgreSQL runs it.
    with pytest.raises(flight.FlightCancelledError, match="cancelled"):
        client.do_get(info.endpoints[0].ticket).read_all()
    assert running(database, "generate_series") == 0
    assert_healthy(server)


def test_cancel_query_action_of_flight_sql(database, server):
    client = flight.FlightClient(server.grpc_uri)
    info = client.get_flight_info(statement_query(LONG_QUERY))
    reader = Reader(server.grpc_uri, info.endpoints[0].ticket)
    reader.start()
    wait_for(lambda: running(database, "generate_series") == 1, 10, "the statement runs")
    result = cancel_query(flight.FlightClient(server.grpc_uri), info)
    # Any { type_url = ...ActionCancelQueryResult, value = { result = 1 (CANCELLED) } }
    assert b"ActionCancelQueryResult" in result and result.endswith(b"\x12\x02\x08\x01")
    wait_for(lambda: running(database, "generate_series") == 0, 1.0, "backend gone")
    reader.join(5)
    assert isinstance(reader.error, flight.FlightCancelledError), reader.error


def test_cancel_stops_every_endpoint_of_a_5m_row_scan(database, start_server):
    database.execute(
        "CREATE TABLE big AS SELECT g::bigint AS id, g % 1000 AS k, 'row ' || g AS label"
        " FROM generate_series(1, 5000000) g",
        "ANALYZE big",
    )
    server = start_server(env={"PGFLIGHT_BATCH_SIZE": "10000"})
    client = flight.FlightClient(server.grpc_uri)
    request = {"mode": {"fullTable": {"entity": "big"}}, "partitions": 2}
    info = client.get_flight_info(flight.FlightDescriptor.for_command(json.dumps(request)))
    assert len(info.endpoints) == 2
    readers = [Reader(server.grpc_uri, e.ticket, pause=0.05) for e in info.endpoints]
    for reader in readers:
        reader.start()
    for reader in readers:
        assert reader.started_reading.wait(20)
    assert running(database, '"big"') >= 1

    cancelled_before = cancelled_count(server)
    assert cancel_flight_info(flight.FlightClient(server.grpc_uri), info) == CANCEL_STATUS_CANCELLED
    took = wait_for(lambda: running(database, '"big"') == 0, 1.0, "scan backends gone")
    for reader in readers:
        reader.join(10)
        assert not reader.is_alive()
        assert isinstance(reader.error, flight.FlightCancelledError), reader.error
        assert reader.rows < 5_000_000
    assert took < 1.0
    assert cancelled_count(server) - cancelled_before == 2  # one per endpoint
    for endpoint in info.endpoints:
        with pytest.raises(flight.FlightCancelledError):
            client.do_get(endpoint.ticket).read_all()
    assert_healthy(server)


def test_cancel_stops_a_statement_datafusion_evaluates(database, server):
    database.execute(
        "CREATE TABLE wide AS SELECT g::bigint AS id, 'row ' || g AS label"
        " FROM generate_series(1, 1000000) g",
        "ANALYZE wide",
    )
    client = flight.FlightClient(server.grpc_uri)
    # LIKE is evaluated by DataFusion over the scan: the ticket is a DataFusion plan whose scan
    # goes through the same source, tagged with the query's id.
    sql = "SELECT id, label FROM wide WHERE label LIKE '%7%'"
    explain = client.get_flight_info(statement_query("EXPLAIN " + sql))
    lines = client.do_get(explain.endpoints[0].ticket).read_all().column(0).to_pylist()
    assert "executed: by DataFusion over the scan" in lines, lines
    info = client.get_flight_info(statement_query(sql))
    reader = Reader(server.grpc_uri, info.endpoints[0].ticket, pause=0.05)
    reader.start()
    assert reader.started_reading.wait(20)
    assert cancel_flight_info(client, info) == CANCEL_STATUS_CANCELLED
    wait_for(lambda: running(database, '"wide"') == 0, 1.0, "scan backend gone")
    reader.join(10)
    assert isinstance(reader.error, flight.FlightCancelledError), reader.error
    with pytest.raises(flight.FlightCancelledError):
        client.do_get(info.endpoints[0].ticket).read_all()


def test_cancel_on_one_instance_stops_a_query_running_on_another(database, start_server):
    secret = {"PGFLIGHT_TICKET_SECRET": "shared-secret-of-both-instances"}
    first = start_server(env=secret)
    second = start_server(env=secret)
    info = flight.FlightClient(first.grpc_uri).get_flight_info(statement_query(LONG_QUERY))
    reader = Reader(first.grpc_uri, info.endpoints[0].ticket)  # runs on the first
    reader.start()
    wait_for(lambda: running(database, "generate_series") == 1, 10, "the statement runs")

    assert cancel_flight_info(flight.FlightClient(second.grpc_uri), info) == CANCEL_STATUS_CANCELLED
    took = wait_for(lambda: running(database, "generate_series") == 0, 1.0, "backend gone")
    reader.join(5)
    assert isinstance(reader.error, flight.FlightCancelledError), reader.error
    assert took < 1.0
    # The second instance, which got the cancel, refuses the ticket from now on.
    with pytest.raises(flight.FlightCancelledError):
        flight.FlightClient(second.grpc_uri).do_get(info.endpoints[0].ticket).read_all()
    assert_healthy(first)
    assert_healthy(second)


def test_cancel_of_metadata_or_someone_elses_ticket(database, start_server):
    server = start_server(env={"PGFLIGHT_TICKET_SECRET": "one"})
    stranger = start_server(env={"PGFLIGHT_TICKET_SECRET": "another"})
    client = flight.FlightClient(server.grpc_uri)
    tables = client.get_flight_info(
        flight.FlightDescriptor.for_command(any_message("CommandGetTableTypes", b""))
    )
    assert cancel_flight_info(client, tables) == CANCEL_STATUS_NOT_CANCELLABLE
    info = client.get_flight_info(statement_query("SELECT 1"))
    with pytest.raises(pa.ArrowInvalid, match="not issued by this pgflight"):
        cancel_flight_info(flight.FlightClient(stranger.grpc_uri), info)
    with pytest.raises(pa.ArrowInvalid, match="not a CancelFlightInfoRequest"):
        list(client.do_action(flight.Action("CancelFlightInfo", b"\xff\xff")))
    assert_healthy(server)


def test_adbc_cancel_stops_the_statement(database, server):
    with flightsql.connect(server.grpc_uri, autocommit=True) as conn, conn.cursor() as cur:
        errors: list[Exception] = []

        def execute() -> None:
            try:
                cur.execute(LONG_QUERY)
                cur.fetchall()
            except Exception as err:  # noqa: BLE001 - the test inspects it
                errors.append(err)

        thread = threading.Thread(target=execute, daemon=True)
        thread.start()
        wait_for(lambda: running(database, "generate_series") == 1, 10, "the statement runs")
        cur.adbc_cancel()
        wait_for(lambda: running(database, "generate_series") == 0, 1.0, "backend gone")
        thread.join(5)
        assert not thread.is_alive()
        assert errors, "the cancelled execute did not fail"
    assert_healthy(server)


def test_sql_info_says_cancel_is_supported(server):
    FLIGHT_SQL_SERVER_CANCEL = 9
    info = sql_info(flight.FlightClient(server.grpc_uri), [FLIGHT_SQL_SERVER_CANCEL])
    assert info == {FLIGHT_SQL_SERVER_CANCEL: True}


def test_with_per_user_roles_a_user_cancels_only_their_own_query(database, start_server):
    database.execute(
        "DO $$ BEGIN "
        "IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'py_cancel_a') THEN "
        "CREATE ROLE py_cancel_a LOGIN PASSWORD 'pw-a'; END IF; "
        "IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'py_cancel_b') THEN "
        "CREATE ROLE py_cancel_b LOGIN PASSWORD 'pw-b'; END IF; END $$",
    )
    env = {"PGFLIGHT_AUTH": "postgres", "PGFLIGHT_TICKET_SECRET": "shared-by-both"}
    first, second = start_server(env=env), start_server(env=env)

    def login(server, role: str, password: str):
        client = flight.FlightClient(server.grpc_uri)
        header = client.authenticate_basic_token(role.encode(), password.encode())
        return client, flight.FlightCallOptions(headers=[header])

    client_a, options_a = login(first, "py_cancel_a", "pw-a")
    info = client_a.get_flight_info(statement_query(LONG_QUERY), options_a)
    reader = Reader(first.grpc_uri, info.endpoints[0].ticket, options=options_a)
    reader.start()
    wait_for(lambda: running(database, "generate_series") == 1, 10, "the statement runs")

    # Another user may not cancel it (the tickets are not theirs): it keeps running.
    client_b, options_b = login(second, "py_cancel_b", "pw-b")
    body = length_delimited(1, info.serialize())
    with pytest.raises(flight.FlightUnauthorizedError, match="another user"):
        list(client_b.do_action(flight.Action("CancelFlightInfo", body), options_b))
    time.sleep(0.3)
    assert running(database, "generate_series") == 1

    # Its owner cancels it from the other instance, as its own role.
    other_a, other_options = login(second, "py_cancel_a", "pw-a")
    [result] = list(other_a.do_action(flight.Action("CancelFlightInfo", body), other_options))
    assert result.body.to_pybytes() == bytes([0x08, CANCEL_STATUS_CANCELLED])
    wait_for(lambda: running(database, "generate_series") == 0, 1.0, "backend gone")
    reader.join(5)
    assert isinstance(reader.error, flight.FlightCancelledError), reader.error
