#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# An agent behind an nftables NAT and a public coordinated gateway find their direct path with
# disco (issue 15). Both have stun: with no servers, so the STUN servers are the relay map's
# (two entries for the one meshgate-relay, at its two addresses, each with stun_port 3478), and
# a relay.
#
#   mg-<pid>-hub: bridge br0, 10.99.0.1/24 + 10.99.0.2/24: meshgate-coord (HTTP :8080) and
#                 meshgate-relay (:8443 on both addresses, admission through the coordinator,
#                 STUN on both addresses, port 3478); in the map as r1 (10.99.0.1, region
#                 test) and r2 (10.99.0.2, region test2).
#   mg-<pid>-gw:  meshgate, coordinated, no endpoint in its config: DPDK mesh port 10.99.0.10
#                 on br0 (public), a kernel veth mg0 10.99.0.11 for its TCP; LAN
#                 192.168.77.1/24 -> mg-<pid>-lan (192.168.77.2).
#   mg-<pid>-na:  the agent's NAT, vo 10.99.0.20 on br0, vi 192.168.1.1/24; nftables masquerade
#                 (endpoint-independent mapping, port-restricted filtering).
#   mg-<pid>-a:   agent A (wireguard-go), veth0 192.168.1.2/24.
#
# Checks: both ask the map's two STUN servers (the gateway: no NAT; A: an easy one) and show
# a round trip > 0 to their home relay r1 (meshctl netcheck, A's status and meshctl agent).
# The agent speaking first: A's disco path to the gateway is direct to the gateway's
# WireGuard port (10.99.0.10:51820, via "wireguard"), and wireguard-go's endpoint for the
# gateway is that endpoint itself (wg show: no proxy); A pings the LAN host and the relay
# forwards no frame meanwhile (its metrics); the gateway's disco path to A is A's socket (its
# STUN endpoint), its WireGuard endpoint for A is where A's packets come from (A's NAT at
# wireguard-go's port, by WireGuard's roaming), shown direct in /peers and meshctl peers; the
# LAN host pings A.
# Then the gateway speaking first: A restarts (a new socket port) behind a NAT that forgot its
# mappings while the LAN host pings A. The gateway's handshake goes to A's socket, A's proxy
# hands it to wireguard-go, which answers through the proxy: the pair works both ways through
# A's socket, and wireguard-go's endpoint for the gateway is the proxy (printed, not required).
# The gateway, its disco path back after the old one went silent, starts that handshake at once
# (logged handshake=new) instead of after WireGuard's 15 s without an answer to its old keys.
# Prints the time from the agent's start to its direct path.
#
# usage: nat_agent_gw.sh MESHGATE MESHGATE_AGENT MESHGATE_COORD MESHGATE_RELAY MESHCTL
set -euo pipefail

# shellcheck source=nat_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/nat_lib.sh"

nat_gw_agent_init nat_agent_gw.sh "$@"

# ---- topology ----
ns_add "$NS_H" "$NS_L" "$NS_NA" "$NS_A"
gw_ns_add "$NS_G"
hub_bridge --no-snooping "$NS_H" 10.99.0.1/24 10.99.0.2/24
gw_port_link "$NS_G" l0 "$NS_L" veth0
gw_port_link "$NS_G" m0 "$NS_H" vg
host_link "$NS_G" mg0 "$NS_H" vm
for p in vg vm; do bridge_attach "$NS_H" "$p"; done
addr_add "$NS_G" mg0 10.99.0.11/24
nat_gw_agent_net vn

# ---- the coordinator and the relay ----
nat_gw_hub 3478 0.0.0.0:8443

# ---- the gateway: public, no endpoint in its config ----
nat_gw_start 10.99.0.10/24 "stun:
  interval: 1"
wait_for 15 "the gateway reported no NAT" stun_is "$PUB_G" "10.99.0.10:51820 none"
gw_netcheck() { run_bounded 5 "$MESHCTL" -s "$MG_STATE/gw.health" --json netcheck | jq -er "$1"; }
[ "$(gw_netcheck '.stun.servers_from + " " + ([.stun.servers[].server] | join(" "))')" = \
	"relay_map 10.99.0.1:3478 10.99.0.2:3478" ] ||
	fail "the gateway's STUN servers: $(gw_netcheck .stun)"
wait_for 10 "the gateway's round trip to r1" \
	gw_netcheck '.relay.relays[] | select(.home and .name == "r1" and .rtt_ms > 0) | .rtt_ms'
run_bounded 5 "$MESHCTL" -s "$MG_STATE/gw.health" netcheck >"$MG_STATE/netcheck-gw" ||
	fail "meshctl netcheck"
grep -Eq '^relay rtt: +r1 +home +[0-9.]+ ms' "$MG_STATE/netcheck-gw" ||
	fail "meshctl netcheck: $(cat "$MG_STATE/netcheck-gw")"
