# SPDX-License-Identifier: GPL-2.0-only
"""Choosing an exit node, over real HTTP: a node's map carries a peer's 0.0.0.0/0 and ::/0 only
when its map request chose that peer (by name or key) and the policy lets it reach
autogroup:internet (or '*'); the others see the peer without them, flagged "exit_node". The exit
node's filter admits exactly the allowed users towards its /0 routes. Policy changes, withdrawn
routes and a changed choice reach the open streams as deltas; bad choices are refused."""
import sys

from coordlib import MapStream, Node, run_with_server

DEFAULTS = {"0.0.0.0/0", "::/0"}


def addrs(n):
    return [f"{n.info['addresses']['ipv4']}/32", f"{n.info['addresses']['ipv6']}/128"]


def open_map(node, exit_node=None):
    body = {"endpoints": ["192.0.2.1:51820"], "routes": [], "version": "test-1"}
    if exit_node is not None:
        body["exit_node"] = exit_node
    node.stream = MapStream(node.server, node.cred, body)
    return node.stream


def has_exit(m, key):
    p = m.peers.get(key)
    return p is not None and DEFAULTS <= set(p["allowed_ips"]) and DEFAULTS <= set(p["routes"])


def lacks_exit(m, key):
    p = m.peers.get(key)
    return p is not None and not DEFAULTS & set(p["allowed_ips"]) and not DEFAULTS & set(
        p["routes"]) and p.get("exit_node") is True


def internet_srcs(filt):
    """The sources of the exit node's filter entries whose destinations are the /0 routes."""
    out = set()
    for e in filt or []:
        if set(e["dst"]) & DEFAULTS:
            out |= set(e["src"])
    return out


def policy(travellers):
    return {"groups": {"group:travel": travellers},
            "acls": [{"action": "accept", "src": ["*"], "dst": ["ops:*"]},
                     {"action": "accept", "src": ["group:travel"],
                      "dst": ["autogroup:internet:*"]}]}


