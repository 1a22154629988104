#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Interop of the protocol core (wg/, driven by wg_udp_peer over a plain UDP socket) with stock
# wireguard-go configured by stock wg. Two namespaces joined by a veth pair:
#
#   mg-<pid>-wg:   wireguard-go on <ifname> (10.77.0.1/24, fd77::1/64), veth 192.0.2.1 fd00:0:2::1
#   mg-<pid>-tool: wg_udp_peer (overlay 10.77.0.2 / fd77::2),        veth 192.0.2.2 fd00:0:2::2
#
# Cases, over IPv4 outer with IPv4 inner and over IPv6 outer with IPv6 inner:
#   initiate: the tool initiates and pings wireguard-go's overlay address; every reply decrypts.
#   respond:  ping in wireguard-go's namespace makes wireguard-go initiate; the tool answers.
#   respond, keepalive first: turning on persistent keepalive makes wireguard-go initiate and
#             send a keepalive, which must confirm the tool's new keypair; then ping as above.
# After each, wg show reports the handshake, and its transfer counters equal the tool's own UDP
# byte counts exactly (see check_counters for why that is the relation).
#
# usage: wg_interop.sh PATH_TO_WG_UDP_PEER
set -euo pipefail

TOOL=${1:-}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"

[ -n "$TOOL" ] || fail "usage: wg_interop.sh PATH_TO_WG_UDP_PEER"
require_root
require_commands wireguard-go wg ip ping jq timeout setsid
[ -x "$TOOL" ] || fail "wg_udp_peer not executable: $TOOL"
mg_init

COUNT=3
WG_PORT=51820
TOOL_PORT=40001
WG_IN4=10.77.0.1 TOOL_IN4=10.77.0.2
WG_IN6=fd77::1 TOOL_IN6=fd77::2
WG_OUT4=192.0.2.1 TOOL_OUT4=192.0.2.2
WG_OUT6=fd00:0:2::1 TOOL_OUT6=fd00:0:2::2

NS_WG=$(ns_name wg)
NS_TOOL=$(ns_name tool)
WG_IF=$(if_name mgwg)

wgc() {
	run_bounded 10 ip netns exec "$NS_WG" wg "$@"
}

# endpoint ADDR PORT: HOST:PORT with brackets for IPv6.
endpoint() {
	case "$1" in
	*:*) printf '[%s]:%s' "$1" "$2" ;;
	*) printf '%s:%s' "$1" "$2" ;;
	esac
}

log "namespaces $NS_WG and $NS_TOOL, wireguard-go interface $WG_IF"
ns_add "$NS_WG" "$NS_TOOL"
veth_pair "$NS_WG" veth0 "$NS_TOOL" veth0
addr_add "$NS_WG" veth0 "$WG_OUT4/24"
addr_add "$NS_TOOL" veth0 "$TOOL_OUT4/24"
addr_add "$NS_WG" veth0 "$WG_OUT6/64"
addr_add "$NS_TOOL" veth0 "$TOOL_OUT6/64"

umask 077
wg genkey >"$MG_STATE/wg.key"
wg genkey >"$MG_STATE/tool.key"
WG_PUB=$(wg pubkey <"$MG_STATE/wg.key")
TOOL_PUB=$(wg pubkey <"$MG_STATE/tool.key")

wg_go_start "$NS_WG" "$WG_IF" "$MG_STATE/wireguard-go.log"
wgc set "$WG_IF" private-key "$MG_STATE/wg.key" listen-port "$WG_PORT" ||
	fail "wg set private-key/listen-port on $WG_IF"
addr_add "$NS_WG" "$WG_IF" "$WG_IN4/24"
addr_add "$NS_WG" "$WG_IF" "$WG_IN6/64"
ip -n "$NS_WG" link set "$WG_IF" up || fail "link up $WG_IF"

# The peer is removed and added again before each case: no keypair survives from the previous
# case (the new tool process knows none) and the transfer counters start from zero.
reset_peer() {
	local tool_outer="$1"
	wgc set "$WG_IF" peer "$TOOL_PUB" remove || fail "wg set peer remove"
	wgc set "$WG_IF" peer "$TOOL_PUB" allowed-ips "$TOOL_IN4/32,$TOOL_IN6/128" \
		endpoint "$(endpoint "$tool_outer" "$TOOL_PORT")" || fail "wg set peer"
}

# wg_peer_field FIELD: the values after the tool's key in `wg show <if> FIELD`.
wg_peer_field() {
	wgc show "$WG_IF" "$1" | awk -v k="$TOOL_PUB" '$1 == k { $1 = ""; print substr($0, 2) }'
}

stat_of() {
	jq -er ".$2" "$1" || fail "no $2 in $1"
}

