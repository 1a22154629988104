#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# A gateway behind a cloud-style 1:1 NAT (issue 15): no endpoint in its config, it learns its
# public one with STUN from its WireGuard port and its peer reaches it there directly.
#
#   mg-<pid>-hub: bridge br0, 203.0.113.1/24 and .2/24: meshgate-coord (HTTP :8080) and coturn
#                 (turnserver --stun-only) on both addresses, port 3478.
#   mg-<pid>-nat: the NAT router. pub 203.0.113.20/24 + .21 on br0; in0 10.0.0.1/24 to gateway
#                 A's mesh port, in1 10.0.1.1/24 to A's kernel veth. nftables: 203.0.113.21 <->
#                 10.0.0.10 by dnat + snat (1:1), the kernel veth's TCP masqueraded.
#   mg-<pid>-ga:  meshgate A, coordinated, mesh port 10.0.0.10 (next hop 10.0.0.1), stun: with
#                 no servers: the coordinator's relay map lists coturn's two addresses with
#                 stun_port 3478 (no TLS relay behind them: neither gateway has a relay:
#                 section, so nothing connects there); LAN 192.168.10.1/24 -> mg-<pid>-la.
#   mg-<pid>-gb:  meshgate B, coordinated, mesh port 203.0.113.30 on br0, stun: the two coturn
#                 addresses listed in its config; LAN 192.168.20.1/24 -> mg-<pid>-lb.
#
# Checks: A asks the relay map's two STUN servers (meshctl netcheck) and reports stun_endpoints
# [203.0.113.21:51820] and nat "easy" to the coordinator, B
# reports nat "none"; B's disco path choice makes A's public endpoint its WireGuard endpoint
# (A's map endpoint, 10.0.0.10, is unreachable from B); the LAN host behind B pings the one
# behind A (B speaks first: A never initiates, so nothing but the map's STUN endpoint can have
# told B where A is); the NAT router forwarded WireGuard data to 10.0.0.10:51820. No relay is
# configured at all, so every packet of the pair went direct. Then the NAT moves A to another
# public address and forgets its mappings (conntrack -F): A re-reports within seconds, B's disco
# path moves to the new endpoint and the LANs reach each other again.
#
# Then disco_probe, from the Internet side under B's key, pings A's WireGuard port: a pong carrying
# the source, and a forged and a stranger's ping unanswered and counted once each.
#
# usage: gw_nat1to1.sh MESHGATE MESHGATE_COORD MESHCTL [DISCO_PROBE]
set -euo pipefail

GW=${1:-}
COORD=${2:-}
MESHCTL=${3:-}
DISCO_PROBE=${4:-}
# shellcheck source=nat_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/nat_lib.sh"

[ -n "$COORD" ] || fail "usage: gw_nat1to1.sh MESHGATE MESHGATE_COORD MESHCTL"
gw_is_reference && skip "STUN on the WireGuard port is meshgate's own: no reference run"
gw_setup_binary "$GW"
gw_require_common
require_commands curl nft jq turnserver
[ -x "$COORD" ] || skip "meshgate-coord not built: $COORD"
mg_init
T0=$SECONDS

NS_H=$(ns_name hub)
NS_N=$(ns_name nat)
NS_GA=$(ns_name ga)
NS_GB=$(ns_name gb)
NS_LA=$(ns_name la)
NS_LB=$(ns_name lb)
URL="http://203.0.113.1:8080"

