# SPDX-License-Identifier: GPL-2.0-only
"""Relay admission against a real meshgate-coord on loopback: a node the coordinator knows gets
in, and the answer is cached; an unknown key is refused with the coordinator's reason; with the
coordinator down, a key admitted before still gets in and an unknown one is refused saying the
coordinator could not be asked; a relay with the wrong credential admits nobody; a credential
file others can read is refused at load.

argv: meshgate-relay meshgate-coord relay_probe"""
import base64
import os
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "coord"))
from coordlib import Checker, Node, Server, cleanup, free_port, keypair, tempdir  # noqa: E402


def write_key(path, raw, mode=0o600):
    with open(path, "w") as f:
        f.write(base64.b64encode(raw).decode() + "\n")
    os.chmod(path, mode)
    return path


class Relay:
    def __init__(self, binary, d, name, coord_port, cred_file):
        self.binary, self.d, self.name = binary, d, name
        self.port, self.mport = free_port(), free_port()
        self.config = os.path.join(d, f"{name}.yaml")
        self.log = os.path.join(d, f"{name}.log")
        with open(self.config, "w") as f:
            f.write(f"listen: 127.0.0.1:{self.port}\n"
                    f"tls:\n  cert_file: {d}/cert.pem\n  key_file: {d}/key.pem\n"
                    f"metrics_listen: 127.0.0.1:{self.mport}\nname: {name}\n"
                    f"admission:\n  coordinator: http://127.0.0.1:{coord_port}\n"
                    f"  credential_file: {cred_file}\n")
        self.proc = None

    def start(self):
        logf = open(self.log, "a")
        self.proc = subprocess.Popen([self.binary, "--config", self.config], stdout=logf,
                                     stderr=logf)
        logf.close()
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.mport}/health", timeout=1)
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"relay did not start: {open(self.log).read()[-2000:]}")

    def metric(self, line):
        text = urllib.request.urlopen(f"http://127.0.0.1:{self.mport}/metrics",
                                      timeout=2).read().decode()
        for l in text.splitlines():
            if l.startswith(line + " "):
                return float(l.split()[-1])
        return -1

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def probe(probe_bin, d, relay, sk):
    kf = write_key(os.path.join(d, "probe.key"), sk)
    out = subprocess.run([probe_bin, "127.0.0.1", str(relay.port), "localhost",
                          os.path.join(d, "cert.pem"), kf], capture_output=True, text=True,
                         timeout=30)
    return out.stdout.strip() + out.stderr.strip()


def main():
    relay_bin, coord_bin, probe_bin = sys.argv[1:4]
    chk = Checker("relay_admission")
    c = chk.check
    d = tempdir("relayadmit-")
    procs = []
    try:
        if subprocess.run(
                ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                 "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", f"{d}/key.pem", "-out",
                 f"{d}/cert.pem", "-days", "2", "-subj", "/CN=localhost", "-addext",
                 "subjectAltName=DNS:localhost,IP:127.0.0.1"], capture_output=True).returncode:
            print("SKIP: openssl cannot make a test certificate")
            return 77
        cred = write_key(os.path.join(d, "relay-credential"), os.urandom(32))
        s = Server(coord_bin, d, extra={"relay_credential_file": cred})
        procs.append(s)
        s.bootstrap_key()
        s.start()
        s.create_user("alice")
        known = Node(s, "known")
        known.register(s.create_key("alice"))

        r = Relay(relay_bin, d, "r1", s.port, cred)
        procs.append(r)
        r.start()
        res = probe(probe_bin, d, r, known.sk)
        c(res == "admitted", f"a node the coordinator knows is admitted: {res}")
        res = probe(probe_bin, d, r, known.sk)
        c(res == "admitted" and r.metric('meshgate_relay_admission_total{result="cache_hit"}')
          >= 1, "the second login is answered from the cache")
        c(r.metric('meshgate_relay_admission_total{result="asked"}') == 1,
          "the coordinator was asked once")
        stranger, _ = keypair()
        res = probe(probe_bin, d, r, stranger)
        c("not_admitted" in res and "does not know this node key (unknown_node)" in res,
          f"an unknown key is refused with the reason: {res}")
        c(r.metric('meshgate_relay_closed_total{reason="not_admitted"}') >= 1,
          "the refusal is counted")

        s.stop()
        res = probe(probe_bin, d, r, known.sk)
        c(res == "admitted", f"coordinator down: a known key still gets in: {res}")
        other, _ = keypair()
        res = probe(probe_bin, d, r, other)
        c("could not be asked" in res, f"coordinator down: an unasked key is refused: {res}")
        c(r.metric('meshgate_relay_admission_total{result="error"}') >= 1,
          "the failed question is counted")
        s.start()

        wrong = write_key(os.path.join(d, "wrong-credential"), os.urandom(32))
        r2 = Relay(relay_bin, d, "r2", s.port, wrong)
        procs.append(r2)
        r2.start()
        res = probe(probe_bin, d, r2, known.sk)
        c("could not be asked" in res, f"a relay with the wrong credential admits nobody: {res}")
        c("kind=relay_credential reason=bad_relay_credential" in open(s.log).read(),
          "the coordinator logs the failed relay login")

        loose = write_key(os.path.join(d, "loose-credential"), os.urandom(32), 0o644)
        r3 = Relay(relay_bin, d, "r3", s.port, loose)
        out = subprocess.run([relay_bin, "--config", r3.config], capture_output=True,
                             text=True, timeout=10)
        c(out.returncode != 0 and "r3.yaml:9: admission.credential_file:" in out.stderr and
          "chmod 600" in out.stderr, f"a loose credential file is refused: {out.stderr}")
    except Exception as e:
        chk.check(False, f"exception: {e!r}")
        raise
    finally:
        for p in procs:
            p.stop()
        if chk.failed:
            for p in procs:
                print(p.log, open(p.log).read()[-2000:] if os.path.exists(p.log) else "")
        cleanup(d)
    return chk.done()


if __name__ == "__main__":
    sys.exit(main())
