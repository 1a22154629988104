#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The gateway reaches a peer homed on a relay of another region (issue 14): two relays that do
# not mesh, the gateway homed on one, an agent on the other, both behind firewalls that drop all
# UDP. Neither relay can forward to the other, so each node must send to the peer's home relay.
#
#   mg-<pid>-hub: bridge br0 10.98.0.1/24; meshgate-coord (HTTP :8080) whose relay map has region
#                 west (r1, :8443) and region east (r2, :8444), both meshgate-relay without a
#                 mesh. The bridge drops every UDP frame to or from the gateway's mesh port.
#   mg-<pid>-gw:  meshgate, coordinated, relay region west: DPDK LAN port -> lan, DPDK mesh port
#                 10.98.0.10 on br0; kernel veth mg0 10.98.0.11 carries its TCP (no UDP).
#   mg-<pid>-lan: 192.168.78.2/24 behind the gateway (its advertised route).
#   mg-<pid>-a:   agent A, veth0 10.98.0.2/24, relay region east, no UDP out or in.
#
# Checks: the gateway homes on r1 and A on r2; pings both ways between A and the LAN host; the
# gateway logs its connection to r2 and shows A on path relay:r2 (health /peers, meshctl peers,
# meshgate_relay_extra_connected 1); A shows the gateway through r1; each relay forwarded frames
# and neither has a mesh link, so the traffic took both extra connections. Both nodes show a
# round trip > 0 to their home relay and to the other one (meshctl netcheck, A's status).
#
# usage: gw_relay_regions.sh MESHGATE MESHGATE_AGENT MESHGATE_COORD MESHGATE_RELAY MESHCTL
set -euo pipefail

GW=${1:-}
AGENT=${2:-}
COORD=${3:-}
RELAY=${4:-}
MESHCTL=${5:-}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"
# shellcheck source=gw_lib.sh
source "$HERE/gw_lib.sh"
# shellcheck source=agent_lib.sh
source "$HERE/agent_lib.sh"

[ -n "$AGENT" ] && [ -n "$COORD" ] && [ -n "$RELAY" ] ||
	fail "usage: gw_relay_regions.sh MESHGATE MESHGATE_AGENT MESHGATE_COORD MESHGATE_RELAY MESHCTL"
gw_is_reference && skip "the relay path is meshgate's own: no reference run"
gw_setup_binary "$GW"
gw_require_common
require_commands curl nft openssl
[ -x "$AGENT" ] || skip "meshgate-agent not built: $AGENT"
[ -x "$COORD" ] || skip "meshgate-coord not built: $COORD"
[ -x "$RELAY" ] || skip "meshgate-relay not built: $RELAY"
mg_init

NS_H=$(ns_name hub)
NS_G=$(ns_name gw)
NS_L=$(ns_name lan)
NS_A=$(ns_name a)
IF_A=$(if_name mgA)
IF_G=$(if_name mgG)
URL="http://10.98.0.1:8080"

# ---- topology ----
ns_add "$NS_H" "$NS_A" "$NS_L"
gw_ns_add "$NS_G"
ip -n "$NS_H" link add br0 type bridge mcast_snooping 0 || fail "bridge"
ip -n "$NS_H" link set br0 up
addr_add "$NS_H" br0 10.98.0.1/24
gw_port_link "$NS_G" l0 "$NS_L" veth0
gw_port_link "$NS_G" m0 "$NS_H" vg
host_link "$NS_G" mg0 "$NS_H" vm
host_link "$NS_A" veth0 "$NS_H" va
for p in vg vm va; do bridge_attach "$NS_H" "$p"; done
addr_add "$NS_G" mg0 10.98.0.11/24
addr_add "$NS_A" veth0 10.98.0.2/24
addr_add "$NS_L" veth0 192.168.78.2/24
ip -n "$NS_L" route add default via 192.168.78.1 || fail "lan route"

