# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
#
# The demo topology, shared by scripts/demo.sh and the e2e tests (meson suite 'e2e'). Source it
# from a script running under `set -euo pipefail`; it sources tests/netns/lib.sh and gw_lib.sh,
# so every namespace, process and file it creates is removed on exit (trap and reaper).
#
#   lanA ── gl0 [gwA] gm0 ─┐                                       ┌─ gm0 [gwB] gl0 ── lanB
#               mgmt0 ─────┤      wan: bridge br0, 192.0.2.0/24    ├───── mgmt0
#                          └──── coord eth0 ──── host eth0 ────────┘
#
#   wan     gwA mesh port .1, gwB mesh port .2 (DPDK); gwA mgmt0 .21, gwB mgmt0 .22 (kernel);
#           coord .10 (meshgate-coord, SQLite, port 8080); host .30 (agent + wireguard-go)
#   LAN A   198.51.100.0/24, fd10:a::/64: gwA's LAN port .1 / ::1, host lanA .2 / ::2
#   LAN B   203.0.113.0/24, fd10:b::/64: gwB's LAN port .1 / ::1, host lanB .2 / ::2
#
# A gateway's ports belong to DPDK (af_packet on veths), so its control thread reaches the
# coordinator over a separate management veth with a kernel address, as a real gateway uses a
# management NIC. Overlay addresses come from the coordinator (100.64.0.0/10, fd7a:115c:a1e0::/48).
#
# Identities: user "ops" owns everything. The gateways join with single-use pre-auth keys tagged
# tag:site-a and tag:site-b (a tagged node is its tags), the host with an untagged single-use key
# of ops. Single-use keys matter: a node that is deleted or expired cannot come back by itself.
#
# Binaries: topo_binaries NAME=PATH... (meshgate, coord, meshctl, agent), else the environment
# (MESHGATE_BIN, MESHGATE_COORD_BIN, MESHCTL_BIN, MESHGATE_AGENT_BIN), else $TOPO_BUILD_DIR
# (default build/ in the source tree). The agent is $MESHGATE_AGENT_BIN when set, else
# `meshgate agent` when the gateway binary has that command, else agent=PATH or the standalone
# meshgate-agent of the build directory.
#
# MESHGATE_IMPL=wireguard-go (as in gw_lib.sh) replaces each gateway by the agent driving
# wireguard-go with kernel forwarding: the same checks against stock parts check the scripts
# themselves. Checks of meshgate's own health socket are skipped then (check_gw).

TOPO_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOPO_ROOT=$(cd "$TOPO_HERE/../.." && pwd)
# shellcheck source=../netns/lib.sh
source "$TOPO_ROOT/tests/netns/lib.sh"
# shellcheck source=../netns/gw_lib.sh
source "$TOPO_ROOT/tests/netns/gw_lib.sh"

# ---- addresses ----
WAN_PREFIX=192.0.2.0/24
COORD_IP=192.0.2.10 COORD_PORT=8080
GWA_MESH=192.0.2.1 GWB_MESH=192.0.2.2
GWA_MGMT=192.0.2.21 GWB_MGMT=192.0.2.22
HOST_IP=192.0.2.30
LANA_NET4=198.51.100.0/24 LANA_NET6=fd10:a::/64
LANB_NET4=203.0.113.0/24 LANB_NET6=fd10:b::/64
LANA_GW4=198.51.100.1 LANA_GW6=fd10:a::1 LANA_HOST4=198.51.100.2 LANA_HOST6=fd10:a::2
LANB_GW4=203.0.113.1 LANB_GW6=fd10:b::1 LANB_HOST4=203.0.113.2 LANB_HOST6=fd10:b::2
WG_PORT=51820
COORD_URL="http://$COORD_IP:$COORD_PORT"

TOPO_BUILD_DIR=${TOPO_BUILD_DIR:-$TOPO_ROOT/build}
COORD_BIN="" MESHCTL_BIN="" AGENT_CMD=()
# Set by the steps below.
NS_WAN="" NS_COORD="" NS_GWA="" NS_LANA="" NS_GWB="" NS_LANB="" NS_HOST=""
IF_GWA="" IF_GWB="" IF_HOST=""
PUB_GWA="" PUB_GWB="" PUB_HOST=""
COORD_PID="" AGENT_PID="" HOST_AGENT_PID=""
declare -A NODE_ID=()

