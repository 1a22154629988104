#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# e2e: the gateways enforce the map's packet filter in their workers (rte_acl plus flow
# tracking; docs/coord-protocol.md, "The packet filter"). On the demo topology, under the
# policy "site A (gwA and LAN A) -> site B tcp/22, and -> the host tcp/22":
#   allowed   LAN A opens TCP connections to LAN B's host on port 22 (IPv4 and IPv6) and gets
#             the replies through gwA's flow tracking (gwA admits nothing new from B)
#   refused   LAN A -> LAN B on tcp/80, by UDP to 22, by ping; LAN B -> LAN A on tcp/22 (B
#             cannot open a connection to A). The refused UDP datagrams and pings are counted
#             exactly in the receiving gateway's policy drops for the sending peer
#   agent     the host (agent + wireguard-go) obeys the same filter: LAN A reaches its port 22,
#             not its port 80; LAN B cannot reach it
#   meshctl   `meshctl filter` on gwB shows the rule in force
#   change    with an allowed iperf3 flow running (tcp/5201), the policy changes 22 -> 80: gwB
#             has the new filter within 2 s, tcp/80 connects, tcp/22 is refused, and the iperf3
#             flow finishes untouched
#
# usage: test_filter.sh [meshgate=PATH] [coord=PATH] [meshctl=PATH] [agent=PATH] [build=DIR]
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=topology.sh
source "$HERE/topology.sh"

topo_require
topo_binaries "$@"
require_commands socat
gw_is_reference && skip "the filter checks read meshgate's health socket"
mg_init

# site_policy PORTS...: site A may open TCP to site B and to the host on PORTS, nothing else.
site_policy() {
	local f="$MG_STATE/policy-filter.yaml" p dst=""
	for p in "$@"; do
		dst="$dst\"tag:site-b:$p\", \"ops:$p\", "
	done
	{
		printf 'tagOwners:\n  tag:site-a: [ops]\n  tag:site-b: [ops]\n'
		printf 'acls:\n  - action: accept\n    src: [tag:site-a]\n    proto: tcp\n'
		printf '    dst: [%s]\n' "${dst%, }"
	} >"$f"
	coord policy set "$f" >/dev/null || fail "meshgate-coord policy set (ports $*)"
}

