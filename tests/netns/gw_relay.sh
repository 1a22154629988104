#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The gateway's relay path (issue 14): a meshgate gateway whose mesh port may send no UDP at
# all and an agent behind a firewall that drops all UDP talk through meshgate-relay over TLS.
#
#   mg-<pid>-hub: bridge br0 10.99.0.1/24 + fd99::1/64; meshgate-coord (HTTP :8080) and
#                 meshgate-relay r1 ([::]:8443, admission through the coordinator). The
#                 bridge drops every UDP frame to or from the gateway's mesh port.
#   mg-<pid>-gw:  meshgate, coordinated: DPDK LAN port -> lan, DPDK mesh port 10.99.0.10 on
#                 br0; a kernel veth mg0 10.99.0.11 on br0 carries its TCP to the coordinator
#                 and the relay (UDP dropped there too). Its relay comes from the coordinator's
#                 relay map: r0 first (10.99.0.1:8444, where the gateway's firewall drops every
#                 SYN), then r1 over IPv4.
#   mg-<pid>-lan: 192.168.77.2/24 + fd77::2/64 behind the gateway (its advertised routes).
#   mg-<pid>-a:   agent A, veth0 10.99.0.2/24 + fd99::2/64, firewall as in agent_relay.sh;
#                 reaches the relay over IPv6.
#
# Checks: the gateway homes on the map's first relay r0, whose connect hangs until its timeout,
# while its health socket keeps answering within 2 s (the connect runs off the control
# lcore), then fails over to r1; the gateway tries A directly first (the bridge drops it) and moves A to the relay after
# relay.direct_timeout; pings and iperf3 between A and the LAN host over IPv4 and IPv6, which means the
# handshake, data both ways, allowed IPs and the gateway's workers all ran through the relay;
# the gateway's status shows A on path relay:r1 and meshctl peers prints it; the hub's capture
# and the relay's record of each payload never hold the plaintext marker A pings to the LAN
# host, while the LAN host does receive it.
#
# usage: gw_relay.sh MESHGATE MESHGATE_AGENT MESHGATE_COORD MESHGATE_RELAY MESHCTL
set -euo pipefail

# shellcheck source=coord_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/coord_lib.sh"

gw_agent_init gw_relay.sh "the relay path" "iperf3" "$@"
URL="http://10.99.0.1:8080"
MARKER=6d67706c61696e746578746d6b72 # "mgplaintextmkr", the payload pattern of A's pings

# ---- topology ----
ns_add "$NS_H" "$NS_A" "$NS_L"
gw_ns_add "$NS_G"
hub_bridge --no-snooping "$NS_H" 10.99.0.1/24 fd99::1/64
gw_port_link "$NS_G" l0 "$NS_L" veth0
gw_port_link "$NS_G" m0 "$NS_H" vg
host_link "$NS_G" mg0 "$NS_H" vm
host_link "$NS_A" veth0 "$NS_H" va
for p in vg vm va; do bridge_attach "$NS_H" "$p"; done
addr_add "$NS_G" mg0 10.99.0.11/24
addr_add "$NS_A" veth0 10.99.0.2/24
addr_add "$NS_A" veth0 fd99::2/64
addr_add "$NS_L" veth0 192.168.77.2/24
addr_add "$NS_L" veth0 fd77::2/64
ip -n "$NS_L" route add default via 192.168.77.1 || fail "lan route"
ip -n "$NS_L" -6 route add default via fd77::1 || fail "lan route6"

# ---- the firewalls: no UDP at all, TCP only to the coordinator and the relay ----
udp_firewall "$NS_A" veth0 "8080, 8443"
udp_firewall "$NS_G" mg0 "8080, 8443"
# The gateway's mesh port is DPDK's: its firewall is the hub's bridge.
gw_port_firewall "$NS_H" vg

# ---- the coordinator and the relay ----
coord_write 10.99.0.1:8080 "test r0@10.99.0.1:8444 r1@10.99.0.1:8443"
coord_start "$NS_H" "$URL"
alice_nodes a
PUB_A=$(wg pubkey <"$MG_STATE/a.key")
PUB_G=$(gen_key gw)

relay_cert
relay_run "$NS_H" r1 "[::]:8443" 9470 test "test:
  tap_file: $MG_STATE/relay.tap"
metric() { relay_metric "$NS_H" 9470 "$1"; }

# ---- the gateway ----
gw_coordinated "$NS_G" "$IF_G" 192.168.77.1/24 fd77::1/64 10.99.0.10/24 fd99::10/64 test 3

# ---- the agent ----
agent_write a "$IF_A" 1280 "$MG_STATE/authkey" info host fd99::1 3
agent_start a "$NS_A" "$IF_A"
AGENT_A=$AGENT_PID