# ---- output ----
TOPO_CHECKS_PASSED=0 TOPO_CHECKS_FAILED=0
# TOPO_FATAL_CHECKS=1 (tests): a failed check fails the run at once. 0 (demo): it is counted.
TOPO_FATAL_CHECKS=${TOPO_FATAL_CHECKS:-1}

# Colour only on a terminal (meson and CI logs get plain text).
if [ -t 1 ]; then
	C_OK=$'\033[32m' C_BAD=$'\033[31m' C_BOLD=$'\033[1m' C_OFF=$'\033[0m'
else
	C_OK="" C_BAD="" C_BOLD="" C_OFF=""
fi

# meson shows only the end of a failed test's output, and lib.sh's cleanup prints the logs
# after the failure: say what failed once more after them.
TOPO_FAILED_WHAT=""
eval "$(declare -f fail | sed '1s/^fail /topo_fail_inner /')"
fail() {
	TOPO_FAILED_WHAT="$*"
	topo_fail_inner "$@"
}
eval "$(declare -f mg_dump_logs | sed '1s/^mg_dump_logs /topo_dump_logs_inner /')"
mg_dump_logs() {
	topo_dump_logs_inner
	[ -z "$TOPO_FAILED_WHAT" ] || printf 'FAIL (repeated after the logs): %s\n' "$TOPO_FAILED_WHAT" >&2
}

# check DESCRIPTION CMD...: runs CMD, prints ✓ or ✗ with the description. A failure fails the
# test (TOPO_FATAL_CHECKS=1) or is counted in TOPO_CHECKS_FAILED (0, the demo).
check() {
	local what="$1"
	shift
	if "$@"; then
		TOPO_CHECKS_PASSED=$((TOPO_CHECKS_PASSED + 1))
		printf '  %s✓%s %s\n' "$C_OK" "$C_OFF" "$what"
		return 0
	fi
	TOPO_CHECKS_FAILED=$((TOPO_CHECKS_FAILED + 1))
	printf '  %s✗%s %s\n' "$C_BAD" "$C_OFF" "$what"
	# The demo goes on to show the rest; a test stops here.
	[ "$TOPO_FATAL_CHECKS" = 0 ] || fail "$what"
	return 0
}

# check_gw DESCRIPTION CMD...: a check of meshgate itself (its health socket): skipped, and
# said so, against the reference gateway.
check_gw() {
	if gw_is_reference; then
		printf '  - %s (not with the reference gateway)\n' "$1"
		return 0
	fi
	check "$@"
}

step() {
	printf '  • %s\n' "$*"
}

section() {
	printf '\n%s━━ %s%s\n' "$C_BOLD" "$*" "$C_OFF"
}

# silently CMD...: CMD with its stdout discarded (for checks such as jq -e).
silently() {
	"$@" >/dev/null
}

# within SECONDS CMD...: polls CMD every 0.1 s until it succeeds (0) or time runs out (1).
within() {
	local deadline=$(($(date +%s%N) + $1 * 1000000000))
	shift
	until "$@" >/dev/null 2>&1; do
		[ "$(date +%s%N)" -lt "$deadline" ] || return 1
		sleep 0.1
	done
}

# ---- binaries ----

topo_binaries() {
	local arg mg="${MESHGATE_BIN:-}" agent="${MESHGATE_AGENT_BIN:-}" agent_arg=""
	COORD_BIN=${MESHGATE_COORD_BIN:-}
	MESHCTL_BIN=${MESHCTL_BIN:-}
	for arg in "$@"; do
		case "$arg" in
		meshgate=*) mg=${arg#*=} ;;
		coord=*) COORD_BIN=${arg#*=} ;;
		meshctl=*) MESHCTL_BIN=${arg#*=} ;;
		agent=*) agent_arg=${arg#*=} ;;
		build=*) TOPO_BUILD_DIR=${arg#*=} ;;
		*) fail "unknown argument '$arg' (expected meshgate=, coord=, meshctl=, agent= or build=PATH)" ;;
		esac
	done
	[ -n "$mg" ] || mg=$TOPO_BUILD_DIR/gateway/meshgate
	[ -n "$COORD_BIN" ] || COORD_BIN=$TOPO_BUILD_DIR/coord/meshgate-coord
	if [ -z "$MESHCTL_BIN" ]; then
		for MESHCTL_BIN in "$TOPO_BUILD_DIR/cli/meshctl" "$TOPO_BUILD_DIR/meshctl" ""; do
			[ ! -x "$MESHCTL_BIN" ] || break
		done
	fi
	[ -x "$COORD_BIN" ] || skip "meshgate-coord is not built: $COORD_BIN"
	MESHGATE_BIN=$mg gw_setup_binary
	# `meshgate agent` once the gateway binary has it, else the standalone agent.
	# (getopt would take --help alone: the usage must name the agent command.)
	if [ -z "$agent" ] && run_bounded 5 "$GW_BIN" agent --help 2>&1 | grep -q 'agent --config'; then
		AGENT_CMD=("$GW_BIN" agent)
	else
		[ -n "$agent" ] || agent=${agent_arg:-$TOPO_BUILD_DIR/agent/meshgate-agent}
		[ -x "$agent" ] || skip "no agent: '$GW_BIN agent' is missing and so is $agent"
		AGENT_CMD=("$agent")
	fi
}

