# SPDX-License-Identifier: GPL-2.0-only
"""Regression tests for the holes of the security review (issue 11): each case fails on the
coordinator as it was before the fix."""
import os
import socket
import stat
import sys
import time

from coordlib import MapStream, Node, Server, b64, run_with_server


def expect(chk, got, status, code, what):
    st, js = got
    ok = st == status and isinstance(js, dict) and js.get("error") == code
    chk.check(ok, f"{what}: wanted {status} {code}, got {st} {js}")


def noncanonical_key_case(chk, s):
    """Hole 6: bit 255 of a public key is ignored by X25519, so the same private key could
    register a second node under another user."""
    s.create_user("mallory")
    alice_key, mallory_key = s.create_key("alice"), s.create_key("mallory")
    n = Node(s, "canon")
    n.register(alice_key)
    twin = Node(s, "twin")
    twin.sk = n.sk
    twin.pk = n.pk[:31] + bytes([n.pk[31] | 0x80])
    twin.key = b64(twin.pk)
    st, js = s.request("POST", "/v1/register", twin.proof_request(mallory_key))
    expect(chk, (st, js), 400, "bad_key", "public key with bit 255 set")
    # 2^255 - 19 + 1 encodes 1 as well: not below p.
    high = Node(s, "high")
    high.pk = bytes([0xee]) + b"\xff" * 30 + b"\x7f"
    high.key = b64(high.pk)
    st, js = s.request("POST", "/v1/register", high.proof_request(mallory_key))
    expect(chk, (st, js), 400, "bad_key", "public key not below 2^255-19")


def endpoint_case(chk, s, node):
    """Hole 7: endpoints that are never a path between two hosts are refused."""
    for ep in ("127.0.0.1:51820", "127.5.5.5:1", "[::1]:51820", "0.0.0.0:51820", "[::]:1",
               "224.0.0.251:5353", "[ff02::1]:1", "169.254.10.1:1", "[fe80::1]:51820",
               "255.255.255.255:1", "[::ffff:127.0.0.1]:51820", "0.1.2.3:4"):
        st, js = node.poll_map(endpoints=[ep])
        expect(chk, (st, js), 400, "bad_endpoint", f"endpoint {ep}")
    st, js = node.poll_map(endpoints=["192.0.2.7:51820", "[2001:db8::7]:51820"])
    chk.check(st == 200, f"public endpoints are accepted: {st} {js}")


def stream_credential_case(chk, s):
    """Hole 3: a stream opened with a credential ends when the node re-registers."""
    key = s.create_key("alice")
    n = Node(s, "victim")
    n.register(key)
    stolen = n.cred
    thief = MapStream(s, stolen, {"endpoints": ["192.0.2.9:51820"], "routes": []})
    chk.check(thief.status == 200 and thief.self_node is not None, "the stolen stream opens")
    n.register(key)
    chk.check(n.cred != stolen, "re-registration issues a new credential")
    ended = thief.wait_for(lambda m: m.ended is not None, timeout=10)
    chk.check(ended, f"the stream on the old credential ended (ended={thief.ended})")
    thief.close()
    st, _ = s.request("POST", "/v1/map", {"stream": False}, token=stolen)
    chk.check(st == 401, f"the old credential is refused: {st}")


def raw_exchange(port, data, timeout=3):
    """Sends data, reads until the server closes (or the timeout); returns (bytes, closed)."""
    c = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    c.sendall(data)
    out, closed = b"", False
    try:
        while True:
            x = c.recv(65536)
            if not x:
                closed = True
                break
            out += x
    except socket.timeout:
        pass
    except OSError:
        closed = True
    c.close()
    return out, closed


