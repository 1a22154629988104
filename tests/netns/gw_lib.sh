# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
#
# Gateway helpers for the netns tests, on top of lib.sh (source lib.sh first, then this file).
#
# A gateway is described by GW_* variables (see gw_write_config), written out as the meshgate
# YAML and, beside it, as a bash snapshot of the same variables. The snapshot lets the scripts
# run against a reference gateway: with MESHGATE_IMPL=wireguard-go, gw_start runs wireguard-go
# with kernel forwarding in the gateway's namespace instead of meshgate. That is how the
# scripts themselves are checked (the reference must pass every check but the meshgate-only
# ones), and a failure that the reference does not show is the gateway's.
#
# The kernel side of a meshgate port (the veth end af_packet opens) has no address and IPv6
# off, so only the gateway answers on that link. Every veth end that sends toward a gateway
# port gets TX checksum offload turned off: a veth hands the peer packets whose TCP/UDP
# checksum is still partial (CHECKSUM_PARTIAL) or whole TSO super-frames, and the af_packet PMD
# has no virtio-net header to learn that, so it would forward them as they are.

MESHGATE_IMPL=${MESHGATE_IMPL:-meshgate}
GW_BIN=""

# gw_setup_binary [PATH]: the meshgate executable is PATH, else $MESHGATE_BIN. Skips the test
# when it is not built (the reference implementation needs none).
gw_setup_binary() {
	case "$MESHGATE_IMPL" in
	meshgate)
		GW_BIN=${MESHGATE_BIN:-${1:-}}
		[ -n "$GW_BIN" ] || skip "no meshgate binary given (argument or MESHGATE_BIN)"
		[ -x "$GW_BIN" ] || skip "meshgate is not built: $GW_BIN"
		;;
	wireguard-go) log "reference run: wireguard-go with kernel forwarding plays the gateway" ;;
	*) fail "MESHGATE_IMPL must be meshgate or wireguard-go, got '$MESHGATE_IMPL'" ;;
	esac
}

gw_is_reference() {
	[ "$MESHGATE_IMPL" = wireguard-go ]
}

# The tools every gateway script needs.
gw_require_common() {
	require_root
	require_commands ip wg wireguard-go ping timeout setsid python3 jq sysctl
}

# ---- topology ----

# no_tx_offload NS IF...: turns TX checksum offload off (TSO and GSO follow, as they need it)
# through the ethtool ioctl, so nothing partial leaves these interfaces.
no_tx_offload() {
	local ns="$1"
	shift
	ip netns exec "$ns" python3 - "$@" <<'EOF' || fail "turning off TX checksum offload in $ns on $*"
import ctypes, fcntl, socket, struct, sys
SIOCETHTOOL, ETHTOOL_STXCSUM, ETHTOOL_GTXCSUM = 0x8946, 0x17, 0x16
def ethtool(name, cmd, data=0):
    val = ctypes.create_string_buffer(struct.pack("II", cmd, data), 8)
    ifr = struct.pack("16sP", name.encode(), ctypes.addressof(val)) + bytes(16)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        fcntl.ioctl(s.fileno(), SIOCETHTOOL, ifr)
    return struct.unpack("II", val.raw[:8])[1]
for name in sys.argv[1:]:
    ethtool(name, ETHTOOL_STXCSUM, 0)
    if ethtool(name, ETHTOOL_GTXCSUM) != 0:
        sys.exit(name + ": TX checksum offload is still on")
EOF
}

# ns_sysctl NS KEY=VALUE...
ns_sysctl() {
	local ns="$1"
	shift
	ip netns exec "$ns" sysctl -q -w "$@" >/dev/null || fail "sysctl $* in $ns"
}

# MG_GW_FORWARDING=1 builds the gateway's namespace as a router or Docker host would leave it:
# IPv4 and IPv6 forwarding on, IPv6 on for the port interfaces. meshgate's port guard must then
# keep the kernel out of its ports' path by itself (issue 18); the regression tests run so.
MG_GW_FORWARDING=${MG_GW_FORWARDING:-0}