# To a file first: under pipefail, grep -q leaving early would fail curl with SIGPIPE.
run_bounded 5 curl -sf --unix-socket "$MG_STATE/gw.health" http://localhost/metrics \
	>"$MG_STATE/gw-metrics" || fail "the gateway's metrics"
grep -Eq '^meshgate_relay_home_rtt_microseconds [1-9][0-9]*$' "$MG_STATE/gw-metrics" ||
	fail "no meshgate_relay_home_rtt_microseconds > 0 in the gateway's metrics"
log "gateway: STUN servers from the relay map, no NAT; meshctl netcheck:" \
	"$(grep -E '^(servers|relay rtt):' "$MG_STATE/netcheck-gw" | tr -s ' ' | tr '\n' ';')"

# ---- the agent ----
agent_nat_config a "$IF_A" map
t0=$(now_ms)
agent_start a "$NS_A" "$IF_A"
AGENT_A=$AGENT_PID

direct_wg() { [ "$(disco a "$PUB_G" '"\(.kind) \(.via) \(.endpoint)"')" = "direct wireguard 10.99.0.10:51820" ]; }
wait_for 20 "A direct to the gateway's WireGuard port" direct_wg
t_direct=$(($(now_ms) - t0))
wait_for 10 "A's STUN endpoint at the coordinator" stun_is "$PUB_A" \
	"$(jq -er '.nat.endpoints[0]' "$MG_STATE/status-a.json") easy"
EP_A=$(jq -er '.nat.endpoints[0]' "$MG_STATE/status-a.json")
[ "$(jq -er '.nat.servers_from + " " + (.nat.servers | join(" "))' "$MG_STATE/status-a.json")" = \
	"relay_map 10.99.0.1:3478 10.99.0.2:3478" ] ||
	fail "A's STUN servers: $(jq -c .nat "$MG_STATE/status-a.json")"
a_rtt() { jq -er '.relay.relays[] | select(.home and .name == "r1" and .rtt_ms > 0) | .rtt_ms' \
	"$MG_STATE/status-a.json" 2>/dev/null; }
wait_for 10 "A's round trip to r1" a_rtt
run_bounded 5 "$MESHCTL" agent "$MG_STATE/status-a.json" >"$MG_STATE/meshctl-agent" ||
	fail "meshctl agent"
grep -Eq '^relay rtt: +r1 +home +[0-9.]+ ms' "$MG_STATE/meshctl-agent" ||
	fail "meshctl agent: $(cat "$MG_STATE/meshctl-agent")"
log "A: STUN servers from the relay map; meshctl agent:" \
	"$(grep -E '^(nat|relay rtt):' "$MG_STATE/meshctl-agent" | tr -s ' ' | tr '\n' ';')"
log "A direct to 10.99.0.10:51820 via its WireGuard port after $t_direct ms" \
	"(status: $(disco a "$PUB_G" .time_to_direct_ms) ms); A's STUN endpoint $EP_A"

wg_ep() { run_bounded 5 ip netns exec "$NS_A" wg show "$IF_A" endpoints | awk -v k="$PUB_G" '$1 == k {print $2}'; }
wait_for 5 "wireguard-go's endpoint for the gateway is its WireGuard port" \
	test "$(wg_ep)" = 10.99.0.10:51820
wait_for 20 "ping A -> LAN host" pings_answered "$NS_A" 192.168.77.2

# ---- no relay frame for the pair while direct ----
f0=$(metric 'meshgate_relay_frames_forwarded_total{path="local"}')
run_bounded 20 ip netns exec "$NS_A" ping -c 20 -i 0.1 -W 1 192.168.77.2 >/dev/null ||
	fail "pings A -> LAN host while direct"
f1=$(metric 'meshgate_relay_frames_forwarded_total{path="local"}')
[ "${f1:-0}" = "${f0:-0}" ] || fail "the relay forwarded $((f1 - f0)) frames while direct"
[ "$(wg_ep)" = 10.99.0.10:51820 ] || fail "wireguard-go's endpoint moved to $(wg_ep)"
log "20 pings A -> LAN host direct: the relay forwarded none; wg show: $(wg_ep)"

# ---- the gateway's side ----
gw_peer() { # JQ_FILTER on the gateway's /peers entry for A
	run_bounded 5 curl -sf --unix-socket "$MG_STATE/gw.health" http://localhost/peers |
		jq -er --arg k "$PUB_A" ".peers[] | select(.public_key == \$k) | $1"
}
# Its disco path to A is A's socket (A's ping came from there); wireguard-go's handshake then
# came from A's NAT at wireguard-go's own port, and WireGuard roamed the endpoint there.
grep -q "msg=\"disco path\".*path=$EP_A" "$(gw_log_file gw)" ||
	fail "the gateway logged no disco path to A's socket $EP_A"
