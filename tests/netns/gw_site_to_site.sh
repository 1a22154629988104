#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Site to site: two meshgate gateways joined by one link, each with a LAN behind it.
#
#   lanA (10.1.0.2, fd01::2) ── gl0 [gwA] gm0 ════ gm0 [gwB] gl0 ── lanB (10.2.0.2, fd02::2)
#                 LAN 10.1.0.1, fd01::1   192.0.2.1      192.0.2.2   LAN 10.2.0.1, fd02::1
#                                         fd00:2::1      fd00:2::2
#
# Both ends of the middle link are gateway ports. Checks:
#   handshake   host A's ping makes gwA initiate; both gateways report the handshake
#   ping        A <-> B both ways, IPv4 and IPv6 inner, over IPv4 outer, then over IPv6 outer
#   counters    gwA rx == gwB tx and gwA tx == gwB rx, exactly, after the pings
#   iperf3      TCP A -> B and B -> A (-R), IPv4 and IPv6 inner, 3 s each, over both outers
#   endpoints   each gateway's `wg show endpoints` names the other's address in the outer family
#   stop        both gateways exit 0 on SIGTERM
#
# usage: gw_site_to_site.sh [PATH_TO_MESHGATE]  (or MESHGATE_BIN; MESHGATE_IMPL=wireguard-go for
# the reference run)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"
# shellcheck source=gw_lib.sh
source "$HERE/gw_lib.sh"

gw_require_common
require_commands iperf3 ss
gw_setup_binary "${1:-}"
mg_init

pass() {
	log "PASS: $*"
}

NS_LANA=$(ns_name lanA)
NS_LANB=$(ns_name lanB)
NS_GWA=$(ns_name gwA)
NS_GWB=$(ns_name gwB)
IF_A=$(if_name mga)
IF_B=$(if_name mgb)
HOST_A4=10.1.0.2 HOST_A6=fd01::2
HOST_B4=10.2.0.2 HOST_B6=fd02::2
OUT_A4=192.0.2.1 OUT_A6=fd00:2::1
OUT_B4=192.0.2.2 OUT_B6=fd00:2::2
PORT=51820

log "namespaces mg-$MG_ID-{lanA,gwA,gwB,lanB}; gateways $IF_A, $IF_B"
ns_add "$NS_LANA" "$NS_LANB"
gw_ns_add "$NS_GWA"
gw_ns_add "$NS_GWB"
gw_port_link "$NS_GWA" gl0 "$NS_LANA" lan0
gw_port_link "$NS_GWB" gl0 "$NS_LANB" lan0
# Both ends of the middle link are gateway ports.
veth_pair "$NS_GWA" gm0 "$NS_GWB" gm0
if ! gw_is_reference; then
	ns_sysctl "$NS_GWA" net.ipv6.conf.gm0.disable_ipv6=1
	ns_sysctl "$NS_GWB" net.ipv6.conf.gm0.disable_ipv6=1
fi

addr_add "$NS_LANA" lan0 "$HOST_A4/24"
addr_add "$NS_LANA" lan0 "$HOST_A6/64"
ip -n "$NS_LANA" route add default via 10.1.0.1 || fail "default route in lanA"
ip -n "$NS_LANA" -6 route add default via fd01::1 || fail "IPv6 default route in lanA"
addr_add "$NS_LANB" lan0 "$HOST_B4/24"
addr_add "$NS_LANB" lan0 "$HOST_B6/64"
ip -n "$NS_LANB" route add default via 10.2.0.1 || fail "default route in lanB"
ip -n "$NS_LANB" -6 route add default via fd02::1 || fail "IPv6 default route in lanB"

PUB_A=$(gen_key gwA)
PUB_B=$(gen_key gwB)

gw_reset_vars
GW_NAME=gwA GW_NS=$NS_GWA GW_IFNAME=$IF_A GW_KEY=$MG_STATE/gwA.key GW_PORT=$PORT
GW_LAN_IF=gl0 GW_LAN4=10.1.0.1/24 GW_LAN6=fd01::1/64
GW_MESH_IF=gm0 GW_MESH4=$OUT_A4/24 GW_MESH6=$OUT_A6/64
GW_PEERS=("$PUB_B|10.2.0.0/24,fd02::/64|$(endpoint "$OUT_B4" "$PORT")|")
gw_write_config "$MG_STATE/gwA.yaml"

gw_reset_vars
GW_NAME=gwB GW_NS=$NS_GWB GW_IFNAME=$IF_B GW_KEY=$MG_STATE/gwB.key GW_PORT=$PORT
GW_LAN_IF=gl0 GW_LAN4=10.2.0.1/24 GW_LAN6=fd02::1/64
GW_MESH_IF=gm0 GW_MESH4=$OUT_B4/24 GW_MESH6=$OUT_B6/64
GW_PEERS=("$PUB_A|10.1.0.0/24,fd01::/64|$(endpoint "$OUT_A4" "$PORT")|")
gw_write_config "$MG_STATE/gwB.yaml"

