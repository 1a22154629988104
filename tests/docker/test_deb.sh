#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# docker-deb: the Debian package (packaging/deb/build-deb.sh, built in the Dockerfile's deb
# stage from the same compile as the images), installed with `apt-get install ./meshgate_*.deb`
# in a fresh debian:bookworm-slim container, which must pull every runtime dependency; then
# `meshgate --version`, `meshgate-coord --help`, `meshgate-relay --version` and
# `systemd-analyze verify` on the four units.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
docker_start

OUT=$(mktemp -d /tmp/meshgate-deb-test.XXXXXX)
on_exit "rm -rf '$OUT'"
t=$SECONDS
build_images --deb "$OUT" deb
deb=$(ls "$OUT"/meshgate_*.deb)
say "package: ${deb##*/} ($(du -k "$deb" | cut -f1) KiB) in $(elapsed "$t") s"

NAME=meshgate-deb-test-$$
on_exit "$DOCKER rm -f $NAME >/dev/null 2>&1"
t=$SECONDS
# --network host: apt reaches the mirror without Docker's NAT (see dockerd.sh).
if ! timeout 600 "$DOCKER" run --rm --name "$NAME" --network host -v "$OUT:/deb:ro" debian:bookworm-slim bash -euxc '
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >/dev/null
	cp /deb/meshgate_*.deb /tmp/ && cd /tmp
	apt-get install -y -q ./meshgate_*.deb >/tmp/apt.log || { tail -n 30 /tmp/apt.log; exit 1; }
	dpkg -s meshgate | grep -q "^Status: install ok installed"
	meshgate --version
	meshgate-coord --help 2>&1 | grep -q "meshgate-coord --config"
	meshctl --help 2>&1 | grep -q "usage: meshctl"
	meshgate-agent --help 2>&1 | grep -q "agent --config"
	meshgate-relay --version | grep -q "^meshgate-relay "
	meshgate-relay --config /etc/meshgate/relay.yaml --check
	ls /etc/meshgate/gateway-site-a.yaml /etc/meshgate/agent.yaml /etc/meshgate/relay.yaml /usr/share/meshgate/coord.yaml
	# systemd only now, for systemd-analyze: the package itself does not need it.
	apt-get install -y -q --no-install-recommends systemd >/dev/null
	cp /usr/share/meshgate/coord.yaml /etc/meshgate/coord.yaml
	cd /lib/systemd/system
	out=$(systemd-analyze verify meshgate@gw0.service meshgate-coord.service meshgate-agent.service \
		meshgate-relay.service 2>&1) || { echo "$out"; exit 1; }
	# verify warns without failing: any line naming our units is a finding.
	if echo "$out" | grep -E "meshgate"; then exit 1; fi
	for u in meshgate-coord meshgate-relay; do
		systemd-analyze security --offline=yes $u.service 2>/dev/null | tail -n 1 | sed "s/^/$u: /" || true
	done
	apt-get remove -y -q meshgate >/dev/null
	hash -r # bash remembers where it found meshgate before
	if command -v meshgate || [ -e /usr/bin/meshgate-relay ]; then exit 1; fi
' >"$OUT/install.log" 2>&1; then
	tail -n 60 "$OUT/install.log"
	fail "installing ${deb##*/} in a fresh container"
fi
grep -E '^meshgate [0-9]|Overall exposure' "$OUT/install.log" || true
say "installed and verified in $(elapsed "$t") s"
say "ok"
