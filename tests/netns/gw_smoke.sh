#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Smoke test of the meshgate binary: bring-up, one peer, traffic both ways, wg(8) over the UAPI
# socket, clean stop. Three namespaces, two veth pairs; the gateway drives both of its veths
# through DPDK af_packet ports, so the kernel in its namespace holds no addresses on them:
#
#   mg-<pid>-lan  lan0 192.168.10.2/24 ── glan0 [ meshgate  LAN  192.168.10.1            ]
#                 default via .1                [  overlay 10.99.0.1, UDP 51820          ]
#   mg-<pid>-wg   mesh0 172.16.0.2/24 ── gmesh0 [           mesh 172.16.0.1              ]
#                 wireguard-go <wgif> 10.99.0.2/24, 192.168.20.1 behind it (on lo)
#
# Checks: --check-config accepts the file and rejects a broken one (exit 1, error names the
# key); bad arguments exit 2; the LAN host reaches 192.168.20.1 behind wireguard-go (the first
# packet waits for the handshake in the gateway's staged queue) and wireguard-go's side reaches
# the LAN host; the gateway answers echo on its LAN address and, through the tunnel, on its
# overlay address; `wg show` against the gateway lists the peer with a handshake and non-zero
# transfer; wireguard-go's `wg show` agrees; SIGINT stops the gateway with status 0 and its
# UAPI socket is gone.
#
# PORTS picks the gateway's ports: 2 (af_packet, two queue pairs: the control thread has a TX
# queue of its own), 1 (af_packet, one queue pair) or af_xdp (an XDP socket on each veth's one
# queue). With one queue the control thread sends (ARP, handshakes, echo replies) through
# worker 0: the start-up line must say control_tx=via-worker, and every check above must pass.
#
# MG_GW_FORWARDING=1 (issue 18) builds the gateway's namespace as a router or Docker host leaves
# it: IPv4 and IPv6 forwarding on, IPv6 on, and a default route out of a dummy interface, so a
# kernel that took the frames sent to the ports would forward them there. Then also: while the
# gateway runs its ports' interfaces neither forward nor run IPv6, the dummy sends nothing
# during the traffic checks, and after SIGINT both settings are back.
#
# usage: gw_smoke.sh PATH_TO_MESHGATE [PORTS (default 2)]
set -euo pipefail
FORWARDING=${MG_GW_FORWARDING:-0}

GW_BIN=${1:-}
PORTS=${2:-2}
case "$PORTS" in
1 | 2)
	LAN_DEVARGS="net_af_packet0,iface=glan0,qpairs=$PORTS"
	MESH_DEVARGS="net_af_packet1,iface=gmesh0,qpairs=$PORTS"
	;;
af_xdp)
	LAN_DEVARGS="net_af_xdp0,iface=glan0,start_queue=0,queue_count=1"
	MESH_DEVARGS="net_af_xdp1,iface=gmesh0,start_queue=0,queue_count=1"
	;;
*) echo "gw_smoke.sh: PORTS must be 1, 2 or af_xdp" >&2 && exit 2 ;;
esac
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"

[ -n "$GW_BIN" ] || fail "usage: gw_smoke.sh PATH_TO_MESHGATE"
require_root
require_commands wireguard-go wg ip ping timeout setsid
[ -x "$GW_BIN" ] || fail "meshgate not executable: $GW_BIN"
mg_init

NS_LAN=$(ns_name lan)
NS_GW=$(ns_name gw)
NS_WG=$(ns_name wg)
GW_IF=$(if_name mgb)
WG_IF=$(if_name mgw)
GW_SOCK=/var/run/wireguard/$GW_IF.sock
PORT=51820

log "namespaces $NS_LAN $NS_GW $NS_WG; gateway $GW_IF, wireguard-go $WG_IF"
ns_add "$NS_LAN" "$NS_GW" "$NS_WG"
if [ "$FORWARDING" = 1 ]; then
	ip netns exec "$NS_GW" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 ||
		fail "sysctl in $NS_GW"
	# An uplink (a veth to nowhere: not every kernel has dummy), created down with IPv6 off
	# and a static next hop, so the only frames it ever sends are forwarded ones.
	ip -n "$NS_GW" link add up0 type veth peer name up0p || fail "veth up0 in $NS_GW"
	ip netns exec "$NS_GW" sysctl -qw net.ipv6.conf.up0.disable_ipv6=1 \
		net.ipv6.conf.up0p.disable_ipv6=1 || fail "sysctl up0"
	ip -n "$NS_GW" link set up0p up || fail "up0p up"
	ip -n "$NS_GW" link set up0 up || fail "up0 up"
	addr_add "$NS_GW" up0 10.255.0.1/24
	ip -n "$NS_GW" neigh add 10.255.0.2 lladdr 02:00:00:00:00:02 dev up0 nud permanent ||
		fail "next hop on up0"
	ip -n "$NS_GW" route add default via 10.255.0.2 dev up0 || fail "default route via up0"
