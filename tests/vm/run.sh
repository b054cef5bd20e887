#!/bin/bash
# Runs berth's cgroup tests on a pure cgroup v2 host (issue 3): a QEMU guest
# on Debian's kernel, booted with cgroup_no_v1=all, whose root is this
# host's / shared read-only over 9p.  No disk image to build: a tiny
# initramfs (busybox and the 9p modules) mounts the share and hands PID 1 to
# tests/vm/guest-init.sh, which mounts cgroup2 alone at /sys/fs/cgroup, runs
# the tests against this host's build and powers off.  docs/testing-cgroup-v2.md
# says more.
#
#   sudo tests/vm/run.sh                       # the default selection, ./build
#   sudo BUILD_DIR=build-vm tests/vm/run.sh
#   sudo tests/vm/run.sh tests/integration/test_cgroups.py -k pause   # pytest args
#
# Exits 0 when every test in the guest passed, 1 otherwise, 77 (skip) when
# this host cannot boot the guest (no /dev/kvm, QEMU or kernel).  The last
# line reads "cgroup v2 VM: N passed, M failed, S skipped".
#
#   BUILD_DIR   build directory with src/cli/berth and tests/unit (build)
#   VM_ACCEL    kvm, tcg (emulation, ~15 times slower) or auto (the default:
#               kvm, but tcg where /dev/kvm is PVM's, see below)
#   VM_KERNEL   kernel image (default: the newest /boot/vmlinuz-* with modules)
#   VM_TIMEOUT  seconds before the guest is killed (900)
#   VM_KEEP     a directory to copy the guest's results to (console.log,
#               unit-*.tap, pytest.xml); by default they go with the tmp dir
set -uo pipefail

cd "$(dirname "$0")/../.." || exit 1
repo=$PWD
build=$(realpath -m "${BUILD_DIR:-build}")
python=/usr/bin/python3
qemu="qemu-system-x86_64"
timeout_s=${VM_TIMEOUT:-900}

# The C unit tests that work on real cgroups (names under $build/tests/unit/unit-).
unit_tests=(cgroup_live devices_bpf)
# The integration tests about cgroups: all of linux.resources, update and
# events; of the others, those that read cgroup files or must leave no
# cgroup behind (ps through the freezer, the devices program, the container's
# cgroup mount and namespace, cgroupsPath, --systemd-cgroup, features'
# cgroup flags, SIGKILL at every step of create).  About 3 minutes under
# emulation (TCG), a third of it the fault test.
default_tests=(
	tests/integration/test_cgroups.py
	tests/integration/test_events_update.py
	tests/integration/test_list_ps.py::test_ps_table
	tests/integration/test_list_ps.py::test_ps_options
	tests/integration/test_list_ps.py::test_ps_json
	tests/integration/test_features.py::test_features_true_to_this_host
	tests/integration/test_lifecycle.py::test_delete_running_needs_force
	tests/integration/test_faults.py::test_sigkill_during_create_leaves_nothing_after_delete_force
	tests/integration/test_rootfs.py::test_default_filesystems_mounted
	tests/integration/test_rootfs.py::test_dev_null_works_and_devices_cgroup_denies_others
	tests/integration/test_rootfs.py::test_linux_devices_mknod
	tests/integration/test_rootfs.py::test_device_cgroup_denies_unlisted_device
	tests/integration/test_namespaces.py::test_cgroup_namespace
	tests/integration/test_security.py::test_hostile_bundle_cgroups_path_dotdot
	tests/integration/test_security.py::test_no_host_devices_beyond_spec
	tests/integration/test_cli.py::test_systemd_cgroup_without_systemd_is_a_clear_error
)

skip() { echo "vm: SKIP: $*" >&2; exit 77; }
die() { echo "vm: $*" >&2; exit 1; }

# ---- can this host boot the guest? ------------------------------------------
command -v "$qemu" >/dev/null || skip "no $qemu (apt-get install qemu-system-x86)"
accel=${VM_ACCEL:-auto}
case $accel in
auto | kvm)
	[ -e /dev/kvm ] || skip "no /dev/kvm (KVM is not available here; VM_ACCEL=tcg emulates)"
	if ! [ -r /dev/kvm ] || ! [ -w /dev/kvm ]; then
		skip "/dev/kvm is not usable by $(id -un)"
	fi
	# KVM on PVM (kvm_pvm: a VM in a VM without VMX/SVM, e.g. Firecracker
	# hosts) runs only guest kernels built for PVM; Debian's dies early in
	# KVM's instruction emulator, so such hosts emulate the whole guest.
	if [ "$accel" = auto ] && [ -d /sys/module/kvm_pvm ] &&
		! [ -d /sys/module/kvm_intel ] && ! [ -d /sys/module/kvm_amd ]; then
		echo "vm: /dev/kvm is PVM's, which cannot run Debian's kernel: emulating (TCG)"
		accel=tcg
	else
		accel=kvm
	fi
	;;
