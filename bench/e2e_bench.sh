#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# End-to-end throughput, same machine, same run: two meshgate gateways joining two LANs, then
# two wireguard-go instances in their place (kernel forwarding between the LAN and wg0 in the
# gateway namespaces), with iperf3 between the LAN hosts: TCP 1 stream, TCP 4 streams, UDP.
# With meshgate it also measures TCP 1 stream while hs_flood sends valid-looking handshake
# initiations from 65,533 source addresses to gwB's mesh port (the receiving gateway).
#
#   lanA (10.1.0.2) ── gl0 [gwA] gm0 ── pa ┐                 ┌ pb ── gm0 [gwB] gl0 ── lanB (10.2.0.2)
#                                           br0 in "net" ────┤
#                                              flood (192.0.2.99, hs_flood) ── pf ┘
#
# Namespaces, processes and files go through tests/netns/lib.sh and gw_lib.sh (cleaned up on
# exit). The TX checksum offload of every veth end facing a gateway port is off in both runs
# (gw_lib.sh: af_packet cannot take partial checksums), so both see MTU-sized frames.
#
# usage: e2e_bench.sh --meshgate BIN --flood BIN --out DIR [--seconds S] [--flood-pps N]
#                     [--flood-pairs N]
# Writes DIR/e2e.json and DIR/handshake_flood.json. Exit 77 when not root or a tool is missing.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NETNS_DIR=$HERE/../tests/netns
MESHGATE="" FLOOD="" OUT="" SECS=10 FLOOD_PPS=20000 FLOOD_PAIRS=3 IMPL="" PART=""

while [ $# -gt 0 ]; do
	case "$1" in
	--meshgate) MESHGATE=$2 ;;
	--flood) FLOOD=$2 ;;
	--out) OUT=$2 ;;
	--seconds) SECS=$2 ;;
	--flood-pps) FLOOD_PPS=$2 ;;
	--flood-pairs) FLOOD_PAIRS=$2 ;;
	--impl) IMPL=$2 ;;  # internal: one implementation's run
	--part) PART=$2 ;;  # internal: where that run writes its figures
	*)
		echo "usage: $0 --meshgate BIN --flood BIN --out DIR [--seconds S] [--flood-pps N]" \
			"[--flood-pairs N]" >&2
		exit 2
		;;
	esac
	shift 2
done

# ---- parent: one child run per implementation, then the combined JSON ----
if [ -z "$IMPL" ]; then
	if [ -z "$MESHGATE" ] || [ -z "$FLOOD" ] || [ -z "$OUT" ]; then
		echo "e2e_bench: --meshgate, --flood and --out are required" >&2
		exit 2
	fi
	case "$FLOOD_PAIRS" in
	'' | *[!0-9]* | 0)
		echo "e2e_bench: --flood-pairs must be a whole number from 1, got '$FLOOD_PAIRS'" >&2
		exit 2
		;;
	esac
	mkdir -p "$OUT"
	for impl in meshgate wireguard-go; do
		rc=0
		bash "$0" --impl "$impl" --part "$OUT/.e2e-$impl.json" --meshgate "$MESHGATE" \
			--flood "$FLOOD" --seconds "$SECS" --flood-pps "$FLOOD_PPS" \
			--flood-pairs "$FLOOD_PAIRS" || rc=$?
		[ "$rc" -eq 0 ] || exit "$rc"
	done
	python3 - "$OUT" "$SECS" "$FLOOD_PPS" <<'EOF'
import json, statistics, sys
out, secs, pps = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
mg = json.load(open(f"{out}/.e2e-meshgate.json"))
ref = json.load(open(f"{out}/.e2e-wireguard-go.json"))
figs = []
for test, label in (("tcp1", "TCP, 1 stream"), ("tcp4", "TCP, 4 streams"), ("udp", "UDP")):
    a, b = mg[test], ref[test]
    figs.append({"name": f"{test}_meshgate_gbps", "value": a / 1e9, "unit": "Gbit/s"})
    figs.append({"name": f"{test}_wireguard_go_gbps", "value": b / 1e9, "unit": "Gbit/s"})
    figs.append({"name": f"{test}_ratio", "value": a / b if b else 0.0, "unit": "x"})
json.dump({"bench": "e2e", "seconds": secs, "goal": "meshgate >= 3x wireguard-go",
           "udp_payload_bytes": mg["udp_len"], "figures": figs},
          open(f"{out}/e2e.json", "w"), indent=1)
f = mg["flood"]
ratios = [d / b if b else 0.0 for b, d in zip(f["base"], f["during"])]
figs = [
    {"name": "tcp1_without_flood_gbps", "value": statistics.median(f["base"]) / 1e9,
     "unit": "Gbit/s"},
    {"name": "tcp1_during_flood_gbps", "value": statistics.median(f["during"]) / 1e9,
     "unit": "Gbit/s"},
    {"name": "throughput_kept", "value": statistics.median(ratios), "unit": "ratio"},
    {"name": "throughput_kept_min", "value": min(ratios), "unit": "ratio"},
    {"name": "throughput_kept_max", "value": max(ratios), "unit": "ratio"},
    {"name": "pairs", "value": len(ratios), "unit": "count"},
    {"name": "flood_sent_pps", "value": min(s["pps"] for s in f["sender"]), "unit": "1/s"},
]
for i, r in enumerate(ratios, 1):
    figs.append({"name": f"throughput_kept_pair_{i}", "value": r, "unit": "ratio"})
