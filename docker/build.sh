#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Builds the images from the repository (Docker's layer cache makes a second run quick):
#
#   bash docker/build.sh [--tag TAG] [--deb DIR] [TARGET...]
#
#   TARGET   meshgate-coord, meshgate-relay and/or meshgate (default: all three); `deb` builds
#            the Debian package stage only (use with --deb)
#   --tag    image tag (default latest): meshgate:TAG, meshgate-coord:TAG, meshgate-relay:TAG
#   --deb    also copy the .deb of the same build into DIR
#
# First debian:bookworm-slim is made present (docker/base-image.sh: pulled, or built with
# debootstrap where no registry answers). Builds use --network host, so apt in the build
# containers reaches the mirror without Docker's NAT (a dockerd started with --iptables=false
# has none). The builder stage compiles once; every image's stage reuses it.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DOCKER=${DOCKER:-docker}
TAG=latest DEB_DIR="" TARGETS=()
while [ $# -gt 0 ]; do
	case "$1" in
	--tag) TAG=$2; shift ;;
	--deb) DEB_DIR=$(realpath -m "$2"); shift ;;
	meshgate | meshgate-coord | meshgate-relay | deb) TARGETS+=("$1") ;;
	-h | --help) sed -n 's/^# \{0,1\}//; 4,17p' "${BASH_SOURCE[0]}"; exit 0 ;;
	*) echo "build: unknown argument '$1' (try --help)" >&2; exit 2 ;;
	esac
	shift
done
[ "${#TARGETS[@]}" -gt 0 ] || TARGETS=(meshgate-coord meshgate-relay meshgate)
[ -z "$DEB_DIR" ] || [[ " ${TARGETS[*]} " == *" deb "* ]] || TARGETS+=(deb)

T0=$SECONDS
bash "$ROOT/docker/base-image.sh"
echo "build: base image ready after $((SECONDS - T0)) s"

# The builder stage is tagged too, so that pruning dangling images never drops its layers.
for target in builder "${TARGETS[@]}"; do
	t=$SECONDS
	image=$target:$TAG
	case "$target" in builder | deb) image=meshgate-$target:$TAG ;; esac
	log=$(mktemp /tmp/meshgate-docker-build.XXXXXX)
	if ! "$DOCKER" build --network host -f "$ROOT/docker/Dockerfile" --target "$target" \
		-t "$image" "$ROOT" >"$log" 2>&1; then
		tail -n 40 "$log" >&2
		echo "build: $target failed (whole log: $log)" >&2
		exit 1
	fi
	rm -f "$log"
	echo "build: $image in $((SECONDS - t)) s ($("$DOCKER" image inspect -f '{{.Size}}' "$image" | awk '{ printf "%.0f MB", $1 / 1e6 }'))"
done

# Images of earlier builds that no tag refers to any more (this Dockerfile's only).
"$DOCKER" image prune -f --filter label=org.meshgate.stage >/dev/null

if [ -n "$DEB_DIR" ]; then
	mkdir -p "$DEB_DIR"
	c=$("$DOCKER" create "meshgate-deb:$TAG" true)
	"$DOCKER" cp "$c:/deb/." "$DEB_DIR/" && "$DOCKER" rm "$c" >/dev/null
	ls "$DEB_DIR"/meshgate_*.deb
fi
echo "build: done in $((SECONDS - T0)) s"
