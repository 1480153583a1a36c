#!/usr/bin/env python3
"""pgflight throughput benchmark (a benchmark, not a test).

Compares, on the same PostgreSQL and the same tables, three ways of getting a whole table out:

  pgflight   Flight DoGet through a running `pgflight serve`, read with pyarrow.flight
  raw COPY   `psql -c "COPY (SELECT * FROM t) TO STDOUT (FORMAT binary)"` > /dev/null
  ADBC       adbc_driver_postgresql: cursor.execute("SELECT * FROM t") into Arrow

Two tables: `wide` (bigint, int, float8, text ~20 chars, timestamptz, bool, numeric(12,2),
date) and `narrow` (bigint, int). Methods alternate within each round; each gets --rounds runs
and the best and the median are reported, with rows/s, MB/s (bytes of the COPY binary stream,
the same payload for every method), CPU seconds of the client, of pgflight and of PostgreSQL per
run, and the peak RSS of the pgflight server (VmHWM) and of this client.

By default it starts its own throwaway PostgreSQL cluster (127.0.0.1 only, tuned for
benchmarking) and removes it on exit; `--keep DIR` keeps the cluster (and its loaded tables) in
DIR for the next run; `--dsn URL` uses an existing server instead. See bench/README.md.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import ctypes
import json
import os
import pwd
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

FULL_ROWS = {"wide": 5_000_000, "narrow": 20_000_000}
QUICK_ROWS = {"wide": 500_000, "narrow": 2_000_000}

TARGET_VS_COPY = 0.85
TARGET_VS_ADBC = 1.0
TARGET_SERVER_RSS_MIB = 300

METHODS = ("pgflight", "copy", "adbc", "sql-planned", "sql-passthrough")
METHOD_LABEL = {"pgflight": "pgflight DoGet", "copy": "raw COPY (psql)", "adbc": "ADBC PostgreSQL",
                "sql-planned": "SQL planned", "sql-passthrough": "SQL pass-through"}
# The default run: the extraction request, its two yardsticks. The SQL methods (--methods) read
# the same rows through Flight SQL: `SELECT * FROM t` (planned by DataFusion, answered by
# PostgreSQL alone) and `SELECT * FROM t WHERE id::bigint IS NOT NULL` (a `::` cast: passed
# through to PostgreSQL verbatim), to show both paths stream at the same rate.
DEFAULT_METHODS = ("pgflight", "copy", "adbc")

# Settings of the throwaway cluster: durability off, enough memory, no background noise.
PG_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "shared_buffers": "1GB",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "wal_level": "minimal",
    "max_wal_senders": "0",
    "max_wal_size": "8GB",
    "checkpoint_timeout": "1h",
    "autovacuum": "off",
    "maintenance_work_mem": "512MB",
    "work_mem": "64MB",
    "effective_cache_size": "8GB",
    "jit": "off",
    "max_connections": "50",
    "logging_collector": "off",
    "log_min_messages": "warning",
    "track_io_timing": "off",
}

WIDE_SQL = """
CREATE TABLE {name} (
    id      bigint,
    n       int,
    f       float8,
    t       text,
    ts      timestamptz,
    b       bool,
    amount  numeric(12,2),
    d       date
);
INSERT INTO {name}
SELECT i,
       (i * 7919 % 1000003)::int,
       (i % 100003) * 1.0001::float8 / 7,
       substr(md5(i::text), 1, 16 + (i % 9)::int),
       timestamptz '2020-01-01 00:00:00+00' + i * interval '1 second',
       i % 3 = 0,
       ((i * 104729) % 1000000000) / 100.0,
       date '2000-01-01' + (i % 10000)::int
FROM generate_series(1, {rows}::bigint) AS i;
"""

NARROW_SQL = """
CREATE TABLE {name} (id bigint, v int);
INSERT INTO {name} SELECT i, (i * 7919 % 1000003)::int FROM generate_series(1, {rows}::bigint) AS i;
"""


# ------------------------------------------------------------------------------------------
# Process bookkeeping: everything started here is stopped on exit, Ctrl-C or SIGTERM.
# ------------------------------------------------------------------------------------------

_CLEANUPS: list = []  # callables, run last-in first-out
_CLEANED = False


def _run_cleanups() -> None:
    global _CLEANED
    if _CLEANED:
        return
    _CLEANED = True
    while _CLEANUPS:
        fn = _CLEANUPS.pop()
        try:
            fn()
        except Exception as err:  # keep cleaning up the rest
            print(f"bench: cleanup step failed: {err}", file=sys.stderr)


class Interrupted(Exception):
    pass


def _on_signal(signum, _frame):
    raise Interrupted(f"signal {signal.Signals(signum).name}")


def _die_with_parent():
    """preexec_fn: the child gets SIGTERM if this script dies without cleaning up (SIGKILL)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def stop_process(proc: subprocess.Popen, name: str, sig=signal.SIGTERM, timeout=30.0) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        print(f"bench: {name} (pid {proc.pid}) did not stop in {timeout:.0f}s; killing it", file=sys.stderr)
        proc.kill()
        proc.wait()


