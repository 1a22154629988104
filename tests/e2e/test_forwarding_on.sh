#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# e2e, issue 18: the demo topology with IPv4 and IPv6 forwarding deliberately turned on in both
# gateways' namespaces and IPv6 left on for their port interfaces, as on a host that runs dockerd
# or routes. The af_packet PMD shares its interface's MAC, so the kernel in a gateway's
# namespace also receives every frame for the port; a kernel that forwards routes it out of
# mgmt0 onto the same wan, where it comes back, about 55 times per packet. meshgate's port guard
# must keep the kernel out by itself. Checks:
#   guard     while a gateway runs, its ports' interfaces neither forward IPv4 nor run IPv6,
#             though the namespace forwards; its log says what the guard changed
#   counters  over a 3 s iperf3 LAN A -> LAN B, the frames gwB's mesh port receives equal the
#             frames gwA's mesh port sends, and the other way round (ip -s link on the wan
#             bridge's veths, and the gateways' own port counters), within 1% plus 20 for ARP and
#             the host's packets on the same segment
#   drops     neither gateway counts a replay drop
#   iperf3    retransmits stay in the tens (under 100)
#   restore   after SIGTERM, the ports' interfaces forward and run IPv6 again, as before start
#
# usage: test_forwarding_on.sh [meshgate=PATH] [coord=PATH] [meshctl=PATH] [agent=PATH] [build=DIR]
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export MG_GW_FORWARDING=1
# shellcheck source=topology.sh
source "$HERE/topology.sh"

topo_require
topo_binaries "$@"
mg_init

section "the mesh, with forwarding on in the gateways' namespaces"
topo_join
topo_routes
topo_wait_mesh 30

ns_get() { # NS KEY: a sysctl's value in NS
	ip netns exec "$1" sysctl -n "$2"
}
is() { # WANT CMD...: CMD prints WANT
	[ "$("${@:2}")" = "$1" ]
}
for ns in "$NS_GWA" "$NS_GWB"; do
	check "${ns##*-}: the namespace forwards IPv4 and IPv6" \
		is "1 1" echo "$(ns_get "$ns" net.ipv4.ip_forward) $(ns_get "$ns" net.ipv6.conf.all.forwarding)"
	for ifc in gm0 gl0; do
		check_gw "${ns##*-}: the guard turned off IPv4 forwarding and IPv6 on $ifc" \
			is "0 1" echo "$(ns_get "$ns" "net.ipv4.conf.$ifc.forwarding") $(ns_get "$ns" "net.ipv6.conf.$ifc.disable_ipv6")"
	done
done
guard_logged() { # NAME
	grep 'msg="port guard"' "$(gw_log_file "$1")" | grep -q 'gm0' &&
		grep 'msg="port guard"' "$(gw_log_file "$1")" | grep -q 'gl0'
}
check_gw "gwA's log says what the guard changed on gm0 and gl0" guard_logged gwA
check_gw "gwB's log says what the guard changed on gm0 and gl0" guard_logged gwB

section "traffic: every frame crosses the wan once"
check "LAN A -> LAN B, IPv4" reaches "$NS_LANA" "$LANB_HOST4"
check "LAN A -> LAN B, IPv6" reaches "$NS_LANA" "$LANB_HOST6"
wait_handshake "$NS_GWA" "$IF_GWA" "$PUB_GWB" 5
iperf_server "$NS_LANB"

