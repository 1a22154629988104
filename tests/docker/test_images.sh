#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# docker-images: the base image (pulled, or debootstrapped where no registry answers) and the
# meshgate, meshgate-coord and meshgate-relay images, built with docker/build.sh exactly as the
# README says; then what each image promises: the programs run, the coordinator's and the
# relay's user is not root, each has a HEALTHCHECK, and the runtime stages hold no compiler.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
command -v debootstrap >/dev/null || skip "no debootstrap (scripts/install-deps.sh)"
docker_start

t=$SECONDS
build_images
say "images built in $(elapsed "$t") s"

run() { timeout 60 "$DOCKER" run --rm --network none "$@"; }
# says IMAGE PATTERN CMD...: CMD's output (both streams) in IMAGE matches PATTERN. The output is
# read whole before grep: grep -q quitting early would fail the pipeline under pipefail.
says() {
	local image=$1 pattern=$2 out
	shift 2
	out=$(run "$image" "$@" 2>&1) || true
	grep -q -- "$pattern" <<<"$out" || { printf '%s\n' "$out" | tail -n 5 >&2; return 1; }
}
says meshgate:latest '^meshgate ' meshgate --version || fail "meshgate --version in the meshgate image"
says meshgate:latest "usage: meshctl" meshctl --help || fail "meshctl --help in the meshgate image"
says meshgate:latest 'agent --config' meshgate agent --help || fail "meshgate agent --help"
says meshgate:latest wireguard-go wireguard-go --version || fail "wireguard-go in the meshgate image"
says meshgate-coord:latest 'meshgate-coord --config' meshgate-coord --help || fail "meshgate-coord --help"
says meshgate-relay:latest '^meshgate-relay ' meshgate-relay --version || fail "meshgate-relay --version"
for image in meshgate-coord meshgate-relay; do
	user=$(run "$image:latest" id -un)
	[ "$user" = meshgate ] || fail "$image runs as '$user', expected meshgate"
done
# The relay image's own config loads (the compose mesh runs it, with its trial certificate).
says meshgate-relay:latest ': OK$' meshgate-relay --config /etc/meshgate/relay.yaml --check ||
	fail "the relay image's own config does not pass --check"
for image in meshgate meshgate-coord meshgate-relay; do
	"$DOCKER" image inspect -f '{{json .Config.Healthcheck.Test}}' "$image:latest" | grep -q CMD ||
		fail "$image has no HEALTHCHECK"
	if run --entrypoint sh "$image:latest" -c 'command -v cc || command -v meson || ls /usr/include/rte_eal.h' 2>/dev/null; then
		fail "$image holds build tools or headers"
	fi
	say "$image: $("$DOCKER" image inspect -f '{{.Size}}' "$image:latest" | awk '{ printf "%.0f MB", $1 / 1e6 }')"
done
# The EAL finds its poll-mode drivers: af_packet with --no-huge, no interface needed to list it.
run meshgate:latest sh -c 'ls /usr/lib/*/dpdk/pmds-*/librte_net_af_packet.so*' >/dev/null ||
	fail "no af_packet PMD in the meshgate image"
say "ok"
