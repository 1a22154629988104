#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Builds the Debian package meshgate_VERSION_ARCH.deb (every program, the example configs as
# conffiles in /etc/meshgate, and the systemd units) with `meson install` and dpkg-deb:
#
#   bash packaging/deb/build-deb.sh [--out DIR] [--build-dir DIR] [--destdir DIR]
#
#   --out DIR        where the .deb goes (default: the current directory)
#   --build-dir DIR  meson build directory to configure and use (default: a temporary one)
#   --destdir DIR    package this install tree instead of building (it must come from
#                    `meson setup --prefix=/usr --sysconfdir=/etc --localstatedir=/var`)
#
# Runtime dependencies come from dpkg-shlibdeps, plus the DPDK poll-mode drivers that EAL loads
# as plugins (the virtual ones in Depends, common NICs in Recommends). wireguard-go and
# wireguard-tools (for the agent, and `wg` against the gateway) are only Suggests: with
# recommends, wireguard-tools would pull a kernel image in for its module. Needs the build
# dependencies (scripts/install-deps.sh) and dpkg-dev. Install the result with
#   apt-get install ./meshgate_*.deb
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUT=$PWD BUILD="" DESTDIR_IN=""
while [ $# -gt 0 ]; do
	case "$1" in
	--out) OUT=$(realpath -m "$2"); shift ;;
	--build-dir) BUILD=$(realpath -m "$2"); shift ;;
	--destdir) DESTDIR_IN=$(realpath "$2"); shift ;;
	-h | --help) sed -n 's/^# \{0,1\}//; 4,16p' "${BASH_SOURCE[0]}"; exit 0 ;;
	*) echo "build-deb: unknown argument '$1' (try --help)" >&2; exit 2 ;;
	esac
	shift
done

