"""The Go client suite (tests/go, arrow-go's Flight SQL database/sql driver), run with `go test`
against two servers started here: one with `auth = "none"`, one with `auth = "password"` and the
users of PASSWORDS (the basic-credentials regression). The database holds
clients_fixture.sql. A missing Go toolchain is a failure, never a skip."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import PASSWORDS, REPO

FIXTURE_SQL = Path(__file__).with_name("clients_fixture.sql")


def load_fixture(database) -> None:
    """Runs clients_fixture.sql (statements end with `;` at the end of a line)."""
    text = "\n".join(
        line for line in FIXTURE_SQL.read_text(encoding="utf-8").splitlines() if not line.startswith("--")
    )
    statement = []
    for line in text.splitlines():
        statement.append(line)
        if line.rstrip().endswith(";"):
            database.execute("\n".join(statement))
            statement = []
    assert not "".join(statement).strip(), "clients_fixture.sql ends without ;"


def tool(name: str, hint: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"`{name}` not found: {hint}", pytrace=False)
    return path


@pytest.mark.go
def test_go_flightsql_driver(database, start_server, users_file, tmp_path):
    go = tool("go", "install Go 1.24+ (Debian: apt-get install golang-go), or run .ci/run")
    load_fixture(database)
    open_server = start_server()
    password_server = start_server(env={"PGFLIGHT_AUTH": "password", "PGFLIGHT_USERS_FILE": str(users_file)})
    env = dict(os.environ)
    env.update({
        "PGFLIGHT_GO_ADDR": f"127.0.0.1:{open_server.port}",
        "PGFLIGHT_GO_AUTH_ADDR": f"127.0.0.1:{password_server.port}",
        "PGFLIGHT_GO_USERS": json.dumps(PASSWORDS),
    })
    # -count=1: never a cached pass (the servers are new every run).
    result = subprocess.run(
        [go, "test", "-count=1", "-v", "./..."],
        cwd=REPO / "tests" / "go", env=env, capture_output=True, text=True, timeout=900,
    )
    print(result.stdout[-20000:], result.stderr[-5000:])
    assert result.returncode == 0, (
        f"go test failed (exit {result.returncode}):\n{result.stdout[-20000:]}\n{result.stderr[-5000:]}"
    )
