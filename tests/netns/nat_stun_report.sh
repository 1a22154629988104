#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The agent's STUN probe and its report to the coordinator (issue 15, endpoints): an agent
# behind an nftables NAT learns its public endpoint from meshgate-relay's STUN server on two
# addresses, and the coordinator shows it with the NAT kind. When the NAT changes (masquerade ->
# masquerade fully-random, then the conntrack table flushed and the NAT's public address
# changed) the agent re-reports within a few seconds. Its status file shows the same.
#
#   mg-<pid>-pub: veth vp 10.99.0.1/24 + 10.99.0.2/24; meshgate-coord :8080, meshgate-relay with
#                 STUN on 10.99.0.1:3478 and 10.99.0.2:3478
#   mg-<pid>-nat: veth vo 10.99.0.254/24 (later .253), veth vi 192.168.1.1/24; nftables NAT
#   mg-<pid>-a:   veth0 192.168.1.2/24, default via the NAT; the agent (stun.interval 1 s)
#
# Then disco on the same socket: a ping sealed with peer B's key (B: a second agent, in the
# public namespace) gets a pong carrying its source; a forged one, the same ping replayed and one
# from a key outside the map get nothing, and A's status file counts each.
#
# usage: nat_stun_report.sh MESHGATE_AGENT MESHGATE_COORD MESHGATE_RELAY DISCO_PROBE
set -euo pipefail

# shellcheck source=nat_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/nat_lib.sh"

nat_agent_args nat_stun_report.sh "MESHGATE_AGENT MESHGATE_COORD MESHGATE_RELAY DISCO_PROBE" "$@"
mg_init

NS_P=$(ns_name pub)
NS_N=$(ns_name nat)
NS_A=$(ns_name a)
IF_A=$(if_name mgA)
IF_B=$(if_name mgB)
URL="http://10.99.0.1:8080"

ns_add "$NS_P" "$NS_N" "$NS_A"
veth_pair "$NS_P" vp "$NS_N" vo
veth_pair "$NS_A" veth0 "$NS_N" vi
addr_add "$NS_P" vp 10.99.0.1/24
addr_add "$NS_P" vp 10.99.0.2/24
addr_add "$NS_N" vo 10.99.0.254/24
addr_add "$NS_N" vi 192.168.1.1/24
addr_add "$NS_A" veth0 192.168.1.2/24
ip -n "$NS_A" route add default via 192.168.1.1 || fail "default route"
ip netns exec "$NS_N" sysctl -qw net.ipv4.ip_forward=1 || fail "ip_forward"

nat_rule() { # [fully-random] | [snat ADDR]: replaces the NAT's ruleset
	local action="masquerade $*"
	[ "${1:-}" != snat ] || action="snat to $2"
	ip netns exec "$NS_N" nft -f - <<EOF || fail "NAT rule: $action"
flush ruleset
table ip nat {
	chain post {
		type nat hook postrouting priority srcnat;
		oifname "vo" $action
	}
}
EOF
}
nat_rule

coord_write 10.99.0.1:8080
coord_start "$NS_P" "$URL"
alice_nodes a b
PUB_A=$(wg pubkey <"$MG_STATE/a.key")

relay_stun_start "$NS_P"

agent_config() { # WHO IFNAME [EXTRA YAML]
	cat >"$MG_STATE/agent-$1.yaml" <<EOF
interface:
  name: $2
  private_key_file: $MG_STATE/$1.key
  listen_port: 51820
wireguard_go: $(command -v wireguard-go)
coordinator:
  url: $URL
  authkey_file: $MG_STATE/authkey
  state_dir: $MG_STATE/state-$1
  hostname: node-$1
status_file: $MG_STATE/status-$1.json
log_level: info
${3:-}
EOF
}
agent_config a "$IF_A" "stun:
  servers: [10.99.0.1:3478, 10.99.0.2:3478]
  interval: 1"
