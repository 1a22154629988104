# SPDX-License-Identifier: GPL-2.0-only
"""The coordinator's API end to end over real HTTP: users, keys, registration with proof of
possession, map streams with deltas, routes and approval, policy changes, expiry, deletion,
ephemeral clean-up and the admin CLI. Runs against SQLite, or PostgreSQL from test_pg.py."""
import ipaddress
import json
import sys
import time

from coordlib import Node, run_with_server

SERVER_OPTS = {"ephemeral_grace": "1s"}


def run_api_suite(chk, s):
    c = chk.check
    # users -----------------------------------------------------------------------------------
    for u in ("alice", "bob", "carol"):
        s.create_user(u)
    st, js = s.admin("POST", "users", {"name": "alice"})
    c(st == 409 and js["error"] == "exists", f"duplicate user refused: {st} {js}")
    st, js = s.admin("GET", "users")
    c(st == 200 and [u["name"] for u in js["users"]] == ["alice", "bob", "carol"],
      f"user list: {js}")

    # keys and registration --------------------------------------------------------------------
    ka = s.create_key("alice", reusable=True)
    kb = s.create_key("bob", reusable=False)
    st, js = s.admin("GET", "preauthkeys?user=bob")
    c(st == 200 and len(js["preauthkeys"]) == 1 and not js["preauthkeys"][0]["reusable"],
      f"bob's keys listed: {js}")
    c(ka not in json.dumps(js), "listing never shows a key")
    a1, a2, b1 = Node(s, "a1"), Node(s, "a2"), Node(s, "b1")
    a1.register(ka)
    a2.register(ka)
    b1.register(kb)
    st, js = Node(s, "b2").register(kb, expect=401)
    c(js["error"] == "auth_key_used", f"single-use key refused the second time: {js}")
    addrs = [n.info["addresses"] for n in (a1, a2, b1)]
    c(len({a["ipv4"] for a in addrs}) == 3 and len({a["ipv6"] for a in addrs}) == 3,
      f"distinct addresses: {addrs}")
    c(all(ipaddress.ip_address(a["ipv4"]) in ipaddress.ip_network("100.64.0.0/10")
          for a in addrs), "IPv4 in 100.64.0.0/10")
    c(all(ipaddress.ip_address(a["ipv6"]) in ipaddress.ip_network("fc00::/7") for a in addrs),
      "IPv6 in the ULA range")
    # re-registration with the same WireGuard key keeps id and addresses
    old = dict(a1.info)
    a1.register(ka)
    c(a1.info["node_id"] == old["node_id"] and a1.info["addresses"] == old["addresses"],
      "re-registration keeps the node and its addresses")
    c(a1.info["credential"] != old["credential"], "re-registration issues a new credential")
    st, js = s.request("POST", "/v1/map", {"stream": False}, token=old["credential"])
    c(st == 401, f"the replaced credential no longer works: {st}")

    # map stream: full map then deltas -------------------------------------------------------
    m1 = a1.open_map(endpoints=["198.51.100.1:41641"])
    c(m1.status == 200 and m1.lines[0]["type"] == "full", f"full map first: {m1.lines[:1]}")
    c(set(m1.peers) == {a2.key, b1.key}, "default policy: everyone sees everyone")
    c(m1.self_node["key"] == a1.key and m1.self_node["addresses"][0].startswith(
        a1.info["addresses"]["ipv4"]), "self entry")
    p = m1.peers[b1.key]
    c(all(k in p for k in ("key", "addresses", "allowed_ips", "endpoints", "online",
                           "key_expiry")), f"peer fields: {sorted(p)}")
    mb = b1.open_map(endpoints=["203.0.113.5:51820"])
    c(m1.wait_for(lambda m: m.peers.get(b1.key, {}).get("online") is True and
                  m.peers[b1.key]["endpoints"] == ["203.0.113.5:51820"]),
      "a1 told that b1 came online with its endpoint")
    seq0 = m1.seq
    st, _ = b1.poll_map(endpoints=["203.0.113.9:51820"])
    # the non-streaming poll replaced nothing: b1's stream stays, a1 sees the new endpoint
    c(m1.wait_for(lambda m: m.peers[b1.key]["endpoints"] == ["203.0.113.9:51820"]),
      "endpoint change reaches a1 as a delta")
    c(m1.seq > seq0 and all(l["seq"] <= m1.seq for l in m1.lines), "sequence numbers grow")

    # policy: remove and add peers -----------------------------------------------------------
    s.set_policy({"acls": [{"action": "accept", "src": ["alice"], "dst": ["alice:*"]}]})
    c(m1.wait_for(lambda m: b1.key not in m.peers and a2.key in m.peers),
      "policy change removed b1 from a1's map")
    c(mb.wait_for(lambda m: len(m.peers) == 0), "b1 now sees nobody")
    s.set_policy("groups:\n  group:eng: [alice, bob]\n"
                 "acls:\n  - action: accept\n    src: [group:eng]\n    dst: ['group:eng:22']\n",
                 fmt="yaml")
    c(m1.wait_for(lambda m: b1.key in m.peers), "YAML policy brought b1 back to a1")
    c(mb.wait_for(lambda m: a1.key in m.peers and a2.key in m.peers), "b1 sees alice's nodes")
    c(m1.wait_for(lambda m: m.filter and m.filter[0]["ports"] == ["22"] and
                  f"{b1.info['addresses']['ipv4']}/32" in m.filter[0]["src"]),
      f"filter lists b1 as a source on port 22: {m1.filter}")
    st, js = s.admin("GET", "policy")
    c(st == 200 and js["format"] == "yaml" and "group:eng" in js["policy"], "policy stored")

    # routes ------------------------------------------------------------------------------------
    m2 = a2.open_map(routes=["10.1.0.0/24"])
    c(m1.wait_for(lambda m: m.peers[a2.key]["online"]), "a2 online")
    c("10.1.0.0/24" not in m1.peers[a2.key]["allowed_ips"], "unapproved route not in allowed IPs")
    st, js = s.admin("GET", "routes")
    c(st == 200 and any(r["prefix"] == "10.1.0.0/24" and not r["approved"] for r in js["routes"]),
      f"route listed as advertised: {js}")
    aid = a2.info["node_id"]
    st, js = s.admin("POST", f"nodes/{aid}/routes", {"approved": ["10.9.0.0/24"]})
    c(st == 400 and js["error"] == "route_not_advertised", f"unadvertised approval refused: {js}")
    st, js = s.admin("POST", f"nodes/{aid}/routes", {"approved": ["10.1.0.0/24"]})
    c(st == 200, f"approve: {st} {js}")
    c(m1.wait_for(lambda m: "10.1.0.0/24" in m.peers[a2.key]["allowed_ips"]),
      "approved route reaches a1 in a2's allowed IPs")
    s.set_policy({"groups": {"group:eng": ["alice", "bob"]},
                  "acls": [{"action": "accept", "src": ["group:eng"], "dst": ["group:eng:*"]}],
                  "autoApprovers": {"routes": {"10.2.0.0/16": ["alice"]}}})
    m2.close()
    m2 = a2.open_map(routes=["10.1.0.0/24", "10.2.1.0/24"])
    c(m1.wait_for(lambda m: "10.2.1.0/24" in m.peers[a2.key]["allowed_ips"]),
      "auto-approver approved 10.2.1.0/24")

    # rename --------------------------------------------------------------------------------------
    st, js = s.admin("POST", f"nodes/{aid}/rename", {"name": "alpha-two"})
    c(st == 200 and js["name"] == "alpha-two", f"rename: {js}")
    c(m1.wait_for(lambda m: m.peers[a2.key]["name"] == "alpha-two"), "rename reaches peers")

    # expiry --------------------------------------------------------------------------------------
    bid = b1.info["node_id"]
    st, js = s.admin("POST", f"nodes/{bid}/expire")
    c(st == 200 and js["expired"], f"expire: {js}")
    c(m1.wait_for(lambda m: b1.key not in m.peers), "expired node leaves a1's map")
    c(mb.wait_for(lambda m: m.ended is not None), f"b1's stream ends: {mb.ended}")
    st, js = b1.poll_map()
    c(st == 403 and js["error"] == "node_expired", f"expired node refused: {st} {js}")
    kshort = s.create_key("carol", expiration="1s")
    time.sleep(2.1)
    st, js = Node(s, "c1").register(kshort, expect=401)
    c(js["error"] == "auth_key_expired", f"expired pre-auth key refused: {js}")
    kcarol = s.create_key("carol")
    prefix = kcarol.split("_")[1]
    st, js = s.admin("DELETE", f"preauthkeys/{prefix}")
    c(st == 200, f"revoke pre-auth key: {js}")
    st, js = Node(s, "c2").register(kcarol, expect=401)
    c(js["error"] == "auth_key_expired", f"revoked key refused: {js}")

    # deletion ------------------------------------------------------------------------------------
    st, js = s.admin("DELETE", f"nodes/{aid}")
    c(st == 200, f"delete: {js}")
    c(m1.wait_for(lambda m: a2.key not in m.peers), "deleted node leaves a1's map")
    c(m2.wait_for(lambda m: m.ended is not None), "deleted node's stream ends")
    st, js = a2.poll_map()
    c(st == 401, f"deleted node's credential refused: {st}")
    st, js = s.admin("GET", "nodes")
    c(aid not in [n["id"] for n in js["nodes"]], "deleted node not listed")

    # ephemeral clean-up --------------------------------------------------------------------------
    ke = s.create_key("alice", ephemeral=True)
    e1 = Node(s, "eph")
    e1.register(ke)
    me = e1.open_map()
    c(m1.wait_for(lambda m: e1.key in m.peers and m.peers[e1.key]["online"]),
      "ephemeral node joined")
    me.close()
    c(m1.wait_for(lambda m: e1.key not in m.peers, timeout=10),
      "ephemeral node removed after it went offline")
    st, js = s.admin("GET", f"nodes/{e1.info['node_id']}")
    c(st == 404, f"ephemeral node gone from the store: {st}")

    # users with nodes cannot be deleted; the policy protects named users ----------------------
    st, js = s.admin("DELETE", "users/alice")
    c(st == 409 and js["error"] == "user_has_nodes", f"user with nodes kept: {js}")
    st, js = s.admin("DELETE", "users/carol")
    c(st == 200, f"user without nodes deleted: {st} {js}")

    # admin CLI -----------------------------------------------------------------------------------
    r = s.cli("users", "list")
    c(r.returncode == 0 and "alice" in r.stdout and "NAME" in r.stdout, f"CLI table: {r.stdout}")
    r = s.cli("nodes", "list", json_out=True)
    c(r.returncode == 0 and any(n["name"] == "a1" for n in json.loads(r.stdout)["nodes"]),
      "CLI --json nodes list")
    r = s.cli("routes", "list")
    c(r.returncode == 0, f"CLI routes list: {r.stderr}")
    r = s.cli("keys", "create", "--user", "bob", "--expiration", "2h")
    c(r.returncode == 0 and r.stdout.startswith("mgpre_"), f"CLI keys create: {r.stdout}")
    r = s.cli("policy", "get")
    c(r.returncode == 0 and "group:eng" in r.stdout, "CLI policy get")
    r = s.cli("users", "create", "Bad Name")
    c(r.returncode != 0 and "bad_name" in r.stderr, f"CLI reports API errors: {r.stderr}")
    for m in (m1, mb, m2, me):
        m.close()


def main():
    return run_with_server("coord_api", run_api_suite, extra=SERVER_OPTS)



if __name__ == "__main__":
    sys.exit(main())
