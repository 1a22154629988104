#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The meshgate demo: one command on a fresh Debian 12 machine, as root.
#
#   bash scripts/demo.sh [--once] [--no-deps] [--no-build] [--build-dir DIR]
#
# It installs the packages (scripts/install-deps.sh), builds with meson into build/ (reusing it
# when configured), then brings up a mesh in network namespaces (tests/e2e/topology.sh):
# meshgate-coord on SQLite, two DPDK gateways each fronting a LAN as a site-to-site link, and a
# stock host joined through `meshgate agent` and wireguard-go. It joins all three with pre-auth
# keys, approves the gateways' routes, checks that LAN A reaches LAN B and that the host reaches
# both, prints `meshctl status` for each gateway and an iperf3 figure, then leaves everything
# running until Ctrl-C and tears it all down. --once stops after the checks (for CI): the exit
# status is 0 when every check passed.
#
#   --no-deps       skip scripts/install-deps.sh (packages already there)
#   --no-build      use the binaries already in the build directory
#   --build-dir DIR build directory (default: build/ in the source tree)
# MESHGATE_BIN, MESHGATE_COORD_BIN, MESHCTL_BIN and MESHGATE_AGENT_BIN override the binaries.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ONCE=0 DEPS=1 BUILD=1
BUILD_DIR=$ROOT/build

usage() {
	sed -n 's/^# \{0,1\}//; 4,20p' "${BASH_SOURCE[0]}"
}

while [ $# -gt 0 ]; do
	case "$1" in
	--once) ONCE=1 ;;
	--no-deps) DEPS=0 ;;
	--no-build) BUILD=0 ;;
	--build-dir)
		[ $# -ge 2 ] || { echo "demo: --build-dir needs a directory" >&2; exit 2; }
		BUILD_DIR=$(realpath -m "$2")
		shift
		;;
	-h | --help)
		usage
		exit 0
		;;
	*)
		echo "demo: unknown argument '$1' (try --help)" >&2
		exit 2
		;;
	esac
	shift
done

[ "$(id -u)" -eq 0 ] || { echo "demo: run as root (network namespaces, packages)" >&2; exit 1; }

# quietly LOGFILE CMD...: runs CMD with its output in LOGFILE; shows the end of it on failure.
quietly() {
	local logf="$1"
	shift
	if ! "$@" >"$logf" 2>&1; then
		tail -n 30 "$logf" >&2
		echo "demo: '$*' failed (whole log: $logf)" >&2
		exit 1
	fi
	rm -f "$logf"
}

printf '\033[1mmeshgate demo\033[0m: a WireGuard mesh of DPDK gateways, a coordinator and a stock host\n' |
	{ if [ -t 1 ]; then cat; else sed 's/\x1b\[[0-9;]*m//g'; fi; }

if [ "$DEPS" = 1 ]; then
	printf '  • installing packages (scripts/install-deps.sh)\n'
	quietly /tmp/meshgate-demo-deps.log bash "$ROOT/scripts/install-deps.sh"
fi
if [ "$BUILD" = 1 ]; then
	if [ ! -f "$BUILD_DIR/build.ninja" ]; then
		printf '  • configuring %s (meson setup)\n' "$BUILD_DIR"
		quietly /tmp/meshgate-demo-setup.log meson setup "$BUILD_DIR" "$ROOT"
	fi
	printf '  • building in %s (ninja)\n' "$BUILD_DIR"
	quietly /tmp/meshgate-demo-build.log ninja -C "$BUILD_DIR" -j 2
fi

# shellcheck disable=SC2034 # read by topology.sh
TOPO_BUILD_DIR=$BUILD_DIR
# shellcheck disable=SC2034
TOPO_FATAL_CHECKS=0
# shellcheck source=../tests/e2e/topology.sh
source "$ROOT/tests/e2e/topology.sh"

# The step-by-step log goes to a file; the screen gets the summary lines.
DEMO_LOG=/dev/null
log() {
	printf '[%s] %s\n' "$(date +%H:%M:%S.%N | cut -c1-12)" "$*" >>"$DEMO_LOG"
}

topo_require
topo_binaries
mg_init
DEMO_LOG=$MG_STATE/demo.log

section "setting up (run $MG_ID: namespaces mg-$MG_ID-*, files in $MG_STATE)"
topo_up

