# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
#
# Helpers shared by the netns tests. Source it from a script running under `set -euo pipefail`,
# then call mg_init once before creating anything.
#
# Everything a test creates (namespaces, processes, files) is registered in a per-run state
# directory and removed by mg_cleanup, which runs on EXIT, INT and TERM. meson sends TERM to the
# test's process group on a timeout and SIGKILL half a second later, which can cut the trap
# short, so mg_init also starts a reaper in its own session: it waits for the test to die and
# then removes whatever the state directory still lists.
#
# Names carry the test's pid (mg-<pid>-<name>) so parallel runs and leftovers of a crashed run
# never collide, and a leftover is traceable to its run.

MG_ID="$$"
MG_STATE=""
MG_SPAWNED_PID=""
MG_REAPER_PID=""
MG_LIB_PATH="${BASH_SOURCE[0]}"

log() {
	printf '[%s] %s\n' "$(date +%H:%M:%S.%N | cut -c1-12)" "$*" >&2
}

fail() {
	printf 'FAIL: %s\n' "$*" >&2
	exit 1
}

skip() {
	printf 'SKIP: %s\n' "$*" >&2
	exit 77
}

require_root() {
	[ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces, tun devices)"
}

# require_commands CMD...: skips the test, naming every missing command.
require_commands() {
	local missing=() c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || missing+=("$c")
	done
	[ "${#missing[@]}" -eq 0 ] || skip "missing commands: ${missing[*]}"
}

# ns_name NAME: the namespace name for this run.
ns_name() {
	printf 'mg-%s-%s' "$MG_ID" "$1"
}

# if_name PREFIX: an interface name unique to this run. Interface names are at most 15 bytes and
# wireguard-go's UAPI socket (/var/run/wireguard/<name>.sock) is shared by all namespaces.
if_name() {
	local name="$1$MG_ID"
	[ "${#name}" -le 15 ] || fail "interface name '$name' is longer than 15 bytes"
	printf '%s' "$name"
}

# The process start time (clock ticks since boot) tells a pid we started from a reused one.
mg_pid_starttime() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat="${stat##*) }"
	# shellcheck disable=SC2086
	set -- $stat
	printf '%s' "${20}"
}

mg_register() {
	printf '%s\n' "$2" >>"$MG_STATE/$1"
}

# ns_baseline NS: sets the forwarding and IPv6 sysctls instead of inheriting them. With
# net.core.devconf_inherit_init_net=0 (the default) a new namespace copies the host's IPv4
# settings, ip_forward included, while IPv6 starts from the kernel defaults: on a host that
# forwards (starting dockerd turns it on) every namespace would route, and a gateway's
# namespace would send every frame for its ports back onto the wire (issue 18). Routers and
# gateways turn on what they need after this.
ns_baseline() {
	ip netns exec "$1" sysctl -q -w net.ipv4.ip_forward=0 net.ipv4.conf.all.forwarding=0 \
		net.ipv4.conf.default.forwarding=0 net.ipv6.conf.all.forwarding=0 \
		net.ipv6.conf.default.forwarding=0 net.ipv6.conf.all.disable_ipv6=0 \
		net.ipv6.conf.default.disable_ipv6=0 >/dev/null || fail "baseline sysctls in $1"
}

# ns_add NAME...: creates the namespaces (full names from ns_name) with loopback up and the
# baseline sysctls (no forwarding, IPv6 on).
ns_add() {
	local ns
	for ns in "$@"; do
		case "$ns" in
		"mg-$MG_ID-"*) ;;
		*) fail "namespace '$ns' does not carry this run's prefix mg-$MG_ID-" ;;
		esac
		mg_register netns "$ns"
		ip netns add "$ns" || fail "ip netns add $ns"
		ip -n "$ns" link set lo up || fail "loopback up in $ns"
		ns_baseline "$ns"
	done
}

# veth_pair NS1 IF1 NS2 IF2: a veth pair between two namespaces, both ends up.
veth_pair() {
	ip link add "$2" netns "$1" type veth peer name "$4" netns "$3" ||
		fail "veth $1/$2 <-> $3/$4"
	ip -n "$1" link set "$2" up || fail "link up $1/$2"
	ip -n "$3" link set "$4" up || fail "link up $3/$4"
}

# addr_add NS IF ADDR/PREFIX: IPv6 addresses skip duplicate address detection so they are usable
# at once (the namespaces hold nothing that could conflict).
addr_add() {
	case "$3" in
	*:*) ip -n "$1" -6 addr add "$3" dev "$2" nodad || fail "addr $3 on $1/$2" ;;
	*) ip -n "$1" addr add "$3" dev "$2" || fail "addr $3 on $1/$2" ;;
	esac
}

# mg_file PATH: removed at cleanup (for files outside the state directory).
mg_file() {
	mg_register files "$1"
}

# spawn LOGFILE CMD...: starts CMD in the background with its output in LOGFILE, registers it for
# cleanup and leaves its pid in MG_SPAWNED_PID. Output never goes to the test's stdout: meson
# reads that until EOF, and a straggler holding it open would stall the run.
spawn() {
	local logfile="$1" st
	shift
	"$@" </dev/null >"$logfile" 2>&1 &
	MG_SPAWNED_PID=$!
	st=$(mg_pid_starttime "$MG_SPAWNED_PID") || st=0
	mg_register pids "$MG_SPAWNED_PID $st"
}