# ---- topology ----
ns_add "$NS_H" "$NS_N" "$NS_LA" "$NS_LB"
gw_ns_add "$NS_GA"
gw_ns_add "$NS_GB"
ns_sysctl "$NS_N" net.ipv4.ip_forward=1
hub_bridge --no-snooping "$NS_H" 203.0.113.1/24 203.0.113.2/24
host_link "$NS_N" pub "$NS_H" vn
gw_port_link "$NS_GA" m0 "$NS_N" in0
host_link "$NS_GA" mg0 "$NS_N" in1
gw_port_link "$NS_GA" l0 "$NS_LA" veth0
gw_port_link "$NS_GB" m0 "$NS_H" vb
host_link "$NS_GB" mg0 "$NS_H" vbm
gw_port_link "$NS_GB" l0 "$NS_LB" veth0
for p in vn vb vbm; do bridge_attach "$NS_H" "$p"; done
addr_add "$NS_N" pub 203.0.113.20/24
addr_add "$NS_N" pub 203.0.113.21/24
addr_add "$NS_N" in0 10.0.0.1/24
addr_add "$NS_N" in1 10.0.1.1/24
addr_add "$NS_GA" mg0 10.0.1.11/24
ip -n "$NS_GA" route add default via 10.0.1.1 || fail "A's default route"
addr_add "$NS_GB" mg0 203.0.113.31/24
addr_add "$NS_LA" veth0 192.168.10.2/24
ip -n "$NS_LA" route add default via 192.168.10.1 || fail "la route"
addr_add "$NS_LB" veth0 192.168.20.2/24
ip -n "$NS_LB" route add default via 192.168.20.1 || fail "lb route"

# The cloud's 1:1 NAT: 203.0.113.21 is 10.0.0.10, both ways, every port.
ip netns exec "$NS_N" nft -f - <<EOF || fail "NAT rules"
table ip mgnat {
	chain pre {
		type nat hook prerouting priority dstnat; policy accept;
		iifname "pub" ip daddr 203.0.113.21 dnat to 10.0.0.10
	}
	chain post {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "pub" ip saddr 10.0.0.10 snat to 203.0.113.21
		oifname "pub" ip saddr 10.0.1.0/24 masquerade
	}
	chain filt {
		type filter hook forward priority 0; policy accept;
		oifname "in0" ip daddr 10.0.0.10 udp dport 51820 @th,64,8 4 counter name wg_data_in
		oifname "in0" ip daddr 10.0.0.10 udp dport 51820 @th,64,8 1 counter name wg_init_in
	}
	counter wg_data_in { }
	counter wg_init_in { }
}
EOF
counter() { # NAME: packets of the NAT router's counter
	ip netns exec "$NS_N" nft -j list counter ip mgnat "$1" | jq -er '.nftables[1].counter.packets'
}

# ---- coturn and the coordinator ----
cat >"$MG_STATE/turnserver.conf" <<EOF
listening-ip=203.0.113.1
listening-ip=203.0.113.2
listening-port=3478
stun-only
no-cli
no-tls
no-dtls
pidfile=$MG_STATE/turnserver.pid
log-file=$MG_STATE/turnserver.log
userdb=$MG_STATE/turndb
simple-log
EOF
spawn "$MG_STATE/turnserver-out.log" ip netns exec "$NS_H" turnserver -c "$MG_STATE/turnserver.conf"
cat >"$MG_STATE/coord.yaml" <<EOF
listen: 203.0.113.1:8080
allow_plain_http: true
store: sqlite:$MG_STATE/coord.db
log_level: info
heartbeat: 2s
relay_map:
  regions:
    - code: test
      relays:
        - {name: s1, host: 203.0.113.1, port: 443, stun_port: 3478}
        - {name: s2, host: 203.0.113.2, port: 443, stun_port: 3478}
EOF
coord_start "$NS_H" "$URL"
alice_nodes
PUB_A=$(gen_key ga)
PUB_B=$(gen_key gb)

# ---- the gateways: no endpoint in either config ----
gw_conf() { # NAME NS LAN4 MESH4 MESH_GW4 STUN_SERVERS_LINE
	gw_reset_vars
	GW_NAME=$1 GW_NS=$2 GW_IFNAME=$(if_name "mg$1") GW_KEY=$MG_STATE/$1.key
	GW_LAN_IF=l0 GW_LAN4=$3 GW_MESH_IF=m0 GW_MESH4=$4 GW_MESH_GW4=${5:-}
	GW_WORKER_LCORE=1
	GW_EXTRA="coordinator:
  url: $URL
  authkey_file: $MG_STATE/authkey
  state_dir: $MG_STATE/state-$1
  hostname: $1
stun:
$6
  interval: 1"
	gw_write_config "$MG_STATE/$1.yaml"
}
# A: the relay map's STUN servers; B: its config's.
gw_conf ga "$NS_GA" 192.168.10.1/24 10.0.0.10/24 10.0.0.1 ""
gw_start "$MG_STATE/ga.yaml"
gw_conf gb "$NS_GB" 192.168.20.1/24 203.0.113.30/24 "" \
	"  servers: [203.0.113.1:3478, 203.0.113.2:3478]"
