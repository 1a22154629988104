#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# e2e: choosing and using an exit node (issue 13). The demo topology, plus a router on the wan
# (192.0.2.254, fd00:2::fe) in front of an "internet" (10.200.0.0/24, 2001:db8:200::/64) whose
# server records every source address it sees. gwA is the datacenter exit node (NAT to its mesh
# port, its uplink); gwB is a branch that sends its LAN's internet traffic through gwA.
#
#   host   (user ops, exit_node: gwA)            wan .30, default route via the router
#   host2  (user ops, no exit node)              wan .31, default route via the router
#   host3  (user carol, exit_node: gwA, denied)  wan .32, default route via the router
#
# Policy: every node sees every node; only ops and tag:site-b may reach autogroup:internet.
# Checks:
#   chosen    host gets gwA's 0.0.0.0/0 and ::/0, policy routing is in place (rule, table 52820)
#             and ping, TCP and UDP over IPv4 and IPv6 reach the server, which sees only gwA's
#             uplink addresses; the coordinator (on the host's LAN, allow_lan_access off) and
#             gwA's endpoint do not loop: the map stream keeps working and so does WireGuard
#   not chosen  host2 has no /0 and reaches the server from its own address
#   denied    host3 chose gwA but gets no /0, keeps its own route (the server sees its address)
#             and when it forces packets into gwA anyway, gwA's filter drops and counts them
#   branch    LAN B's host reaches the server over IPv4 and IPv6 through gwB and gwA; the server
#             sees gwA's uplink, not gwB
#   cleared   the policy withdraws ops' grant: host's /0, rules and table route go, the server
#             sees the host's own address; granted again, they come back
#   lan       allow_lan_access off: a LAN host is reached through gwA too; the agent stops with
#             the exit node in use and nothing of it is left; restarted with allow_lan_access
#             on, the LAN is reached directly while the internet still goes through gwA
#
# usage: test_exit.sh [meshgate=PATH] [coord=PATH] [meshctl=PATH] [agent=PATH] [build=DIR]
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=topology.sh
source "$HERE/topology.sh"

topo_require
topo_binaries "$@"
gw_is_reference && skip "the exit node is meshgate's own feature"
mg_init

TOOL=$TOPO_ROOT/tests/netns/exit_tool.py
RTR4=192.0.2.254 RTR6=fd00:2::fe GWA_MESH6=fd00:2::1
SRV4=10.200.0.10 SRV6=2001:db8:200::10 SRV_PORT=7000
HOST2_IP=192.0.2.31 HOST3_IP=192.0.2.32
EXIT_TABLE=52820

# gwA: the exit node, uplink = its mesh port; gwB: uses gwA. Otherwise topology.sh's config.
# shellcheck disable=SC2034 # the GW_* variables are gw_write_config's input
topo_gw_config() {
	local name="$1"
	gw_reset_vars
	GW_NAME=$name GW_KEY=$MG_STATE/$name.key GW_PORT=$WG_PORT
	GW_LAN_IF=gl0 GW_MESH_IF=gm0
	local coord="coordinator:
  url: $COORD_URL
  authkey_file: $MG_STATE/authkey-$name
  state_dir: $MG_STATE/state-$name
  hostname: $name"
	case "$name" in
	gwA)
		GW_NS=$NS_GWA GW_IFNAME=$IF_GWA GW_MESH4=$GWA_MESH/24 GW_MESH6=$GWA_MESH6/64
		GW_MESH_GW4=$RTR4 GW_MESH_GW6=$RTR6
		GW_LAN4=$LANA_GW4/24 GW_LAN6=$LANA_GW6/64
		GW_EXTRA="$coord
  exit_node: true
exit:
  uplink: mesh
  port_range: 20000-39999
  max_flows: 16384"
		;;
	gwB)
		GW_NS=$NS_GWB GW_IFNAME=$IF_GWB GW_MESH4=$GWB_MESH/24
		GW_LAN4=$LANB_GW4/24 GW_LAN6=$LANB_GW6/64
		GW_CONTROL_LCORE=1 GW_WORKER_LCORE=0
		GW_EXTRA="$coord
  use_exit_node: gwA"
		;;
	esac
	gw_write_config "$MG_STATE/$name.yaml"
	run_bounded 10 ip netns exec "$GW_NS" "$GW_BIN" --check-config "$MG_STATE/$name.yaml" >/dev/null ||
		fail "--check-config refuses $name's config"
}

