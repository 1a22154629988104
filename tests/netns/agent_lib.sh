# SPDX-License-Identifier: GPL-2.0-only
# What the agent tests share, sourced after lib.sh: a meshgate-coord in a namespace, its admin API,
# and agents whose wireguard-go is registered for cleanup. Needs COORD and AGENT (the binaries).

# coord_start NS URL: meshgate-coord on $MG_STATE/coord.yaml in NS, answering at URL; sets
# API_KEY (a fresh admin key) and COORD_PID, and remembers NS and URL for admin.
coord_start() {
	COORD_NS="$1" COORD_URL="$2"
	API_KEY=$("$COORD" --config "$MG_STATE/coord.yaml" apikey create) || fail "apikey create"
	spawn "$MG_STATE/coord.log" ip netns exec "$COORD_NS" "$COORD" --config "$MG_STATE/coord.yaml"
	COORD_PID=$MG_SPAWNED_PID
	wait_for 20 "meshgate-coord" ip netns exec "$COORD_NS" curl -sf "$COORD_URL/health"
}

# admin METHOD PATH [JSON]: the reply body on stdout; fails the test on an HTTP error.
admin() {
	local args=(-sS -f -X "$1" -H "Authorization: Bearer $API_KEY" --max-time 10)
	[ $# -lt 3 ] || args+=(-H 'Content-Type: application/json' --data "$3")
	run_bounded 15 ip netns exec "$COORD_NS" curl "${args[@]}" "$COORD_URL/v1/admin/$2" ||
		fail "admin $1 $2"
}

# node_field PUBKEY JQ_PATH: a field of that node in the coordinator's list.
node_field() {
	admin GET nodes | jq -er --arg k "$1" ".nodes[] | select(.node_key == \$k) | $2"
}

# agent_start WHO NS IFNAME: the agent on $MG_STATE/agent-WHO.yaml; its pid in AGENT_PID. Its
# wireguard-go is registered for cleanup too (the agent stops it, but not if the agent is killed).
agent_start() {
	local who="$1" ns="$2" ifname="$3" child st
	mg_file "/var/run/wireguard/$ifname.sock"
	spawn "$MG_STATE/agent-$who.log" ip netns exec "$ns" "$AGENT" --config "$MG_STATE/agent-$who.yaml"
	AGENT_PID=$MG_SPAWNED_PID
	wait_for 15 "agent $who's wireguard-go" test -S "/var/run/wireguard/$ifname.sock"
	child=$(cat "/proc/$AGENT_PID/task/$AGENT_PID/children" 2>/dev/null || true)
	for c in $child; do
		st=$(mg_pid_starttime "$c") || continue
		mg_register pids "$c $st"
	done
}

# alice_nodes WHO...: user alice with a reusable pre-auth key in $MG_STATE/authkey, and a
# WireGuard private key for each WHO in $MG_STATE/WHO.key (0600, as the agent requires).
alice_nodes() {
	local who
	admin POST users '{"name":"alice"}' >/dev/null
	admin POST preauthkeys '{"user":"alice","reusable":true,"expiration":"1h"}' |
		jq -er .key >"$MG_STATE/authkey" || fail "pre-auth key"
	for who in "$@"; do
		(umask 077 && wg genkey >"$MG_STATE/$who.key")
	done
}

# relay_cert: a self-signed certificate for relay.test in $MG_STATE/relay.crt and relay.key; the
# nodes take the certificate as their CA file.
relay_cert() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$MG_STATE/relay.key" -out "$MG_STATE/relay.crt" -days 2 -subj /CN=relay.test \
		-addext "subjectAltName=DNS:relay.test" >/dev/null 2>&1 || fail "relay certificate"
}

# relay_spawn NS NAME METRICS_PORT: meshgate-relay on $MG_STATE/NAME.yaml in NS, logging to
# NAME.log, waited for until its health answers; its pid in RELAY_PID.
relay_spawn() {
	spawn "$MG_STATE/$2.log" ip netns exec "$1" "$RELAY" --config "$MG_STATE/$2.yaml"
	RELAY_PID=$MG_SPAWNED_PID
	wait_for 10 "meshgate-relay $2" ip netns exec "$1" curl -sf "http://127.0.0.1:$3/health"
}