agent_start a "$NS_A" "$IF_A"
agent_config b "$IF_B"
agent_start b "$NS_P" "$IF_B"

reported() { # the node's "nat stun_endpoints..." as the coordinator stores them
	admin GET nodes | jq -er --arg k "$PUB_A" \
		'.nodes[] | select(.node_key == $k) | "\(.nat) \(.stun_endpoints | join(" "))"'
}
# expect WHAT PATTERN: waits (10 s at most) for the report to match; prints the time it took.
expect() {
	local t0 now r=""
	t0=$(date +%s%N)
	for _ in $(seq 100); do
		r=$(reported)
		if [[ "$r" =~ $2 ]]; then
			now=$(date +%s%N)
			log "ok: $1: '$r' after $(((now - t0) / 1000000)) ms"
			return 0
		fi
		sleep 0.1
	done
	fail "$1: the coordinator shows '$r', expected /$2/"
}

expect "endpoint-independent NAT" '^easy 10\.99\.0\.254:[0-9]+$'
first=$(reported)
# The status file says the same, with each server's round trip.
nat_status() { jq -er '"\(.nat.kind) \(.nat.endpoints | join(" ")) \(.nat.rtt_ms | map(. >= 0) | all)"' \
	"$MG_STATE/status-a.json"; }
status_matches() { [ "$(nat_status 2>/dev/null)" = "$first true" ]; }
wait_for 5 "the status file shows the mapping" status_matches

nat_rule fully-random
ip netns exec "$NS_N" conntrack -F >/dev/null 2>&1 || fail "conntrack -F"
expect "NAT maps by destination" '^hard 10\.99\.0\.254:[0-9]+ 10\.99\.0\.254:[0-9]+$'

# The NAT forgets its mappings and gets a new public address: the new one is reported.
addr_add "$NS_N" vo 10.99.0.253/24
nat_rule snat 10.99.0.253
ip netns exec "$NS_N" conntrack -F >/dev/null 2>&1 || fail "conntrack -F"
expect "new public address" '^easy 10\.99\.0\.253:[0-9]+$'
[ "$(reported)" != "$first" ] || fail "the report did not change"

# ---- disco on the same socket ----
PUB_B=$(wg pubkey <"$MG_STATE/b.key")
has_b() { run_bounded 5 ip netns exec "$NS_A" wg show "$IF_A" peers | grep -qxF "$PUB_B"; }
wait_for 20 "A has B as a peer" has_b
PORT=$(jq -er .nat.port "$MG_STATE/status-a.json") || fail "no port in A's status"
probe() {
	run_bounded 10 ip netns exec "$NS_A" "$DISCO_PROBE" "$MG_STATE/b.key" "$PUB_A" \
		"127.0.0.1:$PORT" "$1"
}
out=$(probe ping) || fail "B's ping got no pong: $out"
[[ "$out" =~ src=127\.0\.0\.1:[0-9]+ ]] || fail "the pong does not carry the ping's source: $out"
log "ok: disco $out"
for mode in forged replay stranger; do
	out=$(probe "$mode") || fail "disco $mode: $out"
	log "ok: disco $out"
done
disco_count() { jq -er ".disco.$1" "$MG_STATE/status-a.json"; }
counted() {
	[ "$(disco_count pongs)" -eq 2 ] && [ "$(disco_count refused.forged)" -eq 1 ] &&
		[ "$(disco_count refused.replay)" -eq 1 ] &&
		[ "$(disco_count refused.unknown_sender)" -eq 1 ]
}
wait_for 5 "A counts 2 pongs, 1 forged, 1 replay, 1 unknown sender" counted
log "ok: A's disco counters: $(jq -c .disco "$MG_STATE/status-a.json")"

# The agent counted nothing odd and is still streaming.
kill -0 "$AGENT_PID" || fail "the agent died"
grep -q 'stun mapping' "$MG_STATE/agent-a.log" || fail "the agent logged no mapping"
log "PASS"
