#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Two meshgate gateways joined site to site with static peers, on this one host, as root:
#
#   bash scripts/site-to-site.sh [--once] [--build DIR]
#
#   host A ── [a-lan  gateway A  a-wan] ══ WAN ══ [b-wan  gateway B  b-lan] ── host B
#
# Builds with meson (DIR, default build/, reused when configured; the packages come from
# scripts/install-deps.sh), creates the network namespaces s2s-hostA, s2s-gwA, s2s-gwB and
# s2s-hostB with veth links, writes both gateways' keys with `wg genkey` into the run
# directory /run/meshgate-s2s, renders conf/site-to-site-{a,b}.yaml there with the other
# side's public key, and starts both gateways. Then it pings host A -> host B over IPv4 and
# IPv6, measures 3 s of iperf3 TCP, and shows `wg show` over each gateway's UAPI socket and
# `meshctl status` over each health socket. It stays up until Ctrl-C; --once exits after the
# checks (status 0 when every check passed, 77 when this host cannot run it: not root, or a
# tool missing). Everything it created is removed on exit, also when it fails or is killed:
# /run/meshgate-s2s is a link to the run's state directory under /tmp, and lib.sh's reaper
# cleans up after a SIGKILL. One run at a time (the names are fixed): a second one waits.
#
#   --once       exit after the checks
#   --build DIR  meson build directory (default: build/ in the source tree)
# MESHGATE_BIN and MESHCTL_BIN override the binaries (no build then).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SELF="$ROOT/scripts/site-to-site.sh"
ONCE=0
BUILD_DIR=$ROOT/build
RUN_DIR=/run/meshgate-s2s
NS_HOSTA=s2s-hostA NS_GWA=s2s-gwA NS_GWB=s2s-gwB NS_HOSTB=s2s-hostB
HOST_A4=192.168.1.10 HOST_A6=fd00:a::10 GW_A4=192.168.1.1 GW_A6=fd00:a::1
HOST_B4=192.168.2.10 HOST_B6=fd00:b::10 GW_B4=192.168.2.1 GW_B6=fd00:b::1

if [ -t 1 ]; then
	OK=$'\033[32m✓\033[0m' BAD=$'\033[31m✗\033[0m'
else
	OK=✓ BAD=✗
fi
ok() { printf '%s %s\n' "$OK" "$*"; }
bad() { printf '%s %s\n' "$BAD" "$*"; }
# indent: the output of a command shown under its step.
indent() { sed '/./s/^/    /'; }

while [ $# -gt 0 ]; do
	case "$1" in
	--once) ONCE=1 ;;
	--build)
		[ $# -ge 2 ] || { bad "--build needs a directory"; exit 2; }
		BUILD_DIR=$(realpath -m "$2")
		shift
		;;
	-h | --help)
		sed -n '4,25s/^# \{0,1\}//p' "$SELF"
		exit 0
		;;
	*)
		bad "unknown argument '$1' (try --help)"
		exit 2
		;;
	esac
	shift
done

# ---- preconditions: 77 tells meson (and a script calling this one) the host cannot run it ----

[ "$(id -u)" -eq 0 ] || { bad "run as root: network namespaces and DPDK need it"; exit 77; }
missing=()
for c in ip wg ping iperf3 jq ss python3 sysctl timeout setsid flock meson ninja; do
	command -v "$c" >/dev/null 2>&1 || missing+=("$c")
done
[ "${#missing[@]}" -eq 0 ] || {
	bad "missing ${missing[*]}: run scripts/install-deps.sh first"
	exit 77
}

# One run at a time: the names and /run/meshgate-s2s are fixed so the YAML can name them.
# The lock is this script file itself, so it leaves nothing behind.
exec {lock_fd}<"$SELF"
if ! flock -n "$lock_fd"; then
	printf '  another site-to-site run is active; waiting up to 120 s for it\n'
	flock -w 120 "$lock_fd" || { bad "another site-to-site run still holds $SELF"; exit 1; }
