#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Relay benchmark (bench/README.md): forwarding per core at 64 and 1420 bytes, and memory per
# idle client. The relay is pinned to CPU 0 and bench/relay_load to CPU 1; the per-core figure
# divides what the relay forwarded by the CPU time the relay used (utime + stime), so it holds
# even when the load generator, not the relay, is the bottleneck.
#
#   bench/relay_bench.sh BUILD_DIR [OUT.json] [--quick]
set -euo pipefail

build=${1:?usage: relay_bench.sh BUILD_DIR [OUT.json] [--quick]}
out=${2:-/dev/stdout}
quick=${3:-}
relay=$build/relay/meshgate-relay
load=$build/tests/relay/relay_load
seconds=5 idle=10000 pairs=8
if [ "$quick" = --quick ]; then seconds=1 idle=500 pairs=2; fi

dir=$(mktemp -d /tmp/relay-bench-XXXXXX)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	-keyout "$dir/key.pem" -out "$dir/cert.pem" -days 2 -subj /CN=localhost \
	-addext subjectAltName=DNS:localhost,IP:127.0.0.1 >/dev/null 2>&1
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$dir/relay.yaml" <<YAML
listen: 127.0.0.1:$port
metrics_listen: 127.0.0.1:$mport
log_level: warning
tls:
  cert_file: $dir/cert.pem
  key_file: $dir/key.pem
limits:
  max_clients: 30000
  max_clients_per_ip: 30000
  queue_bytes: 1048576
  # relay_load connects its idle clients one after another before it reads anything: the
  # first ones must not time out while the last ones connect.
  keepalive_seconds: 1800
  idle_timeout_seconds: 3600
YAML

start() {
	taskset -c 0 "$relay" -c "$dir/relay.yaml" 2>"$dir/relay.log" &
	pid=$!
	for _ in $(seq 100); do curl -sf "http://127.0.0.1:$mport/health" >/dev/null && return; sleep 0.05; done
	cat "$dir/relay.log" >&2; exit 1
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
metric() { curl -sf "http://127.0.0.1:$mport/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$pid/status"; }
hz=$(getconf CLK_TCK)

flood() { # size -> JSON fragment
	local size=$1 t0 f0 b0 t1 f1 b1 res
	start
	t0=$(cpu_ticks); f0=$(metric 'meshgate_relay_frames_forwarded_total{path="local"}')
	b0=$(metric 'meshgate_relay_bytes_forwarded_total{path="local"}')
	res=$(taskset -c 1 "$load" --port "$port" --ca "$dir/cert.pem" --clients $((2 * pairs)) \
		--mode flood --size "$size" --seconds "$seconds")
	t1=$(cpu_ticks); f1=$(metric 'meshgate_relay_frames_forwarded_total{path="local"}')
	b1=$(metric 'meshgate_relay_bytes_forwarded_total{path="local"}')
	local drops; drops=$(metric 'meshgate_relay_drops_total{reason="queue_full"}')
	stop
	python3 - "$size" "$t1" "$t0" "$f1" "$f0" "$b1" "$b0" "$hz" "$drops" "$res" <<'PY'
import json, sys
size, t1, t0, f1, f0, b1, b0, hz, drops = (float(x) for x in sys.argv[1:10])
load = json.loads(sys.argv[10])
cpu = (t1 - t0) / hz
frames, nbytes = f1 - f0, b1 - b0
print(json.dumps({"size": int(size), "relay_cpu_seconds": round(cpu, 3),
    "frames_forwarded": int(frames), "relay_drops_queue_full": int(drops),
    "frames_per_cpu_second": round(frames / cpu) if cpu else 0,
    "gbit_per_cpu_second": round(nbytes * 8 / cpu / 1e9, 3) if cpu else 0,
    "wall_seconds": load["seconds"], "wall_frames_per_second": load["frames_per_second"],
    "wall_gbit_per_second": load["gbit_per_second"]}))
PY
}

idle_mem() {
	local n=$1 before after res
	start
	before=$(rss_kib)
	exec 3< <(taskset -c 1 "$load" --port "$port" --ca "$dir/cert.pem" --clients "$n" \
		--mode idle --seconds 60 2>/dev/null)
	read -r line <&3
	sleep 1
	after=$(rss_kib)
	local clients; clients=$(metric meshgate_relay_clients)
	stop
	exec 3<&-
	python3 -c "import json; b,a,n,c=$before,$after,$n,${clients:-0}; print(json.dumps({'clients': int(c), 'rss_before_kib': b, 'rss_after_kib': a, 'rss_total_mib': round(a/1024,1), 'kib_per_client': round((a-b)/max(c,1),2)}))"
}

f64=$(flood 64)
f1420=$(flood 1420)
mem=$(idle_mem "$idle")
python3 - "$f64" "$f1420" "$mem" >"$out" <<'PY'
import json, sys, platform
f64, f1420, mem = (json.loads(a) for a in sys.argv[1:4])
print(json.dumps({"benchmark": "relay", "cpu": platform.processor() or platform.machine(),
    "forward_64": f64, "forward_1420": f1420, "idle_memory": mem}, indent=2))
PY
