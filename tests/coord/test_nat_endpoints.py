# SPDX-License-Identifier: GPL-2.0-only
"""STUN endpoints and the NAT mapping in the map (docs/coord-protocol.md, "The map request"):
a node's STUN-discovered endpoints and its NAT kind reach its peers in a delta, are stored in
one spelling, are cleared by a request without them and survive a restart; loopback,
multicast, unspecified, malformed, too many and unknown NAT kinds are refused with 400."""
import time

from coordlib import MapStream, Node, Server, run_in_tempdir


def report(s, node, body):
    body = dict(body, stream=False)
    return s.request("POST", "/v1/map", body, token=node.cred)


def run(chk, binary, d):
    c = chk.check
    s = Server(binary, d)
    s.bootstrap_key()
    s.start()
    try:
        s.create_user("alice")
        k = s.create_key("alice")
        a, b = Node(s, "a"), Node(s, "b")
        for n in (a, b):
            n.register(k)
        mb = MapStream(s, b.cred, {"endpoints": [], "routes": []})
        c("stun_endpoints" not in mb.peers[a.key] and "nat" not in mb.peers[a.key],
          f"nothing before a report: {mb.peers[a.key]}")

        # a report reaches the peer in a delta, in one spelling --------------------------------
        t0 = time.monotonic()
        st, js = report(s, a, {"endpoints": ["10.0.0.2:41641"],
                               "stun_endpoints": ["198.51.100.7:041641",
                                                  "[2001:DB8:0::7]:41641",
                                                  "198.51.100.7:41641"],
                               "nat": "easy"})
        c(st == 200 and js["self"].get("stun_endpoints") ==
          ["198.51.100.7:41641", "[2001:db8::7]:41641"] and js["self"].get("nat") == "easy",
          f"self shows the canonical, de-duplicated report: {js.get('self')}")
        ok = mb.wait_for(lambda m: m.peers[a.key].get("stun_endpoints") ==
                         ["198.51.100.7:41641", "[2001:db8::7]:41641"] and
                         m.peers[a.key].get("nat") == "easy")
        c(ok, f"the peer sees it in a delta: {mb.peers[a.key]}")
        print(f"report to peer delta: {(time.monotonic() - t0) * 1000:.0f} ms")

        # a changed mapping replaces the old one --------------------------------------------------
        st, _ = report(s, a, {"endpoints": ["10.0.0.2:41641"],
                              "stun_endpoints": ["203.0.113.9:1024"], "nat": "hard"})
        c(st == 200 and mb.wait_for(
            lambda m: m.peers[a.key].get("stun_endpoints") == ["203.0.113.9:1024"] and
            m.peers[a.key].get("nat") == "hard"), f"new mapping in a delta: {mb.peers[a.key]}")

        # refused reports leave the stored one alone ---------------------------------------------
        bad = [
            ({"stun_endpoints": ["127.0.0.1:5"]}, "bad_endpoint"),
            ({"stun_endpoints": ["[::1]:5"]}, "bad_endpoint"),
            ({"stun_endpoints": ["224.0.0.1:5"]}, "bad_endpoint"),
            ({"stun_endpoints": ["[ff02::1]:5"]}, "bad_endpoint"),
            ({"stun_endpoints": ["0.0.0.0:5"]}, "bad_endpoint"),
            ({"stun_endpoints": ["198.51.100.7:0"]}, "bad_endpoint"),
            ({"stun_endpoints": ["198.51.100.7"]}, "bad_endpoint"),
            ({"stun_endpoints": ["relay.example:5"]}, "bad_endpoint"),
            ({"stun_endpoints": [f"198.51.100.{i}:5" for i in range(1, 10)]}, "bad_field"),
            ({"stun_endpoints": "198.51.100.7:5"}, "bad_field"),
            ({"stun_endpoints": [7]}, "bad_field"),
            ({"nat": "symmetric"}, "bad_field"),
            ({"nat": True}, "bad_field"),
        ]
        for body, err in bad:
            st, js = report(s, a, body)
            c(st == 400 and js.get("error") == err, f"{body} refused with {err}: {st} {js}")
        st, js = b.poll_map()
        c(js["peers"][0].get("nat") == "hard", f"a refused report changes nothing: {js}")

        # persistence, then a report without them clears them ------------------------------------
        mb.close()
        c(s.stop() == 0, "clean stop")
        s.start()
        st, js = b.poll_map()
        c(st == 200 and js["peers"][0].get("stun_endpoints") == ["203.0.113.9:1024"] and
          js["peers"][0].get("nat") == "hard", f"survives a restart: {js['peers']}")
        st, _ = report(s, a, {"endpoints": ["10.0.0.2:41641"]})
        st, js = b.poll_map()
        c("stun_endpoints" not in js["peers"][0] and "nat" not in js["peers"][0],
          f"a report without them clears them: {js['peers']}")
    finally:
        s.stop()
        if chk.failed:
            print(open(s.log).read()[-3000:])


def main():
    return run_in_tempdir("coord_nat_endpoints", run)



if __name__ == "__main__":
    raise SystemExit(main())