# ------------------------------------------------------------------------------------------
# /proc helpers
# ------------------------------------------------------------------------------------------

CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name is in parentheses and may contain spaces
    return raw[raw.rindex(")") + 2 :].split()


def proc_cpu(pid: int, children: bool = False) -> float:
    """utime+stime of pid in seconds (plus cutime+cstime of its reaped children if asked)."""
    f = proc_stat(pid)
    if f is None:
        return 0.0
    # after the ")": state=0 ppid=1 ... utime=11 stime=12 cutime=13 cstime=14
    ticks = int(f[11]) + int(f[12])
    if children:
        ticks += int(f[13]) + int(f[14])
    return ticks / CLK_TCK


def child_pids(pid: int) -> set[int]:
    out = set()
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError):
                out.update(int(c) for c in Path(f"/proc/{pid}/task/{tid}/children").read_text().split())
    except OSError:
        pass
    return out


def proc_status_kib(pid: int | str, key: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


CLIENT_PEAK_KIB = 0  # this process's peak RSS over the whole run (VmHWM is reset per run)


def reset_peak_rss(pid: int | str) -> bool:
    """Resets VmHWM to the current RSS (Linux >= 4.0, same user or root)."""
    global CLIENT_PEAK_KIB
    if pid == "self":
        CLIENT_PEAK_KIB = max(CLIENT_PEAK_KIB, proc_status_kib("self", "VmHWM") or 0)
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def system_busy() -> float:
    """CPU seconds all processes of the machine have spent busy (user, nice, system, irq,
    softirq, steal), from /proc/stat."""
    f = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in f[:8])
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


class PgCpu:
    """CPU seconds spent by a PostgreSQL cluster we started: the postmaster, its live children
    (backends, background processes) and the children it has already reaped."""

    def __init__(self, postmaster_pid: int | None):
        self.pid = postmaster_pid

    def sample(self) -> float | None:
        if self.pid is None:
            return None
        total = proc_cpu(self.pid, children=True)
        for c in child_pids(self.pid):
            total += proc_cpu(c)
        return total

    def settle(self, before: set[int], timeout: float = 3.0) -> None:
        """Waits until backends that appeared after `before` are gone (so reaped into cutime)."""
        if self.pid is None:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not (child_pids(self.pid) - before):
                return
            time.sleep(0.01)

    def children(self) -> set[int]:
        return child_pids(self.pid) if self.pid is not None else set()


# ------------------------------------------------------------------------------------------
# PostgreSQL
# ------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def find_pg_bin(explicit: str | None) -> Path:
    candidates = [explicit] if explicit else []
    candidates += [os.environ.get("PG_BIN")]
    with contextlib.suppress(Exception):
        candidates.append(subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True).stdout.strip())
    candidates += sorted((str(p) for p in Path("/usr/lib/postgresql").glob("*/bin")), reverse=True)
    for c in candidates:
        if c and (Path(c) / "initdb").exists() and (Path(c) / "postgres").exists():
            return Path(c)
    sys.exit("bench: no PostgreSQL server binaries found (initdb, postgres); use --pg-bin DIR")


def find_psql(pg_bin: Path | None) -> str:
    if pg_bin and (pg_bin / "psql").exists():
        return str(pg_bin / "psql")
    found = shutil.which("psql")
    if not found:
        sys.exit("bench: psql not found (needed for the raw COPY baseline)")
    return found


