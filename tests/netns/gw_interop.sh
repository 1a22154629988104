#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# One meshgate gateway between a LAN and stock wireguard-go peers, checked the way the Linux
# module's selftest (tools/testing/selftests/wireguard/netns.sh) checks a WireGuard interface.
#
#   lan (host 10.10.0.2, fd10::2) ── gl0 [meshgate gw] gm0 ── br0 in "net" (192.0.2.0/24, fd00:2::/64)
#                                    LAN 10.10.0.1/fd10::1    mesh 192.0.2.1/fd00:2::1
#       br0 ── wm0 in "wg": wireguard-go (outer 192.0.2.2 / fd00:2::2, inner 10.20.0.2, fd20::2)
#       br0 ── wan0 in "nat" 192.0.2.3, MASQUERADE ── natwg: wireguard-go (172.16.0.2, inner 10.30.0.2)
#
# Checks, in order (each logs PASS or fails with the reason):
#   handshake-wg-first    wireguard-go's ping makes it initiate; the gateway responds
#   handshake-lan-first   after both sides lose their keys (gateway restart, peer re-added), a
#                         ping from the LAN makes the gateway initiate
#   ping-matrix           ping both ways, IPv4 and IPv6 inner, over IPv4 and IPv6 outer; each
#                         side's `wg show endpoints` names the other's address of that family
#   transfer-counters     after the pings and a settle: gateway rx == wireguard-go tx and gateway
#                         tx == wireguard-go rx, exactly
#   iperf3-matrix         TCP both directions and UDP, IPv4 and IPv6 inner, over both outers
#   mtu                   1420-byte inner packets pass with DF both ways; 1421 from the LAN gets
#                         ICMP frag-needed / packet-too-big with mtu 1420
#   allowed-ips-filter    a packet from wireguard-go whose inner source is outside its allowed
#                         IPs is not delivered (counted by iptables in the LAN namespace; the
#                         gateway's allowed_ips drop counter rises when its health socket says)
#   roaming               wireguard-go moves to another address and port; traffic continues and
#                         the gateway's `wg show endpoints` shows the new endpoint
#   private-key-change    `wg set <if> private-key` on the gateway stops traffic until
#                         wireguard-go learns the new public key
#   peer-remove           `wg set <if> peer … remove` stops traffic; adding it back restores it
#   nat-keepalive         persistent keepalive 1 holds a MASQUERADE mapping open across a 2 s
#                         conntrack UDP timeout; without it the mapping expires (control)
#   rekey                 with test.timer_divisor 15 (REKEY_AFTER_TIME 8 s), a 20 s iperf3 UDP
#                         stream at 25 Mbit/s each way sees at least two new handshakes and
#                         loses nothing (up to three tries: see the section for why)
#
# usage: gw_interop.sh [PATH_TO_MESHGATE]  (or MESHGATE_BIN; MESHGATE_IMPL=wireguard-go runs the
# same checks against wireguard-go with kernel forwarding as the gateway, to check the checks)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"
# shellcheck source=gw_lib.sh
source "$HERE/gw_lib.sh"

gw_require_common
require_commands iperf3 iptables ip6tables ss
gw_setup_binary "${1:-}"
mg_init

pass() {
	log "PASS: $*"
}

NS_LAN=$(ns_name lan)
NS_GW=$(ns_name gw)
NS_NET=$(ns_name net)
NS_WG=$(ns_name wg)
NS_NAT=$(ns_name nat)
NS_NATWG=$(ns_name natwg)
GW_IF=$(if_name mg)
WGO_IF=$(if_name wgo)
NATWG_IF=$(if_name wgn)

LAN_HOST4=10.10.0.2 LAN_HOST6=fd10::2
WGO_IN4=10.20.0.2 WGO_IN6=fd20::2
WGO_BAD4=10.20.0.99 WGO_BAD6=fd20::99
WGO_OUT4=192.0.2.2 WGO_OUT6=fd00:2::2
WGO_ROAM4=192.0.2.12
WGO_PORT=40000 WGO_ROAM_PORT=40001
GW_OUT4=192.0.2.1 GW_OUT6=fd00:2::1
GW_WG_PORT=51820
NAT_OUT4=192.0.2.3
NATWG_IN4=10.30.0.2
NATWG_PORT=40100

log "namespaces mg-$MG_ID-{lan,gw,net,wg,nat,natwg}; gateway $GW_IF; wireguard-go $WGO_IF, $NATWG_IF"
ns_add "$NS_LAN" "$NS_WG" "$NS_NAT" "$NS_NATWG"
gw_ns_add "$NS_GW"
bridge_ns_add "$NS_NET"

