"""Parallel endpoints with pyarrow.flight: a large table's endpoints fetched side by side in
threads, each on its own connection, add up to exactly the table."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.flight as flight


def test_endpoints_fetched_in_parallel_threads_add_up_to_the_table(database, start_server):
    database.execute(
        "CREATE TABLE events (id bigint PRIMARY KEY, kind text, at timestamptz)",
        "INSERT INTO events SELECT g, 'k' || (g % 13), timestamptz '2024-01-01' + g * interval '1 min'"
        " FROM generate_series(1, 200000) g",
        "DELETE FROM events WHERE id % 11 = 0",
        "ANALYZE events",
    )
    server = start_server(
        env={"PGFLIGHT_PARTITION_MIN_ROWS": "10000", "PGFLIGHT_MAX_PARTITIONS": "4", "PGFLIGHT_MAX_CONNECTIONS": "6"}
    )
    request = json.dumps({"mode": {"fullTable": {"entity": "events"}}})
    info = flight.FlightClient(server.grpc_uri).get_flight_info(flight.FlightDescriptor.for_command(request))
    assert len(info.endpoints) == 4
    assert all(len(endpoint.locations) == 0 for endpoint in info.endpoints)

    def fetch(endpoint: flight.FlightEndpoint) -> pa.Table:
        client = flight.FlightClient(server.grpc_uri)  # one connection per thread
        try:
            return client.do_get(endpoint.ticket).read_all()
        finally:
            client.close()

    with ThreadPoolExecutor(max_workers=len(info.endpoints)) as pool:
        parts = list(pool.map(fetch, info.endpoints))
    assert all(part.num_rows > 0 for part in parts), [part.num_rows for part in parts]
    table = pa.concat_tables(parts)
    [(count, total, kinds)] = database.query("SELECT count(*), sum(id), count(DISTINCT kind) FROM events")
    assert table.num_rows == count
    assert len(set(table.column("id").to_pylist())) == count
    assert pc.sum(table.column("id")).as_py() == int(total)
    assert len(pc.unique(table.column("kind"))) == kinds
    assert table.schema == info.schema
