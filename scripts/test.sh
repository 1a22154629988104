#!/usr/bin/env bash
# The README's test command: installs packages, builds, and runs every meson suite, then the
# unit and component suites again under ASan+UBSan. Ends with one line "N passed, N failed".
#   scripts/test.sh [--no-deps] [--suite NAME]...   (--suite limits both runs to those suites)
set -uo pipefail

cd "$(dirname "$0")/.."
deps=1
suites=()
while [ $# -gt 0 ]; do
	case "$1" in
	--no-deps) deps=0 ;;
	--suite) suites+=("--suite" "$2"); shift ;;
	*) echo "test.sh: unknown argument '$1' (expected --no-deps or --suite NAME)" >&2; exit 2 ;;
	esac
	shift
done

if [ "$deps" = 1 ]; then
	bash scripts/install-deps.sh || { echo "test.sh: installing packages failed" >&2; exit 1; }
fi

# Unit and component suites are rebuilt with sanitizers; netns/e2e run real daemons and stay plain.
sanitized_suites=(wg node dataplane gateway coord relay)

results=()
run_build() { # name, meson setup args...
	local dir=$1
	shift
	if [ ! -f "$dir/build.ninja" ]; then
		meson setup "$dir" --werror "$@" >"$dir.setup.log" 2>&1 || { cat "$dir.setup.log"; return 1; }
	fi
	ninja -C "$dir" || return 1
}

# The names of failed tests are collected here and repeated just above the last line, because
# a CI log is often read from its tail only.
failed_list=$(mktemp)
trap 'rm -f "$failed_list"' EXIT
count_results() { # testlog.json -> adds to totals
	local log=$1
	[ -f "$log" ] || return 0
	python3 - "$log" "$failed_list" <<'PY'
import json, sys
p = f = s = 0
with open(sys.argv[2], "a") as out:
    for line in open(sys.argv[1]):
        line = line.strip()
        if not line:
            continue
        t = json.loads(line)
        r = t.get("result", "")
        if r in ("OK", "EXPECTEDFAIL"):
            p += 1
        elif r == "SKIP":
            s += 1
        else:
            f += 1
            out.write("%s: %s %s after %.1f s\n" % (sys.argv[1].split("/")[0], t.get("name", "?"),
                                                    r, t.get("duration", 0.0)))
print(p, f, s)
PY
}

passed=0
failed=0
skipped=0
add() { # "p f s"
	read -r p f s <<<"$1"
	passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
}

export MESHGATE_VECTORS="$PWD/tests/vectors"

# Plain build: every suite.
if run_build build; then
	# The docker suite builds the images, runs the compose mesh and installs the .deb: 5 to 9
	# minutes from cold on 2 busy cores (debootstrap and the whole compile), under 3 when
	# Docker's layer cache is warm. MESHGATE_DOCKER_TESTS=0 leaves it out.
	no_docker=()
	if [ ${#suites[@]} -eq 0 ] && [ "${MESHGATE_DOCKER_TESTS:-1}" = 0 ]; then
		no_docker=(--no-suite docker)
	fi
	meson test -C build --print-errorlogs --num-processes 2 "${suites[@]}" "${no_docker[@]}"
	add "$(count_results build/meson-logs/testlog.json)"
else
	echo "test.sh: build failed" >&2
	failed=$((failed + 1))
fi

# The protocol core must build and pass without DPDK or the coordinator's libraries.
if [ ${#suites[@]} -eq 0 ] || [[ " ${suites[*]} " == *" wg "* ]]; then
	if run_build build-core -Ddataplane=false -Dcoord=false -Dbench=false; then
		meson test -C build-core --print-errorlogs --num-processes 2 --suite wg --suite node
		add "$(count_results build-core/meson-logs/testlog.json)"
	else
		echo "test.sh: core-only build (-Ddataplane=false) failed" >&2
		failed=$((failed + 1))
	fi
fi

# Sanitizer build: unit and component suites only.
san_args=()
for s in "${sanitized_suites[@]}"; do
	if [ ${#suites[@]} -eq 0 ] || [[ " ${suites[*]} " == *" $s "* ]]; then
		san_args+=("--suite" "$s")
	fi
done
if [ ${#san_args[@]} -gt 0 ]; then
	if run_build build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbench=false; then
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
			meson test -C build-asan --print-errorlogs --num-processes 2 "${san_args[@]}"
		add "$(count_results build-asan/meson-logs/testlog.json)"
	else
		echo "test.sh: sanitizer build failed" >&2
		failed=$((failed + 1))
	fi
fi

if [ -s "$failed_list" ]; then
	echo "failed tests (build: test result):"
	sed 's/^/  /' "$failed_list"
fi
# CI reads the last line, which is exactly "N passed, N failed"; skips are said the line before.
[ "$skipped" -gt 0 ] && echo "$skipped skipped (see the meson logs for why)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