gw_port_link "$NS_GW" gl0 "$NS_LAN" lan0
gw_port_link "$NS_GW" gm0 "$NS_NET" pgw
bridge_attach "$NS_NET" pgw
veth_pair "$NS_WG" wm0 "$NS_NET" pwg
no_tx_offload "$NS_WG" wm0
bridge_attach "$NS_NET" pwg
veth_pair "$NS_NAT" wan0 "$NS_NET" pnat
no_tx_offload "$NS_NAT" wan0
bridge_attach "$NS_NET" pnat
host_link "$NS_NAT" nl0 "$NS_NATWG" n0

addr_add "$NS_LAN" lan0 "$LAN_HOST4/24"
addr_add "$NS_LAN" lan0 "$LAN_HOST6/64"
ip -n "$NS_LAN" route add default via 10.10.0.1 || fail "LAN default route"
ip -n "$NS_LAN" -6 route add default via fd10::1 || fail "LAN default route (IPv6)"

addr_add "$NS_WG" wm0 "$WGO_OUT4/24"
addr_add "$NS_WG" wm0 "$WGO_OUT6/64"

addr_add "$NS_NAT" wan0 "$NAT_OUT4/24"
addr_add "$NS_NAT" nl0 172.16.0.1/24
ns_sysctl "$NS_NAT" net.ipv4.ip_forward=1
ip netns exec "$NS_NAT" iptables -t nat -A POSTROUTING -o wan0 -j MASQUERADE ||
	fail "MASQUERADE in $NS_NAT"
# The mapping expires 2 s after the last packet, whichever way it went.
ns_sysctl "$NS_NAT" net.netfilter.nf_conntrack_udp_timeout=2 \
	net.netfilter.nf_conntrack_udp_timeout_stream=2
addr_add "$NS_NATWG" n0 172.16.0.2/24
ip -n "$NS_NATWG" route add default via 172.16.0.1 || fail "natwg default route"

GW_PUB=$(gen_key gw)
WGO_PUB=$(gen_key wgo)
NATWG_PUB=$(gen_key natwg)
GW_KEYFILE=$MG_STATE/gw.key

# The gateway's view of the wireguard-go peer, and wireguard-go's current endpoint.
WGO_ALLOWED="$WGO_IN4/32,$WGO_IN6/128"
WGO_ENDPOINT=$(endpoint "$WGO_OUT4" "$WGO_PORT")

write_gw_config() {
	gw_reset_vars
	GW_NAME=gw GW_NS=$NS_GW GW_IFNAME=$GW_IF GW_KEY=$GW_KEYFILE GW_PORT=$GW_WG_PORT
	GW_LAN_IF=gl0 GW_LAN4=10.10.0.1/24 GW_LAN6=fd10::1/64
	GW_MESH_IF=gm0 GW_MESH4=$GW_OUT4/24 GW_MESH6=$GW_OUT6/64
	GW_PEERS=("$WGO_PUB|$WGO_ALLOWED|$WGO_ENDPOINT|" "$NATWG_PUB|$NATWG_IN4/32||")
	GW_EXTRA=${1:-}
	gw_write_config "$MG_STATE/gw.yaml"
}

# ---- wireguard-go ----
LOG_LEVEL=verbose wg_go_start "$NS_WG" "$WGO_IF" "$MG_STATE/wireguard-go.log"
WGO_LOG=$MG_STATE/wireguard-go.log
wg_in "$NS_WG" set "$WGO_IF" private-key "$MG_STATE/wgo.key" listen-port "$WGO_PORT" ||
	fail "wg set on $WGO_IF"
addr_add "$NS_WG" "$WGO_IF" "$WGO_IN4/24"
addr_add "$NS_WG" "$WGO_IF" "$WGO_IN6/64"
ip -n "$NS_WG" link set "$WGO_IF" up || fail "link up $WGO_IF"
ip -n "$NS_WG" route add 10.10.0.0/24 dev "$WGO_IF" || fail "route to the LAN via $WGO_IF"
ip -n "$NS_WG" -6 route add fd10::/64 dev "$WGO_IF" || fail "route to the LAN via $WGO_IF (IPv6)"

# wgo_set_gw_peer ENDPOINT: (re)creates the gateway peer on wireguard-go: no keypair survives
# and its counters restart from zero.
wgo_set_gw_peer() {
	wg_in "$NS_WG" set "$WGO_IF" peer "$GW_PUB" remove || fail "wg set peer remove on $WGO_IF"
	wg_in "$NS_WG" set "$WGO_IF" peer "$GW_PUB" allowed-ips 10.10.0.0/24,fd10::/64 \
		endpoint "$1" || fail "wg set peer on $WGO_IF"
}

