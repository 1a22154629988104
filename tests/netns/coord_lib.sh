# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
# What the coordinated agent and gateway tests (agent_e2e, agent_policy, agent_relay,
# agent_relay_ha, gw_relay, gw_relay_regions, and the NAT tests through nat_lib.sh) set up alike:
# the hub's bridge, the config writers of meshgate-coord, meshgate-relay, the agent and a
# coordinated gateway, the firewalls that leave only the relay path, and readers of what the
# nodes report. Sourced first, it sources lib.sh, gw_lib.sh and agent_lib.sh.

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=gw_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/gw_lib.sh"
# shellcheck source=agent_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/agent_lib.sh"

# require_built NAME PATH...: skips the test unless each program PATH (called NAME) is built.
require_built() {
	while [ $# -ge 2 ]; do
		[ -x "$2" ] || skip "$1 not built: $2"
		shift 2
	done
}

# gw_agent_init SCRIPT WHY COMMANDS "$@": the coordinated gateway-and-agent tests' programs
# (GW AGENT COORD RELAY MESHCTL; a usage failure without the middle three), a skip for the
# reference gateway (WHY: what is meshgate's own), unless the gateway, COMMANDS (with curl, nft
# and openssl) and the programs are there; then mg_init, the start time T0 and the names of the
# hub NS_H, gateway NS_G, LAN host NS_L and agent A NS_A namespaces and of IF_A and IF_G.
# shellcheck disable=SC2034 # the tests read the names
gw_agent_init() {
	local script=$1 why=$2 commands=$3
	shift 3
	GW=${1:-} AGENT=${2:-} COORD=${3:-} RELAY=${4:-} MESHCTL=${5:-}
	[ -n "$AGENT" ] && [ -n "$COORD" ] && [ -n "$RELAY" ] ||
		fail "usage: $script MESHGATE MESHGATE_AGENT MESHGATE_COORD MESHGATE_RELAY MESHCTL"
	gw_is_reference && skip "$why is meshgate's own: no reference run"
	gw_setup_binary "$GW"
	gw_require_common
	# shellcheck disable=SC2086 # a list of names
	require_commands curl nft openssl $commands
	require_built meshgate-agent "$AGENT" meshgate-coord "$COORD" meshgate-relay "$RELAY"
	mg_init
	T0=$SECONDS
	NS_H=$(ns_name hub) NS_G=$(ns_name gw) NS_L=$(ns_name lan) NS_A=$(ns_name a)
	IF_A=$(if_name mgA) IF_G=$(if_name mgG)
}

# ---- topology ----

# hub_bridge [--no-snooping] NS ADDR...: bridge br0 in NS, up, with ADDR... on it. Without
# multicast snooping, ND multicast reaches every port (the gateway's DPDK ports need that).
hub_bridge() {
	local opts=()
	if [ "$1" = --no-snooping ]; then
		opts=(mcast_snooping 0)
		shift
	fi
	local ns="$1" a
	shift
	ip -n "$ns" link add br0 type bridge "${opts[@]}" || fail "bridge"
	ip -n "$ns" link set br0 up
	for a in "$@"; do addr_add "$ns" br0 "$a"; done
}

# hub_join HUB_NS NS HUB_IF ADDR...: NS's veth0 (with ADDR...) on HUB_NS's br0 as HUB_IF.
hub_join() {
	local hub="$1" ns="$2" port="$3" a
	shift 3
	veth_pair "$ns" veth0 "$hub" "$port"
	ip -n "$hub" link set "$port" master br0
	for a in "$@"; do addr_add "$ns" veth0 "$a"; done
}

# udp_firewall NS IFACE TCP_PORTS [VERDICT]: NS sends and receives no UDP on IFACE, and TCP out
# of it only to TCP_PORTS ("8080, 8443"); other TCP gets VERDICT (default drop). The UDP drops
# are counted in udp_out and udp_in (table inet mgfw).
udp_firewall() {
	ip netns exec "$1" nft -f - <<EOF || fail "firewall in $1"
table inet mgfw {
	chain out {
		type filter hook output priority 0; policy accept;
		oifname "$2" meta l4proto udp counter name udp_out drop
		oifname "$2" tcp dport != { $3 } ${4:-drop}
	}
	chain in {
		type filter hook input priority 0; policy accept;
		iifname "$2" meta l4proto udp counter name udp_in drop
	}
	counter udp_out { }
	counter udp_in { }
}
EOF
}

# gw_port_firewall HUB_NS PORT: the hub's bridge drops every UDP frame from and to PORT (a
# gateway's DPDK mesh port, which no nftables of its own namespace sees), counted in gw_udp and
# to_gw_udp (table bridge mgfw).
gw_port_firewall() {
	ip netns exec "$1" nft -f - <<EOF || fail "bridge firewall"
table bridge mgfw {
	chain gwport {
		type filter hook forward priority 0; policy accept;
		iifname "$2" meta l4proto udp counter name gw_udp drop
		oifname "$2" meta l4proto udp counter name to_gw_udp drop
	}
	counter gw_udp { }
	counter to_gw_udp { }
}
EOF
}

# nft_packets NS FAMILY TABLE NAME: the packets nftables counter NAME counted.
nft_packets() {
	ip netns exec "$1" nft -j list counter "$2" "$3" "$4" | jq -er '.nftables[1].counter.packets'
}

# ---- config writers ----

# coord_write LISTEN [REGION...]: $MG_STATE/coord.yaml for a meshgate-coord on LISTEN (plain
# HTTP, sqlite store, 2 s heartbeat). Each REGION, "CODE NAME@HOST:PORT[/STUN_PORT]...", is a
# region of the relay map, in that order, its relays presenting relay.test (and answering STUN
# on STUN_PORT where given); with any region the relays' credential is made too
# ($MG_STATE/relay-credential).
coord_write() {
	local listen="$1" region code relay name host port stun
	shift
	cat >"$MG_STATE/coord.yaml" <<EOF
listen: $listen
allow_plain_http: true
store: sqlite:$MG_STATE/coord.db
log_level: info
heartbeat: 2s
EOF
	[ $# -gt 0 ] || return 0
	(umask 077 && wg genkey >"$MG_STATE/relay-credential")
	printf 'relay_credential_file: %s\nrelay_map:\n  regions:\n' "$MG_STATE/relay-credential" \
		>>"$MG_STATE/coord.yaml"
	for region in "$@"; do
		read -r code relay <<<"$region"
		printf '    - code: %s\n      relays:\n' "$code"
		for relay in ${region#"$code"}; do
			name=${relay%%@*} host=${relay#*@} stun=""
			[[ $host != */* ]] || stun=", stun_port: ${host#*/}" host=${host%/*}
			port=${host##*:} host=${host%:*}
			printf '        - {name: %s, host: %s, port: %s, server_name: relay.test%s}\n' \
				"$name" "$host" "$port" "$stun"
		done
	done >>"$MG_STATE/coord.yaml"
}

# relay_run NS NAME LISTEN METRICS_PORT REGION [EXTRA_YAML]: $MG_STATE/NAME.yaml for a
# meshgate-relay NAME of REGION on LISTEN with relay_cert's certificate, admitting through the
# coordinator coord_start started, metrics on 127.0.0.1:METRICS_PORT, then EXTRA_YAML; started
# as relay_spawn does (its pid in RELAY_PID).
relay_run() {
	cat >"$MG_STATE/$2.yaml" <<EOF
listen: "$3"
tls:
  cert_file: $MG_STATE/relay.crt
  key_file: $MG_STATE/relay.key
metrics_listen: 127.0.0.1:$4
name: $2
region: $5
admission:
  coordinator: $COORD_URL
  credential_file: $MG_STATE/relay-credential
EOF
	[ -z "${6:-}" ] || printf '%s\n' "$6" >>"$MG_STATE/$2.yaml"
	relay_spawn "$1" "$2" "$4"
}

# agent_write WHO IFNAME MTU AUTHKEY_FILE LOG_LEVEL [host HOST | region REGION] [DIRECT_TIMEOUT]:
# $MG_STATE/agent-WHO.yaml for an agent of the coordinator coord_start started, with key
# $MG_STATE/WHO.key. With "host", its relay is r1 at HOST:8443; with "region", the relay map's
# relays of REGION; either way relay_cert's certificate is its CA and its status goes to
# $MG_STATE/status-WHO.json.
agent_write() {
	local f="$MG_STATE/agent-$1.yaml"
	cat >"$f" <<EOF
interface:
  name: $2
  private_key_file: $MG_STATE/$1.key
  listen_port: 51820
  mtu: $3
wireguard_go: $(command -v wireguard-go)
coordinator:
  url: $COORD_URL
  authkey_file: $4
  state_dir: $MG_STATE/state-$1
  hostname: node-$1
EOF
	case "${6:-}" in
	host) printf 'relay:\n  name: r1\n  host: "%s"\n  port: 8443\n  server_name: relay.test\n' "$7" >>"$f" ;;
	region) printf 'relay:\n  region: %s\n' "$7" >>"$f" ;;
	"") ;;
	*) fail "agent_write: relay by '$6'" ;;
	esac
	[ -z "${6:-}" ] || printf '  ca_file: %s\n  direct_timeout: %s\nstatus_file: %s\n' \
		"$MG_STATE/relay.crt" "$8" "$MG_STATE/status-$1.json" >>"$f"
	printf 'log_level: %s\n' "$5" >>"$f"
}

# gw_coordinated NS IFNAME LAN4 LAN6 MESH4 MESH6 REGION DIRECT_TIMEOUT [EXTRA_YAML]: gateway "gw"
# in NS (LAN port l0, mesh port m0, key $MG_STATE/gw.key, the mesh next hop GW_MESH_GW4 if the
# caller set it) registering with the coordinator coord_start started ($MG_STATE/authkey) and
# taking its relays from the map's REGION, then EXTRA_YAML; written to $MG_STATE/gw.yaml and
# started.
# shellcheck disable=SC2034 # the GW_ variables are read by gw_write_config
gw_coordinated() {
	GW_NAME=gw GW_NS=$1 GW_IFNAME=$2 GW_KEY=$MG_STATE/gw.key
	GW_LAN_IF=l0 GW_LAN4=$3 GW_LAN6=$4
	GW_MESH_IF=m0 GW_MESH4=$5 GW_MESH6=$6
	GW_EXTRA="coordinator:
  url: $COORD_URL
  authkey_file: $MG_STATE/authkey
  state_dir: $MG_STATE/state-gw
  hostname: gw
relay:
  region: $7
  ca_file: $MG_STATE/relay.crt
  direct_timeout: $8${9:+
$9}"
	gw_write_config "$MG_STATE/gw.yaml"
	gw_start "$MG_STATE/gw.yaml"
}

# ---- two agents of two users (agent_e2e.sh, agent_policy.sh) ----

# pair_init SCRIPT COMMANDS "$@": the two-agent tests' programs AGENT and COORD (else a usage
# failure), a skip unless root, the agent's commands, COMMANDS and both programs are there; then
# mg_init and the names NS_C (coordinator), NS_A, NS_B, IF_A and IF_B.
# shellcheck disable=SC2034 # the tests read the names
pair_init() {
	local script=$1 commands=$2
	shift 2
	AGENT=${1:-} COORD=${2:-}
	[ -n "$AGENT" ] && [ -n "$COORD" ] || fail "usage: $script MESHGATE_AGENT MESHGATE_COORD"
	require_root
	# shellcheck disable=SC2086 # a list of names
	require_commands wireguard-go wg ip ping curl jq timeout setsid $commands
	require_built meshgate-agent "$AGENT" meshgate-coord "$COORD"
	mg_init
	NS_C=$(ns_name coord) NS_A=$(ns_name a) NS_B=$(ns_name b)
	IF_A=$(if_name mgA) IF_B=$(if_name mgB)
}

# pair_net: namespaces NS_C (bridge br0 10.99.0.1/24), NS_A (10.99.0.2/24) and NS_B (10.99.0.3/24)
# on that bridge.
pair_net() {
	log "namespaces $NS_C $NS_A $NS_B, interfaces $IF_A $IF_B"
	ns_add "$NS_C" "$NS_A" "$NS_B"
	hub_bridge "$NS_C" 10.99.0.1/24
	hub_join "$NS_C" "$NS_A" va 10.99.0.2/24
	hub_join "$NS_C" "$NS_B" vb 10.99.0.3/24
}

# pair_coord: meshgate-coord on 10.99.0.1:8080 in NS_C with users alice and bob.
pair_coord() {
	coord_write 10.99.0.1:8080
	coord_start "$NS_C" "http://10.99.0.1:8080"
	admin POST users '{"name":"alice"}' >/dev/null
	admin POST users '{"name":"bob"}' >/dev/null
}

# pair_agents LOG_LEVEL: a reusable pre-auth key for A (alice) and B (bob), their keys (PUB_A,
# PUB_B), their configs, then pair_start and pair_addrs.
pair_agents() {
	local who user
	for who in a b; do
		user=alice
		[ "$who" = a ] || user=bob
		admin POST preauthkeys "{\"user\":\"$user\",\"reusable\":true,\"expiration\":\"1h\"}" |
			jq -er .key >"$MG_STATE/authkey-$who" || fail "pre-auth key for $user"
		(umask 077 && wg genkey >"$MG_STATE/$who.key")
	done
	PUB_A=$(wg pubkey <"$MG_STATE/a.key")
	PUB_B=$(wg pubkey <"$MG_STATE/b.key")
	agent_write a "$IF_A" 1420 "$MG_STATE/authkey-a" "$1"
	agent_write b "$IF_B" 1420 "$MG_STATE/authkey-b" "$1"
	pair_start
	pair_addrs
}

# pair_start: agents a (NS_A, IF_A) and b (NS_B, IF_B) started (AGENT_A, AGENT_B), waited for
# until each has the other (PUB_A, PUB_B) as a peer.
pair_start() {
	agent_start a "$NS_A" "$IF_A"
	# shellcheck disable=SC2034 # the test stops them
	AGENT_A=$AGENT_PID
	agent_start b "$NS_B" "$IF_B"
	# shellcheck disable=SC2034
	AGENT_B=$AGENT_PID
	wait_for 20 "A has B as a peer" has_peer "$NS_A" "$IF_A" "$PUB_B"
	wait_for 20 "B has A as a peer" has_peer "$NS_B" "$IF_B" "$PUB_A"
}

# pair_addrs: A's and B's overlay addresses, A4 A6 B4 B6, from the coordinator; logged.
pair_addrs() {
	A4=$(node_addr "$PUB_A" 0)
	B4=$(node_addr "$PUB_B" 0)
	A6=$(node_addr "$PUB_A" 1)
	B6=$(node_addr "$PUB_B" 1)
	log "overlay: A $A4 $A6, B $B4 $B6"
}

# ---- what the nodes report ----

# has_peer NS IFNAME PUBKEY: that wireguard-go has PUBKEY as a peer.
has_peer() {
	run_bounded 5 ip netns exec "$1" wg show "$2" peers | grep -qxF "$3"
}

# has_allowed NS IFNAME PUBKEY PREFIX: that wireguard-go has PUBKEY as a peer with PREFIX among
# its allowed IPs.
has_allowed() {
	run_bounded 5 ip netns exec "$1" wg show "$2" allowed-ips | grep -F "$3" | grep -qF "$4"
}

# node_addr PUBKEY INDEX: that node's overlay address (0: IPv4, 1: IPv6) in the coordinator's list.
node_addr() { node_field "$1" ".addresses[$2]"; }

# pings_answered NS DST: two pings from NS to DST answered.
pings_answered() { run_bounded 10 ip netns exec "$1" ping -c 2 -i 0.2 -W 2 "$2" >/dev/null 2>&1; }

# home_is WHO RELAY: agent WHO's status file shows it connected to RELAY.
home_is() {
	jq -e --arg r "$2" '.relay.connected and .relay.name == $r' "$MG_STATE/status-$1.json" >/dev/null 2>&1
}

# gw_peer_path_is PUBKEY PATH: the gateway gw's health /peers, and meshctl peers where MESHCTL is
# built, show PUBKEY on PATH.
gw_peer_path_is() {
	local path
	path=$(run_bounded 5 curl -sf --unix-socket "$MG_STATE/gw.health" http://localhost/peers |
		jq -er --arg k "$1" '.peers[] | select(.public_key == $k) | .path') || fail "gateway /peers"
	[ "$path" = "$2" ] || fail "the gateway's status shows A on path '$path', not $2"
	if [ -x "$MESHCTL" ]; then
		run_bounded 10 "$MESHCTL" -s "$MG_STATE/gw.health" peers >"$MG_STATE/meshctl-peers" ||
			fail "meshctl peers"
		grep -F "$1" "$MG_STATE/meshctl-peers" | grep -qF "$2" ||
			fail "meshctl peers does not show A on $2: $(cat "$MG_STATE/meshctl-peers")"
	fi
}

# gw_metrics: the gateway gw's /metrics, in $MG_STATE/gw.metrics.
gw_metrics() {
	run_bounded 5 curl -sf --unix-socket "$MG_STATE/gw.health" http://localhost/metrics >"$MG_STATE/gw.metrics" ||
		fail "gateway /metrics"
}