for k, v in sorted(f["metrics"].items()):
    figs.append({"name": k, "value": v, "unit": "count"})
json.dump({"bench": "handshake_flood", "seconds": secs, "flood_pps_asked": pps,
           "goal": "throughput_kept >= 0.9", "figures": figs},
          open(f"{out}/handshake_flood.json", "w"), indent=1)
EOF
	rm -f "$OUT/.e2e-meshgate.json" "$OUT/.e2e-wireguard-go.json"
	exit 0
fi

# ---- child: one implementation ----
export MESHGATE_IMPL=$IMPL
# shellcheck source=../tests/netns/lib.sh
source "$NETNS_DIR/lib.sh"
# shellcheck source=../tests/netns/gw_lib.sh
source "$NETNS_DIR/gw_lib.sh"
# The GW_* variables are read by gw_lib.sh's gw_write_config.
# shellcheck disable=SC2034

gw_require_common
require_commands iperf3 ss curl
gw_setup_binary "$MESHGATE"
[ -x "$FLOOD" ] || fail "hs_flood not executable: $FLOOD"
mg_init

NS_LANA=$(ns_name lanA) NS_LANB=$(ns_name lanB)
NS_GWA=$(ns_name gwA) NS_GWB=$(ns_name gwB)
NS_NET=$(ns_name net) NS_FLOOD=$(ns_name flood)
IF_A=$(if_name ea) IF_B=$(if_name eb)
HOST_A=10.1.0.2 HOST_B=10.2.0.2
OUT_A=192.0.2.1 OUT_B=192.0.2.2 FLOOD_ADDR=192.0.2.99
PORT=51820
# Inner MTU 1420: 1420 - 20 (IPv4) - 8 (UDP).
UDP_LEN=1392

log "e2e: $IMPL, ${SECS}s per test"
ns_add "$NS_LANA" "$NS_LANB" "$NS_FLOOD"
gw_ns_add "$NS_GWA"
gw_ns_add "$NS_GWB"
bridge_ns_add "$NS_NET"
gw_port_link "$NS_GWA" gl0 "$NS_LANA" lan0
gw_port_link "$NS_GWB" gl0 "$NS_LANB" lan0
gw_port_link "$NS_GWA" gm0 "$NS_NET" pa
gw_port_link "$NS_GWB" gm0 "$NS_NET" pb
bridge_attach "$NS_NET" pa
bridge_attach "$NS_NET" pb
veth_pair "$NS_FLOOD" f0 "$NS_NET" pf
bridge_attach "$NS_NET" pf
addr_add "$NS_FLOOD" f0 "$FLOOD_ADDR/24"
addr_add "$NS_LANA" lan0 "$HOST_A/24"
addr_add "$NS_LANB" lan0 "$HOST_B/24"
ip -n "$NS_LANA" route add default via 10.1.0.1 || fail "default route in lanA"
ip -n "$NS_LANB" route add default via 10.2.0.1 || fail "default route in lanB"

PUB_A=$(gen_key gwA)
PUB_B=$(gen_key gwB)

gw_reset_vars
GW_NAME=gwA GW_NS=$NS_GWA GW_IFNAME=$IF_A GW_KEY=$MG_STATE/gwA.key GW_PORT=$PORT
GW_LAN_IF=gl0 GW_LAN4=10.1.0.1/24 GW_MESH_IF=gm0 GW_MESH4=$OUT_A/24
GW_PEERS=("$PUB_B|10.2.0.0/24|$(endpoint "$OUT_B" "$PORT")|")
gw_write_config "$MG_STATE/gwA.yaml"
# Two gateways on one machine: each worker gets a core of its own (gw_lib.sh puts every worker
# on lcore 1), so gwA's worker runs on CPU 0 beside gwB's control thread and the other way round.
sed -i 's/^  control: 0$/  control: 1/; s/^  workers: \[1\]$/  workers: [0]/' "$MG_STATE/gwA.yaml"
grep -q '^  workers: \[0\]$' "$MG_STATE/gwA.yaml" || fail "could not move gwA's worker to lcore 0"
gw_reset_vars
GW_NAME=gwB GW_NS=$NS_GWB GW_IFNAME=$IF_B GW_KEY=$MG_STATE/gwB.key GW_PORT=$PORT
GW_LAN_IF=gl0 GW_LAN4=10.2.0.1/24 GW_MESH_IF=gm0 GW_MESH4=$OUT_B/24
GW_PEERS=("$PUB_A|10.1.0.0/24|$(endpoint "$OUT_A" "$PORT")|")
gw_write_config "$MG_STATE/gwB.yaml"

