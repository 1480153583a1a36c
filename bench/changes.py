#!/usr/bin/env python3
"""Change data capture benchmark (a benchmark, not a test): changes per second of one update
burst (`UPDATE burst SET v = v + 1` over every row, one transaction), read

  pgflight       a `changes` request through a running `pgflight serve` (GetFlightInfo, then
                 DoGet read into one Arrow table with pyarrow.flight)
  pg_recvlogical the same pgoutput stream (binary values) over the replication protocol, to
                 /dev/null: the limit, PostgreSQL decoding with nothing built from it

Each round makes both slots, runs the burst, reads it with each, and drops the slots; the best
and the median of --rounds are reported. It starts its own throwaway PostgreSQL cluster with
wal_level = logical (bench/run.py's settings otherwise) and removes it on exit. See
bench/README.md.
"""

from __future__ import annotations

import argparse
import atexit
import json
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as common  # noqa: E402  (bench/run.py: cluster, pgflight and cleanup helpers)

import pyarrow.flight as flight  # noqa: E402

PUBLICATION = "bench_pf"  # pgflight's slot and publication (named alike)
RECV_SLOT = "bench_rl"


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=1_000_000, help="rows updated by the burst (default 1000000)")
    p.add_argument("--rounds", type=int, default=3, help="rounds (default 3)")
    p.add_argument("--pgflight", help="pgflight binary (default target/release/pgflight)")
    p.add_argument("--no-build", action="store_true", help="never run cargo build --release")
    p.add_argument("--pg-bin", help="PostgreSQL server binaries (default: PG_BIN, pg_config, newest installed)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, common._on_signal)
    atexit.register(common._run_cleanups)
    try:
        return _main(args)
    except common.Interrupted as err:
        print(f"\nbench: interrupted ({err}); stopping what it started", file=sys.stderr)
        return 130
    finally:
        common._run_cleanups()


def _main(args) -> int:
    binary = common.find_pgflight(args.pgflight, not args.no_build)
    pg_bin = common.find_pg_bin(args.pg_bin)
    common.PG_SETTINGS.update({"wal_level": "logical", "max_wal_senders": "10",
                               "max_replication_slots": "10"})
    workdir = Path(tempfile.mkdtemp(prefix="pgflight-bench-cdc-"))
    common._CLEANUPS.append(lambda: shutil.rmtree(workdir, ignore_errors=True))
    workdir.chmod(0o755)  # PostgreSQL runs as `postgres` when this script is root
    cluster = common.Cluster(pg_bin, workdir / "data", common.free_port())
    cluster.init()
    cluster.start()
    psql = common.Psql(common.find_psql(pg_bin), cluster.dsn, {})
    psql.script(
        f"CREATE TABLE burst (id bigint PRIMARY KEY, v int NOT NULL, note text);\n"
        f"INSERT INTO burst SELECT g, 0, 'row ' || g FROM generate_series(1, {args.rows}) g;\n"
        f"CREATE PUBLICATION {PUBLICATION} FOR TABLE burst;\n")
    server = common.Pgflight(binary, cluster.dsn, None, workdir, {})
    server.start()
    client = flight.FlightClient(f"grpc://127.0.0.1:{server.port}")
    recvlogical = str(pg_bin / "pg_recvlogical")
    conn = ["-d", cluster.dsn]

    def changes(cursor, create=False):
        request = {"mode": {"changes": {"entity": "burst", "slot": PUBLICATION, "cursor": cursor,
                                        "create": create}}}
        info = client.get_flight_info(flight.FlightDescriptor.for_command(json.dumps(request)))
        table = client.do_get(info.endpoints[0].ticket).read_all()
        return table, json.loads(info.app_metadata)["cursor"]

    results = {"pgflight": [], "pg_recvlogical": []}
    for round_ in range(1, args.rounds + 1):
        _, cursor = changes(None, create=True)
        subprocess.run([recvlogical, *conn, "-S", RECV_SLOT, "-P", "pgoutput", "--create-slot"], check=True)
        t0 = time.monotonic()
        psql.query("SET synchronous_commit = on; UPDATE burst SET v = v + 1")
        burst = time.monotonic() - t0
        end = psql.query("SELECT pg_current_wal_flush_lsn()")

        t0 = time.monotonic()
        table, _ = changes(cursor)
        pf = time.monotonic() - t0
        ops = table.column("_op")
        if table.num_rows != args.rows or ops.null_count or set(ops.to_pylist()) != {"update"}:
            sys.exit(f"bench: pgflight read {table.num_rows} rows, expected {args.rows} updates")
        del table

        t0 = time.monotonic()
        subprocess.run([recvlogical, *conn, "-S", RECV_SLOT, "--start", "-E", end, "-f", "/dev/null",
                        "--no-loop", "-o", "proto_version=1", "-o", f"publication_names={PUBLICATION}",
                        "-o", "binary=true"], check=True)
        rl = time.monotonic() - t0

        client.do_action(flight.Action("DropChangeSlot", json.dumps({"slot": PUBLICATION}).encode()))
        subprocess.run([recvlogical, *conn, "-S", RECV_SLOT, "--drop-slot"], check=True)
        # DropChangeSlot dropped the publication too (the superuser owns it): make it again.
        psql.query(f"CREATE PUBLICATION {PUBLICATION} FOR TABLE burst")
        results["pgflight"].append(pf)
        results["pg_recvlogical"].append(rl)
        print(f"bench: round {round_}: burst {burst:.2f}s, pgflight {pf:.2f}s, pg_recvlogical {rl:.2f}s",
              flush=True)

    print(f"\n{args.rows:,} updates in one transaction; changes per second (best / median of {args.rounds})")
    print("| reader | best | median | vs pg_recvlogical (median) |")
    print("|---|---|---|---|")
    limit = statistics.median(results["pg_recvlogical"])
    for name, times in results.items():
        best, median = min(times), statistics.median(times)
        print(f"| {name} | {args.rows / best:,.0f}/s | {args.rows / median:,.0f}/s | {limit / median:.2f}× |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
