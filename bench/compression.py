#!/usr/bin/env python3
"""pgflight IPC compression benchmark (a benchmark, not a test).

Reads the `wide` table of bench/run.py with pyarrow.flight DoGet three ways — uncompressed,
`x-pgflight-compression: lz4` and `: zstd` — over plain loopback and through a throttling TCP
proxy of its own at 1 Gbit/s and 100 Mbit/s (server → client direction), and reports per run:
bytes on the wire (what the proxy forwarded, or pgflight's `flight_bytes_sent_total{DoGet}` on
plain loopback), wall time, and CPU seconds of the client and of pgflight. Best of --rounds.

Uses run.py's throwaway cluster, tables and server start (`--keep DIR` shares its cluster).
See bench/README.md, "IPC compression".
"""

from __future__ import annotations

import argparse
import json
import re
import socket
import sys
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # noqa: E402  (bench/run.py: cluster, tables, pgflight, CPU accounting)

KINDS = ("none", "lz4", "zstd")
LINKS = {"loopback": None, "1 Gbit/s": 1e9, "100 Mbit/s": 1e8}


class ThrottlingProxy:
    """A TCP proxy on 127.0.0.1 forwarding to `target`; server → client bytes are paced to
    `bits_per_second` (token bucket, 64 KiB bursts) and counted."""

    def __init__(self, target: int, bits_per_second: float):
        self.target = target
        self.rate = bits_per_second / 8
        self.sent = 0
        self.lock = threading.Lock()
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target))
            for s in (client, server):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=self._pump, args=(client, server, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, True), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, paced: bool) -> None:
        started, budget_used = time.perf_counter(), 0
        try:
            while data := src.recv(65536):
                if paced:
                    budget_used += len(data)
                    ahead = budget_used / self.rate - (time.perf_counter() - started)
                    if ahead > 0:
                        time.sleep(ahead)
                    with self.lock:
                        self.sent += len(data)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self.listener.close()


def bytes_sent(port: int) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    m = re.search(r'^flight_bytes_sent_total\{method="DoGet"\} (\S+)$', text, re.M)
    return float(m.group(1)) if m else 0.0


def read_once(flight, port: int, command: bytes, kind: str) -> int:
    client = flight.FlightClient(f"grpc://127.0.0.1:{port}")
    try:
        info = client.get_flight_info(flight.FlightDescriptor.for_command(command))
        options = flight.FlightCallOptions(headers=[(b"x-pgflight-compression", kind.encode())])
        rows = 0
        for endpoint in info.endpoints:
            for chunk in client.do_get(endpoint.ticket, options):
                rows += chunk.data.num_rows
        return rows
    finally:
        client.close()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="200 000 wide rows, one round, loopback and 1 Gbit/s")
    p.add_argument("--rows", type=int, help="rows of the wide table (default 5 000 000, --quick 200 000)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--keep", metavar="DIR", help="keep (or reuse) the throwaway cluster in DIR, as run.py does")
    p.add_argument("--pg-bin")
    p.add_argument("--pgflight", help="pgflight binary (default target/release/pgflight)")
    p.add_argument("--schema", default="bench")
    p.add_argument("--json", metavar="PATH")
    args = p.parse_args(argv)
    rows = args.rows or (200_000 if args.quick else run.FULL_ROWS["wide"])
    rounds = 1 if args.quick else args.rounds
    links = {k: v for k, v in LINKS.items() if not (args.quick and k == "100 Mbit/s")}

    import atexit
    import shutil
    import tempfile

    atexit.register(run._run_cleanups)
    workdir = Path(tempfile.mkdtemp(prefix="pgflight-bench-compression-"))
    run._CLEANUPS.append(lambda: shutil.rmtree(workdir, ignore_errors=True))
    workdir.chmod(0o755)
    pg_bin = run.find_pg_bin(args.pg_bin)
    datadir = Path(args.keep).resolve() if args.keep else workdir / "pgdata"
    cluster = run.Cluster(pg_bin, datadir, run.free_port())
    if not cluster.initialized():
        cluster.init()
    cluster.start()
    psql_env = {k: v for k, v in run.os.environ.items()
                if not k.startswith("PG") or k in ("PGPASSWORD", "PGPASSFILE")}
    psql = run.Psql(run.find_psql(pg_bin), cluster.dsn, psql_env)
    table = run.ensure_table(psql, "wide", rows, args.schema)
    binary = run.find_pgflight(args.pgflight, build=False).resolve()
    server = run.Pgflight(binary, cluster.dsn, None, workdir, {"PGFLIGHT_PARTITION_MIN_ROWS": "1000000000"})
    server.start()
    if "debug" in binary.parts:
        print("bench: NOTE: this is a debug build; its numbers are a smoke test only", flush=True)

    import pyarrow.flight as flight

    command = json.dumps({"mode": {"fullTable": {"entity": f"{args.schema}.{table}"}}}).encode()
    results = []
    for link, rate in links.items():
        proxy = ThrottlingProxy(server.port, rate) if rate else None
        port = proxy.port if proxy else server.port
        for kind in KINDS:
            best = None
            for _ in range(rounds):
                before_wire = proxy.sent if proxy else bytes_sent(server.port)
                c0, s0 = run.client_cpu(False), run.proc_cpu(server.pid)
                t0 = time.perf_counter()
                got = read_once(flight, port, command, kind)
                wall = time.perf_counter() - t0
                c1, s1 = run.client_cpu(False), run.proc_cpu(server.pid)
                wire = (proxy.sent if proxy else bytes_sent(server.port)) - before_wire
                if got != rows:
                    raise RuntimeError(f"{kind} over {link}: {got} rows, expected {rows}")
                r = {"link": link, "compression": kind, "wall_s": wall, "wire_bytes": wire,
                     "client_cpu_s": c1 - c0, "pgflight_cpu_s": s1 - s0}
                if best is None or wall < best["wall_s"]:
                    best = r
            results.append(best)
            print(f"  {link:<11} {kind:<5} {best['wire_bytes'] / 1e6:9.1f} MB  {best['wall_s']:7.3f}s"
                  f"  cpu: client {best['client_cpu_s']:.2f}s pgflight {best['pgflight_cpu_s']:.2f}s", flush=True)
        if proxy:
            proxy.close()

    print(f"\n{rows:,} rows of {args.schema}.{table}, best of {rounds}:\n")
    print("| link | compression | bytes on the wire | wall time | client CPU | pgflight CPU |")
    print("|---|---|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['link']} | {r['compression']} | {r['wire_bytes'] / 1e6:.1f} MB | {r['wall_s']:.2f} s"
              f" | {r['client_cpu_s']:.2f} s | {r['pgflight_cpu_s']:.2f} s |")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
