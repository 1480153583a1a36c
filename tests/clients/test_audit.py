"""`audit = true`: one structured line per Flight call (JSON logs here), read back from the
server's log: user, client address, method, relation or SQL fingerprint, rows, bytes,
duration, status code — and never a password, a token or a literal value."""

from __future__ import annotations

import json
import time

import pyarrow.flight as flight

from conftest import READER_PASSWORD, hash_password
from test_auth import full_table

PASSWORD = "Audit-Pw-4c1d77"
LITERAL = "Literal-9e2b13"


def audit_lines(server, count: int) -> list[dict]:
    deadline = time.monotonic() + 10
    while True:
        lines = [json.loads(line) for line in server.log_text().splitlines() if line.startswith("{")]
        audit = [line for line in lines if line.get("target") == "pgflight::audit"]
        if len(audit) >= count or time.monotonic() > deadline:
            return audit
        time.sleep(0.1)


def test_every_call_is_audited_without_secrets_or_literals(database, start_server, tmp_path):
    database.execute("CREATE TABLE t AS SELECT g::int8 AS id, 'x' || g AS name FROM generate_series(1, 5) g")
    users = tmp_path / "users"
    users.write_text(f"alice:{hash_password(PASSWORD)}\n")
    server = start_server(env={
        "PGFLIGHT_AUTH": "password",
        "PGFLIGHT_USERS_FILE": str(users),
        "PGFLIGHT_AUDIT": "true",
        "PGFLIGHT_LOG_FORMAT": "json",
    })
    client = flight.FlightClient(server.grpc_uri)
    header = client.authenticate_basic_token(b"alice", PASSWORD.encode())
    options = flight.FlightCallOptions(headers=[header])
    info = client.get_flight_info(full_table("t"), options)
    assert client.do_get(info.endpoints[0].ticket, options).read_all().num_rows == 5
    # A SQL statement through Flight SQL: its literal must not reach the log.
    import adbc_driver_flightsql.dbapi
    with adbc_driver_flightsql.dbapi.connect(
        server.grpc_uri,
        db_kwargs={"username": "alice", "password": PASSWORD},
        autocommit=True,
    ) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM t WHERE name <> '{LITERAL}' AND id > 424242")
        assert cur.fetchall() == [(0,)]
    try:
        client.get_flight_info(full_table("missing"), options)
    except KeyError:  # pyarrow's NOT_FOUND
        pass

    audit = audit_lines(server, 6)
    log = server.log_text()
    for secret in (PASSWORD, LITERAL, "424242", READER_PASSWORD, header[1].decode().split()[-1]):
        assert secret not in log, f"{secret!r} in the log"
    fields = [line["fields"] for line in audit]
    for f in fields:
        assert set(f) >= {"user", "client", "method", "subject", "rows", "bytes", "duration_ms", "code"}, f
        assert f["client"].startswith("127.0.0.1:"), f
    by = {(f["method"], f["subject"]): f for f in fields}
    get = by[("GetFlightInfo", "t")]
    assert get["user"] == "alice" and get["code"] == "ok" and get["bytes"] > 0, get
    do_get = next(f for f in fields if f["method"] == "DoGet" and f["subject"].endswith(".t"))
    assert do_get["rows"] == 5 and do_get["user"] == "alice" and do_get["code"] == "ok", do_get
    statements = [f for f in fields if "FROM t WHERE name <> ? AND id > ?" in f["subject"]]
    assert statements, fields
    assert any(f["method"] == "DoGet" and f["rows"] == 1 for f in statements), statements
    missing = by[("GetFlightInfo", "missing")]
    assert missing["code"] == "not_found", missing