wait_for 20 "the gateway registered" node_field "$PUB_G" .id
# The connect to r0 hangs for its 3 s timeout; the control lcore must keep answering meanwhile.
# Probes follow each other within 0.2 s, so a lcore blocked by the dial would hold one of them
# for more than 2.5 s; 2 s leaves room for a loaded machine.
probes=0 slow=0 t_end=$((SECONDS + 20))
while ! grep -q 'msg="relay: cannot connect".*relay=r0' "$(gw_log_file gw)"; do
	[ "$SECONDS" -lt "$t_end" ] || fail "the gateway never gave up on the blackholed relay r0"
	t=$(curl -s -o /dev/null --max-time 2 -w '%{time_total}' --unix-socket "$MG_STATE/gw.health" \
		http://localhost/peers) || t=timeout
	probes=$((probes + 1))
	case $t in timeout | [2-9]* | [1-9][0-9]*) slow=$((slow + 1)) ;; esac
	sleep 0.2
done
[ "$probes" -ge 5 ] || fail "only $probes health probes during the connect to r0"
[ "$slow" -eq 0 ] || fail "$slow of $probes health probes took 2 s or more while the gateway dialled r0"
wait_for 15 "the gateway homed on r1 after r0" grep -q 'msg="relay: connected".*relay=r1' "$(gw_log_file gw)"
log "the gateway answered $probes health probes within 2 s while dialling r0, then failed over to r1"
GW_ID=$(node_field "$PUB_G" .id)
admin POST "nodes/$GW_ID/routes" '{"approved": ["192.168.77.0/24", "fd77::/64"]}' >/dev/null
wait_for 20 "A has the gateway and its LAN route" has_allowed "$NS_A" "$IF_A" "$PUB_G" 192.168.77.0/24
wait_for 10 "both nodes admitted by the relay" \
	test "$(metric 'meshgate_relay_admission_total{result="admitted"}')" -ge 2

A4=$(node_addr "$PUB_A" 0)
A6=$(node_addr "$PUB_A" 1)
# The LAN host speaks first: the gateway starts a direct handshake to A's endpoint from the
# map, the bridge drops it, and after relay.direct_timeout the gateway moves A to the relay.
wait_for 40 "ping LAN host -> A ($A4) through the relay" pings_answered "$NS_L" "$A4"
[ "$(nft_packets "$NS_H" bridge mgfw gw_udp)" -gt 0 ] ||
	fail "the bridge dropped no UDP from the gateway: was a direct path tried?"
grep -q 'msg="relay: peer relayed".*why=direct_timeout' "$(gw_log_file gw)" ||
	fail "the gateway did not log moving A to the relay after the direct timeout"
wait_for 10 "ping LAN host -> A ($A6)" pings_answered "$NS_L" "$A6"
wait_for 10 "ping A -> LAN host 192.168.77.2" pings_answered "$NS_A" 192.168.77.2
wait_for 10 "ping A -> LAN host fd77::2" pings_answered "$NS_A" fd77::2
log "pings both ways over IPv4 and IPv6 between A and the gateway's LAN, through the relay"

gw_peer_path_is "$PUB_A" relay:r1
gw_metrics
grep -qx 'meshgate_relay_peers 1' "$MG_STATE/gw.metrics" || fail "metrics: meshgate_relay_peers is not 1"
grep -qx 'meshgate_relay_connected 1' "$MG_STATE/gw.metrics" || fail "metrics: relay not connected"
jq -er --arg k "$PUB_G" '.peers[] | select(.key == $k) | .path' "$MG_STATE/status-a.json" |
	grep -qx relay || fail "A's status does not show the gateway relayed"
log "status: the gateway shows A on relay:r1, A shows the gateway on the relay"

# ---- iperf3 through the relay ----
iperf_server "$NS_L"
iperf_run "$NS_A" 192.168.77.2 "$MG_STATE/iperf4.json" -t 2 || fail "iperf3 over IPv4 through the relay"
iperf_run "$NS_A" fd77::2 "$MG_STATE/iperf6.json" -t 2 || fail "iperf3 over IPv6 through the relay"
bps4=$(jq -er '.end.sum_received.bits_per_second' "$MG_STATE/iperf4.json")
bps6=$(jq -er '.end.sum_received.bits_per_second' "$MG_STATE/iperf6.json")
log "iperf3 A -> LAN through the relay: $(awk -v b="$bps4" 'BEGIN {printf "%.0f", b / 1e6}') Mbit/s" \
	"IPv4, $(awk -v b="$bps6" 'BEGIN {printf "%.0f", b / 1e6}') Mbit/s IPv6 (2 shared cores, not a benchmark)"

# ---- the plaintext marker never reaches the relay's host ----
marker_not_at_relay "$NS_H" br0 "$NS_A" 192.168.77.2 "$NS_L" veth0
log "the marker reached the LAN host; the hub's capture and the relay's payloads never held it"

gw_stop gw
stop_pid "$AGENT_A" 5
stop_pid "$RELAY_PID" 5
stop_pid "$COORD_PID" 5
log "PASS"
