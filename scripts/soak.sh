#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Soak: the demo topology (tests/e2e/topology.sh) under churn for a while. Not a CI test.
#
#   bash scripts/soak.sh [--duration S] [--restart-every S] [--build-dir DIR]   (root, built tree)
#
# Throughout the run: meshgate-coord is SIGKILLed and restarted every 5 minutes on its store;
# static peers are added to and removed from gwA through its UAPI socket (`wg set`) every 3 s;
# both gateways rekey every 10 s (test.timer_divisor: 12 against REKEY_AFTER_TIME's 120 s);
# iperf3 TCP runs LAN A → LAN B and a ping every 0.2 s counts lost packets.
# At the end it reports each gateway's RSS and DPDK heap at start (after a warm-up) and end
# (growth must stay under 1 %), the pings lost outside a window around each coordinator
# restart (none may be), and every log line at level error. The exit status is 0 when all of
# that holds. Defaults: 1800 s, a restart every 300 s.
#
# It holds its namespaces for the whole run, so it does not take /tmp/meshgate-netns.lock (that
# would stall every other netns test for half an hour). Its names cannot collide with theirs:
# namespaces are mg-soak<pid>-*, interfaces and UAPI sockets mg?soak<pid>, the DPDK file prefix
# mg-soak<pid>-*; everything else (addresses, ports, the bridge) lives inside those namespaces.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DURATION=1800 BUILD_DIR=$ROOT/build
RESTART_EVERY=300 CHURN_EVERY=3 CHURN_KEEP=8 WARMUP=20 PING_INTERVAL=0.2
# Pings around a restart that may go unanswered: none should, the data plane does not need the
# coordinator, but a restart is allowed to cost what the issue allows it.
RESTART_WINDOW=15

while [ $# -gt 0 ]; do
	case "$1" in
	--duration) DURATION="$2"; shift ;;
	--restart-every) RESTART_EVERY="$2"; shift ;;
	--build-dir) BUILD_DIR=$(realpath -m "$2"); shift ;;
	-h | --help) sed -n 's/^# \{0,1\}//; 4,20p' "${BASH_SOURCE[0]}"; exit 0 ;;
	*) echo "soak: unknown argument '$1'" >&2; exit 2 ;;
	esac
	shift
done
[ "$(id -u)" -eq 0 ] || { echo "soak: run as root (network namespaces)" >&2; exit 1; }

# shellcheck disable=SC2034 # read by topology.sh
TOPO_BUILD_DIR=$BUILD_DIR
# shellcheck disable=SC2034
TOPO_FATAL_CHECKS=0
# shellcheck source=../tests/e2e/topology.sh
source "$ROOT/tests/e2e/topology.sh"
# Every name lib.sh and gw_lib.sh derive carries MG_ID: "soak" marks them apart from the tests'
# plain-pid ids (if_name's 15-byte limit leaves room: mga + soak + 7 digits).
MG_ID="soak$$"

# The gateways' configs gain the fast timers: a rekey every 10 s instead of every 120 s.
eval "$(declare -f topo_gw_config | sed 's/hostname: \$name"/hostname: $name\ntest:\n  timer_divisor: 12"/')"

log() { printf '[%s] %s\n' "$(date +%T)" "$*"; }

memory() { # NAME: "rss heap" in bytes from the health socket
	health_raw "$1" status | jq -r '(.memory // .data.memory) | "\(.rss_bytes) \(.heap_allocated_bytes)"'
}

topo_require
topo_binaries
mg_init
section "soak: ${DURATION}s (run $MG_ID, files in $MG_STATE)"
topo_up
topo_wait_mesh 30
reaches "$NS_LANA" "$LANB_HOST4" 30 || fail "LAN A does not reach LAN B"

T0=$SECONDS
spawn "$MG_STATE/iperf-soak.log" ip netns exec "$NS_LANA" iperf3 -c "$LANB_HOST4" -t "$DURATION" -i 60
IPERF_PID=$MG_SPAWNED_PID
spawn "$MG_STATE/ping-soak.log" ip netns exec "$NS_LANA" ping -D -i "$PING_INTERVAL" -W 1 \
	-w "$DURATION" "$LANB_HOST4"
PING_PID=$MG_SPAWNED_PID
PING_T0=$(date +%s.%N)

sleep "$WARMUP"
declare -A MEM0=()
for gw in gwA gwB; do MEM0[$gw]=$(memory "$gw"); done
log "memory after ${WARMUP}s: gwA ${MEM0[gwA]}, gwB ${MEM0[gwB]} (rss heap, bytes)"

