"""Flight SQL sessions, deadlines and compression with real clients.

Sessions: SetSessionOptions answers a sealed `pgflight_session` cookie that the client sends
back (ADBC with `adbc.flight.sql.rpc.with_cookie_middleware`, pyarrow.flight through the small
cookie middleware below); `schema` makes unqualified SQL and extraction names resolve there,
`TimeZone` changes PostgreSQL's text, CloseSession forgets, and any instance sharing
`ticket_secret` reads the session. Deadlines: a client's gRPC deadline cancels the PostgreSQL
statement. Compression: `x-pgflight-compression` or the session's `compression` option.
"""

from __future__ import annotations

import json
import re
import struct
import time

import adbc_driver_flightsql.dbapi
import adbc_driver_manager
import pyarrow as pa
import pyarrow.flight as flight
import pytest

from flightsql import any_message, fetch, fields, length_delimited, varint

COOKIE_MIDDLEWARE = {"adbc.flight.sql.rpc.with_cookie_middleware": "true"}
LONG_QUERY = "SELECT count(*) FROM (SELECT generate_series(1::bigint, 1000000000000::bigint)) s"


# --- a cookie jar for pyarrow.flight (which keeps no cookies by itself) --------------------


class CookieJar(flight.ClientMiddlewareFactory):
    """Keeps the cookies the server sets and sends them on every later call."""

    def __init__(self):
        self.cookies: dict[str, str] = {}
        self.set_cookie_headers: list[str] = []

    def start_call(self, info):
        return _CookieCall(self)


class _CookieCall(flight.ClientMiddleware):
    def __init__(self, jar: CookieJar):
        self.jar = jar

    def sending_headers(self):
        if not self.jar.cookies:
            return {}
        return {"cookie": "; ".join(f"{k}={v}" for k, v in self.jar.cookies.items())}

    def received_headers(self, headers):
        for value in headers.get("set-cookie", []):
            self.jar.set_cookie_headers.append(value)
            pair, *attributes = value.split(";")
            name, _, cookie = pair.strip().partition("=")
            if any(a.strip().lower() == "max-age=0" for a in attributes):
                self.jar.cookies.pop(name, None)
            else:
                self.jar.cookies[name] = cookie


def client(server, jar: CookieJar | None = None) -> flight.FlightClient:
    return flight.FlightClient(server.grpc_uri, middleware=[jar] if jar else [])


# --- the session messages (FlightSql.proto), hand-encoded -----------------------------------


def option_value(value) -> bytes:
    """`SessionOptionValue`: string (1) or sfixed64 (3); None: no value (unset)."""
    if value is None:
        return b""
    if isinstance(value, int):
        return varint(3 << 3 | 1) + struct.pack("<q", value)
    return length_delimited(1, str(value).encode())


def set_request(options: dict) -> bytes:
    entries = b"".join(
        length_delimited(1, length_delimited(1, k.encode()) + length_delimited(2, option_value(v)))
        for k, v in options.items()
    )
    return entries


def _map(body: bytes) -> dict[str, bytes]:
    out = {}
    for _, entry in fields(body):
        parts = dict(fields(entry))
        out[parts[1].decode()] = parts.get(2, b"")
    return out


def _value(encoded: bytes):
    for field, value in fields(encoded):
        if field == 1:
            return value.decode()
        if field == 3:
            return struct.unpack("<q", value)[0]
    return None


def action(c: flight.FlightClient, kind: str, body: bytes = b"") -> bytes:
    results = list(c.do_action(flight.Action(kind, body)))
    return results[0].body.to_pybytes() if results else b""


def set_options(c: flight.FlightClient, **options) -> dict[str, int]:
    """SetSessionOptions: {option: error value} (1 INVALID_NAME, 2 INVALID_VALUE, 3 ERROR)."""
    result = action(c, "SetSessionOptions", set_request(options))
    return {name: dict(fields(err)).get(1, 0) for name, err in _map(result).items()}