topo_require() {
	gw_require_common
	require_commands iperf3 ss curl jq bridge
}

# ---- namespaces and links ----

# gw_mgmt_link GW_NS IF WAN_IF ADDR: the gateway's management veth (kernel) into the wan bridge.
# The mesh port sits on the same segment, so the kernel must answer ARP only on the interface
# that holds the address (arp_ignore) and pick sources by interface (arp_announce).
gw_mgmt_link() {
	host_link "$1" "$2" "$NS_WAN" "$3"
	bridge_attach "$NS_WAN" "$3"
	ns_sysctl "$1" net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2
	addr_add "$1" "$2" "$4/24"
}

# lan_host NS GW4 GW6 HOST4 HOST6: the LAN host behind a gateway's LAN port (already linked).
lan_host() {
	addr_add "$1" lan0 "$4/24"
	addr_add "$1" lan0 "$5/64"
	ip -n "$1" route add default via "$2" || fail "default route in $1"
	ip -n "$1" -6 route add default via "$3" || fail "IPv6 default route in $1"
}

topo_build() {
	NS_WAN=$(ns_name wan) NS_COORD=$(ns_name coord) NS_HOST=$(ns_name host)
	NS_GWA=$(ns_name gwA) NS_LANA=$(ns_name lanA) NS_GWB=$(ns_name gwB) NS_LANB=$(ns_name lanB)
	IF_GWA=$(if_name mga) IF_GWB=$(if_name mgb) IF_HOST=$(if_name mgh)

	bridge_ns_add "$NS_WAN"
	ns_add "$NS_COORD" "$NS_HOST" "$NS_LANA" "$NS_LANB"
	gw_ns_add "$NS_GWA"
	gw_ns_add "$NS_GWB"

	# Mesh ports (DPDK) and management veths (kernel) of both gateways on the wan bridge.
	gw_port_link "$NS_GWA" gm0 "$NS_WAN" a-mesh
	bridge_attach "$NS_WAN" a-mesh
	gw_port_link "$NS_GWB" gm0 "$NS_WAN" b-mesh
	bridge_attach "$NS_WAN" b-mesh
	gw_mgmt_link "$NS_GWA" mgmt0 a-mgmt "$GWA_MGMT"
	gw_mgmt_link "$NS_GWB" mgmt0 b-mgmt "$GWB_MGMT"

	# LAN ports (DPDK) and the LAN hosts.
	gw_port_link "$NS_GWA" gl0 "$NS_LANA" lan0
	gw_port_link "$NS_GWB" gl0 "$NS_LANB" lan0
	lan_host "$NS_LANA" "$LANA_GW4" "$LANA_GW6" "$LANA_HOST4" "$LANA_HOST6"
	lan_host "$NS_LANB" "$LANB_GW4" "$LANB_GW6" "$LANB_HOST4" "$LANB_HOST6"

	# The coordinator and the stock host: plain kernel interfaces on the wan.
	host_link "$NS_COORD" eth0 "$NS_WAN" coord
	bridge_attach "$NS_WAN" coord
	addr_add "$NS_COORD" eth0 "$COORD_IP/24"
	host_link "$NS_HOST" eth0 "$NS_WAN" host
	bridge_attach "$NS_WAN" host
	# The host's outer path is IPv4; IPv6 stays on for the overlay interface.
	ns_sysctl "$NS_HOST" net.ipv6.conf.eth0.disable_ipv6=1
	addr_add "$NS_HOST" eth0 "$HOST_IP/24"
}