[ "$(gw_peer .path)" = direct ] || fail "the gateway's path to A: $(gw_peer .path)"
GW_EP_A=$(gw_peer .endpoint)
[ "$GW_EP_A" = 10.99.0.20:51820 ] || [ "$GW_EP_A" = "$EP_A" ] ||
	fail "the gateway's endpoint for A is $GW_EP_A: neither A's NAT at 51820 nor $EP_A"
run_bounded 10 "$MESHCTL" -s "$MG_STATE/gw.health" peers >"$MG_STATE/meshctl-peers" || fail "meshctl peers"
awk -v k="$PUB_A" -v e="$GW_EP_A" '$1 == k && $2 == e && $3 == "direct" {f = 1} END {exit !f}' \
	"$MG_STATE/meshctl-peers" || fail "meshctl peers: $(cat "$MG_STATE/meshctl-peers")"
log "gateway: disco path to A's socket $EP_A, WireGuard endpoint $GW_EP_A; meshctl peers:" \
	"$(grep -F "$PUB_A" "$MG_STATE/meshctl-peers" | tr -s ' ')"
wait_for 20 "ping LAN host -> A" pings_answered "$NS_L" "$(node_field "$PUB_A" '.addresses[0]')"

# ---- the gateway speaks first: a fresh agent (a new socket port) and a NAT with no mappings ----
# The gateway's disco path to A is A's socket (its STUN endpoint); the handshake the gateway
# starts there reaches wireguard-go through the proxy, so wireguard-go answers through it and
# the pair stays on the agent's socket in both directions.
A4=$(node_field "$PUB_A" '.addresses[0]')
stop_pid "$AGENT_A" 5
ip netns exec "$NS_NA" conntrack -F >/dev/null 2>&1 || fail "conntrack -F"
rm -f "$MG_STATE/status-a.json"
spawn "$MG_STATE/lan-ping.log" ip netns exec "$NS_L" ping -i 0.2 -W 1 "$A4"
PINGER=$MG_SPAWNED_PID
t0=$(now_ms)
agent_start a "$NS_A" "$IF_A"
AGENT_A=$AGENT_PID
wait_for 20 "A direct to the gateway's WireGuard port (second start)" direct_wg
EP_A=$(jq -er '.nat.endpoints[0]' "$MG_STATE/status-a.json")
wait_for 10 "the gateway's disco path to A's socket" \
	grep -q "msg=\"disco path\".*path=$EP_A" "$(gw_log_file gw)"
# Without the gateway's handshake at once this took 15 to 18 s: it kept its session with the
# previous wireguard-go until WireGuard's 15 s without an answer.
wait_for 30 "ping LAN host -> A (second start)" pings_answered "$NS_L" "$A4"
t_lan=$(($(now_ms) - t0))
log "LAN host -> A $t_lan ms after A's second start"
grep -q "msg=\"disco path\".*path=$EP_A.*handshake=new" "$(gw_log_file gw)" ||
	fail "the gateway did not start a handshake when A's disco path came back"
[ "$t_lan" -lt 15000 ] || fail "LAN host -> A took $t_lan ms: the old session's 15 s"
stop_pid "$PINGER" 2
wait_for 10 "ping A -> LAN host (second start)" pings_answered "$NS_A" 192.168.77.2
[ "$(gw_peer .endpoint)" = "$EP_A" ] || fail "the gateway's endpoint for A: $(gw_peer .endpoint), not $EP_A"
# The agent rewrites its status file once a second: the pings can be answered before it has.
socket_carried() { disco a "$PUB_G" '.packets.from_direct > 0 and .packets.to_direct > 0' >/dev/null; }
for _ in $(seq 30); do socket_carried && break; sleep 0.1; done
socket_carried || fail "A's socket carried no WireGuard for the gateway: $(disco a "$PUB_G" .packets | tr -d '\n ')"
log "gateway first: LAN host -> A after $t_lan ms; the gateway sends to A's socket $EP_A," \
	"A's proxy $(disco a "$PUB_G" .packets | tr -d '\n '), wg show: $(wg_ep)"

# For the log: what both show at the end.
run_bounded 5 "$MESHCTL" -s "$MG_STATE/gw.health" netcheck | sed 's/^/  netcheck| /' || true
run_bounded 5 "$MESHCTL" agent "$MG_STATE/status-a.json" | sed 's/^/  agent| /' || true

gw_stop gw
stop_pid "$AGENT_A" 5
stop_pid "$RELAY_PID" 5
stop_pid "$COORD_PID" 5
printf 'agent behind an endpoint-independent NAT, public gateway: time to direct %s ms\n' "$t_direct"
log "PASS in $((SECONDS - T0)) s"
