#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# meshctl against a real health server (test_health --serve, a fixed snapshot): --json output
# equals the socket's own JSON, the tables carry the same values, metrics pass
# `promtool check metrics` (or a strict parser when promtool is missing), ping answers and
# times out, and the exit codes are 0 ok, 1 failure, 2 usage, 3 not running.
#
#   test_meshctl.sh MESHCTL TEST_HEALTH
set -u
MESHCTL=$1
SERVER=$2
for tool in jq curl; do
	command -v $tool >/dev/null || { echo "SKIP: $tool missing"; exit 77; }
done

dir=$(mktemp -d /tmp/test_meshctl.XXXXXX)
sock=$dir/mg0.health
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT

checks=0
failures=0
check() { # check DESCRIPTION COMMAND...
	local what=$1
	shift
	checks=$((checks + 1))
	if ! "$@"; then
		failures=$((failures + 1))
		echo "FAIL: $what"
	fi
}
# expect_rc WANT DESCRIPTION COMMAND...: runs the command, output in $dir/out and $dir/err
expect_rc() {
	local want=$1 what=$2 rc
	shift 2
	"$@" >"$dir/out" 2>"$dir/err"
	rc=$?
	checks=$((checks + 1))
	if [ "$rc" != "$want" ]; then
		failures=$((failures + 1))
		echo "FAIL: $what: exit $rc, wanted $want; stderr: $(cat "$dir/err")"
	fi
}
raw() { curl -sf --max-time 5 --unix-socket "$sock" "http://x/$1"; }

# ---- not running ----
expect_rc 3 "no socket" "$MESHCTL" -s "$sock" status
check "not-running message" grep -qF "meshgate is not running (no socket at $sock)" "$dir/err"
expect_rc 3 "default path from -i" "$MESHCTL" -i nosuch0 peers
check "default path" grep -qF "/var/run/meshgate/nosuch0.health" "$dir/err"
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$sock" 2>/dev/null &&
	{
		expect_rc 3 "stale socket" "$MESHCTL" -s "$sock" status
		check "stale message" grep -qF "nothing listens on $sock" "$dir/err"
		rm -f "$sock"
	}

# ---- usage ----
expect_rc 2 "no command" "$MESHCTL" -s "$sock"
expect_rc 2 "unknown command" "$MESHCTL" -s "$sock" reboot
expect_rc 2 "ping without peer" "$MESHCTL" -s "$sock" ping
expect_rc 2 "status with argument" "$MESHCTL" -s "$sock" status extra
expect_rc 2 "bad timeout" "$MESHCTL" -s "$sock" -t 0 ping x
expect_rc 2 "bad option" "$MESHCTL" --frobnicate status
expect_rc 0 "help" "$MESHCTL" --help
check "help documents exit codes" grep -q "3 meshgate not running" "$dir/out"

# ---- a running server ----
"$SERVER" --serve "$sock" &
pid=$!
for _ in $(seq 100); do
	[ -S "$sock" ] && break
	sleep 0.05
done
check "server up" test -S "$sock"

# --json is the socket's document, unchanged.
for cmd in status peers routes; do
	expect_rc 0 "$cmd --json" "$MESHCTL" -s "$sock" --json $cmd
	check "$cmd --json equals GET /$cmd" \
		test "$(jq -S . "$dir/out")" = "$(raw $cmd | jq -S .)"
done