else
	# The gateway's namespace must not answer ARP/ND or send router solicitations on its veths.
	ip netns exec "$NS_GW" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
		net.ipv6.conf.default.disable_ipv6=1 || fail "sysctl in $NS_GW"
fi
veth_pair "$NS_LAN" lan0 "$NS_GW" glan0
veth_pair "$NS_WG" mesh0 "$NS_GW" gmesh0
addr_add "$NS_LAN" lan0 192.168.10.2/24
ip -n "$NS_LAN" route add default via 192.168.10.1 || fail "default route in $NS_LAN"
addr_add "$NS_WG" mesh0 172.16.0.2/24
addr_add "$NS_WG" lo 192.168.20.1/32

umask 077
wg genkey >"$MG_STATE/gw.key"
wg genkey >"$MG_STATE/wg.key"
GW_PUB=$(wg pubkey <"$MG_STATE/gw.key")
WG_PUB=$(wg pubkey <"$MG_STATE/wg.key")

CONF=$MG_STATE/gw.yaml
cat >"$CONF" <<EOF
interface:
  name: $GW_IF
  private_key_file: $MG_STATE/gw.key
  listen_port: $PORT
  addresses: [10.99.0.1/24]
ports:
  lan:
    devargs: $LAN_DEVARGS
    ipv4: 192.168.10.1/24
  mesh:
    devargs: $MESH_DEVARGS
    ipv4: 172.16.0.1/24
lcores:
  control: 0
  workers: [1]
eal: [--no-pci, --no-huge, --in-memory, --no-telemetry, --file-prefix=mg-$MG_ID, -m, "512", --log-level=lib.eal:notice]
idle:
  backoff: true
limits:
  max_peers: 16
  max_prefixes: 1024
peers:
  - public_key: $WG_PUB
    endpoint: 172.16.0.2:$PORT
    allowed_ips: [10.99.0.2/32, 192.168.20.0/24]
EOF

# ---- command line ----
out=$("$GW_BIN" --check-config "$CONF" 2>&1) || fail "--check-config rejected a good file: $out"
sed 's/listen_port: .*/listen_port: 70000/' "$CONF" >"$MG_STATE/bad.yaml"
rc=0
out=$("$GW_BIN" --check-config "$MG_STATE/bad.yaml" 2>&1) || rc=$?
[ "$rc" -eq 1 ] || fail "--check-config on a bad file: exit $rc, want 1"
case "$out" in
*interface.listen_port*) ;;
*) fail "--check-config error does not name the key: $out" ;;
esac
rc=0
"$GW_BIN" --no-such-option >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 2 ] || fail "bad option: exit $rc, want 2"
"$GW_BIN" --version | grep -q '^meshgate ' || fail "--version"
log "command line ok"

# ---- wireguard-go ----
wg_go_start "$NS_WG" "$WG_IF" "$MG_STATE/wireguard-go.log"
run_bounded 10 ip netns exec "$NS_WG" wg set "$WG_IF" private-key "$MG_STATE/wg.key" \
	listen-port "$PORT" peer "$GW_PUB" endpoint "172.16.0.1:$PORT" \
	allowed-ips 10.99.0.1/32,192.168.10.0/24 || fail "wg set on $WG_IF"
addr_add "$NS_WG" "$WG_IF" 10.99.0.2/24
ip -n "$NS_WG" link set "$WG_IF" up || fail "link up $WG_IF"
ip -n "$NS_WG" route add 192.168.10.0/24 dev "$WG_IF" || fail "route via $WG_IF"

# ---- the gateway ----
mg_file "$GW_SOCK"
spawn "$MG_STATE/meshgate.log" ip netns exec "$NS_GW" "$GW_BIN" --config "$CONF"
GW_PID=$MG_SPAWNED_PID
wait_for 30 "the gateway's UAPI socket" test -S "$GW_SOCK"
kill -0 "$GW_PID" 2>/dev/null || fail "meshgate exited during start-up"
log "gateway up (pid $GW_PID)"
want_tx=via-worker
[ "$PORTS" != 2 ] || want_tx=own-queue
wait_for 10 "the gateway's start-up line" grep -q 'msg="gateway up"' "$MG_STATE/meshgate.log"
grep 'msg="gateway up"' "$MG_STATE/meshgate.log" | grep -q "control_tx=$want_tx" ||
	fail "gateway up line does not say control_tx=$want_tx: $(grep 'gateway up' "$MG_STATE/meshgate.log")"