LOG_LEVEL=verbose wg_go_start "$NS_NATWG" "$NATWG_IF" "$MG_STATE/wireguard-go-natwg.log"
wg_in "$NS_NATWG" set "$NATWG_IF" private-key "$MG_STATE/natwg.key" listen-port "$NATWG_PORT" ||
	fail "wg set on $NATWG_IF"
addr_add "$NS_NATWG" "$NATWG_IF" "$NATWG_IN4/24"
ip -n "$NS_NATWG" link set "$NATWG_IF" up || fail "link up $NATWG_IF"
ip -n "$NS_NATWG" route add 10.10.0.0/24 dev "$NATWG_IF" || fail "route via $NATWG_IF"

iperf_server "$NS_LAN"

# ---- the gateway ----
write_gw_config
gw_start "$MG_STATE/gw.yaml"
wgo_set_gw_peer "$(endpoint "$GW_OUT4" "$GW_WG_PORT")"

# log_since FILE MARK PATTERN: lines matching PATTERN after line MARK of FILE.
log_since() {
	tail -n "+$(($2 + 1))" "$1" | grep -c -- "$3" || true
}
log_lines() {
	wc -l <"$1"
}

# ---- handshake-wg-first ----
mark=$(log_lines "$WGO_LOG")
ping_ok "$NS_WG" "$LAN_HOST4" 3 ||
	fail "handshake-wg-first: ping from wireguard-go to the LAN host $LAN_HOST4 failed"
[ "$(log_since "$WGO_LOG" "$mark" 'Sending handshake initiation')" -ge 1 ] ||
	fail "handshake-wg-first: wireguard-go did not initiate"
[ "$(log_since "$WGO_LOG" "$mark" 'Received handshake response')" -ge 1 ] ||
	fail "handshake-wg-first: wireguard-go never got the gateway's handshake response"
wait_handshake "$NS_GW" "$GW_IF" "$WGO_PUB" 5
pass "handshake-wg-first (wireguard-go initiated, gateway responded)"

# ---- handshake-lan-first ----
gw_restart gw
wgo_set_gw_peer "$(endpoint "$GW_OUT4" "$GW_WG_PORT")"
mark=$(log_lines "$WGO_LOG")
ping_ok "$NS_LAN" "$WGO_IN4" 3 ||
	fail "handshake-lan-first: ping from the LAN host to $WGO_IN4 through the gateway failed"
[ "$(log_since "$WGO_LOG" "$mark" 'Received handshake initiation')" -ge 1 ] ||
	fail "handshake-lan-first: wireguard-go received no handshake initiation from the gateway"
[ "$(log_since "$WGO_LOG" "$mark" 'Sending handshake initiation')" -eq 0 ] ||
	fail "handshake-lan-first: wireguard-go initiated, the gateway should have"
wait_handshake "$NS_WG" "$WGO_IF" "$GW_PUB" 5
wait_handshake "$NS_GW" "$GW_IF" "$WGO_PUB" 5
pass "handshake-lan-first (gateway initiated, wireguard-go responded)"

# ---- ping-matrix ----
# set_outer 4|6: both sides' endpoints in that family.
set_outer() {
	local gw_out=$GW_OUT4 wgo_out=$WGO_OUT4
	[ "$1" = 4 ] || gw_out=$GW_OUT6 wgo_out=$WGO_OUT6
	WGO_ENDPOINT=$(endpoint "$wgo_out" "$WGO_PORT")
	wg_in "$NS_WG" set "$WGO_IF" peer "$GW_PUB" endpoint "$(endpoint "$gw_out" "$GW_WG_PORT")" ||
		fail "wg set endpoint on $WGO_IF"
	wg_in "$NS_GW" set "$GW_IF" peer "$WGO_PUB" endpoint "$WGO_ENDPOINT" ||
		fail "wg set endpoint on the gateway"
}

# check_endpoints CHECK FAMILY: each side's endpoint for the other is the address of that family
# set_outer chose (each side also roams to where authenticated packets come from).
check_endpoints() {
	local got_gw got_wgo want_gw=$GW_OUT4
	[ "$2" = 4 ] || want_gw=$GW_OUT6
	want_gw=$(endpoint "$want_gw" "$GW_WG_PORT")
	got_gw=$(wg_field "$NS_GW" "$GW_IF" endpoints "$WGO_PUB")
	got_wgo=$(wg_field "$NS_WG" "$WGO_IF" endpoints "$GW_PUB")
	[ "$got_gw" = "$WGO_ENDPOINT" ] ||
		fail "$1: the gateway's endpoint for wireguard-go is '$got_gw', want $WGO_ENDPOINT"
	[ "$got_wgo" = "$want_gw" ] ||
		fail "$1: wireguard-go's endpoint for the gateway is '$got_wgo', want $want_gw"
}

