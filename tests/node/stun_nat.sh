#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The NAT mapping verdict of node/'s mg_nat_detect behind nftables NATs built in namespaces
# (DESIGN.md, Testing): `masquerade` maps endpoint-independently, `masquerade fully-random`
# picks a port per destination. Servers: coturn's turnserver --stun-only and meshgate-relay's
# STUN server, each on two addresses of the "public" namespace.
#
#   cli 192.168.77.2 ── nat (192.168.77.1 | 10.99.77.254, nftables) ── pub 10.99.77.1, .2
#
# Root only.
# usage: stun_nat.sh MESHGATE_RELAY STUN_PROBE
set -euo pipefail

RELAY="$1"
PROBE="$2"
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (namespaces)"; exit 77; }
for c in ip nft turnserver turnutils_natdiscovery openssl; do
	command -v "$c" >/dev/null 2>&1 || { echo "SKIP: $c missing"; exit 77; }
done

ID=$$
NS_CLI="mgstun-$ID-cli"
NS_NAT="mgstun-$ID-nat"
NS_PUB="mgstun-$ID-pub"
DIR="$(mktemp -d /tmp/meshgate-stunnat.XXXXXX)"
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${PIDS[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	for ns in "$NS_CLI" "$NS_NAT" "$NS_PUB"; do
		ip netns del "$ns" 2>/dev/null || true
	done
	rm -rf "$DIR"
}
trap cleanup EXIT INT TERM

fail() {
	echo "FAIL: $*" >&2
	for f in "$DIR"/*.log; do
		[ -f "$f" ] && { echo "--- $f" >&2; tail -20 "$f" >&2; }
	done
	exit 1
}

for ns in "$NS_CLI" "$NS_NAT" "$NS_PUB"; do
	ip netns add "$ns"
	ip -n "$ns" link set lo up
done
ip link add "sc$ID" netns "$NS_CLI" type veth peer name "sn$ID" netns "$NS_NAT"
ip link add "sp$ID" netns "$NS_PUB" type veth peer name "so$ID" netns "$NS_NAT"
ip -n "$NS_CLI" addr add 192.168.77.2/24 dev "sc$ID"
ip -n "$NS_NAT" addr add 192.168.77.1/24 dev "sn$ID"
ip -n "$NS_NAT" addr add 10.99.77.254/24 dev "so$ID"
ip -n "$NS_PUB" addr add 10.99.77.1/24 dev "sp$ID"
ip -n "$NS_PUB" addr add 10.99.77.2/24 dev "sp$ID"
for l in "$NS_CLI sc$ID" "$NS_NAT sn$ID" "$NS_NAT so$ID" "$NS_PUB sp$ID"; do
	set -- $l
	ip -n "$1" link set "$2" up
done
ip -n "$NS_CLI" route add default via 192.168.77.1
ip netns exec "$NS_NAT" sysctl -qw net.ipv4.ip_forward=1

# nat_rule [fully-random]: replaces the NAT's ruleset.
nat_rule() {
	ip netns exec "$NS_NAT" nft -f - <<NFT
flush ruleset
table ip nat {
	chain post {
		type nat hook postrouting priority srcnat;
		oifname "so$ID" masquerade $*
	}
}
NFT
}

cat >"$DIR/turnserver.conf" <<CONF
listening-ip=10.99.77.1
listening-ip=10.99.77.2
listening-port=3478
stun-only
no-cli
no-tls
no-dtls
pidfile=$DIR/turnserver.pid
log-file=$DIR/turnserver.log
userdb=$DIR/turndb
simple-log
CONF
ip netns exec "$NS_PUB" turnserver -c "$DIR/turnserver.conf" >"$DIR/turnserver-out.log" 2>&1 &
PIDS+=($!)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
	-subj /CN=localhost -keyout "$DIR/key.pem" -out "$DIR/cert.pem" >/dev/null 2>&1
cat >"$DIR/relay.yaml" <<CONF
listen: 10.99.77.1:4443
tls: {cert_file: $DIR/cert.pem, key_file: $DIR/key.pem}
stun:
  listen: [10.99.77.1:3490, 10.99.77.2:3490]
CONF
ip netns exec "$NS_PUB" "$RELAY" -c "$DIR/relay.yaml" >"$DIR/relay.log" 2>&1 &
PIDS+=($!)

# Servers up? From the public side itself, no NAT involved.
for port in 3478 3490; do
	ok=0
	for _ in $(seq 50); do
		if ip netns exec "$NS_PUB" "$PROBE" -t 100 query "10.99.77.1:$port" >/dev/null 2>&1; then
			ok=1
			break
		fi
		sleep 0.1
	done
	[ "$ok" = 1 ] || fail "no STUN server on 10.99.77.1:$port"
done

# check RULE_ARGS WANT: detection from a fresh client port against both servers.
LPORT=40000
check() {
	local want="$1" port out
	shift
	nat_rule "$@"
	for port in 3478 3490; do
		LPORT=$((LPORT + 1))
		out="$(ip netns exec "$NS_CLI" "$PROBE" -t 2000 -b "192.168.77.2:$LPORT" \
			detect "10.99.77.1:$port" "10.99.77.2:$port")" || fail "detect: $out"
		grep -qx "mapping=$want" <<<"$out" ||
			fail "masquerade $* against port $port: expected $want, got: $out"
		grep -q "^mapped1=10.99.77.254:" <<<"$out" || fail "not through the NAT: $out"
		echo "ok: masquerade $* (server port $port): $want ($(grep mapped <<<"$out" | tr '\n' ' '))"
	done
	out="$(ip netns exec "$NS_CLI" timeout 30 turnutils_natdiscovery -m -p 3478 10.99.77.1 2>&1)" ||
		fail "turnutils_natdiscovery: $out"
	case "$want" in
	endpoint_independent) grep -q "NAT with Endpoint Independent Mapping" <<<"$out" ;;
	*) grep -Eq "NAT with Address (and Port )?Dependent Mapping" <<<"$out" ;;
	esac || fail "coturn's natdiscovery disagrees with $want: $(grep -A1 '^=====' <<<"$out")"
	echo "ok: turnutils_natdiscovery agrees: $(grep -m1 'NAT with' <<<"$out")"
}

check endpoint_independent
check endpoint_dependent fully-random
kill -0 "${PIDS[1]}" || fail "meshgate-relay died"
echo "PASS"
