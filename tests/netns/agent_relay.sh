#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The agent's relay path (issue 14): two agents whose namespaces drop every UDP packet on their
# uplink, so no WireGuard packet can pass directly, talk through meshgate-relay over TLS.
#
#   mg-<pid>-hub: bridge br0 10.99.0.1/24 + fd99::1/64; meshgate-coord (HTTP :8080) and
#                 meshgate-relay r1 ([::]:8443, admission through the coordinator)
#   mg-<pid>-a:   veth0 10.99.0.2/24, agent A; reaches the relay over IPv4
#   mg-<pid>-b:   veth0 fd99::3/64 (+10.99.0.3/24 for the coordinator), agent B; reaches the
#                 relay over IPv6
#   A and B: nftables drop all UDP on veth0 both ways, and all TCP except to 8080 and 8443.
#
# Checks: the direct handshake fails (the UDP drop counters grow), A moves the peer to the relay
# after relay.direct_timeout and B follows when A's first packet arrives through the relay;
# pings both ways over IPv4 and IPv6 overlay addresses; iperf3 over IPv4 and IPv6; both status
# files show path "relay" via r1 and the peer's home relay r1 (from the map); the relay counts
# forwarded frames and admitted both nodes; a capture of every frame on the hub's bridge and the
# relay's own record of each payload (test.tap_file) never contain the plaintext marker that A
# pings into the tunnel, while B's tunnel interface does receive it.
#
# usage: agent_relay.sh MESHGATE_AGENT MESHGATE_COORD MESHGATE_RELAY
set -euo pipefail

AGENT=${1:-}
COORD=${2:-}
RELAY=${3:-}
# shellcheck source=coord_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/coord_lib.sh"

[ -n "$AGENT" ] && [ -n "$COORD" ] && [ -n "$RELAY" ] ||
	fail "usage: agent_relay.sh MESHGATE_AGENT MESHGATE_COORD MESHGATE_RELAY"
require_root
require_commands wireguard-go wg ip ping curl jq timeout setsid nft openssl iperf3 python3
require_built meshgate-agent "$AGENT" meshgate-coord "$COORD" meshgate-relay "$RELAY"
mg_init

NS_H=$(ns_name hub)
NS_A=$(ns_name a)
NS_B=$(ns_name b)
IF_A=$(if_name mgA)
IF_B=$(if_name mgB)
URL="http://10.99.0.1:8080"
MARKER=6d67706c61696e746578746d6b72 # "mgplaintextmkr", the payload pattern of A's pings

log "namespaces $NS_H $NS_A $NS_B"
ns_add "$NS_H" "$NS_A" "$NS_B"
hub_bridge "$NS_H" 10.99.0.1/24 fd99::1/64
hub_join "$NS_H" "$NS_A" va 10.99.0.2/24
hub_join "$NS_H" "$NS_B" vb 10.99.0.3/24 fd99::3/64

# ---- the firewalls: no UDP at all, TCP only to the coordinator and the relay ----
for ns in "$NS_A" "$NS_B"; do udp_firewall "$ns" veth0 "8080, 8443"; done

# ---- the coordinator ----
coord_write 10.99.0.1:8080 "test r1@10.99.0.1:8443"
coord_start "$NS_H" "$URL"
alice_nodes a b
PUB_A=$(wg pubkey <"$MG_STATE/a.key")
PUB_B=$(wg pubkey <"$MG_STATE/b.key")

# ---- the relay ----
relay_cert
relay_run "$NS_H" r1 "[::]:8443" 9470 test "test:
  tap_file: $MG_STATE/relay.tap"
metric() { relay_metric "$NS_H" 9470 "$1"; }

# ---- the agents ----
agent_write a "$IF_A" 1280 "$MG_STATE/authkey" info host 10.99.0.1 3
agent_write b "$IF_B" 1280 "$MG_STATE/authkey" info host fd99::1 3
pair_start
wait_for 10 "both nodes admitted by the relay" \
	test "$(metric 'meshgate_relay_admission_total{result="admitted"}')" -ge 2
pair_addrs

