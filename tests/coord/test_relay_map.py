# SPDX-License-Identifier: GPL-2.0-only
"""The relay map and relay admission (docs/coord-protocol.md, "Relays"): the config's regions
reach every map; a node's reported home relay reaches its peers and survives a restart; a
relay with the shared credential learns whether a node key is known, and nobody else does;
bad relay configs are refused with the file, line and key."""
import base64
import os
import subprocess
import sys

from coordlib import MapStream, Node, Server, run_in_tempdir

RELAY_MAP = """
  regions:
    - code: fra
      name: Frankfurt
      relays:
        - {name: fra-1, host: fra-1.relay.test, port: 8443, stun_port: 3478}
        - {name: fra-2, host: 192.0.2.7, server_name: fra-2.relay.test}
    - code: nyc
      relays:
        - {name: nyc-1, host: nyc-1.relay.test}"""

EXPECTED = {"regions": [
    {"code": "fra", "name": "Frankfurt", "relays": [
        {"name": "fra-1", "host": "fra-1.relay.test", "port": 8443,
         "server_name": "fra-1.relay.test", "stun_port": 3478},
        {"name": "fra-2", "host": "192.0.2.7", "port": 443,
         "server_name": "fra-2.relay.test", "stun_port": 0}]},
    {"code": "nyc", "name": "nyc", "relays": [
        {"name": "nyc-1", "host": "nyc-1.relay.test", "port": 443,
         "server_name": "nyc-1.relay.test", "stun_port": 0}]}]}


def write_secret(path, mode=0o600):
    with open(path, "w") as f:
        f.write(base64.b64encode(os.urandom(32)).decode() + "\n")
    os.chmod(path, mode)
    with open(path) as f:
        return f.read().strip()


def bad_config(chk, binary, d, body, want):
    path = os.path.join(d, "bad.yaml")
    with open(path, "w") as f:
        f.write(f"listen: 127.0.0.1:1\nstore: sqlite:{d}/bad.db\n" + body)
    out = subprocess.run([binary, "--config", path], capture_output=True, text=True, timeout=20)
    chk.check(out.returncode != 0 and want in out.stderr,
              f"refused: {want!r} in {out.stderr.strip()!r}")


def admit(s, token, key):
    return s.request("POST", "/v1/relay/admit", {"node_key": key}, token=token)


def run(chk, binary, d):
    c = chk.check
    cred_file = os.path.join(d, "relay-credential")
    cred = write_secret(cred_file)
    s = Server(binary, d, extra={"relay_map": RELAY_MAP, "relay_credential_file": cred_file})
    s.bootstrap_key()
    s.start()
    try:
        s.create_user("alice")
        k = s.create_key("alice")
        a, b, gone = Node(s, "a"), Node(s, "b"), Node(s, "gone")
        for n in (a, b, gone):
            n.register(k)

        # the relay map and home relays -----------------------------------------------------
        st, full = a.poll_map()
        c(st == 200 and full.get("relay_map") == EXPECTED, f"relay map in the map: {full}")
        mb = MapStream(s, b.cred, {"endpoints": [], "routes": []})
        c(mb.lines[0].get("relay_map") == EXPECTED, "relay map in the stream's full map")
        c("home_relay" not in mb.peers[a.key], "no home relay before one is reported")
        st, js = s.request("POST", "/v1/map", {"home_relay": "fra-1", "stream": False},
                           token=a.cred)
        c(st == 200 and js["self"].get("home_relay") == "fra-1", f"self shows home: {js}")
        c(mb.wait_for(lambda m: m.peers[a.key].get("home_relay") == "fra-1"),
          "a peer sees the home relay in a delta")
        for bad in ("fra 1", "x" * 64, 7, "fra/1"):
            st, js = s.request("POST", "/v1/map", {"home_relay": bad, "stream": False},
                               token=a.cred)
            c(st == 400 and js["error"] == "bad_field", f"home_relay {bad!r} refused: {js}")
        mb.close()

        # admission -------------------------------------------------------------------------
        st, js = admit(s, cred, a.key)
        c(st == 200 and js["admitted"] is True and js["ttl"] > 0, f"known node admitted: {js}")
        st, js = admit(s, cred, base64.b64encode(os.urandom(32)).decode())
        c(st == 200 and js["admitted"] is False and js["reason"] == "unknown_node",
          f"unknown key refused with a reason: {js}")
        st, js = admit(s, None, a.key)
        c(st == 401 and js["error"] == "bad_relay_credential", f"no credential: {st} {js}")
        st, js = admit(s, base64.b64encode(os.urandom(32)).decode(), a.key)
        c(st == 401 and js["error"] == "bad_relay_credential", f"wrong credential: {st} {js}")
        st, js = admit(s, b.cred, a.key)
        c(st == 401, f"a node credential is not a relay credential: {st} {js}")
        st, js = admit(s, cred, "not-a-key")
        c(st == 400 and js["error"] == "bad_key", f"malformed key: {st} {js}")
        st, js = s.request("POST", "/v1/relay/admit", {"node_key": a.key, "x": 1}, token=cred)
        c(st == 400 and js["error"] == "unknown_field", f"unknown field: {st} {js}")
        gid = gone.info["node_id"]
        st, _ = s.admin("POST", f"nodes/{gid}/expire")
        st, js = admit(s, cred, gone.key)
        c(js.get("admitted") is False and js.get("reason") == "node_expired",
          f"expired node refused: {js}")
        st, _ = s.admin("DELETE", f"nodes/{gid}")
        st, js = admit(s, cred, gone.key)
        c(js.get("admitted") is False and js.get("reason") == "unknown_node",
          f"deleted node refused: {js}")

        # persistence ---------------------------------------------------------------------
        c(s.stop() == 0, "clean stop")
        s.start()
        st, js = b.poll_map()
        c(st == 200 and js["peers"][0].get("home_relay") == "fra-1",
          f"home relay survives a restart: {js['peers']}")
    finally:
        s.stop()
        if chk.failed:
            print(open(s.log).read()[-3000:])

    # a coordinator without a credential refuses every relay ----------------------------------
    s2 = Server(binary, d, name="plain")
    s2.start()
    try:
        st, js = admit(s2, cred, a.key)
        c(st == 403 and js["error"] == "relay_admission_off", f"admission off: {st} {js}")
    finally:
        s2.stop()

    loose = os.path.join(d, "loose")
    write_secret(loose, 0o644)
    bad_config(chk, binary, d, f"relay_credential_file: {loose}\n",
               "relay_credential_file: " + loose + " is readable by group or others; chmod 600")
    bad_config(chk, binary, d,
               "relay_map:\n  regions:\n    - code: a\n      relays:\n"
               "        - {name: r1, host: h1}\n        - {name: r1, host: h2}\n",
               "bad.yaml:8: relay_map.regions[0].relays[1].name: relay name 'r1' appears twice")
    bad_config(chk, binary, d,
               "relay_map:\n  regions:\n    - code: a\n      relays:\n"
               "        - {name: r1, host: 'h 1'}\n",
               "relay_map.regions[0].relays[0].host: expected a DNS name")
    bad_config(chk, binary, d, "relay_map:\n  regions:\n    - code: a\n",
               "relay_map.regions[0].relays: required")


def main():
    return run_in_tempdir("coord_relay_map", run)



if __name__ == "__main__":
    sys.exit(main())
