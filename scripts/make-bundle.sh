#!/bin/bash
# make-bundle.sh [--rootfs-only] DIR
#
# Makes an OCI bundle at DIR: DIR/rootfs is a busybox root filesystem built
# from Debian's busybox-static, DIR/config.json comes from `${BERTH:-berth}
# spec`, edited to run a non-interactive shell command.  With --rootfs-only
# no config.json is written (the integration tests write their own).
#
#   BERTH=./build/src/cli/berth scripts/make-bundle.sh .bundle/demo
#   ARGS='["sh","-c","hostname"]' scripts/make-bundle.sh /tmp/b
#
# ARGS (JSON array) sets process.args; default: ["sh"].
set -euo pipefail

usage() { echo "usage: $0 [--rootfs-only] DIR" >&2; exit 2; }

rootfs_only=0
if [ "${1:-}" = "--rootfs-only" ]; then rootfs_only=1; shift; fi
[ $# -eq 1 ] || usage
dir=$1
busybox=${BUSYBOX:-/bin/busybox}
python=/usr/bin/python3

if ! [ -x "$busybox" ]; then
	echo "$0: $busybox missing: install busybox-static (scripts/install-deps.sh)" >&2
	exit 1
fi

mkdir -p "$dir"
rootfs=$dir/rootfs
rm -rf "$rootfs"
mkdir -p "$rootfs"/{bin,proc,sys,dev,tmp,etc,root,home/user}
chmod 1777 "$rootfs/tmp"

cp "$busybox" "$rootfs/bin/busybox"
# The same set `busybox --install -s` would make, all in /bin so PATH finds
# them; made by one process, not one `ln` each (a guest under emulation,
# tests/vm, pays a tenth of a second a process).
"$rootfs/bin/busybox" --list | "$python" -c '
import os, sys
for applet in sys.stdin.read().split():
    if applet != "busybox":
        path = os.path.join(sys.argv[1], applet)
        if os.path.lexists(path):
            os.unlink(path)
        os.symlink("busybox", path)
' "$rootfs/bin"

cat > "$rootfs/etc/passwd" <<'PW'
root:x:0:0:root:/root:/bin/sh
user:x:1000:1000:user:/home/user:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PW
cat > "$rootfs/etc/group" <<'GR'
root:x:0:
user:x:1000:
nogroup:x:65534:
GR
echo berth > "$rootfs/etc/hostname"
chown 1000:1000 "$rootfs/home/user"

[ "$rootfs_only" = 1 ] && exit 0

berth=${BERTH:-berth}
case $berth in  # a relative path must survive the cd below
*/*) berth=$(cd "$(dirname "$berth")" && pwd)/$(basename "$berth") ;;
esac
rm -f "$dir/config.json"
(cd "$dir" && "$berth" spec)
ARGS=${ARGS:-'["sh"]'} "$python" - "$dir/config.json" <<'PY'
import json, os, sys
path = sys.argv[1]
with open(path) as f:
    spec = json.load(f)
spec["process"]["args"] = json.loads(os.environ["ARGS"])
spec["process"]["terminal"] = False
with open(path + ".tmp", "w") as f:
    json.dump(spec, f, indent="\t")
    f.write("\n")
os.rename(path + ".tmp", path)
PY
