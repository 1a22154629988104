# SPDX-License-Identifier: GPL-2.0-only
"""Least privilege: under a series of policies (fixed ones and seeded random ones), every node's
map holds exactly the peers an independent evaluation of the policy allows, every peer ever sent
is allowed by the policy in force, and each packet filter is exactly what the policy grants the
node: the allowed sources, its own addresses as destinations, the rule's protocol, the ports."""
import random
import sys

from coordlib import Checker, Node, Server, cleanup, main_args, tempdir

USERS = ["u1", "u2", "u3"]
TAGS = ["tag:web", "tag:db"]
LAYOUT = [("u1", []), ("u1", []), ("u2", []), ("u2", []), ("u3", []), ("u1", ["tag:web"]),
          ("u2", ["tag:web"]), ("u3", ["tag:db"]), ("u1", ["tag:db", "tag:web"])]


def matches(pol, sel, node):
    user, tags = node
    if sel == "*":
        return True
    if sel.startswith("tag:"):
        return sel in tags
    if tags:
        return False  # a tagged node is its tags only
    if sel.startswith("group:"):
        return user in pol.get("groups", {}).get(sel, [])
    return sel == user


def reach(pol, a, b):
    for r in pol["acls"]:
        if any(matches(pol, s, a) for s in r["src"]) and \
                any(matches(pol, d.rsplit(":", 1)[0], b) for d in r["dst"]):
            return True
    return False


def visible(pol, a, b):
    return reach(pol, a, b) or reach(pol, b, a)


def filter_sources(pol, me, nodes):
    """The source entries node me's filter must hold: '*' or addresses of allowed senders."""
    out = set()
    for r in pol["acls"]:
        if not any(matches(pol, d.rsplit(":", 1)[0], me) for d in r["dst"]):
            continue
        if "*" in r["src"]:
            out.add("*")
            continue
        for n in nodes:
            if any(matches(pol, s, n.ident) for s in r["src"]):
                out.update(f"{a}" for a in (f"{n.info['addresses']['ipv4']}/32",
                                            f"{n.info['addresses']['ipv6']}/128"))
    return out


def expected_filter(pol, me, nodes):
    """Node me's whole filter, rule by rule: sources, its own addresses as destinations (these
    nodes carry no routes), the rule's protocol and the ports of the selectors naming me."""
    own = [f"{me.info['addresses']['ipv4']}/32", f"{me.info['addresses']['ipv6']}/128"]
    out = []
    for r in pol["acls"]:
        dsts = [d for d in r["dst"] if matches(pol, d.rsplit(":", 1)[0], me.ident)]
        if not dsts:
            continue
        if "*" in r["src"]:
            src = ["*"]
        else:
            src = sorted(a for n in nodes if any(matches(pol, s, n.ident) for s in r["src"])
                         for a in (f"{n.info['addresses']['ipv4']}/32",
                                   f"{n.info['addresses']['ipv6']}/128"))
        ports = [p for d in dsts for p in d.rsplit(":", 1)[1].split(",")]
        out.append((src, own, r.get("proto", "any"), ports))
    return out


def got_filter(m):
    return [(sorted(r["src"]), r["dst"], r["proto"], r["ports"]) for r in (m.filter or [])]


def random_policy(rng):
    groups = {"group:g1": rng.sample(USERS, rng.randint(1, 2))}
    pool = ["*"] + USERS + ["group:g1"] + TAGS
    acls = []
    for _ in range(rng.randint(1, 3)):
        src = rng.sample(pool[1:] if rng.random() < 0.8 else pool, rng.randint(1, 2))
        proto = rng.choice([None, None, "tcp", "udp", "icmp", "any"])
        dst = [f"{d}:{'*' if proto == 'icmp' else rng.choice(['*', '22', '80,443'])}"
               for d in rng.sample(pool[1:], rng.randint(1, 2))]
        acl = {"action": "accept", "src": src, "dst": dst}
        if proto:
            acl["proto"] = proto
        acls.append(acl)
    return {"groups": groups, "tagOwners": {t: ["u1"] for t in TAGS}, "acls": acls}


