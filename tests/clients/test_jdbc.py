"""The JDBC client suite (tests/jdbc: the Apache Arrow Flight SQL JDBC driver DBeaver runs, JUnit 5),
run with `mvn test` against servers started here: auth = "none", auth = "password" (the users
of PASSWORDS), TLS, and mutual TLS. The database holds clients_fixture.sql; the suite compares
with PostgreSQL through pgjdbc. Maven runs it twice: the JVM in UTC and in America/Los_Angeles.
A missing JDK or Maven is a failure, never a skip."""

from __future__ import annotations

import os
import subprocess

import pytest

from conftest import PASSWORDS, REPO
from test_go import load_fixture, tool
from test_tls import certs, tls_env  # noqa: F401  (certs is a fixture)

JDBC_DIR = REPO / "tests" / "jdbc"


@pytest.mark.jdbc
def test_jdbc_driver(database, start_server, users_file, certs):  # noqa: F811
    mvn = tool("mvn", "install Maven and a JDK 17+ (Debian: apt-get install maven default-jdk-headless), "
                      "or run .ci/run")
    tool("java", "install a JDK 17+ (Debian: apt-get install default-jdk-headless)")
    load_fixture(database)
    plain = start_server()
    password = start_server(env={"PGFLIGHT_AUTH": "password", "PGFLIGHT_USERS_FILE": str(users_file)})
    tls = start_server(env=tls_env(certs, mutual=False))
    mtls = start_server(env=tls_env(certs, mutual=True))
    cluster = database.cluster
    env = dict(os.environ)
    env.update({
        "PGFLIGHT_JDBC_PORT": str(plain.port),
        "PGFLIGHT_JDBC_AUTH_PORT": str(password.port),
        "PGFLIGHT_JDBC_TLS_PORT": str(tls.port),
        "PGFLIGHT_JDBC_MTLS_PORT": str(mtls.port),
        "PGFLIGHT_JDBC_CA": str(certs["ca_pem"]),
        "PGFLIGHT_JDBC_CLIENT_CERT": str(certs["client_pem"]),
        "PGFLIGHT_JDBC_CLIENT_KEY": str(certs["client_key"]),
        "PGFLIGHT_JDBC_USERS": "\n".join(f"{user}:{pw}" for user, pw in PASSWORDS),
        "PGFLIGHT_JDBC_DATABASE": database.name,
        "PGFLIGHT_JDBC_PG_URL": f"jdbc:postgresql://{cluster.host}:{cluster.port}/{database.name}",
        "PGFLIGHT_JDBC_PG_USER": cluster.user,
        "PGFLIGHT_JDBC_PG_PASSWORD": cluster.password,
    })
    # -B: no colours or progress; dependencies come from (and are cached in) ~/.m2.
    args = [mvn, "-B", "-ntp", "test"]
    if os.environ.get("PGFLIGHT_JDBC_VERSION"):
        args.append(f"-Dflightsql.jdbc.version={os.environ['PGFLIGHT_JDBC_VERSION']}")
    result = subprocess.run(args, cwd=JDBC_DIR, env=env, capture_output=True, text=True, timeout=1200)
    print(result.stdout[-30000:], result.stderr[-5000:])
    assert result.returncode == 0, (
        f"mvn test failed (exit {result.returncode}):\n{result.stdout[-30000:]}\n{result.stderr[-5000:]}"
    )
