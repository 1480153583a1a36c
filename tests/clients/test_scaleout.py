"""Two pgflight processes on loopback addresses of the test's own (127.0.0.2, 127.0.0.3) with
`advertise` naming both: pyarrow.flight follows each endpoint's locations, and when the
instance reading an endpoint dies mid-read, the client's retry on the next location succeeds
and the endpoints still add up to the table as one snapshot."""

from __future__ import annotations

import json
from typing import Callable

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.flight as flight

from conftest import free_port

HOSTS = ("127.0.0.2", "127.0.0.3")


def read_following_locations(
    endpoint: flight.FlightEndpoint, after_first_batch: Callable[[str], None] = lambda uri: None
) -> tuple[pa.Table, list[str]]:
    """What a client that follows locations does: the endpoint read from its first location,
    and from the next one (from the start) when that fails. The table and the locations that
    failed."""
    failed = []
    for location in endpoint.locations:
        uri = location.uri.decode() if isinstance(location.uri, bytes) else location.uri
        client = flight.FlightClient(uri)
        try:
            reader = client.do_get(endpoint.ticket)
            batches = [reader.read_chunk().data]
            after_first_batch(uri)
            batches.extend(chunk.data for chunk in reader)
            return pa.Table.from_batches(batches), failed
        except (flight.FlightError, OSError):
            failed.append(uri)
        finally:
            client.close()
    raise AssertionError(f"every location failed: {failed}")


def test_a_retry_on_another_location_succeeds_when_an_instance_dies_mid_read(
    database, start_server
):
    database.execute(
        "CREATE TABLE t (id bigint PRIMARY KEY, pad text)",
        "INSERT INTO t SELECT g, repeat('p', 200) FROM generate_series(1, 100000) g",
        "ANALYZE t",
    )
    ports = [free_port(), free_port()]
    locations = [f"grpc://{host}:{port}" for host, port in zip(HOSTS, ports)]
    env = {
        "PGFLIGHT_PARTITION_MIN_ROWS": "1000",
        "PGFLIGHT_MAX_PARTITIONS": "2",
        "PGFLIGHT_MAX_CONNECTIONS": "6",
        "PGFLIGHT_BATCH_SIZE": "1000",
        "PGFLIGHT_TICKET_SECRET": "one secret for both instances",
        "PGFLIGHT_ADVERTISE": json.dumps(locations),
    }
    a, b = (
        start_server(env=env, host=host, port=port) for host, port in zip(HOSTS, ports)
    )
    assert a.grpc_uri == locations[0] and b.grpc_uri == locations[1]

    request = json.dumps({"mode": {"fullTable": {"entity": "t"}}})
    info = flight.FlightClient(a.grpc_uri).get_flight_info(
        flight.FlightDescriptor.for_command(request)
    )
    assert len(info.endpoints) == 2
    uris = [[location.uri.decode() for location in e.locations] for e in info.endpoints]
    assert uris == [locations, locations[::-1]], "each endpoint starts on another instance"

    # Writers change the table after planning; the endpoints read as it was planned.
    [(count, total)] = database.query("SELECT count(*), sum(id) FROM t")
    database.execute("UPDATE t SET pad = 'moved' WHERE id % 3 = 0", "DELETE FROM t WHERE id < 500")

    def kill_b(uri: str) -> None:
        if uri == b.grpc_uri:  # the second instance dies mid-read, no goodbye
            b.process.kill()
            b.process.wait()

    second, failed = read_following_locations(info.endpoints[1], kill_b)
    assert failed == [b.grpc_uri], "the read on the dead instance failed, the retry did not"
    first, failed = read_following_locations(info.endpoints[0])
    assert failed == []

    table = pa.concat_tables([first, second])
    assert table.num_rows == count
    assert len(set(table.column("id").to_pylist())) == count
    assert pc.sum(table.column("id")).as_py() == int(total)