def framing_case(chk, s, node_id):
    """Hole 5: ambiguous framing gets 400 and a closed connection; nothing rides in a body."""
    auth = f"Authorization: Bearer {s.api_key}\r\n".encode()
    body = b'{"name":"smuggler"}'
    inner = b"POST /v1/admin/users HTTP/1.1\r\nHost: a\r\n" + auth + \
        b"Content-Length: 17\r\n\r\n" + b'{"name":"inner1"}'
    head = b"POST /v1/admin/users HTTP/1.1\r\nHost: a\r\n" + auth
    cases = {
        "two Content-Length": head + b"Content-Length: 19\r\nContent-Length: 120\r\n\r\n" +
        body + inner,
        "Content-Length and Transfer-Encoding": head + b"Content-Length: 3\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n13\r\n" + body + b"\r\n0\r\n\r\n" + inner,
        "space before the colon": head + b"Content-Length : 19\r\n\r\n" + body,
        "Transfer-Encoding other than chunked": head + b"Transfer-Encoding: gzip, chunked\r\n"
        b"\r\n13\r\n" + body + b"\r\n0\r\n\r\n",
    }
    for what, data in cases.items():
        out, closed = raw_exchange(s.port, data)
        chk.check(out.startswith(b"HTTP/1.1 400 ") and out.count(b"HTTP/1.1 ") == 1 and closed,
                  f"{what}: one 400 and the connection closed, got {out[:300]!r} "
                  f"closed={closed}")
    # libmicrohttpd refuses this one itself (and writes its status line twice).
    out, closed = raw_exchange(s.port, head + b"Content-Length: +19\r\n\r\n" + body)
    chk.check(out.startswith(b"HTTP/1.1 400 ") and closed, f"signed Content-Length: {out[:80]!r}")
    st, js = s.admin("GET", "users")
    names = [u["name"] for u in js["users"]]
    chk.check("smuggler" not in names and "inner1" not in names,
              f"no framed or smuggled request created a user: {names}")
    out, closed = raw_exchange(s.port, b"FOO /health HTTP/1.1\r\nHost: a\r\n\r\n")
    chk.check(out.startswith(b"HTTP/1.1 405 "), f"unknown method: 405, got {out[:120]!r}")
    st, js = s.admin("POST", f"nodes/{node_id}/expire/extra", {})
    expect(chk, (st, js), 404, "not_found", "a trailing path segment")
    st, js = s.admin("GET", f"nodes/{node_id}")
    chk.check(st == 200 and not js["expired"], "the node was not expired by the longer path")
    for path in (f"nodes/{node_id}/", f"users//x", "users/alice/extra"):
        st, js = s.admin("GET", path)
        expect(chk, (st, js), 404, "not_found", f"path {path}")


