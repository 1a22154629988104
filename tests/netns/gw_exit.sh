#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The gateway as an exit node (issue 13): a stock wireguard-go host sends everything (AllowedIPs
# 0.0.0.0/0, ::/0) to meshgate, which translates it to its mesh-port address (the uplink, as on a
# cloud VM with one interface) and sends it to a router in front of the "internet".
#
#   host: wireguard-go (outer 192.0.2.2, inner 10.20.0.2, fd20::2; default routes into the tunnel)
#     ── br0 in "net" (192.0.2.0/24, fd00:2::/64) ── gm0 [meshgate] gl0 ── lan (unused)
#                                                    mesh 192.0.2.1, fd00:2::1
#     ── rt0 router 192.0.2.254, fd00:2::fe ── 198.51.100.0/24, 2001:db8:100::/64 ── inet
#   inet: server 198.51.100.10, 2001:db8:100::10, recording every source it sees
#
# The router has no route back to the host's inner addresses: only translated traffic returns.
#
# Checks:
#   reach         ping, TCP and UDP to the server, IPv4 and IPv6; the server saw only the uplink
#                 addresses
#   ttl-exceeded  a UDP probe with TTL 2 (the router is the second hop) and a ping with TTL 2:
#                 the router's time-exceeded reaches the host, matched to its own socket
#   flows-10k     10,000 concurrent UDP flows, every reply delivered to its own socket, and the
#                 server saw 10,000 distinct uplink ports
#   exhaustion    with a port range of 10 and a 4 s UDP timeout: 10 flows held open keep working
#                 while an 11th gets nothing and is counted (nat_no_port); after the timeout a new
#                 flow works
#
# usage: gw_exit.sh [PATH_TO_MESHGATE]
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"
# shellcheck source=gw_lib.sh
source "$HERE/gw_lib.sh"

gw_require_common
require_commands curl
gw_is_reference && skip "the exit node is meshgate's own feature"
gw_setup_binary "${1:-}"
mg_init

pass() {
	log "PASS: $*"
}

TOOL=$HERE/exit_tool.py
NS_LAN=$(ns_name lan)
NS_GW=$(ns_name gw)
NS_NET=$(ns_name net)
NS_HOST=$(ns_name host)
NS_RTR=$(ns_name rtr)
NS_INET=$(ns_name inet)
GW_IF=$(if_name mg)
WGO_IF=$(if_name wgo)

GW_OUT4=192.0.2.1 GW_OUT6=fd00:2::1
RTR4=192.0.2.254 RTR6=fd00:2::fe
SRV4=198.51.100.10 SRV6=2001:db8:100::10
HOST_IN4=10.20.0.2 HOST_IN6=fd20::2
SRV_PORT=7000

log "namespaces mg-$MG_ID-{lan,gw,net,host,rtr,inet}; gateway $GW_IF; wireguard-go $WGO_IF"
ns_add "$NS_LAN" "$NS_HOST" "$NS_RTR" "$NS_INET"
gw_ns_add "$NS_GW"
bridge_ns_add "$NS_NET"

gw_port_link "$NS_GW" gl0 "$NS_LAN" lan0
gw_port_link "$NS_GW" gm0 "$NS_NET" pgw
bridge_attach "$NS_NET" pgw
veth_pair "$NS_HOST" wm0 "$NS_NET" phost
no_tx_offload "$NS_HOST" wm0
bridge_attach "$NS_NET" phost
veth_pair "$NS_RTR" rt0 "$NS_NET" prtr
no_tx_offload "$NS_RTR" rt0
bridge_attach "$NS_NET" prtr
host_link "$NS_RTR" ri0 "$NS_INET" in0

# The router: forwarding on, and nothing that would let untranslated traffic back.
ns_sysctl "$NS_RTR" net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
	net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
	net.ipv4.icmp_ratelimit=0 net.ipv6.icmp.ratelimit=0
addr_add "$NS_RTR" rt0 "$RTR4/24"
addr_add "$NS_RTR" rt0 "$RTR6/64"
addr_add "$NS_RTR" ri0 198.51.100.1/24
addr_add "$NS_RTR" ri0 2001:db8:100::1/64
addr_add "$NS_INET" in0 "$SRV4/24"
addr_add "$NS_INET" in0 "$SRV6/64"
ip -n "$NS_INET" route add default via 198.51.100.1 || fail "inet default route"
ip -n "$NS_INET" -6 route add default via 2001:db8:100::1 || fail "inet default route (IPv6)"
addr_add "$NS_HOST" wm0 192.0.2.2/24
addr_add "$NS_LAN" lan0 10.10.0.2/24

