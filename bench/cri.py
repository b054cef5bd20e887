#!/usr/bin/python3
"""berthd beside containerd 1.6 (CRI plugin + runc), in one run (issue 8):

    sudo /usr/bin/python3 bench/cri.py [--pods 50] [--parallel 10] [--rounds 5]
                                       [--berthd PATH] [--servers berthd,containerd]

What a kubelet asks to start and to tear down one pod with one container:

  start    = RunPodSandbox + CreateContainer + StartContainer
             (busybox `sleep 3600`, image pulled before)
  teardown = StopContainer (timeout 0) + RemoveContainer + StopPodSandbox
             + RemovePodSandbox

1. sequential: --pods pods per server, one at a time, one persistent gRPC
   channel per server; the servers take turns pod by pod (the order
   rotates), so noise on the machine hits both alike.  Each RPC is timed
   alone; the figures are min and median per phase.
2. parallel: --parallel pods at once (one thread each, on the same channel),
   --rounds rounds, the servers taking turns round by round: the wall time
   until every pod of the batch has started, then until all are torn down.
3. memory: each daemon's VmHWM (/proc/PID/status) at the end, and, with
   --parallel pods running (started one by one after the parallel rounds),
   the RSS and PSS sums of containerd's shims (containerd-shim-runc-v2) and
   of berthd's per-container monitors (forked berthd processes).

Both servers are private: their own socket, root, state, config, CNI conf
dir, bridge (containerd: bbench0, 10.217.0.0/24; berthd: bbench1,
10.218.0.0/24), host-local dataDir and cgroup parent (/bbench-containerd/...,
/bbench-berthd/...).  containerd runs in a mount namespace of its own
(`unshare -m --propagation private`) with a private dir bound over
/var/lib/cni, where libcni keeps its cache (containerd 1.6 has no option for
it), and its network namespaces under its state dir
(netns_mounts_under_state_dir).  The images (busybox-static as busybox and
as the pause image, `sleep infinity`) are built offline with
tests/image/images.py and served by Debian's docker-registry on 127.0.0.1.
Everything made is removed at the end, also on an error or Ctrl-C: pods,
daemons, shims and monitors (by pid), mounts, cgroups, bridges, iptables
rules naming the two networks, the temp dir.

When berthd answers CreateContainer with UNIMPLEMENTED (the container half
not there yet), the bench measures the pod-only phases on both servers
(RunPodSandbox; StopPodSandbox + RemovePodSandbox) and says so.
"""

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

import grpc

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "image"))
import images  # noqa: E402  (tests/image/images.py)

CONTAINERD = "/usr/bin/containerd"
RUNC = "/usr/sbin/runc"
REGISTRY_BIN = "/usr/bin/docker-registry"
CNI_BIN = "/usr/lib/cni"
NETS = {  # server -> (network name, bridge, subnet prefix)
    "containerd": ("bbench-containerd", "bbench0", "10.217.0"),
    "berthd": ("bbench-berthd", "bbench1", "10.218.0"),
}
RPC_TIMEOUT = 120
MiB = 1024 * 1024


# ---- helpers ----------------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def mounts_under(path):
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = line.split()[4]
            if mp == path or mp.startswith(path.rstrip("/") + "/"):
                out.append(mp)
    return out


def proc_status(pid, key):
    """A kB field of /proc/PID/status in bytes (0 when gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def pss(pid):
    """Proportional set size in bytes (pages shared with other processes,
    a forked parent's included, counted by their share)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def pids_where(pred):
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) != os.getpid():
            try:
                if pred(int(name)):
                    out.append(int(name))
            except OSError:
                pass
    return out


def cmdline(pid):
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return f.read().split(b"\0")


def stop_proc(proc, timeout=20):
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wait_socket(path, proc, what, log, timeout=30):
    deadline = time.time() + timeout
    while True:
        with socket.socket(socket.AF_UNIX) as s:
            try:
                s.connect(path)
                return
            except OSError:
                pass
        if proc.poll() is not None or time.time() > deadline:
            with open(log) as f:
                tail = f.read()[-2000:]
            raise RuntimeError(f"{what} did not start (rc {proc.poll()}): {tail}")
        time.sleep(0.05)


def generate_stubs(out):
    """api_pb2 and api_pb2_grpc from proto/cri-api.proto (as tests/cri)."""
    from grpc_tools import protoc
    os.makedirs(out, exist_ok=True)
    proto = os.path.join(out, "api.proto")
    subprocess.run(["sh", os.path.join(REPO, "proto", "strip-options.sh"),
                    os.path.join(REPO, "proto", "cri-api.proto"), proto], check=True)
    if protoc.main(["protoc", f"-I{out}", f"--python_out={out}", f"--grpc_python_out={out}", proto]) != 0:
        raise RuntimeError("grpc_tools.protoc failed on the CRI proto")
    sys.path.insert(0, out)
    import api_pb2
    import api_pb2_grpc
    return api_pb2, api_pb2_grpc