RESTARTS=() PEERS=() ADDED=0 REMOVED=0 CHURN_ERR=0
declare -A HANDSHAKES=() # gwA's latest handshake with gwB, as stock wg reads it: one per rekey
next_restart=$((T0 + RESTART_EVERY))
end=$((T0 + DURATION))
while [ "$SECONDS" -lt "$end" ]; do
	if [ "$SECONDS" -ge "$next_restart" ]; then
		RESTARTS+=("$(date +%s)")
		topo_coord_kill
		topo_coord_start
		log "coordinator restarted (pid $COORD_PID)"
		next_restart=$((next_restart + RESTART_EVERY))
	fi
	# A static peer on gwA, 10.250.N.0/24 behind an unused endpoint; the oldest goes.
	pub=$(wg genkey | wg pubkey)
	n=$((ADDED % 250))
	if run_bounded 10 ip netns exec "$NS_GWA" wg set "$IF_GWA" peer "$pub" \
		allowed-ips "10.250.$n.0/24" endpoint 192.0.2.250:51820; then
		PEERS+=("$pub")
		ADDED=$((ADDED + 1))
	else
		CHURN_ERR=$((CHURN_ERR + 1))
	fi
	if [ "${#PEERS[@]}" -gt "$CHURN_KEEP" ]; then
		if run_bounded 10 ip netns exec "$NS_GWA" wg set "$IF_GWA" peer "${PEERS[0]}" remove; then
			REMOVED=$((REMOVED + 1))
		else
			CHURN_ERR=$((CHURN_ERR + 1))
		fi
		PEERS=("${PEERS[@]:1}")
	fi
	hs=$(ip netns exec "$NS_GWA" wg show "$IF_GWA" latest-handshakes 2>/dev/null |
		awk -v k="$PUB_GWB" '$1 == k {print $2}') || true
	[ -z "$hs" ] || [ "$hs" = 0 ] || HANDSHAKES[$hs]=1
	sleep "$CHURN_EVERY"
done
for pub in "${PEERS[@]}"; do
	ip netns exec "$NS_GWA" wg set "$IF_GWA" peer "$pub" remove && REMOVED=$((REMOVED + 1)) || true
done

declare -A MEM1=()
for gw in gwA gwB; do MEM1[$gw]=$(memory "$gw"); done
wait "$PING_PID" 2>/dev/null || true
wait "$IPERF_PID" 2>/dev/null || true

section "result"
for gw in gwA gwB; do
	read -r r0 h0 <<<"${MEM0[$gw]}"
	read -r r1 h1 <<<"${MEM1[$gw]}"
	line=$(awk -v r0="$r0" -v r1="$r1" -v h0="$h0" -v h1="$h1" 'BEGIN {
		rg = (r1 - r0) * 100 / r0; hg = h0 ? (h1 - h0) * 100 / h0 : 0
		printf "rss %.1f -> %.1f MiB (%+.2f %%), DPDK heap %.1f -> %.1f MiB (%+.2f %%) %s",
		       r0 / 1048576, r1 / 1048576, rg, h0 / 1048576, h1 / 1048576, hg,
		       (rg < 1 && hg < 1) ? "ok" : "GREW" }')
	check "$gw memory: $line" [ "${line##* }" = ok ]
done

# Ping: the sequence numbers that got no reply, each at PING_T0 + (seq - 1) * interval.
lost=$(python3 - "$MG_STATE/ping-soak.log" "$PING_T0" "$PING_INTERVAL" "$RESTART_WINDOW" \
	"${RESTARTS[@]}" <<'PY'
import re, sys
log, t0, step, win = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
restarts = [float(x) for x in sys.argv[5:]]
got, last = set(), 0
for line in open(log):
    m = re.search(r"icmp_seq=(\d+)", line)
    if m:
        seq = int(m.group(1))
        last = max(last, seq)
        if "bytes from" in line:
            got.add(seq)
m = re.search(r"(\d+) packets transmitted", open(log).read())
sent = int(m.group(1)) if m else last
lost = [s for s in range(1, sent + 1) if s not in got]
near = [s for s in lost if any(r - 2 <= t0 + (s - 1) * step <= r + win for r in restarts)]
print(sent, len(lost), len(lost) - len(near))
PY
)
read -r sent lost_all lost_out <<<"$lost"
check "pings: $sent sent, $lost_all lost, $lost_out of them outside the coordinator restarts" \
	[ "$lost_out" -eq 0 ]
mbit=$(awk '/receiver/ {v = $7 " " $8} END {print v}' "$MG_STATE/iperf-soak.log")
check "iperf3 TCP LAN A → LAN B ran throughout: ${mbit:-no result}" [ -n "$mbit" ]
check "churn: ${#RESTARTS[@]} coordinator restarts, $ADDED static peers added, $REMOVED removed, $CHURN_ERR wg set failures" \
	[ "$CHURN_ERR" -eq 0 ]
# A rekey every 10 s; sampled every few seconds, so allow for missed ones.
check "rekeys: ${#HANDSHAKES[@]} distinct handshakes of gwA with gwB in ${DURATION}s" \
	[ "${#HANDSHAKES[@]}" -ge $((DURATION / 20)) ]

errors=$(grep -hE 'level=error' "$MG_STATE"/*.log "$MG_STATE"/*.log.all 2>/dev/null | sort | uniq -c | sort -rn || true)
if [ -n "$errors" ]; then
	check "error log lines: $(printf '%s\n' "$errors" | awk '{s += $1} END {print s}')" false
	printf '%s\n' "$errors" | head -n 20 | sed 's/^/    /'
else
	check "no error log lines" true
fi
[ "$TOPO_CHECKS_FAILED" -eq 0 ]
