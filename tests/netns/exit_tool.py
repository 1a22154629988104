#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Traffic for gw_exit.sh: an "internet" server that records every source address it sees, and
the clients a host behind the exit node runs. Every operation is bounded in time.

  server LOG PORT              TCP and UDP echo on PORT, IPv4 and IPv6; "proto addr port" per
                               connection or datagram to LOG
  tcp DST PORT                 one TCP exchange
  udp DST PORT                 one UDP exchange
  ttl DST PORT TTL             a UDP datagram with that TTL/hop limit: prints the address and ICMP
                               type of the error the kernel matched back to the socket
  flows DST PORT N [SECONDS]   N UDP sockets at once, each sends its own token; every socket must
                               get its own token back (resends the missing ones)
  hold DST PORT N SECONDS      N UDP flows that keep exchanging every 0.5 s for SECONDS; prints
                               how many exchanges failed
"""
import os
import resource
import selectors
import socket
import struct
import sys
import time


def family_of(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def server(log, port):
    sel = selectors.DefaultSelector()
    out = open(log, "a", buffering=1)
    for fam, any_ in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
        for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            s = socket.socket(fam, kind)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if fam == socket.AF_INET6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            s.bind((any_, port))
            if kind == socket.SOCK_STREAM:
                s.listen(128)
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ, kind)
    while True:
        for key, _ in sel.select():
            s = key.fileobj
            if key.data == socket.SOCK_DGRAM:
                while True:
                    try:
                        data, peer = s.recvfrom(2048)
                    except BlockingIOError:
                        break
                    out.write("udp %s %d\n" % (peer[0], peer[1]))
                    s.sendto(data, peer)
            else:
                try:
                    c, peer = s.accept()
                except BlockingIOError:
                    continue
                out.write("tcp %s %d\n" % (peer[0], peer[1]))
                c.settimeout(5)
                try:
                    data = c.recv(2048)
                    c.sendall(data)
                except OSError:
                    pass
                c.close()


def tcp(dst, port):
    s = socket.create_connection((dst, port), timeout=5)
    s.sendall(b"hello over tcp")
    data = s.recv(100)
    assert data == b"hello over tcp", data


def udp(dst, port):
    s = socket.socket(family_of(dst), socket.SOCK_DGRAM)
    s.settimeout(1)
    for _ in range(5):
        s.sendto(b"hello over udp", (dst, port))
        try:
            data, _ = s.recvfrom(100)
            assert data == b"hello over udp"
            return
        except socket.timeout:
            continue
    sys.exit("no UDP reply")


def ttl(dst, port, hops):
    fam = family_of(dst)
    s = socket.socket(fam, socket.SOCK_DGRAM)
    if fam == socket.AF_INET:
        s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, hops)
        s.setsockopt(socket.IPPROTO_IP, 11, 1)  # IP_RECVERR
        level = socket.IPPROTO_IP
    else:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, hops)
        s.setsockopt(socket.IPPROTO_IPV6, 25, 1)  # IPV6_RECVERR
        level = socket.IPPROTO_IPV6
    deadline = time.time() + 8
    while time.time() < deadline:
        s.sendto(b"probe", (dst, port))
        time.sleep(0.5)
        try:
            _, anc, _, _ = s.recvmsg(512, 512, socket.MSG_ERRQUEUE | socket.MSG_DONTWAIT)
        except BlockingIOError:
            continue
        for lvl, _, data in anc:
            if lvl != level:
                continue
            # struct sock_extended_err, then the offender's sockaddr
            errno_, origin, type_, code, _, info, _ = struct.unpack("IBBBBII", data[:16])
            off = data[16:]
            if fam == socket.AF_INET:
                addr = socket.inet_ntop(socket.AF_INET, off[4:8])
            else:
                addr = socket.inet_ntop(socket.AF_INET6, off[8:24])
            print("%s %d" % (addr, type_))
            return
    sys.exit("no ICMP error came back to the socket")


def raise_nofile(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(max(soft, n + 100), hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def flows(dst, port, n, secs):
    raise_nofile(n)
    fam = family_of(dst)
    socks = []
    for i in range(n):
        s = socket.socket(fam, socket.SOCK_DGRAM)
        s.setblocking(False)
        s.connect((dst, port))
        socks.append(s)
    sel = selectors.DefaultSelector()
    for i, s in enumerate(socks):
        sel.register(s, selectors.EVENT_READ, i)
    got = [False] * n
    wrong = 0
    deadline = time.time() + secs
    missing = list(range(n))
    while missing and time.time() < deadline:
        # paced: a few hundred at a time, then collect
        for k in range(0, len(missing), 250):
            for i in missing[k:k + 250]:
                try:
                    socks[i].send(b"flow %d" % i)
                except BlockingIOError:
                    pass
            end = time.time() + 0.05
            while time.time() < end:
                for key, _ in sel.select(0.01):
                    i = key.data
                    try:
                        while True:
                            data = key.fileobj.recv(100)
                            if data == b"flow %d" % i:
                                got[i] = True
                            else:
                                wrong += 1
                    except BlockingIOError:
                        pass
        end = time.time() + 1
        while time.time() < end and not all(got):
            for key, _ in sel.select(0.1):
                i = key.data
                try:
                    while True:
                        data = key.fileobj.recv(100)
                        if data == b"flow %d" % i:
                            got[i] = True
                        else:
                            wrong += 1
                except BlockingIOError:
                    pass
        missing = [i for i in range(n) if not got[i]]
    print("delivered %d of %d, misdelivered %d" % (n - len(missing), n, wrong))
    if missing or wrong:
        sys.exit(1)


def hold(dst, port, n, secs):
    fam = family_of(dst)
    socks = []
    for i in range(n):
        s = socket.socket(fam, socket.SOCK_DGRAM)
        s.settimeout(1)
        s.connect((dst, port))
        socks.append(s)
    failed = 0
    end = time.time() + secs
    while time.time() < end:
        for i, s in enumerate(socks):
            ok = False
            for _ in range(3):
                s.send(b"hold %d" % i)
                try:
                    ok = s.recv(100) == b"hold %d" % i
                    break
                except socket.timeout:
                    continue
            failed += not ok
        time.sleep(0.5)
    print(failed)


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "server":
        server(args[0], int(args[1]))
    elif cmd == "tcp":
        tcp(args[0], int(args[1]))
    elif cmd == "udp":
        udp(args[0], int(args[1]))
    elif cmd == "ttl":
        ttl(args[0], int(args[1]), int(args[2]))
    elif cmd == "flows":
        flows(args[0], int(args[1]), int(args[2]), float(args[3]) if len(args) > 3 else 60)
    elif cmd == "hold":
        hold(args[0], int(args[1]), int(args[2]), float(args[3]))
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
