#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The agent enforces the map's packet filter (docs/coord-protocol.md, "The packet filter") with
# its nftables table. The topology is agent_e2e.sh's: a real meshgate-coord and two agents
# (A: user alice, B: user bob), each with its own wireguard-go, in three namespaces on a bridge.
#
# Checks, under the policy "alice -> bob tcp/22":
#   table:     each agent's table inet meshgate-<ifname> exists and holds exactly its filter
#              (B: A's addresses to B's on tcp/22, v4 and v6; A: nothing new admitted).
#   allowed:   A opens TCP connections to B's port 22 over IPv4 and IPv6 and gets the replies.
#   refused:   A cannot reach B on tcp/80, by UDP to port 22, or by ping; B cannot open a TCP
#              connection or send UDP to A. Each refused UDP datagram and ping is counted in
#              the receiver's policy_drops counter, exactly.
#   change:    with an iperf3 flow to an allowed port running, a new policy (22 out, 80 in)
#              lands within 2 s (80 connects, 22 is refused) and the flow finishes untouched.
#   lifecycle: the table is gone after the agent stops; after SIGKILL it stays, and the
#              restarted agent replaces it (one table, the current policy), never duplicates it;
#              a wireguard-go the agent only attached to is left without peers when it stops.
#
# usage: agent_policy.sh MESHGATE_AGENT MESHGATE_COORD
set -euo pipefail

# shellcheck source=coord_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/coord_lib.sh"

pair_init agent_policy.sh "nft socat iperf3" "$@"
TABLE_A="meshgate-$IF_A"
TABLE_B="meshgate-$IF_B"

pair_net
pair_coord
policy() { # PORTS...: alice may reach bob on these TCP ports, nothing else
	local dst
	dst=$(printf '"bob:%s",' "$@")
	admin PUT policy "{\"acls\":[{\"action\":\"accept\",\"src\":[\"alice\"],\"proto\":\"tcp\",\"dst\":[${dst%,}]}]}" >/dev/null
}
policy 22
pair_agents debug
has_addr() { ip -n "$1" addr show dev "$2" | grep -qF "$3"; }
wait_for 5 "A's address" has_addr "$NS_A" "$IF_A" "inet $A4/32"
wait_for 5 "B's address" has_addr "$NS_B" "$IF_B" "inet $B4/32"
wait_for 5 "B's IPv6 address" has_addr "$NS_B" "$IF_B" "inet6 $B6/128"

# ---- the tables ----
table() { ip netns exec "$1" nft list table inet "$2" 2>/dev/null; }
rules_of() { table "$1" "$2" | sed -n '/chain from_mesh/,/^[[:space:]]*}$/p' | grep -E ' (accept|drop)$' | sed 's/^[[:space:]]*//'; }
tables_named() { ip netns exec "$1" nft list tables | grep -cxF "table inet $2" || true; }
drops() { # NS TABLE: packets counted by the drop rule
	ip netns exec "$1" nft list counter inet "$2" policy_drops | awk '$1 == "packets" {print $2}'
}
CT_RULES="ct direction reply ct state established accept
ct state related meta l4proto { icmp, ipv6-icmp } accept"
want_b() { # PORT-SET TEXT as nft lists it ("22" or "{ 80, 5201 }")
	printf '%s\nip saddr %s ip daddr %s tcp dport %s accept\nip6 saddr %s ip6 daddr %s tcp dport %s accept\ncounter name "policy_drops" drop' \
		"$CT_RULES" "$A4" "$B4" "$1" "$A6" "$B6" "$1"
}
b_table_is() { [ "$(rules_of "$NS_B" "$TABLE_B")" = "$(want_b "$1")" ]; }
wait_b_table() { # SECONDS PORT-SET DESC
	local deadline=$(($(date +%s%N) + $1 * 1000000000))
	until b_table_is "$2"; do
		[ "$(date +%s%N)" -lt "$deadline" ] ||
			fail "$3: B's table holds
$(rules_of "$NS_B" "$TABLE_B")
instead of
$(want_b "$2")"
		sleep 0.1
	done
}
wait_b_table 5 22 "policy A -> B tcp/22"
[ "$(rules_of "$NS_A" "$TABLE_A")" = "$CT_RULES
counter name \"policy_drops\" drop" ] || fail "A's table admits something new: $(table "$NS_A" "$TABLE_A")"
for ns_if in "$NS_A $IF_A $TABLE_A" "$NS_B $IF_B $TABLE_B"; do
	read -r ns ifn tbl <<<"$ns_if"
	t=$(table "$ns" "$tbl")
	grep -q "type filter hook input priority filter; policy accept;" <<<"$t" || fail "$tbl: no input hook"
	grep -q "type filter hook forward priority filter; policy accept;" <<<"$t" || fail "$tbl: no forward hook"
	[ "$(grep -c "iifname \"$ifn\" jump from_mesh" <<<"$t")" -eq 2 ] || fail "$tbl: not on $ifn: $t"
	[ "$(tables_named "$ns" "$tbl")" -eq 1 ] || fail "$tbl: not exactly one table"