# port_sysctls: IPv4 forwarding and disable_ipv6 of both port interfaces, as "F D F D".
port_sysctls() {
	local i
	for i in glan0 gmesh0; do
		printf '%s %s ' "$(ip netns exec "$NS_GW" sysctl -n "net.ipv4.conf.$i.forwarding")" \
			"$(ip netns exec "$NS_GW" sysctl -n "net.ipv6.conf.$i.disable_ipv6")"
	done
}
up0_tx() {
	ip netns exec "$NS_GW" cat /sys/class/net/up0/statistics/tx_packets
}
if [ "$FORWARDING" = 1 ]; then
	[ "$(port_sysctls)" = "0 1 0 1 " ] ||
		fail "port guard: forwarding/disable_ipv6 on glan0, gmesh0 are $(port_sysctls), want 0 1 0 1"
	grep 'msg="port guard"' "$MG_STATE/meshgate.log" | grep -q 'gmesh0' ||
		fail "no port guard line naming gmesh0: $(grep 'port guard' "$MG_STATE/meshgate.log")"
	UP0_TX=$(up0_tx)
	log "forwarding on in $NS_GW; the guard turned it off on the ports"
fi

# ---- traffic ----
# The first echo waits in the gateway for the handshake (and ARP on both sides).
run_bounded 20 ip netns exec "$NS_LAN" ping -c 1 -W 10 192.168.20.1 >/dev/null ||
	fail "first ping from the LAN to 192.168.20.1 behind wireguard-go"
run_bounded 20 ip netns exec "$NS_LAN" ping -c 5 -i 0.2 -W 2 192.168.20.1 >"$MG_STATE/ping1" ||
	fail "LAN -> 192.168.20.1: $(tail -n 2 "$MG_STATE/ping1")"
grep -q ' 0% packet loss' "$MG_STATE/ping1" || fail "LAN -> 192.168.20.1 lost packets"
log "LAN host -> behind wireguard-go: ok"

run_bounded 20 ip netns exec "$NS_WG" ping -c 5 -i 0.2 -W 2 192.168.10.2 >"$MG_STATE/ping2" ||
	fail "wireguard-go side -> LAN host: $(tail -n 2 "$MG_STATE/ping2")"
log "wireguard-go side -> LAN host: ok"

run_bounded 10 ip netns exec "$NS_LAN" ping -c 2 -i 0.2 -W 2 192.168.10.1 >/dev/null ||
	fail "echo to the gateway's LAN address"
run_bounded 10 ip netns exec "$NS_WG" ping -c 2 -i 0.2 -W 2 10.99.0.1 >/dev/null ||
	fail "echo to the gateway's overlay address through the tunnel"
log "gateway echo on LAN and overlay addresses: ok"

if [ "$FORWARDING" = 1 ]; then
	[ "$(up0_tx)" = "$UP0_TX" ] ||
		fail "the kernel forwarded $(($(up0_tx) - UP0_TX)) frames sent to the ports out of up0"
	log "the kernel forwarded nothing out of up0"
fi

# ---- wg(8) against both ends ----
show=$(run_bounded 10 wg show "$GW_IF" dump) || fail "wg show $GW_IF"
peer_line=$(printf '%s\n' "$show" | awk -v k="$WG_PUB" '$1 == k')
[ -n "$peer_line" ] || fail "wg show $GW_IF does not list the peer: $show"
read -r _ _ endpoint allowed handshake rx tx _ <<<"$peer_line"
[ "$endpoint" = "172.16.0.2:$PORT" ] || fail "gateway: endpoint $endpoint"
case "$allowed" in
*10.99.0.2/32*192.168.20.0/24* | *192.168.20.0/24*10.99.0.2/32*) ;;
*) fail "gateway: allowed ips $allowed" ;;
esac
[ "$handshake" -gt 0 ] || fail "gateway: no handshake recorded"
{ [ "$rx" -gt 0 ] && [ "$tx" -gt 0 ]; } || fail "gateway: transfer rx=$rx tx=$tx"
now=$(date +%s)
[ $((now - handshake)) -lt 120 ] || fail "gateway: handshake time $handshake is not recent"
log "wg show $GW_IF: handshake $((now - handshake))s ago, rx $rx tx $tx"

wg_line=$(run_bounded 10 ip netns exec "$NS_WG" wg show "$WG_IF" dump | awk -v k="$GW_PUB" '$1 == k')
read -r _ _ _ _ wg_handshake wg_rx wg_tx _ <<<"$wg_line"
[ "$wg_handshake" -gt 0 ] || fail "wireguard-go: no handshake with the gateway"
log "wireguard-go: rx $wg_rx tx $wg_tx"

# ---- stop ----
kill -INT "$GW_PID"
rc=0
wait_pid "$GW_PID" 10 "meshgate after SIGINT" || rc=$?
[ "$rc" -eq 0 ] || fail "meshgate exited with $rc after SIGINT"
[ ! -e "$GW_SOCK" ] || fail "UAPI socket $GW_SOCK left behind"
grep -q stopping "$MG_STATE/meshgate.log" || fail "no clean stop in the log"
if [ "$FORWARDING" = 1 ]; then
	[ "$(port_sysctls)" = "1 0 1 0 " ] ||
		fail "port guard: after SIGINT glan0, gmesh0 are $(port_sysctls), want 1 0 1 0 restored"
	log "port settings restored"
fi
log "PASS"