# ---- the coordinator ----

topo_coord_config() {
	cat >"$MG_STATE/coord.yaml" <<EOF
# meshgate-coord for the e2e topology (run $MG_ID)
listen: $COORD_IP:$COORD_PORT
allow_plain_http: true
store: sqlite:$MG_STATE/coord.db
log_level: info
heartbeat: 2s
EOF
}

coord_healthy() {
	run_bounded 3 ip netns exec "$NS_COORD" curl -sf --max-time 2 "$COORD_URL/health" >/dev/null
}

# topo_coord_start: starts (or restarts, on the same store) meshgate-coord in its namespace.
topo_coord_start() {
	[ -f "$MG_STATE/coord.yaml" ] || topo_coord_config
	if [ ! -s "$MG_STATE/admin.key" ]; then
		(umask 077 && "$COORD_BIN" --config "$MG_STATE/coord.yaml" apikey create \
			>"$MG_STATE/admin.key" 2>>"$MG_STATE/coord.log.all") ||
			fail "meshgate-coord apikey create: $(tail -n 3 "$MG_STATE/coord.log.all")"
	fi
	printf -- '--- start %s ---\n' "$(date +%T)" >>"$MG_STATE/coord.log.all"
	spawn "$MG_STATE/coord.log" ip netns exec "$NS_COORD" "$COORD_BIN" --config "$MG_STATE/coord.yaml"
	COORD_PID=$MG_SPAWNED_PID
	wait_for 20 "meshgate-coord on $COORD_URL" coord_healthy
}

# topo_coord_kill: SIGKILL, as a crash (the store must carry everything).
topo_coord_kill() {
	kill -KILL "$COORD_PID" 2>/dev/null || true
	wait "$COORD_PID" 2>/dev/null || true
	cat "$MG_STATE/coord.log" >>"$MG_STATE/coord.log.all" 2>/dev/null || true
	COORD_PID=""
}

# coord ARGS...: the admin CLI, from the coordinator's namespace, bounded.
coord() {
	run_bounded 20 ip netns exec "$NS_COORD" "$COORD_BIN" --server "$COORD_URL" \
		--api-key-file "$MG_STATE/admin.key" "$@"
}

# coord_json ARGS...: the CLI with --json; fails the test when the server refuses.
coord_json() {
	coord --json "$@" || fail "meshgate-coord $*"
}

policy_file() { # NAME: writes $MG_STATE/policy-NAME.yaml and prints its path
	local f="$MG_STATE/policy-$1.yaml"
	{
		printf 'tagOwners:\n  tag:site-a: [ops]\n  tag:site-b: [ops]\n'
		case "$1" in
		open) printf 'acls:\n  - action: accept\n    src: ["*"]\n    dst: ["*:*"]\n' ;;
		# The host keeps both sites; the sites no longer see each other.
		isolate-sites)
			printf 'acls:\n  - action: accept\n    src: [ops]\n'
			printf '    dst: ["tag:site-a:*", "tag:site-b:*"]\n'
			;;
		*) fail "unknown policy $1" ;;
		esac
	} >"$f"
	printf '%s' "$f"
}

# topo_policy NAME: applies a policy (open or isolate-sites).
topo_policy() {
	coord policy set "$(policy_file "$1")" >/dev/null || fail "meshgate-coord policy set $1"
}

# topo_identities: the user, the policy and one single-use pre-auth key per node.
topo_identities() {
	coord users create ops >/dev/null || fail "meshgate-coord users create ops"
	topo_policy open
	coord keys create --user ops --tags tag:site-a --expiration 1h >"$MG_STATE/authkey-gwA" ||
		fail "pre-auth key for gwA"
	coord keys create --user ops --tags tag:site-b --expiration 1h >"$MG_STATE/authkey-gwB" ||
		fail "pre-auth key for gwB"
	coord keys create --user ops --expiration 1h >"$MG_STATE/authkey-host" ||
		fail "pre-auth key for the host"
	chmod 600 "$MG_STATE"/authkey-*
}

# node_field PUBKEY JQ: a field of the node with that key from the admin API ("" if absent).
node_field() {
	coord --json nodes list 2>/dev/null |
		jq -r --arg k "$1" "(.nodes // .)[] | select(.node_key == \$k) | $2" 2>/dev/null || true
}

node_registered() { # PUBKEY
	[ -n "$(node_field "$1" .id)" ]
}

