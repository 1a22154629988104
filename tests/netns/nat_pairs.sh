#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Disco paths between two agents behind nftables NATs (issue 15). For each pair of NATs the
# agents are started afresh and A pings B's overlay address five times a second; the script
# prints the time from the agents' start to a direct path (both sides) and the share of the
# pair's WireGuard packets that went through the relay (A's proxy counters).
#
#   1. A behind an endpoint-independent NAT with endpoint-independent filtering ("full cone"),
#      B behind an endpoint-independent NAT with port-restricted filtering (plain masquerade):
#      direct; then, while A pings, a capture on the relay's host sees no relay frame, and the
#      relay forwards none. From the internet, pings under B's key to A's public endpoint: an
#      authentic one gets a pong; a forged one and a replay get nothing, are counted, and A's
#      path to B stays as it was.
#   2. A full cone, B behind a NAT that maps by destination (masquerade fully-random): direct
#      (B's pings reach A from a fresh port, A learns it and answers). The NAT of B then forgets
#      its mappings (conntrack -F) mid-flow: pings recover within 5 s, and the path is direct
#      again.
#   3. Both behind NATs that map by destination: the pair stays on the relay, and pings work;
#      disco pings through the relay are answered (A knows the relay's round trip).
#
#   mg-<pid>-r:   the relay's and coordinator's host, veth rr 10.99.0.1/24 + 10.99.0.2/24
#   mg-<pid>-i:   the internet, routing between 10.99.0.0/24, 10.99.1.0/24, 10.99.2.0/24
#   mg-<pid>-na:  NAT of A, public 10.99.1.1, inside 192.168.1.1/24; mg-<pid>-a: 192.168.1.2
#   mg-<pid>-nb:  NAT of B, public 10.99.2.1, inside 192.168.2.1/24; mg-<pid>-b: 192.168.2.2
#
# usage: nat_pairs.sh MESHGATE_AGENT MESHGATE_COORD MESHGATE_RELAY DISCO_PROBE MESHCTL
set -euo pipefail

# shellcheck source=nat_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/nat_lib.sh"

nat_agent_args nat_pairs.sh "MESHGATE_AGENT MESHGATE_COORD MESHGATE_RELAY DISCO_PROBE MESHCTL" "$@"
require_commands ping python3
mg_init

NS_R=$(ns_name r)
NS_I=$(ns_name i)
NS_NA=$(ns_name na)
NS_NB=$(ns_name nb)
NS_A=$(ns_name a)
NS_B=$(ns_name b)
IF_A=$(if_name mgA)
IF_B=$(if_name mgB)
URL="http://10.99.0.1:8080"

ns_add "$NS_R" "$NS_I" "$NS_NA" "$NS_NB" "$NS_A" "$NS_B"
veth_pair "$NS_R" rr "$NS_I" ir
veth_pair "$NS_NA" vo "$NS_I" ia
veth_pair "$NS_NB" vo "$NS_I" ib
veth_pair "$NS_A" veth0 "$NS_NA" vi
veth_pair "$NS_B" veth0 "$NS_NB" vi
addr_add "$NS_R" rr 10.99.0.1/24
addr_add "$NS_R" rr 10.99.0.2/24
addr_add "$NS_I" ir 10.99.0.254/24
addr_add "$NS_I" ia 10.99.1.254/24
addr_add "$NS_I" ib 10.99.2.254/24
addr_add "$NS_NA" vo 10.99.1.1/24
addr_add "$NS_NB" vo 10.99.2.1/24
addr_add "$NS_NA" vi 192.168.1.1/24
addr_add "$NS_NB" vi 192.168.2.1/24
addr_add "$NS_A" veth0 192.168.1.2/24
addr_add "$NS_B" veth0 192.168.2.2/24
ip -n "$NS_R" route add default via 10.99.0.254 || fail "route r"
ip -n "$NS_NA" route add default via 10.99.1.254 || fail "route na"
ip -n "$NS_NB" route add default via 10.99.2.254 || fail "route nb"
ip -n "$NS_A" route add default via 192.168.1.1 || fail "route a"
ip -n "$NS_B" route add default via 192.168.2.1 || fail "route b"
for ns in "$NS_I" "$NS_NA" "$NS_NB"; do
	ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1 || fail "ip_forward in $ns"
done

coord_write 10.99.0.1:8080
coord_start "$NS_R" "$URL"
alice_nodes a b
PUB_A=$(wg pubkey <"$MG_STATE/a.key")
PUB_B=$(wg pubkey <"$MG_STATE/b.key")