GW_PUB=$(gen_key gw)
HOST_PUB=$(gen_key host)

# write_gw_config PORT_RANGE UDP_TIMEOUT
write_gw_config() {
	gw_reset_vars
	GW_NAME=gw GW_NS=$NS_GW GW_IFNAME=$GW_IF GW_KEY=$MG_STATE/gw.key GW_PORT=51820
	GW_LAN_IF=gl0 GW_LAN4=10.10.0.1/24
	GW_MESH_IF=gm0 GW_MESH4=$GW_OUT4/24 GW_MESH6=$GW_OUT6/64
	GW_MESH_GW4=$RTR4 GW_MESH_GW6=$RTR6
	GW_PEERS=("$HOST_PUB|$HOST_IN4/32,$HOST_IN6/128||")
	GW_EXTRA="exit:
  uplink: mesh
  port_range: $1
  max_flows: 32768
  timeouts: { udp: $2 }"
	gw_write_config "$MG_STATE/gw.yaml"
}

# ---- the host: wireguard-go with everything routed into the tunnel ----
LOG_LEVEL=verbose wg_go_start "$NS_HOST" "$WGO_IF" "$MG_STATE/wireguard-go.log"
wg_in "$NS_HOST" set "$WGO_IF" private-key "$MG_STATE/host.key" listen-port 40000 \
	peer "$GW_PUB" allowed-ips 0.0.0.0/0,::/0 endpoint "$GW_OUT4:51820" ||
	fail "wg set on $WGO_IF"
addr_add "$NS_HOST" "$WGO_IF" "$HOST_IN4/32"
addr_add "$NS_HOST" "$WGO_IF" "$HOST_IN6/128"
ip -n "$NS_HOST" link set "$WGO_IF" mtu 1420 up || fail "link up $WGO_IF"
# The outer path to the gateway stays on wm0 (its connected /24 is more specific).
ip -n "$NS_HOST" route add default dev "$WGO_IF" || fail "default route into the tunnel"
ip -n "$NS_HOST" -6 route add default dev "$WGO_IF" || fail "IPv6 default route into the tunnel"

# ---- the server ----
SRV_LOG=$MG_STATE/server-sources.log
spawn "$MG_STATE/server.log" ip netns exec "$NS_INET" python3 "$TOOL" server "$SRV_LOG" "$SRV_PORT"
wait_for 10 "the server" sh -c "ip netns exec '$NS_INET' ss -Hltn 'sport = :$SRV_PORT' | grep -q LISTEN"

write_gw_config 20000-39999 300
gw_check() {
	run_bounded 10 ip netns exec "$NS_GW" "$GW_BIN" --check-config "$MG_STATE/gw.yaml" >/dev/null ||
		fail "--check-config refuses the generated config"
}
gw_check
gw_start "$MG_STATE/gw.yaml"

host() {
	run_bounded "$1" ip netns exec "$NS_HOST" "${@:2}"
}

# ---- reach ----
ping_ok "$NS_HOST" "$SRV4" 3 || fail "ping $SRV4 through the exit node"
ping_ok "$NS_HOST" "$SRV6" 3 || fail "ping $SRV6 through the exit node"
for dst in "$SRV4" "$SRV6"; do
	host 15 python3 "$TOOL" tcp "$dst" "$SRV_PORT" || fail "TCP to $dst through the exit node"
	host 15 python3 "$TOOL" udp "$dst" "$SRV_PORT" || fail "UDP to $dst through the exit node"
done
others=$(awk -v a="$GW_OUT4" -v b="$GW_OUT6" '$2 != a && $2 != b' "$SRV_LOG")
[ -z "$others" ] || fail "the server saw sources other than the uplink's: $others"
grep -q "^tcp $GW_OUT4 " "$SRV_LOG" && grep -q "^udp $GW_OUT6 " "$SRV_LOG" ||
	fail "the server did not record the translated flows: $(cat "$SRV_LOG")"
pass "reach: ping, TCP and UDP over IPv4 and IPv6, the server sees only $GW_OUT4 and $GW_OUT6"

# ---- ttl-exceeded ----
for dst in "$SRV4" "$SRV6"; do
	got=$(host 15 python3 "$TOOL" ttl "$dst" 33434 2) || fail "no time-exceeded for a TTL-2 probe to $dst"
	want_type=11
	want_from=$RTR4
	case "$dst" in *:*) want_type=3 want_from=$RTR6 ;; esac
	[ "$got" = "$want_from $want_type" ] ||
		fail "TTL-2 UDP probe to $dst: expected time exceeded from $want_from, got '$got'"