class Cluster:
    """A throwaway PostgreSQL cluster, run as the `postgres` OS user when this script is root."""

    def __init__(self, pg_bin: Path, datadir: Path, port: int):
        self.pg_bin = pg_bin
        self.datadir = datadir
        self.port = port
        self.proc: subprocess.Popen | None = None
        self.user_kw: dict = {}
        self.owner_uid = os.getuid()
        self.owner_gid = os.getgid()
        if os.geteuid() == 0:
            try:
                pw = pwd.getpwnam("postgres")
            except KeyError:
                sys.exit("bench: running as root needs an OS user `postgres` to run PostgreSQL")
            self.user_kw = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
            self.owner_uid, self.owner_gid = pw.pw_uid, pw.pw_gid

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/bench?sslmode=disable"

    def _run(self, args: list[str], **kw) -> subprocess.CompletedProcess:
        return subprocess.run(args, check=True, cwd="/", **self.user_kw, **kw)

    def initialized(self) -> bool:
        return (self.datadir / "PG_VERSION").exists()

    def init(self) -> None:
        self.datadir.mkdir(parents=True, exist_ok=True)
        os.chown(self.datadir, self.owner_uid, self.owner_gid)
        os.chmod(self.datadir, 0o700)
        print(f"bench: initdb {self.datadir}", flush=True)
        self._run(
            [str(self.pg_bin / "initdb"), "-D", str(self.datadir), "-U", "postgres",
             "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync"],
            stdout=subprocess.DEVNULL,
        )

    def start(self) -> None:
        pidfile = self.datadir / "postmaster.pid"
        if pidfile.exists():
            with contextlib.suppress(Exception):
                pid = int(pidfile.read_text().split()[0])
                if Path(f"/proc/{pid}").exists():
                    sys.exit(f"bench: a PostgreSQL (pid {pid}) is already running on {self.datadir}")
        sockdir = self.datadir / "sock"
        sockdir.mkdir(exist_ok=True)
        os.chown(sockdir, self.owner_uid, self.owner_gid)
        args = [str(self.pg_bin / "postgres"), "-D", str(self.datadir), "-p", str(self.port),
                "-k", str(sockdir)]
        for k, v in PG_SETTINGS.items():
            args += ["-c", f"{k}={v}"]
        self.logpath = self.datadir / "bench-postgres.log"
        log = open(self.logpath, "ab")
        os.chown(self.logpath, self.owner_uid, self.owner_gid)
        self.proc = subprocess.Popen(args, stdout=log, stderr=log, cwd="/", start_new_session=True,
                                     preexec_fn=_die_with_parent, **self.user_kw)
        log.close()
        _CLEANUPS.append(self.stop)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                sys.exit(f"bench: postgres exited with {self.proc.returncode}; see {self.logpath}")
            ok = subprocess.run([str(self.pg_bin / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)])
            if ok.returncode == 0:
                break
            time.sleep(0.2)
        else:
            sys.exit(f"bench: postgres did not come up; see {self.logpath}")
        # the benchmark database
        probe = subprocess.run(
            [str(self.pg_bin / "psql"), "-X", "-q", "-At", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
             "-d", "postgres", "-c", "SELECT 1 FROM pg_database WHERE datname = 'bench'"],
            capture_output=True, text=True, check=True)
        if probe.stdout.strip() != "1":
            subprocess.run([str(self.pg_bin / "psql"), "-X", "-q", "-h", "127.0.0.1", "-p", str(self.port),
                            "-U", "postgres", "-d", "postgres", "-c", "CREATE DATABASE bench"], check=True)
        print(f"bench: PostgreSQL {self.pg_bin} pid {self.proc.pid} on 127.0.0.1:{self.port}", flush=True)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            # SIGINT = fast shutdown: abort sessions, write a shutdown checkpoint (so a kept
            # cluster restarts without recovery).
            stop_process(self.proc, "postgres", signal.SIGINT, timeout=120)


# ------------------------------------------------------------------------------------------
# SQL through psql
# ------------------------------------------------------------------------------------------