def get_options(c: flight.FlightClient) -> dict[str, object]:
    return {k: _value(v) for k, v in _map(action(c, "GetSessionOptions")).items()}


def sql(c: flight.FlightClient, text: str, options=None) -> pa.Table:
    command = any_message("CommandStatementQuery", length_delimited(1, text.encode()))
    info = c.get_flight_info(flight.FlightDescriptor.for_command(command), options)
    return pa.concat_tables([c.do_get(e.ticket, options).read_all() for e in info.endpoints])


def now_text(c: flight.FlightClient) -> str:
    return sql(c, "SELECT now()::text AS t").column(0)[0].as_py()


@pytest.fixture
def two_schemas(database):
    database.execute(
        "CREATE SCHEMA x",
        "CREATE TABLE x.t (id int, src text)",
        "INSERT INTO x.t VALUES (1, 'x'), (2, 'x')",
        "CREATE TABLE public.t (id int, src text)",
        "INSERT INTO public.t VALUES (3, 'public')",
    )
    return database


# --- sessions -------------------------------------------------------------------------------


def test_adbc_current_schema_resolves_unqualified_sql(two_schemas, server):
    with adbc_driver_flightsql.dbapi.connect(
        server.grpc_uri, db_kwargs=COOKIE_MIDDLEWARE, autocommit=True
    ) as conn:
        with conn.cursor() as cur:
            cur.execute("SELECT DISTINCT src FROM t")
            assert cur.fetchall() == [("public",)]
        assert conn.adbc_current_catalog == two_schemas.name
        conn.adbc_current_db_schema = "x"
        assert conn.adbc_current_db_schema == "x"
        with conn.cursor() as cur:
            # Planned (one relation) and pass-through (aggregate) alike.
            cur.execute("SELECT src FROM t ORDER BY id")
            assert cur.fetchall() == [("x",), ("x",)]
            cur.execute("SELECT src, count(*) FROM t GROUP BY src")
            assert cur.fetchall() == [("x", 2)]
            cur.execute("SELECT src FROM t WHERE id = ?", parameters=(2,))
            assert cur.fetchall() == [("x",)]
        conn.adbc_connection.set_options(
            **{"adbc.flight.sql.session.option.TimeZone": "Asia/Tokyo"}
        )
        with conn.cursor() as cur:
            cur.execute("SELECT now()::text")
            assert cur.fetchone()[0].endswith("+09")
        with pytest.raises(adbc_driver_manager.Error):
            conn.adbc_current_db_schema = "no_such_schema"


def test_schema_is_the_default_for_extraction_names(two_schemas, server):
    jar = CookieJar()
    c = client(server, jar)
    command = json.dumps({"mode": {"fullTable": {"entity": "t"}}}).encode()
    _, table = fetch(c, command)
    assert set(table.column("src").to_pylist()) == {"public"}
    assert set_options(c, schema="x") == {}
    assert any(h.startswith("pgflight_session=") for h in jar.set_cookie_headers)
    _, table = fetch(c, command)
    assert sorted(table.column("id").to_pylist()) == [1, 2]
    assert get_options(c)["schema"] == "x"


def test_timezone_changes_text_and_close_session_forgets(two_schemas, server):
    jar = CookieJar()
    c = client(server, jar)
    assert now_text(c).endswith("+00")
    assert set_options(c, TimeZone="Asia/Tokyo", batch_size=1) == {}
    assert now_text(c).endswith("+09")
    # batch_size: one row per record batch.
    command = any_message("CommandStatementQuery", length_delimited(1, b"SELECT id FROM x.t"))
    info = c.get_flight_info(flight.FlightDescriptor.for_command(command))
    chunks = [chunk for e in info.endpoints for chunk in c.do_get(e.ticket)]
    assert [chunk.data.num_rows for chunk in chunks] == [1, 1]
    got = get_options(c)
    assert got["TimeZone"] == "Asia/Tokyo" and got["batch_size"] == 1
    assert got["catalog"] == server.database
    action(c, "CloseSession")
    assert "pgflight_session" not in jar.cookies
    assert now_text(c).endswith("+00")
    assert "TimeZone" not in get_options(c)


