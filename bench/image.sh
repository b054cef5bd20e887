#!/bin/bash
# Image pull + unpack: berthctl beside `skopeo copy` + `umoci unpack` and
# containerd's `ctr image pull`, all against one local docker-registry on
# 127.0.0.1, in one run.  Then one big uncompressed layer unpacked by
# berthctl (digest checked) and by GNU tar.
#
#   sudo bench/image.sh            # 5 repeats
#   sudo REPEATS=3 bench/image.sh
#   BUILD_DIR=build-img sudo -E bench/image.sh
#
# The image (about 240 MB unpacked, 4 gzip layers) is made from files of
# this host: /usr/lib/python3, perl, /usr/include.  Every tool starts from
# an empty store each repeat (containerd: a fresh root, state and socket
# under the bench's temp dir, never the host's).  Prints min and median.
set -euo pipefail

cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
berthctl=$PWD/$build/src/berthctl/berthctl
repeats=${REPEATS:-5}
[ "$(id -u)" -eq 0 ] || { echo "$0: run as root" >&2; exit 1; }
[ -x "$berthctl" ] || { echo "$0: no $berthctl (build first)" >&2; exit 1; }

work=$(mktemp -d /var/tmp/berth-bench-img-XXXXXX)
reg_pid= cd_pid=
cleanup() {
	set +e  # kill/wait report the signal; clean-up must go on regardless
	[ -n "$cd_pid" ] && kill "$cd_pid" 2>/dev/null && wait "$cd_pid" 2>/dev/null
	[ -n "$reg_pid" ] && kill "$reg_pid" 2>/dev/null && wait "$reg_pid" 2>/dev/null
	grep -o " $work[^ ]*" /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

now() { date +%s.%N; }

# --- the image ----------------------------------------------------------------
echo "building the test image in $work" >&2
/usr/bin/python3 - "$work/layout" <<'PY'
import gzip, hashlib, json, os, subprocess, sys
out = sys.argv[1]
os.makedirs(f"{out}/blobs/sha256")
def blob(data):
    d = hashlib.sha256(data).hexdigest()
    open(f"{out}/blobs/sha256/{d}", "wb").write(data)
    return "sha256:" + d
layers, diffs = [], []
for args in (["usr/lib/python3"], ["usr/share/perl", "usr/lib/x86_64-linux-gnu/perl"],
             ["usr/include/c++", "usr/include/x86_64-linux-gnu"],
             ["--exclude=usr/include/c++", "--exclude=usr/include/x86_64-linux-gnu", "usr/include"]):
    args = [a for a in args if a.startswith("--") or os.path.isdir("/" + a)]
    tar = subprocess.run(["tar", "-C", "/", "-cf", "-"] + args, capture_output=True, check=True).stdout
    gz = subprocess.run(["gzip", "-6", "-n"], input=tar, capture_output=True, check=True).stdout
    layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": blob(gz), "size": len(gz)})
    diffs.append("sha256:" + hashlib.sha256(tar).hexdigest())
cfg = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/bin/sh"]},
                  "rootfs": {"type": "layers", "diff_ids": diffs}}).encode()
m = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": blob(cfg),
                           "size": len(cfg)}, "layers": layers}).encode()
json.dump({"imageLayoutVersion": "1.0.0"}, open(f"{out}/oci-layout", "w"))
json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
           "digest": blob(m), "size": len(m), "annotations": {"org.opencontainers.image.ref.name": "bench"}}]},
          open(f"{out}/index.json", "w"))
print(f"image: {len(layers)} layers, {sum(l['size'] for l in layers) / 1e6:.0f} MB compressed", file=sys.stderr)
PY

# --- the registry ---------------------------------------------------------------
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$work/registry.yml" <<EOF
{"version": 0.1, "log": {"level": "error", "accesslog": {"disabled": true}},
 "storage": {"filesystem": {"rootdirectory": "$work/registry"}},
 "http": {"addr": "127.0.0.1:$port"}}