fi
for ns in "$NS_HOSTA" "$NS_GWA" "$NS_GWB" "$NS_HOSTB"; do
	[ ! -e "/run/netns/$ns" ] || {
		bad "namespace $ns exists (left by a run that was killed?): ip netns del $ns"
		exit 1
	}
done
if [ -L "$RUN_DIR" ] && [ ! -e "$RUN_DIR" ]; then
	rm -f "$RUN_DIR" # a dangling link from a killed run: its state directory is gone
fi
if [ -e "$RUN_DIR" ] || [ -L "$RUN_DIR" ]; then
	bad "$RUN_DIR exists: remove it first"
	exit 1
fi

# ---- build ----

if [ -n "${MESHGATE_BIN:-}" ]; then
	ok "build: skipped, MESHGATE_BIN=$MESHGATE_BIN"
else
	what=reused
	if [ ! -f "$BUILD_DIR/build.ninja" ]; then
		what=configured
		meson setup "$BUILD_DIR" "$ROOT" >/tmp/meshgate-s2s-setup.log 2>&1 || {
			tail -n 15 /tmp/meshgate-s2s-setup.log | indent
			bad "meson setup $BUILD_DIR failed (log /tmp/meshgate-s2s-setup.log); were the packages installed with scripts/install-deps.sh?"
			exit 1
		}
		rm -f /tmp/meshgate-s2s-setup.log
	fi
	ninja -C "$BUILD_DIR" -j 2 >/tmp/meshgate-s2s-build.log 2>&1 || {
		grep -m 15 -E 'error|FAILED' /tmp/meshgate-s2s-build.log | indent
		bad "ninja -C $BUILD_DIR failed (log /tmp/meshgate-s2s-build.log)"
		exit 1
	}
	rm -f /tmp/meshgate-s2s-build.log
	MESHGATE_BIN=$BUILD_DIR/gateway/meshgate
	[ -x "$MESHGATE_BIN" ] || {
		bad "no meshgate in $BUILD_DIR: configured without DPDK (-Ddataplane=false, or libdpdk-dev missing). Run scripts/install-deps.sh, then meson setup --wipe $BUILD_DIR"
		exit 1
	}
	ok "build: $BUILD_DIR ($what), ninja done"
fi
[ -x "$MESHGATE_BIN" ] || { bad "$MESHGATE_BIN is not an executable"; exit 1; }
MESHCTL_BIN=${MESHCTL_BIN:-$(dirname "$(dirname "$MESHGATE_BIN")")/cli/meshctl}
[ -x "$MESHCTL_BIN" ] || MESHCTL_BIN=$(command -v meshctl || true)

# ---- run state and teardown ----

# lib.sh: the state directory, the registry of namespaces, processes and files it holds, and a
# reaper that removes them even when this script is killed outright. gw_lib.sh: veth and
# sysctl helpers for gateway ports, iperf3.
# shellcheck source=../tests/netns/lib.sh
source "$ROOT/tests/netns/lib.sh"
# shellcheck source=../tests/netns/gw_lib.sh
source "$ROOT/tests/netns/gw_lib.sh"
fail() {
	bad "$*"
	exit 1
}
skip() {
	bad "$*"
	exit 77
}
log() { :; }

declare -A GW_PID=()
# gw_running PID: alive and not a zombie waiting to be reaped.
gw_running() {
	kill -0 "$1" 2>/dev/null && [ "$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)" != Z ]
}
declare -A GW_IF=([A]=s2s-a [B]=s2s-b)

# s2s_stop X: SIGTERM, and the exit status must be 0 (a clean shutdown is part of the check).
s2s_stop() {
	local pid=${GW_PID[$1]:-} rc=0 i
	[ -n "$pid" ] || return 0
	unset "GW_PID[$1]"
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 150; i++)); do
		gw_running "$pid" || break
		sleep 0.1
	done
	if [ "$i" -eq 150 ]; then
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		bad "gateway $1 still running 15 s after SIGTERM: killed"
		return 1
	fi
	wait "$pid" || rc=$?
	if [ "$rc" -eq 0 ]; then
		ok "gateway $1 stopped (exit 0)"
	else
		bad "gateway $1 exited with status $rc on SIGTERM"
		return 1
	fi
}

