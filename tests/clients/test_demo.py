"""`pgflight demo`: started as a subprocess on a free port, it finds PostgreSQL, loads the
sample, serves it and prints a Python snippet; the snippet runs as printed with the real
clients; SIGINT stops everything and removes the cluster and its files."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO, clean_env, free_port, pgflight_bin, _http_get

BEGIN = "# ---- pgflight demo: Python snippet ----"
END = "# ---- end of snippet ----"


def _read_until_snippet(process: subprocess.Popen, timeout: float = 120) -> str:
    """stdout up to and including the snippet's last line."""
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.strip() == END:
            return "".join(lines)
    process.kill()
    pytest.fail(f"pgflight demo printed no snippet; stdout:\n{''.join(lines)}\nstderr:\n{process.stderr.read()}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_demo_serves_the_sample_and_cleans_up(tmp_path: Path):
    port = free_port()
    env = clean_env()
    env.pop("PGFLIGHT_LISTEN", None)
    if os.environ.get("PG_BIN"):
        env["PG_BIN"] = os.environ["PG_BIN"]  # the version under test (scripts/pg-versions.sh)
    process = subprocess.Popen(
        [str(pgflight_bin()), "demo", "--listen", f"127.0.0.1:{port}"],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        printed = _read_until_snippet(process)
        assert "PostgreSQL server binaries:" in printed
        # The demo serves as a read-only role, never as the cluster's superuser.
        assert "Serving as the read-only role pgflight_reader" in printed, printed
        cluster_dir = re.search(r"Started a throwaway PostgreSQL on 127\.0\.0\.1:\d+ in (\S+)", printed).group(1)
        assert Path(cluster_dir, "data", "PG_VERSION").is_file()
        postmaster = int(Path(cluster_dir, "data", "postmaster.pid").read_text().split()[0])
        assert _alive(postmaster)
        assert _http_get(f"http://127.0.0.1:{port}/healthz")[0] == 200
        assert _http_get(f"http://127.0.0.1:{port}/readyz")[0] == 200

        snippet = printed[printed.index(BEGIN):]
        assert f'URI = "grpc://127.0.0.1:{port}"' in snippet
        script = tmp_path / "snippet.py"
        script.write_text(snippet)
        ran = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
        assert ran.returncode == 0, ran.stderr
        out = ran.stdout
        # ListFlights: the two tables and the view, with their columns.
        assert "[b'public', b'orders'] ['id', 'customer_id', 'status', 'amount', 'items', 'ordered_at', 'updated_at']" in out
        assert "[b'public', b'customers']" in out and "[b'public', b'customer_totals']" in out
        # The JSON extraction and the path extraction of the view.
        assert "5000 orders:" in out, out
        assert "1000 customers; first:" in out, out
        # ADBC GetInfo.
        assert re.search(r"^pgflight \S+ \(PostgreSQL \d+", out, re.M), out
        # SQL through ADBC: the join + aggregate over all six countries, and the `?` query,
        # whose ids follow from the sample's generator (customer_id = 1 + g * 7919 % 1000).
        assert "6 countries; top: [{'country': " in out, out
        ids = [g for g in range(1, 5001) if 1 + (g * 7919) % 1000 == 42]
        assert f"{len(ids)} orders of customer 42: {ids}" in out, out

        process.send_signal(signal.SIGINT)
        rest, errors = process.communicate(timeout=60)
        assert process.returncode == 0, errors
        assert f"Stopped PostgreSQL and removed {cluster_dir}" in rest
        assert "partly" not in rest
        assert not Path(cluster_dir).exists()
        assert not _alive(postmaster)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_readme_first_command_is_the_debug_build_this_suite_runs():
    """README's first command builds the debug binary (minutes cold, not half an hour), the one
    scripts/test.sh builds and the test above runs: the demo is tested as a newcomer runs it."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Try it: `pgflight demo`"):]
    first = re.search(r"```sh\n(.*?)\n", section).group(1)
    assert first.split("#")[0].split() == ["cargo", "run", "--", "demo"], first