WORK=$(mktemp -d /tmp/meshgate-deb.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
PKG=$WORK/pkg
mkdir -p "$PKG"

if [ -n "$DESTDIR_IN" ]; then
	cp -a "$DESTDIR_IN/." "$PKG/"
	rm -f "$PKG"/deps-* # the Dockerfile's lists
else
	BUILD=${BUILD:-$WORK/build}
	meson setup "$BUILD" "$ROOT" --prefix=/usr --sysconfdir=/etc --localstatedir=/var \
		-Dsystemdunitdir=/lib/systemd/system -Dtests=false -Dbench=false >"$WORK/setup.log" ||
		{ cat "$WORK/setup.log" >&2; exit 1; }
	ninja -C "$BUILD" >"$WORK/build.log" || { tail -n 40 "$WORK/build.log" >&2; exit 1; }
	DESTDIR=$PKG meson install -C "$BUILD" --no-rebuild --strip --quiet
fi
# Only what a package may hold: no static libraries or headers.
find "$PKG" \( -name '*.a' -o -name '*.h' -o -name '*.pc' \) -delete
find "$PKG" -depth -type d -empty -delete
[ -x "$PKG/usr/bin/meshgate-coord" ] || { echo "build-deb: no usr/bin in the install tree" >&2; exit 1; }

VERSION=$(sed -n "s/^  version : '\([^']*\)'.*/\1/p" "$ROOT/meson.build" | head -n 1)
ARCH=$(dpkg --print-architecture)

# Runtime libraries, as dpkg-shlibdeps reads them off the binaries. netbase too: libnftables
# resolves the protocol names of the agent's filter through /etc/protocols.
mkdir -p "$WORK/shl/debian"
printf 'Source: meshgate\n\nPackage: meshgate\nArchitecture: any\n' >"$WORK/shl/debian/control"
SHLIBS=$(cd "$WORK/shl" && dpkg-shlibdeps -O "$PKG"/usr/bin/* 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
[ -n "$SHLIBS" ] || { echo "build-deb: dpkg-shlibdeps found nothing" >&2; exit 1; }
PMDS="librte-mempool-ring23, librte-bus-vdev23, librte-bus-pci23, librte-net-af-packet23, librte-net-af-xdp23, librte-net-memif23, librte-net-ring23, librte-net-tap23"
NIC_PMDS="librte-net-virtio23, librte-net-vmxnet3-23, librte-net-e1000-23, librte-net-igc23, librte-net-ixgbe23, librte-net-i40e23, librte-net-iavf23, librte-net-ice23, librte-net-mlx5-23, librte-net-bnxt23, librte-net-ena23"

# Docs and maintainer scripts.
DOC=$PKG/usr/share/doc/meshgate
mkdir -p "$DOC" "$PKG/DEBIAN"
cat >"$DOC/copyright" <<COPYRIGHT
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: meshgate

Files: *
License: GPL-2.0-only
 On Debian systems the full text of the GNU General Public License version 2 is in
 /usr/share/common-licenses/GPL-2.
COPYRIGHT
printf 'meshgate (%s) unstable; urgency=medium\n\n  * Built from the source tree by packaging/deb/build-deb.sh.\n\n -- meshgate <meshgate@localhost>  %s\n' \
	"$VERSION" "$(date -R)" | gzip -9n >"$DOC/changelog.gz"

(cd "$PKG" && find etc -type f 2>/dev/null | sed 's|^|/|' | sort) >"$PKG/DEBIAN/conffiles"
[ -s "$PKG/DEBIAN/conffiles" ] || rm -f "$PKG/DEBIAN/conffiles"

cat >"$PKG/DEBIAN/postinst" <<'SCRIPT'
#!/bin/sh
set -e
# Units are installed, not enabled: each needs its config first (see /usr/share/doc/meshgate).
if [ "$1" = configure ] && [ -d /run/systemd/system ]; then
	systemctl --system daemon-reload >/dev/null || true
fi
SCRIPT
cat >"$PKG/DEBIAN/prerm" <<'SCRIPT'
#!/bin/sh
set -e
if [ "$1" = remove ] && [ -d /run/systemd/system ]; then
	systemctl stop 'meshgate@*.service' meshgate-coord.service meshgate-agent.service meshgate-relay.service >/dev/null 2>&1 || true
fi
SCRIPT
cat >"$PKG/DEBIAN/postrm" <<'SCRIPT'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
	systemctl --system daemon-reload >/dev/null || true
fi
if [ "$1" = purge ]; then
	rm -rf /var/lib/meshgate /var/lib/private/meshgate-coord /var/lib/meshgate-coord \
		/var/lib/private/meshgate-relay /var/lib/meshgate-relay
fi
SCRIPT
chmod 0755 "$PKG/DEBIAN/postinst" "$PKG/DEBIAN/prerm" "$PKG/DEBIAN/postrm"

cat >"$PKG/DEBIAN/control" <<CONTROL
Package: meshgate
Version: $VERSION
Architecture: $ARCH
Maintainer: meshgate <meshgate@localhost>
Installed-Size: $(du -sk --exclude=DEBIAN "$PKG" | cut -f1)
Depends: $SHLIBS, $PMDS, netbase
Recommends: $NIC_PMDS
Suggests: wireguard-go, wireguard-tools, dpdk, postgresql
Section: net
Priority: optional
Description: WireGuard mesh VPN with DPDK gateways
 meshgate joins hosts and LANs into a WireGuard mesh. The gateway (meshgate) forwards
 between a LAN port and a mesh port on DPDK poll-mode cores and batch-encrypts with
 intel-ipsec-mb; meshgate agent joins stock wireguard-go hosts; meshgate-coord is the
 self-hosted coordination server; meshgate-relay forwards encrypted WireGuard
 messages between nodes that cannot reach each other, and answers STUN; meshctl
 reads a gateway's health socket.
 .
 systemd units: meshgate@.service (one per /etc/meshgate/NAME.yaml),
 meshgate-coord.service, meshgate-relay.service and meshgate-agent.service.
CONTROL

mkdir -p "$OUT"
DEB=$OUT/meshgate_${VERSION}_${ARCH}.deb
dpkg-deb --root-owner-group -Zxz --build "$PKG" "$DEB" >/dev/null
echo "$DEB"