def conflist(server, ipam_dir):
    name, bridge, subnet = NETS[server]
    return {
        "cniVersion": "0.4.0",
        "name": name,
        "plugins": [
            {"type": "bridge", "bridge": bridge, "isGateway": True, "ipMasq": True, "hairpinMode": True,
             "ipam": {"type": "host-local", "dataDir": ipam_dir, "routes": [{"dst": "0.0.0.0/0"}],
                      "ranges": [[{"subnet": f"{subnet}.0/24"}]]}},
        ],
    }


class Registry:
    """Debian's docker-registry on 127.0.0.1, anonymous, data in `tmp`."""

    def __init__(self, tmp):
        self.host = f"127.0.0.1:{free_port()}"
        cfg = {"version": 0.1, "log": {"level": "error", "accesslog": {"disabled": True}},
               "storage": {"filesystem": {"rootdirectory": os.path.join(tmp, "data")}},
               "http": {"addr": self.host}}
        conf = os.path.join(tmp, "config.yml")
        with open(conf, "w") as f:
            json.dump(cfg, f)  # JSON is YAML
        self.log = os.path.join(tmp, "registry.log")
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen([REGISTRY_BIN, "serve", conf], stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        deadline = time.time() + 20
        while True:
            try:
                urllib.request.urlopen(f"http://{self.host}/v2/", timeout=1)
                break
            except urllib.error.HTTPError:
                break
            except OSError:
                if self.proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError("docker-registry did not start")
                time.sleep(0.05)

    def push(self, layout, ref, repo):
        cmd = ["skopeo", "copy", "-q", "--dest-tls-verify=false", f"oci:{layout}:{ref}",
               f"docker://{self.host}/{repo}"]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)
        return f"{self.host}/{repo}"

    def stop(self):
        stop_proc(self.proc)


def build_images(base):
    """busybox (tests/image's busybox layout) and a pause image whose
    entrypoint is busybox-static `sleep infinity`."""
    busybox = os.path.join(base, "busybox")
    images.busybox_layout(busybox, ref="1")
    pause = os.path.join(base, "pause")
    lay = images.Layout(pause)
    t = images.Tar()
    t.dir("bin")
    with open(images.BUSYBOX, "rb") as f:
        t.file("bin/busybox", f.read(), mode=0o755)
    lay.image([(t.bytes(), "gzip")], ref="1",
              config={"Entrypoint": ["/bin/busybox", "sleep", "infinity"], "User": "0:0", "WorkingDir": "/"})
    return busybox, pause


# ---- the servers --------------------------------------------------------------

class Server:
    name = None

    def connect(self, pb):
        self.pb, self.pbg = pb
        self.channel = grpc.insecure_channel(f"unix:{self.sock}")
        self.rt = self.pbg.RuntimeServiceStub(self.channel)
        self.img = self.pbg.ImageServiceStub(self.channel)
        v = self.rt.Version(self.pb.VersionRequest(), timeout=30)
        self.version = f"{v.runtime_name} {v.runtime_version}"
        # Ready for pods: NetworkReady (containerd loads the CNI conf a moment after start)
        deadline = time.time() + 30
        while True:
            st = self.rt.Status(self.pb.StatusRequest(), timeout=30)
            if all(c.status for c in st.status.conditions):
                break
            if time.time() > deadline:
                raise RuntimeError(f"{self.name} not ready: {st.status}")
            time.sleep(0.1)

    def pull(self, ref):
        self.img.PullImage(self.pb.PullImageRequest(image=self.pb.ImageSpec(image=ref)), timeout=300)

    def helpers(self):
        """Pids of the per-pod helper processes (shims, monitors)."""
        return []

    def unwedge(self):
        return []

    def helpers_rss(self, before=()):
        """(count, RSS sum, PSS sum, {comm: count}) of the helpers that are
        not in `before` (helpers of earlier pods that have not ended yet)."""
        pids = [p for p in self.helpers() if p not in before]
        comms = {}
        for p in pids:
            try:
                with open(f"/proc/{p}/comm") as f:
                    c = f.read().strip()
            except OSError:
                c = "?"
            comms[c] = comms.get(c, 0) + 1
        return len(pids), sum(proc_status(p, "VmRSS") for p in pids), sum(pss(p) for p in pids), comms

    def hwm(self):
        return proc_status(self.proc.pid, "VmHWM")

    def rss(self):
        return proc_status(self.proc.pid, "VmRSS")

    def remove_all(self):
        """Removes what the server still has (after an error)."""
        pb = self.pb
        try:
            for c in self.rt.ListContainers(pb.ListContainersRequest(), timeout=60).containers:
                try:
                    self.rt.RemoveContainer(pb.RemoveContainerRequest(container_id=c.id), timeout=60)
                except grpc.RpcError:
                    pass
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.UNIMPLEMENTED:
                print(f"  {self.name}: clean-up: {e.details()}", file=sys.stderr)
        try:
            for p in self.rt.ListPodSandbox(pb.ListPodSandboxRequest(), timeout=60).items:
                try:
                    self.rt.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=p.id), timeout=30)
                    self.rt.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=p.id), timeout=30)
                except grpc.RpcError as e:
                    print(f"  {self.name}: pod {p.id[:12]} not removed: {e.details()}", file=sys.stderr)
        except grpc.RpcError as e:
            print(f"  {self.name}: clean-up: {e.details()}", file=sys.stderr)


