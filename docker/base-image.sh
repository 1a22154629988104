#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Makes sure the base image of docker/Dockerfile, debian:bookworm-slim, is in the local Docker
# engine:
#
#   bash docker/base-image.sh [--image NAME] [--pull-timeout SECONDS] [--no-pull]
#
#   1. present already (docker image inspect): nothing to do;
#   2. else `docker pull` (bounded by --pull-timeout, default 60 s): the registry's image;
#   3. else, with no registry answering, it is built from Debian's packages:
#      `debootstrap --variant=minbase bookworm` from the mirror in this machine's apt sources
#      (/etc/apt/sources.list, /etc/apt/sources.list.d/*.list and *.sources), made slim the
#      way the registry's image is (no docs, man pages or locales; no apt caches), and
#      `docker import`ed under the same name.
#
# The imported image's apt uses the same mirror as this machine (bookworm, bookworm-updates
# and bookworm-security where this machine has them, in /etc/apt/sources.list.d/debian.sources
# as in the registry's image) and its Acquire::Check-Valid-Until / Check-Date settings, so the
# Dockerfiles' `apt-get install` works unchanged on either image.
#
# Needs root, docker and debootstrap (scripts/install-deps.sh installs both). It prints what it
# did on the last line: "present", "pulled" or "built in N s".
set -euo pipefail

IMAGE=debian:bookworm-slim
PULL_TIMEOUT=60
PULL=1
SUITE=bookworm
DOCKER=${DOCKER:-docker}

while [ $# -gt 0 ]; do
	case "$1" in
	--image) IMAGE=$2; shift ;;
	--pull-timeout) PULL_TIMEOUT=$2; shift ;;
	--no-pull) PULL=0 ;;
	-h | --help) sed -n 's/^# \{0,1\}//; 4,23p' "${BASH_SOURCE[0]}"; exit 0 ;;
	*) echo "base-image: unknown argument '$1' (try --help)" >&2; exit 2 ;;
	esac
	shift
done

say() { printf 'base-image: %s\n' "$*" >&2; }

if "$DOCKER" image inspect "$IMAGE" >/dev/null 2>&1; then
	echo "base-image: $IMAGE present"
	exit 0
fi
if [ "$PULL" = 1 ]; then
	say "$IMAGE is absent: trying docker pull (at most ${PULL_TIMEOUT}s)"
	if timeout "$PULL_TIMEOUT" "$DOCKER" pull -q "$IMAGE" >/dev/null 2>&1 &&
		"$DOCKER" image inspect "$IMAGE" >/dev/null 2>&1; then
		echo "base-image: $IMAGE pulled"
		exit 0
	fi
	say "no registry answered: building $IMAGE with debootstrap"
fi

[ "$(id -u)" -eq 0 ] || { say "debootstrap needs root"; exit 1; }
command -v debootstrap >/dev/null || { say "debootstrap is not installed (scripts/install-deps.sh)"; exit 1; }

# apt_sources: one "URI SUITE COMPONENTS" line per enabled deb source of this machine, from
# both formats (one-line .list and deb822 .sources).
apt_sources() {
	local f
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		# deb [options] URI SUITE COMPONENT...
		sed -e 's/#.*//' -e 's/\[[^]]*\]//' "$f" |
			awk '$1 == "deb" && NF >= 3 { c = ""; for (i = 4; i <= NF; i++) c = c (c ? "," : "") $i; print $2, $3, c }'
	done
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk '
			function flush(   i, j, nu, ns, u, s) {
				if (types ~ /(^| )deb( |$)/ && enabled != "no") {
					nu = split(uris, u, " "); ns = split(suites, s, " ")
					gsub(/ +/, ",", comps)
					for (i = 1; i <= nu; i++) for (j = 1; j <= ns; j++) print u[i], s[j], comps
				}
				types = uris = suites = comps = enabled = ""
			}
			/^[ \t]*#/ { next }
			/^[ \t]*$/ { flush(); next }
			{
				key = tolower($1); sub(/:$/, "", key); val = $0; sub(/^[^:]*:[ \t]*/, "", val)
				if (key == "types") types = val
				else if (key == "uris") uris = val
				else if (key == "suites") suites = val
				else if (key == "components") comps = val
				else if (key == "enabled") enabled = tolower(val)
			}
			END { flush() }' "$f"
	done
}

SOURCES=$(apt_sources)
MIRROR=$(awk -v s="$SUITE" '$2 == s { print $1; exit }' <<<"$SOURCES")
UPDATES=$(awk -v s="$SUITE-updates" '$2 == s { print $1; exit }' <<<"$SOURCES")
SECURITY=$(awk -v s="$SUITE-security" '$2 == s { print $1; exit }' <<<"$SOURCES")
if [ -z "$MIRROR" ]; then
	say "no '$SUITE' suite in this machine's apt sources; found:"
	printf '  %s\n' "$SOURCES" >&2
	exit 1
