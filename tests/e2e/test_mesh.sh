#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# e2e: the demo topology (topology.sh) joined through meshgate-coord. Checks:
#   join      gwA, gwB and the host register with single-use pre-auth keys: three nodes, each
#             with an overlay IPv4 in 100.64.0.0/10 and an IPv6 in fc00::/7, the gateways
#             tagged, the host untagged; every key is marked used
#   peers     each gateway has the other and the host as peers, with the endpoint that node
#             reported, before any route is approved
#   routes    both gateways advertise their LAN prefixes (IPv4 and IPv6); unapproved, they are
#             in no allowed IPs and LAN A cannot reach LAN B; once approved, the peers' allowed
#             IPs and the host's kernel routes carry them
#   traffic   LAN A <-> LAN B, IPv4 and IPv6, both ways; both gateways report the handshake;
#             iperf3 TCP A -> B over IPv4 and IPv6 inner
#   host      the stock host (agent + wireguard-go) reaches both LANs, IPv4 and IPv6, from its
#             overlay addresses, and LAN A reaches the host's overlay address
#
# usage: test_mesh.sh [meshgate=PATH] [coord=PATH] [meshctl=PATH] [agent=PATH] [build=DIR]
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=topology.sh
source "$HERE/topology.sh"

topo_require
topo_binaries "$@"
mg_init

section "join"
topo_join

check "three nodes registered" [ "$(coord_json nodes list | jq '.nodes | length')" -eq 3 ]
overlay_ok() { # PUBKEY
	python3 - "$(node_field "$1" '.addresses[0]')" "$(node_field "$1" '.addresses[1]')" <<'PY'
import ipaddress, sys
a4 = ipaddress.ip_address(sys.argv[1].split("/")[0])
a6 = ipaddress.ip_address(sys.argv[2].split("/")[0])
sys.exit(0 if a4 in ipaddress.ip_network("100.64.0.0/10") and a6 in ipaddress.ip_network("fc00::/7") else 1)
PY
}
check "gwA has an overlay IPv4 in 100.64.0.0/10 and a ULA IPv6" overlay_ok "$PUB_GWA"
check "gwB has overlay addresses" overlay_ok "$PUB_GWB"
check "the host has overlay addresses" overlay_ok "$PUB_HOST"
check "gwA is tag:site-a, gwB is tag:site-b" [ "$(node_field "$PUB_GWA" '.tags | join(",")'),$(node_field "$PUB_GWB" '.tags | join(",")')" = "tag:site-a,tag:site-b" ]
check "the host is user ops, untagged" [ "$(node_field "$PUB_HOST" '.user + "/" + (.tags | join(","))')" = "ops/" ]
check "all three single-use pre-auth keys are spent" \
	[ "$(coord_json keys list | jq '[.preauthkeys[] | select(.used)] | length')" -eq 3 ]

section "peers, before any route is approved"
peers_of() { # NS IFNAME PUBKEY...
	local ns="$1" ifn="$2" k
	shift 2
	for k in "$@"; do has_peer "$ns" "$ifn" "$k" || return 1; done
}
check "gwA has gwB and the host as peers" within 15 peers_of "$NS_GWA" "$IF_GWA" "$PUB_GWB" "$PUB_HOST"
check "gwB has gwA and the host as peers" within 15 peers_of "$NS_GWB" "$IF_GWB" "$PUB_GWA" "$PUB_HOST"
check "the host has gwA and gwB as peers" within 15 peers_of "$NS_HOST" "$IF_HOST" "$PUB_GWA" "$PUB_GWB"
check "gwA's endpoint for gwB is gwB's mesh port ($GWB_MESH:$WG_PORT)" \
	[ "$(wg_field "$NS_GWA" "$IF_GWA" endpoints "$PUB_GWB")" = "$GWB_MESH:$WG_PORT" ]
check "gwB's endpoint for the host is the one it reported ($HOST_IP:$WG_PORT)" \
	[ "$(wg_field "$NS_GWB" "$IF_GWB" endpoints "$PUB_HOST")" = "$HOST_IP:$WG_PORT" ]
check "the host's endpoint for gwA is gwA's mesh port ($GWA_MESH:$WG_PORT)" \
	[ "$(wg_field "$NS_HOST" "$IF_HOST" endpoints "$PUB_GWA")" = "$GWA_MESH:$WG_PORT" ]
advertised_only() { # NODE PREFIX: advertised, not approved
	coord --json routes list | jq -e --argjson id "${NODE_ID[$1]}" --arg p "$2" \
		'.routes[] | select(.node_id == $id and .prefix == $p and (.approved | not))'
}
for p in "$LANA_NET4" "$LANA_NET6"; do
	check "gwA advertises $p" within 15 advertised_only gwA "$p"
done
for p in "$LANB_NET4" "$LANB_NET6"; do
	check "gwB advertises $p" within 15 advertised_only gwB "$p"
