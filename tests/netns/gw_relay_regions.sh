#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The gateway reaches a peer homed on a relay of another region (issue 14): two relays that do
# not mesh, the gateway homed on one, an agent on the other, both behind firewalls that drop all
# UDP. Neither relay can forward to the other, so each node must send to the peer's home relay.
#
#   mg-<pid>-hub: bridge br0 10.98.0.1/24; meshgate-coord (HTTP :8080) whose relay map has region
#                 west (r1, :8443) and region east (r2, :8444), both meshgate-relay without a
#                 mesh. The bridge drops every UDP frame to or from the gateway's mesh port.
#   mg-<pid>-gw:  meshgate, coordinated, relay region west: DPDK LAN port -> lan, DPDK mesh port
#                 10.98.0.10 on br0; kernel veth mg0 10.98.0.11 carries its TCP (no UDP).
#   mg-<pid>-lan: 192.168.78.2/24 behind the gateway (its advertised route).
#   mg-<pid>-a:   agent A, veth0 10.98.0.2/24, relay region east, no UDP out or in.
#
# Checks: the gateway homes on r1 and A on r2; pings both ways between A and the LAN host; the
# gateway logs its connection to r2 and shows A on path relay:r2 (health /peers, meshctl peers,
# meshgate_relay_extra_connected 1); A shows the gateway through r1; each relay forwarded frames
# and neither has a mesh link, so the traffic took both extra connections. Both nodes show a
# round trip > 0 to their home relay and to the other one (meshctl netcheck, A's status).
#
# usage: gw_relay_regions.sh MESHGATE MESHGATE_AGENT MESHGATE_COORD MESHGATE_RELAY MESHCTL
set -euo pipefail

# shellcheck source=coord_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/coord_lib.sh"

gw_agent_init gw_relay_regions.sh "the relay path" "" "$@"
URL="http://10.98.0.1:8080"

# ---- topology ----
ns_add "$NS_H" "$NS_A" "$NS_L"
gw_ns_add "$NS_G"
hub_bridge --no-snooping "$NS_H" 10.98.0.1/24
gw_port_link "$NS_G" l0 "$NS_L" veth0
gw_port_link "$NS_G" m0 "$NS_H" vg
host_link "$NS_G" mg0 "$NS_H" vm
host_link "$NS_A" veth0 "$NS_H" va
for p in vg vm va; do bridge_attach "$NS_H" "$p"; done
addr_add "$NS_G" mg0 10.98.0.11/24
addr_add "$NS_A" veth0 10.98.0.2/24
addr_add "$NS_L" veth0 192.168.78.2/24
ip -n "$NS_L" route add default via 192.168.78.1 || fail "lan route"

# ---- the firewalls: no UDP at all, TCP only to the coordinator and the relays ----
udp_firewall "$NS_A" veth0 "8080, 8443, 8444"
udp_firewall "$NS_G" mg0 "8080, 8443, 8444"
gw_port_firewall "$NS_H" vg

# ---- the coordinator and the two relays ----
coord_write 10.98.0.1:8080 "west r1@10.98.0.1:8443" "east r2@10.98.0.1:8444"
coord_start "$NS_H" "$URL"
alice_nodes a
PUB_A=$(wg pubkey <"$MG_STATE/a.key")
PUB_G=$(gen_key gw)

relay_cert
RELAY_PIDS=()
for r in 1 2; do
	region=west
	[ "$r" = 2 ] && region=east
	relay_run "$NS_H" "r$r" "10.98.0.1:844$((r + 2))" "947$r" "$region"
	RELAY_PIDS+=("$RELAY_PID")
done

# ---- the gateway (west) and the agent (east) ----
gw_coordinated "$NS_G" "$IF_G" 192.168.78.1/24 fd78::1/64 10.98.0.10/24 fd98::10/64 west 2

agent_write a "$IF_A" 1280 "$MG_STATE/authkey" info region east 2
agent_start a "$NS_A" "$IF_A"
AGENT_A=$AGENT_PID

