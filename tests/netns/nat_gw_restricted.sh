#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# A coordinated gateway and an agent, each behind its own port-restricted NAT (nftables
# masquerade: endpoint-independent mapping, address-and-port-dependent filtering), both with
# stun: and a relay, find a direct path (issue 15). Neither side's pings get in until both have
# pinged: the gateway's NAT admits the agent's pings only after the gateway pinged the agent, and
# the other way round. Call-me-maybe through the relay makes each side ping the other at once.
#
#   mg-<pid>-hub: bridge br0, 10.99.0.1/24 + 10.99.0.2/24: meshgate-coord (HTTP :8080) and
#                 meshgate-relay r1 (:8443, admission through the coordinator, STUN on both
#                 addresses, port 3478).
#   mg-<pid>-ng:  the gateway's NAT, vo 10.99.0.30 on br0; in0 10.0.0.1/24 to the gateway's DPDK
#                 mesh port (10.0.0.10, next hop 10.0.0.1), in1 10.0.1.1/24 to its kernel veth
#                 (10.0.1.11: its TCP to the coordinator and the relay).
#   mg-<pid>-gw:  meshgate, no endpoint in its config (it reports 10.0.0.10:51820, unreachable
#                 from outside); LAN 192.168.77.1/24 -> mg-<pid>-lan (192.168.77.2).
#   mg-<pid>-na:  the agent's NAT, vo 10.99.0.20 on br0, vi 192.168.1.1/24.
#   mg-<pid>-a:   agent A (wireguard-go), veth0 192.168.1.2/24.
#
# Checks: both report "easy" with their NAT's address; A's disco path to the gateway is direct to
# the gateway's NAT (10.99.0.30:51820, through A's socket); the gateway's disco path to A is A's
# STUN endpoint and is its WireGuard endpoint for A (/peers: direct); A pings the LAN host and
# the LAN host pings A, and the relay forwards no frame meanwhile (its metrics); the gateway's
# disco counters show call-me-maybe and pings through the relay (meshctl netcheck --json). Prints
# the time from the agent's start to both sides direct.
# Then, mid-flow (the LAN host pinging A every 0.1 s), the gateway's NAT forgets its mappings
# (conntrack -F) and drops all UDP to and from A's NAT for a while: both disco paths go silent,
# the gateway moves A to the relay at once (log why=disco_dead, netcheck paths_relayed), and the
# pings resume through the relay (its forwarded frames grow) within 5 s; once the drop is lifted,
# both sides go direct again and the relay forwards no more of the pings. Prints the gap and the
# pings lost.
#
# usage: nat_gw_restricted.sh MESHGATE MESHGATE_AGENT MESHGATE_COORD MESHGATE_RELAY MESHCTL
set -euo pipefail

# shellcheck source=nat_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/nat_lib.sh"

nat_gw_agent_init nat_gw_restricted.sh "$@"
NS_NG=$(ns_name ng) # the gateway's NAT

# ---- topology ----
ns_add "$NS_H" "$NS_NG" "$NS_L" "$NS_NA" "$NS_A"
gw_ns_add "$NS_G"
ns_sysctl "$NS_NG" net.ipv4.ip_forward=1
hub_bridge --no-snooping "$NS_H" 10.99.0.1/24 10.99.0.2/24
gw_port_link "$NS_G" l0 "$NS_L" veth0
gw_port_link "$NS_G" m0 "$NS_NG" in0
host_link "$NS_G" mg0 "$NS_NG" in1
host_link "$NS_NG" vo "$NS_H" vgn
bridge_attach "$NS_H" vgn
addr_add "$NS_NG" vo 10.99.0.30/24
addr_add "$NS_NG" in0 10.0.0.1/24
addr_add "$NS_NG" in1 10.0.1.1/24
addr_add "$NS_G" mg0 10.0.1.11/24
ip -n "$NS_G" route add default via 10.0.1.1 || fail "the gateway's default route"
nat "$NS_NG" 10.0.0.10 restricted
nat_gw_agent_net van

# ---- the coordinator and the relay ----
nat_gw_hub

# ---- the gateway: behind its NAT, no endpoint in its config ----
GW_MESH_GW4=10.0.0.1
nat_gw_start 10.0.0.10/24 "stun:
  servers: [10.99.0.1:3478, 10.99.0.2:3478]
  interval: 1"
wait_for 15 "the gateway's STUN endpoint (its NAT)" stun_is "$PUB_G" "10.99.0.30:51820 easy"
netcheck() { run_bounded 5 "$MESHCTL" -s "$MG_STATE/gw.health" --json netcheck | jq -er "$1"; }
wait_for 15 "the gateway's relay connection" netcheck .relay.connected

