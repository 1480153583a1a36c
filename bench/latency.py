#!/usr/bin/env python3
"""pgflight latency benchmark (a benchmark, not a test).

Times the small things a person clicks, side by side in one run on the same PostgreSQL and the
same data: pgflight (ADBC Flight SQL driver, or raw pyarrow.flight where a row says so) against
a direct PostgreSQL driver (ADBC PostgreSQL). Each row reports p50 and p95 in milliseconds and
the ratio pgflight / direct (> 1 means pgflight is slower), plus pgflight's own CPU per
operation, its PostgreSQL backends' CPU per operation and the statements pgflight sent to
PostgreSQL per operation (from its /metrics).

The client floor rows run the same client code against bench/floor's null Flight SQL server
(precomputed answers, no work) and an arrow-go client (no cgo) against both servers, then say
which of issue 19's targets any server can reach with each client (skipped without `go`).

Data: `<schema>.lat` (100 000 rows, bigint primary key) and 50 more tables
`<schema>.lat_meta_01..50` (primary keys, each with a foreign key) for the metadata rows, in a
database `latency` of a throwaway cluster started the way bench/run.py does it (127.0.0.1 only;
`--keep DIR` keeps it, `--dsn URL` uses an existing server). See bench/README.md.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import multiprocessing
import os
import random
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as throughput  # noqa: E402  (bench/run.py: cluster, pgflight process, /proc helpers)

REPO = throughput.REPO
ROWS = 100_000
META_TABLES = 50
MARKER = f"pgflight-latency rows={ROWS} meta={META_TABLES} v1"

# (samples per latency row, executions of the prepared statement, seconds per concurrency side)
FULL = {"samples": 300, "executions": 1000, "seconds": 15.0}
QUICK = {"samples": 30, "executions": 100, "seconds": 3.0}
WARMUP = 5
CLIENTS = 16


def load_sql(schema: str) -> str:
    parts = [
        "SET client_min_messages = warning;",
        f"CREATE SCHEMA IF NOT EXISTS {schema};",
        f"DROP TABLE IF EXISTS {', '.join(f'{schema}.lat_meta_{i:02d}' for i in range(META_TABLES, 0, -1))};",
        f"DROP TABLE IF EXISTS {schema}.lat;",
        f"CREATE TABLE {schema}.lat (id bigint PRIMARY KEY, name text NOT NULL, amount numeric(12,2),"
        f" updated_at timestamptz NOT NULL DEFAULT '2024-01-01 00:00:00+00');",
        f"INSERT INTO {schema}.lat (id, name, amount) SELECT i, 'name ' || md5(i::text),"
        f" ((i * 104729) % 1000000000) / 100.0 FROM generate_series(1, {ROWS}::bigint) AS i;",
    ]
    for i in range(1, META_TABLES + 1):
        parent = f"{schema}.lat" if i == 1 else f"{schema}.lat_meta_{i - 1:02d}"
        parts.append(
            f"CREATE TABLE {schema}.lat_meta_{i:02d} (id int PRIMARY KEY,"
            f" parent_id bigint REFERENCES {parent} (id), code text NOT NULL, label varchar(80),"
            f" qty integer, price numeric(10,2), ok boolean, created timestamptz, day date,"
            f" payload jsonb);")
    parts.append(f"COMMENT ON TABLE {schema}.lat IS '{MARKER}';")
    return "\n".join(parts) + "\n"


def ensure_data(psql: throughput.Psql, schema: str) -> None:
    have = psql.query(f"SELECT obj_description(to_regclass('{schema}.lat'), 'pg_class')")
    if have == MARKER:
        print(f"latency: {schema}.lat and {META_TABLES} metadata tables already loaded, reusing them", flush=True)
        return
    print(f"latency: loading {schema}.lat ({ROWS:,} rows) and {META_TABLES} metadata tables ...", end=" ", flush=True)
    t0 = time.monotonic()
    psql.script(load_sql(schema))
    psql.query(f"VACUUM (FREEZE, ANALYZE) {schema}.lat")
    print(f"{time.monotonic() - t0:.1f}s", flush=True)


def find_binary(explicit: str | None, build: bool) -> Path:
    """--pgflight, else PGFLIGHT_BIN, else the release build bench/run.py would use."""
    chosen = explicit or os.environ.get("PGFLIGHT_BIN")
    return throughput.find_pgflight(chosen, build).resolve()


# ------------------------------------------------------------------------------------------
# What the server did meanwhile: CPU of pgflight and of its PostgreSQL backends, and the
# statements pgflight sent (pg_stat_statements, for the role pgflight logs in as)
# ------------------------------------------------------------------------------------------

PGFLIGHT_ROLE = "pgflight_bench"


class ServerSide:
    """Samples pgflight's CPU and the CPU of PostgreSQL minus the direct driver's backend; counts
    pgflight's statements with pg_stat_statements when the cluster has it loaded."""

    def __init__(self, pgflight_pid: int, pgcpu: throughput.PgCpu, admin: throughput.Psql | None):
        self.pid = pgflight_pid
        self.pgcpu = pgcpu
        self.admin = admin  # None: no pg_stat_statements
        self.direct_backends: set[int] = set()  # excluded from "pgflight's backends"

    def cpu(self) -> tuple[float, float | None]:
        pg = self.pgcpu.sample()
        if pg is not None:
            pg -= sum(throughput.proc_cpu(p) for p in self.direct_backends)
        return throughput.proc_cpu(self.pid), pg

    def reset_statements(self) -> None:
        if self.admin:
            self.admin.query(f"SELECT pg_stat_statements_reset((SELECT oid FROM pg_roles"
                             f" WHERE rolname = '{PGFLIGHT_ROLE}'))")

    def statements(self) -> dict[str, float]:
        """Calls since the reset by pgflight's role, by the statement's first word (BEGIN, SET,
        SELECT, COPY, ...). Parse/Describe-only round trips are not calls, so not counted."""
        if not self.admin:
            return {}
        out = self.admin.query(
            "SELECT upper(split_part(ltrim(query), ' ', 1)) AS w, sum(calls) FROM pg_stat_statements"
            f" WHERE userid = (SELECT oid FROM pg_roles WHERE rolname = '{PGFLIGHT_ROLE}')"
            " AND query NOT LIKE '%pg_stat_statements%' GROUP BY 1 ORDER BY 1")
        got = {}
        for line in out.splitlines():
            w, n = line.split("|")
            got[w.rstrip(";")] = float(n)
        return got

    def top_statements(self, limit: int = 8) -> list[tuple[int, str]]:
        if not self.admin:
            return []
        out = self.admin.query(
            "SELECT calls || '|' || regexp_replace(left(query, 160), '\\s+', ' ', 'g') FROM pg_stat_statements"
            f" WHERE userid = (SELECT oid FROM pg_roles WHERE rolname = '{PGFLIGHT_ROLE}')"
            f" ORDER BY calls DESC LIMIT {limit}")
        return [(int(c), q) for c, q in (line.split("|", 1) for line in out.splitlines() if "|" in line)]


