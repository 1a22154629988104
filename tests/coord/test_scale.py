# SPDX-License-Identifier: GPL-2.0-only
"""Scale: 1,000 simulated nodes on long-poll. A change to the hub they all see reaches every one
of them, a policy change reaches every one of them, and the server keeps answering meanwhile."""
import asyncio
import concurrent.futures
import resource
import sys
import time

from asyncmap import open_all, percentile, wait_all
from coordlib import Node, run_with_server

N = 1000


def register_many(s, key, count, workers=8):
    def one(i):
        n = Node(s, f"c{i}")
        n.register(key)
        return n
    with concurrent.futures.ThreadPoolExecutor(workers) as ex:
        return list(ex.map(one, range(count)))


async def scenario(chk, s, hub, clients):
    t0 = time.time()
    streams, tasks = await open_all(s.port, [c.cred for c in clients],
                                    {"endpoints": ["198.51.100.7:41641"], "routes": []})
    errors = [st.error for st in streams if st.error]
    chk.check(not errors, f"{N} streams open ({len(errors)} failed: {errors[:3]})")
    chk.check(all(set(st.peers) == {hub.key} for st in streams),
              "each client sees exactly the hub (policy: clients reach tag:hub only)")
    print(f"opened {N} streams in {time.time() - t0:.2f}s", flush=True)
    loop = asyncio.get_running_loop()
    health = []

    def probe():
        for _ in range(10):
            t = time.time()
            st, _ = s.request("GET", "/health", timeout=10)
            health.append((st, time.time() - t))
            time.sleep(0.05)

    new_ep = "203.0.113.77:51820"
    t1 = time.time()
    probe_f = loop.run_in_executor(None, probe)
    change_f = loop.run_in_executor(None, lambda: hub.poll_map(endpoints=[new_ep]))
    hits = await wait_all(streams, lambda st: st.peers.get(hub.key, {}).get("endpoints") ==
                          [new_ep], timeout=60)
    await change_f
    await probe_f
    told = [h - t1 for h in hits if h is not None]
    chk.check(len(told) == N, f"the endpoint change reached all {N} nodes ({len(told)})")
    if told:
        print(f"endpoint change: p50 {percentile(told, 50) * 1000:.0f} ms, "
              f"p99 {percentile(told, 99) * 1000:.0f} ms, last {max(told) * 1000:.0f} ms",
              flush=True)
        chk.check(max(told) < 10, f"last node told within 10 s ({max(told):.2f}s)")
    chk.check(all(st == 200 for st, _ in health) and max(t for _, t in health) < 2,
              f"server responsive during the fan-out (worst /health "
              f"{max(t for _, t in health) * 1000:.0f} ms)")
    # the server's own trace of that change: one batch of N lines, every one written
    st, m = s.admin("GET", "metrics")
    batch = [b for b in m.get("fanout", []) if b["sessions"] == N] if st == 200 else []
    chk.check(st == 200 and m["streams"] == N and m["nodes"] == N + 1,
              f"metrics count {N} streams and {N + 1} nodes: {st} "
              f"{ {k: v for k, v in m.items() if k != 'fanout'} }")
    b = batch[-1] if batch else {}
    chk.check(b.get("complete") is True and b["pending"] == 0 and b["dropped"] == 0 and
              0 <= b["build_ms"] <= b["last_write_ms"] <= (time.time() - t1) * 1000,
              f"metrics trace the fan-out: {b or m.get('fanout', [])[-3:]}")
    t2 = time.time()
    s.set_policy({"tagOwners": {"tag:hub": ["alice"]}, "acls": []})
    hits = await wait_all(streams, lambda st: hub.key not in st.peers, timeout=60)
    told = [h - t2 for h in hits if h is not None]
    chk.check(len(told) == N, f"the policy change removed the hub from all {N} maps")
    if told:
        print(f"policy change: p50 {percentile(told, 50) * 1000:.0f} ms, "
              f"p99 {percentile(told, 99) * 1000:.0f} ms", flush=True)
    print(f"server RSS {s.rss_kib() / 1024:.1f} MiB with {N} streams", flush=True)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def run(chk, s):
    s.create_user("alice")
    s.set_policy({"tagOwners": {"tag:hub": ["alice"]},
                  "acls": [{"action": "accept", "src": ["alice"], "dst": ["tag:hub:*"]}]})
    hub = Node(s, "hub")
    hub.register(s.create_key("alice", tags=["tag:hub"]))
    t = time.time()
    clients = register_many(s, s.create_key("alice"), N)
    rate = N / (time.time() - t)
    print(f"registered {N} nodes at {rate:.0f}/s", flush=True)
    asyncio.run(scenario(chk, s, hub, clients))


def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard < 2 * N + 100:
        print(f"skip: open-file limit {hard} is below {2 * N + 100}")
        return 77
    return run_with_server("coord_scale", run, extra={"sqlite_synchronous": "normal"})



if __name__ == "__main__":
    sys.exit(main())