policy_exit() { # GRANTED_SRC (a YAML list): writes the policy and prints its path
	local f="$MG_STATE/policy-exit.yaml"
	cat >"$f" <<EOF
tagOwners:
  tag:site-a: [ops]
  tag:site-b: [ops]
autoApprovers:
  exitNode: [tag:site-a]
acls:
  - action: accept
    src: ["*"]
    dst: ["tag:site-a:*", "tag:site-b:*", "ops:*", "carol:*"]
  - action: accept
    src: $1
    dst: ["autogroup:internet:*"]
EOF
	printf '%s' "$f"
}

# On failure, also what the exit path looked like: the gateways' drop counters and NAT, and the
# host's rules, tables and interface (lib.sh's cleanup prints exit-diag.log with the others).
eval "$(declare -f fail | sed '1s/^fail /exit_fail_inner /')"
fail() {
	{
		for g in gwA gwB; do
			printf '== %s status\n' "$g"
			health_raw "$g" status 2>&1 | jq -c '{drops, nat, coordinator}' 2>&1 || true
		done
		printf '== host rules, table %s, wg\n' "$EXIT_TABLE"
		ip -n "$NS_HOST" rule show 2>&1
		ip -n "$NS_HOST" route show table all 2>&1 | grep -v "^local\|^broadcast\|^multicast" || true
		ip netns exec "$NS_HOST" wg show all 2>&1
	} >"$MG_STATE/exit-diag.log" 2>&1 || true
	exit_fail_inner "$@"
}

section "topology"
topo_build
NS_RTR=$(ns_name rtr) NS_INET=$(ns_name inet) NS_H2=$(ns_name host2) NS_H3=$(ns_name host3)
IF_H2=$(if_name mgi) IF_H3=$(if_name mgj)
ns_add "$NS_RTR" "$NS_INET" "$NS_H2" "$NS_H3"
host_link "$NS_RTR" rt0 "$NS_WAN" rtr
# Forwarded packets must leave with whole checksums: the gateway's NAT updates them.
no_tx_offload "$NS_RTR" rt0
bridge_attach "$NS_WAN" rtr
host_link "$NS_RTR" ri0 "$NS_INET" in0
ns_sysctl "$NS_RTR" net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
addr_add "$NS_RTR" rt0 "$RTR4/24"
addr_add "$NS_RTR" rt0 "$RTR6/64"
addr_add "$NS_RTR" ri0 10.200.0.1/24
addr_add "$NS_RTR" ri0 2001:db8:200::1/64
addr_add "$NS_INET" in0 "$SRV4/24"
addr_add "$NS_INET" in0 "$SRV6/64"
ip -n "$NS_INET" route add default via 10.200.0.1 || fail "inet default route"
ip -n "$NS_INET" -6 route add default via 2001:db8:200::1 || fail "inet IPv6 default route"
for h in "$NS_H2:host2:$HOST2_IP" "$NS_H3:host3:$HOST3_IP"; do
	IFS=: read -r ns name ip <<<"$h"
	host_link "$ns" eth0 "$NS_WAN" "$name"
	bridge_attach "$NS_WAN" "$name"
	ns_sysctl "$ns" net.ipv6.conf.eth0.disable_ipv6=1
	addr_add "$ns" eth0 "$ip/24"
done
for ns in "$NS_HOST" "$NS_H2" "$NS_H3"; do
	# Strict reverse-path filtering: replies through the tunnel must pass it.
	ns_sysctl "$ns" net.ipv4.conf.all.rp_filter=1 net.ipv4.conf.default.rp_filter=1
	ip -n "$ns" route add default via "$RTR4" || fail "default route in $ns"
done
SRV_LOG=$MG_STATE/server-sources.log
spawn "$MG_STATE/server.log" ip netns exec "$NS_INET" python3 "$TOOL" server "$SRV_LOG" "$SRV_PORT"
wait_for 10 "the server" sh -c "ip netns exec '$NS_INET' ss -Hltn 'sport = :$SRV_PORT' | grep -q LISTEN"
step "router $RTR4 / $RTR6 in front of the internet; server $SRV4, $SRV6 port $SRV_PORT"