@dataclass
class Row:
    name: str
    what: str
    flight: list[float] = field(default_factory=list)  # seconds per operation
    direct: list[float] = field(default_factory=list)
    flight_cpu_ms: float | None = None  # pgflight CPU per operation
    pg_cpu_ms: float | None = None  # pgflight's PostgreSQL backends, per operation
    client_cpu_ms: float | None = None  # this process (the client drivers), per pgflight operation
    direct_client_cpu_ms: float | None = None  # the same, per direct operation
    statements: dict[str, float] = field(default_factory=dict)  # per operation, by kind
    note: str = ""
    key: str = ""  # the --rows name, for the "what a server can reach" summary


def pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    if not s:
        return float("nan")
    k = (len(s) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


class ThisProcess:
    """The flight side's client runs in this process: timed here, its CPU is this process's."""

    last: float | None = None  # a client that times itself says here what its last operation took

    @staticmethod
    def cpu() -> float:
        return time.process_time()


def time_row(row: Row, n: int, flight_op, direct_op, server: ServerSide, client=ThisProcess) -> Row:
    """Warm-up, then n samples of each side, interleaved (the order alternates) so contention
    from the rest of the machine hits both alike. `client` is where the flight side's client
    runs (its CPU; its own clock when it keeps one, as the arrow-go client in a subprocess does)."""
    for _ in range(WARMUP):
        flight_op()
        if direct_op:
            direct_op()
    cpu_flight = 0.0
    cpu_pg: float | None = 0.0
    cpu_client = {"flight": 0.0, "direct": 0.0}
    server.reset_statements()
    for i in range(n):
        ops = [("flight", flight_op), ("direct", direct_op)]
        if i % 2:
            ops.reverse()
        for side, op in ops:
            if op is None:
                continue
            if side == "flight":
                f0, p0 = server.cpu()
                c0 = client.cpu()
                t0 = time.perf_counter()
                op()
                took = time.perf_counter() - t0
                row.flight.append(took if client.last is None else client.last)
                cpu_client[side] += client.cpu() - c0
                f1, p1 = server.cpu()
                cpu_flight += f1 - f0
                cpu_pg = None if (p0 is None or cpu_pg is None) else cpu_pg + p1 - p0
            else:
                c0 = time.process_time()
                t0 = time.perf_counter()
                op()
                row.direct.append(time.perf_counter() - t0)
                cpu_client[side] += time.process_time() - c0
    row.flight_cpu_ms = cpu_flight / n * 1e3
    row.client_cpu_ms = cpu_client["flight"] / n * 1e3
    row.direct_client_cpu_ms = cpu_client["direct"] / n * 1e3 if direct_op else None
    row.pg_cpu_ms = None if cpu_pg is None else cpu_pg / n * 1e3
    row.statements = {k: v / n for k, v in server.statements().items()}
    return row


# ------------------------------------------------------------------------------------------
# The clients
# ------------------------------------------------------------------------------------------


def point_sql(schema: str, placeholder: str) -> str:
    return f"SELECT id, name, amount FROM {schema}.lat WHERE id = {placeholder}"


def fetch_one(cur) -> None:
    t = cur.fetch_arrow_table()
    if t.num_rows != 1:
        raise RuntimeError(f"expected one row, got {t.num_rows}")


def execute_unprepared(cur, sql: str) -> int:
    """One statement without a prepare step (Flight SQL: CommandStatementQuery; PostgreSQL: the
    driver's unprepared path), read into an Arrow table. dbapi's execute() would prepare it."""
    import pyarrow as pa

    stmt = cur.adbc_statement
    stmt.set_sql_query(sql)
    handle, _ = stmt.execute_query()
    return pa.RecordBatchReader._import_from_c(handle.address).read_all().num_rows


class RawFlight:
    """pyarrow.flight (Arrow C++) with hand-built Flight SQL commands."""

    def __init__(self, flight_uri: str, schema: str):
        import pyarrow.flight as flight

        sys.path.insert(0, str(REPO / "tests" / "clients"))
        import flightsql  # the client suite's hand-built Flight SQL commands

        self.fsql = flightsql
        self.flight = flight
        self.schema = schema
        self.raw = flight.FlightClient(flight_uri)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.raw.close()

    def direct_backend_pid(self) -> int:
        with self.pconn.cursor() as cur:
            cur.execute("SELECT pg_backend_pid()")
            return cur.fetchone()[0]

    # raw Flight SQL ------------------------------------------------------------------------
    def command(self, name: str, body: bytes):
        return self.flight.FlightDescriptor.for_command(self.fsql.any_message(name, body))

    def statement_query(self, sql: str):
        return self.command("CommandStatementQuery", self.fsql.length_delimited(1, sql.encode()))

    def get_tables(self, table_pattern: str, include_schema: bool):
        ld = self.fsql.length_delimited
        body = ld(2, self.schema.encode()) + ld(3, table_pattern.encode())
        if include_schema:
            body += bytes([5 << 3 | 0, 1])
        return self.command("CommandGetTables", body)

    def keys_command(self, name: str, table: str):
        ld = self.fsql.length_delimited
        return self.command(name, ld(2, self.schema.encode()) + ld(3, table.encode()))

    def prepare(self, sql: str) -> "RawPrepared":
        return RawPrepared(self, sql)

    def fetch_all(self, descriptor) -> int:
        info = self.raw.get_flight_info(descriptor)
        return sum(self.raw.do_get(e.ticket).read_all().num_rows for e in info.endpoints)


class Clients(RawFlight):
    """Both sides' drivers: ADBC Flight SQL and raw pyarrow.flight to pgflight, ADBC PostgreSQL direct."""

    def __init__(self, flight_uri: str, dsn: str, schema: str):
        import adbc_driver_flightsql.dbapi as adbc_flight
        import adbc_driver_postgresql.dbapi as adbc_pg

        super().__init__(flight_uri, schema)
        self.fconn = adbc_flight.connect(flight_uri, autocommit=True)
        self.pconn = adbc_pg.connect(dsn, autocommit=True)

    def close(self) -> None:
        for c in (self.fconn, self.pconn):
            with contextlib.suppress(Exception):
                c.close()
        super().close()


class RawPrepared:
    """A Flight SQL prepared statement driven by pyarrow.flight (Arrow C++), the way a lean client
    executes it: CreatePreparedStatement once; per execution DoPut of the parameters (taking the
    handle the server answers), GetFlightInfo and DoGet."""

    def __init__(self, c: RawFlight, sql: str):
        import pyarrow as pa

        self.c, self.pa = c, pa
        ld = c.fsql.length_delimited
        action = c.flight.Action("CreatePreparedStatement",
                                 c.fsql.any_message("ActionCreatePreparedStatementRequest", ld(1, sql.encode())))
        result = dict(c.fsql.fields(dict(c.fsql.fields(next(iter(c.raw.do_action(action))).body.to_pybytes()))[2]))
        self.handle = result[1]
        self.params = pa.ipc.read_schema(pa.py_buffer(result[3]))

    def descriptor(self, handle: bytes):
        return self.c.command("CommandPreparedStatementQuery", self.c.fsql.length_delimited(1, handle))

    def execute(self, value) -> int:
        pa = self.pa
        batch = pa.record_batch([pa.array([value], self.params.field(0).type)], schema=self.params)
        writer, reader = self.c.raw.do_put(self.descriptor(self.handle), self.params)
        writer.write_batch(batch)
        writer.done_writing()
        answer = reader.read()
        writer.close()
        handle = dict(self.c.fsql.fields(answer.to_pybytes())).get(1, self.handle) if answer is not None else self.handle
        return self.c.fetch_all(self.descriptor(handle))


def point_query(cur, sql: str, rng: random.Random) -> None:
    """One point query on an ADBC cursor or a raw prepared statement."""
    if isinstance(cur, RawPrepared):
        if cur.execute(rng.randint(1, ROWS)) != 1:
            raise RuntimeError("expected one row")
        return
    cur.execute(sql, (rng.randint(1, ROWS),))
    fetch_one(cur)


def literal_query(cur, schema: str, rng: random.Random) -> None:
    """The point query with a literal id, without a prepare step."""
    if execute_unprepared(cur, point_sql(schema, str(rng.randint(1, ROWS)))) != 1:
        raise RuntimeError("literal: not one row")


def objects_tables(conn, schema: str) -> None:
    """adbc_get_objects(depth="tables") of the schema."""
    conn.adbc_get_objects(depth="tables", db_schema_filter=schema).read_all()


def concurrency_worker(conn, side: str, uri: str, sql: str, seed: int) -> None:
    """One client process: connect, prepare, then on command run point queries until a deadline."""
    rng = random.Random(seed)
    try:
        if side == "flight_raw":
            db = RawFlight(uri, "")
            cur = RawPrepared(db, sql)
        else:
            if side == "flight":
                import adbc_driver_flightsql.dbapi as adbc
            else:
                import adbc_driver_postgresql.dbapi as adbc
            db = adbc.connect(uri, autocommit=True)
            cur = db.cursor()
        for _ in range(3):
            point_query(cur, sql, rng)
        conn.send(("ready", None))
        start_at, until = conn.recv()
        time.sleep(max(0.0, start_at - time.time()))
        lat = []
        c0 = os.times()
        while time.time() < until:
            t0 = time.perf_counter()
            point_query(cur, sql, rng)
            if time.time() <= until:  # only queries that end inside the window count
                lat.append(time.perf_counter() - t0)
        c1 = os.times()
        if side != "flight_raw":
            cur.close()
        db.close()
        conn.send(("done", (lat, c1.user + c1.system - c0.user - c0.system)))
    except Exception as err:  # reported by the parent
        conn.send(("error", f"{type(err).__name__}: {err}"))


def run_concurrent(side: str, uri: str, sql: str, clients: int, seconds: float,
                   probe) -> tuple[float, list[float], float, list[float]]:
    """`clients` processes (not threads: the GIL would serialise the Python side of every call)
    doing point queries for `seconds`; returns (queries per second, latencies, the clients' CPU
    in cores, and what `probe()` (a list of CPU seconds) grew by per second of the window)."""
    ctx = multiprocessing.get_context("spawn")
    procs, pipes = [], []
    for i in range(clients):
        parent, child = ctx.Pipe()
        p = ctx.Process(target=concurrency_worker, args=(child, side, uri, sql, 1000 + i), daemon=True)
        p.start()
        procs.append(p)
        pipes.append(parent)
    try:
        for p in pipes:
            if not p.poll(120):
                raise RuntimeError(f"{side}: a client did not get ready")
            kind, val = p.recv()
            if kind != "ready":
                raise RuntimeError(f"{side} client: {val}")
        start_at = time.time() + 0.5
        until = start_at + seconds
        for p in pipes:
            p.send((start_at, until))
        time.sleep(max(0.0, start_at - time.time()))
        probe0 = probe()
        time.sleep(max(0.0, until - time.time()))
        window = [(b - a) / seconds for a, b in zip(probe0, probe())]
        lat: list[float] = []
        client_cpu = 0.0
        for p in pipes:
            if not p.poll(seconds + 120):
                raise RuntimeError(f"{side}: a client did not finish")
            kind, val = p.recv()
            if kind != "done":
                raise RuntimeError(f"{side} client: {val}")
            lat.extend(val[0])
            client_cpu += val[1]
        return len(lat) / seconds, lat, client_cpu / seconds, window
    finally:
        for p in procs:
            p.join(timeout=10)
            if p.is_alive():
                p.kill()


# ------------------------------------------------------------------------------------------
# The rows
# ------------------------------------------------------------------------------------------


# the client floor's rows (null server, arrow-go client): skipped when Go is missing
FLOOR_ROWS = ("floor_prepared", "floor_prepared_raw", "floor_literal", "floor_select1", "floor_objects",
              "floor_concurrent", "go_prepared", "go_floor")
ROW_NAMES = ("prepared", "prepared_raw", "literal", "select1", "objects", "info", "info_relation", "doget",
             "incremental", "browse",
             "objects_all", "executions", "concurrent") + FLOOR_ROWS


def log_row(row: Row) -> None:
    print(f"  {row.name:<58} {'floor' if row.key.startswith(('floor', 'go_floor')) else 'pgflight'}"
          f" p50 {pct(row.flight, 50) * 1e3:8.2f} ms"
          + (f"  direct p50 {pct(row.direct, 50) * 1e3:7.2f} ms" if row.direct else ""), flush=True)


def measure_all(args, c: Clients, server: ServerSide, sizes: dict, flight_uri: str, dsn: str,
                floor: "Floor | None") -> tuple[list[Row], dict]:
    rng = random.Random(42)
    n = sizes["samples"]
    schema = args.schema
    wanted = set(args.rows.split(",")) if args.rows else set(ROW_NAMES)
    rows: list[Row] = []
    extra: dict = {}

    fcur = c.fconn.cursor()
    pcur = c.pconn.cursor()
    try:
        if "prepared" in wanted:
            fsql, psql = point_sql(schema, "?"), point_sql(schema, "$1")
            row = Row("SELECT id, name, amount FROM lat WHERE id = ? (prepared)",
                      "ADBC: one cursor, prepared once, then bind + execute + fetch per sample", key="prepared")
            rows.append(time_row(row, n, lambda: point_query(fcur, fsql, rng), lambda: point_query(pcur, psql, rng),
                                 server)); log_row(row)

        if "prepared_raw" in wanted:
            raw = c.prepare(point_sql(schema, "?"))
            psql = point_sql(schema, "$1")
            row = Row("the same prepared, raw pyarrow.flight (Arrow C++ client)",
                      "pyarrow.flight: DoPut of the parameter, GetFlightInfo, DoGet per sample", key="prepared_raw")
            rows.append(time_row(row, n, lambda: point_query(raw, "", rng), lambda: point_query(pcur, psql, rng),
                                 server)); log_row(row)

        if "literal" in wanted:
            lcur_f, lcur_p = c.fconn.cursor(), c.pconn.cursor()
            row = Row("the same with a literal id (not prepared)",
                      "ADBC statement execute_query, no prepare; Flight SQL CommandStatementQuery", key="literal")
            rows.append(time_row(row, n, lambda: literal_query(lcur_f, schema, rng),
                                 lambda: literal_query(lcur_p, schema, rng), server)); log_row(row)
            lcur_f.close(); lcur_p.close()

        if "select1" in wanted:
            scur_f, scur_p = c.fconn.cursor(), c.pconn.cursor()
            row = Row("SELECT 1", "ADBC statement execute_query, no prepare", key="select1")
            rows.append(time_row(row, n, lambda: execute_unprepared(scur_f, "SELECT 1"),
                                 lambda: execute_unprepared(scur_p, "SELECT 1"), server)); log_row(row)
            scur_f.close(); scur_p.close()

        if "objects" in wanted:
            row = Row(f'adbc_get_objects(depth="tables") on {META_TABLES + 1} tables',
                      f"db_schema_filter={schema!r} on both sides (ADBC PostgreSQL would list pg_catalog too)",
                      key="objects")
            rows.append(time_row(row, n, lambda: objects_tables(c.fconn, schema), lambda: objects_tables(c.pconn, schema),
                                 server)); log_row(row)

        planned = c.statement_query(point_sql(schema, "42"))
        if "info" in wanted:
            def f():
                c.raw.get_flight_info(c.statement_query(point_sql(schema, str(rng.randint(1, ROWS)))))

            row = Row("GetFlightInfo alone, one-row planned query (raw Flight SQL)",
                      "pyarrow.flight: CommandStatementQuery with a literal id, no DoGet")
            rows.append(time_row(row, n, f, None, server)); log_row(row)

        if "info_relation" in wanted:
            for short, kind, desc in (
                    ("JSON fullTable", "the seed's JSON fullTable request",
                     c.flight.FlightDescriptor.for_command(
                         json.dumps({"mode": {"fullTable": {"entity": f"{schema}.lat"}}}))),
                    ("path", "a path descriptor", c.flight.FlightDescriptor.for_path(schema, "lat"))):
                row = Row(f"GetFlightInfo of a cached relation, {short} (raw)",
                          f"pyarrow.flight: GetFlightInfo of {kind} for {schema}.lat (catalog cached"
                          " after the first call: one check query a call), no DoGet")
                rows.append(time_row(row, n, lambda desc=desc: c.raw.get_flight_info(desc), None, server))
                log_row(row)

        if "doget" in wanted:
            info = c.raw.get_flight_info(planned)
            ticket = info.endpoints[0].ticket

            def f():
                if c.raw.do_get(ticket).read_all().num_rows != 1:
                    raise RuntimeError("doget: not one row")

            row = Row("DoGet alone for that ticket (raw Flight SQL)",
                      "pyarrow.flight: the same ticket fetched again and again")
            rows.append(time_row(row, n, f, None, server)); log_row(row)

        if "incremental" in wanted:
            request = json.dumps({"mode": {"incremental": {"entity": f"{schema}.lat", "cursorField": "id",
                                                           "cursor": str(ROWS - 1)}}})
            desc = c.flight.FlightDescriptor.for_command(request)

            def f():
                if c.fetch_all(desc) != 1:
                    raise RuntimeError("incremental: not one row")

            row = Row("1-row incremental extraction (GetFlightInfo + DoGet)",
                      f"the seed's JSON request, cursorField id, cursor {ROWS - 1}")
            rows.append(time_row(row, n, f, None, server)); log_row(row)

        if "browse" in wanted:
            tables_cmd = c.get_tables("lat\\_meta\\_%", include_schema=True)

            def gt():
                if c.fetch_all(tables_cmd) != META_TABLES:
                    raise RuntimeError("GetTables: not 50 tables")

            def table():
                return f"lat_meta_{rng.randint(1, META_TABLES):02d}"

            def pk():
                c.fetch_all(c.keys_command("CommandGetPrimaryKeys", table()))

            def fk():
                c.fetch_all(c.keys_command("CommandGetImportedKeys", table()))

            parts = [
                Row(f"GetTables include_schema, {META_TABLES} tables (raw)", "one call, Arrow schemas of 50 tables"),
                Row("GetPrimaryKeys, one table (raw)", "a random lat_meta_NN"),
                Row("GetImportedKeys, one table (raw)", "a random lat_meta_NN"),
            ]
            for row, op in zip(parts, (gt, pk, fk)):
                rows.append(time_row(row, n, op, None, server)); log_row(row)

            def browse():
                gt(); pk(); fk()

            row = Row("JDBC-style browse: the three calls above in a row",
                      "the three calls above in a row (each GetFlightInfo + DoGet)")
            rows.append(time_row(row, n, browse, None, server)); log_row(row)

        if "objects_all" in wanted:
            row = Row('adbc_get_objects(depth="all") (tables and columns)',
                      f"db_schema_filter={schema!r} on both sides")
            rows.append(time_row(
                row, max(5, n // 4),
                lambda: c.fconn.adbc_get_objects(depth="all", db_schema_filter=schema).read_all(),
                lambda: c.pconn.adbc_get_objects(depth="all", db_schema_filter=schema).read_all(),
                server)); log_row(row)

        if "executions" in wanted:
            k = sizes["executions"]
            ecur_f, ecur_p = c.fconn.cursor(), c.pconn.cursor()
            fsql, psql = point_sql(schema, "?"), point_sql(schema, "$1")
            totals = {}
            for side, cur, sql in (("flight", ecur_f, fsql), ("direct", ecur_p, psql)):
                cur.execute(sql, (1,)); fetch_one(cur)  # prepare outside the clock
                if side == "flight":
                    server.reset_statements()
                before = server.cpu() if side == "flight" else None
                lat = []
                t0 = time.perf_counter()
                for _ in range(k):
                    s = time.perf_counter()
                    cur.execute(sql, (rng.randint(1, ROWS),))
                    fetch_one(cur)
                    lat.append(time.perf_counter() - s)
                totals[side] = (time.perf_counter() - t0, lat)
                if before:
                    after = server.cpu()
                    extra_cpu = (after[0] - before[0]) / k * 1e3
                    extra_pg = None if before[1] is None else (after[1] - before[1]) / k * 1e3
                    extra_st = {kk: v / k for kk, v in server.statements().items()}
                    extra["top_statements"] = server.top_statements()
            ecur_f.close(); ecur_p.close()
            row = Row(f"prepared statement executed {k:,} times (per execution)",
                      "one prepare, then bind + execute + fetch with a new id each time; totals below",
                      flight=totals["flight"][1], direct=totals["direct"][1],
                      flight_cpu_ms=extra_cpu, pg_cpu_ms=extra_pg, statements=extra_st)
            rows.append(row); log_row(row)
            extra["executions"] = {"count": k, "flight_total_s": totals["flight"][0],
                                   "direct_total_s": totals["direct"][0]}
            print(f"    total: pgflight {totals['flight'][0]:.2f}s, direct {totals['direct'][0]:.2f}s", flush=True)
    finally:
        fcur.close(); pcur.close()

    if "concurrent" in wanted:
        secs = sizes["seconds"]
        res = {side: concurrent_side(side, uri, sql, secs, server, "pgflight_cores" if side != "direct" else None,
                                     "direct" if side == "direct" else "pgflight")
               for side, uri, sql in (("flight", flight_uri, point_sql(schema, "?")),
                                      ("flight_raw", flight_uri, point_sql(schema, "?")),
                                      ("direct", dsn, point_sql(schema, "$1")))}
        extra["concurrent"] = {"clients": CLIENTS, "seconds": secs, **res}
    if floor:
        floor_rows(args, floor, sizes, wanted, rows, extra, dsn)
    return rows, extra


def concurrent_side(side: str, uri: str, sql: str, secs: float, server: ServerSide, server_key: str | None,
                    target: str) -> dict:
    """One side of a 16-client row; `server_key` names the server's CPU in cores (None: not reported)."""
    print(f"  {CLIENTS} client processes, {side} to {target}, {secs:.0f}s ...", end=" ", flush=True)
    qps, lat, client_cores, (server_cores, busy_cores) = run_concurrent(
        side, uri, sql, CLIENTS, secs, lambda: [server.cpu()[0], throughput.system_busy()])
    res = {"qps": qps, "p50_ms": pct(lat, 50) * 1e3, "p95_ms": pct(lat, 95) * 1e3, "queries": len(lat),
           "client_cores": client_cores, "machine_busy_cores": busy_cores}
    if server_key:
        res[server_key] = server_cores
    print(f"{qps:,.0f} queries/s", flush=True)
    return res


# ------------------------------------------------------------------------------------------
# The client floor: the same clients against a server that does no work (bench/floor)
# ------------------------------------------------------------------------------------------

FLOOR_DIR = Path(__file__).resolve().parent / "floor"


def build_floor(workdir: Path) -> Path | None:
    """`go build` of bench/floor (the null server and the arrow-go client) into the temp dir;
    None, said why, when Go is missing or the build fails: the floor rows are then skipped."""
    go = shutil.which("go")
    if not go:
        print("latency: no `go` on PATH: skipping the client floor and arrow-go rows"
              " (bench/floor is a Go module; see tests/go/go.mod for the version)", flush=True)
        return None
    out = workdir / "floor"
    print("latency: go build bench/floor ...", end=" ", flush=True)
    t0 = time.monotonic()
    built = subprocess.run([go, "build", "-o", str(out), "."], cwd=FLOOR_DIR, capture_output=True, text=True)
    if built.returncode != 0:
        print(f"failed, skipping the client floor and arrow-go rows:\n{built.stderr[-3000:]}", flush=True)
        return None
    print(f"{time.monotonic() - t0:.1f}s", flush=True)
    return out


class NullServer:
    """`floor nullserver`: a Flight SQL server answering every call from precomputed results."""

    def __init__(self, tool: Path, workdir: Path):
        logpath = workdir / "nullserver.log"
        with open(logpath, "ab") as log:
            self.proc = subprocess.Popen([str(tool), "nullserver"], stdout=subprocess.PIPE, stderr=log, cwd=workdir,
                                         start_new_session=True, preexec_fn=throughput._die_with_parent)
        throughput._CLEANUPS.append(lambda: throughput.stop_process(self.proc, "null server"))
        port = self.proc.stdout.readline().strip()  # printed once it listens
        if not port.isdigit():
            sys.exit(f"latency: the null server did not start:\n{logpath.read_text()[-3000:]}")
        self.addr = f"127.0.0.1:{int(port)}"
        print(f"latency: null Flight SQL server pid {self.proc.pid} on {self.addr}", flush=True)


@dataclass
class Floor:
    tool: Path  # the bench/floor binary
    null: NullServer
    clients: Clients  # ADBC Flight SQL and pyarrow.flight to the null server, ADBC PostgreSQL direct
    side: ServerSide  # the null server's CPU
    pgflight_addr: str  # for the arrow-go client against pgflight
    pgflight_side: ServerSide


class GoClient:
    """`floor goclient -steps` against a Flight SQL server: the prepared point query through
    arrow-go (no cgo), executed once per request; it times each execution itself (the pipe
    round trip to this process is outside its clock) and answers its own CPU."""

    def __init__(self, tool: Path, addr: str, schema: str):
        self.proc = subprocess.Popen([str(tool), "goclient", "-steps", "-addr", addr, "-ids", str(ROWS),
                                      "-sql", point_sql(schema, "?")], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, preexec_fn=throughput._die_with_parent)
        self.last: float | None = None

    def _ask(self, line: str) -> int:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline()
        if not answer.strip().isdigit():
            self.proc.wait(timeout=10)
            raise RuntimeError(f"floor goclient exited with {self.proc.returncode} (its error is above)")
        return int(answer)

    def execute(self) -> None:
        self.last = self._ask("x") / 1e9

    def cpu(self) -> float:
        return self._ask("cpu") / 1e9

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.proc.stdin.close()
        throughput.stop_process(self.proc, "floor goclient", timeout=10)


def floor_rows(args, floor: Floor, sizes: dict, wanted: set[str], rows: list[Row], extra: dict, dsn: str) -> None:
    """The floor rows: the pgflight rows' client code against the null server (ratio = floor /
    direct), and the arrow-go client against pgflight and the null server."""
    rng = random.Random(4242)
    n = sizes["samples"]
    schema = args.schema
    c, null = floor.clients, floor.side
    fsql, psql = point_sql(schema, "?"), point_sql(schema, "$1")
    fcur, pcur = c.fconn.cursor(), c.pconn.cursor()
    try:
        if "floor_prepared" in wanted:
            row = Row("client floor: the prepared point query, ADBC (null server)",
                      "the prepared row's ADBC code against the null server", key="floor_prepared")
            rows.append(time_row(row, n, lambda: point_query(fcur, fsql, rng), lambda: point_query(pcur, psql, rng),
                                 null)); log_row(row)
        if "floor_prepared_raw" in wanted:
            raw = c.prepare(fsql)
            row = Row("client floor: the same, raw pyarrow.flight (null server)",
                      "the prepared_raw row's pyarrow.flight code against the null server", key="floor_prepared_raw")
            rows.append(time_row(row, n, lambda: point_query(raw, "", rng), lambda: point_query(pcur, psql, rng),
                                 null)); log_row(row)
        if "floor_literal" in wanted:
            lcur_f, lcur_p = c.fconn.cursor(), c.pconn.cursor()
            row = Row("client floor: the literal point query, ADBC (null server)",
                      "the literal row's ADBC code against the null server", key="floor_literal")
            rows.append(time_row(row, n, lambda: literal_query(lcur_f, schema, rng),
                                 lambda: literal_query(lcur_p, schema, rng), null)); log_row(row)
            lcur_f.close(); lcur_p.close()
        if "floor_select1" in wanted:
            scur_f, scur_p = c.fconn.cursor(), c.pconn.cursor()
            row = Row("client floor: SELECT 1, ADBC (null server)", "the SELECT 1 row's ADBC code against the null server",
                      key="floor_select1")
            rows.append(time_row(row, n, lambda: execute_unprepared(scur_f, "SELECT 1"),
                                 lambda: execute_unprepared(scur_p, "SELECT 1"), null)); log_row(row)
            scur_f.close(); scur_p.close()
        if "floor_objects" in wanted:
            row = Row('client floor: adbc_get_objects(depth="tables"), ADBC (null server)',
                      "the objects row's ADBC code against the null server's 51 precomputed tables", key="floor_objects")
            rows.append(time_row(row, n, lambda: objects_tables(c.fconn, schema), lambda: objects_tables(c.pconn, schema),
                                 null)); log_row(row)
        for key, name, addr, side in (("go_prepared", "arrow-go client (no cgo): the prepared point query, pgflight",
                                       floor.pgflight_addr, floor.pgflight_side),
                                      ("go_floor", "client floor: the same arrow-go client (null server)",
                                       floor.null.addr, null)):
            if key in wanted:
                row = Row(name, "floor goclient: arrow-go flightsql, prepared once, DoPut + GetFlightInfo + DoGet",
                          key=key)
                go = GoClient(floor.tool, addr, schema)
                try:
                    rows.append(time_row(row, n, go.execute, lambda: point_query(pcur, psql, rng), side, client=go))
                finally:
                    go.close()
                log_row(row)
    finally:
        fcur.close(); pcur.close()

    if "floor_concurrent" in wanted:
        secs = sizes["seconds"]
        uri = f"grpc://{floor.null.addr}"
        res = {side: concurrent_side(side, uri, fsql, secs, null, "null_server_cores", "the null server")
               for side in ("flight", "flight_raw")}
        measured = extra.get("concurrent", {}).get("direct")
        res["direct"] = measured or concurrent_side("direct", dsn, psql, secs, null, None, "direct")
        extra["floor_concurrent"] = {"clients": CLIENTS, "seconds": secs, **res}


# ------------------------------------------------------------------------------------------
# Reporting
# ------------------------------------------------------------------------------------------


def report(rows: list[Row], extra: dict, n: int) -> tuple[str, dict]:
    lines = ["", f"latency, milliseconds ({n} samples a row unless said; ratio = pgflight / direct,"
                 " > 1 means pgflight is slower)"]
    hdr = (f"  {'what':<62} {'pgflight p50':>12} {'p95':>8} {'direct p50':>10} {'p95':>8} {'ratio p50':>9}"
           f" {'p95':>6} {'pgflight cpu':>12} {'pg cpu':>7} {'client cpu':>10} {'direct client':>13}"
           f"  pgflight's statements to PostgreSQL / op")
    lines.append(hdr)
    summary: dict = {"rows": []}
    for r in rows:
        fp50, fp95 = pct(r.flight, 50) * 1e3, pct(r.flight, 95) * 1e3
        if r.direct:
            dp50, dp95 = pct(r.direct, 50) * 1e3, pct(r.direct, 95) * 1e3
            d = f"{dp50:10.2f} {dp95:8.2f} {fp50 / dp50:8.1f}x {fp95 / dp95:5.1f}x"
        else:
            dp50 = dp95 = None
            d = f"{'':>10} {'':>8} {'':>9} {'':>6}"
        st = ", ".join(f"{k} {v:.1f}" for k, v in sorted(r.statements.items())) or "-"
        pg = "-" if r.pg_cpu_ms is None else f"{r.pg_cpu_ms:5.2f}ms"
        cc = "-" if r.client_cpu_ms is None else f"{r.client_cpu_ms:5.2f}ms"
        dc = "-" if r.direct_client_cpu_ms is None else f"{r.direct_client_cpu_ms:5.2f}ms"
        lines.append(f"  {r.name:<62} {fp50:12.2f} {fp95:8.2f} {d} {r.flight_cpu_ms:10.2f}ms {pg:>7} {cc:>10} {dc:>13}  {st}")
        summary["rows"].append({"name": r.name, "what": r.what, "samples": len(r.flight),
                                "pgflight_p50_ms": fp50, "pgflight_p95_ms": fp95,
                                "direct_p50_ms": dp50, "direct_p95_ms": dp95,
                                "pgflight_cpu_ms_per_op": r.flight_cpu_ms, "postgres_cpu_ms_per_op": r.pg_cpu_ms,
                                "client_cpu_ms_per_op": r.client_cpu_ms,
                                "direct_client_cpu_ms_per_op": r.direct_client_cpu_ms,
                                "statements_per_op": r.statements})
    if "executions" in extra:
        e = extra["executions"]
        lines.append(f"  prepared statement executed {e['count']:,} times: pgflight {e['flight_total_s']:.2f} s total"
                     f" ({e['flight_total_s'] / e['count'] * 1e3:.2f} ms each), direct {e['direct_total_s']:.2f} s"
                     f" ({e['direct_total_s'] / e['count'] * 1e3:.2f} ms each),"
                     f" ratio {e['flight_total_s'] / e['direct_total_s']:.1f}x")
    if "concurrent" in extra:
        lines += concurrent_lines(extra["concurrent"], "pgflight", "pgflight_cores")
    if "floor_concurrent" in extra:
        lines += concurrent_lines(extra["floor_concurrent"], "null server", "null_server_cores")
    if extra.get("top_statements"):
        lines.append("  pgflight's statements during the prepared executions (calls, pg_stat_statements):")
        for calls, q in extra["top_statements"]:
            lines.append(f"    {calls:6d}  {q}")
    lines.append("  pgflight cpu = CPU of the pgflight process per operation; pg cpu = CPU of PostgreSQL minus"
                 " the direct driver's backend, per pgflight operation (10 ms clock ticks, summed over the"
                 " samples); client cpu = CPU of this benchmark process (the client driver and Python) per"
                 " operation, pgflight's side and direct's side; statements = pg_stat_statements calls by pgflight's role per operation, by"
                 " first word (Parse/Describe-only round trips are not calls).")
    if any(r.key.startswith(("floor", "go_")) for r in rows) or "floor_concurrent" in extra:
        lines.append("  client floor rows: the same client code against bench/floor's null server (precomputed answers,"
                     " no work), so their 'pgflight' columns are the null server's and their ratio is floor / direct;"
                     " arrow-go rows: `floor goclient` (Go, no cgo), its own CPU in the client cpu column.")
        reach, summary["reach"] = reach_summary(rows, extra)
        lines += reach
    summary.update(extra)
    return "\n".join(lines), summary


def concurrent_lines(cc: dict, server: str, server_key: str) -> list[str]:
    f, r, d = cc["flight"], cc["flight_raw"], cc["direct"]
    lines = [f"  {cc['clients']} client processes, prepared point queries for {cc['seconds']:.0f} s each side:"
             f" {server}/direct = {f['qps'] / d['qps']:.2f}x queries per second with ADBC Flight SQL,"
             f" {r['qps'] / d['qps']:.2f}x with pyarrow.flight"]
    for label, x in (("ADBC", f), ("pyarrow", r), ("direct", d)):
        server_cpu = f", {server} {x[server_key]:.2f}" if server_key in x else ""
        lines.append(f"    {label:<8} {x['qps']:8,.0f} queries/s  p50 {x['p50_ms']:7.1f} ms  p95 {x['p95_ms']:7.1f} ms"
                     f"  cpu cores: clients {x['client_cores']:.2f}{server_cpu}, whole machine"
                     f" {x['machine_busy_cores']:.2f} of {os.cpu_count()}")
    return lines


# Issue 19's latency targets: (what, percentile, at most this many times direct, [(client, floor row, pgflight row)])
PREPARED_CLIENTS = [("ADBC Flight SQL", "floor_prepared", "prepared"),
                    ("pyarrow.flight", "floor_prepared_raw", "prepared_raw"),
                    ("arrow-go (no cgo)", "go_floor", "go_prepared")]
LATENCY_TARGETS = [("prepared point query p50 <= 2x direct", 50, 2.0, PREPARED_CLIENTS),
                   ("prepared point query p95 <= 3x direct", 95, 3.0, PREPARED_CLIENTS),
                   ('adbc_get_objects(depth="tables") p50 <= 2x direct', 50, 2.0,
                    [("ADBC Flight SQL", "floor_objects", "objects")])]
QPS_TARGET = 0.5  # 16 clients: at least half of direct's queries per second


def reach_summary(rows: list[Row], extra: dict) -> tuple[list[str], list[dict]]:
    """For each target of issue 19 and each client, the best any server could do with that
    client (the null server's figure against direct, measured in the same row) and, when the
    pgflight row ran too, where pgflight is."""
    by_key = {r.key: r for r in rows if r.key}
    lines = ["", "what a server can reach (issue 19's targets; floor = the null server with the same client,"
                 " budget = what a server may add to the floor and still meet the target):"]
    out = []
    for what, p, limit, clients in LATENCY_TARGETS:
        measured = [(client, by_key[fk], pk) for client, fk, pk in clients if fk in by_key and by_key[fk].direct]
        if measured:
            lines.append(f"  {what}:")
        for client, fl, pgflight_key in measured:
            f, d = pct(fl.flight, p) * 1e3, pct(fl.direct, p) * 1e3
            budget = limit * d - f
            verdict = (f"reachable: a server may add {budget:.2f} ms" if budget > 0
                       else f"OUT OF REACH: the client alone is {f / d:.2f}x")
            pg = by_key.get(pgflight_key)
            pgr = pct(pg.flight, p) / pct(pg.direct, p) if pg and pg.direct else None
            now = f"; pgflight {pgr:.2f}x" if pgr is not None else ""
            lines.append(f"    {client:<18} floor p{p} {f:6.2f} ms vs direct {d:6.2f} ms = {f / d:5.2f}x"
                         f" (target {limit:.0f}x = {limit * d:.2f} ms): {verdict}{now}")
            out.append({"target": what, "client": client, "floor_ms": f, "direct_ms": d, "floor_ratio": f / d,
                        "budget_ms": budget, "pgflight_ratio": pgr})
    fc = extra.get("floor_concurrent")
    if fc:
        cc = extra.get("concurrent")
        lines.append(f"  {fc['clients']} clients >= {QPS_TARGET}x direct's queries per second:")
        for client, side in (("ADBC Flight SQL", "flight"), ("pyarrow.flight", "flight_raw")):
            ratio = fc[side]["qps"] / fc["direct"]["qps"]
            verdict = "reachable" if ratio >= QPS_TARGET else "OUT OF REACH"
            pgr = cc[side]["qps"] / cc["direct"]["qps"] if cc else None
            now = f"; pgflight {pgr:.2f}x" if pgr is not None else ""
            lines.append(f"    {client:<18} floor {fc[side]['qps']:7,.0f} q/s vs direct {fc['direct']['qps']:7,.0f} q/s"
                         f" = {ratio:5.2f}x: {verdict}{now}")
            out.append({"target": f"{fc['clients']} clients qps", "client": client, "floor_ratio": ratio,
                        "pgflight_ratio": pgr})
    return lines, out


# ------------------------------------------------------------------------------------------
# main
# ------------------------------------------------------------------------------------------


def start_perf(args, pid: int, workdir: Path) -> subprocess.Popen:
    perf = shutil.which("perf")
    if not perf:
        sys.exit("latency: --perf needs perf (Debian: apt-get install linux-perf)")
    log = open(workdir / "perf.log", "ab")
    proc = subprocess.Popen([perf, "record", *shlex.split(args.perf_args), "-p", str(pid), "-o", args.perf],
                            stdout=log, stderr=log, preexec_fn=throughput._die_with_parent)
    log.close()
    throughput._CLEANUPS.append(lambda: throughput.stop_process(proc, "perf", signal.SIGINT))
    time.sleep(0.5)
    if proc.poll() is not None:
        sys.exit(f"latency: perf record exited: {(workdir / 'perf.log').read_text()[-2000:]}")
    print(f"latency: perf record on pgflight pid {pid} into {args.perf}", flush=True)
    return proc


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help=f"{QUICK['samples']} samples a row, {QUICK['executions']} executions,"
                        f" {QUICK['seconds']:.0f}s per concurrency side (under a minute on a release build)")
    p.add_argument("--samples", type=int, help=f"samples per latency row (default {FULL['samples']})")
    p.add_argument("--executions", type=int, help=f"executions of the prepared statement (default {FULL['executions']})")
    p.add_argument("--seconds", type=float, help=f"seconds per side of the concurrency row (default {FULL['seconds']:.0f})")
    p.add_argument("--rows", help=f"run a subset, comma-separated: {','.join(ROW_NAMES)}")
    p.add_argument("--dsn", help="use this PostgreSQL (postgresql://user[:pw]@host:port/db) instead of starting one")
    p.add_argument("--keep", metavar="DIR", help="keep the throwaway cluster in DIR (reused by the next run)")
    p.add_argument("--schema", default="public", help="schema of the benchmark tables (default public)")
    p.add_argument("--pg-bin", help="PostgreSQL server binaries (default: /usr/lib/postgresql/<newest>/bin)")
    p.add_argument("--pgflight", help="pgflight binary (default $PGFLIGHT_BIN, else $CARGO_TARGET_DIR or"
                                      " target/ + release/pgflight)")
    p.add_argument("--no-build", action="store_true", help="do not run cargo build --release when it is missing")
    p.add_argument("--pgflight-env", action="append", default=[], metavar="KEY=VALUE",
                   help="extra environment for pgflight (repeatable)")
    p.add_argument("--pause", action="store_true",
                   help="print the pids and wait for Enter before measuring (to attach perf)")
    p.add_argument("--perf", metavar="PATH",
                   help="record a profile of the pgflight process while measuring: `perf record"
                        " <--perf-args> -p <pid> -o PATH`; read it with `perf report -i PATH`")
    p.add_argument("--perf-args", default="-F 999 -g", help="perf record options (default: -F 999 -g)")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, throughput._on_signal)
    atexit.register(throughput._run_cleanups)
    try:
        return _main(args)
    except throughput.Interrupted as err:
        print(f"\nlatency: interrupted ({err}); stopping what it started", file=sys.stderr)
        return 130
    finally:
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(s, signal.SIG_IGN)
        throughput._run_cleanups()