gw_start "$MG_STATE/gb.yaml"
T_UP=$SECONDS

wait_for 20 "both gateways registered" node_field "$PUB_B" .id
wait_for 5 "gateway A registered" node_field "$PUB_A" .id
for k in "$PUB_A" "$PUB_B"; do
	id=$(node_field "$k" .id)
	routes=$(node_field "$k" '.routes_advertised // [] | tojson')
	admin POST "nodes/$id/routes" "{\"approved\": $routes}" >/dev/null
done

wait_for 15 "A's STUN endpoint at the coordinator" stun_is "$PUB_A" "203.0.113.21:51820 easy"
wait_for 10 "B reported no NAT" stun_is "$PUB_B" "203.0.113.30:51820 none"
eps_a=$(node_field "$PUB_A" '.endpoints | join(",")')
[ "$eps_a" = 10.0.0.10:51820 ] || fail "A's own endpoints at the coordinator: $eps_a"
log "coordinator: A endpoints $eps_a, stun 203.0.113.21:51820 (easy); B none (coturn on two addresses)"
servers_of() { run_bounded 5 "$MESHCTL" -s "$MG_STATE/$1.health" --json netcheck |
	jq -er '.stun.servers_from + " " + ([.stun.servers[].server] | join(" "))'; }
[ "$(servers_of ga)" = "relay_map 203.0.113.1:3478 203.0.113.2:3478" ] ||
	fail "A's STUN servers: $(servers_of ga)"
[ "$(servers_of gb)" = "config 203.0.113.1:3478 203.0.113.2:3478" ] ||
	fail "B's STUN servers: $(servers_of gb)"
log "STUN servers: A from the relay map's stun_port, B from its config"

# ---- B speaks first ----
peer_ep() { # GW PUBKEY: the endpoint that gateway uses for that peer
	run_bounded 5 curl -sf --unix-socket "$MG_STATE/$1.health" http://localhost/peers |
		jq -er --arg k "$2" '.peers[] | select(.public_key == $k) | .endpoint'
}
ep_is() { test "$(peer_ep "$1" "$2" 2>/dev/null)" = "$3"; }
wait_for 20 "B chose A's public endpoint (disco pong)" ep_is gb "$PUB_A" 203.0.113.21:51820
T_DIRECT=$SECONDS
grep -q 'msg="disco path".*path=203.0.113.21:51820' "$(gw_log_file gb)" ||
	fail "B did not log its disco path to A's public endpoint"
wait_for 20 "ping lb -> la through A's 1:1 NAT" pings_answered "$NS_LB" 192.168.10.2
wait_for 10 "ping la -> lb" pings_answered "$NS_LA" 192.168.20.2
[ "$(counter wg_init_in)" -gt 0 ] || fail "no handshake initiation crossed the NAT to 10.0.0.10"
[ "$(counter wg_data_in)" -gt 0 ] || fail "no WireGuard data crossed the NAT to 10.0.0.10"
[ "$(peer_ep ga "$PUB_B")" = 203.0.113.30:51820 ] || fail "A's endpoint for B: $(peer_ep ga "$PUB_B")"
log "direct: B -> 203.0.113.21:51820 -> 10.0.0.10 ($(counter wg_data_in) data messages through the NAT)"
log "figures: gateways up to B's direct path to A: $((T_DIRECT - T_UP)) s (1 s resolution)"

if [ -x "$MESHCTL" ]; then
	run_bounded 10 "$MESHCTL" -s "$MG_STATE/ga.health" netcheck >"$MG_STATE/netcheck-a" 2>&1 ||
		fail "meshctl netcheck: $(cat "$MG_STATE/netcheck-a")"
	grep -q 'nat: *easy' "$MG_STATE/netcheck-a" && grep -qF 203.0.113.21:51820 "$MG_STATE/netcheck-a" ||
		fail "meshctl netcheck on A: $(cat "$MG_STATE/netcheck-a")"
	log "meshctl netcheck on A: $(tr '\n' ' ' <"$MG_STATE/netcheck-a")"