tcg) ;;
*) die "VM_ACCEL must be auto, kvm or tcg" ;;
esac
kernel=${VM_KERNEL:-$(for k in /boot/vmlinuz-*; do
	[ -d "/lib/modules/${k#/boot/vmlinuz-}/kernel" ] && echo "$k"
done | sort -V | tail -n1)}
if [ -z "$kernel" ] || ! [ -r "$kernel" ]; then
	skip "no readable kernel in /boot (apt-get install linux-image-amd64)"
fi
kver=${kernel##*/vmlinuz-}
[ -d "/lib/modules/$kver" ] || skip "no /lib/modules/$kver for $kernel"
command -v modprobe >/dev/null || skip "no modprobe (apt-get install kmod)"
[ -x /bin/busybox ] || skip "no /bin/busybox (apt-get install busybox-static)"
[ "$(id -u)" -eq 0 ] || die "run as root: the guest's root is this host's / and its tests run as root"
[ -x "$build/src/cli/berth" ] || die "no $build/src/cli/berth (build first, or set BUILD_DIR)"
for t in "${unit_tests[@]}"; do
	[ -x "$build/tests/unit/unit-$t" ] || die "no $build/tests/unit/unit-$t"
done
# The checkout reaches the guest as a share of its own ("repo", mounted at
# the same path), so a clone under /tmp, where CI may put it, is not hidden
# by the guest's tmpfs; a build dir outside it must be visible in hostroot.
for dir in "$repo" "$build"; do
	case $dir/ in
	*[[:space:]]*) die "$dir: a path with white space cannot go on the kernel's command line" ;;
	"$repo"/*) ;;
	/tmp/* | /run/* | /var/tmp/* | /proc/* | /sys/* | /dev/*)
		die "$dir is hidden in the guest (its own tmpfs or proc there); use a build dir inside $repo" ;;
	esac
done

if [ $# -gt 0 ]; then tests=("$@"); else tests=("${default_tests[@]}"); fi

work=$(mktemp -d /tmp/berth-vm-XXXXXX)
cleanup() {
	local pid
	pid=$(cat "$work/qemu.pid" 2>/dev/null) && kill "$pid" 2>/dev/null && sleep 1
	if [ -n "${VM_KEEP:-}" ] && [ -d "$work/results" ]; then
		mkdir -p "$VM_KEEP" && cp -r "$work/results/." "$VM_KEEP/"
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- the initramfs: busybox, the virtio/9p modules, tests/vm/initramfs-init ---
initrd=$work/initrd
mkdir -p "$initrd"/{bin,dev,proc,newroot,lib/modules}
cp /bin/busybox "$initrd/bin/busybox"
for applet in sh mount umount insmod mkdir cat sleep switch_root; do
	ln -s busybox "$initrd/bin/$applet"
done
cp tests/vm/initramfs-init "$initrd/init"
: >"$initrd/modules"
for mod in virtio_pci 9pnet_virtio 9p; do
	modprobe -S "$kver" --show-depends "$mod" || die "modprobe: no $mod for $kver"
done | while read -r kind path _; do
	[ "$kind" = insmod ] || continue # "builtin NAME"
	name=$(basename "$path")
	name=${name%.xz}
	name=${name%.zst}
	grep -qx "$name" "$initrd/modules" && continue
	case $path in # busybox insmod takes plain .ko files
	*.xz) xz -dc "$path" >"$initrd/lib/modules/$name" ;;
	*.zst) zstd -qdc "$path" >"$initrd/lib/modules/$name" ;;
	*) cp "$path" "$initrd/lib/modules/$name" ;;
	esac || exit 1
	echo "$name" >>"$initrd/modules"
done || die "cannot copy the modules of $kver"
(cd "$initrd" && find . | /bin/busybox cpio -o -H newc 2>/dev/null) >"$work/initrd.cpio" ||
	die "cannot build the initramfs"

# ---- what the guest runs ------------------------------------------------------
results=$work/results
mkdir -p "$results"
{
	printf 'REPO=%q\nBUILD=%q\n' "$repo" "$build"
	printf 'UNIT=(%s)\n' "${unit_tests[*]}"
	printf 'PYTEST=('
	printf '%q ' "${tests[@]}"
	printf ')\n'
} >"$results/env"
# A block device for the io controller (io.max needs one); never written.
truncate -s 64M "$work/disk.img"

if [ "$accel" = kvm ]; then
	accel_args=(-enable-kvm -cpu host)
else
	accel_args=(-accel "tcg,thread=multi" -cpu max)
fi
cmdline="console=ttyS0 loglevel=4 panic=-1 cgroup_no_v1=all systemd.unified_cgroup_hierarchy=1"
cmdline+=" berth_vm.init=$repo/tests/vm/guest-init.sh"
echo "==> booting $kernel ($accel, cgroup v2 only)"
start=$(date +%s)
# qemu's pid goes to a file so that an interrupted run can stop it; its
# output (the guest's console) to the terminal and console.log.
(
	timeout -k 10 "$timeout_s" "$qemu" "${accel_args[@]}" -m 2048 -smp 2 \
		-nodefaults -no-user-config -display none -no-reboot \
		-serial stdio -pidfile "$work/qemu.pid" \
		-kernel "$kernel" -initrd "$work/initrd.cpio" -append "$cmdline" \
		-virtfs "local,path=/,mount_tag=hostroot,security_model=passthrough,readonly=on,multidevs=remap" \
		-virtfs "local,path=$results,mount_tag=results,security_model=passthrough,multidevs=remap" \
		-virtfs "local,path=$repo,mount_tag=repo,security_model=passthrough,readonly=on,multidevs=remap" \
		-drive "file=$work/disk.img,format=raw,if=virtio,readonly=on" \
		</dev/null 2>&1
	echo $? >"$work/qemu.rc"
) | sed -u 's/\r$//' | tee "$results/console.log" &
wait $!
qemu_rc=$(cat "$work/qemu.rc" 2>/dev/null)
[ "$qemu_rc" != 124 ] || echo "vm: the guest was killed after ${timeout_s}s (VM_TIMEOUT)" >&2
elapsed=$(($(date +%s) - start))

# ---- results -----------------------------------------------------------------
status=$(cat "$results/status" 2>/dev/null)
read -r passed failed skipped < <("$python" - "$results" <<'PY'
import glob, os, re, sys
import xml.etree.ElementTree as ET

res = sys.argv[1]
counts = {"passed": 0, "failed": 0, "skipped": 0}
for tap in glob.glob(os.path.join(res, "unit-*.tap")):
    for line in open(tap, errors="replace"):
        if re.match(r"not ok \d+", line):
            counts["failed"] += 1
        elif re.match(r"ok \d+", line):
            counts["skipped" if "# SKIP" in line.upper() else "passed"] += 1
xml = os.path.join(res, "pytest.xml")
if os.path.exists(xml):
    # A test failing in its body and in its leak check shows up twice: once.
    seen = {}
    for case in ET.parse(xml).getroot().iter("testcase"):
        key = (case.get("classname"), case.get("name"))
        tags = {child.tag for child in case}
        if tags & {"failure", "error"}:
            seen[key] = "failed"
        elif "skipped" in tags:
            seen.setdefault(key, "skipped")
        else:
            seen.setdefault(key, "passed")
    for v in seen.values():
        counts[v] += 1
print(counts["passed"], counts["failed"], counts["skipped"])
PY
)
echo "==> guest done in ${elapsed}s (qemu exit $qemu_rc, guest status: ${status:-none})"
if [ "$status" != "unit=0 pytest=0" ] || [ "${failed:-0}" -ne 0 ]; then
	case $status in
	unit=*) ;;
	*) echo "vm: the guest did not finish its tests (see its console above)" >&2 ;;
	esac
	[ "${failed:-0}" -gt 0 ] || failed=1 # a failure outside any test
	echo "cgroup v2 VM: ${passed:-0} passed, $failed failed, ${skipped:-0} skipped"
	exit 1
fi
echo "cgroup v2 VM: $passed passed, 0 failed, $skipped skipped"
