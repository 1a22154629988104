# SPDX-License-Identifier: GPL-2.0-only
# What the agent tests share, sourced after lib.sh: a meshgate-coord in a namespace, its admin API,
# and agents whose wireguard-go is registered for cleanup. Needs COORD and AGENT (the binaries).

# coord_start NS URL: meshgate-coord on $MG_STATE/coord.yaml in NS, answering at URL; sets
# API_KEY (a fresh admin key) and COORD_PID, and remembers NS and URL for admin.
coord_start() {
	COORD_NS="$1" COORD_URL="$2"
	API_KEY=$("$COORD" --config "$MG_STATE/coord.yaml" apikey create) || fail "apikey create"
	spawn "$MG_STATE/coord.log" ip netns exec "$COORD_NS" "$COORD" --config "$MG_STATE/coord.yaml"
	COORD_PID=$MG_SPAWNED_PID
	wait_for 20 "meshgate-coord" ip netns exec "$COORD_NS" curl -sf "$COORD_URL/health"
}

# admin METHOD PATH [JSON]: the reply body on stdout; fails the test on an HTTP error.
admin() {
	local args=(-sS -f -X "$1" -H "Authorization: Bearer $API_KEY" --max-time 10)
	[ $# -lt 3 ] || args+=(-H 'Content-Type: application/json' --data "$3")
	run_bounded 15 ip netns exec "$COORD_NS" curl "${args[@]}" "$COORD_URL/v1/admin/$2" ||
		fail "admin $1 $2"
}

# agent_start WHO NS IFNAME: the agent on $MG_STATE/agent-WHO.yaml; its pid in AGENT_PID. Its
# wireguard-go is registered for cleanup too (the agent stops it, but not if the agent is killed).
agent_start() {
	local who="$1" ns="$2" ifname="$3" child st
	mg_file "/var/run/wireguard/$ifname.sock"
	spawn "$MG_STATE/agent-$who.log" ip netns exec "$ns" "$AGENT" --config "$MG_STATE/agent-$who.yaml"
	AGENT_PID=$MG_SPAWNED_PID
	wait_for 15 "agent $who's wireguard-go" test -S "/var/run/wireguard/$ifname.sock"
	child=$(cat "/proc/$AGENT_PID/task/$AGENT_PID/children" 2>/dev/null || true)
	for c in $child; do
		st=$(mg_pid_starttime "$c") || continue
		mg_register pids "$c $st"
	done
}
