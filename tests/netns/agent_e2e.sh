#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# meshgate agent end to end: a real meshgate-coord and two agents, each driving its own
# wireguard-go, in three namespaces joined by a bridge:
#
#   mg-<pid>-coord: bridge br0 10.99.0.1/24, meshgate-coord on 10.99.0.1:<port>
#   mg-<pid>-a:     veth0 10.99.0.2/24, agent A (user alice) with wireguard-go mgA<pid>
#   mg-<pid>-b:     veth0 10.99.0.3/24, agent B (user bob)   with wireguard-go mgB<pid>
#
# Checks:
#   join:    both agents register with pre-auth keys, each installs the other as a peer with
#            the endpoint it reported, its overlay addresses and a route; ping both ways over
#            IPv4 and IPv6 overlay addresses.
#   revoke:  a policy that keeps alice and bob apart removes the peers; within 2 s of the
#            change neither wireguard-go has the other and pings fail.
#   restore: an allow-all policy brings the peers back and pings work again.
#   restart: agent A restarts and reuses its saved credential (still two nodes, same address).
#
# usage: agent_e2e.sh MESHGATE_AGENT MESHGATE_COORD
set -euo pipefail

# shellcheck source=coord_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/coord_lib.sh"

pair_init agent_e2e.sh "" "$@"

pair_net
pair_coord
pair_agents info

lacks_peer() {
	! has_peer "$@"
}

# What the agents installed: endpoint, allowed IPs, addresses, routes.
ep=$(ip netns exec "$NS_A" wg show "$IF_A" endpoints | awk -v k="$PUB_B" '$1 == k {print $2}')
[ "$ep" = "10.99.0.3:51820" ] || fail "A's endpoint for B is '$ep', expected 10.99.0.3:51820"
ips=$(ip netns exec "$NS_A" wg show "$IF_A" allowed-ips | awk -v k="$PUB_B" '$1 == k {$1=""; print}')
case "$ips" in
*"$B4/32"*"$B6/128"* | *"$B6/128"*"$B4/32"*) ;;
*) fail "A's allowed IPs for B are '$ips'" ;;
esac
has_addr() { # NS IFNAME FAMILY TEXT
	ip -n "$1" "-$3" addr show dev "$2" | grep -qF "$4"
}
# The agent adds addresses from its netlink socket as the map arrives; on a loaded machine the
# peers can be visible through the UAPI a moment earlier.
wait_for 5 "A's address $A4" has_addr "$NS_A" "$IF_A" 4 "inet $A4/32"
wait_for 5 "A's address $A6" has_addr "$NS_A" "$IF_A" 6 "inet6 $A6/128"
has_route() { # NS IFNAME TEXT
	ip -n "$1" route show dev "$2" | grep -qF "$3"
}
wait_for 5 "A's route to $B4" has_route "$NS_A" "$IF_A" "$B4 proto 77"
log "join: peers, endpoints, allowed IPs, addresses and routes in place"

wait_for 15 "ping A -> B ($B4)" pings_answered "$NS_A" "$B4"
pings_answered "$NS_B" "$A4" || fail "ping B -> A ($A4)"
wait_for 10 "ping A -> B ($B6)" pings_answered "$NS_A" "$B6"
pings_answered "$NS_B" "$A6" || fail "ping B -> A ($A6)"
log "join: pings over the overlay both ways, IPv4 and IPv6"

# ---- revoke: alice and bob may not reach each other ----
now_ms() { echo $(($(date +%s%N) / 1000000)); }
t0=$(now_ms)
admin PUT policy '{"acls":[{"action":"accept","src":["alice"],"dst":["alice:*"]},{"action":"accept","src":["bob"],"dst":["bob:*"]}]}' >/dev/null
until lacks_peer "$NS_A" "$IF_A" "$PUB_B" && lacks_peer "$NS_B" "$IF_B" "$PUB_A"; do
	[ $(($(now_ms) - t0)) -le 2000 ] || fail "peers still configured 2 s after the policy change"
	sleep 0.05
done
gone_ms=$(($(now_ms) - t0))
log "revoke: both peers removed ${gone_ms} ms after the policy change"
if run_bounded 10 ip netns exec "$NS_A" ping -c 3 -i 0.2 -W 1 "$B4" >/dev/null 2>&1; then
	fail "ping A -> B still works after the revoke"
fi
ip -n "$NS_A" route show dev "$IF_A" | grep -qF "$B4" && fail "route to $B4 left behind"

# ---- restore ----
admin PUT policy '{"acls":[{"action":"accept","src":["*"],"dst":["*:*"]}]}' >/dev/null
wait_for 5 "A has B again" has_peer "$NS_A" "$IF_A" "$PUB_B"
wait_for 5 "B has A again" has_peer "$NS_B" "$IF_B" "$PUB_A"
wait_for 15 "ping A -> B after the restore" pings_answered "$NS_A" "$B4"
pings_answered "$NS_B" "$A4" || fail "ping B -> A after the restore"
log "restore: peers back and pings work"

# ---- restart: the credential is reused ----
stop_pid "$AGENT_A" 5
wait_for 10 "A's wireguard-go to exit" test ! -S "/var/run/wireguard/$IF_A.sock"
agent_start a "$NS_A" "$IF_A"
AGENT_A=$AGENT_PID
wait_for 20 "A has B after its restart" has_peer "$NS_A" "$IF_A" "$PUB_B"
n=$(admin GET nodes | jq '.nodes | length')
[ "$n" -eq 2 ] || fail "expected 2 nodes after A's restart, got $n"
[ "$(node_addr "$PUB_A" 0)" = "$A4" ] || fail "A's address changed across its restart"
grep -q '"registered with the coordinator"' "$MG_STATE/agent-a.log" &&
	fail "restarted agent registered again instead of reusing its credential"
wait_for 15 "ping A -> B after A's restart" pings_answered "$NS_A" "$B4"
log "restart: credential reused, same address, pings work"

stop_pid "$AGENT_A" 5
stop_pid "$AGENT_B" 5
stop_pid "$COORD_PID" 5
log "PASS"