EOF
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
reg_pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done
ref=127.0.0.1:$port/bench/image:1
skopeo copy -q --dest-tls-verify=false "oci:$work/layout:bench" "docker://$ref"

# --- containerd, private ------------------------------------------------------------
start_containerd() {
	local d=$work/containerd
	rm -rf "$d" && mkdir -p "$d"
	cat >"$d/config.toml" <<EOF
version = 2
root = "$d/root"
state = "$d/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$d/containerd.sock"
[ttrpc]
  address = "$d/containerd.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$d/opt"
EOF
	containerd --config "$d/config.toml" >"$d/log" 2>&1 &
	cd_pid=$!
	for _ in $(seq 100); do ctr --address "$d/containerd.sock" version >/dev/null 2>&1 && return; sleep 0.1; done
	echo "containerd did not start: $(tail -5 "$d/log")" >&2
	exit 1
}
stop_containerd() {
	kill "$cd_pid"
	wait "$cd_pid" 2>/dev/null || true
	cd_pid=
	grep -o " $work/containerd[^ ]*" /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
	rm -rf "$work/containerd"
}

declare -A times
run() { # run NAME CMD...: time CMD into times[NAME]
	local name=$1 t0 t1
	shift
	sync
	t0=$(now)
	"$@" >/dev/null
	t1=$(now)
	times[$name]+="$(echo "$t1 - $t0" | bc) "
}

for i in $(seq "$repeats"); do
	echo "repeat $i/$repeats" >&2
	rm -rf "$work/berth"
	run berthctl "$berthctl" --root "$work/berth" pull -q "$ref"
	rm -rf "$work/oci" "$work/bundle"
	run skopeo+umoci bash -c "skopeo copy -q --src-tls-verify=false docker://$ref oci:$work/oci:img &&
		umoci unpack --image $work/oci:img $work/bundle"
	start_containerd
	run ctr ctr --address "$work/containerd/containerd.sock" -n bench image pull --plain-http "$ref"
	stop_containerd
done

# --- one big uncompressed layer: berthctl vs GNU tar ---------------------------------
tar -C / -cf "$work/big.tar" usr/lib/python3 usr/share/perl usr/include
digest=sha256:$(sha256sum "$work/big.tar" | cut -d' ' -f1)
for i in $(seq "$repeats"); do
	rm -rf "$work/u" && mkdir "$work/u"
	run "berthctl layer unpack" "$berthctl" layer unpack --digest "$digest" "$work/big.tar" "$work/u"
	rm -rf "$work/u" && mkdir "$work/u"
	run "GNU tar -x" tar -C "$work/u" -xf "$work/big.tar"
done
rm -rf "$work/u"

# --- report ---------------------------------------------------------------------------
echo
printf "%-24s %8s %8s   %s\n" "" "min (s)" "median" "all"
/usr/bin/python3 - "$repeats" <<PY
import statistics
rows = {$(for k in "${!times[@]}"; do printf '"%s": [%s], ' "$k" "$(echo "${times[$k]}" | sed 's/ \+$//; s/ /, /g')"; done)}
for k in ["berthctl", "skopeo+umoci", "ctr", "berthctl layer unpack", "GNU tar -x"]:
    v = rows[k]
    print(f"{k:24s} {min(v):8.2f} {statistics.median(v):8.2f}   {' '.join(f'{x:.2f}' for x in v)}")
pull = ["skopeo+umoci", "ctr"]
fastest = min(pull, key=lambda k: statistics.median(rows[k]))
r = statistics.median(rows["berthctl"]) / statistics.median(rows[fastest])
print(f"\npull+unpack: berthctl / fastest other ({fastest}) = {r:.2f} (median; target <= 0.5)")
r = statistics.median(rows["GNU tar -x"]) / statistics.median(rows["berthctl layer unpack"])
print(f"unpack speed: berthctl / GNU tar = {r:.2f} x (median; target >= 0.8)")
PY
