#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# e2e: access changes at the coordinator reach the data plane. On the demo topology (all
# routes approved), with pings running every 0.1 s and timestamped (ping -D):
#   revoke    a policy that keeps the two sites apart (the host keeps both): within 2 s of the
#             change gwA and gwB drop each other, the last LAN A -> LAN B reply (IPv4 and IPv6)
#             is no later than 2 s after it, LAN B cannot reach LAN A; the host's pings to LAN A
#             never stop
#   restore   the open policy again: the peers come back and LAN A -> LAN B answers again
#             (IPv4 and IPv6, both ways); the time to the first reply is reported
#   expiry    `nodes expire` on the host: both gateways drop it within 2 s, its pings to LAN A
#             stop within 2 s and stay stopped (its single-use key cannot register it again)
#   deletion  `nodes delete` on gwB: gwA drops it within 2 s, LAN A -> LAN B stops within 2 s
#             and stays stopped, and gwB is gone from the node list
#
# usage: test_policy.sh [meshgate=PATH] [coord=PATH] [meshctl=PATH] [agent=PATH] [build=DIR]
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=topology.sh
source "$HERE/topology.sh"

topo_require
topo_binaries "$@"
mg_init

section "mesh"
topo_up
topo_wait_mesh 20
check "LAN A -> LAN B, IPv4" reaches "$NS_LANA" "$LANB_HOST4"
check "LAN A -> LAN B, IPv6" reaches "$NS_LANA" "$LANB_HOST6"
check "host -> LAN A" reaches "$NS_HOST" "$LANA_HOST4"
check "host -> LAN B" reaches "$NS_HOST" "$LANB_HOST4"

now() { date +%s.%N; }

# ping_bg NAME NS DST: a timestamped ping every 0.1 s in the background; PING_PIDS[NAME].
declare -A PING_PIDS=()
ping_bg() {
	spawn "$MG_STATE/ping-$1.log" ip netns exec "$2" ping -D -n -i 0.1 -W 1 "$3"
	PING_PIDS[$1]=$MG_SPAWNED_PID
}
ping_stop() {
	stop_pid "${PING_PIDS[$1]}" 2
}
# replies NAME: the reply timestamps, one a line.
replies() {
	sed -n 's/^\[\([0-9.]*\)\] [0-9]* bytes from.*/\1/p' "$MG_STATE/ping-$1.log"
}
# replied_between NAME T1 T2: some reply arrived in [T1, T2].
replied_between() {
	replies "$1" | awk -v a="$2" -v b="$3" '$1 >= a && $1 <= b { found = 1 } END { exit !found }'
}
# stopped_within NAME T0 SECS: replies came before T0, none later than T0 + SECS.
stopped_within() {
	local last
	last=$(replies "$1" | tail -n 1)
	[ -n "$last" ] || {
		log "$1: no reply at all"
		return 1
	}
	log "$1: last reply $(awk -v l="$last" -v t="$2" 'BEGIN { printf "%.0f", (l - t) * 1000 }') ms after the change"
	replied_between "$1" 0 "$2" && awk -v l="$last" -v t="$2" -v s="$3" 'BEGIN { exit !(l <= t + s) }'
}
# first_reply_after NAME T0: milliseconds from T0 to the first reply after it ("" if none).
first_reply_after() {
	replies "$1" | awk -v t="$2" '$1 > t { printf "%.0f", ($1 - t) * 1000; exit }'
}
# gone_by T0 SECS NS IFNAME PUBKEY: the peer left the interface no later than T0 + SECS (the
# time is measured from T0, taken just before the change was sent).
gone_by() {
	local t0="$1" secs="$2" ns="$3" ifn="$4" k="$5" t
	while has_peer "$ns" "$ifn" "$k"; do
		awk -v n="$(now)" -v t="$t0" -v s="$secs" 'BEGIN { exit !(n <= t + s) }' || return 1
		sleep 0.02
	done
	t=$(now)
	log "peer ${k:0:8}… gone from $ifn $(awk -v n="$t" -v t="$t0" 'BEGIN { printf "%.0f", (n - t) * 1000 }') ms after the change"
	awk -v n="$t" -v t="$t0" -v s="$secs" 'BEGIN { exit !(n <= t + s) }'
}

