#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Scale: the gateway loads 10,000 static peers with 100,000 allowed-IP prefixes from its YAML,
# and traffic reaches the first and the last of them, each a real wireguard-go.
#
#   lan (192.168.50.2, fd99::2) ── gl0 [meshgate gw] gm0 ── br0 in "net"
#                                                           ├── p0:    wireguard-go, slot 0    (192.0.2.2)
#                                                           └── p9999: wireguard-go, slot 9999 (192.0.2.3)
#
# gen_peers derives the keys and writes the peers (per slot: overlay /32 and /128, four
# 10.x.y.0/24 and four fd5c:slot:k::/64 routes). Checks:
#   load        meshgate answers `wg show` within 180 s; the load time is logged
#   tables      `wg show peers` lists 10,000 peers and `wg show allowed-ips` 100,000 prefixes
#   traffic     each wireguard-go pings the LAN (it initiates); the LAN pings each one's overlay
#               IPv4 and IPv6 address and an address inside its first IPv4 and IPv6 route
#   no-endpoint the LAN cannot reach slot 5000, which has no endpoint
#   counters    for both slots the gateway's transfer equals wireguard-go's, exactly
#   stop        meshgate exits 0 on SIGTERM
#
# usage: gw_scale.sh [PATH_TO_MESHGATE] PATH_TO_GEN_PEERS  (MESHGATE_BIN overrides the first;
# MESHGATE_IMPL=wireguard-go for the reference run)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"
# shellcheck source=gw_lib.sh
source "$HERE/gw_lib.sh"

GEN_PEERS=${2:-}
gw_require_common
[ -n "$GEN_PEERS" ] || fail "usage: gw_scale.sh PATH_TO_MESHGATE PATH_TO_GEN_PEERS"
[ -x "$GEN_PEERS" ] || fail "gen_peers not executable: $GEN_PEERS"
gw_setup_binary "${1:-}"
mg_init

pass() {
	log "PASS: $*"
}

N_PEERS=${SCALE_PEERS:-10000}
PREFIXES_PER_PEER=10
LAST=$((N_PEERS - 1))
MIDDLE=$((N_PEERS / 2))
NS_LAN=$(ns_name lan)
NS_GW=$(ns_name gw)
NS_NET=$(ns_name net)
GW_IF=$(if_name mg)
LAN_HOST4=192.168.50.2 LAN_HOST6=fd99::2
GW_OUT4=192.0.2.1
WG_PORT=40000

log "namespaces mg-$MG_ID-{lan,gw,net,p0,p$LAST}; gateway $GW_IF; $N_PEERS peers"
ns_add "$NS_LAN"
gw_ns_add "$NS_GW"
bridge_ns_add "$NS_NET"
gw_port_link "$NS_GW" gl0 "$NS_LAN" lan0
gw_port_link "$NS_GW" gm0 "$NS_NET" pgw
bridge_attach "$NS_NET" pgw
addr_add "$NS_LAN" lan0 "$LAN_HOST4/24"
addr_add "$NS_LAN" lan0 "$LAN_HOST6/64"
ip -n "$NS_LAN" route add default via 192.168.50.1 || fail "LAN default route"
ip -n "$NS_LAN" -6 route add default via fd99::1 || fail "LAN default route (IPv6)"

GW_PUB=$(gen_key gw)

# ---- peers ----
t0=$(date +%s%N)
gen_args=(--count "$N_PEERS" --prefixes "$PREFIXES_PER_PEER" --yaml "$MG_STATE/peers.yaml"
	--summary "$MG_STATE/peers.summary" --key-dir "$MG_STATE" --keep 0 --keep "$LAST"
	--keep "$MIDDLE" --endpoint "0=192.0.2.2:$WG_PORT" --endpoint "$LAST=192.0.2.3:$WG_PORT")
! gw_is_reference || gen_args+=(--wg-conf "$MG_STATE/peers.conf")
run_bounded 60 "$GEN_PEERS" "${gen_args[@]}" || fail "gen_peers failed"
log "gen_peers: $N_PEERS keypairs and $((N_PEERS * PREFIXES_PER_PEER)) prefixes in" \
	"$((($(date +%s%N) - t0) / 1000000)) ms"

# summary SLOT FIELD: field 2..6 of the slot's summary line (pubkey v4 v6 route4 route6).
summary() {
	awk -v s="$1" -v f="$2" '$1 == s { print $f }' "$MG_STATE/peers.summary"
}

# ---- the two wireguard-go peers ----
# start_peer SLOT OUTER4
start_peer() {
	local slot="$1" outer="$2" ns ifname
	ns=$(ns_name "p$slot")
	ifname=$(if_name "p${slot}x")
	ns_add "$ns"
	veth_pair "$ns" wm0 "$NS_NET" "pp$slot"
	no_tx_offload "$ns" wm0
	bridge_attach "$NS_NET" "pp$slot"
	addr_add "$ns" wm0 "$outer/24"
	wg_go_start "$ns" "$ifname" "$MG_STATE/wireguard-go-$slot.log"
	wg_in "$ns" set "$ifname" private-key "$MG_STATE/peer-$slot.key" listen-port "$WG_PORT" \
		peer "$GW_PUB" allowed-ips 192.168.50.0/24,fd99::/64 \
		endpoint "$(endpoint "$GW_OUT4" 51820)" || fail "wg set on $ifname"
	addr_add "$ns" "$ifname" "$(summary "$slot" 3)/32"
	addr_add "$ns" "$ifname" "$(summary "$slot" 4)/128"
	addr_add "$ns" "$ifname" "$(summary "$slot" 5)/32"
	addr_add "$ns" "$ifname" "$(summary "$slot" 6)/128"
	ip -n "$ns" link set "$ifname" up || fail "link up $ifname"
	ip -n "$ns" route add 192.168.50.0/24 dev "$ifname" || fail "route via $ifname"
	ip -n "$ns" -6 route add fd99::/64 dev "$ifname" || fail "IPv6 route via $ifname"
	[ "$(wg_in "$ns" show "$ifname" public-key)" = "$(summary "$slot" 2)" ] ||
		fail "slot $slot: the key file and the summary disagree"
}
start_peer 0 192.0.2.2
start_peer "$LAST" 192.0.2.3