# peers table: one row per peer, same key, endpoint and counters (read from the row's end, since
# the handshake column may be one word or two).
expect_rc 0 "peers table" "$MESHCTL" -s "$sock" peers
check "peers header" grep -q '^PEER *ENDPOINT *PATH *HANDSHAKE' "$dir/out"
check "one row per peer" test "$(($(wc -l <"$dir/out") - 1))" = "$(raw peers | jq '.peers|length')"
while IFS=$'\t' read -r key ep rx tx drops pdrops ips; do
	row=$(grep -F -- "$key" "$dir/out")
	check "peer $key row" test -n "$row"
	read -r -a f <<<"$row"
	n=${#f[@]}
	check "peer $key endpoint" test "${f[1]}" = "$ep"
	check "peer $key rx" test "${f[n - 5]}" = "$rx"
	check "peer $key tx" test "${f[n - 4]}" = "$tx"
	check "peer $key drops" test "${f[n - 3]}" = "$drops"
	check "peer $key policy drops" test "${f[n - 2]}" = "$pdrops"
	check "peer $key allowed ips" test "${f[n - 1]}" = "$ips"
done < <(raw peers | jq -r '.peers[] | [.public_key, (.endpoint // "(none)"), .rx_bytes,
	.tx_bytes, .drops, .policy_drops, (.allowed_ips | join(","))] | @tsv')
check "handshake age" grep -q "1m05s ago" "$dir/out"
check "never handshaken" grep -q " never " "$dir/out"

# routes table: every (prefix, peer) pair of the JSON.
expect_rc 0 "routes table" "$MESHCTL" -s "$sock" routes
check "one row per route" test "$(($(wc -l <"$dir/out") - 1))" = "$(raw routes | jq '.routes|length')"
while IFS=$'\t' read -r prefix peer; do
	check "route $prefix" test -n "$(awk -v p="$prefix" -v k="$peer" '$1 == p && $2 == k' "$dir/out")"
done < <(raw routes | jq -r '.routes[] | [.prefix, .peer] | @tsv')

# status table.
expect_rc 0 "status table" "$MESHCTL" -s "$sock" status
s=$(raw status)
check "status interface" grep -qF "interface:    $(jq -r .ifname <<<"$s") (meshgate $(jq -r .version <<<"$s")), up 1h02m03s" "$dir/out"
check "status coordinator" grep -qE "coordinator: +synced, .*seq $(jq .coordinator.last_seq <<<"$s"), last sync 5s ago" "$dir/out"
for i in 0 1; do
	name=$(jq -r ".ports[$i].name" <<<"$s")
	link=$(jq -r "if .ports[$i].link_up then \"up\" else \"down\" end" <<<"$s")
	rxp=$(jq ".ports[$i].rx_packets" <<<"$s")
	check "port $name row" grep -qE "^  $name +$i +[0-9a-f:]{17} +$link +[^ ]+ +$rxp " "$dir/out"
	wrx=$(jq ".workers[$i].rx_packets" <<<"$s")
	wdrops=$(jq ".workers[$i].drops" <<<"$s")
	check "worker $i row" grep -qE "^  $i +[0-9]+ +$wrx +[0-9]+ +$wdrops +" "$dir/out"
done
check "status peers" grep -qF "peers:        3 configured, 1 with a handshake" "$dir/out"
check "status drops" grep -qF "drops:        $(jq .drops_total <<<"$s") total: no_route 10, auth 16" "$dir/out"

# ---- metrics ----
expect_rc 0 "metrics" "$MESHCTL" -s "$sock" metrics
cp "$dir/out" "$dir/metrics"
check "metrics equal GET /metrics" cmp -s "$dir/metrics" <(raw metrics)
if command -v promtool >/dev/null; then
	check "promtool check metrics" promtool check metrics <"$dir/metrics"
else
	echo "promtool missing: strict parser only"
fi
# Strict line grammar either way: comments are HELP/TYPE, samples name{labels} value.
bad=$(grep -vE '^(# (HELP|TYPE) meshgate_[a-z0-9_]+ .+|meshgate_[a-z0-9_]+(\{[a-z_]+="([^"\\]|\\.)*"(,[a-z_]+="([^"\\]|\\.)*")*\})? -?[0-9.e+]+)$' "$dir/metrics")
check "every metrics line well-formed" test -z "$bad"
check "counters end in _total" test -z "$(awk '$1=="#" && $2=="TYPE" && $4=="counter" && $3 !~ /_total$/' "$dir/metrics")"
p=$(raw peers)
key=$(jq -r '.peers[1].public_key' <<<"$p")
check "peer rx metric equals JSON" grep -qxF "meshgate_peer_received_bytes_total{peer=\"$key\"} $(jq '.peers[1].rx_bytes' <<<"$p")" "$dir/metrics"
check "drop metric equals JSON" grep -qxF "meshgate_dropped_packets_total{reason=\"auth\"} $(jq .drops.auth <<<"$s")" "$dir/metrics"

# ---- ping ----
k0=$(jq -r '.peers[0].public_key' <<<"$p")
k2=$(jq -r '.peers[2].public_key' <<<"$p")
expect_rc 0 "ping by key" "$MESHCTL" -s "$sock" ping "$k0"
check "ping reply line" grep -qF "reply from $k0: time=" "$dir/out"
check "ping reply via" grep -qE ' ms via data \(sent keepalive\)$' "$dir/out"
expect_rc 0 "ping by overlay IP" "$MESHCTL" -s "$sock" --json ping 100.64.0.3
check "ping json" test "$(jq -r '.peer + " " + .via + " " + (.rtt_ms|type)' "$dir/out")" = "$(jq -r '.peers[1].public_key' <<<"$p") data number"
expect_rc 0 "ping count" "$MESHCTL" -s "$sock" -c 2 ping 100.64.0.2
check "ping count summary" grep -q "^2 probes, 2 answered" "$dir/out"
expect_rc 1 "ping unknown peer" "$MESHCTL" -s "$sock" ping 203.0.113.1
check "unknown peer message" grep -q "no peer 203.0.113.1" "$dir/err"
expect_rc 1 "ping timeout" "$MESHCTL" -s "$sock" -t 1 ping "$k2"
check "timeout message" grep -q "no authenticated packet from peer" "$dir/err"

echo "meshctl: $checks checks, $failures failed"
[ "$failures" = 0 ]
