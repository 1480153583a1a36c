"""Flight over TLS and mutual TLS with real clients: pyarrow.flight and the ADBC Flight SQL
driver. Certificates are made for the run with the openssl command."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import adbc_driver_flightsql
import adbc_driver_flightsql.dbapi as flightsql
import pyarrow.flight as flight
import pytest


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("certs")
    for ca in ("ca", "other-ca"):
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={ca}",
                "-keyout", f"{ca}.key", "-out", f"{ca}.pem", cwd=d)
    (d / "server.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    (d / "client.ext").write_text("extendedKeyUsage=clientAuth\n")
    for name, ca, ext in (("server", "ca", "server.ext"), ("client", "ca", "client.ext"),
                          ("stranger", "other-ca", "client.ext")):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}", "-keyout", f"{name}.key",
                "-out", f"{name}.csr", cwd=d)
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
                "-CAcreateserial", "-days", "2", "-extfile", ext, "-out", f"{name}.pem", cwd=d)
    return {p.stem + p.suffix.replace(".", "_"): p for p in d.iterdir()}


def full_table(entity: str) -> flight.FlightDescriptor:
    return flight.FlightDescriptor.for_command(json.dumps({"mode": {"fullTable": {"entity": entity}}}))


def read_rows(client: flight.FlightClient) -> int:
    info = client.get_flight_info(full_table("t"))
    return client.do_get(info.endpoints[0].ticket).read_all().num_rows


@pytest.fixture
def table(database):
    database.execute("CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 4) g")
    return database


def tls_env(certs, mutual: bool) -> dict[str, str]:
    env = {"PGFLIGHT_TLS_CERT": str(certs["server_pem"]), "PGFLIGHT_TLS_KEY": str(certs["server_key"])}
    if mutual:
        env["PGFLIGHT_TLS_CLIENT_CA"] = str(certs["ca_pem"])
    return env


def test_pyarrow_over_tls_and_plaintext_refused(table, start_server, certs):
    server = start_server(env=tls_env(certs, mutual=False))
    uri = f"grpc+tls://localhost:{server.port}"
    client = flight.FlightClient(uri, tls_root_certs=certs["ca_pem"].read_bytes())
    assert read_rows(client) == 4
    with pytest.raises(flight.FlightError):
        read_rows(flight.FlightClient(f"grpc://127.0.0.1:{server.port}"))


def test_pyarrow_mutual_tls(table, start_server, certs):
    server = start_server(env=tls_env(certs, mutual=True))
    uri = f"grpc+tls://localhost:{server.port}"
    root = certs["ca_pem"].read_bytes()
    good = flight.FlightClient(uri, tls_root_certs=root, cert_chain=certs["client_pem"].read_bytes(),
                               private_key=certs["client_key"].read_bytes())
    assert read_rows(good) == 4
    for kwargs in ({}, {"cert_chain": certs["stranger_pem"].read_bytes(),
                        "private_key": certs["stranger_key"].read_bytes()}):
        with pytest.raises(flight.FlightError):
            read_rows(flight.FlightClient(uri, tls_root_certs=root, **kwargs))


def test_adbc_over_tls_and_mutual_tls(table, start_server, certs):
    server = start_server(env=tls_env(certs, mutual=True))
    uri = f"grpc+tls://localhost:{server.port}"
    options = {
        adbc_driver_flightsql.DatabaseOptions.TLS_ROOT_CERTS.value: certs["ca_pem"].read_text(),
        adbc_driver_flightsql.DatabaseOptions.MTLS_CERT_CHAIN.value: certs["client_pem"].read_text(),
        adbc_driver_flightsql.DatabaseOptions.MTLS_PRIVATE_KEY.value: certs["client_key"].read_text(),
    }
    with flightsql.connect(uri, db_kwargs=options, autocommit=True) as conn:
        assert conn.adbc_get_info()["vendor_name"] == "pgflight"
    del options[adbc_driver_flightsql.DatabaseOptions.MTLS_CERT_CHAIN.value]
    del options[adbc_driver_flightsql.DatabaseOptions.MTLS_PRIVATE_KEY.value]
    with pytest.raises(Exception):
        with flightsql.connect(uri, db_kwargs=options, autocommit=True) as conn:
            conn.adbc_get_info()