# ---- load ----
gw_reset_vars
GW_NAME=gw GW_NS=$NS_GW GW_IFNAME=$GW_IF GW_KEY=$MG_STATE/gw.key GW_PORT=51820
GW_LAN_IF=gl0 GW_LAN4=192.168.50.1/24 GW_LAN6=fd99::1/64
GW_MESH_IF=gm0 GW_MESH4=$GW_OUT4/24 GW_MESH6=fd00:2::1/64
GW_PEERS_YAML=$MG_STATE/peers.yaml
GW_EAL_MEM=2048 GW_MAX_PEERS=16384 GW_MAX_PREFIXES=262144
! gw_is_reference || GW_PEERS_WGCONF=$MG_STATE/peers.conf
gw_write_config "$MG_STATE/gw.yaml"
t0=$(date +%s%N)
gw_start "$MG_STATE/gw.yaml" 180
load_ms=$((($(date +%s%N) - t0) / 1000000))
pass "load: the gateway answered wg show $load_ms ms after start with $N_PEERS peers"

# ---- tables ----
t0=$(date +%s%N)
wg_in "$NS_GW" show "$GW_IF" allowed-ips >"$MG_STATE/allowed-ips.txt" ||
	fail "tables: wg show allowed-ips failed"
show_ms=$((($(date +%s%N) - t0) / 1000000))
n_peers=$(wc -l <"$MG_STATE/allowed-ips.txt")
n_prefixes=$(awk '{ if ($2 != "(none)") n += NF - 1 } END { print n + 0 }' "$MG_STATE/allowed-ips.txt")
[ "$n_peers" -eq "$N_PEERS" ] || fail "tables: wg show lists $n_peers peers, want $N_PEERS"
[ "$n_prefixes" -eq $((N_PEERS * PREFIXES_PER_PEER)) ] ||
	fail "tables: wg show lists $n_prefixes allowed IPs, want $((N_PEERS * PREFIXES_PER_PEER))"
for slot in 0 "$LAST"; do
	got=$(awk -v k="$(summary "$slot" 2)" '$1 == k { print NF - 1 }' "$MG_STATE/allowed-ips.txt")
	[ "${got:-0}" -eq "$PREFIXES_PER_PEER" ] ||
		fail "tables: slot $slot has ${got:-no} allowed IPs, want $PREFIXES_PER_PEER"
done
pass "tables: $n_peers peers, $n_prefixes allowed IPs (wg show took $show_ms ms)"

# ---- traffic ----
for slot in 0 "$LAST"; do
	ns=$(ns_name "p$slot")
	ping_ok "$ns" "$LAN_HOST4" 3 -I "$(summary "$slot" 3)" ||
		fail "traffic: slot $slot's wireguard-go could not ping the LAN"
	wait_handshake "$NS_GW" "$GW_IF" "$(summary "$slot" 2)" 5
	for field in 3 4 5 6; do
		dst=$(summary "$slot" "$field")
		ping_ok "$NS_LAN" "$dst" 3 || fail "traffic: the LAN could not ping slot $slot at $dst"
	done
	pass "traffic: slot $slot reached at $(summary "$slot" 3), $(summary "$slot" 4)," \
		"$(summary "$slot" 5), $(summary "$slot" 6)"
done

# ---- no-endpoint ----
ping_fails "$NS_LAN" "$(summary "$MIDDLE" 3)" ||
	fail "no-endpoint: slot $MIDDLE answered, but nothing runs there"
pass "no-endpoint: slot $MIDDLE (no endpoint) is not reachable"

# ---- counters ----
sleep 1
for slot in 0 "$LAST"; do
	ns=$(ns_name "p$slot")
	ifname=$(if_name "p${slot}x")
	for try in 1 2 3 4 5; do
		read -r gw_rx gw_tx <<<"$(wg_field "$NS_GW" "$GW_IF" transfer "$(summary "$slot" 2)")"
		read -r p_rx p_tx <<<"$(wg_field "$ns" "$ifname" transfer "$GW_PUB")"
		[ "${gw_rx:-x}" = "${p_tx:-y}" ] && [ "${gw_tx:-x}" = "${p_rx:-y}" ] && break
		[ "$try" -lt 5 ] || fail "counters: slot $slot: gateway rx ${gw_rx:-?} tx ${gw_tx:-?}," \
			"wireguard-go tx ${p_tx:-?} rx ${p_rx:-?}"
		sleep 1
	done
	pass "counters: slot $slot: gateway rx $gw_rx tx $gw_tx = wireguard-go tx, rx"
done

gw_alive gw
gw_stop gw
log "all scale checks passed ($MESHGATE_IMPL)"
