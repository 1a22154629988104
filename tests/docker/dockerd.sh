# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
#
# Sourced by the docker suite: a Docker engine for the test, and the host as it was afterwards.
#
#   dockerd_up      uses the running engine if `docker info` answers; else starts Debian's
#                   dockerd (docker.io) in the background and waits for it
#   dockerd_down    stops the engine only if dockerd_up started it, and puts back the host's
#                   net.ipv4.ip_forward as it was before
#
# A dockerd this file starts touches the host as little as it can: --iptables=false (no
# FORWARD policy change, no NAT chains, no br_netfilter), --ip-forward=false (no
# net.ipv4.ip_forward=1) and --bridge=none (no docker0). Containers then talk only on their own
# compose networks, and image builds use --network host for apt. Its data root is Docker's
# default, /var/lib/docker, so image layers stay cached from one run to the next.
#
# DOCKERD_LOG (default /tmp/meshgate-dockerd.log) gets the daemon's output.

DOCKER=${DOCKER:-docker}
DOCKERD_LOG=${DOCKERD_LOG:-/tmp/meshgate-dockerd.log}
DOCKERD_PID="" DOCKERD_IP_FORWARD=""

docker_answers() {
	timeout 10 "$DOCKER" info >/dev/null 2>&1
}

dockerd_up() {
	if docker_answers; then
		echo "docker: using the running engine ($(timeout 10 "$DOCKER" version -f '{{.Server.Version}}' 2>/dev/null))"
		return 0
	fi
	command -v dockerd >/dev/null || PATH=$PATH:/usr/sbin
	command -v dockerd >/dev/null || { echo "docker: no dockerd (apt-get install docker.io)" >&2; return 77; }
	DOCKERD_IP_FORWARD=$(cat /proc/sys/net/ipv4/ip_forward)
	# A stale pid file from a killed run keeps dockerd from starting.
	if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
		rm -f /var/run/docker.pid
	fi
	setsid dockerd --iptables=false --ip-forward=false --bridge=none --log-level=warn \
		>"$DOCKERD_LOG" 2>&1 </dev/null &
	DOCKERD_PID=$!
	local deadline=$((SECONDS + 60))
	until docker_answers; do
		if ! kill -0 "$DOCKERD_PID" 2>/dev/null; then
			tail -n 20 "$DOCKERD_LOG" >&2
			echo "docker: dockerd exited at start" >&2
			DOCKERD_PID=""
			dockerd_restore_host
			return 1
		fi
		[ "$SECONDS" -lt "$deadline" ] || { echo "docker: dockerd did not answer in 60 s" >&2; return 1; }
		sleep 0.5
	done
	echo "docker: started dockerd (pid $DOCKERD_PID, $(timeout 10 "$DOCKER" version -f '{{.Server.Version}}' 2>/dev/null), log $DOCKERD_LOG)"
}

dockerd_restore_host() {
	if [ -n "$DOCKERD_IP_FORWARD" ] && [ "$(cat /proc/sys/net/ipv4/ip_forward)" != "$DOCKERD_IP_FORWARD" ]; then
		echo "$DOCKERD_IP_FORWARD" >/proc/sys/net/ipv4/ip_forward
		echo "docker: net.ipv4.ip_forward put back to $DOCKERD_IP_FORWARD"
	fi
}

dockerd_down() {
	[ -n "$DOCKERD_PID" ] || return 0
	kill -TERM "$DOCKERD_PID" 2>/dev/null || true
	local i
	for i in $(seq 1 300); do
		kill -0 "$DOCKERD_PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$DOCKERD_PID" 2>/dev/null; then
		echo "docker: dockerd ignored SIGTERM for 30 s: SIGKILL" >&2
		kill -KILL "$DOCKERD_PID" 2>/dev/null || true
	fi
	wait "$DOCKERD_PID" 2>/dev/null || true
	# Its managed containerd goes with it; a killed one can leave shims behind.
	DOCKERD_PID=""
	dockerd_restore_host
	echo "docker: dockerd stopped"
}