gw_forwarding_on() {
	[ "$MG_GW_FORWARDING" = 1 ]
}

# gw_ns_add NS: the gateway's namespace. With meshgate, IPv6 is off by default there so the
# kernel never speaks on the port links (no router solicitations, DAD or MLD), and forwarding
# stays off (ns_add); the reference gateway is a router instead.
gw_ns_add() {
	ns_add "$1"
	if gw_is_reference || gw_forwarding_on; then
		ns_sysctl "$1" net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
	else
		ns_sysctl "$1" net.ipv6.conf.default.disable_ipv6=1 net.ipv6.conf.all.disable_ipv6=1
	fi
}

# gw_port_link GW_NS GW_IF OTHER_NS OTHER_IF: a veth whose GW_IF end becomes a gateway port.
gw_port_link() {
	veth_pair "$1" "$2" "$3" "$4"
	gw_is_reference || gw_forwarding_on || ns_sysctl "$1" "net.ipv6.conf.$2.disable_ipv6=1"
	no_tx_offload "$3" "$4"
}

# host_link NS1 IF1 NS2 IF2: a veth between two hosts (neither a gateway port).
host_link() {
	veth_pair "$1" "$2" "$3" "$4"
	no_tx_offload "$1" "$2"
	no_tx_offload "$3" "$4"
}

# bridge_ns_add NS: a namespace holding bridge br0 (the "internet" segment). No IPv6 of its own
# and no multicast snooping, so ND multicast reaches every port.
bridge_ns_add() {
	ns_add "$1"
	ns_sysctl "$1" net.ipv6.conf.default.disable_ipv6=1 net.ipv6.conf.all.disable_ipv6=1
	ip -n "$1" link add br0 type bridge mcast_snooping 0 || fail "bridge br0 in $1"
	ip -n "$1" link set br0 up || fail "br0 up in $1"
}

# bridge_attach BRIDGE_NS PORT_IF: makes PORT_IF (already in BRIDGE_NS) a port of br0.
bridge_attach() {
	ip -n "$1" link set "$2" master br0 || fail "$2 into br0 in $1"
	no_tx_offload "$1" "$2"
}

# addr_replace NS IF ADDR/PREFIX: like addr_add, but idempotent.
addr_replace() {
	case "$3" in
	*:*) ip -n "$1" -6 addr replace "$3" dev "$2" nodad || fail "addr $3 on $1/$2" ;;
	*) ip -n "$1" addr replace "$3" dev "$2" || fail "addr $3 on $1/$2" ;;
	esac
}

# endpoint ADDR PORT: HOST:PORT with brackets for IPv6.
endpoint() {
	case "$1" in
	*:*) printf '[%s]:%s' "$1" "$2" ;;
	*) printf '%s:%s' "$1" "$2" ;;
	esac
}

# ---- keys ----

# gen_key NAME: writes $MG_STATE/NAME.key (mode 600) and prints the public key.
gen_key() {
	(umask 077 && wg genkey >"$MG_STATE/$1.key") || fail "wg genkey"
	wg pubkey <"$MG_STATE/$1.key" || fail "wg pubkey"
}