# The first pings start WireGuard's handshake; it cannot pass directly, so after
# relay.direct_timeout A moves B to the relay (and B follows at A's first relayed packet).
wait_for 30 "ping A -> B ($B4) through the relay" pings_answered "$NS_A" "$B4"
[ "$(nft_packets "$NS_A" inet mgfw udp_out)" -gt 0 ] || fail "A's firewall dropped no UDP: was a direct path tried?"
pings_answered "$NS_B" "$A4" || fail "ping B -> A ($A4)"
wait_for 10 "ping A -> B ($B6)" pings_answered "$NS_A" "$B6"
pings_answered "$NS_B" "$A6" || fail "ping B -> A ($A6)"
log "pings both ways over IPv4 and IPv6 overlay addresses, through the relay"

path_of() { # WHO PEERKEY: "path relay home_relay" from the status file
	jq -er --arg k "$2" '.peers[] | select(.key == $k) | "\(.path) \(.relay // "-") \(.home_relay)"' \
		"$MG_STATE/status-$1.json"
}
wait_for 5 "A's status shows B via relay r1" test "$(path_of a "$PUB_B")" = "relay r1 r1"
wait_for 5 "B's status shows A via relay r1" test "$(path_of b "$PUB_A")" = "relay r1 r1"
ep=$(ip netns exec "$NS_A" wg show "$IF_A" endpoints | awk -v k="$PUB_B" '$1 == k {print $2}')
case "$ep" in 127.0.0.1:*) ;; *) fail "A's endpoint for B is '$ep', not its loopback proxy" ;; esac
jq -e '.relay.connected == true' "$MG_STATE/status-a.json" >/dev/null || fail "A not on the relay"
log "status: both peers on path relay via r1, home relay r1 seen in the map; endpoint $ep"

# ---- iperf3 through the relay ----
spawn "$MG_STATE/iperf-server.log" ip netns exec "$NS_B" iperf3 -s -1 -B "$B4"
wait_for 5 "iperf3 server" ip netns exec "$NS_B" ss -ltn "sport = :5201"
run_bounded 30 ip netns exec "$NS_A" iperf3 -c "$B4" -t 2 -J >"$MG_STATE/iperf4.json" ||
	fail "iperf3 over IPv4 through the relay"
bps4=$(jq -er '.end.sum_received.bits_per_second' "$MG_STATE/iperf4.json")
spawn "$MG_STATE/iperf-server6.log" ip netns exec "$NS_B" iperf3 -s -1 -B "$B6"
wait_for 5 "iperf3 server (IPv6)" ip netns exec "$NS_B" ss -ltn "sport = :5201"
run_bounded 30 ip netns exec "$NS_A" iperf3 -c "$B6" -t 2 -J >"$MG_STATE/iperf6.json" ||
	fail "iperf3 over IPv6 through the relay"
bps6=$(jq -er '.end.sum_received.bits_per_second' "$MG_STATE/iperf6.json")
awk -v a="$bps4" -v b="$bps6" 'BEGIN {exit !(a > 1e6 && b > 1e6)}' ||
	fail "iperf3 through the relay too slow: $bps4 / $bps6 bit/s"
log "iperf3 through the relay: $(awk -v b="$bps4" 'BEGIN {printf "%.0f", b / 1e6}') Mbit/s IPv4," \
	"$(awk -v b="$bps6" 'BEGIN {printf "%.0f", b / 1e6}') Mbit/s IPv6 (2 cores shared, not a benchmark)"

# ---- the plaintext marker never reaches the relay's host ----
# A capture of everything on the hub's bridge while A pings the marker to B.
marker_not_at_relay "$NS_H" br0 "$NS_A" "$B4" "$NS_B" "$IF_B"
frames=$(metric 'meshgate_relay_frames_forwarded_total{path="local"}')
[ "${frames:-0}" -gt 100 ] || fail "the relay forwarded only ${frames:-0} frames"
log "the marker reached B's tunnel; the hub's capture and the relay's payloads never held it"

stop_pid "$AGENT_A" 5
stop_pid "$AGENT_B" 5
stop_pid "$RELAY_PID" 5
stop_pid "$COORD_PID" 5
log "PASS"