class Containerd(Server):
    name = "containerd"

    def __init__(self, base, registry_host, pause_ref):
        self.base = base
        self.sock = os.path.join(base, "c.sock")
        self.cni_dir = os.path.join(base, "cni")
        self.varlibcni = os.path.join(base, "varlibcni")
        for d in (self.cni_dir, self.varlibcni):
            os.makedirs(d)
        with open(os.path.join(self.cni_dir, "10-bbench.conflist"), "w") as f:
            json.dump(conflist(self.name, os.path.join(base, "ipam")), f)
        cri = 'plugins."io.containerd.grpc.v1.cri"'
        self.conf = os.path.join(base, "config.toml")
        with open(self.conf, "w") as f:
            f.write(f"""version = 2
root = "{base}/root"
state = "{base}/state"
[grpc]
  address = "{self.sock}"
[ttrpc]
  address = "{self.sock}.ttrpc"
[debug]
  address = "{base}/debug.sock"
[plugins."io.containerd.internal.v1.opt"]
  path = "{base}/opt"
[{cri}]
  sandbox_image = "{pause_ref}"
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [{cri}.containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [{cri}.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [{cri}.containerd.runtimes.runc.options]
        SystemdCgroup = false
        BinaryName = "{RUNC}"
        Root = "{base}/runc"
  [{cri}.cni]
    bin_dir = "{CNI_BIN}"
    conf_dir = "{self.cni_dir}"
    max_conf_num = 1
  [{cri}.registry.mirrors."{registry_host}"]
    endpoint = ["http://{registry_host}"]
""")
        self.log = os.path.join(base, "containerd.log")
        # A mount namespace of its own, with /var/lib/cni (libcni's cache)
        # private: nothing of the host's /var/lib/cni is touched.
        script = f'mount --bind "{self.varlibcni}" /var/lib/cni && exec {CONTAINERD} --config "{self.conf}"'
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_socket(self.sock, self.proc, "containerd", self.log)

    def helpers(self):
        tok = self.sock.encode()
        return pids_where(lambda p: os.path.basename(cmdline(p)[0]).startswith(b"containerd-shim")
                          and any(tok in a for a in cmdline(p)))

    def strays(self):
        """Every process that names the base dir (shims, runc, pods' processes
        have the shim as parent; killed by pid at the end)."""
        tok = self.base.encode()
        return pids_where(lambda p: any(tok in a for a in cmdline(p)))


class Berthd(Server):
    name = "berthd"

    def __init__(self, base, binary):
        self.base = base
        self.binary = os.path.realpath(binary)
        self.sock = os.path.join(base, "b.sock")
        self.cni_dir = os.path.join(base, "cni")
        os.makedirs(self.cni_dir)
        with open(os.path.join(self.cni_dir, "10-bbench.conflist"), "w") as f:
            json.dump(conflist(self.name, os.path.join(base, "ipam")), f)
        self.conf = os.path.join(base, "berthd.json")
        with open(self.conf, "w") as f:
            json.dump({"cni": {"conf_dir": self.cni_dir, "bin_dir": CNI_BIN}, "restrict_oom_score_adj": True}, f)
        self.log = os.path.join(base, "berthd.log")
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen([self.binary, "--address", self.sock, "--root", f"{base}/root",
                                          "--state", f"{base}/state", "--config", self.conf],
                                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_socket(self.sock, self.proc, "berthd", self.log)

    def helpers(self):
        """Monitors: detached processes running the berthd binary (not
        berthd, not its own short-lived children, not pause processes, of
        which there are none here: pid CONTAINER)."""
        daemon = self.proc.pid

        def mine(p):
            if p == daemon or os.readlink(f"/proc/{p}/exe") != self.binary:
                return False
            with open(f"/proc/{p}/stat") as f:
                if int(f.read().rsplit(")", 1)[1].split()[1]) == daemon:
                    return False
            with open(f"/proc/{p}/comm") as f:
                return f.read().strip() != "pause"
        return pids_where(mine)

    def unwedge(self):
        """Kills berthd's own children (forks inside an RPC, such as the one
        that pins a pod's namespaces); a call stuck on one then returns."""
        daemon = self.proc.pid

        def child(p):
            with open(f"/proc/{p}/stat") as f:
                return int(f.read().rsplit(")", 1)[1].split()[1]) == daemon
        kids = pids_where(child)
        for pid in kids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.5)
        return kids

    def strays(self):
        daemon = self.proc.pid

        def mine(p):
            return p != daemon and os.readlink(f"/proc/{p}/exe") == self.binary
        return pids_where(mine)