relay_stun_start "$NS_R" "test:
  tap_file: $MG_STATE/relay.tap"
metric() { relay_metric "$NS_R" 9470 "$1"; }

agent_nat_config a "$IF_A"
agent_nat_config b "$IF_B"

kind_is() { [ "$(disco "$1" "$2" .kind)" = "$3" ]; }
ping_a_b() { run_bounded 5 ip netns exec "$NS_A" ping -c 1 -W 1 "$B4" >/dev/null 2>&1; }

b_addr() {
	admin GET nodes | jq -er --arg k "$PUB_B" \
		'.nodes[] | select(.node_key == $k) | .addresses[0]' >"$MG_STATE/b4"
}
both_direct() { kind_is a "$PUB_B" direct && kind_is b "$PUB_A" direct; }

AGENT_A="" AGENT_B="" PINGER=""
agents_start() {
	rm -f "$MG_STATE/status-a.json" "$MG_STATE/status-b.json"
	agent_start a "$NS_A" "$IF_A"
	AGENT_A=$AGENT_PID
	agent_start b "$NS_B" "$IF_B"
	AGENT_B=$AGENT_PID
}
agents_stop() {
	[ -z "$PINGER" ] || stop_pid "$PINGER" 2
	stop_pid "$AGENT_A" 5
	stop_pid "$AGENT_B" 5
	PINGER=""
}
# share: relayed / all WireGuard packets A moved for B, in percent.
share() {
	disco a "$PUB_B" '.packets | (.to_relay + .from_relay) as $r |
		($r + .to_direct + .from_direct) as $t | if $t == 0 then 0 else 100 * $r / $t end |
		floor'
}
FIGURES=""

# pair NAME KIND_A KIND_B EXPECT: fresh agents behind those NATs; EXPECT direct or relay.
pair() {
	local name="$1" expect="$4" t0 t
	nat "$NS_NA" 192.168.1.2 "$2"
	nat "$NS_NB" 192.168.2.2 "$3"
	t0=$(now_ms)
	agents_start
	if [ -z "${B4:-}" ]; then
		wait_for 20 "B's overlay address" b_addr
		B4=$(cat "$MG_STATE/b4")
	fi
	spawn "$MG_STATE/ping-$name.log" ip netns exec "$NS_A" ping -i 0.2 -W 1 "$B4"
	PINGER=$MG_SPAWNED_PID
	if [ "$expect" = direct ]; then
		wait_for 20 "$name: A direct to B" kind_is a "$PUB_B" direct
		wait_for 5 "$name: B direct to A" kind_is b "$PUB_A" direct
		t=$(($(now_ms) - t0))
	else
		sleep 6
		kind_is a "$PUB_B" relay || fail "$name: A's path to B is $(disco a "$PUB_B" .kind)"
		kind_is b "$PUB_A" relay || fail "$name: B's path to A is $(disco b "$PUB_A" .kind)"
		# Disco through the relay: B answered A's relayed pings (the relay's round trip).
		disco a "$PUB_B" '.rtt_ms > 0' >/dev/null || fail "$name: no round trip through the relay"
		t="-"
	fi
	wait_for 10 "$name: pings A -> B" ping_a_b
	sleep 1
	log "ok: $name: $expect after ${t} ms; relayed: $(share)%; A: $(disco a "$PUB_B" tostring)"
	FIGURES+="$name: time to direct ${t} ms, relayed $(share)% of WireGuard packets"$'\n'
}