def admission_case(chk, binary, d):
    """Hole 2: unauthenticated clients cannot make the server buffer bodies without bound."""
    s = Server(binary, d, name="admission",
               extra={"sqlite_synchronous": "normal", "max_buffered_bytes": "1048576",
                      "request_timeout": "3s", "connection_timeout": "20s",
                      "max_connections_per_ip": "400"})
    try:
        s.bootstrap_key()
        s.start()
        s.create_user("alice")
        for _ in range(3):
            s.request("GET", "/health")
        base = s.rss_kib()
        # Admin uploads without a key are refused on their headers, before any body byte.
        conns, early = [], 0
        for _ in range(150):
            c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
            c.sendall(b"PUT /v1/admin/policy HTTP/1.1\r\nHost: a\r\n"
                      b"Content-Type: application/json\r\nContent-Length: 1000000\r\n\r\n")
            conns.append(c)
        for c in conns:
            c.settimeout(5)
            try:
                early += c.recv(4096).startswith(b"HTTP/1.1 401 ")
            except OSError:
                pass
        chk.check(early == len(conns),
                  f"every keyless policy upload got 401 on its headers ({early}/{len(conns)})")
        for c in conns:
            try:
                c.settimeout(0.2)
                c.sendall(b"x" * 262144)
            except OSError:
                pass
        # Registration needs no key: the shared budget bounds what trickling bodies hold.
        regs, busy = [], 0
        for _ in range(150):
            c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
            c.sendall(b"POST /v1/register HTTP/1.1\r\nHost: a\r\n"
                      b"Content-Type: application/json\r\nContent-Length: 60000\r\n\r\n" +
                      b" " * 30000)
            regs.append(c)
        for c in regs:
            c.settimeout(0.5)
            try:
                busy += c.recv(4096).startswith(b"HTTP/1.1 503 ")
            except OSError:
                pass
        time.sleep(0.5)
        grown = s.rss_kib() - base
        chk.check(busy >= 100, f"registrations past the byte budget got 503 ({busy}/150)")
        chk.check(grown < 24 * 1024,
                  f"RSS stayed bounded with 300 hostile connections: grew {grown} KiB")
        st, _ = s.request("GET", "/health", timeout=5)
        chk.check(st == 200, "the server still answers")
        for c in conns + regs:
            c.close()
        # A body trickled one byte at a time is cut at request_timeout, not kept alive forever.
        c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
        c.sendall(b"POST /v1/register HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n")
        t0, cut = time.time(), False
        while time.time() - t0 < 12 and not cut:
            try:
                c.sendall(b" ")
                c.settimeout(0.5)
                cut = c.recv(4096) == b""
            except socket.timeout:
                pass
            except OSError:
                cut = True
        c.close()
        chk.check(cut, "a trickled body was cut at request_timeout")
        # The limit per client address.
        many, refused = [], 0
        for _ in range(420):
            many.append(socket.create_connection(("127.0.0.1", s.port), timeout=10))
        for c in many:
            c.settimeout(0.05)
            try:
                refused += c.recv(16) == b""
            except socket.timeout:
                pass
            except OSError:
                refused += 1
        chk.check(refused >= 15, f"connections past 400 from one address closed ({refused})")
        for c in many:
            c.close()
        st, js = s.admin("GET", "metrics")
        adm = js.get("admission", {}) if st == 200 else {}
        chk.check(adm.get("unauthenticated", 0) >= 150 and adm.get("budget_refused", 0) >= 100
                  and adm.get("deadline_closed", 0) >= 1,
                  f"the refusals and drops are counted: {adm}")
    finally:
        s.stop()


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def secrets_at_rest_case(chk, binary, d):
    """Hole 4: store files 0600, the server key in a 0600 file apart from the data, an older
    store's key moved out without loss, and `apikey create --out`."""
    import sqlite3
    sub = os.path.join(d, "rest")
    os.mkdir(sub, 0o755)
    s = Server(binary, sub, name="rest", store=f"sqlite:{sub}/data/rest.db",
               extra={"sqlite_synchronous": "normal"})
    db = os.path.join(sub, "data", "rest.db")
    keyfile = os.path.join(sub, "meshgate-coord-server.key")
    try:
        out = s.cli("apikey", "create", "--out", os.path.join(sub, "admin.key"))
        chk.check(out.returncode == 0, f"apikey create --out: {out.stderr}")
        s.api_key = open(os.path.join(sub, "admin.key")).read().strip()
        chk.check(mode(os.path.join(sub, "admin.key")) == 0o600, "the API key file is 0600")
        out = s.cli("apikey", "create", "--out", os.path.join(sub, "admin.key"))
        chk.check(out.returncode != 0, "apikey create --out never overwrites a file")
        chk.check(mode(os.path.dirname(db)) == 0o700, "the store's new directory is 0700")
        s.start()
        s.create_user("alice")
        n = Node(s, "keep")
        n.register(s.create_key("alice"))
        pub = s.request("GET", "/v1/key")[1]["public_key"]
        for f in (db, db + "-wal", db + "-shm", keyfile):
            chk.check(os.path.exists(f) and mode(f) == 0o600,
                      f"{os.path.basename(f)} is 0600 ({oct(mode(f)) if os.path.exists(f) else 'missing'})")
        con = sqlite3.connect(db)
        row = con.execute("SELECT private_key, public_key FROM server_keys").fetchone()
        con.close()
        chk.check(row == ("", pub), f"the store holds the public key only: {row}")
        s.stop()
        # A store as an older version left it: the private key inside, files 0644, no key file.
        secret = open(keyfile).read().strip()
        os.unlink(keyfile)
        con = sqlite3.connect(db)
        con.execute("UPDATE server_keys SET private_key = ?, public_key = ''", (secret,))
        con.commit()
        con.close()
        for f in (db, db + "-wal", db + "-shm"):
            if os.path.exists(f):
                os.chmod(f, 0o644)
        s.start()
        chk.check(s.request("GET", "/v1/key")[1]["public_key"] == pub,
                  "after the move the server key is the same")
        chk.check(os.path.exists(keyfile) and mode(keyfile) == 0o600 and
                  open(keyfile).read().strip() == secret, "the key moved into a 0600 file")
        chk.check(mode(db) == 0o600, f"an older 0644 store is tightened ({oct(mode(db))})")
        st, js = n.poll_map(endpoints=["192.0.2.4:51820"])
        chk.check(st == 200, f"the node registered before the move still works: {st}")
        s.stop()
        con = sqlite3.connect(db)
        row = con.execute("SELECT private_key FROM server_keys").fetchone()
        con.close()
        chk.check(row == ("",), "the store forgot the private key after the move")
        # Refusals: a key file others can read, a missing key file, a different key file.
        os.chmod(keyfile, 0o644)
        try:
            s.start()
            chk.check(False, "a world-readable key file is refused")
        except Exception as e:
            chk.check("chmod 600" in open(s.log).read(), f"the refusal says why: {e}")
        os.chmod(keyfile, 0o600)
        os.rename(keyfile, keyfile + ".bak")
        try:
            s.start()
            chk.check(False, "a missing key file is refused once the store has a key")
        except Exception:
            chk.check("is missing" in open(s.log).read(), "the refusal names the missing file")
        os.rename(keyfile + ".bak", keyfile)
        s.start()
        chk.check(s.request("GET", "/v1/key")[1]["public_key"] == pub, "restored, it starts")
    finally:
        s.stop()


