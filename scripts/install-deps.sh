#!/usr/bin/env bash
# Installs every Debian package that the build, the tests, the benchmarks and the demo need.
# Idempotent; both README commands call it first. --no-install-recommends keeps wireguard-tools
# from pulling in a kernel image.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: run as root (apt-get needs it)" >&2
	exit 1
fi

PKGS=(
	# build
	build-essential pkg-config meson ninja-build clang-format
	# protocol core
	libssl-dev libsodium-dev libjansson-dev
	# relay (zlib: the STUN FINGERPRINT CRC-32, also in node/)
	libevent-dev zlib1g-dev
	# gateway
	libdpdk-dev dpdk dpdk-dev libipsec-mb-dev libyaml-dev libcurl4-openssl-dev libbsd-dev
	libpcap-dev libbpf-dev libxdp-dev libnuma-dev
	# coordinator
	libmicrohttpd-dev libsqlite3-dev libpq-dev postgresql sqlite3
	# agent (the packet filter through libnftables; nft for the tests to inspect it)
	libnftables-dev nftables
	# tests, demo and benchmarks
	wireguard-tools wireguard-go iproute2 iputils-ping iperf3 iptables conntrack
	procps psmisc curl jq python3 gnuplot-nox prometheus openssl ethtool socat netcat-openbsd
	# STUN interop: turnserver and turnutils_stunclient (tests/node/stun_*.sh)
	coturn
	# docker suite and packaging: Docker engine and compose (v1), the base image from the
	# mirror, and the .deb (dpkg-dev comes with build-essential)
	docker.io docker-compose debootstrap
)

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${PKGS[@]}"

# Debian's coturn unit is enabled on install under systemd (only the SysV script honours
# TURNSERVER_ENABLED in /etc/default/coturn): a system turnserver on 3478 would answer the
# tests' probes and hold the port. The tests start their own, so keep the service off.
if [ -d /run/systemd/system ] && systemctl list-unit-files coturn.service >/dev/null 2>&1; then
	systemctl disable --now coturn.service >/dev/null 2>&1 || true
fi