# ---- the pods --------------------------------------------------------------------

class Bench:
    def __init__(self, pb, base, image, containers):
        self.pb = pb
        self.base = base
        self.image = image
        self.containers = containers  # False: pod-only phases
        self.serial = 0
        self.lock = threading.Lock()
        self.timeout = RPC_TIMEOUT

    def configs(self, server):
        pb = self.pb
        with self.lock:
            self.serial += 1
            n = self.serial
        uid = f"bbench-{server.name}-{n}"
        logdir = os.path.join(self.base, "logs", server.name, uid)
        os.makedirs(logdir, exist_ok=True)
        NS = pb.NamespaceOption
        podcfg = pb.PodSandboxConfig(
            metadata=pb.PodSandboxMetadata(name=f"pod-{n}", uid=uid, namespace="bbench", attempt=0),
            hostname=f"pod-{n}",
            log_directory=logdir,
            labels={"bench": "cri"},
            linux=pb.LinuxPodSandboxConfig(
                cgroup_parent=f"/bbench-{server.name}/pod{n}",
                security_context=pb.LinuxSandboxSecurityContext(
                    namespace_options=NS(network=pb.POD, pid=pb.CONTAINER, ipc=pb.POD))))
        ctrcfg = pb.ContainerConfig(
            metadata=pb.ContainerMetadata(name="sleep", attempt=0),
            image=pb.ImageSpec(image=self.image),
            command=["/bin/busybox", "sleep", "3600"],
            log_path="sleep.log",
            linux=pb.LinuxContainerConfig(
                security_context=pb.LinuxContainerSecurityContext(
                    namespace_options=NS(network=pb.POD, pid=pb.CONTAINER, ipc=pb.POD))))
        return podcfg, ctrcfg

    def start(self, server):
        """Returns ({phase: ns}, pod id, container id)."""
        pb, rt = self.pb, server.rt
        podcfg, ctrcfg = self.configs(server)
        t = {}
        t0 = time.perf_counter_ns()
        pod = rt.RunPodSandbox(pb.RunPodSandboxRequest(config=podcfg), timeout=self.timeout).pod_sandbox_id
        t1 = time.perf_counter_ns()
        t["RunPodSandbox"] = t1 - t0
        cid = None
        if self.containers:
            try:
                cid = rt.CreateContainer(pb.CreateContainerRequest(pod_sandbox_id=pod, config=ctrcfg,
                                                                   sandbox_config=podcfg),
                                         timeout=self.timeout).container_id
                t2 = time.perf_counter_ns()
                rt.StartContainer(pb.StartContainerRequest(container_id=cid), timeout=self.timeout)
                t3 = time.perf_counter_ns()
            except grpc.RpcError:
                # the pod (and container) go before the error is passed on
                try:
                    if cid:
                        rt.RemoveContainer(pb.RemoveContainerRequest(container_id=cid), timeout=self.timeout)
                    rt.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=pod), timeout=self.timeout)
                    rt.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=pod), timeout=self.timeout)
                except grpc.RpcError:
                    pass
                raise
            t["CreateContainer"] = t2 - t1
            t["StartContainer"] = t3 - t2
            t1 = t3
        t["start total"] = t1 - t0
        return t, pod, cid

    def teardown(self, server, pod, cid):
        pb, rt = self.pb, server.rt
        t = {}
        t0 = time.perf_counter_ns()
        if cid:
            rt.StopContainer(pb.StopContainerRequest(container_id=cid, timeout=0), timeout=self.timeout)
            t1 = time.perf_counter_ns()
            rt.RemoveContainer(pb.RemoveContainerRequest(container_id=cid), timeout=self.timeout)
            t2 = time.perf_counter_ns()
            t["StopContainer"] = t1 - t0
            t["RemoveContainer"] = t2 - t1
        else:
            t2 = t0
        rt.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=pod), timeout=self.timeout)
        t3 = time.perf_counter_ns()
        rt.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=pod), timeout=self.timeout)
        t4 = time.perf_counter_ns()
        t["StopPodSandbox"] = t3 - t2
        t["RemovePodSandbox"] = t4 - t3
        t["teardown total"] = t4 - t0
        return t

    def parallel(self, server, n):
        """n pods at once: (start wall ns, teardown wall ns, per-pod phases,
        helpers (count, rss) and pod process RSS while they ran)."""
        results = [None] * n
        errors = []
        barrier = threading.Barrier(n + 1)

        def run(i, fn):
            barrier.wait()
            try:
                results[i] = fn(i)
            except Exception as e:  # noqa: BLE001  reported below
                errors.append(e)

        def go(fn):
            threads = [threading.Thread(target=run, args=(i, fn)) for i in range(n)]
            for th in threads:
                th.start()
            barrier.wait()
            t0 = time.perf_counter_ns()
            for th in threads:
                th.join()
            wall = time.perf_counter_ns() - t0
            if errors:
                raise errors[0]
            return wall

        started = [None] * n
        lingering = set(server.helpers())

        def start_one(i):
            started[i] = self.start(server)
            return started[i][0]

        try:
            wall_start = go(start_one)
        except Exception:
            for s in started:
                if s:
                    try:
                        self.teardown(server, s[1], s[2])
                    except grpc.RpcError:
                        pass
            raise
        phases = list(results)
        helpers = server.helpers_rss(lingering) + (len(lingering),)
        rss = server.rss()
        results[:] = [None] * n
        wall_down = go(lambda i: self.teardown(server, started[i][1], started[i][2]))
        return wall_start, wall_down, phases + results, helpers, rss