for outer in 4 6; do
	set_outer "$outer"
	for dir in wg lan; do
		for inner in 4 6; do
			if [ "$dir" = wg ]; then
				src=$NS_WG dst=$LAN_HOST4
				[ "$inner" = 4 ] || dst=$LAN_HOST6
			else
				src=$NS_LAN dst=$WGO_IN4
				[ "$inner" = 4 ] || dst=$WGO_IN6
			fi
			ping_ok "$src" "$dst" 3 ||
				fail "ping-matrix: outer IPv$outer, inner IPv$inner: ping $dst from $dir side failed"
		done
	done
	check_endpoints "ping-matrix (outer IPv$outer)" "$outer"
	pass "ping-matrix: outer IPv$outer, inner IPv4 and IPv6, both directions"
done

# ---- transfer-counters ----
# Both count every WireGuard message of the peer as whole UDP payloads (handshakes, data,
# keepalives); nothing is lost on these links, so each side's rx is the other's tx. Read again
# when a keepalive crossed between the two reads.
check_counters() {
	local check="$1" i gw_rx gw_tx wgo_rx wgo_tx
	sleep 1
	for i in 1 2 3 4 5; do
		read -r gw_rx gw_tx <<<"$(wg_field "$NS_GW" "$GW_IF" transfer "$WGO_PUB")"
		read -r wgo_rx wgo_tx <<<"$(wg_field "$NS_WG" "$WGO_IF" transfer "$GW_PUB")"
		if [ "${gw_rx:-x}" = "${wgo_tx:-y}" ] && [ "${gw_tx:-x}" = "${wgo_rx:-y}" ]; then
			pass "$check: gateway rx $gw_rx tx $gw_tx = wireguard-go tx $wgo_tx rx $wgo_rx"
			return 0
		fi
		log "$check: try $i: gateway rx ${gw_rx:-?} tx ${gw_tx:-?}," \
			"wireguard-go rx ${wgo_rx:-?} tx ${wgo_tx:-?}"
		sleep 1
	done
	fail "$check: gateway rx ${gw_rx:-?} tx ${gw_tx:-?} but wireguard-go tx ${wgo_tx:-?}" \
		"rx ${wgo_rx:-?} (want gateway rx = wireguard-go tx and gateway tx = wireguard-go rx)"
}
check_counters transfer-counters

# ---- iperf3-matrix ----
iperf_server "$NS_WG"
for outer in 6 4; do
	set_outer "$outer"
	for inner in 4 6; do
		lan_dst=$LAN_HOST4 wg_dst=$WGO_IN4
		[ "$inner" = 4 ] || lan_dst=$LAN_HOST6 wg_dst=$WGO_IN6
		what="outer IPv$outer, inner IPv$inner"
		out=$MG_STATE/iperf-o$outer-i$inner
		iperf_run "$NS_WG" "$lan_dst" "$out-tcp.json" -t 2 ||
			fail "iperf3-matrix: TCP wireguard-go -> LAN, $what"
		iperf_run "$NS_WG" "$lan_dst" "$out-tcp-r.json" -t 2 -R ||
			fail "iperf3-matrix: TCP LAN -> wireguard-go (-R), $what"
		iperf_run "$NS_LAN" "$wg_dst" "$out-udp.json" -u -b 20M -l 1200 -t 2 ||
			fail "iperf3-matrix: UDP LAN -> wireguard-go, $what"
		tcp=$(jq -r '.end.sum_received.bits_per_second / 1e6 | floor' "$out-tcp.json")
		tcpr=$(jq -r '.end.sum_received.bits_per_second / 1e6 | floor' "$out-tcp-r.json")
		read -r udp_pkts udp_lost <<<"$(jq -r '"\(.end.sum.packets) \(.end.sum.lost_packets)"' "$out-udp.json")"
		[ "$udp_lost" -lt "$udp_pkts" ] ||
			fail "iperf3-matrix: UDP $what: all $udp_pkts datagrams lost"
		pass "iperf3-matrix: $what: TCP $tcp Mbit/s, reverse $tcpr Mbit/s, UDP lost $udp_lost/$udp_pkts"
	done
	check_endpoints "iperf3-matrix (outer IPv$outer)" "$outer"
done

