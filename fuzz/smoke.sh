#!/bin/sh
# CI smoke form of the fuzzers: build the four libFuzzer targets (ASan+UBSan)
# and run each for ${FUZZ_SECONDS:-20} s over its seed corpus (corpus grown in
# a temporary dir, never in the repository).  Exits non-zero on a crash, a
# sanitizer report, a timeout or a build failure.
#   fuzz/smoke.sh [OUTDIR]     (default: build-fuzz)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
out=${1:-$repo/build-fuzz}
secs=${FUZZ_SECONDS:-20}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$here/build.sh" "$out" >"$work/build.log" 2>&1 || { cat "$work/build.log"; echo "fuzz smoke: build failed" >&2; exit 1; }
rc=0
for t in config process state stream; do
	mkdir -p "$work/corpus-$t" "$work/art-$t"
	if "$out/fuzz_$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=4096 \
		-dict="$here/json.dict" -artifact_prefix="$work/art-$t/" -print_final_stats=1 \
		"$work/corpus-$t" "$here/corpus/$t" >"$work/$t.log" 2>&1; then
		echo "fuzz smoke: fuzz_$t ok ($(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t.log") runs in ${secs} s)"
	else
		tail -n 60 "$work/$t.log"
		echo "fuzz smoke: fuzz_$t FAILED; reproducer(s):" >&2
		ls -l "$work/art-$t" >&2
		rc=1
	fi
done
exit $rc
