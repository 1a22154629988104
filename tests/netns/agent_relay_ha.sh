#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Relay failover for agents (issue 14): the agents take their relays from the coordinator's relay
# map (no relay.host in agent.yaml), two relays of one region share a mesh key, and nodes homed on
# different relays meet through the mesh; killing the relay one node is on moves it to the other
# within 5 s and the traffic resumes.
#
#   mg-<pid>-hub: bridge br0 10.99.0.1/24; meshgate-coord (:8080), relays r1 (:8443, metrics
#                 :9470) and r2 (:8444, metrics :9471), meshed both ways; map order r1, r2
#   mg-<pid>-a:   agent A, all UDP dropped on veth0; homes on r1 (the first of the map)
#   mg-<pid>-b:   agent B, all UDP dropped, and its TCP SYNs to r1 dropped, so it homes on r2
#                 after its dial to r1 times out
#
# Checks: while B's dial to r1 hangs, B's loop keeps running (its status file, written by the loop
# once a second, is rewritten at least twice and says it is dialling r1); A on r1, B on r2 (their status files and the home relays the map shows); ping A -> B
# through r1, the mesh and r2 (r1 counts mesh_out frames); SIGKILL r1; A's ping to B resumes, A's
# status shows r2, all within 5 s (the measured failover time is printed); meshctl agent on A shows
# B via relay r2; C (namespace mg-<pid>-c, region far) homes on r3, which is in no mesh, and A
# reaches it by connecting to r3 as well; iperf3 A -> B after.
#
# usage: agent_relay_ha.sh MESHGATE_AGENT MESHGATE_COORD MESHGATE_RELAY MESHCTL
set -euo pipefail

AGENT=${1:-}
COORD=${2:-}
RELAY=${3:-}
MESHCTL=${4:-}
# shellcheck source=coord_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/coord_lib.sh"

[ -n "$AGENT" ] && [ -n "$COORD" ] && [ -n "$RELAY" ] ||
	fail "usage: agent_relay_ha.sh MESHGATE_AGENT MESHGATE_COORD MESHGATE_RELAY"
require_root
require_commands wireguard-go wg ip ping curl jq timeout setsid nft openssl iperf3
require_built meshgate-agent "$AGENT" meshgate-coord "$COORD" meshgate-relay "$RELAY" meshctl "$MESHCTL"
mg_init

NS_H=$(ns_name hub)
NS_A=$(ns_name a)
NS_B=$(ns_name b)
NS_C=$(ns_name c)
IF_A=$(if_name mgA)
IF_B=$(if_name mgB)
IF_C=$(if_name mgC)
URL="http://10.99.0.1:8080"

log "namespaces $NS_H $NS_A $NS_B $NS_C"
ns_add "$NS_H" "$NS_A" "$NS_B" "$NS_C"
hub_bridge "$NS_H" 10.99.0.1/24
hub_join "$NS_H" "$NS_A" va 10.99.0.2/24
hub_join "$NS_H" "$NS_B" vb 10.99.0.3/24
hub_join "$NS_H" "$NS_C" vc 10.99.0.4/24

# ---- the firewalls: no UDP; A reaches both relays, B only r2 ----
firewall() { udp_firewall "$1" veth0 "$2" "reject with tcp reset"; } # NS TCP_PORTS_ALLOWED
firewall "$NS_A" "8080, 8443, 8444, 8445"
firewall "$NS_C" "8080, 8444, 8445"
firewall "$NS_B" "8080, 8443, 8444"
# B's SYNs to r1 vanish: its dial there hangs until the 5 s connect timeout.
ip netns exec "$NS_B" nft add rule inet mgfw out oifname veth0 tcp dport 8443 drop ||
	fail "blackhole r1 for B"

# ---- the coordinator, with both relays in its map ----
(umask 077 && wg genkey >"$MG_STATE/mesh.key")
coord_write 10.99.0.1:8080 "test r1@10.99.0.1:8443 r2@10.99.0.1:8444" "far r3@10.99.0.1:8445"
coord_start "$NS_H" "$URL"
alice_nodes a b c
PUB_A=$(wg pubkey <"$MG_STATE/a.key")
PUB_B=$(wg pubkey <"$MG_STATE/b.key")
PUB_C=$(wg pubkey <"$MG_STATE/c.key")