# ---- mtu ----
# mtu_check NS DST FAMILY MAX_PAYLOAD: MAX_PAYLOAD fits in 1420 with DF, one byte more is
# refused with the 1420 MTU named (the first time by the gateway's ICMP, then from the
# route's learned PMTU).
mtu_too_big() {
	local ns="$1" dst="$2" size="$3" out
	out=$(run_bounded 10 ip netns exec "$ns" ping -n -c 1 -W 2 -M "do" -s "$size" "$dst" 2>&1) || true
	printf '%s\n' "$out" | grep -Eq 'mtu ?= ?1420' || {
		printf '%s\n' "$out" >&2
		return 1
	}
}
ping_ok "$NS_LAN" "$WGO_IN4" 2 -M "do" -s 1392 ||
	fail "mtu: a 1420-byte IPv4 packet with DF from the LAN did not pass"
mtu_too_big "$NS_LAN" "$WGO_IN4" 1393 ||
	fail "mtu: a 1421-byte IPv4 packet with DF from the LAN did not get frag-needed (mtu 1420)"
ping_ok "$NS_LAN" "$WGO_IN6" 2 -M "do" -s 1372 ||
	fail "mtu: a 1420-byte IPv6 packet from the LAN did not pass"
mtu_too_big "$NS_LAN" "$WGO_IN6" 1373 ||
	fail "mtu: a 1421-byte IPv6 packet from the LAN did not get packet-too-big (mtu 1420)"
ping_ok "$NS_WG" "$LAN_HOST4" 2 -M "do" -s 1392 ||
	fail "mtu: a 1420-byte IPv4 packet from wireguard-go did not reach the LAN"
ping_ok "$NS_WG" "$LAN_HOST6" 2 -M "do" -s 1372 ||
	fail "mtu: a 1420-byte IPv6 packet from wireguard-go did not reach the LAN"
pass "mtu: 1420 passes both ways, 1421 gets frag-needed / packet-too-big with mtu 1420"

# ---- allowed-ips-filter ----
# Counting chains in the LAN namespace: packets that arrive from each source.
for t in iptables ip6tables; do
	ip netns exec "$NS_LAN" "$t" -N from_bad || fail "$t chain in $NS_LAN"
	ip netns exec "$NS_LAN" "$t" -N from_good || fail "$t chain in $NS_LAN"
done
ip netns exec "$NS_LAN" iptables -A INPUT -s "$WGO_BAD4" -j from_bad
ip netns exec "$NS_LAN" iptables -A INPUT -s "$WGO_IN4" -j from_good
ip netns exec "$NS_LAN" ip6tables -A INPUT -s "$WGO_BAD6" -j from_bad
ip netns exec "$NS_LAN" ip6tables -A INPUT -s "$WGO_IN6" -j from_good
# chain_count TOOL CHAIN: packets the INPUT rule jumping to CHAIN has matched.
chain_count() {
	ip netns exec "$NS_LAN" "$1" -L INPUT -n -v -x | awk -v c="$2" '$3 == c { n += $1 } END { print n + 0 }'
}
addr_add "$NS_WG" "$WGO_IF" "$WGO_BAD4/32"
addr_add "$NS_WG" "$WGO_IF" "$WGO_BAD6/128"
drops_before=$(gw_drop_count gw allowed_ips)
ping_fails "$NS_WG" "$LAN_HOST4" -I "$WGO_BAD4" ||
	fail "allowed-ips-filter: a ping from $WGO_BAD4 (outside wireguard-go's allowed IPs) was answered"
ping_fails "$NS_WG" "$LAN_HOST6" -I "$WGO_BAD6" ||
	fail "allowed-ips-filter: a ping from $WGO_BAD6 (outside wireguard-go's allowed IPs) was answered"
ping_ok "$NS_WG" "$LAN_HOST4" 2 -I "$WGO_IN4" ||
	fail "allowed-ips-filter: control ping from $WGO_IN4 failed"
ping_ok "$NS_WG" "$LAN_HOST6" 2 -I "$WGO_IN6" ||
	fail "allowed-ips-filter: control ping from $WGO_IN6 failed"
bad4=$(chain_count iptables from_bad) bad6=$(chain_count ip6tables from_bad)
good4=$(chain_count iptables from_good) good6=$(chain_count ip6tables from_good)
[ "$((bad4 + bad6))" -eq 0 ] ||
	fail "allowed-ips-filter: the LAN host received $bad4 IPv4 and $bad6 IPv6 packets from" \
		"sources outside wireguard-go's allowed IPs"
