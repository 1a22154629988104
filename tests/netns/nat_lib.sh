# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
# What the NAT traversal tests (nat_pairs, nat_stun_report, nat_agent_gw, nat_gw_restricted,
# gw_nat1to1) set up alike: sourced first, it sources coord_lib.sh (and so lib.sh, gw_lib.sh and
# agent_lib.sh), then gives the nftables NATs, the start-up checks of each kind of NAT test, the
# coordinator, relay and agent configs on coord_lib.sh's writers, and readers of disco and STUN.

# shellcheck source=coord_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/coord_lib.sh"

# ---- start-up ----

# nat_agent_args SCRIPT USAGE "$@": the agent-only NAT tests' programs, AGENT COORD RELAY
# DISCO_PROBE [MESHCTL]; USAGE names those SCRIPT takes, each required (else a usage failure).
# Skips unless root, the common commands and the agent, coordinator and relay are there.
nat_agent_args() {
	local script=$1 usage=$2 words i
	shift 2
	AGENT=${1:-} COORD=${2:-} RELAY=${3:-} DISCO_PROBE=${4:-} MESHCTL=${5:-}
	read -ra words <<<"$usage"
	for ((i = 1; i <= ${#words[@]}; i++)); do
		[ -n "${!i:-}" ] || fail "usage: $script $usage"
	done
	require_root
	require_commands wireguard-go wg ip curl jq timeout setsid nft openssl conntrack
	require_built meshgate-agent "$AGENT" meshgate-coord "$COORD" meshgate-relay "$RELAY"
}

# nat_gw_agent_init SCRIPT "$@": gw_agent_init for the gateway-and-agent NAT tests, which need
# MESHCTL too (else a usage failure) and conntrack, then the name NS_NA of A's NAT.
nat_gw_agent_init() {
	[ -n "${6:-}" ] ||
		fail "usage: $1 MESHGATE MESHGATE_AGENT MESHGATE_COORD MESHGATE_RELAY MESHCTL"
	gw_agent_init "$1" "disco on the WireGuard port" conntrack "${@:2}"
	NS_NA=$(ns_name na)
}

# now_ms: milliseconds since the epoch.
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# ---- NATs ----

# nat NS INSIDE_ADDR KIND: NS becomes an nftables NAT whose outside interface is "vo" (its inside
# host is INSIDE_ADDR); replaces NS's ruleset and forgets its mappings.
#   fullcone:   masquerade (keeps the port: one mapping for all destinations), and any UDP from
#               outside goes to the inside host on the same port (endpoint-independent filtering)
#   restricted: masquerade alone (conntrack admits only replies from where we sent: port-
#               restricted filtering)
#   hard:       masquerade fully-random (a fresh random port per destination)
# Unsolicited packets for the NAT itself are dropped in its input chain, as a router's firewall
# does (OpenWrt rejects input on its WAN zone). Besides being realistic this matters: a packet
# that reached the input path unanswered would leave an unreplied conntrack entry (peer ->
# our public port), and the next outgoing packet to that peer, whose reply tuple is that entry,
# would be masqueraded from another port: a port-restricted NAT would then never let the two
# sides' simultaneous pings meet. Dropped before conntrack confirms it, no entry is left.
nat() {
	local pre="" post="masquerade"
	case "$3" in
	fullcone) pre="iifname \"vo\" meta l4proto udp dnat ip to $2" ;;
	restricted) ;;
	hard) post="masquerade fully-random" ;;
	*) fail "nat kind $3" ;;
	esac
	ip netns exec "$1" nft -f - <<EOF || fail "NAT rules in $1: $3"
flush ruleset
table ip nat {
	chain pre {
		type nat hook prerouting priority dstnat;
		$pre
	}
	chain post {
		type nat hook postrouting priority srcnat;
		oifname "vo" $post
	}
}
table ip fw {
	chain in {
		type filter hook input priority filter;
		iifname "vo" ct state new drop
	}
}
EOF
	ip netns exec "$1" conntrack -F >/dev/null 2>&1 || fail "conntrack -F in $1"
}

# ---- the coordinator, the relay and the agents ----

# relay_coord_start NS [STUN_PORT]: meshgate-coord on 10.99.0.1:8080 in NS with a relay map of
# one relay, r1 (10.99.0.1:8443, region test, server name relay.test), and the credential it
# admits with. With STUN_PORT, r1 has that stun_port and the map lists the same relay's other
# address too, as r2 (10.99.0.2:8443, region test2, same stun_port): two STUN servers from the map
# (relay_r1_start with 0.0.0.0:8443 then serves r2 as well).
relay_coord_start() {
	if [ -n "${2:-}" ]; then
		coord_write 10.99.0.1:8080 "test r1@10.99.0.1:8443/$2" "test2 r2@10.99.0.2:8443/$2"
	else
		coord_write 10.99.0.1:8080 "test r1@10.99.0.1:8443"
	fi
	coord_start "$1" "http://10.99.0.1:8080"
}

# relay_r1_start NS [LISTEN]: that relay in NS on LISTEN (default 10.99.0.1:8443), admission
# through the coordinator, STUN on 10.99.0.1 and 10.99.0.2 port 3478, metrics on
# 127.0.0.1:9470; its pid in RELAY_PID.
relay_r1_start() {
	local listen=${2:-10.99.0.1:8443}
	relay_cert
	relay_run "$1" r1 "$listen" 9470 test "stun:
  listen: [10.99.0.1:3478, 10.99.0.2:3478]"
}