# ---- the firewalls: no UDP at all, TCP only to the coordinator and the relays ----
for ns_if in "$NS_A:veth0" "$NS_G:mg0"; do
	ns=${ns_if%%:*} ifc=${ns_if#*:}
	ip netns exec "$ns" nft -f - <<EOF || fail "firewall in $ns"
table inet mgfw {
	chain out {
		type filter hook output priority 0; policy accept;
		oifname "$ifc" meta l4proto udp drop
		oifname "$ifc" tcp dport != { 8080, 8443, 8444 } drop
	}
	chain in {
		type filter hook input priority 0; policy accept;
		iifname "$ifc" meta l4proto udp drop
	}
}
EOF
done
ip netns exec "$NS_H" nft -f - <<EOF || fail "bridge firewall"
table bridge mgfw {
	chain gwport {
		type filter hook forward priority 0; policy accept;
		iifname "vg" meta l4proto udp drop
		oifname "vg" meta l4proto udp drop
	}
}
EOF

# ---- the coordinator and the two relays ----
(umask 077 && wg genkey >"$MG_STATE/relay-credential")
cat >"$MG_STATE/coord.yaml" <<EOF
listen: 10.98.0.1:8080
allow_plain_http: true
store: sqlite:$MG_STATE/coord.db
log_level: info
heartbeat: 2s
relay_credential_file: $MG_STATE/relay-credential
relay_map:
  regions:
    - code: west
      relays:
        - {name: r1, host: 10.98.0.1, port: 8443, server_name: relay.test}
    - code: east
      relays:
        - {name: r2, host: 10.98.0.1, port: 8444, server_name: relay.test}
EOF
coord_start "$NS_H" "$URL"
alice_nodes a
PUB_A=$(wg pubkey <"$MG_STATE/a.key")
PUB_G=$(gen_key gw)

relay_cert
RELAY_PIDS=()
for r in 1 2; do
	region=west
	[ "$r" = 2 ] && region=east
	cat >"$MG_STATE/r$r.yaml" <<EOF
listen: "10.98.0.1:844$((r + 2))"
tls:
  cert_file: $MG_STATE/relay.crt
  key_file: $MG_STATE/relay.key
metrics_listen: 127.0.0.1:947$r
name: r$r
region: $region
admission:
  coordinator: $URL
  credential_file: $MG_STATE/relay-credential
EOF
	relay_spawn "$NS_H" "r$r" "947$r"
	RELAY_PIDS+=("$RELAY_PID")
done

# ---- the gateway (west) and the agent (east) ----
GW_NAME=gw GW_NS=$NS_G GW_IFNAME=$IF_G GW_KEY=$MG_STATE/gw.key
GW_LAN_IF=l0 GW_LAN4=192.168.78.1/24 GW_LAN6=fd78::1/64
GW_MESH_IF=m0 GW_MESH4=10.98.0.10/24 GW_MESH6=fd98::10/64
GW_EXTRA="coordinator:
  url: $URL
  authkey_file: $MG_STATE/authkey
  state_dir: $MG_STATE/state-gw
  hostname: gw
relay:
  region: west
  ca_file: $MG_STATE/relay.crt
  direct_timeout: 2"
gw_write_config "$MG_STATE/gw.yaml"
gw_start "$MG_STATE/gw.yaml"

cat >"$MG_STATE/agent-a.yaml" <<EOF
interface:
  name: $IF_A
  private_key_file: $MG_STATE/a.key
  listen_port: 51820
  mtu: 1280
wireguard_go: $(command -v wireguard-go)
coordinator:
  url: $URL
  authkey_file: $MG_STATE/authkey
  state_dir: $MG_STATE/state-a
  hostname: node-a
relay:
  region: east
  ca_file: $MG_STATE/relay.crt
  direct_timeout: 2
status_file: $MG_STATE/status-a.json
log_level: info
EOF
agent_start a "$NS_A" "$IF_A"
AGENT_A=$AGENT_PID

wait_for 20 "the gateway registered" node_field "$PUB_G" .id
GW_ID=$(node_field "$PUB_G" .id)
admin POST "nodes/$GW_ID/routes" '{"approved": ["192.168.78.0/24"]}' >/dev/null
wait_for 15 "the gateway homed on r1" grep -q 'msg="relay: connected".*relay=r1' "$(gw_log_file gw)"
a_home() { jq -e '.relay.connected and .relay.name == "r2"' "$MG_STATE/status-a.json" >/dev/null 2>&1; }
wait_for 15 "A homed on r2" a_home
has_route() { run_bounded 5 ip netns exec "$NS_A" wg show "$IF_A" allowed-ips | grep -F "$PUB_G" | grep -qF 192.168.78.0/24; }
wait_for 20 "A has the gateway and its LAN route" has_route

lan_ping() { run_bounded 10 ip netns exec "$1" ping -c 2 -i 0.2 -W 2 "$2" >/dev/null 2>&1; }
A4=$(node_field "$PUB_A" '.addresses[0]')
wait_for 40 "ping LAN host -> A ($A4) across the two regions" lan_ping "$NS_L" "$A4"
wait_for 10 "ping A -> LAN host 192.168.78.2" lan_ping "$NS_A" 192.168.78.2
log "pings both ways between A (homed on r2, east) and the gateway's LAN (gateway on r1, west)"

grep -q 'msg="relay: connected to a peer.s home relay".*relay=r2' "$(gw_log_file gw)" ||
	fail "the gateway did not log its connection to A's home relay r2"
path=$(run_bounded 5 curl -sf --unix-socket "$MG_STATE/gw.health" http://localhost/peers |
	jq -er --arg k "$PUB_A" '.peers[] | select(.public_key == $k) | .path') || fail "gateway /peers"
[ "$path" = relay:r2 ] || fail "the gateway's status shows A on path '$path', not relay:r2"
if [ -x "$MESHCTL" ]; then
	run_bounded 10 "$MESHCTL" -s "$MG_STATE/gw.health" peers >"$MG_STATE/meshctl-peers" ||
		fail "meshctl peers"
	grep -F "$PUB_A" "$MG_STATE/meshctl-peers" | grep -qF relay:r2 ||
		fail "meshctl peers does not show A on relay:r2: $(cat "$MG_STATE/meshctl-peers")"
fi
run_bounded 5 curl -sf --unix-socket "$MG_STATE/gw.health" http://localhost/metrics >"$MG_STATE/gw.metrics" ||
	fail "gateway /metrics"
grep -qx 'meshgate_relay_extra_connected 1' "$MG_STATE/gw.metrics" ||
	fail "metrics: meshgate_relay_extra_connected is not 1"
# A's status file is rewritten once a second: it may still predate A's connection to r1.
a_via_r1() { jq -e --arg k "$PUB_G" '.peers[] | select(.key == $k) | .relay == "r1"' "$MG_STATE/status-a.json" >/dev/null 2>&1; }
wait_for 5 "A's status shows the gateway through r1" a_via_r1
log "status: the gateway shows A on relay:r2 (its extra connection), A shows the gateway through r1"
# Round trips to both relays on each side: the home relay and the extra connection.
if [ -x "$MESHCTL" ]; then
	gw_rtt() { run_bounded 5 "$MESHCTL" -s "$MG_STATE/gw.health" --json netcheck |
		jq -e --arg n "$1" --argjson h "$2" \
			'.relay.relays[] | select(.name == $n and .home == $h and .rtt_ms > 0)' >/dev/null; }
	wait_for 10 "the gateway's round trip to r1 (home)" gw_rtt r1 true
	wait_for 10 "the gateway's round trip to r2 (extra)" gw_rtt r2 false
fi
a_rtt() { jq -e --arg n "$1" --argjson h "$2" \
	'.relay.relays[] | select(.name == $n and .home == $h and .rtt_ms > 0)' \
	"$MG_STATE/status-a.json" >/dev/null 2>&1; }
wait_for 10 "A's round trip to r2 (home)" a_rtt r2 true
wait_for 10 "A's round trip to r1 (extra)" a_rtt r1 false
log "round trips: gateway $(run_bounded 5 "$MESHCTL" -s "$MG_STATE/gw.health" --json netcheck |
	jq -c '[.relay.relays[] | {name, home, rtt_ms}]'), A $(jq -c '[.relay.relays[] | {name, home, rtt_ms}]' \
	"$MG_STATE/status-a.json")"

for r in 1 2; do
	fwd=$(relay_metric "$NS_H" "947$r" 'meshgate_relay_frames_forwarded_total{path="local"}')
	mesh=$(relay_metric "$NS_H" "947$r" 'meshgate_relay_frames_forwarded_total{path="mesh_out"}')
	[ "${fwd:-0}" -gt 0 ] || fail "relay r$r forwarded no frames to its own clients"
	[ "${mesh:-1}" -eq 0 ] || fail "relay r$r sent $mesh frames to a relay mesh: the regions must not mesh"
	log "relay r$r forwarded $fwd frames between its own clients, none over a mesh"
done

gw_stop gw
stop_pid "$AGENT_A" 5
for pid in "${RELAY_PIDS[@]}"; do stop_pid "$pid" 5; done
stop_pid "$COORD_PID" 5
log "PASS"