[ "$good4" -gt 0 ] || fail "allowed-ips-filter: the IPv4 counting rule saw no control packets"
[ "$good6" -gt 0 ] || fail "allowed-ips-filter: the IPv6 counting rule saw no control packets"
drops_after=$(gw_drop_count gw allowed_ips)
if [ -n "$drops_before" ] && [ -n "$drops_after" ]; then
	[ "$drops_after" -ge $((drops_before + 6)) ] ||
		fail "allowed-ips-filter: the gateway's allowed_ips drop counter went" \
			"$drops_before -> $drops_after for 6 filtered packets"
	drops_note="gateway allowed_ips drops $drops_before -> $drops_after"
else
	drops_note="gateway drop counters not readable"
fi
ip -n "$NS_WG" addr del "$WGO_BAD4/32" dev "$WGO_IF"
ip -n "$NS_WG" -6 addr del "$WGO_BAD6/128" dev "$WGO_IF"
pass "allowed-ips-filter: 0 packets from outside the allowed IPs delivered" \
	"($good4 + $good6 control packets were; $drops_note)"

# ---- roaming ----
ip -n "$NS_WG" addr del "$WGO_OUT4/24" dev wm0 || fail "roaming: removing $WGO_OUT4"
addr_add "$NS_WG" wm0 "$WGO_ROAM4/24"
wg_in "$NS_WG" set "$WGO_IF" listen-port "$WGO_ROAM_PORT" || fail "roaming: wg set listen-port"
WGO_ENDPOINT=$(endpoint "$WGO_ROAM4" "$WGO_ROAM_PORT")
ping_ok "$NS_WG" "$LAN_HOST4" 3 ||
	fail "roaming: ping from wireguard-go after the move to $WGO_ENDPOINT failed"
got=$(wg_field "$NS_GW" "$GW_IF" endpoints "$WGO_PUB")
[ "$got" = "$WGO_ENDPOINT" ] ||
	fail "roaming: the gateway's endpoint for wireguard-go is '$got', want $WGO_ENDPOINT"
ping_ok "$NS_LAN" "$WGO_IN4" 3 || fail "roaming: ping from the LAN after the move failed"
ping_ok "$NS_LAN" "$WGO_IN6" 3 || fail "roaming: IPv6 ping from the LAN after the move failed"
pass "roaming: traffic follows wireguard-go to $WGO_ENDPOINT"

# ---- private-key-change ----
OLD_GW_PUB=$GW_PUB
GW_PUB=$(gen_key gw2)
GW_KEYFILE=$MG_STATE/gw2.key
wg_in "$NS_GW" set "$GW_IF" private-key "$GW_KEYFILE" || fail "private-key-change: wg set private-key"
got=$(wg_in "$NS_GW" show "$GW_IF" public-key)
[ "$got" = "$GW_PUB" ] || fail "private-key-change: the gateway reports public key $got, want $GW_PUB"
ping_fails "$NS_LAN" "$WGO_IN4" ||
	fail "private-key-change: the LAN still reaches wireguard-go, which only knows the old key"
ping_fails "$NS_WG" "$LAN_HOST4" ||
	fail "private-key-change: wireguard-go still reaches the LAN with the gateway's old key"
wg_in "$NS_WG" set "$WGO_IF" peer "$OLD_GW_PUB" remove || fail "wg set peer remove"
wgo_set_gw_peer "$(endpoint "$GW_OUT4" "$GW_WG_PORT")"
ping_ok "$NS_WG" "$LAN_HOST4" 3 ||
	fail "private-key-change: no traffic after wireguard-go learned the new key"
ping_ok "$NS_LAN" "$WGO_IN4" 3 ||
	fail "private-key-change: no traffic from the LAN after wireguard-go learned the new key"
pass "private-key-change: traffic stopped with the old key and resumed with the new"

# ---- peer-remove ----
wg_in "$NS_GW" set "$GW_IF" peer "$WGO_PUB" remove || fail "peer-remove: wg set peer remove"
wg_in "$NS_GW" show "$GW_IF" peers | grep -qx -- "$WGO_PUB" &&
	fail "peer-remove: the gateway still lists the peer"
ping_fails "$NS_LAN" "$WGO_IN4" || fail "peer-remove: the LAN still reaches the removed peer"
ping_fails "$NS_WG" "$LAN_HOST4" || fail "peer-remove: the removed peer still reaches the LAN"
wg_in "$NS_GW" set "$GW_IF" peer "$WGO_PUB" allowed-ips "$WGO_ALLOWED" endpoint "$WGO_ENDPOINT" ||
	fail "peer-remove: wg set peer (add back)"