mesh_ready() {
	peer_allows "$NS_GWA" "$IF_GWA" "$PUB_GWB" "$LANB_NET4" &&
		peer_allows "$NS_GWB" "$IF_GWB" "$PUB_GWA" "$LANA_NET4"
}
host_ready() {
	peer_allows "$NS_HOST" "$IF_HOST" "$PUB_GWA" "$LANA_NET4" &&
		peer_allows "$NS_HOST" "$IF_HOST" "$PUB_GWB" "$LANB_NET4"
}
both_synced() {
	gw_synced gwA && gw_synced gwB
}
meshctl_status() { # NAME
	[ -n "$MESHCTL_BIN" ] || {
		echo "  (meshctl is not built)"
		return 1
	}
	run_bounded 10 "$MESHCTL_BIN" -s "$(gw_socket "$1")" status | sed 's/^/  /'
}

section "the coordinator's view (meshgate-coord nodes list, routes list)"
coord nodes list | sed 's/^/  /' || true
coord routes list | sed 's/^/  /' || true

section "checks"
check "gwA and gwB have each other as peers, with the approved LAN routes" within 20 mesh_ready
check "the host has both gateways as peers, with their LAN routes" within 20 host_ready
check "both gateways are synced with the coordinator" within 10 both_synced
check "LAN A → LAN B  IPv4  $LANA_HOST4 → $LANB_HOST4" reaches "$NS_LANA" "$LANB_HOST4"
check "LAN A → LAN B  IPv6  $LANA_HOST6 → $LANB_HOST6" reaches "$NS_LANA" "$LANB_HOST6"
check "LAN B → LAN A  IPv4  $LANB_HOST4 → $LANA_HOST4" reaches "$NS_LANB" "$LANA_HOST4"
check "LAN B → LAN A  IPv6  $LANB_HOST6 → $LANA_HOST6" reaches "$NS_LANB" "$LANA_HOST6"
check "host  → LAN A  IPv4  → $LANA_HOST4" reaches "$NS_HOST" "$LANA_HOST4"
check "host  → LAN A  IPv6  → $LANA_HOST6" reaches "$NS_HOST" "$LANA_HOST6"
check "host  → LAN B  IPv4  → $LANB_HOST4" reaches "$NS_HOST" "$LANB_HOST4"
check "host  → LAN B  IPv6  → $LANB_HOST6" reaches "$NS_HOST" "$LANB_HOST6"

for gw in gwA gwB; do
	section "meshctl status ($gw)"
	meshctl_status "$gw" || check "meshctl status $gw" false
done

section "iperf3"
IPERF_OUT=$MG_STATE/iperf-demo.json
if iperf_run "$NS_LANA" "$LANB_HOST4" "$IPERF_OUT" -t 5; then
	check "TCP LAN A → LAN B: $(mbps "$IPERF_OUT") Mbit/s over 5 s ($(jq -r '.end.sum_sent.retransmits // 0' "$IPERF_OUT") retransmits)" true
else
	check "TCP LAN A → LAN B (iperf3 failed)" false
fi

section "result"
printf '  %s checks passed, %s failed\n' "$TOPO_CHECKS_PASSED" "$TOPO_CHECKS_FAILED"
if [ "$ONCE" = 1 ]; then
	printf '  --once: tearing down\n'
	[ "$TOPO_CHECKS_FAILED" -eq 0 ]
	exit
fi

section "the mesh is up: try it (Ctrl-C tears everything down)"
printf '  %s\n' \
	"ip netns exec $NS_LANA ping $LANB_HOST6" \
	"ip netns exec $NS_HOST iperf3 -c $LANB_HOST4 -t 10" \
	"ip netns exec $NS_HOST wg show $IF_HOST" \
	"ip netns exec $NS_GWA wg show $IF_GWA      # stock wg over the gateway's UAPI socket" \
	"${MESHCTL_BIN:-meshctl} -s $(gw_socket gwA) peers" \
	"ip netns exec $NS_COORD $COORD_BIN --server $COORD_URL --api-key-file $MG_STATE/admin.key nodes list" \
	"logs: $MG_STATE/*.log"
trap 'printf "\n  tearing down: gateways, agent, coordinator, namespaces\n"; exit 0' INT TERM
while :; do
	sleep 1 &
	wait $! || true
done
