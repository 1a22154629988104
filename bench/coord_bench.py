#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Coordinator benchmark (not a test): N simulated nodes with long-poll map streams against
meshgate-coord on SQLite or PostgreSQL. Reports registrations per second, the time from a change
to the last node told (p50, p99 over the changes), every delivery's latency (p50, p99 over all
nodes and changes) and the server's memory.

  bench/coord_bench.py --nodes N --store sqlite|postgres --json OUT [--quick] [--changes K]
                       [--build DIR] [--budget SECONDS]

--nodes and --store also take comma lists (every combination runs). --quick: 1,000 nodes and 5
changes on SQLite with a light disk setting, under 30 s. The server is pinned to one core
(taskset, CPU 0) and the client (build/coord/coord_bench_client, libcurl multi + epoll, one
thread) to another; both use only 127.0.0.1 (PostgreSQL a Unix socket). Every run is bounded by
--budget (default 900 s); a run that does not finish is reported with "complete": false.

Topology: every node may reach tag:hub nodes (10 hubs); a change is a new endpoint reported by a
hub, which reaches every node: the worst case for fan-out.
"""
import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "coord"))

from coordlib import Node, Server, cleanup, tempdir  # noqa: E402
from pglib import Postgres, pg_bindir  # noqa: E402

HUBS = 10


# As root, server and client run at this nice value so that other load on the machine does not
# blur the figures. Each runs in a session of its own: with autogroup scheduling (the kernel
# default) a nice value only counts within the session's group, so the group gets it too.
PRIORITY = -15


def set_autogroup_nice(pid):
    try:
        with open(f"/proc/{pid}/autogroup", "w") as f:
            f.write(str(PRIORITY))
    except OSError:
        pass


def pin(pid, cpu):
    """One core for the process (every thread), and a high scheduling weight when root."""
    if shutil.which("taskset") and (os.cpu_count() or 1) > cpu:
        subprocess.run(["taskset", "-apc", str(cpu), str(pid)], capture_output=True)
    if os.geteuid() == 0:
        for tid in os.listdir(f"/proc/{pid}/task"):
            os.setpriority(os.PRIO_PROCESS, int(tid), PRIORITY)
        set_autogroup_nice(pid)


def raise_priority():
    """In the client, after its new session began: its own nice value and its group's."""
    if os.geteuid() == 0:
        os.setpriority(os.PRIO_PROCESS, 0, PRIORITY)
        set_autogroup_nice("self")


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(p / 100.0 * (len(v) - 1) + 0.5))] if v else -1


def server_fanout(s, n):
    """The server's own trace of the changes: flush start to the last line handed to a socket."""
    st, js = s.admin("GET", "metrics")
    if st != 200:
        return {"server_fanout_error": f"metrics: HTTP {st}"}
    big = [b for b in js["fanout"] if b["sessions"] >= 0.9 * n]
    done = [b for b in big if b["complete"]]
    return {"server_fanout_batches": len(big), "server_fanout_incomplete": len(big) - len(done),
            "server_build_p50_ms": pct([b["build_ms"] for b in done], 50),
            "server_build_max_ms": pct([b["build_ms"] for b in done], 100),
            "server_last_write_p50_ms": pct([b["last_write_ms"] for b in done], 50),
            "server_last_write_p99_ms": pct([b["last_write_ms"] for b in done], 99)}