def start_floor(args, workdir: Path, dsn: str, server: ServerSide, pgflight_port: int) -> Floor | None:
    """Builds bench/floor and starts the null server when a floor row is wanted and Go is there."""
    if not set(args.rows.split(",") if args.rows else ROW_NAMES) & set(FLOOR_ROWS):
        return None
    tool = build_floor(workdir)
    if tool is None:
        return None
    null = NullServer(tool, workdir)
    clients = Clients(f"grpc://{null.addr}", dsn, args.schema)
    throughput._CLEANUPS.append(clients.close)
    server.direct_backends.add(clients.direct_backend_pid())
    return Floor(tool, null, clients, ServerSide(null.proc.pid, throughput.PgCpu(None), None),
                 f"127.0.0.1:{pgflight_port}", server)


def _main(args) -> int:
    sizes = dict(QUICK if args.quick else FULL)
    for k in ("samples", "executions", "seconds"):
        if getattr(args, k):
            sizes[k] = getattr(args, k)
    if args.rows:
        unknown = set(args.rows.split(",")) - set(ROW_NAMES)
        if unknown:
            sys.exit(f"latency: unknown rows {sorted(unknown)} ({', '.join(ROW_NAMES)})")
    binary = find_binary(args.pgflight, not args.no_build)

    workdir = Path(tempfile.mkdtemp(prefix="pgflight-latency-"))
    throughput._CLEANUPS.append(lambda: shutil.rmtree(workdir, ignore_errors=True))
    pg_bin = None
    pgcpu = throughput.PgCpu(None)
    if args.dsn:
        if args.keep:
            sys.exit("latency: --keep and --dsn exclude each other")
        dsn = args.dsn
    else:
        pg_bin = throughput.find_pg_bin(args.pg_bin)
        if args.keep:
            datadir = Path(args.keep).resolve()
        else:
            datadir = workdir / "pgdata"
            workdir.chmod(0o755)
        if (pg_bin.parent / "lib" / "pg_stat_statements.so").exists():
            throughput.PG_SETTINGS.update({"shared_preload_libraries": "pg_stat_statements",
                                           "pg_stat_statements.track": "top"})
        cluster = throughput.Cluster(pg_bin, datadir, throughput.free_port())
        if not cluster.initialized():
            cluster.init()
        cluster.start()
        pgcpu = throughput.PgCpu(cluster.proc.pid)
        admin = throughput.Psql(throughput.find_psql(pg_bin), cluster.dsn, {})
        if admin.query("SELECT count(*) FROM pg_database WHERE datname = 'latency'") == "0":
            admin.query("CREATE DATABASE latency")
        dsn = cluster.dsn.replace("/bench?", "/latency?")

    psql_env = {k: v for k, v in os.environ.items()
                if not k.startswith("PG") or k in ("PGPASSWORD", "PGPASSFILE")}
    sql = throughput.Psql(throughput.find_psql(pg_bin), dsn, psql_env)
    print("latency: server " + sql.query("SELECT version()"), flush=True)
    ensure_data(sql, args.schema)
    pgflight_dsn, admin = dsn, None
    if not args.dsn:
        # pgflight logs in as a role of its own, so pg_stat_statements tells its statements apart
        sql.script(
            f"DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{PGFLIGHT_ROLE}') THEN"
            f" CREATE ROLE {PGFLIGHT_ROLE} LOGIN; END IF; END$$;\n"
            f"GRANT USAGE ON SCHEMA {args.schema} TO {PGFLIGHT_ROLE};\n"
            f"GRANT SELECT ON ALL TABLES IN SCHEMA {args.schema} TO {PGFLIGHT_ROLE};\n")
        pgflight_dsn = dsn.replace("://postgres@", f"://{PGFLIGHT_ROLE}@")
        if "pg_stat_statements" in sql.query("SHOW shared_preload_libraries"):
            sql.query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            admin = sql
        else:
            print("latency: no pg_stat_statements: the statements column stays empty", flush=True)

    # As many PostgreSQL connections as the direct side opens for the 16-client row.
    extra_env = {"PGFLIGHT_MAX_CONNECTIONS": str(CLIENTS)}
    extra_env.update(kv.split("=", 1) for kv in args.pgflight_env)
    pgf = throughput.Pgflight(binary, pgflight_dsn, None, workdir, extra_env)
    pgf.start()
    debug = "debug" in binary.parts
    if debug:
        print("latency: NOTE: this is a debug build; its numbers are a smoke test only", flush=True)
    flight_uri = f"grpc://127.0.0.1:{pgf.port}"

    clients = Clients(flight_uri, dsn, args.schema)
    throughput._CLEANUPS.append(clients.close)
    server = ServerSide(pgf.pid, pgcpu, admin)
    server.direct_backends.add(clients.direct_backend_pid())
    floor = start_floor(args, workdir, dsn, server, pgf.port)

    if args.pause:
        print(f"latency: pids: bench {os.getpid()}, pgflight {pgf.pid}, postmaster {pgcpu.pid or '-'};"
              " press Enter to measure", flush=True)
        input()
    print(f"latency: load average {' '.join(Path('/proc/loadavg').read_text().split()[:3])}"
          f" on {os.cpu_count()} CPUs", flush=True)
    perf = start_perf(args, pgf.pid, workdir) if args.perf else None
    t0 = time.monotonic()
    rows, extra = measure_all(args, clients, server, sizes, flight_uri, dsn, floor)
    if perf:
        throughput.stop_process(perf, "perf", signal.SIGINT, timeout=120)
        print(f"latency: profile of pgflight in {args.perf}: perf report -i {args.perf} --no-children"
              " --sort dso,sym", flush=True)
    text, summary = report(rows, extra, sizes["samples"])
    if debug:
        text = "\n(DEBUG BUILD: not representative)" + text
    print(text)
    print(f"latency: measured in {time.monotonic() - t0:.0f}s")
    if args.json:
        summary["args"] = vars(args)
        summary["pgflight"] = str(binary)
        Path(args.json).write_text(json.dumps(summary, indent=2))
        print(f"latency: results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