# On every exit: the gateways first (their exit status is checked), then lib.sh removes the
# namespaces, processes and files, and the result is verified.
teardown() {
	local rc=$? left=()
	set +e
	trap - EXIT INT TERM HUP
	[ "$rc" -ne 130 ] && [ "$WAITING" = 0 ] || printf '\n'
	s2s_stop A || { [ "$rc" -ne 0 ] || rc=1; }
	s2s_stop B || { [ "$rc" -ne 0 ] || rc=1; }
	# The logs go with the run directory: on failure, their ends are the explanation.
	if [ "$rc" -ne 0 ] && [ "$rc" -lt 129 ]; then
		for x in A B; do
			[ -s "$MG_STATE/gateway-$x.log" ] || continue
			printf '  gateway %s log, last lines:\n' "$x"
			tail -n 12 "$MG_STATE/gateway-$x.log" | indent
		done
	fi
	mg_cleanup_state "$MG_STATE"
	kill "$MG_REAPER_PID" 2>/dev/null
	wait 2>/dev/null
	for ns in "$NS_HOSTA" "$NS_GWA" "$NS_GWB" "$NS_HOSTB"; do
		[ ! -e "/run/netns/$ns" ] || left+=("netns $ns")
	done
	for f in "$RUN_DIR" "$MG_STATE" /var/run/wireguard/s2s-a.sock /var/run/wireguard/s2s-b.sock; do
		[ ! -e "$f" ] && [ ! -L "$f" ] || left+=("$f")
	done
	if [ "${#left[@]}" -eq 0 ]; then
		ok "torn down: 4 namespaces, their links, $RUN_DIR, UAPI sockets"
	else
		bad "left behind: ${left[*]}"
		[ "$rc" -ne 0 ] || rc=1
	fi
	exit "$rc"
}
mg_init
trap teardown EXIT
# Ctrl-C while waiting is the way to stop: status 0 when the teardown is clean.
WAITING=0
trap '[ "$WAITING" = 0 ] || exit 0; exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
ln -s "$MG_STATE" "$RUN_DIR" || fail "ln -s $MG_STATE $RUN_DIR"
mg_file "$RUN_DIR"

# ---- topology ----

# Every namespace sets its forwarding and IPv6 sysctls (ns_baseline: forwarding off, IPv6 on)
# rather than inherit the host's IPv4 ones.
for ns in "$NS_HOSTA" "$NS_HOSTB"; do
	mg_register netns "$ns"
	ip netns add "$ns" || fail "ip netns add $ns"
	ip -n "$ns" link set lo up || fail "loopback up in $ns"
	ns_baseline "$ns"
done
for ns in "$NS_GWA" "$NS_GWB"; do
	mg_register netns "$ns"
	ip netns add "$ns" || fail "ip netns add $ns"
	ip -n "$ns" link set lo up || fail "loopback up in $ns"
	ns_baseline "$ns"
	# The kernel stays silent on gateway ports: no IPv6 (no RS, DAD, MLD), no addresses.
	ns_sysctl "$ns" net.ipv6.conf.default.disable_ipv6=1 net.ipv6.conf.all.disable_ipv6=1