class Psql:
    def __init__(self, psql: str, dsn: str, env: dict):
        self.psql = psql
        self.dsn = dsn
        self.env = env

    def query(self, sql: str) -> str:
        r = subprocess.run([self.psql, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", self.dsn, "-c", sql],
                           capture_output=True, text=True, env=self.env)
        if r.returncode != 0:
            raise RuntimeError(f"psql failed: {r.stderr.strip()}\n  SQL: {sql[:200]}")
        return r.stdout.strip()

    def script(self, sql: str) -> None:
        r = subprocess.run([self.psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", self.dsn, "-1"],
                           input=sql, capture_output=True, text=True, env=self.env)
        if r.returncode != 0:
            raise RuntimeError(f"psql failed: {r.stderr.strip()}")


def ensure_table(psql: Psql, kind: str, rows: int, schema: str) -> str:
    """Creates `<schema>.<kind>_<rows>` unless it is already there with the right row count."""
    name = f"{kind}_{rows}"
    qualified = f"{schema}.{name}"
    have = psql.query(f"SELECT obj_description(to_regclass('{qualified}'), 'pg_class')")
    marker = f"pgflight-bench rows={rows} v1"
    if have == marker:
        print(f"bench: {qualified} already loaded ({rows:,} rows), reusing it", flush=True)
        return name
    print(f"bench: loading {qualified} ({rows:,} rows) ...", end=" ", flush=True)
    t0 = time.monotonic()
    template = WIDE_SQL if kind == "wide" else NARROW_SQL
    psql.script(
        f"CREATE SCHEMA IF NOT EXISTS {schema};\n"
        f"DROP TABLE IF EXISTS {qualified};\n"
        + template.format(name=qualified, rows=rows)
        + f"COMMENT ON TABLE {qualified} IS '{marker}';\n")
    t1 = time.monotonic()
    psql.query(f"VACUUM (FREEZE, ANALYZE) {qualified}")
    size = int(psql.query(f"SELECT pg_table_size('{qualified}')"))
    print(f"{t1 - t0:.1f}s load + {time.monotonic() - t1:.1f}s VACUUM ANALYZE, {size / 2**20:.0f} MiB", flush=True)
    return name


# ------------------------------------------------------------------------------------------
# pgflight
# ------------------------------------------------------------------------------------------


def find_pgflight(explicit: str | None, build: bool) -> Path:
    if explicit:
        p = Path(explicit)
        if not p.exists():
            sys.exit(f"bench: --pgflight {p} does not exist")
        return p
    target = Path(os.environ.get("CARGO_TARGET_DIR") or REPO / "target")
    if not target.is_absolute():
        target = REPO / target
    p = target / "release" / "pgflight"
    if not p.exists():
        if not build:
            sys.exit(f"bench: {p} does not exist; build it with `cargo build --release` or pass --pgflight")
        print(f"bench: {p} missing: cargo build --release (a cold build takes a while) ...", flush=True)
        subprocess.run(["cargo", "build", "--release", "--bin", "pgflight"], cwd=REPO, check=True,
                       env={**os.environ, "CARGO_TARGET_DIR": str(target)})
    return p


class Pgflight:
    def __init__(self, binary: Path, dsn: str, batch_size: int | None, workdir: Path, extra_env: dict):
        self.binary = binary
        self.port = free_port()
        self.workdir = workdir
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("PGFLIGHT_", "POSTGRES_", "PG")) or k in ("PGPASSWORD", "PGPASSFILE")}
        u = urllib.parse.urlsplit(dsn)
        q = urllib.parse.parse_qs(u.query)
        env.update({
            "PGFLIGHT_URL": dsn,
            "PGFLIGHT_LISTEN": f"127.0.0.1:{self.port}",
            "PGFLIGHT_LOG_LEVEL": "warn",
            # The throwaway cluster's superuser, on loopback: pgflight refuses it by default.
            "PGFLIGHT_ALLOW_SUPERUSER": "true",
        })
        if batch_size:
            env["PGFLIGHT_BATCH_SIZE"] = str(batch_size)
        if "sslmode" not in q:
            env["PGFLIGHT_SSLMODE"] = "disable" if u.hostname in ("127.0.0.1", "localhost", "::1") else "prefer"
        env.update(extra_env)
        self.env = env
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.logpath = self.workdir / "pgflight.log"
        log = open(self.logpath, "ab")
        # cwd: an empty directory, so no ./flight.toml is picked up
        self.proc = subprocess.Popen([str(self.binary), "serve"], env=self.env, cwd=self.workdir, stdout=log,
                                     stderr=log, start_new_session=True, preexec_fn=_die_with_parent)
        log.close()
        _CLEANUPS.append(lambda: stop_process(self.proc, "pgflight"))
        deadline = time.monotonic() + 60
        url = f"http://127.0.0.1:{self.port}/healthz"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                sys.exit(f"bench: pgflight exited with {self.proc.returncode}:\n{self.logpath.read_text()[-3000:]}")
            with contextlib.suppress(Exception):
                with urllib.request.urlopen(url, timeout=1) as r:
                    if r.status == 200:
                        print(f"bench: pgflight {self.binary} pid {self.proc.pid} on 127.0.0.1:{self.port}",
                              flush=True)
                        return
            time.sleep(0.1)
        sys.exit(f"bench: pgflight did not answer {url}")

    @property
    def pid(self) -> int:
        return self.proc.pid


# ------------------------------------------------------------------------------------------
# The three readers. Each returns the number of rows it received.
# ------------------------------------------------------------------------------------------


