# SPDX-License-Identifier: GPL-2.0-only
"""Many simulated map streams in one asyncio loop (the scale test and the benchmark)."""
import asyncio
import json
import time


class AsyncStream:
    """One long-poll map stream; records when a predicate over its lines first held."""

    def __init__(self, port, cred, body):
        self.port = port
        self.cred = cred
        self.body = json.dumps(body).encode()
        self.peers = {}
        self.seq = 0
        self.full = asyncio.Event()
        self.watch = None
        self.hit_at = None
        self.error = None
        self.bytes = 0

    async def run(self):
        try:
            r, w = await asyncio.open_connection("127.0.0.1", self.port, limit=1 << 24)
            w.write((f"POST /v1/map HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {self.cred}\r\n"
                     f"Content-Type: application/json\r\nContent-Length: {len(self.body)}\r\n\r\n")
                    .encode() + self.body)
            await w.drain()
            head = await r.readuntil(b"\r\n\r\n")
            if b" 200 " not in head.split(b"\r\n")[0]:
                self.error = head.split(b"\r\n")[0].decode()
                self.full.set()
                return
            buf = b""
            while True:
                size_line = await r.readline()
                if not size_line:
                    break
                size = int(size_line.strip() or b"0", 16)
                if size == 0:
                    break
                data = await r.readexactly(size + 2)
                self.bytes += size
                buf += data[:-2]
                while b"\n" in buf:
                    line, _, buf = buf.partition(b"\n")
                    self.apply(json.loads(line))
        except (OSError, asyncio.IncompleteReadError) as e:
            self.error = str(e)
        finally:
            self.full.set()

    def apply(self, msg):
        t = msg["type"]
        if t == "full":
            self.peers = {p["key"]: p for p in msg["peers"]}
            self.seq = msg["seq"]
            self.full.set()
        elif t == "delta":
            self.seq = msg["seq"]
            for k in msg.get("peers_removed", []):
                self.peers.pop(k, None)
            for p in msg.get("peers_changed", []):
                self.peers[p["key"]] = p
        if self.watch is not None and self.hit_at is None and self.watch(self):
            self.hit_at = time.time()


async def open_all(port, creds, body, concurrency=200):
    """Opens one stream per credential and waits for every full map."""
    streams = [AsyncStream(port, c, body) for c in creds]
    tasks = []
    sem = asyncio.Semaphore(concurrency)

    async def start(st):
        async with sem:
            tasks.append(asyncio.ensure_future(st.run()))
            await st.full.wait()

    await asyncio.gather(*(start(st) for st in streams))
    return streams, tasks


async def wait_all(streams, pred, timeout):
    """Arms pred on every stream; returns (told, latencies after the caller's t0 mark)."""
    for st in streams:
        st.hit_at = None
        st.watch = pred
        if pred(st):
            st.hit_at = time.time()
    deadline = time.time() + timeout
    while time.time() < deadline and any(st.hit_at is None for st in streams):
        await asyncio.sleep(0.01)
    return [st.hit_at for st in streams]


def percentile(values, p):
    v = sorted(values)
    if not v:
        return float("nan")
    k = min(len(v) - 1, max(0, int(round(p / 100.0 * (len(v) - 1)))))
    return v[k]
