# SPDX-License-Identifier: GPL-2.0-only
"""PostgreSQL: a real server started by the test. The whole API suite runs against it, then two
replicas share one database: changes made through either reach map streams held by the other
(LISTEN/NOTIFY), and a replica killed with SIGKILL loses nothing."""
import signal
import sys

from coordlib import Checker, Node, Server, cleanup, main_args, tempdir
from pglib import Postgres, pg_bindir
from test_api import SERVER_OPTS, run_api_suite


def two_replicas(chk, pg, binary, d):
    c = chk.check
    url = pg.createdb("meshgate_ha")
    a = Server(binary, d, store=url, name="replica-a")
    b = Server(binary, d, store=url, name="replica-b")
    try:
        a.bootstrap_key()
        a.start()
        b.start()
        b.api_key = a.api_key
        a.create_user("alice")
        a.create_user("bob")
        key = b.create_key("alice")  # made on b, used on a
        n1 = Node(a, "n1")
        n1.register(key)
        m1 = n1.open_map(endpoints=["192.0.2.10:51820"])
        n2 = Node(b, "n2")
        n2.register(key)
        c(m1.wait_for(lambda m: n2.key in m.peers), "registration on B reaches a stream on A")
        m2 = n2.open_map(endpoints=["192.0.2.20:51820"])
        c(n1.key in m2.peers and m2.peers[n1.key]["online"], "B's full map shows n1 online")
        c(m1.wait_for(lambda m: m.peers[n2.key]["endpoints"] == ["192.0.2.20:51820"]),
          "n2's endpoint (via B) reaches A")
        n1.poll_map(endpoints=["192.0.2.11:51820"])
        c(m2.wait_for(lambda m: m.peers[n1.key]["endpoints"] == ["192.0.2.11:51820"]),
          "n1's endpoint change (via A) reaches B")
        b.set_policy({"acls": [{"action": "accept", "src": ["bob"], "dst": ["bob:*"]}]})
        c(m1.wait_for(lambda m: not m.peers), "a policy set on B empties n1's map on A")
        a.set_policy({"acls": [{"action": "accept", "src": ["alice"], "dst": ["alice:22"]}]})
        c(m2.wait_for(lambda m: n1.key in m.peers), "a policy set on A restores n2's map on B")
        n3 = Node(a, "n3")
        n3.register(key)
        c(m2.wait_for(lambda m: n3.key in m.peers), "n3 via A reaches B")
        st, _ = b.admin("DELETE", f"nodes/{n3.info['node_id']}")
        c(st == 200 and m1.wait_for(lambda m: n3.key not in m.peers),
          "a deletion on B reaches A")
        # A dies without warning; everything acknowledged through it is still there
        acked = []
        for i in range(5):
            n = Node(a, f"late{i}")
            n.register(key)
            acked.append(n)
        a.stop(signal.SIGKILL)
        c(m2.wait_for(lambda m: all(n.key in m.peers for n in acked)),
          "registrations acknowledged by A reached B")
        st, js = b.admin("GET", "nodes")
        keys = {n["node_key"]: n for n in js["nodes"]}
        c(all(n.key in keys for n in acked + [n1, n2]), "B lists every node after A died")
        m1.close()
        m1b = Node.__new__(Node)
        m1b.__dict__.update(n1.__dict__)
        m1b.server = b
        mb = m1b.open_map()
        c(mb.status == 200 and mb.self_node["addresses"][0].startswith(
            n1.info["addresses"]["ipv4"] + "/"), "n1 reconnects to B with the same address")
        c(m2.wait_for(lambda m: m.peers[n1.key]["online"]), "n1 online again, seen on B")
        for m in (m2, mb):
            m.close()
        c(b.stop() == 0, "replica B shuts down cleanly")
    finally:
        a.stop()
        b.stop()
        if chk.failed:
            for srv in (a, b):
                print(open(srv.log).read()[-2000:])


def main():
    binary, _ = main_args()
    chk = Checker("coord_postgres")
    if pg_bindir() is None:
        print("skip: PostgreSQL server binaries are not installed")
        return 77
    d = tempdir()
    pg = Postgres(d)
    try:
        pg.start()
        url = pg.createdb("meshgate_api")
        s = Server(binary, d, store=url, extra=SERVER_OPTS, name="api")
        try:
            s.bootstrap_key()
            s.start()
            run_api_suite(chk, s)
            chk.check(s.stop() == 0, "clean shutdown")
            s.start()  # migrations are idempotent: a restart on the same database works
            st, js = s.admin("GET", "users")
            chk.check(st == 200 and len(js["users"]) == 2, "state kept across a restart")
        finally:
            s.stop()
            if chk.failed:
                print(open(s.log).read()[-3000:])
        two_replicas(chk, pg, binary, d)
    finally:
        pg.stop()
        cleanup(d)
    return chk.done()


if __name__ == "__main__":
    sys.exit(main())