fi

metric() { # GW NAME: that gateway's metric
	run_bounded 5 curl -sf --unix-socket "$MG_STATE/$1.health" http://localhost/metrics |
		awk -v n="$2" '$1 == n {print $2}'
}
[ "$(metric ga meshgate_disco_pongs_sent_total)" -gt 0 ] || fail "A's metrics: no pong sent"
[ "$(metric gb meshgate_disco_direct_paths_total)" -gt 0 ] || fail "B's metrics: no direct path"
[ "$(metric ga meshgate_stun_rounds_total)" -gt 0 ] || fail "A's metrics: no STUN round"

# ---- the cloud gives A another public address (and forgets the old mappings) ----
ip netns exec "$NS_N" nft -f - <<EOF || fail "new NAT rules"
flush chain ip mgnat pre
flush chain ip mgnat post
add rule ip mgnat pre iifname "pub" ip daddr 203.0.113.22 dnat to 10.0.0.10
add rule ip mgnat post oifname "pub" ip saddr 10.0.0.10 snat to 203.0.113.22
add rule ip mgnat post oifname "pub" ip saddr 10.0.1.0/24 masquerade
EOF
addr_add "$NS_N" pub 203.0.113.22/24
ip -n "$NS_N" addr del 203.0.113.21/24 dev pub || fail "removing 203.0.113.21"
ip netns exec "$NS_N" conntrack -F >/dev/null 2>&1 || fail "conntrack -F"
T_MOVE=$SECONDS
wait_for 10 "A re-reported its new public endpoint" stun_is "$PUB_A" "203.0.113.22:51820 easy"
T_REPORT=$SECONDS
wait_for 15 "B moved to A's new public endpoint" ep_is gb "$PUB_A" 203.0.113.22:51820
wait_for 15 "ping lb -> la after the move" pings_answered "$NS_LB" 192.168.10.2
log "A moved to 203.0.113.22: at the coordinator within $((T_REPORT - T_MOVE)) s, B direct" \
	"there and pinging within $((SECONDS - T_MOVE)) s (1 s resolution)"

# ---- disco on A's WireGuard port, from the Internet, under B's key ----
if [ -x "$DISCO_PROBE" ] && [ -x "$MESHCTL" ]; then
	refused() { # REASON: A's count
		run_bounded 5 "$MESHCTL" -s "$MG_STATE/ga.health" --json netcheck |
			jq -er --arg r "$1" '.disco.refused[$r]'
	}
	probe() {
		run_bounded 10 ip netns exec "$NS_H" "$DISCO_PROBE" "$MG_STATE/gb.key" "$PUB_A" \
			203.0.113.22:51820 "$1"
	}
	forged0=$(refused forged) stranger0=$(refused unknown_sender)
	out=$(probe ping) || fail "no pong from A's WireGuard port: $out"
	[[ "$out" =~ src=203\.0\.113\.[12]:[0-9]+ ]] || fail "the pong does not carry the ping's source: $out"
	# Not "replay" here: after an authentic ping A's path choice pings that source back (a
	# learned candidate), which disco_probe would count as an answer; test_natgw covers replays.
	for mode in forged stranger; do
		out=$(probe "$mode") || fail "disco $mode answered: $out"
	done
	[ "$(refused forged)" -eq $((forged0 + 1)) ] &&
		[ "$(refused unknown_sender)" -eq $((stranger0 + 1)) ] ||
		fail "A's refusals: $(run_bounded 5 "$MESHCTL" -s "$MG_STATE/ga.health" --json netcheck)"
	log "disco on A's WireGuard port: a pong with the source; a forged and a stranger's ping" \
		"unanswered and counted once each"
fi

gw_stop ga
gw_stop gb
stop_pid "$COORD_PID" 5
log "PASS in $((SECONDS - T0)) s"
