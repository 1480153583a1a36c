"""Fixtures for the client suite: a throwaway PostgreSQL cluster, a fresh database per test,
and the built `pgflight serve` binary in front of it.

The cluster is started the way tests/it/harness/cluster.rs does it: server binaries from
PG_BIN, else `pg_config --bindir`, else the newest /usr/lib/postgresql/*/bin; a free port on
127.0.0.1; SCRAM passwords; as root, PostgreSQL runs as the `postgres` OS user. A missing
PostgreSQL is a failure with instructions, never a skip.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable, Iterator, Mapping, Optional

import pytest

REPO = Path(__file__).resolve().parents[2]

#: The cluster superuser's password.
SUPERUSER_PASSWORD = "super-secret-pw"
#: The read-only role `pgflight serve` runs as in these tests (pgflight refuses a superuser),
#: and its password. Every test database grants it SELECT on what the superuser creates.
READER = "pgflight_reader"
READER_PASSWORD = "reader-secret-pw"

PG_INSTALL_HINT = (
    "No PostgreSQL server binaries found. Install them (Debian/Ubuntu: "
    "`apt-get install -y postgresql`), or point PG_BIN at a directory holding initdb and "
    "postgres."
)


# --- PostgreSQL ----------------------------------------------------------------------------


def _has_server(bindir: Path) -> bool:
    return (bindir / "initdb").is_file() and (bindir / "postgres").is_file()


def find_pg_bin() -> Path:
    """PG_BIN, else `pg_config --bindir`, else the newest /usr/lib/postgresql/*/bin."""
    env = os.environ.get("PG_BIN")
    if env:
        bindir = Path(env)
        if not _has_server(bindir):
            pytest.fail(f"PG_BIN={bindir} holds no initdb/postgres. {PG_INSTALL_HINT}", pytrace=False)
        return bindir
    try:
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=False)
        bindir = Path(out.stdout.strip())
        if out.returncode == 0 and out.stdout.strip() and _has_server(bindir):
            return bindir
    except FileNotFoundError:
        pass
    candidates = []
    root = Path("/usr/lib/postgresql")
    if root.is_dir():
        for entry in root.iterdir():
            if entry.name.isdigit() and _has_server(entry / "bin"):
                candidates.append((int(entry.name), entry / "bin"))
    if not candidates:
        pytest.fail(PG_INSTALL_HINT, pytrace=False)
    return max(candidates)[1]


def _postgres_user() -> Optional[tuple[int, int]]:
    """(uid, gid) of the `postgres` OS user when running as root, else None."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam("postgres")
    except KeyError:
        pytest.fail(
            "running as root, but there is no `postgres` OS user to run PostgreSQL as "
            "(useradd --system postgres)",
            pytrace=False,
        )
    return entry.pw_uid, entry.pw_gid


def _as_user(user: Optional[tuple[int, int]]) -> dict:
    if user is None:
        return {}
    return {"user": user[0], "group": user[1], "extra_groups": []}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclasses.dataclass
class Cluster:
    """A running throwaway PostgreSQL cluster."""

    port: int
    dir: Path
    bindir: Path
    process: subprocess.Popen
    version_num: int = 0
    _counter: Iterator[int] = dataclasses.field(default_factory=lambda: itertools.count())

    host = "127.0.0.1"
    user = "postgres"
    password = SUPERUSER_PASSWORD

    def uri(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}:{self.password}@{self.host}:{self.port}/{database}"

    def admin(self, database: str = "postgres"):
        """A superuser DB-API connection (adbc_driver_postgresql, autocommit) on `database`."""
        import adbc_driver_postgresql.dbapi

        return adbc_driver_postgresql.dbapi.connect(self.uri(database), autocommit=True)

    def execute(self, database: str, *statements: str) -> None:
        with self.admin(database) as conn, conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)

    def create_db(self, prefix: str = "t") -> str:
        """A fresh database in which READER may use every schema and SELECT every table,
        view and sequence the superuser creates (default privileges)."""
        name = f"{prefix}_{os.getpid()}_{next(self._counter)}"
        self.execute("postgres", f'CREATE DATABASE "{name}"')
        self.execute(
            name,
            f"ALTER DEFAULT PRIVILEGES GRANT USAGE ON SCHEMAS TO {READER}",
            f"ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO {READER}",
            f"ALTER DEFAULT PRIVILEGES GRANT SELECT ON SEQUENCES TO {READER}",
        )
        return name

    def drop_db(self, name: str) -> None:
        force = " WITH (FORCE)" if self.version_num >= 130000 else ""
        self.execute("postgres", f'DROP DATABASE IF EXISTS "{name}"{force}')


def _wait_ready(log: Path, process: subprocess.Popen, port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        text = log.read_text(errors="replace") if log.exists() else ""
        if "ready to accept connections" in text:
            return
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"PostgreSQL on port {port} did not start; its log:\n{text}", pytrace=False)
        time.sleep(0.05)


def _spawn_watchdog(postgres_pid: int, directory: Path) -> None:
    """Stops PostgreSQL and removes its files should this process die without teardown."""
    script = (
        f"while kill -0 {os.getpid()} 2>/dev/null; do sleep 0.5; done; "
        f"kill -INT {postgres_pid} 2>/dev/null; "
        f"for i in $(seq 1 20); do kill -0 {postgres_pid} 2>/dev/null || break; sleep 0.5; done; "
        f"kill -KILL {postgres_pid} 2>/dev/null; rm -rf '{directory}'"
    )
    subprocess.Popen(
        ["sh", "-c", script],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    """One throwaway PostgreSQL cluster for the whole session."""
    bindir = find_pg_bin()
    user = _postgres_user()
    directory = Path(tempfile.mkdtemp(prefix="pgflight-pytest-"))
    process = None
    try:
        data = directory / "data"
        pwfile = directory / "pwfile"
        pwfile.write_text(SUPERUSER_PASSWORD)
        if user is not None:
            for path in (directory, pwfile):
                os.chown(path, *user)
        out = subprocess.run(
            [
                str(bindir / "initdb"),
                "-D", str(data),
                "-U", "postgres",
                "--auth=scram-sha-256",
                f"--pwfile={pwfile}",
                "-E", "UTF8",
                "--locale=C",
            ],
            cwd=directory,
            capture_output=True,
            text=True,
            **_as_user(user),
        )
        if out.returncode != 0:
            pytest.fail(f"initdb failed:\n{out.stdout}\n{out.stderr}", pytrace=False)
        port = free_port()
        with open(data / "postgresql.conf", "a") as conf:
            conf.write(
                f"\nport = {port}\n"
                "listen_addresses = '127.0.0.1'\n"
                "unix_socket_directories = ''\n"
                "max_connections = 200\n"
                "lc_messages = 'C'\n"
                "fsync = off\n"
                "synchronous_commit = off\n"
                "full_page_writes = off\n"
                "shared_buffers = 64MB\n"
                # change data capture (README "Change data capture", test_changes.py)
                "wal_level = logical\n"
            )
        (data / "pg_hba.conf").write_text("host all all 127.0.0.0/8 scram-sha-256\n")
        if user is not None:
            os.chown(data / "pg_hba.conf", *user)
        log = directory / "postgres.log"
        with open(log, "wb") as logfile:
            process = subprocess.Popen(
                [str(bindir / "postgres"), "-D", str(data)],
                cwd=directory,
                stdin=subprocess.DEVNULL,
                stdout=logfile,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                **_as_user(user),
            )
        _spawn_watchdog(process.pid, directory)
        _wait_ready(log, process, port)
        cluster = Cluster(port=port, dir=directory, bindir=bindir, process=process)
        with cluster.admin() as conn, conn.cursor() as cur:
            cur.execute("SELECT current_setting('server_version_num')::int")
            cluster.version_num = cur.fetchone()[0]
            cur.execute(f"CREATE ROLE {READER} LOGIN PASSWORD '{READER_PASSWORD}'")
        yield cluster
    finally:
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(directory, ignore_errors=True)


@dataclasses.dataclass
class Database:
    """A fresh database for one test, with a superuser admin connection (autocommit)."""

    name: str
    cluster: Cluster
    admin: object

    @property
    def uri(self) -> str:
        return self.cluster.uri(self.name)

    def execute(self, *statements: str) -> None:
        with self.admin.cursor() as cur:
            for statement in statements:
                cur.execute(statement)

    def query(self, sql: str) -> list[tuple]:
        with self.admin.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()


@pytest.fixture
def database(pg_cluster: Cluster, request) -> Iterator[Database]:
    """A fresh database for this test; dropped afterwards."""
    name = pg_cluster.create_db(prefix=request.node.originalname.lower()[:40])
    admin = pg_cluster.admin(name)
    try:
        yield Database(name=name, cluster=pg_cluster, admin=admin)
    finally:
        admin.close()
        pg_cluster.drop_db(name)


# --- pgflight ------------------------------------------------------------------------------


def pgflight_bin() -> Path:
    """PGFLIGHT_BIN, else $CARGO_TARGET_DIR/debug/pgflight, else <repo>/target/debug/pgflight."""
    if os.environ.get("PGFLIGHT_BIN"):
        path = Path(os.environ["PGFLIGHT_BIN"])
    else:
        target = Path(os.environ.get("CARGO_TARGET_DIR") or REPO / "target")
        if not target.is_absolute():
            target = REPO / target
        path = target / "debug" / "pgflight"
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(
            f"pgflight binary not found at {path}: run `cargo build` (or scripts/test.sh), "
            "or set PGFLIGHT_BIN",
            pytrace=False,
        )
    return path


def clean_env() -> dict[str, str]:
    """The inherited environment without PG*, POSTGRES_*, PGFLIGHT_* and RUST_LOG."""
    return {
        key: value
        for key, value in os.environ.items()
        if not (key.startswith("PG") or key.startswith("POSTGRES_") or key == "RUST_LOG")
    }


def _http_get(url: str, timeout: float = 5) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode("utf-8", "replace")


@dataclasses.dataclass
class Server:
    """A running `pgflight serve`."""

    process: subprocess.Popen
    port: int
    database: str
    log: Path
    env: dict[str, str]
    host: str = "127.0.0.1"

    @property
    def grpc_uri(self) -> str:
        return f"grpc://{self.host}:{self.port}"

    @property
    def http(self) -> str:
        return f"http://{self.host}:{self.port}"

    def get(self, path: str, timeout: float = 5) -> tuple[int, str]:
        """HTTP GET on the server's port: (status, body)."""
        return _http_get(self.http + path, timeout)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, timeout: float = 15) -> int:
        """SIGTERM, then wait; fails the test if it does not exit within `timeout` seconds."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                pytest.fail(
                    f"pgflight did not exit within {timeout:.0f}s of SIGTERM; its log:\n{self.log_text()}",
                    pytrace=False,
                )
        return self.process.returncode


StartServer = Callable[..., Server]


def _start_server(
    binary: Path,
    cluster: Cluster,
    database: str,
    workdir: Path,
    extra_env: Optional[Mapping[str, str]] = None,
    args: tuple[str, ...] = (),
    ready_timeout: float = 30,
    host: str = "127.0.0.1",
    port: Optional[int] = None,
) -> Server:
    chosen = port
    for attempt in range(3):
        port = chosen or free_port()
        env = clean_env()
        env.update(
            {
                "PGFLIGHT_HOST": cluster.host,
                "PGFLIGHT_PORT": str(cluster.port),
                "PGFLIGHT_DATABASE": database,
                "PGFLIGHT_USERNAME": READER,
                "PGFLIGHT_PASSWORD": READER_PASSWORD,
                "PGFLIGHT_SSLMODE": "disable",
                "PGFLIGHT_LISTEN": f"{host}:{port}",
            }
        )
        env.update(extra_env or {})
        log = workdir / f"pgflight-{port}.log"
        with open(log, "wb") as logfile:
            # The working directory is an empty temp dir, so no stray ./flight.toml is read.
            process = subprocess.Popen(
                [str(binary), "serve", *args],
                cwd=workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=logfile,
                stderr=subprocess.STDOUT,
            )
        server = Server(
            process=process, port=port, database=database, log=log, env=env, host=host
        )
        deadline = time.monotonic() + ready_timeout
        while True:
            if process.poll() is not None:
                text = server.log_text()
                if "cannot listen" in text and attempt < 2 and chosen is None:
                    break  # lost the free port to someone else: try another
                pytest.fail(
                    f"pgflight serve exited with {process.returncode} before /healthz answered; "
                    f"its log:\n{text}",
                    pytrace=False,
                )
            if "PGFLIGHT_TLS_CERT" in env:
                # Plain HTTP cannot reach a TLS port: the start-up line says it listens.
                if "pgflight serving" in server.log_text():
                    return server
            else:
                try:
                    status, _ = server.get("/healthz", timeout=1)
                    if status == 200:
                        return server
                except (urllib.error.URLError, ConnectionError, OSError):
                    pass
            if time.monotonic() > deadline:
                server.stop()
                pytest.fail(
                    f"pgflight serve: /healthz did not answer 200 within {ready_timeout:.0f}s; "
                    f"its log:\n{server.log_text()}",
                    pytrace=False,
                )
            time.sleep(0.05)
    raise AssertionError("unreachable")


@pytest.fixture
def start_server(pg_cluster: Cluster, database: Database, tmp_path: Path) -> Iterator[StartServer]:
    """A factory: `start_server(env={...}, database=name, args=(...))` starts `pgflight serve`
    as the read-only role READER against this test's database (or `database=`), waits for
    /healthz, and returns a `Server`; `host=` and `port=` choose where it listens (a loopback
    address of the test's own, a port the test chose; default 127.0.0.1 and a free port).
    Every server it started gets SIGTERM at teardown and must exit, cleanly, within 15 s."""
    binary = pgflight_bin()
    servers: list[Server] = []

    def start(
        env: Optional[Mapping[str, str]] = None,
        database_name: Optional[str] = None,
        args: tuple[str, ...] = (),
        host: str = "127.0.0.1",
        port: Optional[int] = None,
    ) -> Server:
        server = _start_server(
            binary, pg_cluster, database_name or database.name, tmp_path, env, args,
            host=host, port=port,
        )
        servers.append(server)
        return server

    yield start
    failures = []
    for server in servers:
        already_exited = server.process.poll() is not None
        code = server.stop()
        if not already_exited and code != 0:
            failures.append(f"pgflight exited with {code} after SIGTERM; log:\n{server.log_text()}")
    if failures:
        pytest.fail("\n".join(failures), pytrace=False)


#: Users and passwords of the basic-credentials regression (the ADBC driver's Go client sends
#: base64 unpadded): `user:password` of every length modulo 3, non-ASCII, colons, long.
PASSWORDS: tuple[tuple[str, str], ...] = (
    ("alice", "Alice-Pw-7f3a91"),
    ("ok3", "ab3"),
    ("simple", "simple"),
    ("bang", "abc!"),
    ("dash", "abc-def"),
    ("long", "Abcdefghijklmnop"),
    ("issue", "Alice-s3cret-Pw!"),
    ("umlaut", "pässwörd-€"),
    ("colon", "a:b:c"),
    ("cjk", "日本語のパスワード"),
)


def hash_password(password: str) -> str:
    """`pgflight hash-password` (few iterations: tests only)."""
    out = subprocess.run(
        [str(pgflight_bin()), "hash-password", "--iterations", "2000"],
        input=password + "\n", capture_output=True, text=True, check=True,
    )
    return out.stdout.strip()


@pytest.fixture
def users_file(tmp_path: Path) -> Path:
    """A users file holding every user of PASSWORDS."""
    path = tmp_path / "users"
    lines = [f"{user}:{hash_password(password)}" for user, password in PASSWORDS]
    path.write_text("# pgflight users\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def server(start_server: StartServer) -> Server:
    """`pgflight serve` with default settings on this test's fresh database."""
    return start_server()
