#!/bin/bash
# Compares two dataplane_bench binaries by alternating runs (old new, new old, ...): on a shared
# or virtual machine two runs of one binary differ by more than most changes do, so only runs
# taken in turns in the same period are compared. No overload or latency runs.
#
# usage: bench/ab.sh OLD_BIN NEW_BIN PAIRS [dataplane_bench args, e.g. --paths encrypt
#        --sizes 64,1420 --peer-sets one --isa avx2]
# Copy both binaries out of the build directory first, so a rebuild cannot swap one mid-series.
# Prints each run's points (rate, share of the same run's ceiling, and the run's cache-line round
# trip between the two cores at its start/end in ns: a run whose vCPUs the host placed apart shows
# it there) and, per point, the medians over runs of each binary and new/old.
set -euo pipefail
if [ $# -lt 3 ] || ! [ -x "$1" ] || ! [ -x "$2" ] || ! [[ $3 =~ ^[1-9][0-9]*$ ]]; then
	echo "usage: $0 OLD_BIN NEW_BIN PAIRS [dataplane_bench args]" >&2
	exit 2
fi
old=$1 new=$2 pairs=$3
shift 3
out=$(mktemp -d /tmp/ab.XXXXXX)
trap 'rm -rf "$out"' EXIT
for i in $(seq 1 "$pairs"); do
	if [ $((i % 2)) = 1 ]; then order="old new"; else order="new old"; fi
	for w in $order; do
		bin=$old
		[ "$w" = new ] && bin=$new
		# Both plan columns run crypto_burst's default plan: the pair is an A/A inside the run.
		"$bin" --crypto-prefetch 4:0:key --prefetch-ab 4:0:key "$@" 2>&1 |
			awk -v w="$w" '
				/^(encrypt|decrypt) /{l[n++] = w " " $1 " " $2 " " $3 " " ($5+$9)/2 " " ($6+$10)/2}
				/round trip between/{rt = $0; gsub(/[^0-9 ]/, "", rt); split(rt, a, " "); c = a[1] "/" a[2]}
				END{for (i = 0; i < n; i++) print l[i], (c == "" ? "-" : c)}' >>"$out/runs"
	done
done
cat "$out/runs"
python3 - "$out/runs" <<'PY'
import collections, statistics as st, sys
d = collections.defaultdict(lambda: collections.defaultdict(list))
for line in open(sys.argv[1]):
    w, path, peers, size, mpps, ratio, *_ = line.split()
    d[(path, peers, size)][w].append((float(mpps), float(ratio)))
print("point              old Mpps  new Mpps  new/old | old % of ceiling  new %   (medians over runs)")
for k, v in d.items():
    if not v["old"] or not v["new"]:
        continue
    om, nm = st.median(x[0] for x in v["old"]), st.median(x[0] for x in v["new"])
    orr, nr = st.median(x[1] for x in v["old"]), st.median(x[1] for x in v["new"])
    print(f"{' '.join(k):18} {om:8.3f}  {nm:8.3f}  {100*nm/om:6.1f} % | {orr:6.1f} %        {nr:6.1f} %")
PY
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
