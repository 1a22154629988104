#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# e2e: `scripts/demo.sh --once`, as CI runs it (packages and build already done: --no-deps
# --no-build, on this build directory's binaries). Checks:
#   exit      the demo exits 0 within its time limit
#   output    every check line is a ✓ and none a ✗, at least the ten mesh checks ran, both
#             `meshctl status` sections show the coordinator synced, and an iperf3 figure in
#             Mbit/s is there
#   teardown  nothing of the demo's run is left: no namespace mg-<its pid>-*, no process of it,
#             no UAPI socket of its interfaces, no state directory
#
# usage: test_demo_once.sh [meshgate=PATH] [coord=PATH] [meshctl=PATH] [agent=PATH] [build=DIR]
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=topology.sh
source "$HERE/topology.sh"

topo_require
topo_binaries "$@"
gw_is_reference && skip "meshctl and the health socket are meshgate's: nothing to check on the reference"
[ -n "$MESHCTL_BIN" ] || skip "meshctl is not built"
mg_init

OUT=$MG_STATE/demo.out
log "running scripts/demo.sh --once (output in $OUT)"
rc=0
MESHGATE_BIN=$GW_BIN MESHGATE_COORD_BIN=$COORD_BIN MESHCTL_BIN=$MESHCTL_BIN \
	MESHGATE_AGENT_BIN=$([ "${AGENT_CMD[1]:-}" = agent ] || printf '%s' "${AGENT_CMD[0]}") \
	run_bounded 240 bash "$ROOT/scripts/demo.sh" --once --no-deps --no-build \
	--build-dir "$TOPO_BUILD_DIR" </dev/null >"$OUT" 2>"$MG_STATE/demo.err" || rc=$?
cat "$OUT"
[ "$rc" -eq 0 ] || tail -n 60 "$MG_STATE/demo.err" >&2

check "demo --once exits 0 (got $rc)" [ "$rc" -eq 0 ]
passes=$(grep -c '✓' "$OUT" || true)
check "no check failed (no ✗ line)" eval '! grep -q "✗" "$OUT"'
check "at least 10 checks passed (got $passes)" [ "$passes" -ge 10 ]
check "the summary line says 0 failed" grep -qE '^  [0-9]+ checks passed, 0 failed$' "$OUT"
check "meshctl status for gwA and gwB, each synced with the coordinator" \
	[ "$(grep -c '^  coordinator: *synced' "$OUT")" -eq 2 ]
check "an iperf3 figure in Mbit/s" grep -qE 'TCP LAN A → LAN B: [0-9.]+ Mbit/s' "$OUT"

# The demo's run id is its pid: every name it made carries it.
id=$(sed -n 's/.*(run \([0-9]*\): namespaces.*/\1/p' "$OUT" | head -n 1)
check "the demo printed its run id" [ -n "$id" ]
leftover_ns() { ip netns list | grep -q "^mg-$id-"; }
leftover_pids() { pgrep -f "mg-${id}[.-]" >/dev/null; }
check "no namespace mg-$id-* is left" eval '! leftover_ns'
check "no process of the run is left" eval '! leftover_pids'
check "no UAPI socket of the run is left" eval '! ls /var/run/wireguard/*"$id".sock >/dev/null 2>&1'
check "no state directory of the run is left" eval '! ls -d /tmp/mg-"$id".* >/dev/null 2>&1'
log "e2e demo --once: $TOPO_CHECKS_PASSED checks passed"
