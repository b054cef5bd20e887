#!/bin/bash
# PID 1 of the cgroup v2 guest booted by tests/vm/run.sh, run from the host's
# / (9p, read-only).  Mounts what a host has (proc, sys, dev, tmpfs on /tmp,
# /run and /var/tmp), cgroup2 alone at /sys/fs/cgroup with every controller
# the kernel offers enabled for children, then runs berth's cgroup tests from
# the host's build and powers off.  The results and the exit status go to
# the writable 9p share "results" (mounted at /run/berth-vm), which also
# holds the `env` file run.sh wrote: REPO, BUILD, UNIT and PYTEST (arrays:
# the C unit tests by name, pytest's arguments).
#
# Being PID 1, this shell also reaps the orphans berth's tests leave to it
# (container processes whose runtime exited): the tests run in a background
# child and `wait` collects everything else meanwhile.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/tmp/home LANG=C.UTF-8 PYTHONDONTWRITEBYTECODE=1
results=/run/berth-vm

say() { echo "berth-vm: [$(cut -d" " -f1 /proc/uptime 2>/dev/null)s] $*"; }

power_off() {
	sync
	umount "$results" 2>/dev/null
	echo o >/proc/sysrq-trigger
	sleep 30
}

mounts() {
	mount -t proc -o nosuid,nodev,noexec proc /proc &&
		mount -t sysfs -o nosuid,nodev,noexec sysfs /sys &&
		mount -t devtmpfs -o nosuid,mode=755 devtmpfs /dev &&
		mkdir -p /dev/pts /dev/shm /dev/mqueue &&
		mount -t devpts -o nosuid,noexec,gid=5,mode=620,ptmxmode=000 devpts /dev/pts &&
		ln -sf pts/ptmx /dev/ptmx &&
		mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs /dev/shm &&
		mount -t mqueue -o nosuid,nodev,noexec mqueue /dev/mqueue &&
		mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs /tmp &&
		mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs /var/tmp &&
		mount -t tmpfs -o nosuid,nodev,mode=755 tmpfs /run &&
		mount -t cgroup2 -o nosuid,nodev,noexec,nsdelegate cgroup2 /sys/fs/cgroup &&
		mkdir -p "$results" "$HOME" &&
		mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288,cache=none results "$results"
}

if ! mounts; then
	say "mounting the guest's filesystems failed"
	power_off
fi
# From here on the status file exists whatever happens, so run.sh can tell
# a test failure from a guest that never got this far.
echo "setup" >"$results/status"

hostname berth-vm
ip link set lo up
# The disk run.sh attaches (a scratch file, never written) gives the I/O
# controller a block device to limit.
modprobe virtio_blk 2>/dev/null
# shellcheck disable=SC1091
. "$results/env"
# The checkout, at its host path: under /tmp it would be hidden by the tmpfs.
if ! { mkdir -p "$REPO" &&
	mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288,cache=none,ro repo "$REPO"; }; then
	say "mounting the checkout at $REPO failed"
	power_off
fi

# The root cgroup may hold processes and enable controllers at once (the
# "no internal processes" rule exempts it), so the tests run from / as on a
# host without systemd.
cg=/sys/fs/cgroup
for c in cpu cpuset io memory pids hugetlb rdma misc; do
	if grep -qw "$c" "$cg/cgroup.controllers"; then
		echo "+$c" >"$cg/cgroup.subtree_control" || say "cannot enable $c"
	fi
done
say "kernel $(uname -r), $(grep -c ^processor /proc/cpuinfo) cpus"
say "cgroup mounts: $(grep cgroup /proc/self/mounts | tr '\n' ';')"
say "controllers: $(cat "$cg/cgroup.controllers"); enabled: $(cat "$cg/cgroup.subtree_control")"

run_tests() {
	local unit_rc=0 py_rc=0 t
	cd "$REPO" || return 1
	for t in "${UNIT[@]}"; do
		say "==> $BUILD/tests/unit/unit-$t"
		# To a file, not a pipe: a child the test leaves behind when it
		# fails would hold a pipe open for ever.
		CMOCKA_MESSAGE_OUTPUT=TAP timeout 300 "$BUILD/tests/unit/unit-$t" \
			>"$results/unit-$t.tap" 2>&1 || unit_rc=1
		cat "$results/unit-$t.tap"
	done
	say "==> pytest ${PYTEST[*]}"
	BERTH_BIN="$BUILD/src/cli/berth" BUILD_DIR="$BUILD" \
		/usr/bin/python3 -m pytest -p no:cacheprovider -q -rfEs --color=no \
		--junitxml="$results/pytest.xml" "${PYTEST[@]}"
	py_rc=$?
	echo "unit=$unit_rc pytest=$py_rc" >"$results/status"
	[ "$unit_rc" -eq 0 ] && [ "$py_rc" -eq 0 ]
}

run_tests </dev/null &
tests=$!
wait "$tests"
rc=$?
# Reap what is left; a test run that left processes behind shows up in
# the leak checks, not here.
say "exit $rc"
power_off