topo_coord_start
coord users create ops >/dev/null || fail "users create ops"
coord users create carol >/dev/null || fail "users create carol"
coord policy set "$(policy_exit '[ops, "tag:site-b"]')" >/dev/null || fail "policy set"
coord keys create --user ops --tags tag:site-a --expiration 1h >"$MG_STATE/authkey-gwA" || fail "key gwA"
coord keys create --user ops --tags tag:site-b --expiration 1h >"$MG_STATE/authkey-gwB" || fail "key gwB"
coord keys create --user ops --expiration 1h >"$MG_STATE/authkey-host" || fail "key host"
coord keys create --user ops --expiration 1h >"$MG_STATE/authkey-host2" || fail "key host2"
coord keys create --user carol --expiration 1h >"$MG_STATE/authkey-host3" || fail "key host3"
chmod 600 "$MG_STATE"/authkey-*
topo_gateways
for n in host host2 host3; do
	(umask 077 && wg genkey >"$MG_STATE/$n.key") || fail "wg genkey"
done
PUB_HOST=$(wg pubkey <"$MG_STATE/host.key")
AGENT_EXTRA="exit_node: gwA" agent_spawn host "$NS_HOST" "$IF_HOST" "$HOST_IP:$WG_PORT"
HOST_AGENT_PID=$AGENT_PID
agent_spawn host2 "$NS_H2" "$IF_H2" "$HOST2_IP:$WG_PORT"
AGENT_EXTRA="exit_node: gwA" agent_spawn host3 "$NS_H3" "$IF_H3" "$HOST3_IP:$WG_PORT"
wait_node gwA "$PUB_GWA" 30
wait_node gwB "$PUB_GWB" 30
topo_approve gwB "$LANB_NET4" "$LANB_NET6"
step "gwA (exit node), gwB (use_exit_node: gwA), host, host2, host3 joined"

# What the server saw since the last mark, as "proto addr" lines.
mark_log() { : >"$SRV_LOG"; }
sources() { awk '{ print $2 }' "$SRV_LOG" | sort -u | tr '\n' ' '; }

# reach_all NS DST...: ping, TCP and UDP to each destination.
reach_all() {
	local ns="$1" dst
	shift
	for dst in "$@"; do
		reaches "$ns" "$dst" 10 || return 1
		run_bounded 15 ip netns exec "$ns" python3 "$TOOL" tcp "$dst" "$SRV_PORT" || return 1
		run_bounded 15 ip netns exec "$ns" python3 "$TOOL" udp "$dst" "$SRV_PORT" || return 1
	done
}

# Whole outputs first: grep -q closing the pipe early would fail ip (SIGPIPE) under pipefail.
exit_rules() { # NS: every policy rule, both families
	ip -n "$1" -4 rule show
	ip -n "$1" -6 rule show
}
routing_on() { # NS
	local rules4 rules6 table
	rules4=$(ip -n "$1" -4 rule show) rules6=$(ip -n "$1" -6 rule show)
	table=$(ip -n "$1" route show table "$EXIT_TABLE" 2>/dev/null || true)
	grep -q "not from all fwmark 0xce54 lookup $EXIT_TABLE" <<<"$rules4" &&
		grep -q "not from all fwmark 0xce54 lookup $EXIT_TABLE" <<<"$rules6" &&
		grep -q "^default dev" <<<"$table"
}
routing_off() { # NS
	local rules t4 t6
	rules=$(exit_rules "$1")
	t4=$(ip -n "$1" route show table "$EXIT_TABLE" 2>/dev/null || true)
	t6=$(ip -n "$1" -6 route show table "$EXIT_TABLE" 2>/dev/null || true)
	! grep -q "$EXIT_TABLE\|0xce54" <<<"$rules" && [ -z "$t4" ] && [ -z "$t6" ]
}
# has_default NS IFNAME: some peer of the interface has 0.0.0.0/0.
has_default() {
	local ips
	ips=$(ip netns exec "$1" wg show "$2" allowed-ips)
	grep -q '0\.0\.0\.0/0' <<<"$ips"
}
lacks_default() {
	! has_default "$@"
}