gw_start "$MG_STATE/gwA.yaml"
gw_start "$MG_STATE/gwB.yaml"
iperf_server "$NS_LANB"

# ---- handshake ----
ping_ok "$NS_LANA" "$HOST_B4" 3 || fail "handshake: host A could not ping host B ($HOST_B4)"
wait_handshake "$NS_GWA" "$IF_A" "$PUB_B" 5
wait_handshake "$NS_GWB" "$IF_B" "$PUB_A" 5
pass "handshake: both gateways report it"

# set_outer 4|6: each gateway's endpoint for the other in that family.
set_outer() {
	local a=$OUT_A4 b=$OUT_B4
	[ "$1" = 4 ] || a=$OUT_A6 b=$OUT_B6
	EP_A=$(endpoint "$a" "$PORT") EP_B=$(endpoint "$b" "$PORT")
	wg_in "$NS_GWA" set "$IF_A" peer "$PUB_B" endpoint "$EP_B" || fail "wg set endpoint on gwA"
	wg_in "$NS_GWB" set "$IF_B" peer "$PUB_A" endpoint "$EP_A" || fail "wg set endpoint on gwB"
}

check_endpoints() {
	local got_a got_b
	got_a=$(wg_field "$NS_GWA" "$IF_A" endpoints "$PUB_B")
	got_b=$(wg_field "$NS_GWB" "$IF_B" endpoints "$PUB_A")
	[ "$got_a" = "$EP_B" ] || fail "$1: gwA's endpoint for gwB is '$got_a', want $EP_B"
	[ "$got_b" = "$EP_A" ] || fail "$1: gwB's endpoint for gwA is '$got_b', want $EP_A"
}

ping_all() {
	local what="$1" src dst d
	for src in A B; do
		for dst in 4 6; do
			if [ "$src" = A ]; then
				[ "$dst" = 4 ] && d=$HOST_B4 || d=$HOST_B6
				ping_ok "$NS_LANA" "$d" 3 || fail "ping: $what: host A -> $d failed"
			else
				[ "$dst" = 4 ] && d=$HOST_A4 || d=$HOST_A6
				ping_ok "$NS_LANB" "$d" 3 || fail "ping: $what: host B -> $d failed"
			fi
		done
	done
	pass "ping: $what: both ways, IPv4 and IPv6 inner"
}

# ---- ping over both outers, then the counters ----
set_outer 4
ping_all "outer IPv4"
check_endpoints "endpoints (outer IPv4)"
set_outer 6
ping_all "outer IPv6"
check_endpoints "endpoints (outer IPv6)"

sleep 1
for try in 1 2 3 4 5; do
	read -r a_rx a_tx <<<"$(wg_field "$NS_GWA" "$IF_A" transfer "$PUB_B")"
	read -r b_rx b_tx <<<"$(wg_field "$NS_GWB" "$IF_B" transfer "$PUB_A")"
	[ "${a_rx:-x}" = "${b_tx:-y}" ] && [ "${a_tx:-x}" = "${b_rx:-y}" ] && break
	log "counters: try $try: gwA rx ${a_rx:-?} tx ${a_tx:-?}, gwB rx ${b_rx:-?} tx ${b_tx:-?}"
	[ "$try" -lt 5 ] || fail "counters: gwA rx ${a_rx:-?} tx ${a_tx:-?} but gwB tx ${b_tx:-?} rx ${b_rx:-?}"
	sleep 1
done
pass "counters: gwA rx $a_rx = gwB tx, gwA tx $a_tx = gwB rx"

# ---- iperf3 over both outers ----
for outer in 6 4; do
	set_outer "$outer"
	for inner in 4 6; do
		dst=$HOST_B4
		[ "$inner" = 4 ] || dst=$HOST_B6
		out=$MG_STATE/iperf-o$outer-i$inner
		iperf_run "$NS_LANA" "$dst" "$out-ab.json" -t 3 ||
			fail "iperf3: TCP A -> B, outer IPv$outer, inner IPv$inner"
		iperf_run "$NS_LANA" "$dst" "$out-ba.json" -t 3 -R ||
			fail "iperf3: TCP B -> A, outer IPv$outer, inner IPv$inner"
		ab=$(jq -r '.end.sum_received.bits_per_second / 1e6 | floor' "$out-ab.json")
		ba=$(jq -r '.end.sum_received.bits_per_second / 1e6 | floor' "$out-ba.json")
		retr=$(jq -r '.end.sum_sent.retransmits // 0' "$out-ab.json")
		pass "iperf3: outer IPv$outer, inner IPv$inner: A -> B $ab Mbit/s ($retr retransmits), B -> A $ba Mbit/s"
	done
	check_endpoints "endpoints after iperf3 (outer IPv$outer)"
done

gw_alive gwA
gw_alive gwB
gw_stop gwA
gw_stop gwB
log "all site-to-site checks passed ($MESHGATE_IMPL)"
