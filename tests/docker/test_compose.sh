#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# docker-compose-mesh: docker/compose.yaml, the demo mesh as containers, with Debian's
# docker-compose (v1) and with `docker compose` (v2) where that is installed. For each: up,
# LAN A reaches LAN B both ways, the agent's host reaches both LANs, both gateways are healthy
# and `meshctl status` says synced, the coordinator lists the three nodes, the relay is healthy
# and answers TLS on the wan; the host and gw-b, which have no UDP path to each other, are on
# each other's relay path (meshctl agent on the host, meshctl peers on gw-b) and the host's
# pings to LAN B raise the relay's count of forwarded frames by at least their number; then
# down -v, and nothing of the project (container, network, volume) is left.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
docker_start

COMPOSE_FILE_PATH=$ROOT/docker/compose.yaml
COMPOSES=()
command -v docker-compose >/dev/null && COMPOSES+=("docker-compose")
timeout 10 "$DOCKER" compose version >/dev/null 2>&1 && COMPOSES+=("$DOCKER compose")
[ "${#COMPOSES[@]}" -gt 0 ] || skip "neither docker-compose nor docker compose (apt-get install docker-compose)"

# The compose networks are bridges on this host: they must not shadow a route it has.
for net in 198.18.0.0/24 198.18.1.0/24 198.18.2.0/24 198.18.3.0/24; do
	r=$(ip -4 route show to match "${net%0/24}1" | grep -v '^default' || true)
	[ -z "$r" ] || fail "this host already routes $net ($r): docker/compose.yaml's networks would shadow it"
done

build_images meshgate-coord meshgate-relay meshgate

PROJECT="" COMPOSE=()
compose() { timeout 180 "${COMPOSE[@]}" -p "$PROJECT" -f "$COMPOSE_FILE_PATH" "$@"; }
cid() { compose ps -a -q "$1"; }
cexec() { # SERVICE CMD...
	local svc="$1"
	shift
	timeout 20 "$DOCKER" exec "${CIDS[$svc]}" "$@"
}

# leftovers: what of the project the engine still has.
leftovers() {
	local f="label=com.docker.compose.project=$PROJECT"
	"$DOCKER" ps -aq --filter "$f"
	"$DOCKER" network ls -q --filter "$f"
	"$DOCKER" volume ls -q --filter "$f"
}

teardown() {
	[ -n "$PROJECT" ] || return 0
	compose down -v --remove-orphans --timeout 10 >/dev/null 2>&1 || true
	# Whatever down missed (a killed run), by the project's label.
	local f="label=com.docker.compose.project=$PROJECT"
	"$DOCKER" ps -aq --filter "$f" | xargs -r "$DOCKER" rm -f >/dev/null 2>&1 || true
	"$DOCKER" network ls -q --filter "$f" | xargs -r "$DOCKER" network rm >/dev/null 2>&1 || true
	"$DOCKER" volume ls -q --filter "$f" | xargs -r "$DOCKER" volume rm -f >/dev/null 2>&1 || true
	PROJECT=""
}
on_exit teardown

dump() {
	echo "---- compose ps / logs ($PROJECT)"
	compose ps 2>&1 || true
	compose logs --no-color --tail 40 2>&1 || true
}

# within SECONDS DESCRIPTION CMD...
within() {
	local secs="$1" what="$2" deadline
	shift 2
	deadline=$((SECONDS + secs))
	until "$@" >/dev/null 2>&1; do
		if [ "$SECONDS" -ge "$deadline" ]; then
			dump
			fail "$what (not within ${secs}s)"
		fi
		sleep 0.5
	done
	say "ok: $what"
}