# ---- gateway configuration ----
#
# The caller sets, then calls gw_write_config FILE:
#   GW_NAME        short name (file prefix, log file gw-NAME.log)
#   GW_NS          the gateway's namespace
#   GW_IFNAME      interface name (UAPI socket name; unique per run: if_name)
#   GW_KEY         private key file
#   GW_PORT        listen port
#   GW_LAN_IF GW_LAN4 GW_LAN6      LAN port: kernel veth end, address/prefix per family
#   GW_MESH_IF GW_MESH4 GW_MESH6   mesh port
#   GW_MESH_GW4 GW_MESH_GW6        optional next hops on the mesh side ("" for none)
#   GW_PEERS       array of "PUBKEY|ALLOWED,IPS|ENDPOINT|KEEPALIVE" (ENDPOINT, KEEPALIVE may be "")
#   GW_PEERS_YAML  optional file with a whole `peers:` section (gen_peers output); replaces GW_PEERS
#   GW_PEERS_WGCONF  the same peers as `wg addconf` input, for the reference gateway
#   GW_EXTRA       optional YAML appended at top level (e.g. "test: { timer_divisor: 30 }")
#   GW_EAL_MEM     EAL memory in MB (default 512; --no-huge memory is only touched as used)
#   GW_LOG_LEVEL   default info, or $MESHGATE_LOG_LEVEL
#   GW_MAX_PEERS GW_MAX_PREFIXES   limits (default 256 and 4096: the tables are sized for them up
#                  front, and the built-in 262144 prefixes need more EAL memory than a test wants)
#   GW_CONTROL_LCORE GW_WORKER_LCORE   CPUs of the control thread and the one worker (0 and 1)
#   GW_AF_PACKET_ARGS  both ports' af_packet devargs after iface= (default below)
#
# qpairs=2: a queue pair for the worker and one for the control thread. The PMD joins its
# sockets into a PACKET_FANOUT group with the rollover flag (DPDK 22.11 hard-codes
# HASH|DEFRAG|ROLLOVER): once a ring is 3/4 full, the kernel moves an elephant flow's next
# packets to the other queue, the worker forwards them out of order, and TCP through the
# gateway counts thousands of spurious retransmits with nothing dropped. 2048 frames a ring
# (default 512) hold more than a TCP flow's window here, so that stays rare. Cost: 4 MiB a
# ring, 32 MiB a gateway.
GW_AF_PACKET_ARGS_DEFAULT=qpairs=2,framecnt=2048

gw_reset_vars() {
	GW_NAME="" GW_NS="" GW_IFNAME="" GW_KEY="" GW_PORT=51820
	GW_LAN_IF="" GW_LAN4="" GW_LAN6="" GW_MESH_IF="" GW_MESH4="" GW_MESH6=""
	GW_MESH_GW4="" GW_MESH_GW6="" GW_PEERS=() GW_PEERS_YAML="" GW_PEERS_WGCONF="" GW_EXTRA=""
	GW_AF_PACKET_ARGS=$GW_AF_PACKET_ARGS_DEFAULT GW_CONTROL_LCORE=0 GW_WORKER_LCORE=1
	GW_EAL_MEM=512 GW_LOG_LEVEL=${MESHGATE_LOG_LEVEL:-info} GW_MAX_PEERS=256 GW_MAX_PREFIXES=4096
}
gw_reset_vars

# yaml_list A,B,C: [A, B, C]
yaml_list() {
	local out="" item
	local IFS=,
	for item in $1; do
		out="${out:+$out, }$item"
	done
	printf '[%s]' "$out"
}

