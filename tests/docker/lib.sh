# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
#
# Shared by the docker suite's tests: a Docker engine (dockerd.sh), the images, and cleanup on
# any exit. Each test runs as root with the repository root as $ROOT; it is skipped (77)
# without root, docker.io or debootstrap. Hold /tmp/meshgate-netns.lock around the suite
# (README): it starts dockerd and containers.

set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=dockerd.sh
source "$ROOT/tests/docker/dockerd.sh"

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }
say() { printf '[%s] %s\n' "$(date +%T)" "$*"; }

[ "$(id -u)" -eq 0 ] || skip "needs root (dockerd, containers)"
PATH=$PATH:/usr/sbin:/sbin
command -v "$DOCKER" >/dev/null || skip "no docker client (scripts/install-deps.sh installs docker.io)"

# Cleanup steps, run last-in first-out on any exit.
CLEANUPS=()
on_exit() { CLEANUPS+=("$*"); }
run_cleanups() {
	local rc=$? i
	trap - EXIT INT TERM
	for ((i = ${#CLEANUPS[@]} - 1; i >= 0; i--)); do
		eval "${CLEANUPS[$i]}" || true
	done
	exit "$rc"
}
trap run_cleanups EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

# docker_start: the engine for this test; stopped again at exit if this test started it.
docker_start() {
	local rc=0
	dockerd_up || rc=$?
	[ "$rc" -ne 77 ] || skip "no dockerd (apt-get install docker.io)"
	[ "$rc" -eq 0 ] || fail "no Docker engine"
	on_exit dockerd_down
}

# build_images [ARGS]: docker/build.sh (cached layers make it quick after the first time).
build_images() {
	bash "$ROOT/docker/build.sh" "$@" || fail "docker/build.sh $*"
}

# elapsed SINCE: seconds since SINCE (a $SECONDS value).
elapsed() { echo $((SECONDS - $1)); }