done
out=$(host 15 ping -n -c 1 -t 2 -W 3 "$SRV4" 2>&1 || true)
grep -q "From $RTR4.*[Tt]ime to live exceeded" <<<"$out" ||
	fail "ping -t 2: no time exceeded from the router: $out"
pass "ttl-exceeded: the router's errors reach the host translated (UDP and ICMP echo quoted)"

# ---- flows-10k ----
: >"$SRV_LOG"
out=$(host 120 python3 "$TOOL" flows "$SRV4" "$SRV_PORT" 10000 90) ||
	fail "10,000 UDP flows: $out"
ports=$(awk -v a="$GW_OUT4" '$1 == "udp" && $2 == a { print $3 }' "$SRV_LOG" | sort -u | wc -l)
others=$(awk -v a="$GW_OUT4" '$2 != a' "$SRV_LOG" | head -n 3)
[ -z "$others" ] || fail "10,000 flows: the server saw other sources: $others"
[ "$ports" -eq 10000 ] || fail "10,000 flows: the server saw $ports distinct uplink ports"
pass "flows-10k: $out; 10,000 distinct uplink ports"

# ---- metrics: the health socket and meshctl show the flows ----
udp_flows=$(gw_health gw | jq -r '.nat.flows.udp // empty')
[ -n "$udp_flows" ] && [ "$udp_flows" -ge 10000 ] ||
	fail "health: nat.flows.udp is '$udp_flows', expected at least 10000"
MESHCTL=${MESHCTL_BIN:-$(dirname "$GW_BIN")/../cli/meshctl}
if [ -x "$MESHCTL" ]; then
	out=$(run_bounded 10 "$MESHCTL" -s "$MG_STATE/gw.health" status) || fail "meshctl status"
	grep -q "^exit nat: *flows tcp [0-9]*, udp $udp_flows" <<<"$out" ||
		grep -q "^exit nat: *flows" <<<"$out" || fail "meshctl status shows no NAT line: $out"
fi
# Read whole before grep: grep -q stopping early would fail curl (and the pipe) with SIGPIPE.
metrics=$(run_bounded 5 curl -sf --unix-socket "$MG_STATE/gw.health" http://localhost/metrics) ||
	fail "GET /metrics"
grep -q '^meshgate_nat_flows{proto="udp"}' <<<"$metrics" || fail "no meshgate_nat_flows in the metrics"
pass "metrics: $udp_flows UDP mappings in use, shown by meshctl and /metrics"

# ---- exhaustion ----
gw_stop gw
write_gw_config 20000-20009 4
gw_check
gw_start "$MG_STATE/gw.yaml"
# The restarted gateway forgot the session: make wireguard-go forget it too, so it handshakes
# at once instead of after its keepalive timeout.
add_gw_peer() {
	wg_in "$NS_HOST" set "$WGO_IF" peer "$GW_PUB" allowed-ips 0.0.0.0/0,::/0 \
		endpoint "$GW_OUT4:51820" || fail "wg set peer on $WGO_IF"
}
wg_in "$NS_HOST" set "$WGO_IF" peer "$GW_PUB" remove || fail "removing the gateway peer"
add_gw_peer
ping_ok "$NS_HOST" "$SRV4" 2 || fail "ping after the restart"
spawn "$MG_STATE/hold.log" ip netns exec "$NS_HOST" python3 "$TOOL" hold "$SRV4" "$SRV_PORT" 10 10
HOLD_PID=$MG_SPAWNED_PID
sleep 3
if host 15 python3 "$TOOL" udp "$SRV4" "$SRV_PORT" 2>/dev/null; then
	fail "an 11th UDP flow got through a range of 10 ports"
fi
drops=$(gw_drop_count gw nat_no_port)
[ -n "$drops" ] && [ "$drops" -gt 0 ] || fail "the 11th flow was not counted (nat_no_port '$drops')"
wait_pid "$HOLD_PID" 30 "the held flows" || fail "the held flows failed"
failed=$(tail -n 1 "$MG_STATE/hold.log")
[ "$failed" = 0 ] || fail "held flows lost $failed exchanges while the range was exhausted"
sleep 6
host 15 python3 "$TOOL" udp "$SRV4" "$SRV_PORT" || fail "a new flow after the timeouts"
pass "exhaustion: 10 held flows kept working, the 11th was dropped ($drops counted), new flows work after the timeout"

gw_alive gw
gw_stop gw
log "all exit-node checks passed"