gw_start "$MG_STATE/gwA.yaml"
gw_start "$MG_STATE/gwB.yaml"
iperf_server "$NS_LANB"
ping_ok "$NS_LANA" "$HOST_B" 3 || fail "host A cannot reach host B through the tunnel"
wait_handshake "$NS_GWA" "$IF_A" "$PUB_B" 5

# rate JSON: received bits per second of an iperf3 run.
rate() {
	jq -r '(.end.sum_received.bits_per_second // .end.sum.bits_per_second // 0)' "$1"
}

# measure NAME IPERF-ARGS...: received bits per second (iperf3's warnings kept out of the JSON,
# unlike gw_lib.sh's iperf_run).
measure() {
	local name="$1" out="$MG_STATE/iperf-$1.json" r
	shift
	run_bounded $((SECS + 30)) ip netns exec "$NS_LANA" iperf3 -c "$HOST_B" -J \
		--connect-timeout 5000 -t "$SECS" "$@" >"$out" 2>"$out.err" ||
		fail "iperf3 $name failed: $(jq -r '.error // empty' "$out" 2>/dev/null) $(cat "$out.err")"
	r=$(rate "$out")
	awk -v r="$r" 'BEGIN { exit !(r > 0) }' || fail "iperf3 $name moved nothing"
	printf '%s\n' "$r"
}

TCP1=$(measure tcp1)
log "$IMPL: TCP 1 stream $(awk -v r="$TCP1" 'BEGIN { printf "%.3f", r / 1e9 }') Gbit/s"
TCP4=$(measure tcp4 -P 4)
log "$IMPL: TCP 4 streams $(awk -v r="$TCP4" 'BEGIN { printf "%.3f", r / 1e9 }') Gbit/s"
UDP=$(measure udp -u -b 0 -l "$UDP_LEN")
log "$IMPL: UDP $(awk -v r="$UDP" 'BEGIN { printf "%.3f", r / 1e9 }') Gbit/s received"

# metrics NAME: gwB's Prometheus counters of the handshake path, as JSON.
metrics() {
	local sock="$MG_STATE/gwB.health"
	[ -S "$sock" ] || {
		echo '{}'
		return 0
	}
	run_bounded 5 curl -sf --unix-socket "$sock" http://localhost/metrics 2>/dev/null |
		awk '/^meshgate_(handshake_[a-z_]*|cookie_replies_sent)_total / { printf "%s %s\n", $1, $2 }' |
		jq -R -s 'split("\n") | map(select(length > 0) | split(" ") | {(.[0]): (.[1] | tonumber)}) | add // {}'
}

# The flood figure is the median of FLOOD_PAIRS ratios, each a TCP 1 stream run without the
# flood followed by one during it: one stream's rate wanders by a quarter between runs here, more
# than the flood's cost, so a single pair says little.
FLOOD_JSON='{}'
if ! gw_is_reference; then
	bases=() durings=() senders=()
	before=$(metrics)
	for pair in $(seq 1 "$FLOOD_PAIRS"); do
		bases+=("$(measure "flood-base-$pair")")
		spawn "$MG_STATE/hs_flood.log" ip netns exec "$NS_FLOOD" "$FLOOD" --gw-pubkey "$PUB_B" \
			--dst "$OUT_B" --port "$PORT" --src-net 198.18.0.0 --pps "$FLOOD_PPS" \
			--seconds "$((SECS + 2))" --count "$((FLOOD_PPS * (SECS + 2)))"
		flood_pid=$MG_SPAWNED_PID
		sleep 1
		durings+=("$(measure "flood-during-$pair")")
		wait_pid "$flood_pid" $((SECS + 15)) "hs_flood" ||
			fail "hs_flood failed: $(cat "$MG_STATE/hs_flood.log")"
		senders+=("$(tail -n 1 "$MG_STATE/hs_flood.log")")
		log "flood pair $pair: ${senders[-1]}; TCP 1 stream $(awk -v a="${bases[-1]}" \
			-v b="${durings[-1]}" 'BEGIN { printf "%.3f -> %.3f Gbit/s", a / 1e9, b / 1e9 }')"
		# Out of the sticky second of load before the next pair's baseline.
		sleep 2
	done
	after=$(metrics)
	gw_alive gwA
	gw_alive gwB
	FLOOD_JSON=$(jq -n --argjson b "$before" --argjson a "$after" \
		--argjson base "$(printf '%s\n' "${bases[@]}" | jq -s .)" \
		--argjson during "$(printf '%s\n' "${durings[@]}" | jq -s .)" \
		--argjson s "$(printf '%s\n' "${senders[@]}" | jq -s .)" \
		'{base: $base, during: $during, sender: $s,
		  metrics: ($a | with_entries(.value -= ($b[.key] // 0)))}')
fi

jq -n --argjson tcp1 "$TCP1" --argjson tcp4 "$TCP4" --argjson udp "$UDP" \
	--argjson udp_len "$UDP_LEN" --argjson flood "$FLOOD_JSON" \
	'{tcp1: $tcp1, tcp4: $tcp4, udp: $udp, udp_len: $udp_len, flood: $flood}' >"$PART" ||
	fail "writing $PART"
gw_stop gwA
gw_stop gwB
log "e2e: $IMPL done"