# ---- the agent ----
agent_nat_config a "$IF_A"
t0=$(now_ms)
agent_start a "$NS_A" "$IF_A"
AGENT_A=$AGENT_PID

gw_peer() { # JQ_FILTER on the gateway's /peers entry for A
	run_bounded 5 curl -sf --unix-socket "$MG_STATE/gw.health" http://localhost/peers |
		jq -er --arg k "$PUB_A" ".peers[] | select(.public_key == \$k) | $1"
}
# The gateway's path and WireGuard endpoint for A are direct to $1.
gw_direct_to() { [ "$(gw_peer '"\(.path) \(.endpoint)"')" = "direct $1" ]; }
a_direct() { [ "$(disco a "$PUB_G" '"\(.kind) \(.via) \(.endpoint)"')" = "direct socket 10.99.0.30:51820" ]; }
gw_direct() { grep -q "msg=\"disco path\".*path=10.99.0.20:" "$(gw_log_file gw)"; }
wait_for 30 "A direct to the gateway's NAT" a_direct
wait_for 10 "the gateway's disco path to A's NAT" gw_direct
t_direct=$(($(now_ms) - t0))
EP_A=$(jq -er '.nat.endpoints[0]' "$MG_STATE/status-a.json")
stun_is "$PUB_A" "$EP_A easy" || fail "A's STUN endpoint at the coordinator: not $EP_A easy"
grep -q "msg=\"disco path\".*path=$EP_A" "$(gw_log_file gw)" ||
	fail "the gateway's disco path is not A's STUN endpoint $EP_A"
log "direct both ways after $t_direct ms (A's status: $(disco a "$PUB_G" .time_to_direct_ms) ms):" \
	"A -> 10.99.0.30:51820 through its socket, gateway -> $EP_A"

# ---- traffic LAN host <-> A, and no relay frame for the pair ----
A4=$(node_field "$PUB_A" '.addresses[0]')
wait_for 20 "ping A -> LAN host" pings_answered "$NS_A" 192.168.77.2
wait_for 20 "ping LAN host -> A" pings_answered "$NS_L" "$A4"
wait_for 10 "the gateway's WireGuard endpoint for A is its disco path" gw_direct_to "$EP_A"
f0=$(metric 'meshgate_relay_frames_forwarded_total{path="local"}')
run_bounded 20 ip netns exec "$NS_A" ping -c 15 -i 0.1 -W 1 192.168.77.2 >/dev/null ||
	fail "pings A -> LAN host while direct"
run_bounded 20 ip netns exec "$NS_L" ping -c 15 -i 0.1 -W 1 "$A4" >/dev/null ||
	fail "pings LAN host -> A while direct"
f1=$(metric 'meshgate_relay_frames_forwarded_total{path="local"}')
[ "${f1:-0}" = "${f0:-0}" ] || fail "the relay forwarded $((f1 - f0)) frames while direct"
a_direct || fail "A's path moved: $(disco a "$PUB_G" tostring)"
[ "$(gw_peer .endpoint)" = "$EP_A" ] || fail "the gateway's endpoint for A moved: $(gw_peer .endpoint)"
[ "$(disco a "$PUB_G" .packets.to_direct)" -gt 0 ] && [ "$(disco a "$PUB_G" .packets.from_direct)" -gt 0 ] ||
	fail "A's socket carried no WireGuard for the gateway: $(disco a "$PUB_G" .packets | tr -d '\n ')"
log "30 pings each way between the LAN host and A: the relay forwarded none" \
	"(forwarded in all: ${f1:-0}); A's proxy $(disco a "$PUB_G" .packets | tr -d '\n ')"

