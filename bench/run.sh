#!/bin/bash
# bench/run.sh [--quick] [--json FILE] [bench.py options]
#
# Builds berth for benchmarking (release build in build-bench/, unless BERTH
# names a binary), then runs bench/bench.py as root: berth against runc and
# crun, see bench/README.md.  About 5 minutes; --quick about 1.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
	echo "$0: run as root (sudo $0)" >&2
	exit 1
fi
if [ -z "${BERTH:-}" ]; then
	export BERTH=$PWD/build-bench/src/cli/berth
	if ! { [ -f build-bench/build.ninja ] || meson setup build-bench --buildtype=release >/dev/null; } ||
		! ninja -C build-bench src/cli/berth >/dev/null; then
		[ -x "$BERTH" ] || { echo "$0: cannot build $BERTH" >&2; exit 1; }
		echo "$0: warning: the build failed; benchmarking the existing $BERTH" >&2
	fi
fi
exec /usr/bin/python3 bench/bench.py "$@"