# ---- reporting --------------------------------------------------------------------

def ms(ns):
    return ns / 1e6


def table(title, samples, names, phases, verdict_phases, target):
    """samples[server][phase] = [ns...]; the ratio is berthd / containerd."""
    print(f"\n{title}")
    hdr = f"  {'phase':18}" + "".join(f" {n + ' min':>15} {n + ' med':>15}" for n in names)
    if len(names) == 2:
        hdr += f" {'berthd/ctrd':>12}"
    print(hdr + "   (ms)")
    verdicts = []
    for ph in phases:
        if not any(samples[n].get(ph) for n in names):
            continue
        line = f"  {ph:18}"
        meds = {}
        for n in names:
            v = samples[n].get(ph)
            if not v:
                line += f" {'-':>15} {'-':>15}"
                continue
            meds[n] = statistics.median(v)
            line += f" {ms(min(v)):15.1f} {ms(meds[n]):15.1f}"
        if len(names) == 2 and len(meds) == 2:
            r = meds["berthd"] / meds["containerd"]
            line += f" {r:12.2f}"
            if ph in verdict_phases:
                verdicts.append((ph, r))
        print(line)
    for ph, r in verdicts:
        print(f"  target berthd <= {target} x containerd on {ph!r}: {r:.2f} -> {'met' if r <= target else 'NOT met'}")
    return verdicts


# ---- clean-up -----------------------------------------------------------------------

def cgroup_trees():
    out = []
    for h in os.listdir("/sys/fs/cgroup"):
        for server in NETS:
            top = os.path.join("/sys/fs/cgroup", h, f"bbench-{server}")
            if os.path.isdir(top) and not os.path.islink(os.path.join("/sys/fs/cgroup", h)):
                out.append(top)
    return out


def remove_cgroup_tree(top):
    """Kills what is left in the tree (pods' processes whose shim or monitor
    died), then removes it, deepest first."""
    for dirpath, _, files in os.walk(top):
        if "cgroup.procs" in files:
            try:
                with open(os.path.join(dirpath, "cgroup.procs")) as f:
                    for pid in f.read().split():
                        try:
                            os.kill(int(pid), signal.SIGKILL)
                        except OSError:
                            pass
            except OSError:
                pass
    for dirpath, _, _ in sorted(os.walk(top), key=lambda w: w[0].count("/"), reverse=True):
        for _ in range(50):
            try:
                os.rmdir(dirpath)
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.02)


