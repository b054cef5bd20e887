#!/bin/bash
# Installs every build and test dependency of berth on Debian 12 (bookworm).
# Idempotent: when everything is installed it only checks, and it runs
# `apt-get update` only when a package is missing.  Works without a terminal
# or stdin (CI=true).
set -euo pipefail

PACKAGES=(
	# build
	build-essential pkg-config meson ninja-build
	libjansson-dev libseccomp-dev libcap-dev libnl-3-dev
	# tests
	libcmocka-dev python3-pytest busybox-static iproute2 util-linux procps strace valgrind
	# the fuzz smoke step (fuzz/smoke.sh): clang with libFuzzer and the sanitizers
	clang libclang-rt-14-dev
	# the reference runtime the integration tests are checked against
	runc
	# cgroup v2 in a VM (tests/vm/run.sh): QEMU and a kernel for the guest
	qemu-system-x86 linux-image-amd64
	# images (src/image/, berthctl): build, tests (tests/image) and bench/image.sh
	libarchive-dev libcurl4-openssl-dev libssl-dev
	docker-registry skopeo zstd openssl curl python3-jwt python3-cryptography
	umoci containerd bc
	# engines driving berth (tests/engines, bench/engines.py)
	podman conmon containernetworking-plugins iptables
	# berthd (CRI): gRPC C core, protobuf-c, and the Python client of the tests
	libgrpc-dev protobuf-c-compiler libprotobuf-c-dev python3-grpcio python3-grpc-tools
)

if [ "$(id -u)" -ne 0 ]; then
	echo "$0: run as root (sudo $0)" >&2
	exit 1
fi

missing=()
for p in "${PACKAGES[@]}"; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$status" = installed ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
	echo "install-deps: all ${#PACKAGES[@]} packages present"
	exit 0
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt_opts=(-y -q --no-install-recommends -o Dpkg::Options::=--force-confdef
	-o Dpkg::Options::=--force-confold)
apt-get update -q </dev/null
apt-get install "${apt_opts[@]}" "${missing[@]}" </dev/null
