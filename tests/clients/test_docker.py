"""The Dockerfile's runtime stage, checked without a Docker engine: the built binary, copied
the way the image holds it and run as the image's non-root user from `/`, with ONLY the
seed's `docker run -e POSTGRES_…` variables (no configuration file), serves Flight and
answers the image's own HEALTHCHECK command."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pyarrow.flight as flight
import pytest

from conftest import READER, READER_PASSWORD, REPO, _http_get, free_port, pgflight_bin

DOCKERFILE = REPO / "Dockerfile"


def runtime_stage() -> list[str]:
    """The instructions of the last stage, continuation lines joined."""
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    last_from = max(i for i, line in enumerate(lines) if line.upper().startswith("FROM "))
    return lines[last_from:]


def instruction(stage: list[str], name: str) -> list[str]:
    return [line[len(name) + 1 :].strip() for line in stage if line.upper().startswith(name + " ")]


def test_dockerfile_is_multi_stage_non_root_and_exposes_8080():
    text = DOCKERFILE.read_text()
    assert len(re.findall(r"^FROM ", text, re.M)) >= 2
    assert "cargo build --release" in text
    stage = runtime_stage()
    assert "slim" in stage[0]
    (user,) = instruction(stage, "USER")
    assert user not in ("root", "0")
    assert instruction(stage, "EXPOSE") == ["8080"]
    assert any("/healthz" in h for h in instruction(stage, "HEALTHCHECK"))
    assert json.loads(instruction(stage, "ENTRYPOINT")[0]) == ["pgflight"]
    assert json.loads(instruction(stage, "CMD")[0]) == ["serve"]
    assert not instruction(stage, "ENV"), "the image must need no environment of its own"


def test_runtime_stage_serves_with_only_the_seed_env(database, tmp_path):
    stage = runtime_stage()
    uid = int(instruction(stage, "USER")[0])
    command = json.loads(instruction(stage, "ENTRYPOINT")[0]) + json.loads(instruction(stage, "CMD")[0])
    healthcheck = instruction(stage, "HEALTHCHECK")[0]
    healthcheck = json.loads(healthcheck[healthcheck.index("CMD") + 3 :].strip())

    # The image's layout: the binary in a root-owned bin directory, readable by everyone.
    image = Path(tempfile.mkdtemp(prefix="pgflight-image-"))
    try:
        os.chmod(image, 0o755)
        (image / "bin").mkdir(mode=0o755)
        binary = image / "bin" / command[0]
        shutil.copy(pgflight_bin(), binary)
        os.chmod(binary, 0o755)

        cluster = database.cluster
        env = {
            "PATH": f"{image / 'bin'}:/usr/bin:/bin",
            "POSTGRES_HOST": cluster.host,
            "POSTGRES_PORT": str(cluster.port),
            "POSTGRES_DATABASE": database.name,
            "POSTGRES_USERNAME": READER,
            "POSTGRES_PASSWORD": READER_PASSWORD,
        }
        # The container listens on 0.0.0.0:8080 by default; here 8080 may be taken, so unless
        # it is free the one extra variable moves the port, and the HEALTHCHECK follows.
        port = 8080
        with socket.socket() as probe:
            try:
                probe.bind(("0.0.0.0", 8080))
            except OSError:
                port = free_port()
                env["PGFLIGHT_LISTEN"] = f"0.0.0.0:{port}"
        healthcheck = [part.replace("/8080", f"/{port}") for part in healthcheck]
        as_image_user = {"user": uid, "group": uid, "extra_groups": []} if os.geteuid() == 0 else {}
        log = tmp_path / "pgflight.log"
        with open(log, "wb") as out:
            process = subprocess.Popen(
                command, cwd="/", env=env, stdout=out, stderr=subprocess.STDOUT, **as_image_user
            )
        try:
            deadline = time.monotonic() + 30
            while True:
                assert process.poll() is None, log.read_text()
                health = subprocess.run(healthcheck, env=env, capture_output=True, timeout=5)
                if health.returncode == 0:
                    break
                assert time.monotonic() < deadline, f"HEALTHCHECK never passed:\n{log.read_text()}"
                time.sleep(0.1)
            assert _http_get(f"http://127.0.0.1:{port}/readyz")[0] == 200
            database.execute("CREATE TABLE t (id int)", "INSERT INTO t VALUES (1), (2)")
            client = flight.FlightClient(f"grpc://127.0.0.1:{port}")
            request = json.dumps({"mode": {"fullTable": {"entity": "t"}}})
            info = client.get_flight_info(flight.FlightDescriptor.for_command(request))
            assert client.do_get(info.endpoints[0].ticket).read_all().num_rows == 2
            # No part of the passwords (the word "secret" alone is fine: the start-up log names the
            # ticket_secret setting when it is unset).
            text = log.read_text()
            assert cluster.password not in text and "-secret-" not in text, text
            assert READER_PASSWORD not in text, text
        finally:
            process.terminate()
            assert process.wait(timeout=15) == 0, log.read_text()
    finally:
        shutil.rmtree(image, ignore_errors=True)