# ---- revoke ----
section "revoke: the sites may no longer reach each other"
ping_bg ab4 "$NS_LANA" "$LANB_HOST4"
ping_bg ab6 "$NS_LANA" "$LANB_HOST6"
ping_bg ha "$NS_HOST" "$LANA_HOST4"
sleep 1.5
t0=$(now)
topo_policy isolate-sites
check "gwA drops gwB within 2 s" gone_by "$t0" 2 "$NS_GWA" "$IF_GWA" "$PUB_GWB"
check "gwB drops gwA within 2 s" gone_by "$t0" 2 "$NS_GWB" "$IF_GWB" "$PUB_GWA"
sleep 3
t_end=$(now)
ping_stop ab4
ping_stop ab6
ping_stop ha
check "LAN A -> LAN B IPv4 traffic stopped within 2 s" stopped_within ab4 "$t0" 2
check "LAN A -> LAN B IPv6 traffic stopped within 2 s" stopped_within ab6 "$t0" 2
check "LAN B -> LAN A fails" ping_fails "$NS_LANB" "$LANA_HOST4"
check "the host's pings to LAN A never stopped" \
	replied_between ha "$(awk -v t="$t_end" 'BEGIN { printf "%.6f", t - 0.5 }')" "$t_end"
check "gwA still has the host" has_peer "$NS_GWA" "$IF_GWA" "$PUB_HOST"
check "host -> LAN B still works" reaches "$NS_HOST" "$LANB_HOST4" 5

# ---- restore ----
section "restore: the open policy again"
ping_bg ab4r "$NS_LANA" "$LANB_HOST4"
sleep 0.5
t1=$(now)
topo_policy open
check "gwA has gwB again with LAN B's routes" \
	within 5 peer_allows "$NS_GWA" "$IF_GWA" "$PUB_GWB" "$LANB_NET4"
check "LAN A -> LAN B IPv4 traffic resumes within 10 s" within 10 replied_between ab4r "$t1" 1e12
ping_stop ab4r
log "restore: first LAN A -> LAN B reply $(first_reply_after ab4r "$t1") ms after the change"
check "LAN A -> LAN B, IPv6" reaches "$NS_LANA" "$LANB_HOST6"
check "LAN B -> LAN A, IPv4" reaches "$NS_LANB" "$LANA_HOST4"
check "LAN B -> LAN A, IPv6" reaches "$NS_LANB" "$LANA_HOST6"

# ---- key expiry ----
section "key expiry: the host is cut off"
check "host -> LAN A before the expiry" reaches "$NS_HOST" "$LANA_HOST4"
ping_bg hx "$NS_HOST" "$LANA_HOST4"
sleep 1.5
t2=$(now)
coord nodes expire "${NODE_ID[host]}" >/dev/null || fail "nodes expire ${NODE_ID[host]}"
check "gwA drops the host within 2 s" gone_by "$t2" 2 "$NS_GWA" "$IF_GWA" "$PUB_HOST"
check "gwB drops the host within 2 s" gone_by "$t2" 2 "$NS_GWB" "$IF_GWB" "$PUB_HOST"
sleep 3
check "the host's traffic to LAN A stopped within 2 s" stopped_within hx "$t2" 2
check "the coordinator lists the host as expired" \
	[ "$(node_field "$PUB_HOST" '.expired')" = true ]
sleep 3
ping_stop hx
check "5 s later the host is still cut off (its key is spent)" ping_fails "$NS_HOST" "$LANA_HOST4"
check "  and neither gateway has it back" eval 'lacks_peer "$NS_GWA" "$IF_GWA" "$PUB_HOST" && lacks_peer "$NS_GWB" "$IF_GWB" "$PUB_HOST"'
check "LAN A -> LAN B unaffected" reaches "$NS_LANA" "$LANB_HOST4" 5

# ---- deletion ----
section "deletion: gwB is removed"
ping_bg abd "$NS_LANA" "$LANB_HOST4"
sleep 1.5
t3=$(now)
coord nodes delete "${NODE_ID[gwB]}" >/dev/null || fail "nodes delete ${NODE_ID[gwB]}"
check "gwA drops gwB within 2 s" gone_by "$t3" 2 "$NS_GWA" "$IF_GWA" "$PUB_GWB"
sleep 3
check "LAN A -> LAN B traffic stopped within 2 s" stopped_within abd "$t3" 2
check "gwB is gone from the node list" [ -z "$(node_field "$PUB_GWB" .id)" ]
sleep 3
ping_stop abd
check "5 s later LAN A still cannot reach LAN B" ping_fails "$NS_LANA" "$LANB_HOST4"
check "  and gwA has not got gwB back" lacks_peer "$NS_GWA" "$IF_GWA" "$PUB_GWB"

gw_alive gwA
gw_alive gwB
gw_stop gwA
gw_stop gwB
log "e2e policy: $TOPO_CHECKS_PASSED checks passed"
