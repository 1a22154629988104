# SPDX-License-Identifier: GPL-2.0-only
"""A throwaway PostgreSQL server from Debian's packages, on a Unix socket in a temp dir.

PostgreSQL refuses to run as root, so under root the server runs as the 'postgres' user."""
import glob
import os
import shutil
import subprocess

from coordlib import free_port


def pg_bindir():
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.path.exists(os.path.join(d, "pg_ctl")):
            return d
    return None


class Postgres:
    def __init__(self, workdir):
        self.bindir = pg_bindir()
        self.dir = os.path.join(workdir, "pg")
        self.data = os.path.join(self.dir, "data")
        self.port = free_port()
        self.started = False
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def run(self, *args, check=True):
        return subprocess.run(self.as_user + list(args), capture_output=True, text=True,
                              check=check, timeout=120)

    def start(self):
        os.makedirs(self.dir)
        os.chmod(os.path.dirname(self.dir), 0o755)
        if self.as_user:
            shutil.chown(self.dir, "postgres", "postgres")
        self.run(f"{self.bindir}/initdb", "-D", self.data, "-A", "trust", "-U", "postgres",
                 "-E", "UTF8", "--no-sync")
        opts = f"-k {self.dir} -p {self.port} -c listen_addresses='' -c max_connections=100"
        self.run(f"{self.bindir}/pg_ctl", "-D", self.data, "-o", opts, "-l",
                 os.path.join(self.dir, "log"), "-w", "start")
        self.started = True
        return self

    def createdb(self, name):
        self.run(f"{self.bindir}/createdb", "-h", self.dir, "-p", str(self.port), "-U",
                 "postgres", name)
        return f"postgresql://postgres@/{name}?host={self.dir}&port={self.port}"

    def stop(self):
        if self.started:
            self.run(f"{self.bindir}/pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop",
                     check=False)
            self.started = False
