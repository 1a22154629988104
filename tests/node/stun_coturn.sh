#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# STUN interop with coturn, both ways, on loopback only:
#   1. node/'s client (stun_probe) against `turnserver --stun-only` on 127.0.0.1 and 127.0.0.2:
#      the mapped address is the socket's own, and the mapping verdict is "none".
#   2. coturn's turnutils_stunclient against meshgate-relay's STUN server on two addresses.
#   3. Hostile datagrams against meshgate-relay: each refused and counted by reason, no response
#      more than 48 bytes longer than its request, a flood from one source rate-limited.
# usage: stun_coturn.sh MESHGATE_RELAY STUN_PROBE
set -euo pipefail

RELAY="$1"
PROBE="$2"
for c in turnserver turnutils_stunclient openssl python3 curl ss; do
	command -v "$c" >/dev/null 2>&1 || { echo "SKIP: $c missing (scripts/install-deps.sh)"; exit 77; }
done

PY="$(command -v /usr/bin/python3 || command -v python3)"
DIR="$(mktemp -d /tmp/meshgate-stun.XXXXXX)"
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${PIDS[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$DIR"
}
trap cleanup EXIT INT TERM

fail() {
	echo "FAIL: $*" >&2
	for f in "$DIR"/*.log; do
		[ -f "$f" ] && { echo "--- $f" >&2; tail -20 "$f" >&2; }
	done
	exit 1
}

# free_port PROTO: a port nothing listens on right now (TCP or UDP, any address). Plain bash:
# a python3 per port costs seconds behind version-manager shims.
free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 40000))
		ss -Hlntu "( sport = :$p )" | grep -q . || { echo "$p"; return; }
	done
}

# wait_stun ADDR PORT: until something answers STUN there (5 s).
wait_stun() {
	for _ in $(seq 50); do
		"$PROBE" -t 100 query "$1:$2" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# ---- 1. node/ client against coturn ----
TP="$(free_port udp)"
cat >"$DIR/turnserver.conf" <<CONF
listening-ip=127.0.0.1
listening-ip=127.0.0.2
listening-ip=::1
listening-port=$TP
stun-only
no-cli
no-tls
no-dtls
no-rfc5780
pidfile=$DIR/turnserver.pid
log-file=$DIR/turnserver.log
simple-log
userdb=$DIR/turndb
CONF
turnserver -c "$DIR/turnserver.conf" >"$DIR/turnserver-out.log" 2>&1 &
PIDS+=($!)
wait_stun 127.0.0.1 "$TP" || fail "turnserver did not come up on 127.0.0.1:$TP"

LP="$(free_port udp)"
out="$("$PROBE" -b "127.0.0.1:$LP" query "127.0.0.1:$TP")" || fail "query coturn: $out"
grep -qx "mapped=127.0.0.1:$LP" <<<"$out" || fail "coturn mapped address: $out"
echo "ok: coturn maps node/'s client to 127.0.0.1:$LP"

LP="$(free_port udp)"
out="$("$PROBE" -b "127.0.0.1:$LP" detect "127.0.0.1:$TP" "127.0.0.2:$TP")" ||
	fail "detect with coturn: $out"
grep -qx "mapping=none" <<<"$out" || fail "no NAT on loopback, got: $out"
grep -qx "mapped2=127.0.0.1:$LP" <<<"$out" || fail "second coturn address: $out"
echo "ok: NAT detection against coturn's two addresses: none"

LP="$(free_port udp)"
out="$("$PROBE" -b "[::1]:$LP" query "[::1]:$TP")" || fail "query coturn over IPv6: $out"
grep -qx "mapped=\[::1\]:$LP" <<<"$out" || fail "coturn IPv6 mapped address: $out"
echo "ok: coturn maps node/'s IPv6 client to [::1]:$LP"

# ---- 2. coturn's client against meshgate-relay ----
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
	-subj /CN=localhost -keyout "$DIR/key.pem" -out "$DIR/cert.pem" >/dev/null 2>&1
RP1="$(free_port udp)"
RP2="$(free_port udp)"
RP3="$(free_port udp)"
MP="$(free_port tcp)"
cat >"$DIR/relay.yaml" <<CONF
listen: 127.0.0.1:$(free_port tcp)
tls: {cert_file: $DIR/cert.pem, key_file: $DIR/key.pem}
metrics_listen: 127.0.0.1:$MP
stun:
  listen: [127.0.0.1:$RP1, 127.0.0.2:$RP2, "[::1]:$RP3"]
  rate_per_source: 10
  burst_per_source: 20
CONF
"$RELAY" -c "$DIR/relay.yaml" >"$DIR/relay.log" 2>&1 &
PIDS+=($!)
wait_stun 127.0.0.1 "$RP1" || fail "meshgate-relay STUN did not come up"
metric() {
	curl -fsS "http://127.0.0.1:$MP/metrics" | awk -v k="$1" '$1 == k { print $2 }'
}

for target in "127.0.0.1 $RP1" "127.0.0.2 $RP2"; do
	set -- $target
	out="$(timeout 10 turnutils_stunclient -p "$2" "$1" 2>&1)" ||
		fail "turnutils_stunclient $1:$2: $out"
	grep -Eq 'UDP reflexive addr: 127\.0\.0\.1:[1-9][0-9]*$' <<<"$out" ||
		fail "turnutils_stunclient against $1:$2 said: $out"
	echo "ok: turnutils_stunclient against meshgate-relay $1:$2: $(grep -m1 reflexive <<<"$out")"
done

out="$(timeout 10 turnutils_stunclient -p "$RP3" ::1 2>&1)" ||
	fail "turnutils_stunclient [::1]:$RP3: $out"
grep -Eq 'UDP reflexive addr: \[?::1\]?:[1-9][0-9]*$' <<<"$out" ||
	fail "turnutils_stunclient against [::1]:$RP3 said: $out"
echo "ok: turnutils_stunclient against meshgate-relay [::1]:$RP3: $(grep -m1 reflexive <<<"$out")"

LP="$(free_port udp)"
out="$("$PROBE" -b "[::1]:$LP" query "[::1]:$RP3")" || fail "query relay over IPv6: $out"
grep -qx "mapped=\[::1\]:$LP" <<<"$out" || fail "relay IPv6 mapped address: $out"
LP="$(free_port udp)"
out="$("$PROBE" -b "127.0.0.1:$LP" query "127.0.0.1:$RP1")" || fail "query relay: $out"
grep -qx "mapped=127.0.0.1:$LP" <<<"$out" || fail "relay mapped address: $out"
grep -qx "response_origin=127.0.0.1:$RP1" <<<"$out" || fail "relay RESPONSE-ORIGIN: $out"
LP="$(free_port udp)"
out="$("$PROBE" -b "127.0.0.1:$LP" detect "127.0.0.1:$RP1" "127.0.0.2:$RP2")" ||
	fail "detect with relay: $out"
grep -qx "mapping=none" <<<"$out" || fail "relay detection: $out"
echo "ok: node/'s client against meshgate-relay (mapped, RESPONSE-ORIGIN, detection)"

# ---- 3. hostile datagrams ----
"$PY" - "$RP1" "$RP2" <<'PY' || fail "hostile datagrams"
import os, socket, struct, sys, zlib
port, port2 = int(sys.argv[1]), int(sys.argv[2])
MAGIC = 0x2112A442

def fp(b):
    return struct.pack("!HHI", 0x8028, 4, (zlib.crc32(b) ^ 0x5354554E) & 0xffffffff)

def msg(typ, attrs=b"", fingerprint=True, txid=None):
    txid = txid or os.urandom(12)
    ln = len(attrs) + (8 if fingerprint else 0)
    h = struct.pack("!HHI", typ, ln, MAGIC) + txid + attrs
    if fingerprint:
        h += fp(h)
    return h

def sock(src="127.0.0.1"):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((src, 0))
    s.settimeout(0.3)
    return s

def ask(s, data, p=port):
    s.sendto(data, ("127.0.0.1", p))
    try:
        return s.recv(2048)
    except socket.timeout:
        return None

s = sock()
bad = {
    "short": b"\x00\x01\x00\x00\x21\x12",
    "not_stun": b"\x01\x00\x00\x00" + os.urandom(144),
    "bad_length": msg(1)[:-4],
    "too_long": msg(1, struct.pack("!HH", 0x8022, 1300) + b"x" * 1300),
    "not_request": msg(0x0101),
    "unknown_method": msg(0x0003),
    "bad_attribute": msg(1, struct.pack("!HH", 0x8022, 40) + b"x" * 4, fingerprint=False),
}
b = bytearray(msg(1)); b[-1] ^= 1
bad["bad_fingerprint"] = bytes(b)
for why, data in bad.items():
    r = ask(s, data)
    assert r is None, f"{why}: answered"
# A change request gets 420 with UNKNOWN-ATTRIBUTES, and stays within the budget.
req = msg(1, struct.pack("!HHI", 0x0003, 4, 6))
r = ask(s, req)
assert r is not None and struct.unpack("!H", r[:2])[0] == 0x0111, "no 420"
assert len(r) <= len(req) + 48, (len(r), len(req))
# Amplification: the smallest request, IPv4.
for req in (msg(1, fingerprint=False), msg(1)):
    r = ask(s, req)
    assert r is not None and len(r) <= len(req) + 48, (len(req), r and len(r))
# Flood from one source address: its bucket (burst 20, 10/s) holds.
f = sock("127.0.0.4")
answered = 0
for i in range(60):
    f.sendto(msg(1), ("127.0.0.1", port))
f.settimeout(0.5)
try:
    while True:
        f.recv(2048); answered += 1
except socket.timeout:
    pass
assert 19 <= answered <= 25, answered
# Another source address has its own bucket.
assert ask(sock("127.0.0.5"), msg(1)) is not None
print("hostile ok, flood answered", answered)
PY
for r in short not_stun bad_length too_long not_request unknown_method bad_attribute \
	bad_fingerprint rate_per_source; do
	v="$(metric "meshgate_relay_stun_drops_total{reason=\"$r\"}")"
	[ -n "$v" ] && [ "$v" -ge 1 ] || fail "drop reason $r not counted (got '$v')"
done
v="$(metric 'meshgate_relay_stun_responses_total{kind="error"}')"
[ "$v" -ge 1 ] || fail "420 not counted"
echo "ok: hostile datagrams refused and counted"
kill -0 "${PIDS[1]}" || fail "meshgate-relay died"
echo "PASS"