done
gw_port_link "$NS_GWA" a-lan "$NS_HOSTA" eth0
gw_port_link "$NS_GWB" b-lan "$NS_HOSTB" eth0
veth_pair "$NS_GWA" a-wan "$NS_GWB" b-wan
addr_add "$NS_HOSTA" eth0 "$HOST_A4/24"
addr_add "$NS_HOSTA" eth0 "$HOST_A6/64"
ip -n "$NS_HOSTA" route add default via "$GW_A4" || fail "default route in $NS_HOSTA"
ip -n "$NS_HOSTA" -6 route add default via "$GW_A6" || fail "IPv6 default route in $NS_HOSTA"
addr_add "$NS_HOSTB" eth0 "$HOST_B4/24"
addr_add "$NS_HOSTB" eth0 "$HOST_B6/64"
ip -n "$NS_HOSTB" route add default via "$GW_B4" || fail "default route in $NS_HOSTB"
ip -n "$NS_HOSTB" -6 route add default via "$GW_B6" || fail "IPv6 default route in $NS_HOSTB"
ok "namespaces $NS_HOSTA $NS_GWA $NS_GWB $NS_HOSTB; host A $HOST_A4 $HOST_A6, host B $HOST_B4 $HOST_B6"

# ---- keys and configs ----

for x in a b; do
	(umask 077 && wg genkey >"$RUN_DIR/$x.key") || fail "wg genkey >$RUN_DIR/$x.key"
done
PUB_A=$(wg pubkey <"$RUN_DIR/a.key") || fail "wg pubkey <$RUN_DIR/a.key"
PUB_B=$(wg pubkey <"$RUN_DIR/b.key") || fail "wg pubkey <$RUN_DIR/b.key"
ok "keys: wg genkey > $RUN_DIR/a.key, b.key (public ${PUB_A:0:10}…, ${PUB_B:0:10}…)"

# render X PEER_PUB: conf/site-to-site-x.yaml with the peer's key, as $RUN_DIR/x.yaml.
render() {
	local x=${1,,} other=B src dst n out
	[ "$1" = B ] && other=A
	src="$ROOT/conf/site-to-site-$x.yaml" dst="$RUN_DIR/$x.yaml"
	# The header comment names the placeholder too; only the value counts.
	n=$(grep -c "^[^#]*@PEER_${other}_PUBLIC_KEY@" "$src") || true
	[ "$n" = 1 ] || fail "$src: expected the value @PEER_${other}_PUBLIC_KEY@ once, found ${n:-0}"
	# Base64 has no '|'.
	sed "/^[^#]*@PEER_${other}_PUBLIC_KEY@/s|@PEER_${other}_PUBLIC_KEY@|$2|" "$src" >"$dst" ||
		fail "writing $dst"
	if grep -q '^[^#]*@[A-Z_]*@' "$dst"; then
		fail "$dst: a placeholder is left: $(grep -m1 '^[^#]*@[A-Z_]*@' "$dst")"
	fi
	out=$("$MESHGATE_BIN" --check-config "$dst" 2>&1) || fail "meshgate --check-config $dst: $out"
}
render A "$PUB_B"
render B "$PUB_A"
ok "configs: $RUN_DIR/a.yaml, b.yaml from conf/site-to-site-{a,b}.yaml (meshgate --check-config)"

# ---- gateways ----

# s2s_start X NS: runs meshgate and waits until its UAPI socket answers `wg show`.
s2s_start() {
	local x=$1 ns=$2 ifname=${GW_IF[$1]} logf="$MG_STATE/gateway-$1.log" pid deadline
	mg_file "/var/run/wireguard/$ifname.sock"
	# A session of its own: Ctrl-C reaches this script, whose teardown stops the gateway and
	# checks its exit status. (Not a group leader, so setsid execs in place: same pid.)
	spawn "$logf" setsid ip netns exec "$ns" "$MESHGATE_BIN" --config "$RUN_DIR/${x,,}.yaml"
	pid=$MG_SPAWNED_PID
	deadline=$((SECONDS + 30))
	until run_bounded 5 wg show "$ifname" listen-port >/dev/null 2>&1; do
		if ! gw_running "$pid"; then
			tail -n 15 "$logf" | indent
			fail "gateway $x exited before its UAPI socket answered (log $logf)"
		fi
		[ "$SECONDS" -lt "$deadline" ] || {
			tail -n 15 "$logf" | indent
			fail "gateway $x: no UAPI socket /var/run/wireguard/$ifname.sock after 30 s"
		}
		sleep 0.2
	done
	GW_PID[$x]=$pid
	ok "gateway $x up: netns $ns, pid $pid, UAPI /var/run/wireguard/$ifname.sock, health $RUN_DIR/${x,,}.health"
}
s2s_start A "$NS_GWA"
s2s_start B "$NS_GWB"