def test_bad_names_and_values_are_per_option_errors(two_schemas, server):
    c = client(server, CookieJar())
    errors = set_options(
        c,
        nonsense="1",
        work_mem="1GB",
        search_path="x",
        TimeZone="Mars/Olympus_Mons",
        schema="no_such_schema",
        catalog="another_db",
        statement_timeout="1h",
        batch_size=0,
        compression="gzip",
        DateStyle="ISO, DMY",
        lock_timeout="2s",
    )
    assert errors == {
        "nonsense": 1,
        "work_mem": 1,
        "search_path": 1,
        "TimeZone": 2,
        "schema": 2,
        "catalog": 2,
        "statement_timeout": 2,
        "batch_size": 2,
        "compression": 2,
    }
    got = get_options(c)
    assert got["DateStyle"] == "ISO, DMY" and got["lock_timeout"] == "2000"
    assert sql(c, "SELECT '2024-03-01'::date::text AS d").column(0)[0].as_py() == "2024-03-01"
    assert sql(c, "SELECT current_setting('DateStyle') AS d").column(0)[0].as_py() == "ISO, DMY"


def test_a_forged_session_cookie_is_refused(two_schemas, server):
    c = client(server)
    options = flight.FlightCallOptions(headers=[(b"cookie", b"pgflight_session=AAAA")])
    command = any_message("CommandStatementQuery", length_delimited(1, b"SELECT 1"))
    with pytest.raises((flight.FlightError, pa.ArrowInvalid), match="session cookie refused .not issued"):
        c.get_flight_info(flight.FlightDescriptor.for_command(command), options)
    assert now_text(c).endswith("+00")


def test_session_statement_timeout_is_applied(two_schemas, server):
    c = client(server, CookieJar())
    assert set_options(c, statement_timeout=200) == {}
    with pytest.raises(flight.FlightTimedOutError, match="timeout"):
        sql(c, LONG_QUERY)


def test_two_instances_share_sessions_and_tickets(two_schemas, start_server):
    secret = {"PGFLIGHT_TICKET_SECRET": "shared-secret-for-both"}
    a, b = start_server(env=secret), start_server(env=secret)
    jar = CookieJar()
    on_a, on_b = client(a, jar), client(b, jar)
    assert set_options(on_a, TimeZone="America/Sao_Paulo", schema="x") == {}
    assert now_text(on_b).endswith("-03")
    assert sql(on_b, "SELECT DISTINCT src FROM t").column(0).to_pylist() == ["x"]
    # A ticket planned on A carries the settings: B runs it alike without any cookie.
    command = any_message("CommandStatementQuery", length_delimited(1, b"SELECT now()::text AS t"))
    info = on_a.get_flight_info(flight.FlightDescriptor.for_command(command))
    table = client(b).do_get(info.endpoints[0].ticket).read_all()
    assert table.column(0)[0].as_py().endswith("-03")


# --- deadlines ------------------------------------------------------------------------------


def running(database, pattern: str = "generate_series(1::bigint") -> int:
    rows = database.query(
        "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
        f"AND state = 'active' AND position('{pattern}' in query) > 0"
    )
    return rows[0][0]


def wait_until_gone(database, seconds: float = 2.0) -> None:
    deadline = time.monotonic() + seconds
    while running(database) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert running(database) == 0, "the statement still runs after the client's deadline"


def test_pyarrow_deadline_cancels_the_statement(database, server):
    c = client(server)
    options = flight.FlightCallOptions(timeout=1.5)
    command = any_message("CommandStatementQuery", length_delimited(1, LONG_QUERY.encode()))
    info = c.get_flight_info(flight.FlightDescriptor.for_command(command), options)
    started = time.monotonic()
    with pytest.raises(flight.FlightTimedOutError):
        c.do_get(info.endpoints[0].ticket, options).read_all()
    assert time.monotonic() - started < 5
    wait_until_gone(database)
    assert sql(c, "SELECT 1 AS one").column(0).to_pylist() == [1]


