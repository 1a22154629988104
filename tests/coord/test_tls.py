# SPDX-License-Identifier: GPL-2.0-only
"""HTTPS end to end: a self-signed certificate made with the openssl CLI, registration and a map
stream over TLS (the client trusts exactly that certificate), the admin CLI over HTTPS, and the
start-up rule: plain HTTP is refused on any non-loopback address unless allow_plain_http is set.

As root the script re-runs itself in a new network namespace with a veth interface holding
192.0.2.1, so the non-loopback listeners are never reachable from outside. Without root the
checks that need to bind such an address are skipped (the refusal itself binds nothing)."""
import http.client
import os
import shutil
import socket
import ssl
import subprocess
import sys

from coordlib import Checker, Node, Server, cleanup, main_args, tempdir

NETNS_ENV = "MESHGATE_COORD_TLS_NETNS"
OUTSIDE_ADDR = "192.0.2.1"  # TEST-NET-1, on a veth interface inside our own namespace


def enter_netns():
    """Re-executes this script in a fresh network namespace; returns only if that is impossible."""
    if os.environ.get(NETNS_ENV) or os.geteuid() != 0 or not shutil.which("unshare") \
            or not shutil.which("ip"):
        return
    # a veth pair rather than a dummy link: not every kernel here has the dummy module
    setup = (f"ip link set lo up && ip link add mgtls0 type veth peer name mgtls1 && "
             f"ip addr add {OUTSIDE_ADDR}/24 dev mgtls0 && ip link set mgtls1 up && "
             f"ip link set mgtls0 up && "
             f'exec "$@"')
    env = dict(os.environ, **{NETNS_ENV: "1"})
    probe = subprocess.run(["unshare", "--net", "--", "true"], capture_output=True)
    if probe.returncode != 0:
        return
    os.execvpe("unshare", ["unshare", "--net", "--", "sh", "-c", setup, "sh", sys.executable,
                           os.path.abspath(__file__)] + sys.argv[1:], env)


def make_cert(d):
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    out = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                          "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
                          "-days", "2", "-subj", "/CN=meshgate-coord-test", "-addext",
                          f"subjectAltName=IP:127.0.0.1,IP:{OUTSIDE_ADDR}"],
                         capture_output=True, text=True, timeout=60)
    return cert, key, out


def plain_http_get(host, port):
    """A plain-text request; returns the status line, or the error that ended it."""
    conn = http.client.HTTPConnection(host, port, timeout=5)
    try:
        conn.request("GET", "/health")
        return f"HTTP {conn.getresponse().status}"
    except (OSError, http.client.HTTPException) as e:
        return f"error {e!r}"
    finally:
        conn.close()


def tls_cases(chk, binary, d, cert, key):
    s = Server(binary, d, tls=(cert, key), name="tls")
    try:
        s.bootstrap_key()
        s.start()
        st, js = s.request("GET", "/health")
        chk.check(st == 200, f"/health over HTTPS with the certificate as CA: {st} {js}")
        # the same port with the system CAs only: the handshake must fail verification
        try:
            with socket.create_connection((s.host, s.port), timeout=5) as raw:
                with ssl.create_default_context().wrap_socket(raw, server_hostname=s.host):
                    verified = "handshake succeeded"
        except ssl.SSLCertVerificationError:
            verified = "refused"
        except OSError as e:
            verified = f"other error {e!r}"
        chk.check(verified == "refused",
                  f"a client without the certificate refuses the server: {verified}")
        got = plain_http_get(s.host, s.port)
        chk.check(not got.startswith("HTTP 2"), f"plain HTTP on the TLS port gets nothing: {got}")

        s.create_user("alice")
        k = s.create_key("alice")
        a, b = Node(s, "tls-a"), Node(s, "tls-b")
        a.register(k)
        b.register(k)
        ma = a.open_map(endpoints=["198.51.100.1:51820"])
        chk.check(ma.status == 200 and ma.lines and ma.lines[0]["type"] == "full" and
                  set(ma.peers) == {b.key}, f"full map over HTTPS: {ma.status} {ma.lines[:1]}")
        mb = b.open_map(endpoints=["198.51.100.2:51820"])
        chk.check(ma.wait_for(lambda m: m.peers[b.key]["endpoints"] == ["198.51.100.2:51820"]),
                  "delta over HTTPS: b's endpoint reaches a's stream")
        c = Node(s, "tls-c")
        c.register(k)
        chk.check(ma.wait_for(lambda m: c.key in m.peers) and
                  mb.wait_for(lambda m: c.key in m.peers),
                  "a new node reaches both HTTPS streams")

        # the admin CLI: its default URL is https:// (from the config's tls section)
        out = s.cli("--cacert", cert, "nodes", "list")
        chk.check(out.returncode == 0 and all(n in out.stdout for n in ("tls-a", "tls-b",
                                                                         "tls-c")),
                  f"CLI over HTTPS with --cacert: rc {out.returncode} {out.stdout!r} "
                  f"{out.stderr!r}")
        out = s.cli("nodes", "list")
        chk.check(out.returncode != 0 and "tls-a" not in out.stdout and out.stderr,
                  f"CLI without the CA refuses the server: rc {out.returncode} {out.stderr!r}")
        out = s.cli("--insecure", "users", "list")
        chk.check(out.returncode == 0 and "alice" in out.stdout,
                  f"CLI with --insecure: rc {out.returncode} {out.stdout!r}")
        out = s.cli("--cacert", cert, "nodes", "rename", str(c.info["node_id"]), "renamed-c")
        chk.check(out.returncode == 0, f"CLI rename over HTTPS: {out.stderr!r}")
        chk.check(ma.wait_for(lambda m: m.peers.get(c.key, {}).get("name") == "renamed-c"),
                  "the CLI's change reaches a's HTTPS stream")
        ma.close()
        mb.close()
        chk.check(s.stop() == 0, "clean shutdown of the HTTPS server")
    finally:
        s.stop()


