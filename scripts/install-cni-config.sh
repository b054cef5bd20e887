#!/bin/bash
# Installs berth's default CNI network (docs/examples/10-berth-bridge.conflist:
# bridge "berth0", host-local IPAM on 10.209.0.0/16, portmap, firewall) into
# the CNI conf dir, unless that dir already holds a configuration: like
# containerd and CRI-O, berthd uses the first *.conflist/*.conf/*.json by
# name, and an existing network is the administrator's choice.
#
#   sudo scripts/install-cni-config.sh              # into /etc/cni/net.d
#   scripts/install-cni-config.sh DIR                # into DIR (tests)
#
# The plugins themselves come from Debian's containernetworking-plugins
# (/usr/lib/cni), which scripts/install-deps.sh installs.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
src=$here/docs/examples/10-berth-bridge.conflist
dest=${1:-/etc/cni/net.d}

mkdir -p "$dest"
shopt -s nullglob
existing=("$dest"/*.conflist "$dest"/*.conf "$dest"/*.json)
if [ ${#existing[@]} -gt 0 ]; then
	echo "install-cni-config: $dest already has a CNI config; keeping it: ${existing[*]##*/}"
	exit 0
fi
install -m 0644 "$src" "$dest/10-berth-bridge.conflist"
echo "install-cni-config: installed $dest/10-berth-bridge.conflist"
