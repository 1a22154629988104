# SPDX-License-Identifier: GPL-2.0-only
"""Bad input gets a 4xx with a JSON error naming the problem, and nothing is written. The server
also survives clients that disconnect mid-request, never finish their headers, or never read
their map stream."""
import json
import os
import socket
import sys
import time

from coordlib import Node, b64, keypair, run_with_server


def state(s):
    """Everything an attacker's bad request must not change."""
    out = {}
    for area in ("users", "nodes", "preauthkeys", "apikeys"):
        st, js = s.admin("GET", area)
        for item in js[area]:
            item.pop("last_seen", None)
            item.pop("online", None)
        out[area] = js
    out["policy"] = s.admin("GET", "policy")[1]
    return json.dumps(out, sort_keys=True)


def expect(chk, got, status, code, what):
    st, js = got
    ok = st == status and isinstance(js, dict) and js.get("error") == code and js.get("message")
    chk.check(ok, f"{what}: wanted {status} {code}, got {st} {js}")


def raw_http(port, data, read=True, timeout=5):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(data)
    out = b""
    if read:
        try:
            while True:
                c = s.recv(65536)
                if not c:
                    break
                out += c
        except socket.timeout:
            pass
    s.close()
    return out


def registration_cases(chk, s, key):
    n = Node(s, "victim")
    good = n.proof_request(key)
    req = lambda body: s.request("POST", "/v1/register", raw=body if isinstance(body, bytes)
                                 else json.dumps(body).encode())
    expect(chk, req(b"{not json"), 400, "bad_json", "malformed JSON")
    expect(chk, req(b"[1,2]"), 400, "bad_json", "JSON that is not an object")
    expect(chk, req(b""), 400, "bad_request", "empty body")
    expect(chk, req(dict(good, extra=1)), 400, "unknown_field", "unknown field")
    expect(chk, req(dict(good, node_key="not base64!")), 400, "bad_key", "key not base64")
    expect(chk, req(dict(good, node_key=b64(b"\x01" * 31))), 400, "bad_key", "key of 31 bytes")
    expect(chk, req(dict(good, node_key=b64(bytes(32)))), 400, "bad_key", "all-zero key")
    expect(chk, req(dict(good, nonce=b64(b"x" * 23))), 400, "bad_field", "short nonce")
    utf8_cases(chk, n, key, req)
    expect(chk, req(dict(good, hostname=7)), 400, "bad_field", "hostname not a string")
    # proof under another private key: the sender does not hold node_key's private key
    other_sk, _ = keypair()
    expect(chk, req(n.proof_request(key, sk=other_sk)), 401, "bad_proof", "proof by another key")
    # proof bound to another auth key
    bad = n.proof_request(key)
    bad["auth_key"] = s.create_key("alice")
    expect(chk, req(bad), 401, "bad_proof", "proof for a different auth key")
    forged = b64(os.urandom(40))
    expect(chk, req(n.proof_request(key, challenge=forged)), 401, "bad_challenge",
           "forged challenge")
    expect(chk, req(dict(good, auth_key="mgpre_000000000000_" + "A" * 43)), 401, "bad_proof",
           "unknown auth key (proof no longer matches)")
    unknown = "mgpre_000000000000_" + "A" * 43
    expect(chk, req(n.proof_request(unknown)), 401, "bad_auth_key", "unknown auth key")
    expect(chk, req(n.proof_request("hello")), 401, "bad_auth_key", "malformed auth key")
    expired = s.create_key("alice", expiration="1s")
    used = s.create_key("alice", reusable=False)
    Node(s, "first").register(used)
    expect(chk, req(n.proof_request(used)), 401, "auth_key_used", "used single-use key")
    # a replayed request: the challenge is accepted once
    replay = Node(s, "replayer")
    body = replay.proof_request(key)
    st, _ = req(body)
    chk.check(st == 200, "first use of a challenge succeeds")
    expect(chk, req(body), 401, "challenge_reused", "replayed registration")
    time.sleep(3.1)  # challenge_ttl is 2s in this test; the key above expired after 1s
    expect(chk, req(n.proof_request(expired)), 401, "auth_key_expired", "expired auth key")
    expect(chk, req(body), 401, "challenge_expired", "replay after the challenge expired")


