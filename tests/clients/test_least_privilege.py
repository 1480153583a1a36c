"""The README quick start as a newcomer runs it, as the superuser: `pgflight serve` refuses
with the SQL of a read-only role; with `allow_superuser = true` it serves, warns, and its
statement guard still refuses the functions that reach the server's files, signal other
sessions or sleep — through a real client (ADBC), with a clear gRPC status."""

from __future__ import annotations

import subprocess

import adbc_driver_flightsql
import adbc_driver_flightsql.dbapi
import pytest

from conftest import SUPERUSER_PASSWORD, clean_env, pgflight_bin


def test_serve_as_superuser_is_refused_with_the_sql_of_a_reader_role(pg_cluster, database, tmp_path):
    env = clean_env()
    env.update(
        {
            "PGFLIGHT_HOST": pg_cluster.host,
            "PGFLIGHT_PORT": str(pg_cluster.port),
            "PGFLIGHT_DATABASE": database.name,
            "PGFLIGHT_USERNAME": "postgres",
            "PGPASSWORD": SUPERUSER_PASSWORD,
            "PGFLIGHT_SSLMODE": "disable",
            "PGFLIGHT_LISTEN": "127.0.0.1:0",
        }
    )
    ran = subprocess.run(
        [str(pgflight_bin()), "serve"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    out = ran.stdout + ran.stderr
    assert ran.returncode != 0, out
    assert 'refuses to serve as role "postgres": it is a superuser' in out, out
    assert 'CREATE ROLE "pgflight_reader" LOGIN' in out, out
    assert "allow_superuser = true" in out, out
    assert SUPERUSER_PASSWORD not in out

    check = subprocess.run(
        [str(pgflight_bin()), "check"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert check.returncode == 7, check.stdout + check.stderr
    assert "Role attributes: SUPERUSER" in check.stdout, check.stdout


@pytest.mark.parametrize(
    "sql, function",
    [
        ("SELECT pg_read_file('/etc/hostname')", "pg_read_file"),
        ("SELECT * FROM pg_catalog.pg_ls_dir('.')", "pg_ls_dir"),
        (
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid()",
            "pg_terminate_backend",
        ),
        ("WITH s AS (SELECT \"pg_sleep\"(5)) SELECT * FROM s", "pg_sleep"),
        ("SELECT length(PG_READ_BINARY_FILE('/etc/hostname')::text)", "PG_READ_BINARY_FILE"),
    ],
)
def test_allowed_superuser_still_meets_the_guard(start_server, sql, function):
    server = start_server(
        env={
            "PGFLIGHT_USERNAME": "postgres",
            "PGFLIGHT_PASSWORD": SUPERUSER_PASSWORD,
            "PGFLIGHT_ALLOW_SUPERUSER": "true",
        }
    )
    assert "allow_superuser = true: serving as a role that may do more than read" in server.log_text()
    with adbc_driver_flightsql.dbapi.connect(server.grpc_uri, autocommit=True) as conn:
        with conn.cursor() as cur:
            with pytest.raises(adbc_driver_flightsql.dbapi.ProgrammingError) as raised:
                cur.execute(sql)
                cur.fetchall()
            message = str(raised.value)
            assert "(PermissionDenied" in message, message
            assert f"refuses to run {function}()" in message, message
            cur.execute("SELECT count(*) AS n FROM pg_stat_activity")
            assert cur.fetchall()[0][0] >= 1