# ---- the gateway's NAT forgets its mappings and drops the direct path mid-flow ----
# The drop is ahead of conntrack on the way in, so A's packets leave no entry that would make
# the NAT pick another port afterwards (see nat() in agent_lib.sh).
cut_on() {
	ip netns exec "$NS_NG" nft -f - <<EOC || fail "the cut in $NS_NG"
table ip cut {
	chain pre {
		type filter hook prerouting priority raw - 10;
		iifname "vo" ip saddr 10.99.0.20 meta l4proto udp drop
	}
	chain through {
		type filter hook forward priority filter - 10;
		ip daddr 10.99.0.20 meta l4proto udp drop
	}
}
EOC
	ip netns exec "$NS_NG" conntrack -F >/dev/null 2>&1 || fail "conntrack -F in $NS_NG"
}
replies() { grep -c 'bytes from' "$MG_STATE/flow.log" || true; }
gw_log() { cat "$(gw_log_file gw)"; }
n_relayed() { gw_log | grep -c 'relay: peer relayed.*why=disco_dead' || true; }
# For wait_for, which runs its command afresh each time (an argument's $(...) runs once).
replies_ge() { [ "$(replies)" -ge "$1" ]; }
relayed_gt() { [ "$(n_relayed)" -gt "$1" ]; }
spawn "$MG_STATE/flow.log" ip netns exec "$NS_L" stdbuf -oL ping -D -i 0.1 -W 1 "$A4"
FLOW=$MG_SPAWNED_PID
wait_for 5 "the steady ping answered" replies_ge 5
r0=$(n_relayed)
pr0=$(netcheck .disco.paths_relayed)
t_cut=$(now_ms)
cut_on
wait_for 6 "the gateway relays A (disco_dead)" relayed_gt "$r0"
t_relayed=$(($(now_ms) - t_cut))
[ "$(gw_peer .path)" != direct ] || fail "the gateway logged the switch but A's path is $(gw_peer .path)"
fr0=$(metric 'meshgate_relay_frames_forwarded_total{path="local"}')
n0=$(replies)
# With the direct UDP dropped, replies can only come through the relay.
wait_for 5 "pings through the relay" replies_ge $((n0 + 10))
fr1=$(metric 'meshgate_relay_frames_forwarded_total{path="local"}')
[ "${fr1:-0}" -gt "${fr0:-0}" ] || fail "pings answered but the relay forwarded nothing"
[ "$(netcheck .disco.paths_relayed)" -gt "$pr0" ] || fail "netcheck: paths_relayed did not move"
log "cut at +0: the gateway relayed A (disco_dead) after $t_relayed ms; A's path:" \
	"$(disco a "$PUB_G" .kind); the relay forwarded $((fr1 - fr0)) frames for $(($(replies) - n0)) replies"
ip netns exec "$NS_NG" nft delete table ip cut || fail "lifting the cut"
t_lift=$(now_ms)
wait_for 15 "the gateway direct to A again" gw_direct_to "$EP_A"
wait_for 15 "A direct to the gateway again" a_direct
t_back=$(($(now_ms) - t_lift))
sleep 0.5
stop_pid "$FLOW" 2
# Gap: the longest time between two replies; lost: the sequence numbers never answered.
read -r gap lost sent < <(awk '/bytes from/ {
		t = substr($1, 2, length($1) - 2) * 1000; split($0, a, "icmp_seq="); q = a[2] + 0
		if (seen[q]++) next
		if (n++ && t - last > gap) gap = t - last
		last = t; if (n == 1) first = q; lastq = q
	} END { printf "%d %d %d\n", gap, lastq - first + 1 - n, lastq - first + 1 }' "$MG_STATE/flow.log")
[ "${gap:-99999}" -le 5000 ] || fail "the pings stopped for $gap ms (over 5 s)"
f0=$(metric 'meshgate_relay_frames_forwarded_total{path="local"}')
run_bounded 20 ip netns exec "$NS_L" ping -c 15 -i 0.1 -W 1 "$A4" >/dev/null ||
	fail "pings LAN host -> A direct again"
f1=$(metric 'meshgate_relay_frames_forwarded_total{path="local"}')
[ "${f1:-0}" = "${f0:-0}" ] || fail "the relay forwarded $((f1 - f0)) frames once direct again"
log "lifted: both direct again after $t_back ms, 15 pings with no relay frame;" \
	"steady ping: longest gap $gap ms, $lost of $sent lost (0.1 s apart)"

# ---- the gateway's disco through the relay ----
netcheck '.disco.relay.received > 0 and .disco.relay.call_me_maybe_sent > 0 and
	.disco.relay.pings_sent > 0' >/dev/null ||
	fail "the gateway's relayed disco counters did not move: $(netcheck .disco.relay | tr -d '\n ')"
run_bounded 5 "$MESHCTL" -s "$MG_STATE/gw.health" netcheck >"$MG_STATE/netcheck.txt" ||
	fail "meshctl netcheck"
log "meshctl netcheck on the gateway:"
sed 's/^/    /' "$MG_STATE/netcheck.txt" >&2

gw_stop gw
stop_pid "$AGENT_A" 5
stop_pid "$RELAY_PID" 5
stop_pid "$COORD_PID" 5
printf 'gateway and agent behind port-restricted NATs: time to direct %s ms\n' "$t_direct"
printf 'direct path cut mid-flow: relayed after %s ms, longest gap %s ms, %s of %s pings lost; direct again %s ms after the cut was lifted\n' \
	"$t_relayed" "$gap" "$lost" "$sent" "$t_back"
log "PASS in $((SECONDS - T0)) s"