def iptables_ours():
    p = subprocess.run(["iptables-save"], capture_output=True, text=True)
    table, rules = None, []
    for line in p.stdout.splitlines():
        if line.startswith("*"):
            table = line[1:]
        elif line.startswith("-A ") and any(f'name: \\"{NETS[s][0]}\\"' in line or f'name: "{NETS[s][0]}"' in line
                                            for s in NETS):
            rules.append((table, line))
    return rules


def remove_rules(rules):
    import shlex
    chains = set()
    for table, line in rules:
        args = shlex.split(line)
        if args[1].startswith("CNI-") and not args[1].startswith(("CNI-HOSTPORT-", "CNI-FORWARD", "CNI-ADMIN")):
            chains.add((table, args[1]))
        # jumps to a per-pod chain: its own rules go with it
        if "-j" in args:
            tgt = args[args.index("-j") + 1]
            if tgt.startswith("CNI-") and not tgt.startswith(("CNI-HOSTPORT-", "CNI-FORWARD", "CNI-ADMIN")):
                chains.add((table, tgt))
        args[0] = "-D"
        subprocess.run(["iptables", "-t", table, *args], stderr=subprocess.DEVNULL)
    for table, chain in chains:
        subprocess.run(["iptables", "-t", table, "-F", chain], stderr=subprocess.DEVNULL)
        subprocess.run(["iptables", "-t", table, "-X", chain], stderr=subprocess.DEVNULL)


def links():
    p = subprocess.run(["ip", "-j", "link", "show"], capture_output=True, text=True)
    try:
        return {l["ifname"]: l.get("master") for l in json.loads(p.stdout)}
    except ValueError:
        return {}


def cleanup(work, servers, registry, keep_logs=None):
    notes = []
    if keep_logs:
        os.makedirs(keep_logs, exist_ok=True)
        for s in servers:
            shutil.copy(s.log, os.path.join(keep_logs, os.path.basename(s.log)))
        notes.append(f"daemon logs copied to {keep_logs}")
    for s in servers:
        if s.proc.poll() is None and hasattr(s, "rt"):
            s.unwedge()
            s.remove_all()
    for s in servers:
        stop_proc(s.proc)
        strays = []
        # shims, monitors, pods' processes that outlived their server
        deadline = time.time() + 5
        while time.time() < deadline:
            strays = s.strays()
            if not strays:
                break
            time.sleep(0.1)
        for pid in strays:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        if strays:
            notes.append(f"{s.name}: killed {len(strays)} leftover processes")
    if registry:
        registry.stop()
    for top in cgroup_trees():
        remove_cgroup_tree(top)
        if os.path.isdir(top):
            notes.append(f"cgroup {top} could not be removed")
    rules = iptables_ours()
    if rules:
        notes.append(f"removed {len(rules)} leftover iptables rules")
        remove_rules(rules)
    lk = links()
    for server, (_, bridge, _) in NETS.items():
        for port, master in lk.items():
            if master == bridge:
                subprocess.run(["ip", "link", "del", port], stderr=subprocess.DEVNULL)
                notes.append(f"removed veth {port}")
        if bridge in lk:
            subprocess.run(["ip", "link", "del", bridge], stderr=subprocess.DEVNULL)
    for mp in sorted(mounts_under(work), key=len, reverse=True):
        subprocess.run(["umount", "-l", mp], stderr=subprocess.DEVNULL)
    shutil.rmtree(work, ignore_errors=True)
    return notes


# ---- main --------------------------------------------------------------------------

