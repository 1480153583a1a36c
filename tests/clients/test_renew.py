"""RenewFlightEndpoint (pyarrow, raw DoAction): a split request's endpoints carry the expiry of
their shared snapshot; renewing one keeps the snapshot `snapshot_ttl` longer, so a slow reader
reads it after the original snapshot_ttl has passed, the union still one consistent table;
renewals never reach beyond `snapshot_max_ttl` after planning, and an expired endpoint answers
the error a DoGet after expiry does."""

from __future__ import annotations

import json
import time

import pyarrow as pa
import pyarrow.flight as flight
import pytest

from flightsql import length_delimited

TTL, MAX_TTL = 2.0, 5.0


def renew(client: flight.FlightClient, endpoint: flight.FlightEndpoint) -> flight.FlightEndpoint:
    """RenewFlightEndpoint { endpoint = 1 }; the answer is the renewed FlightEndpoint."""
    body = length_delimited(1, endpoint.serialize())
    [result] = list(client.do_action(flight.Action("RenewFlightEndpoint", body)))
    return flight.FlightEndpoint.deserialize(result.body.to_pybytes())


def expiry(endpoint: flight.FlightEndpoint) -> float:
    """The endpoint's expiration time, in seconds since the epoch."""
    return endpoint.expiration_time.as_py().timestamp()


def read(uri: str, endpoint: flight.FlightEndpoint) -> pa.Table:
    client = flight.FlightClient(uri)
    try:
        return client.do_get(endpoint.ticket).read_all()
    finally:
        client.close()


def plan(client: flight.FlightClient) -> tuple[flight.FlightInfo, float]:
    request = {"mode": {"fullTable": {"entity": "events"}}, "partitions": 2}
    planned = time.time()
    info = client.get_flight_info(flight.FlightDescriptor.for_command(json.dumps(request)))
    assert len(info.endpoints) == 2
    return info, planned


def test_renewing_an_endpoint_keeps_its_snapshot_past_snapshot_ttl(database, start_server):
    database.execute(
        "CREATE TABLE events (id bigint PRIMARY KEY, kind text)",
        "INSERT INTO events SELECT g, 'k' || (g % 7) FROM generate_series(1, 20000) g",
        "ANALYZE events",
    )
    server = start_server(
        env={"PGFLIGHT_SNAPSHOT_TTL": f"{TTL:.0f}s", "PGFLIGHT_SNAPSHOT_MAX_TTL": f"{MAX_TTL:.0f}s"}
    )
    client = flight.FlightClient(server.grpc_uri)
    info, planned = plan(client)
    first, second = info.endpoints
    assert planned + TTL - 1 <= expiry(second) <= planned + TTL + 1

    part = read(server.grpc_uri, first)
    # Rows written now are not in the snapshot the endpoints read.
    database.execute("INSERT INTO events SELECT g, 'late' FROM generate_series(20001, 20100) g")
    renewed = second
    for _ in range(3):  # the slow reader renews every second, past the original expiry
        time.sleep(1.0)
        renewed = renew(client, renewed)
        assert expiry(renewed) > time.time() + TTL - 1.2
    assert time.time() > planned + TTL + 0.5  # unrenewed, the snapshot would be gone
    table = pa.concat_tables([part, read(server.grpc_uri, renewed)])
    assert table.num_rows == 20000
    assert sorted(table.column("id").to_pylist()) == list(range(1, 20001))

    # Renewals stop at snapshot_max_ttl after planning; then the endpoint has expired.
    info, planned = plan(client)
    first, second = info.endpoints
    time.sleep(1.0)
    once = renew(client, second)
    assert expiry(once) > expiry(second) + 0.5
    time.sleep(1.5)
    twice = renew(client, once)
    assert expiry(twice) > expiry(once) + 0.5
    time.sleep(1.5)
    capped = renew(client, twice)  # would be 2 s from now, past snapshot_max_ttl
    assert expiry(capped) <= planned + MAX_TTL + 0.5
    assert expiry(capped) < time.time() + TTL - 0.5
    time.sleep(max(0.0, planned + MAX_TTL + 0.8 - time.time()))
    # FAILED_PRECONDITION, which pyarrow raises as ArrowInvalid.
    with pytest.raises(pa.ArrowInvalid, match="request expired"):
        read(server.grpc_uri, capped)
    with pytest.raises(pa.ArrowInvalid, match="request expired"):
        renew(client, capped)


def test_only_split_endpoints_renew(database, server):
    database.execute("CREATE TABLE small (id int)", "INSERT INTO small VALUES (1)")
    client = flight.FlightClient(server.grpc_uri)
    request = json.dumps({"mode": {"fullTable": {"entity": "small"}}})
    info = client.get_flight_info(flight.FlightDescriptor.for_command(request))
    [endpoint] = info.endpoints
    assert endpoint.expiration_time is None
    with pytest.raises(pa.ArrowInvalid, match="nothing to renew"):
        renew(client, endpoint)
    with pytest.raises(pa.ArrowInvalid, match="not a RenewFlightEndpointRequest"):
        list(client.do_action(flight.Action("RenewFlightEndpoint", b"\xff\xff")))
    with pytest.raises(pa.ArrowInvalid, match="unknown action"):
        list(client.do_action(flight.Action("NoSuchAction", b"")))


def test_list_actions_names_cancel_and_renew(server):
    actions = {a.type for a in flight.FlightClient(server.grpc_uri).list_actions()}
    assert {"CancelFlightInfo", "RenewFlightEndpoint", "CancelQuery"} <= actions
