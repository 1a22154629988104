#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# The data plane owns its state and depends only on wg/ and base/ (docs/architecture.md): every
# quoted include under dataplane/ names a header of dataplane/, wg/ or base/, and the folder's
# meson.build reaches into no other folder.
root=${1:?usage: include_wall.sh SOURCE_ROOT}
rc=0
for f in "$root"/dataplane/*.c "$root"/dataplane/*.h; do
	for h in $(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f"); do
		if [ ! -e "$root/dataplane/$h" ] && [ ! -e "$root/wg/$h" ] && [ ! -e "$root/base/$h" ]; then
			echo "${f#"$root"/}: includes \"$h\", which is not in dataplane/, wg/ or base/"
			rc=1
		fi
	done
done
if grep -n "\.\./" "$root/dataplane/meson.build"; then
	echo "dataplane/meson.build: reaches into another folder"
	rc=1
fi
exit $rc