# relay_metric NS METRICS_PORT NAME: NAME's value on that relay's /metrics (empty if absent).
relay_metric() {
	ip netns exec "$1" curl -sf --max-time 5 "http://127.0.0.1:$2/metrics" |
		awk -v n="$3" '$1 == n {print $2}'
}

# marker_not_at_relay HUB_NS HUB_IF SRC_NS DST DST_NS DST_IF: SRC_NS pings DST with the payload
# pattern MARKER while everything on the relay host's HUB_IF is captured. DST_NS's DST_IF must see
# the marker (else the check would prove nothing); the capture and the relay's record of what it
# delivered ($MG_STATE/relay.tap, test.tap_file) must not, and every payload the relay delivered
# must be a WireGuard message (type 1..4, then three zero bytes).
marker_not_at_relay() {
	local hub_ns="$1" hub_if="$2" src_ns="$3" dst="$4" dst_ns="$5" dst_if="$6" sniff_pid seen_pid
	cat >"$MG_STATE/sniff.py" <<'PY'
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind((sys.argv[1], 0))
print("ready", flush=True)
if sys.argv[2] == "--find":
    s.settimeout(8)
    marker = bytes.fromhex(sys.argv[3])
    try:
        while True:
            if marker in s.recv(65535):
                print("seen", flush=True)
                break
    except socket.timeout:
        pass
else:
    with open(sys.argv[2], "wb", buffering=0) as out:
        while True:
            out.write(s.recv(65535))
PY
	spawn "$MG_STATE/sniff.log" ip netns exec "$hub_ns" python3 "$MG_STATE/sniff.py" "$hub_if" \
		"$MG_STATE/hub.cap"
	sniff_pid=$MG_SPAWNED_PID
	ip netns exec "$dst_ns" timeout 10 python3 "$MG_STATE/sniff.py" "$dst_if" --find "$MARKER" \
		>"$MG_STATE/dst-seen" 2>&1 &
	seen_pid=$!
	# Both sockets bound before the first ping: on a loaded machine python can take seconds.
	wait_for 10 "the destination's capture" grep -qx ready "$MG_STATE/dst-seen"
	wait_for 10 "the hub's capture" grep -qx ready "$MG_STATE/sniff.log"
	run_bounded 15 ip netns exec "$src_ns" ping -c 5 -i 0.2 -W 2 -p "$MARKER" "$dst" >/dev/null ||
		fail "marker pings"
	wait "$seen_pid" || true
	grep -qx seen "$MG_STATE/dst-seen" ||
		fail "$dst never received the marker: the check would prove nothing"
	stop_pid "$sniff_pid" 2
	[ -s "$MG_STATE/hub.cap" ] || fail "the capture on the relay's host is empty"
	[ -s "$MG_STATE/relay.tap" ] || fail "the relay's tap file is empty"
	python3 - "$MG_STATE/hub.cap" "$MG_STATE/relay.tap" "$MARKER" <<'PY' ||
import sys
cap, tap, marker = open(sys.argv[1], "rb").read(), open(sys.argv[2], "rb").read(), bytes.fromhex(sys.argv[3])
assert marker not in cap, "marker in the capture on the relay's host"
assert marker not in tap, "marker in a payload the relay delivered"
off = n = 0
while off < len(tap):
    plen = int.from_bytes(tap[off + 64:off + 68], "big")
    p = tap[off + 68:off + 68 + plen]
    assert len(p) == plen and p[0] in (1, 2, 3, 4) and p[1:4] == b"\0\0\0", f"payload {n} is not WireGuard"
    off += 68 + plen
    n += 1
print(f"{len(cap)} captured bytes and {n} relayed payloads, none with the marker")
PY
		fail "plaintext seen by the relay"
}