# stop_pid PID [GRACE_SECONDS]: TERM, then KILL after the grace time; reaps it if it is our child.
stop_pid() {
	local pid="$1" grace="${2:-2}" i
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < grace * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		[ "$(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null)" != Z ] || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

# wait_pid PID SECONDS DESC: waits for a spawned process to exit and returns its status; fails the
# test if it is still running after SECONDS. `wait` is interruptible, so a signal to the test is
# handled at once.
wait_pid() {
	local pid="$1" secs="$2" desc="$3" deadline rc
	deadline=$((SECONDS + secs))
	while kill -0 "$pid" 2>/dev/null && [ "$(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null)" != Z ]; do
		[ "$SECONDS" -lt "$deadline" ] || {
			stop_pid "$pid" 1
			fail "$desc still running after ${secs}s"
		}
		sleep 0.1
	done
	rc=0
	wait "$pid" || rc=$?
	return "$rc"
}

# run_bounded SECONDS CMD...: runs CMD in the foreground with a hard time limit (exit 124 when it
# ran out). --foreground keeps it in the test's process group so meson's TERM reaches it.
run_bounded() {
	local secs="$1"
	shift
	timeout --foreground --kill-after=2 "$secs" "$@"
}

# wait_for SECONDS DESC CMD...: polls CMD every 0.1 s until it succeeds; fails after SECONDS.
wait_for() {
	local secs="$1" desc="$2" deadline
	shift 2
	deadline=$(($(date +%s%N) + secs * 1000000000))
	until "$@" >/dev/null 2>&1; do
		[ "$(date +%s%N)" -lt "$deadline" ] || fail "timed out after ${secs}s waiting for $desc"
		sleep 0.1
	done
}

# Removes everything the state directory lists. Idempotent; safe to run twice (trap and reaper).
mg_cleanup_state() {
	local state="$1" pid st ns f
	[ -d "$state" ] || return 0
	if [ -f "$state/pids" ]; then
		while read -r pid st; do
			[ "$(mg_pid_starttime "$pid")" = "$st" ] && kill -TERM "$pid" 2>/dev/null
		done <"$state/pids"
		# meshgate stops its lcores and ports before exiting: give daemons a few seconds.
		for _ in $(seq 50); do
			local alive=0
			while read -r pid st; do
				if [ "$(mg_pid_starttime "$pid")" = "$st" ] &&
					[ "$(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null)" != Z ]; then
					alive=1
				fi
			done <"$state/pids"
			[ "$alive" -eq 1 ] || break
			sleep 0.1
		done
		while read -r pid st; do
			[ "$(mg_pid_starttime "$pid")" = "$st" ] && kill -KILL "$pid" 2>/dev/null
		done <"$state/pids"
	fi
	if [ -f "$state/netns" ]; then
		while read -r ns; do
			ip netns del "$ns" 2>/dev/null
		done <"$state/netns"
	fi
	if [ -f "$state/files" ]; then
		while read -r f; do
			rm -f -- "$f"
		done <"$state/files"
	fi
	rm -rf -- "$state"
}

mg_cleanup() {
	local rc=$?
	set +e
	trap - EXIT INT TERM
	if [ -n "$MG_STATE" ]; then
		[ "$rc" -eq 0 ] || [ "$rc" -eq 77 ] || mg_dump_logs
		mg_cleanup_state "$MG_STATE"
		# Everything is gone: the reaper has nothing left to do.
		[ -z "$MG_REAPER_PID" ] || kill "$MG_REAPER_PID" 2>/dev/null
		# Reap our own children so no zombie outlives the test.
		wait 2>/dev/null
	fi
	exit "$rc"
}

# On failure, show the logs of spawned processes (wireguard-go, the tool) to explain it.
mg_dump_logs() {
	local f
	for f in "$MG_STATE"/*.log; do
		[ -s "$f" ] || continue
		printf -- '--- %s (last 40 lines) ---\n' "${f##*/}" >&2
		tail -n 40 "$f" >&2
	done
}

# The reaper's body: runs detached, returns when the test is gone or has cleaned up itself.
mg_reap() {
	local parent="$1" state="$2"
	while [ -d "$state" ] && kill -0 "$parent" 2>/dev/null &&
		[ "$(cut -d' ' -f3 "/proc/$parent/stat" 2>/dev/null)" != Z ]; do
		sleep 0.2
	done
	mg_cleanup_state "$state"
}

# mg_init: state directory, traps and the reaper (which watches this shell's pid, not MG_ID:
# a script may give MG_ID a prefix). Call once, before creating anything.
mg_init() {
	MG_STATE=$(mktemp -d "/tmp/mg-$MG_ID.XXXXXX") || fail "mktemp"
	trap mg_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	# Not a process group leader, so setsid execs in place and $! is the reaper itself.
	# shellcheck disable=SC2016 # expanded by the reaper's own bash
	setsid bash -c 'source "$1"; mg_reap "$2" "$3"' mg-reaper "$MG_LIB_PATH" "$$" \
		"$MG_STATE" </dev/null >/dev/null 2>&1 &
	MG_REAPER_PID=$!
}

# wg_go_start NS IFNAME LOGFILE: runs wireguard-go in the foreground (so we own its pid) inside
# NS and waits until its interface and UAPI socket exist.
wg_go_start() {
	local ns="$1" ifname="$2" logfile="$3"
	mg_file "/var/run/wireguard/$ifname.sock"
	spawn "$logfile" env WG_PROCESS_FOREGROUND=1 ip netns exec "$ns" wireguard-go "$ifname"
	WG_GO_PID=$MG_SPAWNED_PID
	wait_for 10 "wireguard-go's $ifname in $ns" \
		test -S "/var/run/wireguard/$ifname.sock" -a -e "/proc/$WG_GO_PID"
	wait_for 5 "link $ifname in $ns" ip -n "$ns" link show "$ifname"
}