def utf8_cases(chk, n, key, req):
    """A UTF-8 character inside base64 text is refused by name, never decoded. libsodium 1.0.18
    alone takes every byte from 0x80 up as a base64 digit, so "é" (2 bytes) in place of two
    digits kept the text at 44 bytes and decoded it to some other key."""
    good = n.proof_request(key)
    k = good["node_key"]
    mangled = k[:10] + "\u00e9" + k[12:]
    chk.check(len(mangled.encode()) == 44, "the mangled key is 44 bytes, as a key must be")
    for body, how in ((json.dumps(dict(good, node_key=mangled)).encode(), "escaped"),
                      (json.dumps(dict(good, node_key=mangled), ensure_ascii=False).encode(),
                       "raw UTF-8")):
        st, js = req(body)
        expect(chk, (st, js), 400, "bad_key", f"node key with a UTF-8 character ({how})")
        msg = (js or {}).get("message", "")
        chk.check("character" in msg and "10" in msg,
                  f"the error names the bad character and its position: {msg!r}")
    # the other base64 fields of the proof get the same check
    for field in ("challenge", "nonce", "proof"):
        v = good[field]
        bad = v[:4] + "\u00e9" + v[6:]
        expect(chk, req(dict(good, **{field: bad})), 400, "bad_field",
               f"{field} with a UTF-8 character")
    # a key that decodes but is not canonical (spare low bits of the last digit set)
    last = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    noncanon = k[:42] + last[last.index(k[42]) | 1] + "="
    expect(chk, req(dict(good, node_key=noncanon)), 400, "bad_key", "non-canonical key")


def admin_cases(chk, s):
    api = lambda m, p, **kw: s.request(m, "/v1/admin/" + p, **kw)
    expect(chk, api("GET", "users"), 401, "unauthorized", "no API key")
    expect(chk, api("GET", "users", token="mgapi_000000000000_" + "B" * 43), 401, "unauthorized",
           "unknown API key")
    expect(chk, api("GET", "users", token="garbage"), 401, "unauthorized", "malformed API key")
    st, js = s.admin("POST", "apikeys", {"expiration": "1h"})
    tmp = js["key"]
    s.admin("DELETE", "apikeys/" + js["prefix"])
    expect(chk, api("GET", "users", token=tmp), 401, "unauthorized", "revoked API key")
    expect(chk, s.admin("POST", "users", {"name": "Bad Name"}), 400, "bad_name", "bad user name")
    expect(chk, s.admin("POST", "users", raw=b"{"), 400, "bad_json", "malformed admin body")
    expect(chk, s.admin("POST", "preauthkeys", {"user": "nobody"}), 400, "unknown_user",
           "key for unknown user")
    expect(chk, s.admin("POST", "preauthkeys", {"user": "alice", "tags": ["tag:nope"]}), 400,
           "unknown_tag", "key with undeclared tag")
    expect(chk, s.admin("POST", "preauthkeys", {"user": "alice", "expiration": "soon"}), 400,
           "bad_expiration", "bad expiration")
    expect(chk, s.admin("POST", "preauthkeys", {"user": "alice", "reusable": "yes"}), 400,
           "bad_field", "reusable not a boolean")
    expect(chk, s.admin("DELETE", "users/nobody"), 404, "not_found", "delete unknown user")
    expect(chk, s.admin("GET", "nodes/999"), 404, "not_found", "unknown node")
    expect(chk, s.admin("GET", "nodes/abc"), 400, "bad_id", "bad node id")
    expect(chk, s.admin("POST", "nodes/1/rename", {"name": "UPPER"}), 400, "bad_name",
           "bad node name")
    expect(chk, s.admin("GET", "nothing"), 404, "not_found", "unknown endpoint")
    policies = [
        (b'{"acls": [', "JSON that does not parse"),
        (b"acls: [\n  - {", "YAML that does not parse"),
        (b'{"acls":[{"action":"accept","src":["mallory"],"dst":["*:*"]}]}', "unknown user"),
        (b'{"acls":[{"action":"accept","src":["tag:x"],"dst":["*:*"]}]}', "unknown tag"),
        (b'{"acls":[{"action":"accept","src":["group:x"],"dst":["*:*"]}]}', "unknown group"),
        (b'{"acls":[{"action":"accept","src":["*"],"dst":["*:99999"]}]}', "bad port"),
        (b'{"acls":[{"action":"drop","src":["*"],"dst":["*:*"]}]}', "bad action"),
        (b'{"acls":[{"action":"accept","src":["*"],"dst":["alice"]}]}', "dst without ports"),
        (b'{"acls":[], "hosts": {}}', "unknown top-level key"),
        (b'{"groups":{"group:a":["ghost"]},"acls":[]}', "group with unknown user"),
        (b'{"acls":[],"autoApprovers":{"routes":{"10.0.0.1/8":["alice"]}}}', "bad prefix"),
        # A few lines that would expand exponentially if aliases were followed.
        (b"a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
         b"c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nacls: [*c, *c, *c, *c, *c, *c]\n",
         "YAML aliases"),
        (b"acls: " + b"[" * 40 + b"]" * 40 + b"\n", "YAML nested 40 deep"),
        (b"acls: []\nacls: []\n", "a duplicate YAML key"),
    ]
    for body, what in policies:
        st, js = s.admin("PUT", "policy", raw=body, content_type="text/plain")
        chk.check(st == 400 and js["error"] == "bad_policy" and js["message"],
                  f"policy with {what}: {st} {js}")
    st, js = s.admin("PUT", "policy",
                     raw=b'{"acls":[{"action":"accept","src":["mallory"],"dst":["*:*"]}]}')
    chk.check("mallory" in js.get("message", ""), f"the error names the unknown user: {js}")