def run_one(build, store_kind, n, changes, d, pg, budget, quick, sync):
    t_start = time.time()
    url = pg.createdb(f"bench_{n}_{int(t_start)}") if store_kind == "postgres" else None
    # heartbeat at the default (15 s); full sync is the default and what a deployment runs
    extra = {"heartbeat": "15s", "log_level": "warn",
             "sqlite_synchronous": sync}
    s = Server(os.path.join(build, "coord", "meshgate-coord"), d, store=url,
               name=f"{store_kind}-{n}", extra=extra)
    s.bootstrap_key()
    s.start(new_session=True)
    pin(s.proc.pid, 0)
    result = {"store": store_kind, "nodes": n, "hubs": HUBS, "complete": False,
              "mode": "quick" if quick else "full", "sqlite_synchronous": sync,
              "loadavg_before": os.getloadavg()[0], "priority": PRIORITY}
    try:
        s.create_user("bench")
        s.set_policy({"tagOwners": {"tag:hub": ["bench"]},
                      "acls": [{"action": "accept", "src": ["bench"], "dst": ["tag:hub:*"]}]})
        hubkey = s.create_key("bench", tags=["tag:hub"])
        hubs = [Node(s, f"hub{i}") for i in range(HUBS)]
        for h in hubs:
            h.register(hubkey)
        hubfile = os.path.join(d, "hubs.txt")
        with open(hubfile, "w") as f:
            f.write("".join(h.cred + "\n" for h in hubs))
        left = budget - (time.time() - t_start)
        cmd = [os.path.join(build, "coord", "coord_bench_client"),
               "--url", f"http://127.0.0.1:{s.port}", "--auth-key", s.create_key("bench"),
               "--hubs", hubfile, "--nodes", str(n), "--changes", str(changes),
               "--deadline", str(max(10, int(left - 15))), "--server-pid", str(s.proc.pid)]
        if shutil.which("taskset") and (os.cpu_count() or 1) > 1:
            cmd = ["taskset", "-c", "1"] + cmd
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=max(20, left),
                                 start_new_session=True, preexec_fn=raise_priority)
            if out.stderr:
                sys.stderr.write(out.stderr)
            result.update(json.loads(out.stdout))
        except subprocess.TimeoutExpired:
            result["error"] = "the client ran out of time"
        except ValueError:
            result["error"] = "the client printed no JSON"
        result.update(server_fanout(s, n))
        result["server_rss_mib"] = result.get("server_rss_kib", -1024) / 1024.0
        result["server_peak_rss_mib"] = result.get("server_peak_rss_kib", -1024) / 1024.0
        return result
    finally:
        s.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nodes", default="1000")
    ap.add_argument("--store", default="sqlite")
    ap.add_argument("--json", default=os.path.join(HERE, "out", "coord.json"))
    ap.add_argument("--changes", type=int, default=20)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--budget", type=float, default=900.0, help="seconds per run")
    ap.add_argument("--sqlite-sync", choices=("full", "normal"), default=None,
                    help="sqlite_synchronous (default full; normal in --quick)")
    ap.add_argument("--build", default=os.environ.get("MESHGATE_BUILD",
                                                      os.path.join(HERE, "..", "build")))
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    if not os.access(os.path.join(build, "coord", "coord_bench_client"), os.X_OK):
        print(f"coord_bench: {build}/coord/coord_bench_client is not built", file=sys.stderr)
        return 77
    nodes = [1000] if a.quick else [int(x) for x in a.nodes.split(",")]
    stores = ["sqlite"] if a.quick else a.store.split(",")
    changes = 5 if a.quick else a.changes
    budget = 25.0 if a.quick else a.budget
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    d = tempdir("coordbench-")
    pg = None
    results = []
    try:
        if "postgres" in stores and pg_bindir():
            pg = Postgres(d).start()
        for store in stores:
            if store == "postgres" and pg is None:
                print("coord_bench: PostgreSQL is not installed; skipped", file=sys.stderr)
                continue
            for n in nodes:
                if hard < n + 500:
                    print(f"coord_bench: {n} nodes need an open-file limit above {n + 500}"
                          f" (have {hard}); skipped", file=sys.stderr)
                    continue
                sync = a.sqlite_sync or ("normal" if a.quick else "full")
                r = run_one(build, store, n, changes, d, pg, budget, a.quick, sync)
                results.append(r)
                print(json.dumps(r), file=sys.stderr, flush=True)
    finally:
        if pg:
            pg.stop()
        cleanup(d)
    os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
    with open(a.json, "w") as f:
        json.dump({"benchmark": "coord", "hubs": HUBS, "changes": changes,
                   "results": results}, f, indent=2)
    print("| store | nodes | registrations/s | change->last told p50 | p99 | delivery p99 |"
          " server RSS (peak) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        print(f"| {r['store']} | {r['nodes']} | {r.get('registrations_per_s', 0):.0f} | "
              f"{r.get('change_to_last_told_p50_ms', -1):.0f} ms | "
              f"{r.get('change_to_last_told_p99_ms', -1):.0f} ms | "
              f"{r.get('delivery_p99_ms', -1):.0f} ms | {r['server_rss_mib']:.0f} MiB "
              f"({r['server_peak_rss_mib']:.0f}) |")
    return 0 if results and all(r["complete"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