fi
say "mirror $MIRROR${UPDATES:+, updates $UPDATES}${SECURITY:+, security $SECURITY}"

START=$SECONDS
WORK=$(mktemp -d /var/tmp/meshgate-base.XXXXXX)
ROOTFS=$WORK/rootfs
cleanup() {
	# debootstrap may leave /proc or /sys mounted inside the tree when it fails.
	local m
	for m in $(awk -v r="$ROOTFS" 'index($2, r) == 1 { print $2 }' /proc/mounts | sort -r); do
		umount -l "$m" 2>/dev/null || true
	done
	rm -rf --one-file-system "$WORK"
}
trap cleanup EXIT

if ! debootstrap --variant=minbase --components=main "$SUITE" "$ROOTFS" "$MIRROR" >"$WORK/debootstrap.log" 2>&1; then
	tail -n 30 "$WORK/debootstrap.log" >&2
	[ ! -f "$ROOTFS/debootstrap/debootstrap.log" ] || tail -n 30 "$ROOTFS/debootstrap/debootstrap.log" >&2
	say "debootstrap failed"
	exit 1
fi

# apt: this machine's mirror, in the registry image's place and format.
rm -f "$ROOTFS/etc/apt/sources.list"
{
	printf 'Types: deb\nURIs: %s\nSuites: %s%s\nComponents: main\n' "$MIRROR" "$SUITE" \
		"$([ -n "$UPDATES" ] && [ "$UPDATES" = "$MIRROR" ] && printf ' %s-updates' "$SUITE")"
	printf 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
	if [ -n "$UPDATES" ] && [ "$UPDATES" != "$MIRROR" ]; then
		printf '\nTypes: deb\nURIs: %s\nSuites: %s-updates\nComponents: main\n' "$UPDATES" "$SUITE"
		printf 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
	fi
	if [ -n "$SECURITY" ]; then
		printf '\nTypes: deb\nURIs: %s\nSuites: %s-security\nComponents: main\n' "$SECURITY" "$SUITE"
		printf 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
	fi
} >"$ROOTFS/etc/apt/sources.list.d/debian.sources"
# A mirror that is a dated snapshot has Release files past their Valid-Until: take this
# machine's settings for that, and only those.
grep -hE '^[[:space:]]*Acquire::Check-(Valid-Until|Date)' /etc/apt/apt.conf /etc/apt/apt.conf.d/* 2>/dev/null \
	>"$ROOTFS/etc/apt/apt.conf.d/99meshgate-mirror" || rm -f "$ROOTFS/etc/apt/apt.conf.d/99meshgate-mirror"

# Slim, as the registry's -slim image: no documentation, no caches, no recommends. And dpkg
# without an fsync per file, as there (docker-apt-speedup): a layer is written once, so the
# fsyncs only slow the builder stage's large apt-get install down.
printf 'force-unsafe-io\n' >"$ROOTFS/etc/dpkg/dpkg.cfg.d/docker-apt-speedup"
cat >"$ROOTFS/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
EOF
cat >"$ROOTFS/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
printf 'Acquire::Languages "none";\n' >"$ROOTFS/etc/apt/apt.conf.d/docker-no-languages"
printf 'Acquire::GzipIndexes "true";\n' >"$ROOTFS/etc/apt/apt.conf.d/docker-gzip-indexes"
printf 'APT::AutoRemove::SuggestsImportant "false";\n' >"$ROOTFS/etc/apt/apt.conf.d/docker-autoremove-suggests"
find "$ROOTFS/usr/share/doc" -mindepth 2 -not -name copyright -not -type d -delete 2>/dev/null || true
rm -rf "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/info/* "$ROOTFS"/var/cache/apt/*.bin \
	"$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/log/*.log \
	"$ROOTFS/debootstrap" "$ROOTFS"/tmp/* 2>/dev/null || true
: >"$ROOTFS/etc/machine-id"
printf 'nameserver 127.0.0.1\n' >"$ROOTFS/etc/resolv.conf" # docker replaces it in every container
printf 'localhost\n' >"$ROOTFS/etc/hostname"

tar -C "$ROOTFS" --numeric-owner --xattrs -c . |
	"$DOCKER" import --change 'CMD ["bash"]' \
		--message "debootstrap --variant=minbase $SUITE from $MIRROR (meshgate docker/base-image.sh)" \
		- "$IMAGE" >/dev/null
echo "base-image: $IMAGE built in $((SECONDS - START)) s (debootstrap from $MIRROR)"