def map_cases(chk, s, node):
    m = lambda body, token=node.cred: s.request("POST", "/v1/map", body, token=token)
    expect(chk, m({"stream": False}, token=None), 401, "bad_credential", "map without credential")
    expect(chk, m({"stream": False}, token="mgnode_000000000000_" + "C" * 43), 401,
           "bad_credential", "unknown credential")
    expect(chk, m({"endpoints": ["1.2.3.4"], "stream": False}), 400, "bad_endpoint",
           "endpoint without port")
    expect(chk, m({"endpoints": ["x" * 20] * 40, "stream": False}), 400, "bad_field",
           "too many endpoints")
    expect(chk, m({"routes": ["10.0.0.1/8"], "stream": False}), 400, "bad_route",
           "route with host bits")
    expect(chk, m({"routes": ["banana"], "stream": False}), 400, "bad_route", "route not a prefix")
    expect(chk, m({"stream": "yes"}), 400, "bad_field", "stream not a boolean")


def size_and_connection_cases(chk, s, cfg_max):
    big = b'{"name":"' + b"a" * (cfg_max + 10) + b'"}'
    expect(chk, s.admin("POST", "users", raw=big), 413, "body_too_large", "oversized body")
    # the same without Content-Length (chunked upload): refused after the cap, not buffered
    head = (f"POST /v1/register HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
            f"Content-Type: application/json\r\n\r\n").encode()
    chunks = b""
    for _ in range(cfg_max // 4096 + 4):
        chunks += b"1000\r\n" + b"a" * 4096 + b"\r\n"
    resp = raw_http(s.port, head + chunks + b"0\r\n\r\n")
    chk.check(b" 413 " in resp.split(b"\r\n")[0] and b"body_too_large" in resp,
              f"oversized chunked body: {resp[:200]}")
    # a client that disconnects in the middle of its body
    for _ in range(20):
        raw_http(s.port, b"POST /v1/admin/users HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n"
                 b"\r\n{\"name\":", read=False)
    # a client that disconnects in the middle of its headers
    raw_http(s.port, b"GET /v1/key HTTP/1.1\r\nHost", read=False)
    st, _ = s.request("GET", "/health")
    chk.check(st == 200, "server alive after clients vanished mid-request")
    # a slow client that never finishes its headers is cut after connection_timeout (2s)
    sock = socket.create_connection(("127.0.0.1", s.port))
    sock.sendall(b"GET /v1/key HTTP/1.1\r\nHost: x\r\n")
    sock.settimeout(10)
    t0 = time.time()
    try:
        data = sock.recv(100)
    except socket.timeout:
        data = b"timeout"
    took = time.time() - t0
    sock.close()
    chk.check(data == b"" and took < 6, f"slow client cut after the timeout ({took:.1f}s)")


def slow_reader_case(chk, s, key):
    """A map stream that is never read is cut once its queue passes stream_queue_limit."""
    s.set_policy({"acls": [{"action": "accept", "src": ["*"], "dst": ["*:*"]}],
                  "autoApprovers": {"routes": {"10.0.0.0/8": ["alice"]}}})
    reader = Node(s, "sleepy")
    reader.register(key)
    busy = Node(s, "busy")
    busy.register(key)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", s.port))
    body = json.dumps({"endpoints": [], "routes": []}).encode()
    sock.sendall(f"POST /v1/map HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {reader.cred}\r\n"
                 f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    time.sleep(0.3)
    rss0 = s.rss_kib()
    routes = [f"10.{i // 256}.{i % 256}.0/24" for i in range(250)]
    # Each accepted report queues one delta for the sleeper. On a loaded machine a report can
    # be refused (503 busy, or the 2 s request timeout): retried, so that the stream always
    # receives more than the kernel's socket buffers and the queue limit can hold.
    sent, refused = 0, []
    while sent < 800 and len(refused) < 50:
        st, _ = busy.poll_map(endpoints=[f"192.0.2.{sent % 250 + 1}:{1000 + sent}"],
                              routes=routes)
        if st == 200:
            sent += 1
        else:
            refused.append(st)
            time.sleep(0.1)
    chk.check(sent == 800, f"800 reports accepted ({sent}; refused: {refused[:10]})")
    rss1 = s.rss_kib()
    total = b""
    eof = False
    sock.settimeout(1)
    deadline = time.time() + 15
    while time.time() < deadline:
        try:
            c = sock.recv(1 << 20)
        except socket.timeout:
            continue
        except OSError:
            eof = True
            break
        if not c:
            eof = True
            break
        total += c
    sock.close()
    chk.check(eof and total.count(b'"type":"delta"') < 800,
              f"the stream was cut (eof={eof}, {total.count(b'delta')} deltas of 800 arrived)")
    # ASan keeps freed memory in quarantine, so RSS says nothing about a sanitized build
    sanitized = "libasan" in open(f"/proc/{s.proc.pid}/maps").read()
    chk.check(sanitized or rss1 - rss0 < 64 * 1024,
              f"memory bounded while a client does not read (+{rss1 - rss0} KiB)")
    st, _ = s.request("GET", "/health")
    chk.check(st == 200, "server responsive after the slow reader")


def run(chk, s, max_body):
    s.create_user("alice")
    key = s.create_key("alice")
    node = Node(s, "n1")
    node.register(key)
    before = state(s)
    admin_cases(chk, s)
    map_cases(chk, s, node)
    size_and_connection_cases(chk, s, max_body)
    chk.check(state(s) == before, "no bad request changed users, nodes, keys or policy")
    registration_cases(chk, s, key)
    st, js = s.admin("GET", "nodes")
    names = sorted(n["name"] for n in js["nodes"])
    chk.check(names == ["first", "n1", "replayer"],
              f"only the good registrations were written: {names}")
    slow_reader_case(chk, s, key)


def main():
    max_body = 8192
    return run_with_server("coord_bad_input", lambda chk, s: run(chk, s, max_body),
                           extra={"challenge_ttl": "2s", "connection_timeout": "2s",
                                  "max_body": str(max_body), "stream_queue_limit": "262144",
                                  "sqlite_synchronous": "normal"})



if __name__ == "__main__":
    sys.exit(main())