# The re-added peer has no keypair, so the LAN's ping makes the gateway initiate at once
# (wireguard-go would keep using its old session until its handshake timeout).
ping_ok "$NS_LAN" "$WGO_IN4" 3 || fail "peer-remove: no traffic after adding the peer back"
ping_ok "$NS_WG" "$LAN_HOST6" 3 || fail "peer-remove: no IPv6 traffic after adding the peer back"
pass "peer-remove: traffic stopped and came back when the peer was added again"

# ---- nat-keepalive ----
wg_in "$NS_NATWG" set "$NATWG_IF" peer "$GW_PUB" allowed-ips 10.10.0.0/24 \
	endpoint "$(endpoint "$GW_OUT4" "$GW_WG_PORT")" persistent-keepalive 1 ||
	fail "nat-keepalive: wg set peer on $NATWG_IF"
wait_handshake "$NS_GW" "$GW_IF" "$NATWG_PUB" 10
got=$(wg_field "$NS_GW" "$GW_IF" endpoints "$NATWG_PUB")
case "$got" in
"$NAT_OUT4":*) ;;
*) fail "nat-keepalive: the gateway's endpoint for the NATed peer is '$got', want $NAT_OUT4:<port>" ;;
esac
sleep 5
ping_ok "$NS_LAN" "$NATWG_IN4" 3 ||
	fail "nat-keepalive: after 5 s idle, the LAN could not reach the peer behind NAT ($got)"
# Control: without keepalives the mapping expires and the same ping is lost at the NAT.
wg_in "$NS_NATWG" set "$NATWG_IF" peer "$GW_PUB" persistent-keepalive 0 ||
	fail "nat-keepalive: turning keepalive off"
sleep 5
ping_fails "$NS_LAN" "$NATWG_IN4" ||
	fail "nat-keepalive (control): the NAT mapping survived 5 s without keepalives; the check proves nothing"
pass "nat-keepalive: keepalive 1 held the mapping ($got) across the 2 s conntrack timeout"

# ---- rekey ----
# The stream runs both ways (--bidir): with traffic coming back, the gateway's new-handshake
# timer (no reply within KEEPALIVE + REKEY_TIMEOUT) never fires, so the rekeys are the
# initiator's REKEY_AFTER_TIME ones (8 s with the divisor). The divisor is no larger because it
# divides REKEY_TIMEOUT too: at 30 (167 ms) a handshake whose round trip takes longer on a
# starved machine is superseded by its own retry again and again. Datagrams lost to CPU starvation
# (two cores shared by gateways, wireguard-go and whatever else the host runs) look the same to
# iperf3 as datagrams lost to a rekey. Most of them are counted by the kernel of the namespace
# that dropped them (a full socket buffer of iperf3 or wireguard-go: Udp RcvbufErrors), so only
# the loss those counters do not explain is charged to the gateway; it must be 0. A stream
# with loss charged to the gateway is run again, up to three times in all: a rekey that loses
# packets loses them every time. The gateway's drop counters that a rekey could raise (unknown_index, key_expired,
# auth, replay, staged_full) must not move at all when the health socket shows them.
REKEY_DROP_REASONS=(unknown_index key_expired auth replay staged_full)

# gw_rekey_drops: the sum of those counters, or "" when not readable.
gw_rekey_drops() {
	local r v sum=0
	for r in "${REKEY_DROP_REASONS[@]}"; do
		v=$(gw_drop_count gw "$r")
		[ -n "$v" ] || return 0
		sum=$((sum + v))
	done
	printf '%s' "$sum"
}

# udp_rcvbuf_errors NS: the namespace's Udp RcvbufErrors (IPv4 sockets: iperf3's and
# wireguard-go's here).
udp_rcvbuf_errors() {
	# shellcheck disable=SC2016 # awk's own fields
	ip netns exec "$1" awk '$1 == "Udp:" && $6 ~ /^[0-9]+$/ { print $6 }' /proc/net/snmp
}