# ---- checks ----

FAILED=0
check_failed() {
	bad "$*"
	FAILED=$((FAILED + 1))
}

# ping_check DST: five echoes from host A; the first one starts the handshake.
ping_check() {
	local dst=$1 out sent got rtt
	if out=$(run_bounded 20 ip netns exec "$NS_HOSTA" ping -n -q -c 5 -i 0.2 -W 2 -w 15 "$dst" 2>&1); then
		sent=$(sed -n 's/^\([0-9]*\) packets transmitted.*/\1/p' <<<"$out")
		got=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' <<<"$out")
		rtt=$(sed -n 's|^rtt [^=]*= [0-9.]*/\([0-9.]*\)/.*|\1|p' <<<"$out")
		ok "ping host A -> host B $dst: $got/$sent replies, rtt avg $rtt ms"
	else
		printf '%s\n' "$out" | tail -n 3 | indent
		check_failed "ping host A -> host B $dst"
	fi
}
ping_check "$HOST_B4"
ping_check "$HOST_B6"

iperf_server "$NS_HOSTB"
IPERF_JSON=$MG_STATE/iperf3.json
if iperf_run "$NS_HOSTA" "$HOST_B4" "$IPERF_JSON" -t 3; then
	ok "iperf3 TCP host A -> host B, 3 s: $(jq -r '.end.sum_received.bits_per_second / 1e6 | floor' "$IPERF_JSON") Mbit/s ($(jq -r '.end.sum_sent.retransmits // 0' "$IPERF_JSON") retransmits)"
else
	check_failed "iperf3 TCP host A -> host B $HOST_B4"
fi

for x in A B; do
	ifname=${GW_IF[$x]}
	if out=$(run_bounded 10 wg show "$ifname" 2>&1) && grep -q 'latest handshake' <<<"$out"; then
		ok "wg show $ifname (gateway $x, UAPI socket)"
		printf '%s\n' "$out" | indent
	else
		printf '%s\n' "$out" | indent
		check_failed "wg show $ifname: no handshake reported"
	fi
done

for x in A B; do
	sock="$RUN_DIR/${x,,}.health"
	if [ -z "$MESHCTL_BIN" ]; then
		check_failed "meshctl is not built (cli/meshctl)"
	elif out=$(run_bounded 10 "$MESHCTL_BIN" -s "$sock" status 2>&1); then
		ok "meshctl -s $sock status (gateway $x)"
		printf '%s\n' "$out" | indent
	else
		printf '%s\n' "$out" | indent
		check_failed "meshctl -s $sock status (gateway $x)"
	fi
done

for x in A B; do
	gw_running "${GW_PID[$x]}" || check_failed "gateway $x is not running any more"
done

if [ "$FAILED" -ne 0 ]; then
	bad "$FAILED check(s) failed"
	exit 1
fi
if [ "$ONCE" = 1 ]; then
	ok "all checks passed; --once: tearing down"
	exit 0
fi

printf '  up; try, in another shell (Ctrl-C here tears it all down):\n'
printf '    %s\n' \
	"ip netns exec $NS_HOSTA ping $HOST_B6" \
	"ip netns exec $NS_HOSTA iperf3 -c $HOST_B6 -t 10 -R    # the iperf3 server is host B's" \
	"wg show ${GW_IF[A]}" \
	"$MESHCTL_BIN -s $RUN_DIR/a.health peers" \
	"ip netns exec $NS_GWA curl -s 127.0.0.1:9586/metrics" \
	"logs: $RUN_DIR/gateway-A.log, gateway-B.log"
WAITING=1
while :; do
	for x in A B; do
		gw_running "${GW_PID[$x]}" || fail "gateway $x stopped on its own"
	done
	sleep 1 &
	wait $! || true
done