done
not_allowed() { ! peer_allows "$@"; }
check "unapproved: gwA does not route $LANB_NET4 to gwB" not_allowed "$NS_GWA" "$IF_GWA" "$PUB_GWB" "$LANB_NET4"
check "unapproved: the host does not route $LANA_NET4 to gwA" not_allowed "$NS_HOST" "$IF_HOST" "$PUB_GWA" "$LANA_NET4"
check "unapproved: LAN A cannot reach LAN B" ping_fails "$NS_LANA" "$LANB_HOST4"

section "approval"
topo_routes
routes_of() { # NS IFNAME PUBKEY PREFIX...
	local ns="$1" ifn="$2" k="$3" p
	shift 3
	for p in "$@"; do peer_allows "$ns" "$ifn" "$k" "$p" || return 1; done
}
check "gwA routes $LANB_NET4 and $LANB_NET6 to gwB" within 5 routes_of "$NS_GWA" "$IF_GWA" "$PUB_GWB" "$LANB_NET4" "$LANB_NET6"
check "gwB routes $LANA_NET4 and $LANA_NET6 to gwA" within 5 routes_of "$NS_GWB" "$IF_GWB" "$PUB_GWA" "$LANA_NET4" "$LANA_NET6"
check "the host routes LAN A to gwA" within 5 routes_of "$NS_HOST" "$IF_HOST" "$PUB_GWA" "$LANA_NET4" "$LANA_NET6"
check "the host routes LAN B to gwB" within 5 routes_of "$NS_HOST" "$IF_HOST" "$PUB_GWB" "$LANB_NET4" "$LANB_NET6"
host_route() { # PREFIX: the agent routed it into the tunnel
	ip -n "$NS_HOST" route show dev "$IF_HOST" | grep -q "^$1 " ||
		ip -n "$NS_HOST" -6 route show dev "$IF_HOST" | grep -q "^$1 "
}
for p in "$LANA_NET4" "$LANA_NET6" "$LANB_NET4" "$LANB_NET6"; do
	check "the host's kernel routes $p into $IF_HOST" within 5 host_route "$p"
done

section "traffic between the LANs"
check "LAN A -> LAN B, IPv4 ($LANA_HOST4 -> $LANB_HOST4)" reaches "$NS_LANA" "$LANB_HOST4"
check "LAN A -> LAN B, IPv6 ($LANA_HOST6 -> $LANB_HOST6)" reaches "$NS_LANA" "$LANB_HOST6"
check "LAN B -> LAN A, IPv4" reaches "$NS_LANB" "$LANA_HOST4"
check "LAN B -> LAN A, IPv6" reaches "$NS_LANB" "$LANA_HOST6"
wait_handshake "$NS_GWA" "$IF_GWA" "$PUB_GWB" 5
wait_handshake "$NS_GWB" "$IF_GWB" "$PUB_GWA" 5
iperf_server "$NS_LANB"
for dst in "$LANB_HOST4" "$LANB_HOST6"; do
	out=$MG_STATE/iperf-$dst.json
	check "iperf3 TCP LAN A -> $dst, 2 s" iperf_run "$NS_LANA" "$dst" "$out" -t 2
	log "iperf3 LAN A -> $dst: $(mbps "$out") Mbit/s"
done

section "the stock host"
HOST4=$(node_field "$PUB_HOST" '.addresses[0]')
HOST4=${HOST4%/*}
HOST6=$(node_field "$PUB_HOST" '.addresses[1]')
HOST6=${HOST6%/*}
check "host -> LAN A, IPv4" reaches "$NS_HOST" "$LANA_HOST4"
check "host -> LAN A, IPv6" reaches "$NS_HOST" "$LANA_HOST6"
check "host -> LAN B, IPv4" reaches "$NS_HOST" "$LANB_HOST4"
check "host -> LAN B, IPv6" reaches "$NS_HOST" "$LANB_HOST6"
check "LAN A -> the host's overlay IPv4 $HOST4" reaches "$NS_LANA" "$HOST4"
check "LAN B -> the host's overlay IPv6 $HOST6" reaches "$NS_LANB" "$HOST6"
src_is_overlay() { # the host's packets to LAN B leave from its overlay address
	run_bounded 10 ip netns exec "$NS_HOST" iperf3 -c "$LANB_HOST4" -t 1 -J >"$MG_STATE/host-iperf.json" 2>&1 &&
		[ "$(jq -r '.start.connected[0].local_host' "$MG_STATE/host-iperf.json")" = "$HOST4" ]
}
check "the host's traffic to LAN B comes from $HOST4 (iperf3 1 s)" src_is_overlay
wait_handshake "$NS_HOST" "$IF_HOST" "$PUB_GWA" 5

gw_alive gwA
gw_alive gwB
agent_alive || fail "the agent exited"
gw_stop gwA
gw_stop gwB
log "e2e mesh: $TOPO_CHECKS_PASSED checks passed"
