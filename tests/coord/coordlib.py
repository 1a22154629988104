# SPDX-License-Identifier: GPL-2.0-only
"""Test client for meshgate-coord: starts servers, speaks the HTTP API, proves key possession.

Only the Python standard library and the system libsodium (through ctypes) are used, so the
tests need nothing beyond Debian's python3 and libsodium23.
"""
import base64
import ctypes
import ctypes.util
import http.client
import json
import os
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

_sodium = ctypes.CDLL(ctypes.util.find_library("sodium") or "libsodium.so.23")
assert _sodium.sodium_init() >= 0

CONTEXT = b"meshgate-register-v1"


def b64(b):
    return base64.b64encode(b).decode()


def unb64(s):
    return base64.b64decode(s)


def blake2b(data, outlen=32):
    out = ctypes.create_string_buffer(outlen)
    _sodium.crypto_generichash(out, ctypes.c_size_t(outlen), data, ctypes.c_ulonglong(len(data)),
                               None, ctypes.c_size_t(0))
    return out.raw


def keypair():
    """A WireGuard-style X25519 key pair (clamped private key, as `wg genkey` makes)."""
    sk = bytearray(os.urandom(32))
    sk[0] &= 248
    sk[31] &= 127
    sk[31] |= 64
    sk = bytes(sk)
    pk = ctypes.create_string_buffer(32)
    assert _sodium.crypto_scalarmult_base(pk, sk) == 0
    return sk, pk.raw


def box(msg, nonce, their_pk, my_sk):
    out = ctypes.create_string_buffer(len(msg) + 16)
    rc = _sodium.crypto_box_easy(out, msg, ctypes.c_ulonglong(len(msg)), nonce, their_pk, my_sk)
    assert rc == 0
    return out.raw


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Failure(Exception):
    pass


class Checker:
    """Counts checks; every failed one is printed, and the run fails at the end."""

    def __init__(self, name):
        self.name = name
        self.passed = 0
        self.failed = 0

    def check(self, cond, what):
        if cond:
            self.passed += 1
        else:
            self.failed += 1
            print(f"FAIL {self.name}: {what}", flush=True)
        return cond

    def done(self):
        print(f"{self.name}: {self.passed} passed, {self.failed} failed", flush=True)
        return 1 if self.failed else 0