# wait_node NAME PUBKEY SECONDS: until the node is registered; NODE_ID[NAME] gets its id.
wait_node() {
	wait_for "$3" "$1 to register with the coordinator" node_registered "$2"
	NODE_ID[$1]=$(node_field "$2" .id)
}

# ---- the gateways ----

# shellcheck disable=SC2034 # the GW_* variables are gw_write_config's input
# topo_gw_config NAME: the coordinated gateway config (gw_lib.sh's writer plus a coordinator
# section). No static peers: everything comes from the map.
topo_gw_config() {
	local name="$1"
	gw_reset_vars
	GW_NAME=$name GW_KEY=$MG_STATE/$name.key GW_PORT=$WG_PORT
	GW_LAN_IF=gl0 GW_MESH_IF=gm0
	case "$name" in
	gwA)
		GW_NS=$NS_GWA GW_IFNAME=$IF_GWA GW_MESH4=$GWA_MESH/24
		GW_LAN4=$LANA_GW4/24 GW_LAN6=$LANA_GW6/64
		;;
	gwB)
		GW_NS=$NS_GWB GW_IFNAME=$IF_GWB GW_MESH4=$GWB_MESH/24
		GW_LAN4=$LANB_GW4/24 GW_LAN6=$LANB_GW6/64
		# Its worker on the other CPU than gwA's: on one CPU the two workers take turns, and
		# the demo's iperf3 gets half the rate (about 450 against 900 Mbit/s on 2 cores).
		GW_CONTROL_LCORE=1 GW_WORKER_LCORE=0
		;;
	esac
	GW_EXTRA="coordinator:
  url: $COORD_URL
  authkey_file: $MG_STATE/authkey-$name
  state_dir: $MG_STATE/state-$name
  hostname: $name"
	gw_write_config "$MG_STATE/$name.yaml"
}

topo_gateways() {
	PUB_GWA=$(gen_key gwA)
	PUB_GWB=$(gen_key gwB)
	if gw_is_reference; then
		topo_gw_start_reference gwA
		topo_gw_start_reference gwB
		return
	fi
	topo_gw_config gwA
	topo_gw_config gwB
	gw_start "$MG_STATE/gwA.yaml"
	gw_start "$MG_STATE/gwB.yaml"
}

# ---- the agent (the stock host; also the reference gateways) ----