class Readers:
    def __init__(self, args, dsn: str, psql: str, psql_env: dict, flight_port: int | None):
        import pyarrow.flight as flight  # imported late: no pyarrow threads before the forks above
        import adbc_driver_postgresql.dbapi as adbc

        self.flight = flight
        self.adbc = adbc
        self.args = args
        self.dsn = dsn
        self.psql = psql
        self.psql_env = psql_env
        self.client = flight.FlightClient(f"grpc://127.0.0.1:{flight_port}") if flight_port else None
        self.adbc_conn = None
        self.schemas: dict[tuple[str, str], object] = {}

    def close(self) -> None:
        if self.adbc_conn is not None:
            with contextlib.suppress(Exception):
                self.adbc_conn.close()
            self.adbc_conn = None
        if self.client is not None:
            with contextlib.suppress(Exception):
                self.client.close()
            self.client = None

    # -- pgflight --------------------------------------------------------------------------
    def pgflight(self, schema: str, table: str) -> int:
        flight = self.flight
        cmd = json.dumps({"mode": {"fullTable": {"entity": f"{schema}.{table}"}}}).encode()
        info = self.client.get_flight_info(flight.FlightDescriptor.for_command(cmd))

        def fetch(endpoint) -> int:
            reader = self.client.do_get(endpoint.ticket)
            if self.args.materialize:
                t = reader.read_all()
                self.schemas.setdefault(("pgflight", table), t.schema)
                return t.num_rows
            self.schemas.setdefault(("pgflight", table), reader.schema)
            n = 0
            for chunk in reader:
                n += chunk.data.num_rows
            return n

        endpoints = list(info.endpoints)
        if len(endpoints) == 1:
            return fetch(endpoints[0])
        # several partitions: fetch them in parallel, as a client is meant to
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(len(endpoints)) as pool:
            return sum(pool.map(fetch, endpoints))

    # -- Flight SQL statements, planned and passed through ----------------------------------
    def sql(self, statement: str, label: str) -> int:
        """Runs `statement` as a Flight SQL CommandStatementQuery (built by hand: pyarrow has no
        Flight SQL layer) and reads every endpoint."""
        def field(number: int, payload: bytes) -> bytes:
            length, n = b"", len(payload)
            while True:
                byte, n = n & 0x7F, n >> 7
                length += bytes([byte | (0x80 if n else 0)])
                if not n:
                    break
            return bytes([number << 3 | 2]) + length + payload

        command = field(1, b"type.googleapis.com/arrow.flight.protocol.sql.CommandStatementQuery") + \
            field(2, field(1, statement.encode()))
        info = self.client.get_flight_info(self.flight.FlightDescriptor.for_command(command))

        def fetch(endpoint) -> int:
            reader = self.client.do_get(endpoint.ticket)
            self.schemas.setdefault((label, "sql"), reader.schema)
            return sum(chunk.data.num_rows for chunk in reader)

        endpoints = list(info.endpoints)
        if len(endpoints) == 1:
            return fetch(endpoints[0])
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(len(endpoints)) as pool:
            return sum(pool.map(fetch, endpoints))

    def sql_planned(self, schema: str, table: str) -> int:
        return self.sql(f"SELECT * FROM {schema}.{table}", "sql-planned")

    def sql_passthrough(self, schema: str, table: str) -> int:
        return self.sql(f"SELECT * FROM {schema}.{table} WHERE id::bigint IS NOT NULL", "sql-passthrough")

    # -- raw COPY through psql -------------------------------------------------------------
    def copy(self, schema: str, table: str, count_bytes: bool = False) -> int | tuple[int, int]:
        sql = f"COPY (SELECT * FROM {schema}.{table}) TO STDOUT (FORMAT binary)"
        argv = [self.psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", self.dsn, "-c", sql]
        if count_bytes:
            p = subprocess.Popen(argv, stdout=subprocess.PIPE, env=self.psql_env)
            nbytes = 0
            while chunk := p.stdout.read(1 << 20):
                nbytes += len(chunk)
            if p.wait() != 0:
                raise RuntimeError("psql COPY failed")
            return -1, nbytes
        subprocess.run(argv, stdout=subprocess.DEVNULL, check=True, env=self.psql_env)
        return -1  # psql does not report rows of a binary COPY; the byte count is checked once

    # -- ADBC PostgreSQL -------------------------------------------------------------------
    def adbc_read(self, schema: str, table: str) -> int:
        if self.adbc_conn is None:
            self.adbc_conn = self.adbc.connect(self.dsn, autocommit=True)
        with self.adbc_conn.cursor() as cur:
            cur.execute(f"SELECT * FROM {schema}.{table}")
            if self.args.materialize:
                t = cur.fetch_arrow_table()
                self.schemas.setdefault(("adbc", table), t.schema)
                return t.num_rows
            reader = cur.fetch_record_batch()
            self.schemas.setdefault(("adbc", table), reader.schema)
            n = 0
            for batch in reader:
                n += batch.num_rows
            return n


# ------------------------------------------------------------------------------------------
# Measurement
# ------------------------------------------------------------------------------------------


@dataclass
class Run:
    wall: float
    client_cpu: float
    server_cpu: float | None  # pgflight
    pg_cpu: float | None
    client_hwm_kib: int | None
    other_cpu: float  # CPU seconds the rest of the machine used meanwhile (contention)

    def own_cpu(self) -> float:
        return self.client_cpu + (self.server_cpu or 0.0) + (self.pg_cpu or 0.0)


@dataclass
class Result:
    table: str
    rows: int
    copy_bytes: int
    runs: dict = field(default_factory=lambda: {m: [] for m in METHODS})
    server_hwm_kib: int | None = None


def client_cpu(children: bool) -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def measure(method: str, readers: Readers, schema: str, table: str, rows: int,
            pgflight_pid: int | None, pgcpu: PgCpu) -> Run:
    fn = {"pgflight": readers.pgflight, "copy": readers.copy, "adbc": readers.adbc_read,
          "sql-planned": readers.sql_planned, "sql-passthrough": readers.sql_passthrough}[method]
    reset_peak_rss("self")
    children_before = pgcpu.children()
    c0 = client_cpu(method == "copy")
    s0 = proc_cpu(pgflight_pid) if pgflight_pid else None
    p0 = pgcpu.sample()
    b0 = system_busy()
    t0 = time.perf_counter()
    got = fn(schema, table)
    wall = time.perf_counter() - t0
    if method == "copy":
        pgcpu.settle(children_before)
    c1 = client_cpu(method == "copy")
    s1 = proc_cpu(pgflight_pid) if pgflight_pid else None
    p1 = pgcpu.sample()
    b1 = system_busy()
    if got != -1 and got != rows:
        raise RuntimeError(f"{method} read {got} rows of {table}, expected {rows}")
    hwm = proc_status_kib("self", "VmHWM")
    run = Run(wall, c1 - c0, None if s0 is None else s1 - s0, None if p0 is None else p1 - p0, hwm, 0.0)
    run.other_cpu = max(0.0, (b1 - b0) - run.own_cpu())
    return run


# ------------------------------------------------------------------------------------------
# Reporting
# ------------------------------------------------------------------------------------------


def fmt_opt(x: float | None, spec: str = ".2f", unit: str = "s") -> str:
    return "-" if x is None else format(x, spec) + unit


def report(results: list[Result], methods: list[str], server_hwm_kib: int | None,
           client_hwm_kib: int | None, rounds: int) -> tuple[str, dict]:
    lines = []
    summary: dict = {"tables": {}}
    for res in results:
        lines.append("")
        lines.append(f"{res.table}: {res.rows:,} rows, COPY binary stream {res.copy_bytes / 1e6:,.1f} MB"
                     f" ({rounds} rounds; MB/s = COPY-binary bytes / wall time)")
        hdr = (f"  {'method':<17} {'best s':>7} {'med s':>7} {'Mrows/s':>8} {'(med)':>7} {'MB/s':>7} {'(med)':>7}"
               f" {'client cpu':>10} {'pgflight cpu':>12} {'postgres cpu':>12} {'ns/row':>6} {'other cpu':>9}"
               f" {'client peak':>11}")
        lines.append(hdr)
        best: dict[str, float] = {}
        med: dict[str, float] = {}
        table_summary = {"rows": res.rows, "copy_bytes": res.copy_bytes, "methods": {}}
        for m in methods:
            runs = res.runs[m]
            if not runs:
                continue
            walls = [r.wall for r in runs]
            b, md = min(walls), statistics.median(walls)
            best[m], med[m] = b, md
            mid = sorted(runs, key=lambda r: r.wall)[len(runs) // 2]
            peak = max((r.client_hwm_kib or 0) for r in runs)
            peak_s = "-" if m == "copy" else f"{peak / 1024:.0f} MiB"
            lines.append(
                f"  {METHOD_LABEL[m]:<17} {b:7.3f} {md:7.3f} {res.rows / b / 1e6:8.2f} {res.rows / md / 1e6:7.2f}"
                f" {res.copy_bytes / b / 1e6:7.0f} {res.copy_bytes / md / 1e6:7.0f}"
                f" {mid.client_cpu:9.2f}s {fmt_opt(mid.server_cpu):>12} {fmt_opt(mid.pg_cpu):>12}"
                f" {mid.own_cpu() / res.rows * 1e9:6.0f} {mid.other_cpu:8.2f}s {peak_s:>11}")
            table_summary["methods"][m] = {
                "walls": walls, "best_s": b, "median_s": md,
                "mrows_per_s_best": res.rows / b / 1e6, "mb_per_s_best": res.copy_bytes / b / 1e6,
                "median_run_cpu": {"client": mid.client_cpu, "pgflight": mid.server_cpu, "postgres": mid.pg_cpu,
                                   "other_processes": mid.other_cpu},
                "client_peak_kib": peak if m != "copy" else None,
            }
        ratios = []
        if "pgflight" in best and "copy" in best:
            r_b, r_m = best["copy"] / best["pgflight"], med["copy"] / med["pgflight"]
            ok = "meets" if r_b >= TARGET_VS_COPY else "MISSES"
            ratios.append(f"pgflight/raw COPY = {r_b:.2f}x best, {r_m:.2f}x median"
                          f" (target >= {TARGET_VS_COPY}x: {ok})")
            table_summary["pgflight_vs_copy"] = {"best": r_b, "median": r_m}
        if "pgflight" in best and "adbc" in best:
            r_b, r_m = best["adbc"] / best["pgflight"], med["adbc"] / med["pgflight"]
            ok = "meets" if r_b >= TARGET_VS_ADBC else "MISSES"
            ratios.append(f"pgflight/ADBC = {r_b:.2f}x best, {r_m:.2f}x median"
                          f" (target >= {TARGET_VS_ADBC}x: {ok})")
            table_summary["pgflight_vs_adbc"] = {"best": r_b, "median": r_m}
        if "sql-planned" in best and "sql-passthrough" in best:
            r_b = best["sql-planned"] / best["sql-passthrough"]
            ratios.append(f"SQL pass-through/planned = {r_b:.2f}x best (1 = the same rate)")
            table_summary["passthrough_vs_planned"] = {"best": r_b}
        for r in ratios:
            lines.append("  " + r)
        if res.server_hwm_kib is not None:
            lines.append(f"  pgflight server peak RSS during this table: {res.server_hwm_kib / 1024:.0f} MiB")
        summary["tables"][res.table] = table_summary
    lines.append("")
    if server_hwm_kib is not None:
        ok = "meets" if server_hwm_kib / 1024 < TARGET_SERVER_RSS_MIB else "MISSES"
        lines.append(f"pgflight server peak RSS (VmHWM): {server_hwm_kib / 1024:.0f} MiB"
                     f" (target < {TARGET_SERVER_RSS_MIB} MiB: {ok})")
    if client_hwm_kib is not None:
        lines.append(f"benchmark client peak RSS (VmHWM, whole run incl. ADBC): {client_hwm_kib / 1024:.0f} MiB")
    lines.append("ratios are throughput ratios (>1 = pgflight faster). CPU columns: the median run's CPU"
                 " seconds; ns/row = (client + pgflight + postgres) CPU per row; other cpu = what the rest"
                 " of the machine used meanwhile (contention).")
    summary["server_peak_kib"] = server_hwm_kib
    summary["client_peak_kib"] = client_hwm_kib
    return "\n".join(lines), summary


# ------------------------------------------------------------------------------------------
# main
# ------------------------------------------------------------------------------------------


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help=f"small tables ({QUICK_ROWS['wide']:,} wide / {QUICK_ROWS['narrow']:,} narrow rows)")
    p.add_argument("--wide-rows", type=int, help=f"rows of the wide table (default {FULL_ROWS['wide']:,})")
    p.add_argument("--narrow-rows", type=int, help=f"rows of the narrow table (default {FULL_ROWS['narrow']:,})")
    p.add_argument("--tables", default="wide,narrow", help="which tables, comma-separated (default wide,narrow)")
    p.add_argument("--methods", default=",".join(DEFAULT_METHODS),
                   help="which methods (default pgflight,copy,adbc; also sql-planned, sql-passthrough)")
    p.add_argument("--rounds", type=int, default=3, help="runs per method and table (default 3)")
    p.add_argument("--dsn", help="use this PostgreSQL (postgresql://user[:pw]@host:port/db) instead of starting one;"
                                 " the tables are created in --schema there")
    p.add_argument("--keep", metavar="DIR", help="keep the throwaway cluster in DIR (reused, with its loaded"
                                                 " tables, by the next run with the same DIR)")
    p.add_argument("--schema", default="bench", help="schema of the benchmark tables (default bench)")
    p.add_argument("--pg-bin", help="PostgreSQL server binaries (default: /usr/lib/postgresql/<newest>/bin)")
    p.add_argument("--pgflight", help="pgflight binary (default $CARGO_TARGET_DIR or target/ + release/pgflight)")
    p.add_argument("--no-build", action="store_true", help="do not run cargo build --release when it is missing")
    p.add_argument("--batch-size", type=int,
                   help="PGFLIGHT_BATCH_SIZE (default: unset, pgflight's own default of 10000 rows)")
    p.add_argument("--pgflight-env", action="append", default=[], metavar="KEY=VALUE",
                   help="extra environment for pgflight (repeatable)")
    p.add_argument("--materialize", action="store_true",
                   help="clients build a whole pyarrow Table (read_all / fetch_arrow_table) instead of"
                        " iterating batches")
    p.add_argument("--pause", action="store_true",
                   help="print the pids and wait for Enter before measuring (to attach perf)")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, _on_signal)
    atexit.register(_run_cleanups)
    try:
        return _main(args)
    except Interrupted as err:
        print(f"\nbench: interrupted ({err}); stopping what it started", file=sys.stderr)
        return 130
    finally:
        # no second Ctrl-C in the middle of the cleanup
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(s, signal.SIG_IGN)
        _run_cleanups()


