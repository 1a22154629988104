# SPDX-License-Identifier: GPL-2.0-only
"""Kill the server with SIGKILL during a burst of registrations, restart it, and find every
acknowledged registration still there, with the same id, addresses and a working credential."""
import signal
import sqlite3
import sys
import threading
import time

from coordlib import Checker, Node, Server, cleanup, main_args, tempdir


def main():
    binary, _ = main_args()
    chk = Checker("coord_persistence")
    d = tempdir()
    s = Server(binary, d)
    acked = []
    lock = threading.Lock()
    stop = threading.Event()
    try:
        s.bootstrap_key()
        s.start()
        s.create_user("alice")
        key = s.create_key("alice")

        def worker(w):
            i = 0
            while not stop.is_set():
                n = Node(s, f"w{w}-{i}")
                i += 1
                try:
                    st, js = s.request("POST", "/v1/register", n.proof_request(key), timeout=5)
                except Exception:
                    continue  # the server died mid-request: not acknowledged
                if st == 200:
                    with lock:
                        acked.append((n.key, js["node_id"], js["addresses"], js["credential"]))

        threads = [threading.Thread(target=worker, args=(w,)) for w in range(6)]
        for t in threads:
            t.start()
        time.sleep(2.0)
        s.proc.send_signal(signal.SIGKILL)
        s.proc.wait()
        stop.set()
        for t in threads:
            t.join()
        s.proc = None
        chk.check(len(acked) > 20, f"a burst of registrations was acknowledged ({len(acked)})")
        db = sqlite3.connect(f"{d}/coord.db")
        chk.check(db.execute("PRAGMA integrity_check").fetchone()[0] == "ok",
                  "database intact after SIGKILL")
        db.close()
        s.start()
        st, js = s.admin("GET", "nodes")
        by_key = {n["node_key"]: n for n in js["nodes"]}
        missing = [k for k, _, _, _ in acked if k not in by_key]
        chk.check(not missing, f"every acknowledged registration survived ({len(missing)} lost)")
        wrong = [k for k, nid, addrs, _ in acked if k in by_key and
                 (by_key[k]["id"] != nid or by_key[k]["addresses"][0] != addrs["ipv4"])]
        chk.check(not wrong, f"ids and addresses unchanged ({len(wrong)} differ)")
        ok = 0
        for k, nid, addrs, cred in acked[:10]:
            st, _ = s.request("POST", "/v1/map", {"stream": False}, token=cred)
            ok += st == 200
        chk.check(ok == min(10, len(acked)), "credentials still work after the restart")
        ips = [n["addresses"][0] for n in js["nodes"]]
        chk.check(len(ips) == len(set(ips)), "no address handed out twice")
        chk.check(s.stop() == 0, "clean shutdown")
    finally:
        stop.set()
        s.stop()
        if chk.failed:
            print(open(s.log).read()[-3000:])
        cleanup(d)
    return chk.done()


if __name__ == "__main__":
    sys.exit(main())