# agent_spawn NAME NS IFNAME ENDPOINT [ROUTE...]: writes $MG_STATE/agent-NAME.yaml (key
# $MG_STATE/NAME.key, pre-auth key authkey-NAME, top-level keys from $AGENT_EXTRA) and starts
# the agent in NS; it starts wireguard-go itself. Leaves the agent's pid in AGENT_PID. Its log: $AGENT_LOGFILE, else
# $MG_STATE/agent-NAME.log.
agent_spawn() {
	local name="$1" ns="$2" ifname="$3" ep="$4" wggo c c2 st
	shift 4
	wggo=$(command -v wireguard-go)
	{
		printf 'interface:\n  name: %s\n  private_key_file: %s\n' "$ifname" "$MG_STATE/$name.key"
		printf '  listen_port: %s\n  mtu: 1420\n' "$WG_PORT"
		printf 'wireguard_go: %s\n' "$wggo"
		printf 'coordinator:\n  url: %s\n  authkey_file: %s\n' "$COORD_URL" "$MG_STATE/authkey-$name"
		printf '  state_dir: %s\n  hostname: %s\n  endpoints: ["%s"]\n' \
			"$MG_STATE/state-$name" "$name" "$ep"
		[ $# -eq 0 ] || printf '  advertise_routes: %s\n' "$(yaml_list "$(IFS=,; echo "$*")")"
		printf 'log_level: info\n'
		[ -z "${AGENT_EXTRA:-}" ] || printf '%s\n' "$AGENT_EXTRA"
	} >"$MG_STATE/agent-$name.yaml"
	mg_file "/var/run/wireguard/$ifname.sock"
	spawn "${AGENT_LOGFILE:-$MG_STATE/agent-$name.log}" ip netns exec "$ns" "${AGENT_CMD[@]}" --config "$MG_STATE/agent-$name.yaml"
	AGENT_PID=$MG_SPAWNED_PID
	wait_for 15 "$name's wireguard-go ($ifname)" test -S "/var/run/wireguard/$ifname.sock"
	# wireguard-go is the agent's child: register it too, in case the agent is killed.
	for c in $(cat "/proc/$AGENT_PID/task/$AGENT_PID/children" 2>/dev/null || true); do
		st=$(mg_pid_starttime "$c") || continue
		mg_register pids "$c $st"
		for c2 in $(cat "/proc/$c/task/$c/children" 2>/dev/null || true); do
			st=$(mg_pid_starttime "$c2") || continue
			mg_register pids "$c2 $st"
		done
	done
}

topo_host() {
	(umask 077 && wg genkey >"$MG_STATE/host.key") || fail "wg genkey"
	PUB_HOST=$(wg pubkey <"$MG_STATE/host.key")
	agent_spawn host "$NS_HOST" "$IF_HOST" "$HOST_IP:$WG_PORT"
	HOST_AGENT_PID=$AGENT_PID
}

# The reference gateway (MESHGATE_IMPL=wireguard-go, as in gw_lib.sh): the agent drives
# wireguard-go in the gateway's namespace, which routes between its ports with kernel
# forwarding. It runs the scripts' checks against stock parts, so a failure that the reference
# does not show is meshgate's. It has no health socket.
topo_gw_start_reference() {
	local name="$1" ns lan4 lan6 mesh ifname net4 net6
	case "$name" in
	gwA) ns=$NS_GWA ifname=$IF_GWA lan4=$LANA_GW4 lan6=$LANA_GW6 mesh=$GWA_MESH net4=$LANA_NET4 net6=$LANA_NET6 ;;
	gwB) ns=$NS_GWB ifname=$IF_GWB lan4=$LANB_GW4 lan6=$LANB_GW6 mesh=$GWB_MESH net4=$LANB_NET4 net6=$LANB_NET6 ;;
	esac
	addr_replace "$ns" gl0 "$lan4/24"
	addr_replace "$ns" gl0 "$lan6/64"
	addr_replace "$ns" gm0 "$mesh/24"
	AGENT_LOGFILE=$(gw_log_file "$name") agent_spawn "$name" "$ns" "$ifname" "$mesh:$WG_PORT" "$net4" "$net6"
	GW_PIDS[$name]=$AGENT_PID
	GW_CONFIGS[$name]=$MG_STATE/agent-$name.yaml
	log "reference gateway $name up (agent + wireguard-go, pid $AGENT_PID, interface $ifname)"
}

agent_alive() {
	kill -0 "$HOST_AGENT_PID" 2>/dev/null &&
		[ "$(cut -d' ' -f3 "/proc/$HOST_AGENT_PID/stat" 2>/dev/null)" != Z ]
}

# ---- routes ----

# topo_approve NAME PREFIX...: waits until the node advertises each prefix, then approves it.
route_advertised() { # NODE_ID PREFIX
	coord --json routes list 2>/dev/null |
		jq -e --argjson id "$1" --arg p "$2" \
			'(.routes // .)[] | select(.node_id == $id and .prefix == $p)' >/dev/null 2>&1
}

topo_approve() {
	local name="$1" id="${NODE_ID[$1]}" p
	shift
	for p in "$@"; do
		wait_for 15 "$name to advertise $p" route_advertised "$id" "$p"
		coord routes approve "$id" "$p" >/dev/null || fail "routes approve $id $p"
	done
}

topo_unapprove() {
	local id="${NODE_ID[$1]}" p
	shift
	for p in "$@"; do
		coord routes unapprove "$id" "$p" >/dev/null || fail "routes unapprove $id $p"
	done
}

# ---- what the data plane and the interfaces say ----

# has_peer NS IFNAME PUBKEY: the interface (gateway UAPI or wireguard-go) has that peer.
has_peer() {
	wg_in "$1" show "$2" peers 2>/dev/null | grep -qxF "$3"
}

lacks_peer() {
	! has_peer "$@"
}

# peer_allows NS IFNAME PUBKEY PREFIX: the peer's allowed IPs include PREFIX.
peer_allows() {
	wg_in "$1" show "$2" allowed-ips 2>/dev/null |
		awk -v k="$3" '$1 == k { for (i = 2; i <= NF; i++) print $i }' | grep -qxF "$4"
}

# ping1 NS DST: one echo, answered within a second.
ping1() {
	run_bounded 5 ip netns exec "$1" ping -n -q -c 1 -W 1 "$2" >/dev/null 2>&1
}