def _main(args) -> int:
    sizes = dict(QUICK_ROWS if args.quick else FULL_ROWS)
    if args.wide_rows:
        sizes["wide"] = args.wide_rows
    if args.narrow_rows:
        sizes["narrow"] = args.narrow_rows
    tables = [t.strip() for t in args.tables.split(",") if t.strip()]
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    for t in tables:
        if t not in sizes:
            sys.exit(f"bench: unknown table {t!r} (wide, narrow)")
    for m in methods:
        if m not in METHODS:
            sys.exit(f"bench: unknown method {m!r} ({', '.join(METHODS)})")

    served = any(m != "copy" and m != "adbc" for m in methods)
    binary = find_pgflight(args.pgflight, not args.no_build) if served else None

    workdir = Path(tempfile.mkdtemp(prefix="pgflight-bench-"))
    _CLEANUPS.append(lambda: shutil.rmtree(workdir, ignore_errors=True))

    pg_bin: Path | None = None
    pgcpu = PgCpu(None)
    if args.dsn:
        if args.keep:
            sys.exit("bench: --keep and --dsn exclude each other")
        dsn = args.dsn
    else:
        pg_bin = find_pg_bin(args.pg_bin)
        if args.keep:
            datadir = Path(args.keep).resolve()
        else:
            datadir = workdir / "pgdata"
            workdir.chmod(0o755)
        cluster = Cluster(pg_bin, datadir, free_port())
        if not cluster.initialized():
            cluster.init()
        cluster.start()
        dsn = cluster.dsn
        pgcpu = PgCpu(cluster.proc.pid)

    psql_bin = find_psql(pg_bin)
    psql_env = {k: v for k, v in os.environ.items()
                if not k.startswith("PG") or k in ("PGPASSWORD", "PGPASSFILE")}
    sql = Psql(psql_bin, dsn, psql_env)
    print("bench: server " + sql.query("SELECT version()"), flush=True)
    names = {kind: ensure_table(sql, kind, sizes[kind], args.schema) for kind in tables}

    server = None
    if binary is not None:
        extra = dict(kv.split("=", 1) for kv in args.pgflight_env)
        server = Pgflight(binary, dsn, args.batch_size, workdir, extra)
        server.start()
        if "debug" in binary.parts:
            print("bench: NOTE: this is a debug build; its numbers are a smoke test only", flush=True)

    readers = Readers(args, dsn, psql_bin, psql_env, server.port if server else None)
    _CLEANUPS.append(readers.close)

    if args.pause:
        print(f"bench: pids: bench {os.getpid()}, pgflight {server.pid if server else '-'},"
              f" postmaster {pgcpu.pid or '-'}; press Enter to measure", flush=True)
        input()

    print(f"bench: load average {' '.join(Path('/proc/loadavg').read_text().split()[:3])}"
          f" on {os.cpu_count()} CPUs", flush=True)
    results = []
    for kind in tables:
        table = names[kind]
        rows = sizes[kind]
        # warm-up (unmeasured): one raw COPY that also measures the stream size, one run each other
        _, nbytes = readers.copy(args.schema, table, count_bytes=True)
        res = Result(table=table, rows=rows, copy_bytes=nbytes)
        for m in methods:
            if m != "copy":
                measure(m, readers, args.schema, table, rows, server.pid if server else None, pgcpu)
        if server:
            reset_peak_rss(server.pid)
        print(f"bench: {table}: measuring {args.rounds} rounds of {', '.join(methods)}", flush=True)
        for rnd in range(args.rounds):
            # rotate the order each round so no method always runs right after another
            order = methods[rnd % len(methods):] + methods[: rnd % len(methods)]
            for m in order:
                run = measure(m, readers, args.schema, table, rows, server.pid if server else None, pgcpu)
                res.runs[m].append(run)
                print(f"  round {rnd + 1} {METHOD_LABEL[m]:<17} {run.wall:7.3f}s  {rows / run.wall / 1e6:6.2f} Mrows/s"
                      f"  cpu: client {run.client_cpu:.2f}s pgflight {fmt_opt(run.server_cpu)}"
                      f" postgres {fmt_opt(run.pg_cpu)} other {run.other_cpu:.2f}s", flush=True)
        if server:
            res.server_hwm_kib = proc_status_kib(server.pid, "VmHWM")
        results.append(res)

    if readers.schemas:
        print("\nArrow schemas as received:")
        for (m, t), s in sorted(readers.schemas.items(), key=lambda kv: (kv[0][1], kv[0][0])):
            cols = ", ".join(f"{f.name}:{f.type}" for f in s)
            print(f"  {t} {m:<8} {cols}")

    server_hwm = None
    if server:
        server_hwm = max((r.server_hwm_kib or 0) for r in results) or proc_status_kib(server.pid, "VmHWM")
    reset_peak_rss("self")  # folds the last run's VmHWM into CLIENT_PEAK_KIB
    client_hwm = CLIENT_PEAK_KIB or None
    text, summary = report(results, methods, server_hwm, client_hwm, args.rounds)
    print(text)
    if args.json:
        summary["args"] = vars(args)
        summary["pgflight"] = str(binary) if binary else None
        Path(args.json).write_text(json.dumps(summary, indent=2))
        print(f"bench: results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