def routes_case(chk, s):
    """Hole 1: an exit-node approver approves the /0 routes only; no route may overlap the
    overlay; auto-approvals follow the policy while manual ones stay."""
    s.create_user("bob")
    policy = {"acls": [{"action": "accept", "src": ["*"], "dst": ["*:*"]}],
              "autoApprovers": {"exitNode": ["alice"], "routes": {"10.50.0.0/16": ["alice"]}}}
    s.set_policy(policy)
    a = Node(s, "exit")
    a.register(s.create_key("alice"))
    b = Node(s, "bobs")
    b.register(s.create_key("bob"))
    bob_addr = b.info["addresses"]["ipv4"] + "/32"
    for bad in (bob_addr, "100.64.0.0/10", "100.64.0.0/24", "100.0.0.0/8",
                "fd7a:115c:a1e0::/48", "fd7a:115c:a1e0::5/128", "fd00::/8"):
        st, js = a.poll_map(routes=["10.99.0.0/24", bad])
        expect(chk, (st, js), 400, "route_overlaps_overlay", f"advertising {bad}")
    st, js = a.poll_map(routes=["10.99.0.0/24", "0.0.0.0/0", "::/0", "10.50.1.0/24"])
    chk.check(st == 200, f"advertising routes outside the overlay: {st} {js}")
    nid = a.info["node_id"]
    approved = lambda: sorted(s.admin("GET", f"nodes/{nid}")[1]["routes_approved"])
    chk.check(approved() == ["0.0.0.0/0", "10.50.1.0/24", "::/0"],
              f"exitNode approves the /0 routes only: {approved()}")
    st, js = s.admin("POST", f"nodes/{nid}/routes", {"approved": [bob_addr]})
    expect(chk, (st, js), 400, "route_overlaps_overlay", "approving an overlay address")
    st, js = s.admin("POST", f"nodes/{nid}/routes",
                     {"approved": approved() + ["10.99.0.0/24"]})
    chk.check(st == 200, f"a manual approval: {st} {js}")
    policy["autoApprovers"] = {"exitNode": ["alice"]}
    s.set_policy(policy)
    chk.check(approved() == ["0.0.0.0/0", "10.99.0.0/24", "::/0"],
              f"the withdrawn auto-approval left, the manual one stayed: {approved()}")
    del policy["autoApprovers"]
    s.set_policy(policy)
    chk.check(approved() == ["10.99.0.0/24"], f"exit routes left with their approver: {approved()}")


def audit_case(chk, s):
    """Hole 8: admin actions and failed authentications leave key=value audit lines."""
    prefix = s.api_key.split("_")[1]
    s.create_user("audited")
    bad = "mgapi_000000000000_" + "A" * 43
    for _ in range(40):
        s.request("GET", "/v1/admin/users", token=bad)
    time.sleep(1.1)
    s.request("GET", "/v1/admin/users%0aevent=admin", token=bad)
    time.sleep(0.3)
    lines = [l for l in open(s.log).read().splitlines() if " msg=audit " in l]
    fields = [dict(kv.split("=", 1) for kv in l.split()) for l in lines]
    want = {"event": "admin", "key": prefix, "client": "127.0.0.1", "method": "POST",
            "path": "/v1/admin/users", "status": "201"}
    chk.check(any(all(f.get(k) == v for k, v in want.items()) for f in fields),
              f"the user creation is audited with key and client: {lines[-5:]}")
    chk.check(any(f.get("kind") == "node_credential" and f.get("reason") == "bad_credential"
                  for f in fields), "a refused node credential is audited too")
    fails = [f for f in fields if f.get("event") == "auth_failed" and f.get("kind") == "api_key"]
    chk.check(10 <= len(fails) <= 25, f"failed authentications are rate-limited ({len(fails)})")
    chk.check(any(int(f.get("suppressed", "0")) > 0 for f in fails),
              "the lines left out are counted")
    chk.check(all(f.get("reason") == "unauthorized" for f in fails),
              f"each failure says what failed: {fails[:3]}")
    chk.check(not any("\n" in l or l.count("event=") != 1 for l in lines),
              "a crafted path cannot forge audit fields")


def run(chk, s):
    s.create_user("alice")
    node = Node(s, "n1")
    node.register(s.create_key("alice"))
    noncanonical_key_case(chk, s)
    endpoint_case(chk, s, node)
    stream_credential_case(chk, s)
    framing_case(chk, s, node.info["node_id"])
    routes_case(chk, s)
    audit_case(chk, s)
    admission_case(chk, s.binary, s.workdir)
    secrets_at_rest_case(chk, s.binary, s.workdir)


def main():
    return run_with_server("coord_security", run, extra={"sqlite_synchronous": "normal"})



if __name__ == "__main__":
    sys.exit(main())