done
log "table: both agents' tables hold exactly their filters"

# ---- allowed and refused ----
listen() { # NS NAME SOCAT-ADDRESS: a listener that answers every connection with NAME
	spawn "$MG_STATE/listen-$2.log" ip netns exec "$1" socat "$3,reuseaddr,fork" "EXEC:/bin/echo $2"
}
listen "$NS_B" b22 TCP4-LISTEN:22
listen "$NS_B" b22v6 TCP6-LISTEN:22,ipv6only=1
listen "$NS_B" b80 TCP4-LISTEN:80
# Whatever UDP reaches B's port 22 lands in this file.
spawn "$MG_STATE/udp-b.log" ip netns exec "$NS_B" socat -u UDP4-RECV:22,reuseaddr \
	"OPEN:$MG_STATE/udp-b.txt,creat,append"
listen "$NS_A" a22 TCP4-LISTEN:22
wait_for 5 "B's listeners" sh -c "ip netns exec $NS_B ss -ltn | grep -q ':80 '"
wait_for 5 "A's listener" sh -c "ip netns exec $NS_A ss -ltn | grep -q ':22 '"
tcp_says() { # NS HOST PORT: what the listener answered (empty: no connection)
	run_bounded 6 ip netns exec "$1" socat -T 3 -u "TCP:$2:$3,connect-timeout=2" - 2>/dev/null || true
}
udp_send() { # NS HOST PORT COUNT: COUNT datagrams, one each
	for ((i = 0; i < $4; i++)); do
		echo "x$i" | run_bounded 3 ip netns exec "$1" socat -u - "UDP4-SENDTO:$2:$3" || true
	done
}
wait_for 15 "A -> B tcp/22" test "$(tcp_says "$NS_A" "$B4" 22)" = b22
[ "$(tcp_says "$NS_A" "[$B6]" 22)" = b22v6 ] || fail "A -> B tcp/22 over IPv6"
log "allowed: A -> B tcp/22 over IPv4 and IPv6, replies reach A"
[ -z "$(tcp_says "$NS_A" "$B4" 80)" ] || fail "A reached B on tcp/80"
[ -z "$(tcp_says "$NS_B" "$A4" 22)" ] || fail "B opened a connection to A"
sleep 1 # retransmitted SYNs of the refused connects have been counted
d0=$(drops "$NS_B" "$TABLE_B")
udp_send "$NS_A" "$B4" 22 5
run_bounded 10 ip netns exec "$NS_A" ping -c 3 -i 0.2 -W 1 "$B4" >/dev/null 2>&1 && fail "A pinged B"
sleep 0.5
d1=$(drops "$NS_B" "$TABLE_B")
[ $((d1 - d0)) -eq 8 ] || fail "B counted $((d1 - d0)) refused packets, expected 8 (5 UDP, 3 pings)"
[ ! -s "$MG_STATE/udp-b.txt" ] || fail "a UDP datagram reached B: $(cat "$MG_STATE/udp-b.txt")"
e0=$(drops "$NS_A" "$TABLE_A")
udp_send "$NS_B" "$A4" 22 4
sleep 0.5
e1=$(drops "$NS_A" "$TABLE_A")
[ $((e1 - e0)) -eq 4 ] || fail "A counted $((e1 - e0)) refused packets, expected 4"
log "refused: tcp/80, UDP, ping from A and anything from B; counters exact (B +8, A +4)"