ping_from() { # SERVICE DST: 3 of 3 echoes after a first reply
	cexec "$1" ping -n -q -c 1 -W 1 "$2" && cexec "$1" ping -n -q -c 3 -i 0.2 -W 1 "$2"
}
healthy() { [ "$("$DOCKER" inspect -f '{{.State.Health.Status}}' "${CIDS[$1]}")" = healthy ]; }
synced() { # read whole: grep -q quitting early would fail the pipeline under pipefail
	local out
	out=$(cexec "$1" meshctl status) && grep -qi 'synced' <<<"$out"
}
init_done() {
	[ "$("$DOCKER" inspect -f '{{.State.Status}} {{.State.ExitCode}}' "${CIDS[mesh-init]}")" = "exited 0" ]
}
nodes() {
	cexec coord meshgate-coord --server http://127.0.0.1:8080 --api-key-file /var/lib/meshgate/admin.key nodes list
}
# The relay over TLS from another container on the wan: a request without the upgrade is
# refused with 426 (docs/relay-protocol.md), which takes TLS and the HTTP parser to say.
relay_answers() {
	[ "$(cexec coord curl -sk --max-time 3 -o /dev/null -w '%{http_code}' https://198.18.0.40:8443/relay)" = 426 ]
}
# The relay's count of frames it forwarded between two of its clients.
relay_frames() {
	cexec relay curl -sf --max-time 3 http://127.0.0.1:9470/metrics |
		awk '$1 == "meshgate_relay_frames_forwarded_total{path=\"local\"}" {print $2}'
}
host_relays_gw_b() { # the host's status: gw-b on path "relay relay-1"
	local out
	out=$(cexec host meshctl agent) && grep -E '^[^ ]+ +gw-b +relay relay-1 ' <<<"$out"
}
gw_b_relays_host() { # gw-b's peers: the host on relay:relay-1
	local key out
	key=$(cexec host wg show mg0 public-key) && out=$(cexec gw-b meshctl peers) &&
		grep -F "$key" <<<"$out" | grep -qF relay:relay-1
}
three_nodes() {
	local out
	out=$(nodes) && for n in gw-a gw-b host; do grep -qw -- "$n" <<<"$out" || return 1; done
}

declare -A CIDS=()
RUN=0
for c in "${COMPOSES[@]}"; do
	read -ra COMPOSE <<<"$c"
	RUN=$((RUN + 1))
	PROJECT=mgtest$$x$RUN
	say "---- $c (project $PROJECT)"
	t=$SECONDS
	compose up -d --no-build || { dump; fail "$c up"; }
	CIDS=()
	for s in coord mesh-init gw-a gw-b host relay lan-a-host lan-b-host; do
		CIDS[$s]=$(cid "$s")
		[ -n "${CIDS[$s]}" ] || { dump; fail "$c: no container for $s"; }
	done
	say "up in $(elapsed "$t") s"
	within 60 "mesh-init made the user, the policy and the pre-auth keys" init_done
	within 60 "the coordinator lists gw-a, gw-b and host" three_nodes
	within 90 "LAN A → LAN B (198.18.1.2 → 198.18.2.2)" ping_from lan-a-host 198.18.2.2
	say "compose up to traffic: $(elapsed "$t") s"
	within 30 "LAN B → LAN A (198.18.2.2 → 198.18.1.2)" ping_from lan-b-host 198.18.1.2
	within 30 "host (agent) → LAN A" ping_from host 198.18.1.2
	within 30 "host (agent) → LAN B" ping_from host 198.18.2.2
	within 30 "the host shows gw-b on the relay path (no route between them)" host_relays_gw_b
	within 30 "gw-b shows the host on relay:relay-1" gw_b_relays_host
	before=$(relay_frames) && [ -n "$before" ] || { dump; fail "no frame count on the relay's /metrics"; }
	cexec host ping -n -q -c 5 -i 0.2 -W 1 198.18.2.2 >/dev/null || { dump; fail "host → LAN B through the relay"; }
	after=$(relay_frames)
	# 5 echoes and 5 replies, each one frame through the relay (keepalives may add more).
	[ "$((after - before))" -ge 10 ] || { dump; fail "the relay forwarded $((after - before)) frames during 5 pings host → LAN B (want >= 10)"; }
	say "ok: the relay forwarded $((after - before)) frames for 5 pings host → LAN B ($after in all)"
	within 30 "gw-a meshctl status: synced" synced gw-a
	within 30 "gw-b meshctl status: synced" synced gw-b
	within 60 "gw-a, gw-b, coord and relay healthy (HEALTHCHECK)" \
		eval 'healthy gw-a && healthy gw-b && healthy coord && healthy relay'
	within 30 "the relay answers TLS on the wan (426 without the upgrade)" relay_answers
	echo "---- meshctl status (gw-a)"
	cexec gw-a meshctl status | sed 's/^/  /'
	echo "---- meshgate-coord nodes list"
	nodes | sed 's/^/  /'
	t=$SECONDS
	p=$PROJECT
	compose down -v --remove-orphans --timeout 10 >/dev/null 2>&1 || fail "$c down"
	PROJECT=$p
	left=$(leftovers)
	[ -z "$left" ] || fail "$c down left: $left"
	PROJECT=""
	say "down -v in $(elapsed "$t") s, nothing left"
done
say "ok"
