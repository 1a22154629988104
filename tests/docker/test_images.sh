#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# docker-images: the base image (pulled, or debootstrapped where no registry answers) and the
# meshgate and meshgate-coord images, built with docker/build.sh exactly as the README says;
# then what each image promises: the programs run, the coordinator's user is not root, both
# have a HEALTHCHECK, and the runtime stages hold no compiler.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
command -v debootstrap >/dev/null || skip "no debootstrap (scripts/install-deps.sh)"
docker_start

t=$SECONDS
build_images
say "images built in $(elapsed "$t") s"

run() { timeout 60 "$DOCKER" run --rm --network none "$@"; }
run meshgate:latest meshgate --version | grep -q '^meshgate ' || fail "meshgate --version in the meshgate image"
run meshgate:latest meshctl --help 2>&1 | grep -q "usage: meshctl" || fail "meshctl --help in the meshgate image"
run meshgate:latest meshgate agent --help 2>&1 | grep -q 'agent --config' || fail "meshgate agent --help"
run meshgate:latest wireguard-go --version | grep -q wireguard-go || fail "wireguard-go in the meshgate image"
run meshgate-coord:latest meshgate-coord --help 2>&1 | grep -q 'meshgate-coord --config' || fail "meshgate-coord --help"
user=$(run meshgate-coord:latest id -un)
[ "$user" = meshgate ] || fail "the coordinator runs as '$user', expected meshgate"
for image in meshgate meshgate-coord; do
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
