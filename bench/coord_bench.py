#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Coordinator benchmark (not a test): N simulated long-poll nodes against SQLite and
PostgreSQL. Reports registrations per second, the time from one change to the last affected
node told (p50, p99 over several changes), and server memory, as JSON and a table.

  bench/coord_bench.py BUILD/coord/meshgate-coord [--nodes 1000,10000] [--stores sqlite,postgres]
                       [--changes 20] [--out bench/out/coord.json]

Topology: every node is a client that may reach tag:hub nodes (10 hubs); a change to a hub
reaches every client, which is the worst case for fan-out. The server runs on one core
(taskset) when taskset is available.
"""
import argparse
import asyncio
import concurrent.futures
import json
import os
import resource
import shutil
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "coord"))

from asyncmap import open_all, percentile, wait_all  # noqa: E402
from coordlib import Node, Server, cleanup, tempdir  # noqa: E402
from pglib import Postgres, pg_bindir  # noqa: E402

HUBS = 10


def register_many(s, key, count, workers=8):
    def one(i):
        n = Node(s, f"c{i}")
        n.register(key)
        return n
    with concurrent.futures.ThreadPoolExecutor(workers) as ex:
        return list(ex.map(one, range(count)))


async def measure(s, hubs, clients, changes):
    streams, tasks = await open_all(s.port, [c.cred for c in clients],
                                    {"endpoints": ["198.51.100.7:41641"], "routes": []})
    failed = sum(1 for st in streams if st.error)
    loop = asyncio.get_running_loop()
    lat_last = []
    for i in range(changes):
        hub = hubs[i % len(hubs)]
        ep = f"203.0.113.{i % 250 + 1}:{20000 + i}"
        t0 = time.time()
        fut = loop.run_in_executor(None, lambda h=hub, e=ep: h.poll_map(endpoints=[e]))
        hits = await wait_all(streams, lambda st, k=hub.key, e=ep:
                              st.peers.get(k, {}).get("endpoints") == [e], timeout=60)
        await fut
        told = [h - t0 for h in hits if h is not None]
        lat_last.append(max(told) if len(told) == len(streams) else float("inf"))
    rss = s.rss_kib()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return {"streams_failed": failed, "change_to_last_told_p50_ms": percentile(lat_last, 50) * 1000,
            "change_to_last_told_p99_ms": percentile(lat_last, 99) * 1000,
            "server_rss_mib": rss / 1024.0}


def run_one(binary, store_kind, n, changes, d, pg):
    url = None
    if store_kind == "postgres":
        url = pg.createdb(f"bench_{n}")
    s = Server(binary, d, store=url, name=f"{store_kind}-{n}",
               extra={"sqlite_synchronous": "full"})
    s.bootstrap_key()
    s.start()
    if shutil.which("taskset"):
        os.system(f"taskset -pc 0 {s.proc.pid} >/dev/null")
    try:
        s.create_user("bench")
        s.set_policy({"tagOwners": {"tag:hub": ["bench"]},
                      "acls": [{"action": "accept", "src": ["bench"], "dst": ["tag:hub:*"]}]})
        hubkey = s.create_key("bench", tags=["tag:hub"])
        hubs = [Node(s, f"hub{i}") for i in range(HUBS)]
        for h in hubs:
            h.register(hubkey)
        t = time.time()
        clients = register_many(s, s.create_key("bench"), n)
        reg_rate = n / (time.time() - t)
        res = asyncio.run(measure(s, hubs, clients, changes))
        res.update({"store": store_kind, "nodes": n, "registrations_per_s": reg_rate})
        return res
    finally:
        s.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--nodes", default="1000,10000")
    ap.add_argument("--stores", default="sqlite,postgres")
    ap.add_argument("--changes", type=int, default=20)
    ap.add_argument("--out", default=os.path.join(HERE, "out", "coord.json"))
    a = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    d = tempdir("coordbench-")
    pg = None
    results = []
    try:
        stores = a.stores.split(",")
        if "postgres" in stores and pg_bindir():
            pg = Postgres(d).start()
        for store in stores:
            if store == "postgres" and pg is None:
                print("postgres: server binaries not installed, skipped")
                continue
            for n in (int(x) for x in a.nodes.split(",")):
                if hard < n + 500:
                    print(f"{n} nodes: open-file limit {hard} too low, skipped")
                    continue
                r = run_one(a.binary, store, n, a.changes, d, pg)
                results.append(r)
                print(json.dumps(r), flush=True)
    finally:
        if pg:
            pg.stop()
        cleanup(d)
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump({"benchmark": "coord", "hubs": HUBS, "results": results}, f, indent=2)
    print(f"\n| store | nodes | registrations/s | change->last told p50 | p99 | server RSS |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in results:
        print(f"| {r['store']} | {r['nodes']} | {r['registrations_per_s']:.0f} | "
              f"{r['change_to_last_told_p50_ms']:.0f} ms | {r['change_to_last_told_p99_ms']:.0f} ms"
              f" | {r['server_rss_mib']:.0f} MiB |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