def run(chk, s):
    c = chk.check
    for u in ("ops", "alice", "bob", "carol"):
        s.create_user(u)
    ex, a, b, k = Node(s, "exit"), Node(s, "a"), Node(s, "b"), Node(s, "k")
    ex.register(s.create_key("ops"))
    a.register(s.create_key("alice"))
    b.register(s.create_key("bob"))
    k.register(s.create_key("carol"))
    st, js = s.admin("PUT", "policy", policy(["alice", "bob"]))
    c(st == 200, f"policy with autogroup:internet: {st} {js}")

    mx = ex.open_map(routes=["0.0.0.0/0", "::/0"])
    st, js = s.admin("POST", f"nodes/{ex.info['node_id']}/routes",
                     {"approved": ["0.0.0.0/0", "::/0"]})
    c(st == 200, f"approve the exit routes: {st} {js}")

    ma = open_map(a, "EXIT")  # names compare as hostnames do, ignoring case
    mb = open_map(b)
    mk = open_map(k, "exit")
    c(ma.wait_for(lambda m: has_exit(m, ex.key)), f"chosen: A gets the /0 routes: "
      f"{ma.peers.get(ex.key)}")
    c(ma.self_node.get("exit_node_chosen") == "EXIT" and ma.self_node.get("exit_node_allowed"),
      f"A's self tells the choice is granted: {ma.self_node}")
    c(mb.wait_for(lambda m: lacks_exit(m, ex.key)), f"not chosen: B sees the exit node without "
      f"/0: {mb.peers.get(ex.key)}")
    c(mk.wait_for(lambda m: lacks_exit(m, ex.key)), f"denied by policy: C gets no /0: "
      f"{mk.peers.get(ex.key)}")
    c(mk.self_node.get("exit_node_allowed") is False, f"C's self says why: {mk.self_node}")
    want = set(addrs(a) + addrs(b))
    c(mx.wait_for(lambda m: internet_srcs(m.filter) == want),
      f"the exit node's filter admits alice and bob to the internet, not carol: {mx.filter}")
    own = [e for e in mx.filter if not set(e["dst"]) & DEFAULTS]
    c(own and all(e["dst"] == addrs(ex) for e in own),
      f"the rules towards the exit node itself keep its own addresses only: {own}")

    # the policy grants carol, then takes it back --------------------------------------------
    s.set_policy(policy(["alice", "bob", "carol"]))
    c(mk.wait_for(lambda m: has_exit(m, ex.key)), "granted: C's stream gains the /0 routes")
    c(mx.wait_for(lambda m: internet_srcs(m.filter) == want | set(addrs(k))),
      f"and the exit node's filter admits carol: {mx.filter}")
    c(mb.wait_for(lambda m: lacks_exit(m, ex.key), timeout=1), "B still chose nothing")
    s.set_policy(policy(["alice", "bob"]))
    c(mk.wait_for(lambda m: lacks_exit(m, ex.key)), "withdrawn: C loses them again")
    c(mx.wait_for(lambda m: internet_srcs(m.filter) == want), "and leaves the exit's filter")

    # a policy without any internet rule: nobody uses an exit node ----------------------------
    s.set_policy({"acls": [{"action": "accept", "src": ["*"], "dst": ["ops:*"]}]})
    c(ma.wait_for(lambda m: lacks_exit(m, ex.key)), "no internet rule: A loses the /0 routes")
    c(mx.wait_for(lambda m: internet_srcs(m.filter) == set()), f"exit filter: {mx.filter}")
    s.set_policy({"acls": [{"action": "accept", "src": ["*"], "dst": ["*:*"]}]})
    c(ma.wait_for(lambda m: has_exit(m, ex.key)), "'*:*' includes the internet: A has them back")
    c(mx.wait_for(lambda m: internet_srcs(m.filter) == {"*"}), f"exit filter: {mx.filter}")

    # choice by key, in a one-shot map request ------------------------------------------------
    st, js = b.server.request("POST", "/v1/map", {"endpoints": [], "routes": [], "stream": False,
                                                  "exit_node": ex.key}, token=b.cred)
    peer = {p["key"]: p for p in js.get("peers", [])}.get(ex.key, {}) if st == 200 else {}
    c(DEFAULTS <= set(peer.get("allowed_ips", [])), f"chosen by key: {st} {peer}")
    # B's stream is still open: the one-shot request moved its choice, so the stream follows
    c(mb.wait_for(lambda m: has_exit(m, ex.key)), "B's open stream follows the new choice")
    st, js = b.server.request("POST", "/v1/map", {"endpoints": [], "routes": [], "stream": False},
                              token=b.cred)
    c(mb.wait_for(lambda m: lacks_exit(m, ex.key)), "a request without a choice clears it")

    # the exit routes withdrawn by the admin leave the user's map -----------------------------
    st, js = s.admin("POST", f"nodes/{ex.info['node_id']}/routes", {"approved": []})
    c(ma.wait_for(lambda m: ex.key in m.peers and not DEFAULTS & set(m.peers[ex.key]["allowed_ips"])
                  and m.peers[ex.key].get("exit_node") is False),
      f"unapproved: no /0 and no longer an exit node: {ma.peers.get(ex.key)}")

    # refused ---------------------------------------------------------------------------------
    for bad in (5, "x" * 80, ["exit"]):
        st, js = a.server.request("POST", "/v1/map", {"stream": False, "exit_node": bad},
                                  token=a.cred)
        c(st == 400 and js.get("error") == "bad_field" and "exit_node" in js.get("message", ""),
          f"exit_node {bad!r:.20}: {st} {js}")
    for pol, want in (
        ({"acls": [{"action": "accept", "src": ["autogroup:internet"], "dst": ["*:*"]}]},
         "acls[0].src[0]: autogroup:internet is only a destination"),
        ({"acls": [{"action": "accept", "src": ["*"], "dst": ["autogroup:self:*"]}]},
         "unknown autogroup"),
    ):
        st, js = s.admin("PUT", "policy", pol)
        c(st == 400 and want in js.get("message", ""), f"{pol['acls'][0]}: {st} {js}")
    for m in (mx, ma, mb, mk):
        m.close()


def main():
    return run_with_server("coord_exit", run)



if __name__ == "__main__":
    sys.exit(main())