# ---- a policy change while an allowed flow runs ----
spawn "$MG_STATE/iperf3-server.log" ip netns exec "$NS_B" iperf3 -s -p 5201
wait_for 5 "iperf3 server" sh -c "ip netns exec $NS_B ss -ltn | grep -q ':5201 '"
policy 22 5201
wait_b_table 5 "{ 22, 5201 }" "policy A -> B tcp/22,5201"
spawn "$MG_STATE/iperf3-client.log" ip netns exec "$NS_A" iperf3 -c "$B4" -p 5201 -t 6 -b 20M
IPERF=$MG_SPAWNED_PID
sleep 2
now_ms() { echo $(($(date +%s%N) / 1000000)); }
t0=$(now_ms)
policy 80 5201
until b_table_is "{ 80, 5201 }"; do
	[ $(($(now_ms) - t0)) -le 2000 ] ||
		fail "B's table 2 s after the policy change: $(rules_of "$NS_B" "$TABLE_B")"
	sleep 0.02
done
landed=$(($(now_ms) - t0))
[ "$(tcp_says "$NS_A" "$B4" 80)" = b80 ] || fail "tcp/80 refused after the policy change"
[ -z "$(tcp_says "$NS_A" "$B4" 22)" ] || fail "tcp/22 still admitted after the policy change"
wait_pid "$IPERF" 20 "iperf3 client" || fail "the iperf3 flow broke across the policy change: $(tail -5 "$MG_STATE/iperf3-client.log")"
grep -q "iperf Done" "$MG_STATE/iperf3-client.log" || fail "iperf3 did not finish"
log "change: landed in ${landed} ms, the running iperf3 flow finished untouched"

# ---- lifecycle ----
stop_pid "$AGENT_B" 5
[ "$(tables_named "$NS_B" "$TABLE_B")" -eq 0 ] || fail "B's table outlived its agent"
log "lifecycle: the table is gone after the agent stops"
agent_start b "$NS_B" "$IF_B"
AGENT_B=$AGENT_PID
wait_b_table 20 "{ 80, 5201 }" "after B's restart"
kill -KILL "$AGENT_B"
{ wait "$AGENT_B"; } 2>/dev/null || true
[ "$(tables_named "$NS_B" "$TABLE_B")" -eq 1 ] || fail "the killed agent's table is not there"
policy 443
agent_start b "$NS_B" "$IF_B" # attaches to the wireguard-go the killed agent left
AGENT_B=$AGENT_PID
wait_b_table 20 443 "after B's SIGKILL and restart"
[ "$(tables_named "$NS_B" "$TABLE_B")" -eq 1 ] || fail "B's table was duplicated"
log "lifecycle: after SIGKILL the stale table was replaced by the current policy, not duplicated"

stop_pid "$AGENT_A" 5
stop_pid "$AGENT_B" 5
[ "$(tables_named "$NS_A" "$TABLE_A")" -eq 0 ] && [ "$(tables_named "$NS_B" "$TABLE_B")" -eq 0 ] ||
	fail "tables left after both agents stopped"
# B's wireguard-go was only attached to, and outlives its agent: without the table it must not
# keep peers that would be reachable unfiltered.
peers=$(run_bounded 5 ip netns exec "$NS_B" wg show "$IF_B" peers) || fail "B's wireguard-go is gone"
[ -z "$peers" ] || fail "B's wireguard-go kept its peers without a filter: $peers"
log "lifecycle: an attached wireguard-go is left without peers when the table goes"
stop_pid "$COORD_PID" 5
log "PASS"