def test_adbc_fetch_timeout_cancels_the_statement(database, server):
    with adbc_driver_flightsql.dbapi.connect(server.grpc_uri, autocommit=True) as conn:
        conn.adbc_connection.set_options(**{"adbc.flight.sql.rpc.timeout_seconds.fetch": "1.5"})
        with conn.cursor() as cur:
            with pytest.raises(adbc_driver_manager.Error, match=re.compile("deadline|timeout", re.I)):
                cur.execute(LONG_QUERY)
                cur.fetchall()
    wait_until_gone(database)


# --- compression ----------------------------------------------------------------------------


def bytes_sent(server) -> float:
    _, text = server.get("/metrics")
    match = re.search(r'^flight_bytes_sent_total\{method="DoGet"\} (\S+)$', text, re.M)
    return float(match.group(1)) if match else 0.0


@pytest.mark.parametrize("kind", ["zstd", "lz4"])
def test_compressed_streams_decode_and_are_smaller(database, server, kind):
    database.execute(
        "CREATE TABLE wide AS SELECT g AS id, repeat('abcdefgh', 40) || g AS pad, g % 7 AS k "
        "FROM generate_series(1, 20000) g"
    )
    c = client(server)
    command = json.dumps({"mode": {"fullTable": {"entity": "wide"}}}).encode()
    info = c.get_flight_info(flight.FlightDescriptor.for_command(command))

    def read(headers) -> tuple[pa.Table, float]:
        before = bytes_sent(server)
        options = flight.FlightCallOptions(headers=headers)
        table = pa.concat_tables([c.do_get(e.ticket, options).read_all() for e in info.endpoints])
        return table, bytes_sent(server) - before

    plain, plain_bytes = read([])
    packed, packed_bytes = read([(b"x-pgflight-compression", kind.encode())])
    assert packed.sort_by("id").equals(plain.sort_by("id"))
    assert plain.num_rows == 20000
    assert packed_bytes < plain_bytes / 5, (packed_bytes, plain_bytes)

    # The session option asks for it too; the header `none` turns it off again.
    jar = CookieJar()
    with_session = client(server, jar)
    assert set_options(with_session, compression=kind) == {}
    info = with_session.get_flight_info(flight.FlightDescriptor.for_command(command))
    before = bytes_sent(server)
    table = pa.concat_tables([with_session.do_get(e.ticket).read_all() for e in info.endpoints])
    assert table.num_rows == 20000 and bytes_sent(server) - before < plain_bytes / 5
    with pytest.raises((flight.FlightError, pa.ArrowInvalid), match="not offered"):
        options = flight.FlightCallOptions(headers=[(b"x-pgflight-compression", b"gzip")])
        c.do_get(info.endpoints[0].ticket, options).read_all()


def test_a_session_is_bound_to_its_user(two_schemas, start_server, users_file):
    from conftest import PASSWORDS

    server = start_server(env={"PGFLIGHT_AUTH": "password", "PGFLIGHT_USERS_FILE": str(users_file)})
    (alice, alice_pw), (bob, bob_pw) = PASSWORDS[0], PASSWORDS[1]
    jar = CookieJar()
    c = client(server, jar)
    alice_token = flight.FlightCallOptions(headers=[c.authenticate_basic_token(alice, alice_pw)])
    bob_token = flight.FlightCallOptions(headers=[c.authenticate_basic_token(bob, bob_pw)])
    body = set_request({"TimeZone": "Asia/Tokyo"})
    list(c.do_action(flight.Action("SetSessionOptions", body), alice_token))
    assert "pgflight_session" in jar.cookies
    assert sql(c, "SELECT now()::text AS t", alice_token).column(0)[0].as_py().endswith("+09")
    # Bob sending Alice's cookie is refused, not served with her session (or silently without).
    with pytest.raises((flight.FlightError, pa.ArrowInvalid), match="issued to another user"):
        sql(c, "SELECT now()::text AS t", bob_token)
