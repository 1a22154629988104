# SPDX-License-Identifier: GPL-2.0-only
"""Regression tests for the holes of the security review (issue 11): each case fails on the
coordinator as it was before the fix."""
import json
import os
import socket
import stat
import sys
import time

from coordlib import (Checker, MapStream, Node, Server, b64, cleanup, keypair, main_args,
                      tempdir)


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


def main():
    binary, _ = main_args()
    chk = Checker("coord_security")
    d = tempdir()
    s = Server(binary, d, extra={"sqlite_synchronous": "normal"})
    try:
        s.bootstrap_key()
        s.start()
        s.create_user("alice")
        node = Node(s, "n1")
        node.register(s.create_key("alice"))
        noncanonical_key_case(chk, s)
        endpoint_case(chk, s, node)
        stream_credential_case(chk, s)
        chk.check(s.stop() == 0, "clean shutdown")
    except Exception as e:
        chk.check(False, f"exception: {e!r}")
        raise
    finally:
        s.stop()
        if chk.failed:
            print(open(s.log).read()[-3000:])
        cleanup(d)
    return chk.done()


if __name__ == "__main__":
    sys.exit(main())