section "mesh"
topo_up
site_policy 22 5201
wait_for 20 "gwA to have gwB with $LANB_NET4" peer_allows "$NS_GWA" "$IF_GWA" "$PUB_GWB" "$LANB_NET4"
wait_for 20 "gwB to have gwA with $LANA_NET4" peer_allows "$NS_GWB" "$IF_GWB" "$PUB_GWA" "$LANA_NET4"
wait_for 20 "host to have gwA with $LANA_NET4" peer_allows "$NS_HOST" "$IF_HOST" "$PUB_GWA" "$LANA_NET4"
HOST4=$(node_field "$PUB_HOST" '.addresses[0]')
HOST4=${HOST4%/*}

# rule_text NAME: the gateway's filter in force, one rule a line.
rule_text() {
	health_raw "$1" filter 2>/dev/null | jq -r '.rule_text[]?' 2>/dev/null
}
filter_has_port() { # NAME PORT-LIST-TEXT ("22,5201")
	rule_text "$1" | grep -q "tcp $2\$"
}
wait_for 10 "gwB's filter: tcp 22,5201" filter_has_port gwB "22,5201"
check "gwA's filter admits nothing new" test -z "$(rule_text gwA)"

# policy_drops NAME PUBKEY: what NAME's filter refused from that peer.
policy_drops() {
	health_raw "$1" peers | jq -r --arg k "$2" '.peers[] | select(.public_key == $k) | .policy_drops'
}

listen() { # NS NAME SOCAT-ADDRESS: answers every connection with NAME
	spawn "$MG_STATE/listen-$2.log" ip netns exec "$1" socat "$3,reuseaddr,fork" "EXEC:/bin/echo $2"
}
tcp_says() { # NS HOST PORT: what the listener answered (empty: no connection)
	run_bounded 6 ip netns exec "$1" socat -T 3 -u "TCP:$2:$3,connect-timeout=2" - 2>/dev/null || true
}
udp_send() { # NS HOST PORT COUNT
	local i
	for ((i = 0; i < $4; i++)); do
		echo "x$i" | run_bounded 3 ip netns exec "$1" socat -u - "UDP4-SENDTO:$2:$3" || true
	done
}
listen "$NS_LANB" b22 TCP4-LISTEN:22
listen "$NS_LANB" b22v6 TCP6-LISTEN:22,ipv6only=1
listen "$NS_LANB" b80 TCP4-LISTEN:80
listen "$NS_LANA" a22 TCP4-LISTEN:22
listen "$NS_HOST" h22 TCP4-LISTEN:22
listen "$NS_HOST" h80 TCP4-LISTEN:80
spawn "$MG_STATE/udp-b.log" ip netns exec "$NS_LANB" socat -u UDP4-RECV:22,reuseaddr \
	"OPEN:$MG_STATE/udp-b.txt,creat,append"
spawn "$MG_STATE/udp-a.log" ip netns exec "$NS_LANA" socat -u UDP4-RECV:22,reuseaddr \
	"OPEN:$MG_STATE/udp-a.txt,creat,append"
for ns_port in "$NS_LANB 80" "$NS_LANA 22" "$NS_HOST 80"; do
	read -r ns port <<<"$ns_port"
	wait_for 5 "listener on $port in $ns" sh -c "ip netns exec $ns ss -Hltn 'sport = :$port' | grep -q LISTEN"
done

section "allowed"
wait_for 15 "LAN A -> LAN B tcp/22" test "$(tcp_says "$NS_LANA" "$LANB_HOST4" 22)" = b22
check "LAN A -> LAN B tcp/22 over IPv6" test "$(tcp_says "$NS_LANA" "[$LANB_HOST6]" 22)" = b22v6

section "refused"
check "LAN A -> LAN B tcp/80 refused" test -z "$(tcp_says "$NS_LANA" "$LANB_HOST4" 80)"
check "LAN B cannot open a connection to LAN A" test -z "$(tcp_says "$NS_LANB" "$LANA_HOST4" 22)"
sleep 1 # the refused connects' retransmitted SYNs are in the counters
b0=$(policy_drops gwB "$PUB_GWA")
udp_send "$NS_LANA" "$LANB_HOST4" 22 5
if run_bounded 10 ip netns exec "$NS_LANA" ping -n -c 3 -i 0.2 -W 1 "$LANB_HOST4" >/dev/null 2>&1; then
	fail "LAN A pinged LAN B"
fi
sleep 0.5
b1=$(policy_drops gwB "$PUB_GWA")
check "gwB counted the 8 refused packets from gwA (5 UDP, 3 pings): got $((b1 - b0))" test $((b1 - b0)) -eq 8
check "no UDP datagram reached LAN B" test ! -s "$MG_STATE/udp-b.txt"
a0=$(policy_drops gwA "$PUB_GWB")
udp_send "$NS_LANB" "$LANA_HOST4" 22 4
sleep 0.5
a1=$(policy_drops gwA "$PUB_GWB")
check "gwA counted the 4 refused datagrams from gwB: got $((a1 - a0))" test $((a1 - a0)) -eq 4
check "no UDP datagram reached LAN A" test ! -s "$MG_STATE/udp-a.txt"
check "metrics: gwB's policy drops for gwA" sh -c "'$MESHCTL_BIN' -s '$(gw_socket gwB)' metrics |
	grep -qxF 'meshgate_peer_policy_dropped_packets_total{peer=\"$PUB_GWA\"} $b1'"

section "agent host"
wait_for 15 "LAN A -> host tcp/22" test "$(tcp_says "$NS_LANA" "$HOST4" 22)" = h22
check "LAN A -> host tcp/80 refused" test -z "$(tcp_says "$NS_LANA" "$HOST4" 80)"
check "LAN B -> host tcp/22 refused" test -z "$(tcp_says "$NS_LANB" "$HOST4" 22)"

section "meshctl filter"
"$MESHCTL_BIN" -s "$(gw_socket gwB)" filter >"$MG_STATE/meshctl-filter.txt" || fail "meshctl filter"
cat "$MG_STATE/meshctl-filter.txt"
check "meshctl filter names the source" grep -q "rules from coordinator" "$MG_STATE/meshctl-filter.txt"
check "meshctl filter prints the rule" grep -q "dst .*$LANB_NET4.* tcp 22,5201" "$MG_STATE/meshctl-filter.txt"

section "change"
spawn "$MG_STATE/iperf3-client.log" ip netns exec "$NS_LANA" iperf3 -c "$LANB_HOST4" -t 6 -b 50M
IPERF=$MG_SPAWNED_PID
sleep 2
t0=$(date +%s%N)
site_policy 80 5201
until filter_has_port gwB "80,5201"; do
	[ $((($(date +%s%N) - t0) / 1000000)) -le 2000 ] ||
		fail "gwB's filter 2 s after the policy change: $(rule_text gwB)"
	sleep 0.02
done
log "the new filter landed on gwB $((($(date +%s%N) - t0) / 1000000)) ms after the change"
check "tcp/80 connects after the change" test "$(tcp_says "$NS_LANA" "$LANB_HOST4" 80)" = b80
check "tcp/22 refused after the change" test -z "$(tcp_says "$NS_LANA" "$LANB_HOST4" 22)"
wait_pid "$IPERF" 20 "iperf3 client" ||
	fail "the iperf3 flow broke across the policy change: $(tail -5 "$MG_STATE/iperf3-client.log")"
check "the iperf3 flow finished untouched" grep -q "iperf Done" "$MG_STATE/iperf3-client.log"
tail -4 "$MG_STATE/iperf3-client.log"

log "PASS ($TOPO_CHECKS_PASSED checks)"