section "chosen: host uses gwA"
wait_for 30 "host to get gwA's 0.0.0.0/0" peer_allows "$NS_HOST" "$IF_HOST" "$PUB_GWA" 0.0.0.0/0
check "host has gwA's ::/0 too" peer_allows "$NS_HOST" "$IF_HOST" "$PUB_GWA" ::/0
check "policy routing in place (rules, table $EXIT_TABLE)" within 10 routing_on "$NS_HOST"
check "allow_lan_access off: no main-table rule" \
	eval '! grep -q suppress_prefixlength <<<"$(exit_rules "$NS_HOST")"'
mark_log
check "host reaches the server: ping, TCP, UDP over IPv4 and IPv6" reach_all "$NS_HOST" "$SRV4" "$SRV6"
step "the server saw: $(sources)"
check "the server saw only gwA's uplink ($GWA_MESH, $GWA_MESH6)" \
	test "$(sources)" = "$GWA_MESH $GWA_MESH6 "

section "not chosen, denied"
wait_for 20 "host2 to have gwA" has_peer "$NS_H2" "$IF_H2" "$PUB_GWA"
wait_for 20 "host3 to have gwA" has_peer "$NS_H3" "$IF_H3" "$PUB_GWA"
check "host2 (no choice) has no /0 from gwA" lacks_default "$NS_H2" "$IF_H2"
check "host3 (denied) has no /0 from gwA" lacks_default "$NS_H3" "$IF_H3"
check "host3's agent logged the refusal" grep -q "exit node not granted" "$MG_STATE/agent-host3.log"
check "host2 does not route into its tunnel" routing_off "$NS_H2"
check "host3 does not route into its tunnel" routing_off "$NS_H3"
mark_log
check "host2 reaches the server on its own route" \
	run_bounded 15 ip netns exec "$NS_H2" python3 "$TOOL" tcp "$SRV4" "$SRV_PORT"
check "host3 reaches the server on its own route" \
	run_bounded 15 ip netns exec "$NS_H3" python3 "$TOOL" tcp "$SRV4" "$SRV_PORT"
check "the server saw their own addresses" test "$(sources)" = "$HOST2_IP $HOST3_IP "

# A denied host that routes into gwA anyway (its own allowed-ips and a route, as a hostile host
# could) is refused by gwA's filter: nothing reaches the server, every packet is a policy drop.
PUB_H3=$(wg pubkey <"$MG_STATE/host3.key")
h3_drops() { health_raw gwA peers | jq -r --arg k "$PUB_H3" '.peers[] | select(.public_key == $k) | .policy_drops'; }
h3_ips=$(ip netns exec "$NS_H3" wg show "$IF_H3" allowed-ips | awk -v k="$PUB_GWA" '$1 == k { $1 = ""; print }' | tr -s ' ' ',' | sed 's/^,//; s/,$//')
ip netns exec "$NS_H3" wg set "$IF_H3" peer "$PUB_GWA" allowed-ips "${h3_ips:+$h3_ips,}$SRV4/32" || fail "wg set host3"
ip -n "$NS_H3" route add "$SRV4/32" dev "$IF_H3" || fail "route on host3"
d0=$(h3_drops)
mark_log
for _ in 1 2 3; do
	ip netns exec "$NS_H3" ping -c 1 -W 1 "$SRV4" >/dev/null 2>&1 && fail "host3's ping through gwA got an answer"
done
run_bounded 8 ip netns exec "$NS_H3" python3 "$TOOL" tcp "$SRV4" "$SRV_PORT" >/dev/null 2>&1 &&
	fail "host3's TCP connection through gwA was answered"
check "gwA counted host3's pings to the internet as policy drops" within 5 \
	eval '[ "$(h3_drops)" -ge "$((d0 + 3))" ]'
step "gwA's policy drops for host3: $d0 -> $(h3_drops)"
check "the server saw nothing from host3 through gwA" test -z "$(sources)"
ip -n "$NS_H3" route del "$SRV4/32" dev "$IF_H3"
ip netns exec "$NS_H3" wg set "$IF_H3" peer "$PUB_GWA" allowed-ips "$h3_ips"

