#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# e2e: meshctl against live coordinated gateways, checked against the health socket itself
# (one JSON request per connection, read here with a few lines of Python) and against the
# gateway's UAPI (stock wg). On the demo topology, after traffic LAN A <-> LAN B and host ->
# LAN A:
#   status    `meshctl --json status` has the same fields as the socket's reply and the same
#             text values (numbers may only have grown); interface, listen port, coordinator
#             URL and state "synced", 2 peers; the table says the same
#   peers     `meshctl --json peers`: the same keys, endpoints and allowed IPs as the socket and
#             as `wg show`; byte counters no smaller than the socket's (read just before) and
#             equal to `wg show transfer` once traffic is quiet; the table lists every peer
#   routes    `meshctl --json routes`: the same (prefix, peer) pairs as the socket, including
#             LAN B's approved routes on gwB and the host's overlay /32 on the host; table too
#   metrics   `meshctl metrics` and GET /metrics over the socket pass `promtool check
#             metrics`; coordinator state "synced" is 1 and the peer byte counters are there
#   ping      `meshctl ping` by key and by overlay IP answers; --json carries rtt_ms
#   exit      after gwB stops, meshctl on its socket exits 3 (not running)
#
# usage: test_meshctl.sh [meshgate=PATH] [coord=PATH] [meshctl=PATH] [agent=PATH] [build=DIR]
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=topology.sh
source "$HERE/topology.sh"

topo_require
require_commands promtool python3
topo_binaries "$@"
gw_is_reference && skip "meshctl and the health socket are meshgate's: nothing to check on the reference"
[ -n "$MESHCTL_BIN" ] && [ -x "$MESHCTL_BIN" ] || skip "meshctl is not built"
mg_init

section "mesh"
topo_up
topo_wait_mesh 20
check "LAN A -> LAN B" reaches "$NS_LANA" "$LANB_HOST4"
check "LAN B -> LAN A, IPv6" reaches "$NS_LANB" "$LANA_HOST6"
check "host -> LAN A" reaches "$NS_HOST" "$LANA_HOST4"
check "gwA's health socket answers" within 10 health_raw gwA status

SOCK=$(gw_socket gwA)
mc() {
	run_bounded 20 "$MESHCTL_BIN" -s "$SOCK" "$@"
}