def refused(chk, binary, d, host, extra, what):
    """The server must exit at start-up, saying why, and never listen."""
    s = Server(binary, d, host=host, extra=extra, name="refuse")
    open(s.log, "w").close()
    s.start(wait=False)
    try:
        rc = s.proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        rc = None
    s.stop()
    log = open(s.log).read()
    chk.check(rc not in (None, 0) and "refusing plain HTTP" in log,
              f"{what}: exit {rc}, log {log[-300:]!r}")


def listen_rule_cases(chk, binary, d, cert, key, in_netns):
    refused(chk, binary, d, "0.0.0.0", {}, "plain HTTP on 0.0.0.0 refused")
    refused(chk, binary, d, "::", {}, "plain HTTP on :: refused")
    refused(chk, binary, d, OUTSIDE_ADDR, {"allow_plain_http": "false"},
            f"plain HTTP on {OUTSIDE_ADDR} refused")
    if not in_netns:
        print(f"SKIP listeners on {OUTSIDE_ADDR}: needs root and unshare")
        return
    s = Server(binary, d, host=OUTSIDE_ADDR, extra={"allow_plain_http": "true"}, name="forced")
    try:
        s.start()
        st, _ = s.request("GET", "/health")
        chk.check(st == 200, f"allow_plain_http: true serves plain HTTP on {OUTSIDE_ADDR}: {st}")
        chk.check(s.stop() == 0, "clean shutdown of the forced plain server")
    finally:
        s.stop()
    s = Server(binary, d, host=OUTSIDE_ADDR, tls=(cert, key), name="tls-outside")
    try:
        s.start()
        st, _ = s.request("GET", "/health")
        chk.check(st == 200, f"HTTPS on {OUTSIDE_ADDR} needs no flag: {st}")
        got = plain_http_get(OUTSIDE_ADDR, s.port)
        chk.check(not got.startswith("HTTP 2"), f"and plain HTTP gets nothing there: {got}")
    finally:
        s.stop()


def main():
    enter_netns()
    binary, _ = main_args()
    chk = Checker("coord_tls")
    in_netns = bool(os.environ.get(NETNS_ENV))
    d = tempdir()
    try:
        if shutil.which("openssl") is None:
            print("SKIP: the openssl CLI is not installed (scripts/install-deps.sh adds it)")
            return 77
        cert, key, out = make_cert(d)
        chk.check(out.returncode == 0 and os.path.getsize(cert) > 0,
                  f"openssl made a self-signed certificate: {out.stderr[-300:]}")
        tls_cases(chk, binary, d, cert, key)
        listen_rule_cases(chk, binary, d, cert, key, in_netns)
    except Exception as e:
        chk.check(False, f"exception: {e!r}")
        for name in ("tls", "refuse", "forced", "tls-outside"):
            p = os.path.join(d, name + ".log")
            if os.path.exists(p):
                print(f"--- {name}.log\n" + open(p).read()[-2000:])
        raise
    finally:
        cleanup(d)
    return chk.done()


if __name__ == "__main__":
    sys.exit(main())