def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def versions(berthd_bin):
    out = {}
    for name, argv in (("containerd", [CONTAINERD, "--version"]), ("runc", [RUNC, "--version"]),
                       ("berthd commit", ["git", "-C", os.path.dirname(os.path.realpath(berthd_bin)),
                                          "log", "-1", "--format=%h %s"])):
        try:
            p = subprocess.run(argv, capture_output=True, text=True, timeout=10)
            out[name] = p.stdout.strip().splitlines()[0] if p.returncode == 0 and p.stdout.strip() else "?"
        except OSError as e:
            out[name] = f"? ({e})"
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pods", type=int, default=50, help="sequential pods per server (50)")
    ap.add_argument("--parallel", type=int, default=10, help="pods at once (10)")
    ap.add_argument("--rounds", type=int, default=5, help="parallel rounds per server (5)")
    ap.add_argument("--servers", default="berthd,containerd")
    ap.add_argument("--pod-only", action="store_true", help="pod phases only, even if berthd has containers")
    ap.add_argument("--berthd", default=os.environ.get("BERTHD_BIN",
                                                       os.path.join(REPO, "build", "src", "daemon", "berthd")))
    ap.add_argument("--parallel-timeout", type=float, default=30,
                    help="deadline of each RPC in the parallel rounds, seconds (30)")
    ap.add_argument("--json", help="write the samples here too")
    ap.add_argument("--keep-logs", metavar="DIR", help="copy the daemons' logs here at the end")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/cri.py: run as root")
    names = [n for n in args.servers.split(",") if n]
    for n in names:
        if n not in NETS:
            sys.exit(f"bench/cri.py: unknown server {n!r}")
    for _, bridge, _ in NETS.values():
        if bridge in links():
            sys.exit(f"bench/cri.py: bridge {bridge} exists already (another run?); not touching it")
    if cgroup_trees():
        sys.exit(f"bench/cri.py: cgroups {cgroup_trees()} exist already (another run?)")

    work = tempfile.mkdtemp(prefix="bcri-", dir="/tmp")
    os.chmod(work, 0o755)
    servers, registry = [], None
    interrupted = []

    def on_signal(sig, _frame):
        interrupted.append(sig)
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_signal)
    try:
        pb = generate_stubs(os.path.join(work, "stubs"))
        busybox, pause = build_images(os.path.join(work, "layouts"))
        os.makedirs(os.path.join(work, "reg"))
        registry = Registry(os.path.join(work, "reg"))
        image = registry.push(busybox, "1", "bench/busybox:1")
        pause_ref = registry.push(pause, "1", "bench/pause:1")
        for n in names:
            d = os.path.join(work, n[0])
            os.makedirs(d)
            s = Containerd(d, registry.host, pause_ref) if n == "containerd" else Berthd(d, args.berthd)
            servers.append(s)
            s.connect(pb)
            s.pull(image)
            if n == "containerd":
                s.pull(pause_ref)
        by_name = {s.name: s for s in servers}

        # Does berthd have containers?  One probe pod.
        containers = not args.pod_only
        bench = Bench(pb[0], work, image, True)
        if containers and "berthd" in by_name:
            s = by_name["berthd"]
            try:
                _, pod, cid = bench.start(s)
                bench.teardown(s, pod, cid)
            except grpc.RpcError as e:
                if e.code() != grpc.StatusCode.UNIMPLEMENTED:
                    raise
                containers = False
                s.remove_all()
                print(f"*** berthd answers {e.code().name} ({e.details()}): the container phases are SKIPPED;\n"
                      f"*** both servers are measured on the pod-only phases (RunPodSandbox; "
                      f"StopPodSandbox + RemovePodSandbox).")
        bench.containers = containers

        ver = versions(args.berthd)
        print(f"CRI bench: {args.pods} sequential pods and {args.rounds} x {args.parallel} pods at once per server; "
              f"{'pod + busybox sleep 3600 container' if containers else 'POD-ONLY (no containers)'}")
        print(f"machine: {platform.node()}, {os.cpu_count()} cpus, kernel {platform.release()}")
        print("versions: " + "; ".join(f"{k}: {v}" for k, v in ver.items()))
        print(f"servers: " + ", ".join(f"{s.name} pid {s.proc.pid} ({s.version})" for s in servers))
        print(f"load average before: {loadavg()}")

        # warm-up: one pod each (first runs page everything in)
        for s in servers:
            t, pod, cid = bench.start(s)
            bench.teardown(s, pod, cid)

        seq = {n: {} for n in names}
        order = list(servers)
        for i in range(args.pods):
            for s in order:
                t, pod, cid = bench.start(s)
                t.update(bench.teardown(s, pod, cid))
                for k, v in t.items():
                    seq[s.name].setdefault(k, []).append(v)
            order = order[1:] + order[:1]

        par = {n: {} for n in names}
        mem = {n: {"helpers": [], "rss": []} for n in names}
        order = list(servers)
        failures = {n: [] for n in names}
        bench.timeout = args.parallel_timeout
        for r in range(args.rounds):
            for s in order:
                try:
                    w_start, w_down, per, helpers, rss = bench.parallel(s, args.parallel)
                except grpc.RpcError as e:
                    # a server that hangs is reported, freed and measured again next round
                    kids = s.unwedge()
                    s.remove_all()
                    failures[s.name].append(f"round {r + 1}: {e.code().name} ({e.details()})"
                                            + (f"; killed {len(kids)} stuck children of {s.name}" if kids else ""))
                    print(f"!!! {s.name}: parallel round {r + 1} FAILED: {failures[s.name][-1]}", flush=True)
                    continue
                par[s.name].setdefault(f"{args.parallel} pods start", []).append(w_start)
                par[s.name].setdefault(f"{args.parallel} pods teardown", []).append(w_down)
                for t in per:
                    for k, v in t.items():
                        par[s.name].setdefault(f"each: {k}", []).append(v)
                mem[s.name]["helpers"].append(helpers)
                mem[s.name]["rss"].append(rss)
            order = order[1:] + order[:1]
        bench.timeout = RPC_TIMEOUT

        # memory: --parallel pods started one by one (so that a server that
        # hangs on concurrent pods is measured too), sampled, torn down
        held = {}
        for s in servers:
            lingering = set(s.helpers())
            pods = []
            try:
                for _ in range(args.parallel):
                    pods.append(bench.start(s)[1:])
                held[s.name] = s.helpers_rss(lingering) + (len(lingering),)
                mem[s.name]["rss"].append(s.rss())
            finally:
                for pod, cid in pods:
                    bench.teardown(s, pod, cid)
        print(f"load average after:  {loadavg()}")

        ctr_phases = ["RunPodSandbox", "CreateContainer", "StartContainer", "start total",
                      "StopContainer", "RemoveContainer", "StopPodSandbox", "RemovePodSandbox", "teardown total"]
        verdicts = table(f"Sequential: {args.pods} pods per server, one at a time (min / median per RPC)",
                         seq, names, ctr_phases, ("start total", "teardown total"), 0.5)
        verdicts += table(f"Parallel: {args.parallel} pods at once, {args.rounds} rounds (wall time of the batch)",
                          par, names, [f"{args.parallel} pods start", f"{args.parallel} pods teardown"],
                          (f"{args.parallel} pods start", f"{args.parallel} pods teardown"), 0.5)
        for n in names:
            if failures[n]:
                print(f"  !!! {n}: {len(failures[n])} of {args.rounds} parallel rounds FAILED (not in the figures):")
                for line in failures[n]:
                    print(f"        {line}")
        table(f"Parallel, each pod's RPCs inside the batches", par, names,
              [f"each: {p}" for p in ctr_phases], (), 0.5)

        print(f"\nMemory (MiB)")
        totals = {}
        for s in servers:
            cnt, peak_helpers, peak_pss, comms, lingering = held[s.name]
            kind = "shims" if s.name == "containerd" else "monitors"
            hwm = s.hwm()
            totals[s.name] = (hwm, peak_helpers, peak_pss)
            print(f"  {s.name:10} daemon VmHWM {hwm / MiB:6.1f}, RSS with {args.parallel} pods running "
                  f"{max(mem[s.name]['rss']) / MiB:6.1f}")
            print(f"  {'':10} {kind} with {args.parallel} pods running: {cnt} processes "
                  f"({', '.join(f'{c} x{k}' for c, k in sorted(comms.items()))}), "
                  f"RSS sum {peak_helpers / MiB:6.1f} ({peak_helpers / max(cnt, 1) / MiB:.1f} each), "
                  f"PSS sum {peak_pss / MiB:6.1f}")
            if lingering:
                print(f"  {'':10} ({lingering} {kind} of earlier, removed pods were still there: not counted)")
        if len(totals) == 2:
            b, c = totals["berthd"], totals["containerd"]
            r1 = b[0] / c[0]
            r2 = (b[0] + b[1]) / (c[0] + c[1])
            print(f"  berthd / containerd: daemon VmHWM {r1:.2f}; daemon + per-pod helpers "
                  f"{(b[0] + b[1]) / MiB:.1f} / {(c[0] + c[1]) / MiB:.1f} = {r2:.2f}")
            r3 = (b[0] + b[2]) / (c[0] + c[2])
            print(f"  berthd / containerd, daemon VmHWM + helpers' PSS: {(b[0] + b[2]) / MiB:.1f} / "
                  f"{(c[0] + c[2]) / MiB:.1f} = {r3:.2f}")
            print(f"  target berthd RSS <= 0.2 x containerd: daemon {r1:.2f} -> {'met' if r1 <= 0.2 else 'NOT met'};"
                  f" with helpers {r2:.2f} -> {'met' if r2 <= 0.2 else 'NOT met'}")
        if not containers:
            print("\n*** container phases SKIPPED for both servers: berthd's CreateContainer is UNIMPLEMENTED")
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"containers": containers, "versions": ver, "sequential": seq, "parallel": par,
                           "parallel_failures": failures,
                           "memory": {n: {"daemon_hwm": totals[n][0], "helpers": held[n], "parallel_helpers": mem[n]["helpers"]}
                                      for n in totals}},
                          f, indent=1)
    except KeyboardInterrupt:
        print("\ninterrupted; cleaning up", file=sys.stderr)
    finally:
        notes = cleanup(work, servers, registry, args.keep_logs)
        for n in notes:
            print(f"clean-up: {n}", file=sys.stderr)
    if interrupted:
        sys.exit(1)


if __name__ == "__main__":
    main()