class Server:
    """One meshgate-coord process with its own config, store and port."""

    def __init__(self, binary, workdir, store=None, extra=None, port=None, name="coord",
                 host="127.0.0.1", tls=None):
        """tls: (cert, key) PEM paths; the server then speaks HTTPS and the test client trusts
        exactly that certificate (it is self-signed, so it is its own CA)."""
        self.binary = binary
        self.workdir = workdir
        self.host = host
        self.port = port or free_port()
        self.store = store or f"sqlite:{workdir}/{name}.db"
        self.config = os.path.join(workdir, f"{name}.yaml")
        self.log = os.path.join(workdir, f"{name}.log")
        self.proc = None
        self.ssl_ctx = ssl.create_default_context(cafile=tls[0]) if tls else None
        settings = {"log_level": "info", "heartbeat": "2s"}
        settings.update(extra or {})
        lines = [f"listen: {host}:{self.port}", f"store: {self.store}"]
        if tls:
            lines += ["tls:", f"  cert: {tls[0]}", f"  key: {tls[1]}"]
        for k, v in settings.items():
            lines.append(f"{k}: {v}")
        with open(self.config, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.api_key = None

    def bootstrap_key(self):
        out = subprocess.run([self.binary, "--config", self.config, "apikey", "create"],
                             capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            raise Failure(f"apikey create failed: {out.stderr}")
        self.api_key = out.stdout.strip()
        return self.api_key

    def start(self, wait=True, new_session=False):
        logf = open(self.log, "a")
        self.proc = subprocess.Popen([self.binary, "--config", self.config], stdout=logf,
                                     stderr=logf, start_new_session=new_session)
        logf.close()
        if wait:
            deadline = time.time() + 20
            while time.time() < deadline:
                if self.proc.poll() is not None:
                    raise Failure(f"server exited with {self.proc.returncode}: "
                                  f"{open(self.log).read()[-2000:]}")
                try:
                    st, _ = self.request("GET", "/health", timeout=2)
                    if st == 200:
                        return self
                except OSError:
                    pass
                time.sleep(0.05)
            raise Failure("server did not come up")
        return self

    def stop(self, sig=signal.SIGTERM):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode
        self.proc = None
        return rc

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def request(self, method, path, body=None, token=None, timeout=30, raw=None,
                content_type="application/json"):
        if self.ssl_ctx is not None:
            conn = http.client.HTTPSConnection(self.host, self.port, timeout=timeout,
                                               context=self.ssl_ctx)
        else:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        headers = {}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
        if data is not None:
            headers["Content-Type"] = content_type
        try:
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            text = resp.read()
        finally:
            conn.close()
        try:
            js = json.loads(text) if text else None
        except ValueError:
            js = {"_raw": text.decode(errors="replace")}
        return resp.status, js

    def admin(self, method, path, body=None, raw=None, content_type="application/json"):
        return self.request(method, "/v1/admin/" + path, body=body, token=self.api_key, raw=raw,
                            content_type=content_type)

    def cli(self, *args, json_out=False):
        cmd = [self.binary, "--config", self.config]
        if json_out:
            cmd.append("--json")
        env = dict(os.environ, MESHGATE_COORD_API_KEY=self.api_key or "")
        return subprocess.run(cmd + list(args), capture_output=True, text=True, env=env,
                              timeout=60)

    # convenience wrappers -------------------------------------------------------------------
    def create_user(self, name):
        st, js = self.admin("POST", "users", {"name": name})
        if st != 201:
            raise Failure(f"create user {name}: {st} {js}")
        return js

    def create_key(self, user, reusable=True, ephemeral=False, tags=None, expiration="1h"):
        body = {"user": user, "reusable": reusable, "ephemeral": ephemeral,
                "expiration": expiration}
        if tags:
            body["tags"] = tags
        st, js = self.admin("POST", "preauthkeys", body)
        if st != 201:
            raise Failure(f"create key for {user}: {st} {js}")
        return js["key"]

    def set_policy(self, policy, fmt="json"):
        if fmt == "json":
            st, js = self.admin("PUT", "policy", raw=json.dumps(policy).encode())
        else:
            st, js = self.admin("PUT", "policy", raw=policy.encode(),
                                content_type="application/yaml")
        if st != 200:
            raise Failure(f"set policy: {st} {js}")
        return js


class Node:
    """A simulated node: a key pair, registration with proof, and a map stream."""

    def __init__(self, server, hostname="node"):
        self.server = server
        self.hostname = hostname
        self.sk, self.pk = keypair()
        self.key = b64(self.pk)
        self.cred = None
        self.info = None
        self.stream = None

    def proof_request(self, auth_key, challenge=None, sk=None, nonce=None):
        s = self.server
        if challenge is None:
            st, ch = s.request("POST", "/v1/register/challenge")
            assert st == 200, ch
            challenge = ch["challenge"]
        st, k = s.request("GET", "/v1/key")
        server_pk = unb64(k["public_key"])
        nonce = nonce or os.urandom(24)
        msg = CONTEXT + unb64(challenge) + blake2b(auth_key.encode())
        proof = box(msg, nonce, server_pk, sk or self.sk)
        return {"auth_key": auth_key, "node_key": self.key, "hostname": self.hostname,
                "challenge": challenge, "nonce": b64(nonce), "proof": b64(proof)}

    def register(self, auth_key, expect=200):
        st, js = self.server.request("POST", "/v1/register", self.proof_request(auth_key))
        if st != expect:
            raise Failure(f"register {self.hostname}: {st} {js}")
        if st == 200:
            self.cred = js["credential"]
            self.info = js
        return st, js

    def open_map(self, endpoints=None, routes=None, version="test-1"):
        self.stream = MapStream(self.server, self.cred,
                                {"endpoints": endpoints or ["192.0.2.1:51820"],
                                 "routes": routes or [], "version": version})
        return self.stream

    def poll_map(self, endpoints=None, routes=None):
        return self.server.request("POST", "/v1/map",
                                   {"endpoints": endpoints or [], "routes": routes or [],
                                    "stream": False}, token=self.cred)


class ChunkedDecoder:
    """Incremental HTTP/1.1 chunked transfer decoding (a stream may be cut at any byte)."""

    def __init__(self):
        self.raw = b""
        self.out = b""
        self.need = None  # bytes left in the current chunk, None while reading a size line
        self.done = False

    def feed(self, data):
        self.raw += data
        while True:
            if self.need is None:
                i = self.raw.find(b"\r\n")
                if i < 0:
                    return
                size = int(self.raw[:i].split(b";")[0], 16)
                self.raw = self.raw[i + 2:]
                if size == 0:
                    self.done = True
                    return
                self.need = size
            elif self.need > 0:
                if not self.raw:
                    return
                take = min(len(self.raw), self.need)
                self.out += self.raw[:take]
                self.raw = self.raw[take:]
                self.need -= take
            else:
                if len(self.raw) < 2:
                    return
                self.raw = self.raw[2:]
                self.need = None


class MapStream:
    """A long-poll map stream over a raw socket, applying deltas to a local view of the peers."""

    def __init__(self, server, cred, body, connect_only=False):
        self.sock = socket.create_connection((server.host, server.port), timeout=30)
        if server.ssl_ctx is not None:
            self.sock = server.ssl_ctx.wrap_socket(self.sock, server_hostname=server.host)
        data = json.dumps(body).encode()
        req = (f"POST /v1/map HTTP/1.1\r\nHost: {server.host}\r\n"
               f"Authorization: Bearer {cred}\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(data)}\r\n\r\n").encode() + data
        self.sock.sendall(req)
        self.peers = {}
        self.filter = None
        self.self_node = None
        self.seq = 0
        self.lines = []
        self.ended = None
        self.status = None
        self.error = None
        self.dec = ChunkedDecoder()
        head = b""
        deadline = time.time() + 30
        while b"\r\n\r\n" not in head and time.time() < deadline:
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            head += chunk
        hdr, _, rest = head.partition(b"\r\n\r\n")
        lines = hdr.decode(errors="replace").split("\r\n")
        self.status = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else 0
        headers = {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip()
                   for l in lines[1:] if ":" in l}
        self.chunked = headers.get("transfer-encoding", "").lower() == "chunked"
        if self.status != 200:
            body = rest
            n = int(headers.get("content-length", "0"))
            while len(body) < n:
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                body += chunk
            try:
                self.error = json.loads(body or b"null")
            except ValueError:
                self.error = body
            self.sock.close()
            self.ended = "eof"
            return
        self.feed(rest)
        if not connect_only:
            self.next_line(timeout=30)

    def feed(self, data):
        if self.chunked:
            self.dec.feed(data)
        else:
            self.dec.out += data

    def next_line(self, timeout=5.0):
        """Reads and applies one line; returns it (dict) or None on timeout or end."""
        deadline = time.time() + timeout
        while b"\n" not in self.dec.out:
            if self.ended in ("eof", "error") or self.dec.done:
                self.ended = self.ended or "eof"
                return None
            left = deadline - time.time()
            if left <= 0:
                return None
            # TLS may already hold decrypted bytes that select cannot see
            pending = isinstance(self.sock, ssl.SSLSocket) and self.sock.pending() > 0
            if not pending and not select.select([self.sock], [], [], left)[0]:
                return None
            try:
                chunk = self.sock.recv(1 << 20)
            except OSError:
                self.ended = "error"
                return None
            if not chunk:
                self.ended = "eof"
                return None
            self.feed(chunk)
        line, _, self.dec.out = self.dec.out.partition(b"\n")
        msg = json.loads(line)
        self.apply(msg)
        return msg

    def apply(self, msg):
        self.lines.append(msg)
        t = msg["type"]
        if t == "full":
            self.seq = msg["seq"]
            self.peers = {p["key"]: p for p in msg["peers"]}
            self.filter = msg["filter"]
            self.self_node = msg["self"]
        elif t == "delta":
            if msg["seq"] != self.seq + 1:
                raise Failure(f"sequence gap: {self.seq} -> {msg['seq']}")
            self.seq = msg["seq"]
            for k in msg.get("peers_removed", []):
                self.peers.pop(k, None)
            for p in msg.get("peers_changed", []):
                self.peers[p["key"]] = p
            if "filter" in msg:
                self.filter = msg["filter"]
            if "self" in msg:
                self.self_node = msg["self"]
        elif t in ("expired", "deleted", "replaced", "reconnect"):
            self.ended = t

    def wait_for(self, pred, timeout=10.0):
        """Reads lines until pred(self) is true; returns whether it became true."""
        deadline = time.time() + timeout
        while not pred(self):
            left = deadline - time.time()
            if left <= 0 or self.ended in ("eof", "error"):
                return pred(self)
            self.next_line(timeout=min(left, 1.0))
        return True

    def drain(self, quiet=0.5):
        while self.next_line(timeout=quiet) is not None:
            pass

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def tempdir(prefix="coordtest-"):
    return tempfile.mkdtemp(prefix=prefix)


def cleanup(path):
    shutil.rmtree(path, ignore_errors=True)


def main_args():
    """argv: BINARY [--store postgres|sqlite]"""
    binary = sys.argv[1]
    store = "sqlite"
    if "--store" in sys.argv:
        store = sys.argv[sys.argv.index("--store") + 1]
    return binary, store


def run_in_tempdir(name, body):
    """The main of a test that manages its own servers: body(chk, binary, workdir). A crash of
    the test is a failure; the directory goes in every case. Returns the exit code."""
    binary, _ = main_args()
    chk = Checker(name)
    d = tempdir()
    try:
        body(chk, binary, d)
    except Exception as e:
        chk.check(False, f"exception: {e!r}")
        raise
    finally:
        cleanup(d)
    return chk.done()


def run_with_server(name, body, **server_kw):
    """The main of a test against one coordinator with a fresh store and an admin key:
    body(chk, server), then a clean shutdown on SIGTERM is checked. On failure the tail of
    the server's log is shown. Returns the exit code."""
    binary, _ = main_args()
    chk = Checker(name)
    d = tempdir()
    s = Server(binary, d, **server_kw)
    try:
        s.bootstrap_key()
        s.start()
        body(chk, s)
        chk.check(s.stop() == 0, "clean shutdown on SIGTERM")
    except Exception as e:
        chk.check(False, f"exception: {e!r}")
        raise
    finally:
        s.stop()
        if chk.failed:
            print(open(s.log).read()[-3000:])
        cleanup(d)
    return chk.done()
