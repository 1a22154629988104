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
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"
# shellcheck source=agent_lib.sh
source "$HERE/agent_lib.sh"

[ -n "$AGENT" ] && [ -n "$COORD" ] && [ -n "$RELAY" ] ||
	fail "usage: agent_relay.sh MESHGATE_AGENT MESHGATE_COORD MESHGATE_RELAY"
require_root
require_commands wireguard-go wg ip ping curl jq timeout setsid nft openssl iperf3 python3
[ -x "$AGENT" ] || skip "meshgate-agent not built: $AGENT"
[ -x "$COORD" ] || skip "meshgate-coord not built: $COORD"
[ -x "$RELAY" ] || skip "meshgate-relay not built: $RELAY"
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
ip -n "$NS_H" link add br0 type bridge || fail "bridge"
ip -n "$NS_H" link set br0 up
addr_add "$NS_H" br0 10.99.0.1/24
addr_add "$NS_H" br0 fd99::1/64
veth_pair "$NS_A" veth0 "$NS_H" va
veth_pair "$NS_B" veth0 "$NS_H" vb
ip -n "$NS_H" link set va master br0
ip -n "$NS_H" link set vb master br0
addr_add "$NS_A" veth0 10.99.0.2/24
addr_add "$NS_B" veth0 10.99.0.3/24
addr_add "$NS_B" veth0 fd99::3/64

# ---- the firewalls: no UDP at all, TCP only to the coordinator and the relay ----
for ns in "$NS_A" "$NS_B"; do
	ip netns exec "$ns" nft -f - <<EOF || fail "firewall in $ns"
table inet mgfw {
	chain out {
		type filter hook output priority 0; policy accept;
		oifname "veth0" meta l4proto udp counter name udp_out drop
		oifname "veth0" tcp dport != { 8080, 8443 } drop
	}
	chain in {
		type filter hook input priority 0; policy accept;
		iifname "veth0" meta l4proto udp counter name udp_in drop
	}
	counter udp_out { }
	counter udp_in { }
}
EOF
done
udp_drops() { # NS: packets the firewall dropped on the way out
	ip netns exec "$1" nft -j list counter inet mgfw udp_out | jq -er '.nftables[1].counter.packets'
}

# ---- the coordinator ----
(umask 077 && wg genkey >"$MG_STATE/relay-credential")
cat >"$MG_STATE/coord.yaml" <<EOF
listen: 10.99.0.1:8080
allow_plain_http: true
store: sqlite:$MG_STATE/coord.db
log_level: info
heartbeat: 2s
relay_credential_file: $MG_STATE/relay-credential
relay_map:
  regions:
    - code: test
      relays:
        - {name: r1, host: 10.99.0.1, port: 8443, server_name: relay.test}
EOF
coord_start "$NS_H" "$URL"
alice_nodes a b
PUB_A=$(wg pubkey <"$MG_STATE/a.key")
PUB_B=$(wg pubkey <"$MG_STATE/b.key")

# ---- the relay ----
relay_cert
cat >"$MG_STATE/relay.yaml" <<EOF
listen: "[::]:8443"
tls:
  cert_file: $MG_STATE/relay.crt
  key_file: $MG_STATE/relay.key
metrics_listen: 127.0.0.1:9470
name: r1
region: test
admission:
  coordinator: $URL
  credential_file: $MG_STATE/relay-credential
test:
  tap_file: $MG_STATE/relay.tap
EOF
relay_spawn "$NS_H" relay 9470
metric() { relay_metric "$NS_H" 9470 "$1"; }

# ---- the agents ----
WG_GO=$(command -v wireguard-go)
agent_config() { # WHO IFNAME RELAY_HOST
	cat >"$MG_STATE/agent-$1.yaml" <<EOF
interface:
  name: $2
  private_key_file: $MG_STATE/$1.key
  listen_port: 51820
  mtu: 1280
wireguard_go: $WG_GO
coordinator:
  url: $URL
  authkey_file: $MG_STATE/authkey
  state_dir: $MG_STATE/state-$1
  hostname: node-$1
relay:
  name: r1
  host: "$3"
  port: 8443
  server_name: relay.test
  ca_file: $MG_STATE/relay.crt
  direct_timeout: 3
status_file: $MG_STATE/status-$1.json
log_level: info
EOF
}
agent_config a "$IF_A" 10.99.0.1
agent_config b "$IF_B" fd99::1
agent_start a "$NS_A" "$IF_A"
AGENT_A=$AGENT_PID
agent_start b "$NS_B" "$IF_B"
AGENT_B=$AGENT_PID

has_peer() { run_bounded 5 ip netns exec "$1" wg show "$2" peers | grep -qxF "$3"; }
wait_for 20 "A has B as a peer" has_peer "$NS_A" "$IF_A" "$PUB_B"
wait_for 20 "B has A as a peer" has_peer "$NS_B" "$IF_B" "$PUB_A"
wait_for 10 "both nodes admitted by the relay" \
	test "$(metric 'meshgate_relay_admission_total{result="admitted"}')" -ge 2
node_addr() { admin GET nodes | jq -er --arg k "$1" ".nodes[] | select(.node_key == \$k) | .addresses[$2]"; }
A4=$(node_addr "$PUB_A" 0)
B4=$(node_addr "$PUB_B" 0)
A6=$(node_addr "$PUB_A" 1)
B6=$(node_addr "$PUB_B" 1)
log "overlay: A $A4 $A6, B $B4 $B6"

ping_ok() { run_bounded 10 ip netns exec "$1" ping -c 2 -i 0.2 -W 2 "$2" >/dev/null 2>&1; }
# The first pings start WireGuard's handshake; it cannot pass directly, so after
# relay.direct_timeout A moves B to the relay (and B follows at A's first relayed packet).
wait_for 30 "ping A -> B ($B4) through the relay" ping_ok "$NS_A" "$B4"
[ "$(udp_drops "$NS_A")" -gt 0 ] || fail "A's firewall dropped no UDP: was a direct path tried?"
ping_ok "$NS_B" "$A4" || fail "ping B -> A ($A4)"
wait_for 10 "ping A -> B ($B6)" ping_ok "$NS_A" "$B6"
ping_ok "$NS_B" "$A6" || fail "ping B -> A ($A6)"
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