# ---- two meshed relays ----
relay_cert
meshed_relay() { # NAME PORT METRICS_PORT PEER PEER_PORT
	relay_run "$NS_H" "$1" "10.99.0.1:$2" "$3" test "mesh:
  key_file: $MG_STATE/mesh.key
  ca_file: $MG_STATE/relay.crt
  peers:
    - {name: $4, address: \"10.99.0.1:$5\", server_name: relay.test}
limits:
  keepalive_seconds: 1"
}
meshed_relay r1 8443 9470 r2 8444
R1_PID=$RELAY_PID
meshed_relay r2 8444 9471 r1 8443
R2_PID=$RELAY_PID
# r3: another region, in no mesh with r1 and r2.
relay_run "$NS_H" r3 "10.99.0.1:8445" 9472 far
R3_PID=$RELAY_PID
metric() { relay_metric "$NS_H" "$@"; } # METRICS_PORT NAME
meshed() {
	[ "$(metric 9470 meshgate_relay_mesh_links_up)" = 1 ] &&
		[ "$(metric 9471 meshgate_relay_mesh_links_up)" = 1 ]
}
wait_for 15 "r1 and r2 meshed" meshed

# ---- the agents: relays from the map ----
agent_write a "$IF_A" 1280 "$MG_STATE/authkey" info region test 2
agent_write b "$IF_B" 1280 "$MG_STATE/authkey" info region test 2
agent_write c "$IF_C" 1280 "$MG_STATE/authkey" info region far 2
agent_start a "$NS_A" "$IF_A"
AGENT_A=$AGENT_PID
agent_start b "$NS_B" "$IF_B"
AGENT_B=$AGENT_PID
agent_start c "$NS_C" "$IF_C"
AGENT_C=$AGENT_PID

dialling() { jq -e '.relay.dialling == "r1"' "$MG_STATE/status-b.json"; }
wait_for 10 "B dialling r1" dialling
m0=$(stat -c %.9Y "$MG_STATE/status-b.json")
rewrites=0
for _ in $(seq 30); do
	dialling >/dev/null 2>&1 || break
	m=$(stat -c %.9Y "$MG_STATE/status-b.json")
	[ "$m" = "$m0" ] || rewrites=$((rewrites + 1))
	m0=$m
	sleep 0.1
done
[ "$rewrites" -ge 2 ] || fail "B's status file was rewritten $rewrites times while it dialled r1: the dial blocks the loop"
log "B's loop ran on while it dialled the silent r1 ($rewrites status rewrites)"
wait_for 20 "A homed on r1" home_is a r1
wait_for 20 "B homed on r2 (r1 refused by its firewall)" home_is b r2
peer_home_is() { # WHO PEERKEY RELAY: the map shows the peer's home relay as RELAY
	jq -e --arg k "$2" --arg r "$3" '.peers[] | select(.key == $k) | .home_relay == $r' \
		"$MG_STATE/status-$1.json"
}
wait_for 10 "A sees B's home relay r2" peer_home_is a "$PUB_B" r2
wait_for 10 "B sees A's home relay r1" peer_home_is b "$PUB_A" r1
B4=$(node_addr "$PUB_B" 0)
log "A on r1, B on r2; B's overlay address $B4"

ping_a_b() { run_bounded 5 ip netns exec "$NS_A" ping -c 1 -W 1 "$B4" >/dev/null 2>&1; }
wait_for 30 "ping A -> B through r1, the mesh and r2" ping_a_b
out=$(metric 9470 'meshgate_relay_frames_forwarded_total{path="mesh_out"}')
[ "${out:-0}" -gt 0 ] || fail "r1 forwarded no frame into the mesh"
log "A and B meet through the relay mesh ($out frames r1 -> r2)"

# ---- failover: r1 dies ----
t0=$(date +%s%N)
kill -KILL "$R1_PID"
deadline=$((t0 + 10000000000))
until ping_a_b; do
	[ "$(date +%s%N)" -lt "$deadline" ] || fail "no ping A -> B within 10 s of killing r1"
done
t1=$(date +%s%N)
wait_for 2 "A's status shows r2" home_is a r2
ms=$(((t1 - t0) / 1000000))
log "failover: A moved to r2 and ping A -> B resumed ${ms} ms after r1 was killed"
[ "$ms" -lt 5000 ] || fail "failover took ${ms} ms (limit 5000)"
# meshctl on A's host: home relay r2, B's path "relay r2" and its home relay r2.
"$MESHCTL" agent "$MG_STATE/status-a.json" >"$MG_STATE/meshctl-a.txt" || fail "meshctl agent"
grep -q '^home relay:  r2 (region test' "$MG_STATE/meshctl-a.txt" ||
	fail "meshctl agent: no home relay r2: $(cat "$MG_STATE/meshctl-a.txt")"
awk -v k="$PUB_B" '$1 == k && $3 == "relay" && $4 == "r2" && $5 == "r2" {f = 1} END {exit !f}' \
	"$MG_STATE/meshctl-a.txt" || fail "meshctl agent: B not via relay r2: $(cat "$MG_STATE/meshctl-a.txt")"
log "meshctl agent on A: $(grep -F "$PUB_B" "$MG_STATE/meshctl-a.txt" | tr -s ' ')"

# ---- a peer homed in another region: A connects to C's home relay r3 (no mesh to it) ----
wait_for 20 "C homed on r3 (its region)" home_is c r3
wait_for 10 "A sees C's home relay r3" peer_home_is a "$PUB_C" r3
C4=$(node_addr "$PUB_C" 0)
ping_c() { run_bounded 5 ip netns exec "$NS_A" ping -c 1 -W 1 "$C4" >/dev/null 2>&1; }
wait_for 30 "ping A -> C through r3" ping_c
[ "$(metric 9472 'meshgate_relay_frames_forwarded_total{path="local"}')" -gt 0 ] ||
	fail "r3 forwarded nothing"
grep -q 'connected to a peer.s home relay.*relay=r3' "$MG_STATE/agent-a.log" ||
	fail "A did not connect to r3"
"$MESHCTL" agent "$MG_STATE/status-a.json" >"$MG_STATE/meshctl-a.txt" || fail "meshctl agent"
awk -v k="$PUB_C" '$1 == k && $3 == "relay" && $4 == "r3" && $5 == "r3" {f = 1} END {exit !f}' \
	"$MG_STATE/meshctl-a.txt" || fail "meshctl agent: C not via relay r3: $(cat "$MG_STATE/meshctl-a.txt")"
log "A (home r2) reaches C (home r3, region far, no mesh) on a second connection to r3"

spawn "$MG_STATE/iperf-server.log" ip netns exec "$NS_B" iperf3 -s -1 -B "$B4"
wait_for 5 "iperf3 server" ip netns exec "$NS_B" ss -ltn "sport = :5201"
run_bounded 20 ip netns exec "$NS_A" iperf3 -c "$B4" -t 2 -J >"$MG_STATE/iperf.json" ||
	fail "iperf3 after failover"
bps=$(jq -er '.end.sum_received.bits_per_second' "$MG_STATE/iperf.json")
awk -v a="$bps" 'BEGIN {exit !(a > 1e6)}' || fail "iperf3 after failover too slow: $bps bit/s"
log "iperf3 A -> B via r2 after failover: $(awk -v b="$bps" 'BEGIN {printf "%.0f", b / 1e6}') Mbit/s (shared cores, not a benchmark)"

stop_pid "$AGENT_A" 5
stop_pid "$AGENT_B" 5
stop_pid "$AGENT_C" 5
stop_pid "$R2_PID" 5
stop_pid "$R3_PID" 5
stop_pid "$COORD_PID" 5
log "PASS"