# reaches NS DST [SECONDS]: a reply comes within SECONDS (default 15), then 3 of 3 answer.
reaches() {
	local ns="$1" dst="$2" deadline=$((SECONDS + ${3:-15}))
	until ping1 "$ns" "$dst"; do
		[ "$SECONDS" -lt "$deadline" ] || return 1
		sleep 0.2
	done
	ping_ok "$ns" "$dst" 3
}

# health NAME CMD: a gateway's health socket reply for {"cmd":CMD}.
gw_socket() {
	printf '%s' "$MG_STATE/$1.health"
}

health_raw() { # NAME CMD
	python3 - "$(gw_socket "$1")" "$2" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.connect(sys.argv[1])
s.sendall(('{"cmd":"%s"}\n' % sys.argv[2]).encode())
out = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    out += b
sys.stdout.write(out.decode())
EOF
}

# gw_coord_state NAME: the gateway's coordinator sync state from its health socket.
gw_coord_state() {
	health_raw "$1" status 2>/dev/null | jq -r '.coordinator.state // .coord.state // empty' 2>/dev/null
}

gw_synced() {
	[ "$(gw_coord_state "$1")" = synced ]
}

# ---- the whole mesh ----

# topo_join: namespaces, coordinator, identities, both gateways and the host, registered.
topo_join() {
	step "namespaces: wan bridge $WAN_PREFIX; coord; gwA + lanA ($LANA_NET4, $LANA_NET6);" \
		"gwB + lanB ($LANB_NET4, $LANB_NET6); host"
	topo_build
	topo_coord_start
	step "meshgate-coord on $COORD_URL (SQLite store, pid $COORD_PID)"
	topo_identities
	step "user ops; pre-auth keys: gwA (tag:site-a), gwB (tag:site-b), host; policy: open"
	topo_gateways
	if gw_is_reference; then
		step "reference gateways gwA ($IF_GWA) and gwB ($IF_GWB): agent + wireguard-go, kernel forwarding"
	else
		step "gateways gwA ($IF_GWA) and gwB ($IF_GWB): meshgate (DPDK, af_packet ports), coordinated"
	fi
	topo_host
	step "host: ${AGENT_CMD[*]##*/} driving wireguard-go ($IF_HOST)"
	wait_node gwA "$PUB_GWA" 30
	wait_node gwB "$PUB_GWB" 30
	wait_node host "$PUB_HOST" 30
	step "joined: gwA node ${NODE_ID[gwA]} $(node_field "$PUB_GWA" '.addresses | join(" ")')," \
		"gwB node ${NODE_ID[gwB]} $(node_field "$PUB_GWB" '.addresses | join(" ")')," \
		"host node ${NODE_ID[host]} $(node_field "$PUB_HOST" '.addresses | join(" ")')"
}

# topo_routes: approves the LAN routes the gateways advertise.
topo_routes() {
	topo_approve gwA "$LANA_NET4" "$LANA_NET6"
	topo_approve gwB "$LANB_NET4" "$LANB_NET6"
	step "routes approved: gwA $LANA_NET4 $LANA_NET6, gwB $LANB_NET4 $LANB_NET6"
}

# topo_up: everything the demo shows, in order, with a line per step on stdout.
topo_up() {
	topo_join
	topo_routes
	iperf_server "$NS_LANB"
}

# topo_wait_mesh SECONDS: every node has the peers (and gateways the routes) the open policy
# gives.
topo_wait_mesh() {
	local secs="$1"
	wait_for "$secs" "gwA to have gwB with $LANB_NET4" peer_allows "$NS_GWA" "$IF_GWA" "$PUB_GWB" "$LANB_NET4"
	wait_for "$secs" "gwB to have gwA with $LANA_NET4" peer_allows "$NS_GWB" "$IF_GWB" "$PUB_GWA" "$LANA_NET4"
	wait_for "$secs" "host to have gwA with $LANA_NET4" peer_allows "$NS_HOST" "$IF_HOST" "$PUB_GWA" "$LANA_NET4"
	wait_for "$secs" "host to have gwB with $LANB_NET4" peer_allows "$NS_HOST" "$IF_HOST" "$PUB_GWB" "$LANB_NET4"
}

# mbps JSON: received bit rate in Mbit/s (one decimal).
mbps() {
	jq -r '.end.sum_received.bits_per_second / 1e6 * 10 | floor / 10' "$1"
}
