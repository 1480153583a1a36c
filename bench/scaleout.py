#!/usr/bin/env python3
"""pgflight scale-out benchmark (a benchmark, not a test).

One table (the `wide` table of bench/run.py, 5 000 000 rows by default) read four ways, on the
same PostgreSQL:

  copy        `psql -c "COPY (SELECT * FROM t) TO STDOUT (FORMAT binary)"` > /dev/null
  1 endpoint  GetFlightInfo with "partitions": 1 on instance A, DoGet on A
  2 endpoints "partitions": 2, planned on A, each endpoint read (in its own thread) on the
              instance its first location names: one on A, one on B
  4 endpoints "partitions": 4, the same: two on A, two on B

Two `pgflight serve` instances (A on 127.0.0.2, B on 127.0.0.3) share a ticket_secret and
advertise each other, so the endpoints of one read are spread over both. Each mode runs
--rounds times (order rotated each round); best and median wall time, Mrows/s, the ratio to
one COPY and the CPU seconds of A, B and PostgreSQL in the median run are printed.

It reuses bench/run.py's cluster, loading and process helpers (same flags: --keep, --dsn,
--pg-bin, --pgflight). A debug binary is accepted and said to be one (its numbers are a smoke
test only); the numbers that count come from `cargo build --release`.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench  # noqa: E402  (bench/run.py: cluster, tables, processes)

HOSTS = ("127.0.0.2", "127.0.0.3")
MODES = ("copy", "1 endpoint", "2 endpoints", "4 endpoints")


def start_instances(binary: Path, dsn: str, workdir: Path, batch_size: int | None,
                    advertise: bool) -> list[bench.Pgflight]:
    """Two pgflight instances on HOSTS, one ticket_secret, advertising each other (unless
    `advertise` is false: a binary older than the key)."""
    instances = []
    for i, _ in enumerate(HOSTS):
        directory = workdir / f"pgflight-{i}"
        directory.mkdir()
        instances.append(bench.Pgflight(binary, dsn, batch_size, directory, {}))
    locations = [f"grpc://{host}:{p.port}" for host, p in zip(HOSTS, instances)]
    for host, p in zip(HOSTS, instances):
        p.env.update({
            "PGFLIGHT_LISTEN": f"{host}:{p.port}",
            "PGFLIGHT_TICKET_SECRET": "bench: one secret for both instances",
            "PGFLIGHT_MAX_PARTITIONS": "4",
            "PGFLIGHT_MAX_CONNECTIONS": "8",
        })
        if advertise:
            p.env["PGFLIGHT_ADVERTISE"] = json.dumps(locations)
    for host, p in zip(HOSTS, instances):
        start_on(p, host)
    return instances


def start_on(p: bench.Pgflight, host: str) -> None:
    """bench.Pgflight.start waits for /healthz on 127.0.0.1; these listen on `host`."""
    log = open(p.workdir / "pgflight.log", "ab")
    p.proc = subprocess.Popen([str(p.binary), "serve"], env=p.env, cwd=p.workdir, stdout=log, stderr=log,
                              start_new_session=True, preexec_fn=bench._die_with_parent)
    log.close()
    bench._CLEANUPS.append(lambda: bench.stop_process(p.proc, "pgflight"))
    import urllib.request
    url = f"http://{host}:{p.port}/healthz"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if p.proc.poll() is not None:
            sys.exit(f"bench: pgflight exited with {p.proc.returncode}:\n"
                     f"{(p.workdir / 'pgflight.log').read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    print(f"bench: pgflight pid {p.proc.pid} on {host}:{p.port}", flush=True)
                    return
        except OSError:
            pass
        time.sleep(0.1)
    sys.exit(f"bench: pgflight did not answer {url}")


def read_split(flight, instances: list[str], entity: str, partitions: int) -> tuple[int, list[str]]:
    """GetFlightInfo on the first instance, then every endpoint at once, each on its first
    location; a binary without `advertise` gives none, and endpoint i is then read on instance
    i mod n (the same spread, done by the client). Rows received and where each was read."""
    request = json.dumps({"mode": {"fullTable": {"entity": entity}}, "partitions": partitions})
    client = flight.FlightClient(instances[0])
    info = client.get_flight_info(flight.FlightDescriptor.for_command(request))
    client.close()

    def fetch(indexed) -> tuple[int, str]:
        index, endpoint = indexed
        if endpoint.locations:
            uri = endpoint.locations[0].uri.decode()
        else:
            uri = instances[index % len(instances)]
        reader_client = flight.FlightClient(uri)
        try:
            reader = reader_client.do_get(endpoint.ticket)
            rows = 0
            for chunk in reader:
                rows += chunk.data.num_rows
            return rows, uri
        finally:
            reader_client.close()

    with ThreadPoolExecutor(max_workers=len(info.endpoints)) as pool:
        parts = list(pool.map(fetch, enumerate(info.endpoints)))
    return sum(rows for rows, _ in parts), [uri for _, uri in parts]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=5_000_000, help="rows of the wide table (default 5 000 000)")
    p.add_argument("--rounds", type=int, default=3, help="runs per mode (default 3)")
    p.add_argument("--dsn", help="use this PostgreSQL instead of starting one")
    p.add_argument("--keep", metavar="DIR", help="keep the throwaway cluster (and its table) in DIR")
    p.add_argument("--schema", default="bench")
    p.add_argument("--pg-bin")
    p.add_argument("--pgflight", help="pgflight binary (default: target/release/pgflight)")
    p.add_argument("--no-build", action="store_true")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--no-advertise", action="store_true",
                   help="do not set advertise (a binary older than the key): the client spreads the"
                        " endpoints over the instances itself, endpoint i on instance i mod 2")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, bench._on_signal)
    atexit.register(bench._run_cleanups)
    try:
        return _main(args)
    except bench.Interrupted as err:
        print(f"\nbench: interrupted ({err}); stopping what it started", file=sys.stderr)
        return 130
    finally:
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(s, signal.SIG_IGN)
        bench._run_cleanups()


def _main(args) -> int:
    binary = bench.find_pgflight(args.pgflight, not args.no_build).resolve()
    workdir = Path(tempfile.mkdtemp(prefix="pgflight-scaleout-"))
    bench._CLEANUPS.append(lambda: shutil.rmtree(workdir, ignore_errors=True))
    pg_bin = None
    pgcpu = bench.PgCpu(None)
    if args.dsn:
        dsn = args.dsn
    else:
        pg_bin = bench.find_pg_bin(args.pg_bin)
        datadir = Path(args.keep).resolve() if args.keep else workdir / "pgdata"
        workdir.chmod(0o755)
        cluster = bench.Cluster(pg_bin, datadir, bench.free_port())
        if not cluster.initialized():
            cluster.init()
        cluster.start()
        dsn = cluster.dsn
        pgcpu = bench.PgCpu(cluster.proc.pid)
    psql_bin = bench.find_psql(pg_bin)
    psql_env = {k: v for k, v in os.environ.items() if not k.startswith("PG") or k in ("PGPASSWORD", "PGPASSFILE")}
    sql = bench.Psql(psql_bin, dsn, psql_env)
    table = bench.ensure_table(sql, "wide", args.rows, args.schema)
    entity = f"{args.schema}.{table}"

    a, b = start_instances(binary, dsn, workdir, args.batch_size, not args.no_advertise)
    debug = "debug" in binary.parts
    if debug:
        print("bench: NOTE: this is a debug build; its numbers are a smoke test only", flush=True)
    import pyarrow.flight as flight  # late: no pyarrow threads before the forks above

    instances = [f"grpc://{host}:{p.port}" for host, p in zip(HOSTS, (a, b))]
    copy_sql = f"COPY (SELECT * FROM {entity}) TO STDOUT (FORMAT binary)"

    def run(mode: str) -> tuple[int, list[str]]:
        if mode == "copy":
            with open(os.devnull, "wb") as sink:
                subprocess.run([psql_bin, "-X", "-q", "-d", dsn, "-c", copy_sql], stdout=sink, check=True,
                               env=psql_env)
            return args.rows, ["psql"]
        return read_split(flight, instances, entity, int(mode.split()[0]))

    for mode in MODES:  # warm-up, unmeasured; checks the row counts once
        rows, where = run(mode)
        if rows != args.rows:
            sys.exit(f"bench: {mode} read {rows:,} rows, not {args.rows:,}")
        print(f"bench: warm-up {mode:<12} read on {', '.join(where)}", flush=True)

    runs: dict[str, list[dict]] = {m: [] for m in MODES}
    for rnd in range(args.rounds):
        order = MODES[rnd % len(MODES):] + MODES[: rnd % len(MODES)]
        for mode in order:
            before = (bench.proc_cpu(a.pid), bench.proc_cpu(b.pid), pgcpu.sample())
            backends = pgcpu.children()
            t0 = time.perf_counter()
            run(mode)
            wall = time.perf_counter() - t0
            pgcpu.settle(backends)
            after = (bench.proc_cpu(a.pid), bench.proc_cpu(b.pid), pgcpu.sample())
            cpu = [None if x is None or y is None else y - x for x, y in zip(before, after)]
            runs[mode].append({"wall": wall, "cpu_a": cpu[0], "cpu_b": cpu[1], "cpu_pg": cpu[2]})
            print(f"  round {rnd + 1} {mode:<12} {wall:7.3f}s {args.rows / wall / 1e6:6.2f} Mrows/s", flush=True)

    copy_median = statistics.median(r["wall"] for r in runs["copy"])
    print(f"\n{entity}: {args.rows:,} rows, {args.rounds} rounds, pgflight {binary}"
          f"{' (DEBUG build)' if debug else ''}, {os.cpu_count()} CPUs")
    print(f"{'mode':<12} {'best s':>8} {'median s':>9} {'Mrows/s':>8} {'vs COPY':>8}"
          f" {'cpu A':>6} {'cpu B':>6} {'cpu pg':>7}")
    summary = {}
    for mode in MODES:
        walls = sorted(r["wall"] for r in runs[mode])
        median = statistics.median(walls)
        mid = sorted(runs[mode], key=lambda r: r["wall"])[len(walls) // 2]
        fmt = lambda x: "-" if x is None else f"{x:.2f}"  # noqa: E731
        print(f"{mode:<12} {walls[0]:8.3f} {median:9.3f} {args.rows / median / 1e6:8.2f}"
              f" {copy_median / median:7.2f}x {fmt(mid['cpu_a']):>6} {fmt(mid['cpu_b']):>6} {fmt(mid['cpu_pg']):>7}")
        summary[mode] = {"best_s": walls[0], "median_s": median, "mrows_per_s": args.rows / median / 1e6,
                         "vs_copy": copy_median / median, **{k: mid[k] for k in ("cpu_a", "cpu_b", "cpu_pg")}}
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": args.rows, "debug": debug, "modes": summary}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