# relay_stun_start NS [EXTRA_YAML]: a meshgate-relay of no coordinator in NS on 10.99.0.1:8443
# (config and log $MG_STATE/relay.*), STUN on 10.99.0.1 and 10.99.0.2 port 3478, metrics on
# 127.0.0.1:9470, then EXTRA_YAML; its pid in RELAY_PID.
relay_stun_start() {
	relay_cert
	cat >"$MG_STATE/relay.yaml" <<EOC
listen: 10.99.0.1:8443
tls: {cert_file: $MG_STATE/relay.crt, key_file: $MG_STATE/relay.key}
metrics_listen: 127.0.0.1:9470
stun:
  listen: [10.99.0.1:3478, 10.99.0.2:3478]
EOC
	[ -z "${2:-}" ] || printf '%s\n' "$2" >>"$MG_STATE/relay.yaml"
	relay_spawn "$1" relay 9470
}

# agent_nat_config WHO IFNAME [STUN_SERVERS]: agent_write's config for an agent of that
# coordinator (MTU 1280, $MG_STATE/authkey) with the relay r1 at 10.99.0.1 (direct_timeout 5,
# the default) and STUN every second on both of its addresses (STUN_SERVERS "map": no servers
# in the config, the relay map's); status in $MG_STATE/status-WHO.json.
agent_nat_config() {
	agent_write "$1" "$2" 1280 "$MG_STATE/authkey" info host 10.99.0.1 5
	if [ "${3:-}" = map ]; then
		printf 'stun:\n  interval: 1\n' # no servers: the relay map supplies them
	else
		printf 'stun:\n  servers: [10.99.0.1:3478, 10.99.0.2:3478]\n  interval: 1\n'
	fi >>"$MG_STATE/agent-$1.yaml"
}

# ---- the gateway-and-agent tests (nat_agent_gw, nat_gw_restricted) ----
# Hub NS_H (br0 10.99.0.1/24 and .2), the gateway NS_G (LAN port l0 192.168.77.1/24 to the LAN
# host NS_L), agent A (IF_A) in NS_A behind its NAT NS_NA.

# nat_gw_agent_net HUB_PORT: NS_NA, A's port-restricted NAT (forwarding), vo 10.99.0.20/24 on
# NS_H's br0 as HUB_PORT and vi 192.168.1.1/24; NS_A's veth0 192.168.1.2/24 behind it; the LAN
# host's veth0 (made by gw_port_link) 192.168.77.2/24 behind the gateway.
nat_gw_agent_net() {
	ns_sysctl "$NS_NA" net.ipv4.ip_forward=1
	host_link "$NS_NA" vo "$NS_H" "$1"
	host_link "$NS_A" veth0 "$NS_NA" vi
	bridge_attach "$NS_H" "$1"
	addr_add "$NS_NA" vo 10.99.0.20/24
	addr_add "$NS_NA" vi 192.168.1.1/24
	addr_add "$NS_A" veth0 192.168.1.2/24
	ip -n "$NS_A" route add default via 192.168.1.1 || fail "A's route"
	addr_add "$NS_L" veth0 192.168.77.2/24
	ip -n "$NS_L" route add default via 192.168.77.1 || fail "lan route"
	nat "$NS_NA" 192.168.1.2 restricted
}

# nat_gw_hub [STUN_PORT [RELAY_LISTEN]]: relay_coord_start and relay_r1_start in NS_H; user
# alice with A's key (PUB_A) and the gateway's (PUB_G).
# shellcheck disable=SC2120 # both arguments are optional
nat_gw_hub() {
	relay_coord_start "$NS_H" "${1:-}"
	alice_nodes a
	PUB_A=$(wg pubkey <"$MG_STATE/a.key")
	PUB_G=$(gen_key gw)
	relay_r1_start "$NS_H" "${2:-}"
}

# metric NAME: NAME on the relay r1's /metrics.
metric() { relay_metric "$NS_H" 9470 "$1"; }

# nat_gw_start MESH4 STUN_YAML: the gateway (gw_coordinated, no endpoint in its config, relays of
# region test, direct_timeout 5 as by default) with mesh address MESH4 and STUN_YAML, registered
# and its LAN 192.168.77.0/24 approved.
nat_gw_start() {
	gw_coordinated "$NS_G" "$IF_G" 192.168.77.1/24 "" "$1" "" test 5 "$2"
	wait_for 20 "the gateway registered" node_field "$PUB_G" .id
	admin POST "nodes/$(node_field "$PUB_G" .id)/routes" '{"approved": ["192.168.77.0/24"]}' >/dev/null
}

# ---- what the nodes report ----

# disco WHO PEERKEY FILTER: jq FILTER on agent WHO's disco object for that peer (its status file).
disco() {
	jq -er --arg k "$2" ".peers[] | select(.key == \$k) | .disco | $3" \
		"$MG_STATE/status-$1.json" 2>/dev/null
}

# stun_is PUBKEY "ENDPOINTS NAT": the coordinator lists that node's STUN endpoints (joined by
# commas) and NAT kind so. Reads afresh each time, for wait_for.
stun_is() { test "$(node_field "$1" '(.stun_endpoints | join(",")) + " " + .nat' 2>/dev/null)" = "$2"; }