def main():
    binary, _ = main_args()
    chk = Checker("coord_least_privilege")
    d = tempdir()
    s = Server(binary, d)
    streams = []
    try:
        s.bootstrap_key()
        s.start()
        for u in USERS:
            s.create_user(u)
        base = {"tagOwners": {t: ["u1"] for t in TAGS}, "acls": []}
        s.set_policy(base)
        nodes = []
        for i, (user, tags) in enumerate(LAYOUT):
            n = Node(s, f"n{i}")
            n.register(s.create_key(user, tags=tags))
            n.ident = (user, tags)
            nodes.append(n)
        for n in nodes:
            streams.append(n.open_map())
        fixed = [
            {"acls": [{"action": "accept", "src": ["u1"], "dst": ["u1:*"]}]},
            {"acls": [{"action": "accept", "src": ["u2"], "dst": ["tag:web:80,443"]}]},
            {"groups": {"group:g1": ["u1", "u3"]},
             "acls": [{"action": "accept", "src": ["group:g1"], "dst": ["tag:db:5432"]},
                      {"action": "accept", "src": ["tag:web"], "dst": ["tag:db:5432"]}]},
            {"acls": [{"action": "accept", "src": ["*"], "dst": ["*:*"]}]},
            {"acls": [{"action": "accept", "src": ["u2"], "proto": "tcp", "dst": ["u1:22"]},
                      {"action": "accept", "src": ["u1"], "proto": "icmp", "dst": ["u2:*"]}]},
            {"acls": []},
        ]
        rng = random.Random(4242)
        policies = [dict(p, tagOwners={t: ["u1"] for t in TAGS}) for p in fixed]
        policies += [random_policy(rng) for _ in range(8)]
        for pi, pol in enumerate(policies):
            # peers sent before the new policy is acknowledged may follow the old one
            s.set_policy(pol)
            for n, m in zip(nodes, streams):
                want = {o.key for o in nodes if o is not n and visible(pol, n.ident, o.ident)}
                want_src = filter_sources(pol, n.ident, nodes)
                fsrc = lambda mm: {src for rule in (mm.filter or []) for src in rule["src"]}
                want_f = expected_filter(pol, n, nodes)
                ok = m.wait_for(lambda mm: set(mm.peers) == want and fsrc(mm) == want_src and
                                got_filter(mm) == want_f, timeout=5)
                chk.check(set(m.peers) == want, f"policy {pi}: {n.hostname} sees exactly the "
                          f"allowed peers (got {len(m.peers)}, want {len(want)})")
                chk.check(fsrc(m) == want_src,
                          f"policy {pi}: {n.hostname}'s filter sources {fsrc(m)} != {want_src}")
                chk.check(ok or set(m.peers) != want or fsrc(m) != want_src,
                          f"policy {pi}: {n.hostname}'s filter {got_filter(m)} != {want_f}")
                m.sent_mark = len(m.lines)
            # nothing sent after convergence may break the policy in force
            for n, m in zip(nodes, streams):
                m.drain(quiet=0.05)
                for line in m.lines[m.sent_mark:]:
                    for p in line.get("peers_changed", []) + line.get("peers", []):
                        other = next(o for o in nodes if o.key == p["key"])
                        chk.check(visible(pol, n.ident, other.ident),
                                  f"policy {pi}: {n.hostname} was sent forbidden {other.hostname}")
        # full maps from fresh streams obey the last policy too
        for n, m in zip(nodes, streams):
            m.close()
        pol = policies[-1]
        for n in nodes:
            m = n.open_map()
            bad = [p for p in m.peers.values() if not visible(
                pol, n.ident, next(o for o in nodes if o.key == p["key"]).ident)]
            chk.check(not bad, f"fresh full map of {n.hostname} holds only allowed peers")
            m.close()
        chk.check(s.stop() == 0, "clean shutdown")
    finally:
        for m in streams:
            m.close()
        s.stop()
        if chk.failed:
            print(open(s.log).read()[-3000:])
        cleanup(d)
    return chk.done()


if __name__ == "__main__":
    sys.exit(main())