# rekey_stream ATTEMPT: one 20 s stream; sets RK_CHANGES, RK_PKTS, RK_LOST, RK_RPKTS, RK_RLOST,
# RK_HOST_DROPS (datagrams the hosts' sockets dropped), RK_BY_GW, RK_BY_WGO and RK_DETAIL (when
# the handshakes changed, loss per second).
rekey_stream() {
	local out=$MG_STATE/iperf-rekey-$1.json start hs first="" at="" pid mark rb_lan rb_wg
	local -A seen=()
	mark=$(log_lines "$WGO_LOG")
	rb_lan=$(udp_rcvbuf_errors "$NS_LAN")
	rb_wg=$(udp_rcvbuf_errors "$NS_WG")
	spawn "$out" timeout 45 ip netns exec "$NS_LAN" \
		iperf3 -c "$WGO_IN4" -J -u -b 25M -l 1200 -t 20 --bidir --connect-timeout 5000
	pid=$MG_SPAWNED_PID
	start=$(date +%s%N)
	while kill -0 "$pid" 2>/dev/null && [ "$(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null)" != Z ]; do
		hs=$(wg_field "$NS_GW" "$GW_IF" latest-handshakes "$WGO_PUB") || hs=""
		if [ -n "$hs" ] && [ -z "${seen[$hs]:-}" ]; then
			seen[$hs]=1
			if [ -z "$first" ]; then
				first=$hs
			else
				at="$at $((($(date +%s%N) - start) / 100000000))"
			fi
		fi
		sleep 0.5
	done
	wait_pid "$pid" 5 "iperf3 (rekey)" || fail "rekey: iperf3 failed: $(tail -n 5 "$out")"
	read -r RK_PKTS RK_LOST RK_RPKTS RK_RLOST <<<"$(jq -r '"\(.end.sum.packets) \(.end.sum.lost_packets) \(.end.sum_bidir_reverse.packets) \(.end.sum_bidir_reverse.lost_packets)"' "$out")"
	RK_CHANGES=$((${#seen[@]} - 1))
	RK_HOST_DROPS=$(($(udp_rcvbuf_errors "$NS_LAN") - rb_lan + $(udp_rcvbuf_errors "$NS_WG") - rb_wg))
	RK_BY_GW=$(log_since "$WGO_LOG" "$mark" 'Received handshake initiation')
	RK_BY_WGO=$(log_since "$WGO_LOG" "$mark" 'Sending handshake initiation')
	RK_DETAIL="new handshakes seen at (tenths of s):${at:- none}; wireguard-go -> LAN loss per second:"
	RK_DETAIL+=" $(jq -r '[.intervals[].sum_bidir_reverse.lost_packets | tostring] | join(" ")' "$out")"
}

if gw_is_reference; then
	log "rekey: skipped for the reference gateway (test.timer_divisor is meshgate's)"
else
	gw_stop gw
	WGO_ENDPOINT=$(endpoint "$WGO_ROAM4" "$WGO_ROAM_PORT")
	write_gw_config "$(printf 'test:\n  timer_divisor: 15')"
	gw_start "$MG_STATE/gw.yaml"
	wgo_set_gw_peer "$(endpoint "$GW_OUT4" "$GW_WG_PORT")"
	# The gateway initiates, so its shortened REKEY_AFTER_TIME drives the rekeys.
	ping_ok "$NS_LAN" "$WGO_IN4" 2 || fail "rekey: no traffic after the restart with timer_divisor 15"
	for attempt in 1 2 3; do
		drops_before=$(gw_rekey_drops)
		rekey_stream "$attempt"
		drops_after=$(gw_rekey_drops)
		[ "$RK_CHANGES" -ge 2 ] ||
			fail "rekey: the gateway's latest handshake changed $RK_CHANGES times in 20 s (want >= 2; $RK_DETAIL)"
		[ "$((RK_PKTS > 0 && RK_RPKTS > 0))" -eq 1 ] ||
			fail "rekey: iperf3 sent no datagrams ($RK_PKTS, $RK_RPKTS)"
		if [ -n "$drops_before" ] && [ -n "$drops_after" ]; then
			[ "$drops_after" -eq "$drops_before" ] ||
				fail "rekey: the gateway dropped $((drops_after - drops_before)) packets for" \
					"${REKEY_DROP_REASONS[*]} during the stream ($RK_DETAIL)"
		fi
		summary="latest handshake changed $RK_CHANGES times ($RK_BY_GW initiations by the gateway,"
		summary+=" $RK_BY_WGO by wireguard-go); lost $RK_LOST of $RK_PKTS LAN -> wireguard-go and"
		summary+=" $RK_RLOST of $RK_RPKTS back; the hosts' sockets dropped $RK_HOST_DROPS"
		if [ "$((RK_LOST + RK_RLOST - RK_HOST_DROPS))" -le 0 ]; then
			pass "rekey: $summary"
			break
		fi
		log "rekey: attempt $attempt: $summary; $RK_DETAIL"
		[ "$attempt" -lt 3 ] || fail "rekey: datagrams lost beyond the hosts' socket drops in all 3 attempts;" \
			"the last: $summary ($RK_DETAIL)"
	done
fi

gw_alive gw
gw_stop gw
log "all gateway interop checks passed ($MESHGATE_IMPL)"