link_stat() { # IF rx|tx: packets through the wan bridge's veth IF
	ip -n "$NS_WAN" -j -s link show dev "$1" | jq -r ".[0].stats64.$2.packets"
}
port_stat() { # NAME rx|tx: the gateway's mesh port counter (0 for the reference)
	local v
	v=$(gw_health "$1" | jq -r --arg k "$2_packets" '.ports[] | select(.name == "mesh") | .[$k]' 2>/dev/null) || v=""
	printf '%s' "${v:-0}"
}
snapshot() {
	# a-mesh receives what gwA's mesh port sends; b-mesh sends what gwB's receives.
	printf '%s %s %s %s %s %s %s %s' "$(link_stat a-mesh rx)" "$(link_stat b-mesh tx)" \
		"$(link_stat b-mesh rx)" "$(link_stat a-mesh tx)" \
		"$(port_stat gwA tx)" "$(port_stat gwB rx)" "$(port_stat gwB tx)" "$(port_stat gwA rx)"
}
read -r a_sent0 b_got0 b_sent0 a_got0 pa_tx0 pb_rx0 pb_tx0 pa_rx0 <<<"$(snapshot)"
out=$MG_STATE/iperf-forwarding-on.json
check "iperf3 TCP LAN A -> LAN B, 3 s" iperf_run "$NS_LANA" "$LANB_HOST4" "$out" -t 3
read -r a_sent1 b_got1 b_sent1 a_got1 pa_tx1 pb_rx1 pb_tx1 pa_rx1 <<<"$(snapshot)"
retrans=$(jq -r '.end.sum_sent.retransmits // 0' "$out")
log "iperf3 with forwarding on: $(mbps "$out") Mbit/s, $retrans retransmits"
log "wan frames: gwA sent $((a_sent1 - a_sent0)), gwB received $((b_got1 - b_got0));" \
	"gwB sent $((b_sent1 - b_sent0)), gwA received $((a_got1 - a_got0))"
gw_is_reference || log "port counters: gwA mesh tx $((pa_tx1 - pa_tx0)), gwB mesh rx $((pb_rx1 - pb_rx0));" \
	"gwB mesh tx $((pb_tx1 - pb_tx0)), gwA mesh rx $((pa_rx1 - pa_rx0))"

about_equal() { # SENT RECEIVED: within 1% plus 20 frames (ARP and the host share the wan)
	local d=$(($2 - $1))
	[ "$1" -gt 0 ] && [ "${d#-}" -le $(($1 / 100 + 20)) ]
}
check "wan: gwB's mesh port received what gwA's sent ($((b_got1 - b_got0)) / $((a_sent1 - a_sent0)))" \
	about_equal $((a_sent1 - a_sent0)) $((b_got1 - b_got0))
check "wan: gwA's mesh port received what gwB's sent ($((a_got1 - a_got0)) / $((b_sent1 - b_sent0)))" \
	about_equal $((b_sent1 - b_sent0)) $((a_got1 - a_got0))
check_gw "gateways: gwB's mesh rx equals gwA's mesh tx ($((pb_rx1 - pb_rx0)) / $((pa_tx1 - pa_tx0)))" \
	about_equal $((pa_tx1 - pa_tx0)) $((pb_rx1 - pb_rx0))
check_gw "gateways: gwA's mesh rx equals gwB's mesh tx ($((pa_rx1 - pa_rx0)) / $((pb_tx1 - pb_tx0)))" \
	about_equal $((pb_tx1 - pb_tx0)) $((pa_rx1 - pa_rx0))
gw_is_reference || log "replay drops: gwA $(gw_drop_count gwA replay), gwB $(gw_drop_count gwB replay)"
for gw in gwA gwB; do
	check_gw "$gw counts no replay drop" is 0 gw_drop_count "$gw" replay
done
check "iperf3 retransmits stay in the tens ($retrans)" [ "$retrans" -lt 100 ]

section "restore on exit"
gw_alive gwA
gw_alive gwB
agent_alive || fail "the agent exited"
gw_stop gwA
gw_stop gwB
for ns in "$NS_GWA" "$NS_GWB"; do
	for ifc in gm0 gl0; do
		check_gw "${ns##*-}: $ifc forwards IPv4 and runs IPv6 again after SIGTERM" \
			is "1 0" echo "$(ns_get "$ns" "net.ipv4.conf.$ifc.forwarding") $(ns_get "$ns" "net.ipv6.conf.$ifc.disable_ipv6")"
	done
done
# TOPO_FATAL_CHECKS=0 runs every check (to see all the figures at once): fail at the end then.
[ "$TOPO_CHECKS_FAILED" -eq 0 ] || fail "$TOPO_CHECKS_FAILED checks failed"
log "e2e forwarding on: $TOPO_CHECKS_PASSED checks passed"
