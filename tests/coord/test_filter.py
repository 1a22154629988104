# SPDX-License-Identifier: GPL-2.0-only
"""The packet filter in the map, over real HTTP: each rule carries sources (the allowed nodes'
addresses and the subnet routes they carry), destinations (the receiving node's own addresses and
the routes it carries), a protocol and ports; a policy without "proto" means any; approving or
withdrawing a route changes the filters it belongs in and no other; bad protocols are refused
with the element named."""
import sys

from coordlib import Node, run_with_server


def addrs(n):
    return [f"{n.info['addresses']['ipv4']}/32", f"{n.info['addresses']['ipv6']}/128"]


def run(chk, s):
    c = chk.check
    for u in ("alice", "bob"):
        s.create_user(u)
    a, b = Node(s, "a"), Node(s, "b")
    a.register(s.create_key("alice"))
    b.register(s.create_key("bob"))

    # the shape: A -> B tcp/22 ---------------------------------------------------------------
    s.set_policy({"acls": [{"action": "accept", "src": ["alice"], "proto": "tcp",
                            "dst": ["bob:22"]}]})
    ma, mb = a.open_map(), b.open_map(routes=["10.7.0.0/24"])
    want_b = [{"src": addrs(a), "dst": addrs(b), "proto": "tcp", "ports": ["22"]}]
    c(mb.wait_for(lambda m: m.filter == want_b), f"B's filter admits A on tcp/22: {mb.filter}")
    c(ma.wait_for(lambda m: b.key in m.peers) and ma.filter == [],
      f"A's filter admits nothing new: {ma.filter}")
    c(b.key in ma.peers and a.key in mb.peers, "both see each other (one direction allowed)")

    # a route B carries is a destination once approved, and only in B's filter --------------
    seq_a = ma.seq
    st, js = s.admin("POST", f"nodes/{b.info['node_id']}/routes", {"approved": ["10.7.0.0/24"]})
    c(st == 200, f"approve: {st} {js}")
    want_b[0]["dst"] = addrs(b) + ["10.7.0.0/24"]
    c(mb.wait_for(lambda m: m.filter == want_b), f"B's filter gains the route: {mb.filter}")
    c(ma.wait_for(lambda m: "10.7.0.0/24" in m.peers[b.key]["allowed_ips"]), "A routes it to B")
    c(all("filter" not in l for l in ma.lines if l.get("seq", 0) > seq_a),
      "A's filter was not resent")
    st, js = s.admin("POST", f"nodes/{b.info['node_id']}/routes", {"approved": []})
    want_b[0]["dst"] = addrs(b)
    c(mb.wait_for(lambda m: m.filter == want_b), f"withdrawn route leaves B's filter: {mb.filter}")

    # a route A carries is a source in B's filter (the hosts behind A), an exit route is not ---
    ma.close()
    ma = a.open_map(routes=["10.8.0.0/24", "0.0.0.0/0", "::/0"])
    st, js = s.admin("POST", f"nodes/{a.info['node_id']}/routes",
                     {"approved": ["10.8.0.0/24", "0.0.0.0/0", "::/0"]})
    c(st == 200, f"approve A's routes: {st} {js}")
    want_b[0]["src"] = addrs(a) + ["10.8.0.0/24"]
    c(mb.wait_for(lambda m: m.filter == want_b), f"B's filter admits A's subnet: {mb.filter}")
    st, js = s.admin("POST", f"nodes/{a.info['node_id']}/routes", {"approved": []})
    want_b[0]["src"] = addrs(a)
    c(mb.wait_for(lambda m: m.filter == want_b), f"and forgets it when withdrawn: {mb.filter}")

    # no proto: any; YAML; icmp --------------------------------------------------------------
    s.set_policy("acls:\n  - action: accept\n    src: [alice]\n    dst: ['bob:80,8000-8100']\n"
                 "  - action: accept\n    src: ['*']\n    proto: icmp\n    dst: ['bob:*']\n",
                 fmt="yaml")
    want_b = [{"src": addrs(a), "dst": addrs(b), "proto": "any", "ports": ["80", "8000-8100"]},
              {"src": ["*"], "dst": addrs(b), "proto": "icmp", "ports": ["*"]}]
    c(mb.wait_for(lambda m: m.filter == want_b), f"YAML policy, no proto = any: {mb.filter}")
    st, js = s.admin("GET", "policy")
    c(st == 200 and "proto: icmp" in js["policy"], "the policy text is kept as written")

    # refused ---------------------------------------------------------------------------------
    bad = [
        ({"acls": [{"action": "accept", "src": ["*"], "proto": "sctp", "dst": ["*:*"]}]},
         "acls[0].proto"),
        ({"acls": [{"action": "accept", "src": ["*"], "proto": 6, "dst": ["*:*"]}]},
         "acls[0].proto"),
        ({"acls": [{"action": "accept", "src": ["*"], "proto": "icmp", "dst": ["bob:22"]}]},
         "acls[0].dst[0]: proto icmp has no ports"),
        ({"acls": [{"action": "accept", "src": ["*"], "protocol": "tcp", "dst": ["*:*"]}]},
         "unknown key 'protocol'"),
    ]
    for pol, want in bad:
        st, js = s.admin("PUT", "policy", pol)
        c(st == 400 and js.get("error") == "bad_policy" and want in js.get("message", ""),
          f"{pol['acls'][0]}: {st} {js}")
    c(mb.wait_for(lambda m: m.filter == want_b, timeout=1), "a refused policy changes nothing")
    ma.close()
    mb.close()


def main():
    return run_with_server("coord_filter", run)



if __name__ == "__main__":
    sys.exit(main())