section "branch: LAN B through gwB and gwA"
wait_for 30 "gwB to get gwA's 0.0.0.0/0" peer_allows "$NS_GWB" "$IF_GWB" "$PUB_GWA" 0.0.0.0/0
mark_log
check "LAN B's host reaches the server: ping, TCP, UDP over IPv4 and IPv6" \
	reach_all "$NS_LANB" "$SRV4" "$SRV6"
step "the server saw: $(sources)"
check "the server saw only gwA's uplink" test "$(sources)" = "$GWA_MESH $GWA_MESH6 "

section "cleared: the grant withdrawn, then given back"
coord policy set "$(policy_exit '["tag:site-b"]')" >/dev/null || fail "policy set"
check "host loses gwA's /0 (the map stream works while the exit is in use)" \
	within 10 lacks_default "$NS_HOST" "$IF_HOST"
check "policy routing removed" within 10 routing_off "$NS_HOST"
mark_log
check "host reaches the server on its own route" \
	run_bounded 15 ip netns exec "$NS_HOST" python3 "$TOOL" tcp "$SRV4" "$SRV_PORT"
check "the server saw the host's own address" test "$(sources)" = "$HOST_IP "
coord policy set "$(policy_exit '[ops, "tag:site-b"]')" >/dev/null || fail "policy set"
check "granted again: gwA's /0 back" within 15 has_default "$NS_HOST" "$IF_HOST"
check "policy routing back" within 10 routing_on "$NS_HOST"
mark_log
check "host reaches the server through gwA again" \
	run_bounded 15 ip netns exec "$NS_HOST" python3 "$TOOL" udp "$SRV4" "$SRV_PORT"
check "the server saw gwA's uplink" test "$(sources)" = "$GWA_MESH "

section "allow_lan_access"
# A server on host2 (the LAN): without LAN access the host reaches it through gwA too.
LAN_LOG=$MG_STATE/lan-sources.log
spawn "$MG_STATE/lan-server.log" ip netns exec "$NS_H2" python3 "$TOOL" server "$LAN_LOG" 7001
wait_for 10 "the LAN server" sh -c "ip netns exec '$NS_H2' ss -Hltn 'sport = :7001' | grep -q LISTEN"
lan_sources() { awk '{ print $2 }' "$LAN_LOG" | sort -u | tr '\n' ' '; }
check "off: the LAN host is reached through gwA" \
	run_bounded 15 ip netns exec "$NS_HOST" python3 "$TOOL" tcp "$HOST2_IP" 7001
check "off: the LAN host saw gwA's uplink" test "$(lan_sources)" = "$GWA_MESH "

section "stop"
stop_pid "$HOST_AGENT_PID" 10
check "nothing of the exit routing is left" routing_off "$NS_HOST"
check "src_valid_mark restored" test "$(ip netns exec "$NS_HOST" sysctl -n net.ipv4.conf.all.src_valid_mark)" = 0

section "allow_lan_access: true"
AGENT_EXTRA="exit_node: gwA
allow_lan_access: true" agent_spawn host "$NS_HOST" "$IF_HOST" "$HOST_IP:$WG_PORT"
HOST_AGENT_PID=$AGENT_PID
check "policy routing in place again" within 20 routing_on "$NS_HOST"
check "with the main-table rule for the LAN" \
	eval 'grep -q "lookup main suppress_prefixlength 0" <<<"$(exit_rules "$NS_HOST")"'
: >"$LAN_LOG"
mark_log
check "the LAN host is reached directly" \
	run_bounded 15 ip netns exec "$NS_HOST" python3 "$TOOL" tcp "$HOST2_IP" 7001
check "the LAN host saw the host's own address" test "$(lan_sources)" = "$HOST_IP "
check "the internet still goes through gwA" \
	run_bounded 15 ip netns exec "$NS_HOST" python3 "$TOOL" tcp "$SRV4" "$SRV_PORT"
check "the server saw gwA's uplink" test "$(sources)" = "$GWA_MESH "
stop_pid "$HOST_AGENT_PID" 10
check "stopped: nothing left" routing_off "$NS_HOST"
printf '\n%d checks passed\n' "$TOPO_CHECKS_PASSED"
