#!/usr/bin/env bash
# The layering check (scripts/check-layers.py) passes on the tree, and fails on copies of it
# with a data-plane file that includes a gateway header, and with a meson.build whose include
# path reaches into another folder: the check itself is tested, not just run.
set -euo pipefail
root=$1
check="$root/scripts/check-layers.py"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

python3 "$check" "$root"

copy() {
	rm -rf "$tmp/tree"
	mkdir -p "$tmp/tree"
	for d in base wg uapi node agent dataplane gateway coord cli relay; do
		if [ -d "$root/$d" ]; then cp -r "$root/$d" "$tmp/tree/$d"; fi
	done
}

copy
printf '#include "control.h"\n' >>"$tmp/tree/dataplane/worker.c"
if python3 "$check" "$tmp/tree" >"$tmp/out"; then
	echo "FAIL: a dataplane/ file including gateway/control.h passed the check" >&2
	exit 1
fi
grep -q 'dataplane/worker.c: includes "control.h" from gateway/' "$tmp/out" ||
	{ echo "FAIL: the violation is not named:" >&2; cat "$tmp/out" >&2; exit 1; }

copy
printf "x = include_directories('../gateway')\n" >>"$tmp/tree/wg/meson.build"
if python3 "$check" "$tmp/tree" >"$tmp/out"; then
	echo "FAIL: wg/meson.build reaching into gateway/ passed the check" >&2
	exit 1
fi
grep -q "wg/meson.build: include_directories('../gateway') reaches outside" "$tmp/out" ||
	{ echo "FAIL: the meson violation is not named:" >&2; cat "$tmp/out" >&2; exit 1; }
echo "layers: the tree passes; both planted violations are caught"