wait_for 20 "the gateway registered" node_field "$PUB_G" .id
GW_ID=$(node_field "$PUB_G" .id)
admin POST "nodes/$GW_ID/routes" '{"approved": ["192.168.78.0/24"]}' >/dev/null
wait_for 15 "the gateway homed on r1" grep -q 'msg="relay: connected".*relay=r1' "$(gw_log_file gw)"
wait_for 15 "A homed on r2" home_is a r2
wait_for 20 "A has the gateway and its LAN route" has_allowed "$NS_A" "$IF_A" "$PUB_G" 192.168.78.0/24

A4=$(node_addr "$PUB_A" 0)
wait_for 40 "ping LAN host -> A ($A4) across the two regions" pings_answered "$NS_L" "$A4"
wait_for 10 "ping A -> LAN host 192.168.78.2" pings_answered "$NS_A" 192.168.78.2
log "pings both ways between A (homed on r2, east) and the gateway's LAN (gateway on r1, west)"

grep -q 'msg="relay: connected to a peer.s home relay".*relay=r2' "$(gw_log_file gw)" ||
	fail "the gateway did not log its connection to A's home relay r2"
gw_peer_path_is "$PUB_A" relay:r2
gw_metrics
grep -qx 'meshgate_relay_extra_connected 1' "$MG_STATE/gw.metrics" ||
	fail "metrics: meshgate_relay_extra_connected is not 1"
# A's status file is rewritten once a second: it may still predate A's connection to r1.
a_via_r1() { jq -e --arg k "$PUB_G" '.peers[] | select(.key == $k) | .relay == "r1"' "$MG_STATE/status-a.json" >/dev/null 2>&1; }
wait_for 5 "A's status shows the gateway through r1" a_via_r1
log "status: the gateway shows A on relay:r2 (its extra connection), A shows the gateway through r1"
# Round trips to both relays on each side: the home relay and the extra connection.
if [ -x "$MESHCTL" ]; then
	gw_rtt() { run_bounded 5 "$MESHCTL" -s "$MG_STATE/gw.health" --json netcheck |
		jq -e --arg n "$1" --argjson h "$2" \
			'.relay.relays[] | select(.name == $n and .home == $h and .rtt_ms > 0)' >/dev/null; }
	wait_for 10 "the gateway's round trip to r1 (home)" gw_rtt r1 true
	wait_for 10 "the gateway's round trip to r2 (extra)" gw_rtt r2 false
fi
a_rtt() { jq -e --arg n "$1" --argjson h "$2" \
	'.relay.relays[] | select(.name == $n and .home == $h and .rtt_ms > 0)' \
	"$MG_STATE/status-a.json" >/dev/null 2>&1; }
wait_for 10 "A's round trip to r2 (home)" a_rtt r2 true
wait_for 10 "A's round trip to r1 (extra)" a_rtt r1 false
log "round trips: gateway $(run_bounded 5 "$MESHCTL" -s "$MG_STATE/gw.health" --json netcheck |
	jq -c '[.relay.relays[] | {name, home, rtt_ms}]'), A $(jq -c '[.relay.relays[] | {name, home, rtt_ms}]' \
	"$MG_STATE/status-a.json")"

for r in 1 2; do
	fwd=$(relay_metric "$NS_H" "947$r" 'meshgate_relay_frames_forwarded_total{path="local"}')
	mesh=$(relay_metric "$NS_H" "947$r" 'meshgate_relay_frames_forwarded_total{path="mesh_out"}')
	[ "${fwd:-0}" -gt 0 ] || fail "relay r$r forwarded no frames to its own clients"
	[ "${mesh:-1}" -eq 0 ] || fail "relay r$r sent $mesh frames to a relay mesh: the regions must not mesh"
	log "relay r$r forwarded $fwd frames between its own clients, none over a mesh"
done

gw_stop gw
stop_pid "$AGENT_A" 5
for pid in "${RELAY_PIDS[@]}"; do stop_pid "$pid" 5; done
stop_pid "$COORD_PID" 5
log "PASS"