# relay_quiet SECONDS: while A pings B, the relay's host sees no relay frame and the relay
# forwards none; the capture sees A's direct packets are not on that host at all.
relay_quiet() {
	local f0 f1 tap0
	cat >"$MG_STATE/cap.py" <<'PY'
import socket, struct, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind((sys.argv[1], 0))
s.settimeout(0.2)
print("ready", flush=True)
end, frames = time.time() + float(sys.argv[2]), 0
while time.time() < end:
    try:
        p = s.recv(65535)
    except socket.timeout:
        continue
    if len(p) < 34 or p[12:14] != b"\x08\x00" or p[23] != 6:
        continue
    ihl = (p[14] & 15) * 4
    t = 14 + ihl
    sport, dport = struct.unpack("!HH", p[t:t + 4])
    payload = len(p) - t - (p[t + 12] >> 4) * 4
    # A relay frame carrying a WireGuard packet is over 100 bytes of TLS; keepalives are not.
    if 8443 in (sport, dport) and payload > 100:
        frames += 1
print("frames", frames, flush=True)
PY
	f0=$(metric 'meshgate_relay_frames_forwarded_total{path="local"}')
	tap0=$(stat -c %s "$MG_STATE/relay.tap")
	ip netns exec "$NS_R" timeout 20 python3 "$MG_STATE/cap.py" rr "$1" >"$MG_STATE/cap.out" &
	local cap=$!
	wait_for 10 "the relay host's capture" grep -qx ready "$MG_STATE/cap.out"
	run_bounded 20 ip netns exec "$NS_A" ping -c $((10 * $1 - 10)) -i 0.1 -W 1 "$B4" >/dev/null ||
		fail "pings while direct"
	wait "$cap" || fail "capture"
	f1=$(metric 'meshgate_relay_frames_forwarded_total{path="local"}')
	grep -qx "frames 0" "$MG_STATE/cap.out" ||
		fail "relay frames on the relay's host while direct: $(cat "$MG_STATE/cap.out")"
	[ "${f1:-0}" = "${f0:-0}" ] || fail "the relay forwarded $((f1 - f0)) frames while direct"
	[ "$(stat -c %s "$MG_STATE/relay.tap")" = "$tap0" ] || fail "the relay delivered payloads"
	log "ok: $1 s of pings direct: no relay frame on the relay's host, none forwarded"
}

pair fullcone-restricted fullcone restricted direct
relay_quiet 3
# meshctl agent shows the direct path: B's public endpoint and the round trip.
"$MESHCTL" agent "$MG_STATE/status-a.json" >"$MG_STATE/meshctl-a.txt" || fail "meshctl agent"
awk -v k="$PUB_B" '$1 == k && $3 == "direct" && $4 ~ /^10\.99\.2\.1:[0-9]+$/ && $5 ~ /ms$/ {f = 1}
	END {exit !f}' "$MG_STATE/meshctl-a.txt" ||
	fail "meshctl agent: B not direct: $(cat "$MG_STATE/meshctl-a.txt")"
log "ok: meshctl agent on A: $(grep -F "$PUB_B" "$MG_STATE/meshctl-a.txt" | tr -s ' ')"
# Forged and replayed disco at A's public endpoint (its NAT lets anything in).
EP_A=$(jq -er '.nat.endpoints[0]' "$MG_STATE/status-a.json") || fail "A's STUN endpoint"
path0=$(disco a "$PUB_B" '"\(.kind) \(.endpoint)"')
forged0=$(jq -er .disco.refused.forged "$MG_STATE/status-a.json")
replay0=$(jq -er .disco.refused.replay "$MG_STATE/status-a.json")
for mode in ping forged replay; do
	out=$(run_bounded 10 ip netns exec "$NS_I" "$DISCO_PROBE" "$MG_STATE/b.key" "$PUB_A" "$EP_A" \
		"$mode") || fail "disco $mode at $EP_A: $out"
	log "ok: disco $mode from the internet to A ($EP_A): $out"
done
counted() {
	[ "$(jq -er .disco.refused.forged "$MG_STATE/status-a.json")" -eq $((forged0 + 1)) ] &&
		[ "$(jq -er .disco.refused.replay "$MG_STATE/status-a.json")" -eq $((replay0 + 1)) ]
}
wait_for 5 "A counts the forged ping and the replay" counted
[ "$(disco a "$PUB_B" '"\(.kind) \(.endpoint)"')" = "$path0" ] || fail "A's path to B moved"
grep -q "peer path: direct through the agent's socket" "$MG_STATE/agent-a.log" ||
	fail "A never logged a direct path"
agents_stop

pair fullcone-hard fullcone hard direct
# B's NAT forgets its mappings mid-flow: its next packets leave from new ports.
old=$(disco a "$PUB_B" .endpoint)
t0=$(now_ms)
ip netns exec "$NS_NB" conntrack -F >/dev/null 2>&1 || fail "conntrack -F"
sleep 0.3
wait_for 5 "pings recover after the flush" ping_a_b
t=$(($(now_ms) - t0))
wait_for 10 "direct again" both_direct
log "ok: conntrack flushed on B's NAT: pings back after $t ms; A now direct to" \
	"$(disco a "$PUB_B" .endpoint) (was $old; falls back to the relay so far:" \
	"$(disco a "$PUB_B" .to_relay))"
FIGURES+="fullcone-hard, conntrack flushed: pings back after $t ms"$'\n'
agents_stop

pair hard-hard hard hard relay
agents_stop

printf '%s' "$FIGURES"
log "PASS"
