#!/bin/bash
# Runs every test: the C unit tests (meson test --suite unit) and the pytest
# integration suite (as root), then prints one final line `N passed, M failed`
# summing both.  Exits non-zero when anything failed.
#
#   tests/run-all.sh                    # uses ./build
#   BUILD_DIR=build-asan tests/run-all.sh
#   BERTH_BIN=/usr/bin/runc tests/run-all.sh   # check the tests against runc
#   PYTEST_ARGS="-k kill" tests/run-all.sh
#   FUZZ_SMOKE=0 tests/run-all.sh       # skip the fuzz smoke step (counted as one test)
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1
build=${BUILD_DIR:-build}
python=/usr/bin/python3  # Debian's, which has python3-pytest
report=$(mktemp -d)
trap 'rm -rf "$report"' EXIT

passed=0
failed=0

# --- C unit tests -----------------------------------------------------------
echo "==> unit tests (meson test -C $build --suite unit)"
meson test -C "$build" --suite unit --print-errorlogs 2>&1 | tee "$report/unit.log"
unit_rc=${PIPESTATUS[0]}
count() { # count LABEL: the number after "LABEL:" in meson's summary, else 0
	local n
	n=$(sed -n "s/^$1:[[:space:]]*\([0-9]\+\)[[:space:]]*$/\1/p" "$report/unit.log" | tail -n1)
	echo "${n:-0}"
}
unit_ok=$(($(count Ok) + $(count "Expected Fail")))
unit_fail=$(($(count Fail) + $(count "Unexpected Pass") + $(count Timeout)))
if [ "$unit_rc" -ne 0 ] && [ "$unit_fail" -eq 0 ]; then
	unit_fail=1  # meson itself failed (e.g. no build dir)
fi
passed=$((passed + unit_ok))
failed=$((failed + unit_fail))

# --- integration tests --------------------------------------------------------
echo "==> integration tests (pytest, as root)"
if [ "$(id -u)" -ne 0 ]; then
	echo "run-all: the integration tests need root (sudo make check)" >&2
	failed=$((failed + 1))
else
	# shellcheck disable=SC2086
	"$python" -m pytest tests/integration -p no:cacheprovider -q -rfEs \
		--junitxml="$report/integration.xml" ${PYTEST_ARGS:-}
	pytest_rc=$?
	if [ -s "$report/integration.xml" ]; then
		read -r ip ifail < <("$python" - "$report/integration.xml" <<'PY'
import sys
import xml.etree.ElementTree as ET

# A test whose body fails and whose leak check (teardown) fails too shows up
# twice in the report: count each test once.
results = {}
for case in ET.parse(sys.argv[1]).getroot().iter("testcase"):
    key = (case.get("classname"), case.get("name"))
    tags = {child.tag for child in case}
    if tags & {"failure", "error"}:
        results[key] = "failed"
    elif "skipped" in tags:
        results.setdefault(key, "skipped")
    else:
        results.setdefault(key, "passed")
values = list(results.values())
print(values.count("passed"), values.count("failed"))
PY
		)
		passed=$((passed + ip))
		failed=$((failed + ifail))
		if [ "$pytest_rc" -ne 0 ] && [ "$ifail" -eq 0 ]; then
			failed=$((failed + 1))  # pytest failed outside any test (session teardown)
		fi
	else
		failed=$((failed + 1))  # pytest could not even start
	fi
fi

# --- fuzz smoke (fuzz/smoke.sh: each libFuzzer target ~20 s; one test) --------
if [ "${FUZZ_SMOKE:-1}" != 0 ]; then
	echo "==> fuzz smoke (fuzz/smoke.sh)"
	if bash fuzz/smoke.sh "${FUZZ_BUILD_DIR:-build-fuzz}"; then
		passed=$((passed + 1))
	else
		echo "run-all: fuzz smoke FAILED" >&2
		failed=$((failed + 1))
	fi
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