# gw_write_config FILE: the YAML from the GW_* variables, and FILE.vars (the snapshot).
gw_write_config() {
	local file="$1" p pub allowed ep ka
	{
		printf '# generated by gw_lib.sh for test run %s\n' "$MG_ID"
		printf 'interface:\n  name: %s\n  private_key_file: %s\n  listen_port: %s\n' \
			"$GW_IFNAME" "$GW_KEY" "$GW_PORT"
		printf '  mtu: 1420\n'
		printf 'ports:\n'
		printf '  lan:\n    devargs: net_af_packet0,iface=%s,%s\n' "$GW_LAN_IF" "$GW_AF_PACKET_ARGS"
		[ -z "$GW_LAN4" ] || printf '    ipv4: %s\n' "$GW_LAN4"
		[ -z "$GW_LAN6" ] || printf '    ipv6: %s\n' "$GW_LAN6"
		printf '  mesh:\n    devargs: net_af_packet1,iface=%s,%s\n' "$GW_MESH_IF" "$GW_AF_PACKET_ARGS"
		[ -z "$GW_MESH4" ] || printf '    ipv4: %s\n' "$GW_MESH4"
		[ -z "$GW_MESH6" ] || printf '    ipv6: %s\n' "$GW_MESH6"
		[ -z "$GW_MESH_GW4" ] || printf '    gateway4: %s\n' "$GW_MESH_GW4"
		[ -z "$GW_MESH_GW6" ] || printf '    gateway6: %s\n' "$GW_MESH_GW6"
		printf 'lcores:\n  control: %s\n  workers: [%s]\n' "$GW_CONTROL_LCORE" "$GW_WORKER_LCORE"
		printf 'eal: [--no-huge, --in-memory, --no-pci, --file-prefix=mg-%s-%s, -m, "%s"]\n' \
			"$MG_ID" "$GW_NAME" "$GW_EAL_MEM"
		printf 'idle:\n  backoff: true\n  max_sleep_us: 500\n'
		printf 'sockets:\n  health: %s\n' "$MG_STATE/$GW_NAME.health"
		printf 'log_level: %s\n' "$GW_LOG_LEVEL"
		printf 'limits:\n  max_peers: %s\n  max_prefixes: %s\n' "$GW_MAX_PEERS" "$GW_MAX_PREFIXES"
		[ -z "$GW_EXTRA" ] || printf '%s\n' "$GW_EXTRA"
		if [ -n "$GW_PEERS_YAML" ]; then
			cat "$GW_PEERS_YAML"
		elif [ "${#GW_PEERS[@]}" -gt 0 ]; then
			printf 'peers:\n'
			for p in "${GW_PEERS[@]}"; do
				IFS='|' read -r pub allowed ep ka <<<"$p"
				printf '  - public_key: %s\n    allowed_ips: %s\n' "$pub" "$(yaml_list "$allowed")"
				[ -z "$ep" ] || printf '    endpoint: "%s"\n' "$ep"
				[ -z "$ka" ] || printf '    persistent_keepalive: %s\n' "$ka"
			done
		fi
	} >"$file" || fail "writing $file"
	declare -p GW_NAME GW_NS GW_IFNAME GW_KEY GW_PORT GW_LAN_IF GW_LAN4 GW_LAN6 GW_MESH_IF \
		GW_MESH4 GW_MESH6 GW_MESH_GW4 GW_MESH_GW6 GW_PEERS GW_PEERS_YAML GW_PEERS_WGCONF GW_EXTRA \
		>"$file.vars" || fail "writing $file.vars"
}

# ---- diagnostics ----