# check_counters CASE STATS MODE KEEPALIVES
#
# wireguard-go (device/peer.go SendBuffer, device/receive.go) adds to tx_bytes the length of
# every UDP payload it sends to the peer (handshake initiations and responses, transport
# messages, keepalives), and to rx_bytes the length of every handshake message it accepted from
# the peer plus, for transport messages, the decrypted padded plaintext + 32 (header and tag):
# again the whole UDP payload. Cookie replies it sends bypass the peer and are not counted;
# there are none here (it is not under load). So with nothing lost on the veth and the tool
# sending only messages wireguard-go accepts: wg rx_bytes = tool tx bytes, wg tx_bytes = tool rx.
check_counters() {
	local name="$1" stats="$2" mode="$3" keepalives="$4" hs rx tx tool_tx tool_rx
	hs=$(wg_peer_field latest-handshakes)
	[ -n "$hs" ] || fail "$name: wg show lists no peer $TOOL_PUB"
	[ "$hs" -gt 0 ] || fail "$name: wg show latest-handshakes is $hs for the tool's key"
	read -r rx tx <<<"$(wg_peer_field transfer)"
	tool_tx=$(stat_of "$stats" udp_tx_bytes)
	tool_rx=$(stat_of "$stats" udp_rx_bytes)
	log "$name: wg show: handshake at $hs, rx $rx tx $tx; tool: tx $tool_tx rx $tool_rx"
	[ "$rx" -eq "$tool_tx" ] ||
		fail "$name: wireguard-go received $rx bytes but the tool sent $tool_tx"
	[ "$tx" -eq "$tool_rx" ] ||
		fail "$name: wireguard-go sent $tx bytes but the tool received $tool_rx"
	[ "$(stat_of "$stats" handshakes_completed)" -eq 1 ] ||
		fail "$name: tool completed $(stat_of "$stats" handshakes_completed) handshakes, want 1"
	[ "$(stat_of "$stats" dropped)" -eq 0 ] ||
		fail "$name: tool dropped $(stat_of "$stats" dropped) messages"
	[ "$(stat_of "$stats" keepalives_received)" -eq "$keepalives" ] ||
		fail "$name: tool received $(stat_of "$stats" keepalives_received) keepalives," \
			"want $keepalives"
	if [ "$mode" = initiate ]; then
		[ "$(stat_of "$stats" echo_replies_received)" -eq "$COUNT" ] ||
			fail "$name: tool counted $(stat_of "$stats" echo_replies_received) replies"
	else
		[ "$(stat_of "$stats" echo_replies_sent)" -eq "$COUNT" ] ||
			fail "$name: tool answered $(stat_of "$stats" echo_replies_sent) requests"
	fi
}

# run_case NAME MODE OUTER_FAMILY INNER_FAMILY [keepalive-first]
run_case() {
	local name="$1" mode="$2" keepalive_first="${5:-}" keepalives=0 pid
	local log="$MG_STATE/$name.tool.log" stats="$MG_STATE/$name.stats.json"
	local wg_out=$WG_OUT4 tool_out=$TOOL_OUT4 wg_in=$WG_IN4 tool_in=$TOOL_IN4
	[ "$3" = 4 ] || wg_out=$WG_OUT6 tool_out=$TOOL_OUT6
	[ "$4" = 4 ] || wg_in=$WG_IN6 tool_in=$TOOL_IN6
	log "case $name: tool ${mode}s, outer IPv$3, inner IPv$4"
	reset_peer "$tool_out"
	local args=(--private-key "$MG_STATE/tool.key" --listen-port "$TOOL_PORT"
		--peer-public-key "$WG_PUB" --inner-address "$tool_in" --mode "$mode"
		--count "$COUNT" --timeout 30 --stats "$stats")
	if [ "$mode" = initiate ]; then
		spawn "$log" ip netns exec "$NS_TOOL" "$TOOL" "${args[@]}" \
			--peer-endpoint "$(endpoint "$wg_out" "$WG_PORT")" --ping "$wg_in"
		pid=$MG_SPAWNED_PID
		wait_pid "$pid" 40 "wg_udp_peer ($name)" || fail "$name: wg_udp_peer failed"
		[ "$(grep -c "bytes from $wg_in: icmp_seq=" "$log")" -eq "$COUNT" ] ||
			fail "$name: the tool did not print $COUNT echo replies"
	else
		spawn "$log" ip netns exec "$NS_TOOL" "$TOOL" "${args[@]}"
		pid=$MG_SPAWNED_PID
		wait_for 10 "wg_udp_peer listening ($name)" grep -q '^listening on' "$log"
		if [ -n "$keepalive_first" ]; then
			# wireguard-go sends a keepalive at once when persistent keepalive is turned on;
			# it has no keypair, so it initiates and sends the keepalive after the response.
			# Turned off again afterwards so no timer adds packets the counters do not expect.
			wgc set "$WG_IF" peer "$TOOL_PUB" persistent-keepalive 25 ||
				fail "wg set persistent-keepalive"
			wait_for 10 "a keepalive at wg_udp_peer ($name)" \
				grep -q '^received keepalive' "$log"
			grep -q '^handshake complete (responder' "$log" ||
				fail "$name: the keepalive did not confirm the handshake"
			wgc set "$WG_IF" peer "$TOOL_PUB" persistent-keepalive off ||
				fail "wg set persistent-keepalive off"
			keepalives=1
		fi
		run_bounded 30 ip netns exec "$NS_WG" ping -c "$COUNT" -i 0.2 -W 5 -w 25 "$tool_in" \
			>"$MG_STATE/$name.ping.log" 2>&1 ||
			fail "$name: ping from wireguard-go's namespace failed:" \
				"$(cat "$MG_STATE/$name.ping.log")"
		cat "$MG_STATE/$name.ping.log"
		wait_pid "$pid" 40 "wg_udp_peer ($name)" || fail "$name: wg_udp_peer failed"
	fi
	cat "$log"
	check_counters "$name" "$stats" "$mode" "$keepalives"
	log "case $name: ok"
}

run_case v4-initiate initiate 4 4
run_case v4-respond respond 4 4
run_case v6-initiate initiate 6 6
run_case v6-respond respond 6 6
run_case v4-respond-keepalive respond 4 4 keepalive-first
log "all cases passed"