# same_shape RAW MC: the same paths; every non-number leaf equal; every number in MC no
# smaller than in RAW (counters and clocks move between the two reads).
same_shape() {
	python3 - "$1" "$2" <<'EOF'
import json, sys
raw, mc = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
def norm(x):
    """Lists of peers or routes in a stable order: the two reads may list them differently."""
    if isinstance(x, dict):
        return {k: norm(v) for k, v in x.items()}
    if isinstance(x, list):
        x = [norm(v) for v in x]
        if x and all(isinstance(v, dict) for v in x):
            for key in ("public_key", "prefix", "id", "name"):
                if all(key in v for v in x):
                    return sorted(x, key=lambda v: str(v[key]))
    return x
raw, mc = norm(raw), norm(mc)
def walk(a, b, path):
    if type(a) != type(b) and not (isinstance(a, (int, float)) and isinstance(b, (int, float))):
        sys.exit(f"{path}: {type(a).__name__} in the socket, {type(b).__name__} from meshctl")
    if isinstance(a, dict):
        if set(a) != set(b):
            sys.exit(f"{path}: keys differ: {sorted(set(a) ^ set(b))}")
        for k in a:
            walk(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        if len(a) != len(b):
            sys.exit(f"{path}: {len(a)} items in the socket, {len(b)} from meshctl")
        for i, (x, y) in enumerate(zip(a, b)):
            walk(x, y, f"{path}[{i}]")
    elif isinstance(a, bool) or a is None or isinstance(a, str):
        if a != b:
            sys.exit(f"{path}: {a!r} in the socket, {b!r} from meshctl")
    elif isinstance(a, (int, float)):
        gauges = ("load", "idle_ratio", "age", "rss", "heap", "in_use", "mbufs")
        if b < a and not any(g in path for g in gauges):
            sys.exit(f"{path}: went down from {a} to {b}")
walk(raw, mc, "$")
EOF
}

# ---- status ----
section "meshctl status (gwA)"
health_raw gwA status >"$MG_STATE/raw-status.json"
mc --json status >"$MG_STATE/mc-status.json" || fail "meshctl --json status"
check "--json status has the socket's fields and values" same_shape "$MG_STATE/raw-status.json" "$MG_STATE/mc-status.json"
st() { jq -r "$1" "$MG_STATE/mc-status.json"; }
check "interface $IF_GWA, UDP $WG_PORT" [ "$(st .ifname) $(st .listen_port)" = "$IF_GWA $WG_PORT" ]
check "coordinator $COORD_URL, synced" [ "$(st .coordinator.url) $(st .coordinator.state)" = "$COORD_URL synced" ]
check "2 peers configured" [ "$(st .peers.configured)" = 2 ]
mc status >"$MG_STATE/mc-status.txt" || fail "meshctl status"
check "the table names the interface, the coordinator and its state" \
	grep -q "^interface: *$IF_GWA " "$MG_STATE/mc-status.txt"
check "  coordinator line: synced, $COORD_URL" grep -q "^coordinator: *synced, $COORD_URL" "$MG_STATE/mc-status.txt"
check "  peers line: 2 configured" grep -q "^peers: *2 configured" "$MG_STATE/mc-status.txt"

# ---- peers ----
section "meshctl peers (gwA)"
peer_set() { # JSON FILE -> "key endpoint ips" lines, sorted
	jq -r '.peers[] | [.public_key, (.endpoint // "(none)"), (.allowed_ips | sort | join(","))] | join(" ")' "$1" | sort
}
uapi_set() {
	local k ep ips
	for k in $(wg_in "$NS_GWA" show "$IF_GWA" peers); do
		ep=$(wg_field "$NS_GWA" "$IF_GWA" endpoints "$k")
		ips=$(wg_field "$NS_GWA" "$IF_GWA" allowed-ips "$k" | tr ' ' '\n' | sort | paste -sd,)
		printf '%s %s %s\n' "$k" "${ep:-(none)}" "$ips"
	done | sort
}
health_raw gwA peers >"$MG_STATE/raw-peers.json"
mc --json peers >"$MG_STATE/mc-peers.json" || fail "meshctl --json peers"
check "--json peers has the socket's fields and values" same_shape "$MG_STATE/raw-peers.json" "$MG_STATE/mc-peers.json"
check "keys, endpoints and allowed IPs equal the socket's" \
	[ "$(peer_set "$MG_STATE/raw-peers.json")" = "$(peer_set "$MG_STATE/mc-peers.json")" ]
check "  and what stock wg reads from the UAPI" [ "$(uapi_set)" = "$(peer_set "$MG_STATE/mc-peers.json")" ]
check "gwB's entry carries $LANB_NET4 and $LANB_NET6" \
	silently jq -e --arg k "$PUB_GWB" --arg a "$LANB_NET4" --arg b "$LANB_NET6" \
	'.peers[] | select(.public_key == $k) | .allowed_ips | index($a) and index($b)' "$MG_STATE/mc-peers.json"
transfer_equal() { # meshctl's rx/tx per peer equals wg show transfer (traffic is quiet)
	local k rx tx
	mc --json peers >"$MG_STATE/mc-peers2.json" || return 1
	for k in "$PUB_GWB" "$PUB_HOST"; do
		read -r rx tx <<<"$(wg_field "$NS_GWA" "$IF_GWA" transfer "$k")"
		[ "$(jq -r --arg k "$k" '.peers[] | select(.public_key == $k) | "\(.rx_bytes) \(.tx_bytes)"' \
			"$MG_STATE/mc-peers2.json")" = "$rx $tx" ] || return 1
	done
}
check "rx/tx bytes per peer equal wg show transfer" within 10 transfer_equal
check "gwB's counters are not zero" \
	silently jq -e --arg k "$PUB_GWB" '.peers[] | select(.public_key == $k) | .rx_bytes > 0 and .tx_bytes > 0' "$MG_STATE/mc-peers2.json"
mc peers >"$MG_STATE/mc-peers.txt" || fail "meshctl peers"
check "the table lists gwB with its endpoint" grep -q "^$PUB_GWB  *$GWB_MESH:$WG_PORT " "$MG_STATE/mc-peers.txt"
check "  and the host with its endpoint" grep -q "^$PUB_HOST  *$HOST_IP:$WG_PORT " "$MG_STATE/mc-peers.txt"

# ---- routes ----
section "meshctl routes (gwA)"
route_set() {
	jq -r '.routes[] | "\(.prefix) \(.peer)"' "$1" | sort
}
health_raw gwA routes >"$MG_STATE/raw-routes.json"
mc --json routes >"$MG_STATE/mc-routes.json" || fail "meshctl --json routes"
check "--json routes equals the socket's" \
	[ "$(route_set "$MG_STATE/raw-routes.json")" = "$(route_set "$MG_STATE/mc-routes.json")" ]
HOST4=$(node_field "$PUB_HOST" '.addresses[0]')
HOST4=${HOST4%/*}/32
for pair in "$LANB_NET4 $PUB_GWB" "$LANB_NET6 $PUB_GWB" "$HOST4 $PUB_HOST"; do
	check "route ${pair%% *} -> ${pair#* }" grep -qxF "$pair" <(route_set "$MG_STATE/mc-routes.json")
done
mc routes >"$MG_STATE/mc-routes.txt" || fail "meshctl routes"
check "the table has $LANB_NET4 -> gwB" grep -q "^$LANB_NET4  *$PUB_GWB" "$MG_STATE/mc-routes.txt"

# ---- metrics ----
section "Prometheus metrics (gwA)"
mc metrics >"$MG_STATE/metrics-mc.txt" || fail "meshctl metrics"
run_bounded 10 curl -sf --unix-socket "$SOCK" http://x/metrics >"$MG_STATE/metrics-http.txt" ||
	fail "GET /metrics on the health socket"
check "meshctl metrics passes promtool check metrics" promtool check metrics <"$MG_STATE/metrics-mc.txt"
check "GET /metrics passes promtool check metrics" promtool check metrics <"$MG_STATE/metrics-http.txt"
check "coordinator state synced is 1" grep -qx 'meshgate_coordinator_state{state="synced"} 1' "$MG_STATE/metrics-mc.txt"
check "gwB's received bytes are exported and not zero" \
	awk -v k="$PUB_GWB" 'index($0, "meshgate_peer_received_bytes_total{") == 1 && index($0, "peer=\"" k "\"") && $NF > 0 { f = 1 } END { exit !f }' \
	"$MG_STATE/metrics-mc.txt"

# ---- ping ----
section "meshctl ping"
check "ping gwB by key" silently mc -t 5 ping "$PUB_GWB"
GWB4=$(node_field "$PUB_GWB" '.addresses[0]')
check "ping gwB by overlay IP ${GWB4%/*}, --json has rtt_ms" \
	silently sh -c '"$@" | jq -e ".rtt_ms >= 0"' _ "$MESHCTL_BIN" -s "$SOCK" --json -t 5 ping "${GWB4%/*}"

# ---- not running ----
section "exit status"
gw_stop gwB
rc=0
run_bounded 10 "$MESHCTL_BIN" -s "$(gw_socket gwB)" status >/dev/null 2>&1 || rc=$?
check "meshctl on a stopped gateway exits 3 (got $rc)" [ "$rc" -eq 3 ]

gw_alive gwA
gw_stop gwA
log "e2e meshctl: $TOPO_CHECKS_PASSED checks passed"