# On failure, before lib.sh's cleanup prints the logs: what each gateway and wireguard-go
# interface of this run reports, and the neighbour tables, into a log that cleanup shows.
gw_diag() {
	local ns sock
	{
		for sock in /var/run/wireguard/*"$MG_ID".sock; do
			[ -S "$sock" ] || continue
			sock=${sock##*/}
			printf '== wg show %s\n' "${sock%.sock}"
			run_bounded 5 wg show "${sock%.sock}" 2>&1
		done
		[ -f "$MG_STATE/netns" ] && while read -r ns; do
			printf '== ip neigh in %s\n' "$ns"
			ip -n "$ns" neigh show 2>&1
		done <"$MG_STATE/netns"
		# wireguard-go's handshake story, which the 40-line tails may cut.
		for f in "$MG_STATE"/wireguard-go*.log; do
			[ -f "$f" ] || continue
			printf '== handshakes and keepalives in %s (last 60)\n' "${f##*/}"
			grep -E 'andshake|eepalive|Retrying|rror' "$f" | tail -n 60
		done
	} >"$MG_STATE/zz-diagnostics.log" 2>&1
	# GW_KEEP_LOGS=DIR keeps every log of a failed run.
	if [ -n "${GW_KEEP_LOGS:-}" ]; then
		mkdir -p "$GW_KEEP_LOGS/mg-$MG_ID" && cp "$MG_STATE"/*.log "$MG_STATE"/*.yaml \
			"$MG_STATE"/*.json "$GW_KEEP_LOGS/mg-$MG_ID/" 2>/dev/null
	fi
}

fail() {
	printf 'FAIL: %s\n' "$*" >&2
	[ -z "$MG_STATE" ] || [ ! -d "$MG_STATE" ] || gw_diag || true
	exit 1
}

# ---- running a gateway ----

# Per gateway name: its pid and the config it runs.
declare -A GW_PIDS=() GW_CONFIGS=()

gw_log_file() {
	printf '%s/gw-%s.log' "$MG_STATE" "$1"
}

# gw_start CONFIG [WAIT_SECONDS]: starts the gateway the config describes and waits for its
# UAPI socket (and, for meshgate, for `wg show` to answer). Fails with the log when it dies.
gw_start() {
	local config="$1" secs="${2:-30}"
	(
		# shellcheck disable=SC1090
		source "$config.vars"
		printf '%s %s %s\n' "$GW_NAME" "$GW_NS" "$GW_IFNAME"
	) >"$MG_STATE/.gw_ident" || fail "reading $config.vars"
	local name ns ifname pid deadline logf
	read -r name ns ifname <"$MG_STATE/.gw_ident"
	logf=$(gw_log_file "$name")
	mg_file "/var/run/wireguard/$ifname.sock"
	if gw_is_reference; then
		gw_start_reference "$config" "$logf"
		pid=$MG_SPAWNED_PID
	else
		printf -- '--- start %s ---\n' "$(date +%T)" >>"$logf.all"
		spawn "$logf" ip netns exec "$ns" "$GW_BIN" --config "$config"
		pid=$MG_SPAWNED_PID
		deadline=$((SECONDS + secs))
		until [ -S "/var/run/wireguard/$ifname.sock" ] &&
			run_bounded 5 wg show "$ifname" listen-port >/dev/null 2>&1; do
			if ! kill -0 "$pid" 2>/dev/null ||
				[ "$(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null)" = Z ]; then
				local rc=0
				wait "$pid" || rc=$?
				tail -n 40 "$logf" >&2
				fail "meshgate $name exited (status $rc) before its UAPI socket answered"
			fi
			[ "$SECONDS" -lt "$deadline" ] || {
				tail -n 40 "$logf" >&2
				fail "meshgate $name: no UAPI socket after ${secs}s"
			}
			sleep 0.2
		done
	fi
	GW_PIDS[$name]=$pid
	GW_CONFIGS[$name]=$config
	log "gateway $name up ($MESHGATE_IMPL, pid $pid, interface $ifname)"
}

# gw_stop NAME: TERM, and the exit status must be 0 (a clean shutdown is part of the contract).
gw_stop() {
	local name="$1" pid="${GW_PIDS[$1]:-}" rc=0 logf
	[ -n "$pid" ] || fail "gateway $name is not running"
	logf=$(gw_log_file "$name")
	kill -TERM "$pid" 2>/dev/null || true
	wait_pid "$pid" 15 "gateway $name after SIGTERM" || rc=$?
	unset "GW_PIDS[$name]"
	cat "$logf" >>"$logf.all" 2>/dev/null
	if gw_is_reference; then
		# The tun device goes with the process; routes on it go too.
		return 0
	fi
	[ "$rc" -eq 0 ] || {
		tail -n 20 "$logf" >&2
		fail "meshgate $name exited with status $rc on SIGTERM"
	}
	log "gateway $name stopped"
}

# gw_restart NAME: stop and start again with the same config (every key and session gone).
gw_restart() {
	local config="${GW_CONFIGS[$1]}"
	gw_stop "$1"
	gw_start "$config"
}

# gw_alive NAME: fails the test when the gateway died.
gw_alive() {
	local pid="${GW_PIDS[$1]:-}"
	if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null ||
		[ "$(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null)" = Z ]; then
		tail -n 40 "$(gw_log_file "$1")" >&2
		fail "gateway $1 is not running any more"
	fi
}

# The reference gateway: wireguard-go on GW_IFNAME, the kernel routes between the ports.
gw_start_reference() {
	local config="$1" logf="$2" p pub allowed ep ka a
	# shellcheck disable=SC1090
	source "$config.vars"
	LOG_LEVEL=verbose wg_go_start "$GW_NS" "$GW_IFNAME" "$logf"
	local args=(set "$GW_IFNAME" private-key "$GW_KEY" listen-port "$GW_PORT")
	for p in "${GW_PEERS[@]}"; do
		IFS='|' read -r pub allowed ep ka <<<"$p"
		args+=(peer "$pub" allowed-ips "$allowed")
		[ -z "$ep" ] || args+=(endpoint "$ep")
		[ -z "$ka" ] || args+=(persistent-keepalive "$ka")
	done
	[ -z "$GW_PEERS_YAML" ] || [ -n "$GW_PEERS_WGCONF" ] ||
		fail "the reference gateway needs GW_PEERS_WGCONF beside GW_PEERS_YAML"
	run_bounded 10 ip netns exec "$GW_NS" wg "${args[@]}" || fail "wg set on reference $GW_IFNAME"
	ip -n "$GW_NS" link set "$GW_IFNAME" mtu 1420 up || fail "link up $GW_IFNAME"
	ns_sysctl "$GW_NS" "net.ipv6.conf.$GW_IFNAME.disable_ipv6=0"
	if [ -n "$GW_PEERS_WGCONF" ]; then
		run_bounded 120 ip netns exec "$GW_NS" wg addconf "$GW_IFNAME" "$GW_PEERS_WGCONF" ||
			fail "wg addconf on reference $GW_IFNAME"
		awk -v dev="$GW_IFNAME" -F' = ' '$1 == "AllowedIPs" {
			n = split($2, p, ", "); for (i = 1; i <= n; i++) print "route replace " p[i] " dev " dev
		}' "$GW_PEERS_WGCONF" | ip -n "$GW_NS" -batch - || fail "routes on reference $GW_IFNAME"
	fi
	[ -z "$GW_LAN4" ] || addr_replace "$GW_NS" "$GW_LAN_IF" "$GW_LAN4"
	[ -z "$GW_LAN6" ] || addr_replace "$GW_NS" "$GW_LAN_IF" "$GW_LAN6"
	[ -z "$GW_MESH4" ] || addr_replace "$GW_NS" "$GW_MESH_IF" "$GW_MESH4"
	[ -z "$GW_MESH6" ] || addr_replace "$GW_NS" "$GW_MESH_IF" "$GW_MESH6"
	[ -z "$GW_MESH_GW4" ] || ip -n "$GW_NS" route replace default via "$GW_MESH_GW4" ||
		fail "default route on reference gateway"
	[ -z "$GW_MESH_GW6" ] || ip -n "$GW_NS" -6 route replace default via "$GW_MESH_GW6" ||
		fail "default route on reference gateway"
	# Routes for every peer's allowed IPs, as wg-quick adds them.
	for p in "${GW_PEERS[@]}"; do
		IFS='|' read -r pub allowed ep ka <<<"$p"
		local IFS=,
		for a in $allowed; do
			ip -n "$GW_NS" route replace "$a" dev "$GW_IFNAME" ||
				fail "route $a on reference gateway"
		done
		unset IFS
	done
}

# ---- asking the gateway (or any wg interface) ----

# wg_in NS ARGS...: stock wg inside NS, bounded.
wg_in() {
	local ns="$1"
	shift
	run_bounded 15 ip netns exec "$ns" wg "$@"
}

# wg_field NS IFNAME FIELD PUBKEY: what `wg show IFNAME FIELD` says for that peer ("" if absent).
wg_field() {
	wg_in "$1" show "$2" "$3" | awk -v k="$4" '$1 == k { $1 = ""; print substr($0, 2) }'
}

# wait_handshake NS IFNAME PUBKEY SECONDS: until latest-handshakes for the peer is non-zero.
wait_handshake() {
	local ns="$1" ifname="$2" pub="$3" secs="$4" deadline hs
	deadline=$((SECONDS + secs))
	while :; do
		hs=$(wg_field "$ns" "$ifname" latest-handshakes "$pub") || hs=""
		[ -z "$hs" ] || [ "$hs" = 0 ] || return 0
		[ "$SECONDS" -lt "$deadline" ] ||
			fail "no handshake on $ifname with ${pub:0:8}… after ${secs}s (latest-handshakes '${hs}')"
		sleep 0.2
	done
}

# gw_health NAME: the gateway's health JSON on stdout, or nothing when it has none (reference
# gateway, or no health socket yet): GET /status over the unix socket (gateway/health.h).
gw_health() {
	local sock="$MG_STATE/$1.health"
	gw_is_reference && return 0
	[ -S "$sock" ] || return 0
	command -v curl >/dev/null 2>&1 || return 0
	run_bounded 5 curl -sf --unix-socket "$sock" http://localhost/status 2>/dev/null || true
}

# gw_drop_count NAME REASON: the gateway's drop counter for REASON (snake_case, as
# mg_drop_reason_name), or "" when the health socket does not tell.
gw_drop_count() {
	gw_health "$1" | jq -r --arg r "$2" \
		'.drops[$r] // empty' 2>/dev/null || true
}

# ---- traffic ----

# ping_ok NS DST COUNT [EXTRA PING ARGS...]: COUNT replies within 15 s. Errors such as an ICMP
# unreachable while a handshake completes do not stop ping, only the deadline does.
ping_ok() {
	local ns="$1" dst="$2" count="$3" out
	shift 3
	out=$(run_bounded 20 ip netns exec "$ns" ping -n -q -c "$count" -i 0.2 -W 2 -w 15 "$@" "$dst" 2>&1) || {
		printf '%s\n' "$out" >&2
		return 1
	}
}

# ping_fails NS DST [EXTRA PING ARGS...]: no reply to 3 pings sent over ~2 s.
ping_fails() {
	local ns="$1" dst="$2"
	shift 2
	! run_bounded 10 ip netns exec "$ns" ping -n -q -c 3 -i 0.5 -W 1 -w 3 "$@" "$dst" >/dev/null 2>&1
}

# iperf_server NS: an iperf3 server in NS (spawned, cleaned up with the test).
iperf_server() {
	spawn "$MG_STATE/iperf3-server-$1.log" ip netns exec "$1" iperf3 -s -i 0
	wait_for 10 "iperf3 server in $1" \
		sh -c "ip netns exec '$1' ss -Hltn 'sport = :5201' | grep -q LISTEN"
}

# iperf_run NS DST JSON_OUT ARGS...: iperf3 client, bounded, JSON to JSON_OUT. Fails the
# test when iperf3 fails or moved nothing.
iperf_run() {
	local ns="$1" dst="$2" out="$3" bytes
	shift 3
	run_bounded 40 ip netns exec "$ns" iperf3 -c "$dst" -J --connect-timeout 5000 "$@" >"$out" 2>&1 || {
		jq -r '.error // empty' "$out" 2>/dev/null >&2 || tail -n 5 "$out" >&2
		return 1
	}
	bytes=$(jq -r '.end.sum_received.bytes // .end.sum.bytes // 0' "$out")
	[ "${bytes%.*}" -gt 0 ] || {
		log "iperf3 to $dst moved no bytes"
		return 1
	}
}
