"""Fixtures for the berthd CRI tests (run as root).

- The CRI Python stubs are generated at session start with grpc_tools.protoc
  from proto/cri-api.proto, stripped of the options Debian's protobuf does
  not know by proto/strip-options.sh, into a temp dir (never committed).
- The registries (Debian's docker-registry on 127.0.0.1) and the test
  images come from tests/image (its conftest's Registry, images.py).
- `berthd` is one berthd for the session with a private --address, --root,
  --state and --config in a temp dir, stopped by pid at the end; its config
  sends pulls for "registry.example" to the session registry (a mirror).
- `cri` is a client on one persistent channel, as the kubelet keeps one.

After each test the leak check fails it if berthd died, kept file
descriptors it did not have before (connections, store files), or left a
temporary in its store.
"""

import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import grpc
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
BUILD = os.environ.get("BUILD_DIR", "build")
BERTHD = os.environ.get("BERTHD_BIN", os.path.join(REPO, BUILD, "src", "daemon", "berthd"))
MIRRORED_HOST = "registry.example"

# tests/image's helpers: its conftest is loaded under another module name
# (ours is "conftest" too), and its directory goes on sys.path for images.py.
sys.path.insert(0, os.path.join(REPO, "tests", "image"))
_spec = importlib.util.spec_from_file_location("image_conftest", os.path.join(REPO, "tests", "image", "conftest.py"))
image_conftest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(image_conftest)
import images  # noqa: E402  (tests/image/images.py)

Registry = image_conftest.Registry
free_port = image_conftest.free_port
rmtree = image_conftest.rmtree


def generate_stubs(out):
    """api_pb2 and api_pb2_grpc from the repository's CRI proto."""
    from grpc_tools import protoc

    proto = os.path.join(out, "api.proto")
    subprocess.run(["sh", os.path.join(REPO, "proto", "strip-options.sh"),
                    os.path.join(REPO, "proto", "cri-api.proto"), proto], check=True)
    rc = protoc.main(["protoc", f"-I{out}", f"--python_out={out}", f"--grpc_python_out={out}", proto])
    if rc != 0:
        raise RuntimeError(f"grpc_tools.protoc failed ({rc}) on {proto}")
    sys.path.insert(0, out)
    import api_pb2
    import api_pb2_grpc
    return api_pb2, api_pb2_grpc


@pytest.fixture(scope="session")
def session_tmp():
    d = tempfile.mkdtemp(prefix="berth-cri-")
    os.chmod(d, 0o755)
    yield d
    rmtree(d)


@pytest.fixture(scope="session")
def pb(session_tmp):
    out = os.path.join(session_tmp, "stubs")
    os.makedirs(out)
    return generate_stubs(out)


# The image suite's fixture: a docker-registry per call, stopped at the end.
registry_factory = image_conftest.registry_factory


@pytest.fixture(scope="session")
def layouts(session_tmp):
    base = os.path.join(session_tmp, "layouts")
    out = {"busybox": os.path.join(base, "busybox")}
    images.busybox_layout(out["busybox"], ref="1")
    # One small image per User form CRI reports (uid, username, none).
    for name, user in (("named", "nobody:nogroup"), ("nouser", "")):
        lay = images.Layout(os.path.join(base, name))
        t = images.Tar()
        t.file(f"{name}.txt", name.encode() + b"\n")
        cfg = dict(images.CONFIG, User=user)
        lay.image([(t.bytes(), "gzip")], config=cfg, ref="1")
        out[name] = lay.path
    return out


@pytest.fixture(scope="session")
def registry(registry_factory, layouts):
    r = registry_factory()
    r.push(layouts["busybox"], "1", "test/busybox:1")
    r.push(layouts["busybox"], "1", "test/busybox:latest")
    r.push(layouts["named"], "1", "test/named:1")
    r.push(layouts["nouser"], "1", "test/nouser:1")
    return r


class Berthd:
    """One berthd process with private paths under `tmp`."""

    def __init__(self, tmp, config=None, address=None):
        self.tmp = tmp
        self.address = address or os.path.join(tmp, "berthd.sock")
        self.root = os.path.join(tmp, "root")
        self.state = os.path.join(tmp, "state")
        self.config_path = os.path.join(tmp, "berthd.json")
        self.cni_dir = os.path.join(tmp, "cni")
        os.makedirs(self.cni_dir, exist_ok=True)
        cfg = {"cni": {"conf_dir": self.cni_dir, "bin_dir": "/usr/lib/cni"}}
        cfg.update(config or {})
        with open(self.config_path, "w") as f:
            json.dump(cfg, f)
        self.log_path = os.path.join(tmp, "berthd.log")
        self.proc = None

    def argv(self):
        return [BERTHD, "--address", self.address, "--root", self.root, "--state", self.state,
                "--config", self.config_path, "--debug"]

    def start(self, timeout=20):
        self.log = open(self.log_path, "a")
        self.proc = subprocess.Popen(self.argv(), stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        # Ready when the socket accepts: a stale file may be there before.
        deadline = time.time() + timeout
        while not self.accepts():
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"berthd did not start (rc {self.proc.poll()}): {self.read_log()}")
            time.sleep(0.02)
        return self

    def accepts(self):
        with socket.socket(socket.AF_UNIX) as s:
            try:
                s.connect(self.address)
                return True
            except OSError:
                return False

    def read_log(self):
        with open(self.log_path) as f:
            return f.read()

    def stop(self, timeout=20):
        """SIGTERM by pid; returns the exit code."""
        if self.proc is None:
            return None
        if self.log.closed:  # stopped already
            return self.proc.returncode
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode

    def fds(self):
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def store_temporaries(self):
        out = []
        for sub in ("ingest", "snapshots"):
            d = os.path.join(self.root, sub)
            if os.path.isdir(d):
                out += [os.path.join(sub, n) for n in os.listdir(d) if n.startswith("tmp")]
        return out


class Client:
    def __init__(self, pb, address):
        self.pb, self.grpc = pb
        self.channel = grpc.insecure_channel(f"unix:{address}")
        self.runtime = self.grpc.RuntimeServiceStub(self.channel)
        self.image = self.grpc.ImageServiceStub(self.channel)

    def raw(self, method, payload=b"", timeout=10):
        """Calls `method` with raw bytes (for unknown methods, bad requests)."""
        call = self.channel.unary_unary(method, request_serializer=None, response_deserializer=None)
        return call(payload, timeout=timeout)

    def close(self):
        self.channel.close()


@pytest.fixture(scope="session")
def berthd(session_tmp, registry):
    tmp = os.path.join(session_tmp, "berthd")
    os.makedirs(tmp)
    d = Berthd(tmp, {
        "sandbox_image": f"{registry.host}/test/nouser:1",
        "restrict_oom_score_adj": True,
        "registries": {MIRRORED_HOST: {"mirror": f"http://{registry.host}"}},
    }).start()
    yield d
    rc = d.stop()
    assert rc == 0, f"berthd exited {rc}: {d.read_log()}"
    assert not os.path.exists(d.address), "berthd left its socket"


@pytest.fixture(scope="session")
def cri_session(pb, berthd):
    c = Client(pb, berthd.address)
    c.runtime.Version(pb[0].VersionRequest(), timeout=10)  # connected before the baseline
    yield c
    c.close()


@pytest.fixture
def cri(cri_session, berthd):
    before = berthd.fds()
    yield cri_session
    assert berthd.proc.poll() is None, f"berthd died: {berthd.read_log()}"
    # Connections of other channels close asynchronously: wait a little.
    deadline = time.time() + 5
    while berthd.fds() > before and time.time() < deadline:
        time.sleep(0.05)
    assert berthd.fds() <= before, f"berthd holds {berthd.fds() - before} more fds than before the test"
    deadline = time.time() + 5
    while berthd.store_temporaries() and time.time() < deadline:
        time.sleep(0.05)
    assert not berthd.store_temporaries(), f"store temporaries left: {berthd.store_temporaries()}"


@pytest.fixture
def spawn():
    """Starts extra berthds (Berthd(...) arguments); each is stopped by
    pid at the end of the test, whatever the test did."""
    started = []

    def make(*a, **kw):
        d = Berthd(*a, **kw)
        started.append(d)
        return d.start()

    yield make
    for d in started:
        d.stop()


@pytest.fixture
def tmp(session_tmp):
    d = tempfile.mkdtemp(prefix="t-", dir=session_tmp)
    yield d
    shutil.rmtree(d, ignore_errors=True)


# ---- pod sandboxes (test_pods.py) -------------------------------------------
#
# Pods need a CNI config, and the session berthd must have none (its Status
# tests check NetworkReady false), so pod tests talk to a berthd of their own
# (`pod_berthd`) whose conf dir holds a bridge network with private names:
# bridge "bcri0", subnet 10.216.0.0/24, host-local's dataDir and the CNI cache
# under the session temp dir.  The host's /etc/cni, /var/lib/cni and
# cni-podman0 are never touched.  The leak check after each pod test (`pods`)
# fails it if it left a pod record or dir, a mount, a pause process, a veth on
# bcri0, an iptables rule naming the network, or a cgroup named after a pod.
# At the end of the session bcri0 goes, and the CNI plugins' shared chains
# when the session made them.

_net_spec = importlib.util.spec_from_file_location("net_conftest", os.path.join(REPO, "tests", "net", "conftest.py"))
net_conftest = importlib.util.module_from_spec(_net_spec)
_net_spec.loader.exec_module(net_conftest)

POD_BRIDGE = "bcri0"
POD_SUBNET = "10.216.0"
POD_NETWORK = "bcri-test"


def pod_conflist(ipam_dir, name=POD_NETWORK, plugins_extra=()):
    return {
        "cniVersion": "1.0.0",
        "name": name,
        "plugins": [
            {"type": "bridge", "bridge": POD_BRIDGE, "isGateway": True, "ipMasq": True, "hairpinMode": True,
             "ipam": {"type": "host-local", "dataDir": ipam_dir,
                      "ranges": [[{"subnet": f"{POD_SUBNET}.0/24"}]], "routes": [{"dst": "0.0.0.0/0"}]}},
            {"type": "portmap", "capabilities": {"portMappings": True}},
            *plugins_extra,
        ],
    }


def write_pod_cni(d, conf=None):
    """Puts the bcri network (or `conf`) in berthd `d`'s conf dir."""
    conf = conf or pod_conflist(os.path.join(d.tmp, "ipam"))
    with open(os.path.join(d.cni_dir, "10-bcri.conflist"), "w") as f:
        json.dump(conf, f)


def pause_pids():
    """Pids of every process named "pause" (berth's pause processes)."""
    out = set()
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/comm") as f:
                    if f.read().strip() == "pause" and net_conftest.pid_alive(int(pid)):
                        out.add(int(pid))
            except OSError:
                pass
    return out


def pod_cgroups():
    """cgroup dirs named like a pod id (64 hex), up to 4 levels deep."""
    import re
    hexid = re.compile(r"^[0-9a-f]{64}$")
    out = set()
    base = "/sys/fs/cgroup"
    for top in os.listdir(base):
        root = os.path.join(base, top)
        if not os.path.isdir(root) or os.path.islink(root):
            continue
        for dirpath, dirnames, _ in os.walk(root):
            if dirpath.count("/") - root.count("/") >= 4:
                dirnames[:] = []
            for n in dirnames:
                if hexid.match(n):
                    out.add(os.path.join(dirpath, n))
    return out


def _cgroup_of(pid):
    try:
        with open(f"/proc/{pid}/cgroup") as f:
            return f.read()
    except OSError:
        return ""


class PodLeaks:
    """What pods leave on the host, under berthd `d`'s dirs and bcri0."""

    def __init__(self, *daemons):
        self.daemons = daemons
        # Other suites may run beside this one: pause processes and cgroups
        # count only when they carry the id of a pod these berthds logged.
        self.log_sizes = [os.path.getsize(d.log_path) if os.path.exists(d.log_path) else 0 for d in daemons]
        self.pauses = pause_pids()
        self.ports = set(net_conftest.bridge_ports(POD_BRIDGE))
        self.rules = set(net_conftest.iptables_rules())
        self.cgroups = pod_cgroups()

    def pod_ids(self):
        import re
        ids = set()
        for d, size in zip(self.daemons, self.log_sizes):
            if os.path.exists(d.log_path):
                with open(d.log_path) as f:
                    f.seek(size)
                    ids |= set(re.findall(r"[0-9a-f]{64}", f.read()))
        return ids

    def check(self):
        """Cleans up what leaked and returns a list of what it found."""
        found = []
        ids = self.pod_ids()
        for d in self.daemons:
            for sub in (os.path.join(d.state, "pods"), os.path.join(d.root, "pods"), os.path.join(d.root, "cni")):
                if os.path.isdir(sub) and os.listdir(sub):
                    found.append(f"{sub}: {sorted(os.listdir(sub))}")
            mounts = net_conftest.mounts_under(d.tmp)
            for mp in sorted(mounts, key=len, reverse=True):
                subprocess.run(["umount", "-l", mp], stderr=subprocess.DEVNULL)
            if mounts:
                found.append(f"mounts: {mounts}")
        pauses = {pid for pid in pause_pids() - self.pauses if any(i in _cgroup_of(pid) for i in ids)}
        for pid in pauses:
            os.kill(pid, signal.SIGKILL)
        if pauses:
            found.append(f"pause processes: {sorted(pauses)}")
        ports = set(net_conftest.bridge_ports(POD_BRIDGE)) - self.ports
        for port in ports:
            subprocess.run(["ip", "link", "del", port], stderr=subprocess.DEVNULL)
        if ports:
            found.append(f"veths on {POD_BRIDGE}: {sorted(ports)}")
        rules = [r for r in net_conftest.iptables_rules()
                 if r not in self.rules and f'name: \\"{POD_NETWORK}' in r[1]]
        net_conftest.remove_rules(rules)
        if rules:
            found.append(f"iptables rules: {rules}")
        cgroups = {cg for cg in pod_cgroups() - self.cgroups if os.path.basename(cg) in ids}
        for cg in sorted(cgroups, key=len, reverse=True):
            try:
                os.rmdir(cg)
            except OSError:
                pass
        if cgroups:
            found.append(f"cgroups: {sorted(cgroups)}")
        return found


@pytest.fixture(scope="session")
def pod_net_guard():
    """bcri0 and the plugins' shared chains go at the end of the session."""
    before = net_conftest.chains_present()
    yield
    if POD_BRIDGE in net_conftest.links():
        subprocess.run(["ip", "link", "del", POD_BRIDGE], check=False)
    for table in net_conftest.SHARED_CHAINS:
        new = [c for (t, c) in net_conftest.chains_present() - before if t == table]
        if new:
            net_conftest.remove_chains(table, new)


@pytest.fixture(scope="session")
def pod_berthd(session_tmp, pod_net_guard):
    tmp = os.path.join(session_tmp, "podd")
    os.makedirs(tmp)
    d = Berthd(tmp)
    write_pod_cni(d)
    d.start()
    yield d
    rc = d.stop()
    assert rc == 0, f"berthd exited {rc}: {d.read_log()}"


@pytest.fixture
def pods(pb, pod_berthd, pod_net_guard):
    """A client of pod_berthd, with the pod leak check after the test."""
    c = Client(pb, pod_berthd.address)
    c.runtime.Version(pb[0].VersionRequest(), timeout=10)
    leaks = PodLeaks(pod_berthd)
    before = pod_berthd.fds()
    yield c
    alive = pod_berthd.proc.poll() is None
    # Pods a failed test left: removed through berthd, then reported.
    left = []
    if alive:
        for p in c.runtime.ListPodSandbox(pb[0].ListPodSandboxRequest(), timeout=30).items:
            left.append(p.id)
            c.runtime.RemovePodSandbox(pb[0].RemovePodSandboxRequest(pod_sandbox_id=p.id), timeout=60)
    c.close()
    found = leaks.check()
    assert alive, f"berthd died: {pod_berthd.read_log()}"
    assert not left, f"test left pods: {left}"
    assert not found, "test left: " + "; ".join(found)
    deadline = time.time() + 5
    while pod_berthd.fds() > before and time.time() < deadline:
        time.sleep(0.05)
    assert pod_berthd.fds() <= before, f"berthd holds {pod_berthd.fds() - before} more fds than before the test"


@pytest.fixture
def pod_leaks(pod_net_guard):
    """For tests with berthds of their own: pod_leaks(PodLeaks(d)) before the
    pods are made; the check runs at teardown, even when the test failed
    half-way (after the test's own `finally` stopped its berthd)."""
    watched = []
    yield watched.append
    found = []
    for leaks in watched:
        found += leaks.check()
    assert not found, "test left: " + "; ".join(found)


# ---- containers (test_containers.py) ------------------------------------------
#
# `ctrs` is `pods` plus a container leak check: after the test, containers a
# failed test left are removed through berthd (and reported), then the test
# fails on a leftover container record, container or runtime state dir,
# overlay upper dir, or monitor process (a forked berthd that outlived its
# container).  Mounts, cgroups and pods are `pods`' check, which runs after.

def berthd_monitors(exclude=()):
    """Pids of processes running the berthd binary other than `exclude` and
    pause processes (monitors, exec helpers)."""
    real = os.path.realpath(BERTHD)
    out = set()
    for pid in os.listdir("/proc"):
        if pid.isdigit() and int(pid) not in exclude:
            try:
                with open(f"/proc/{pid}/comm") as f:
                    pause = f.read().strip() == "pause"  # pods' pause: a forked berthd too
                if os.readlink(f"/proc/{pid}/exe") == real and not pause:
                    out.add(int(pid))
            except OSError:
                pass
    return out


def container_dirs_left(d):
    """Non-empty container dirs of berthd `d`."""
    found = []
    for sub in (os.path.join(d.root, "container-records"), os.path.join(d.root, "containers"),
                os.path.join(d.state, "containers"), os.path.join(d.state, "runtime")):
        if os.path.isdir(sub) and os.listdir(sub):
            found.append(f"{sub}: {sorted(os.listdir(sub))}")
    return found


def check_container_leaks(d, monitors_before, client=None):
    left = []
    if client is not None and d.proc.poll() is None:
        pb = client.pb
        for c in client.runtime.ListContainers(pb.ListContainersRequest(), timeout=30).containers:
            left.append(c.id)
            client.runtime.RemoveContainer(pb.RemoveContainerRequest(container_id=c.id), timeout=60)
    found = [f"containers: {left}"] if left else []
    found += container_dirs_left(d)
    deadline = time.time() + 5
    while time.time() < deadline and berthd_monitors({d.proc.pid}) - monitors_before:
        time.sleep(0.05)
    mons = berthd_monitors({d.proc.pid}) - monitors_before
    for pid in mons:
        os.kill(pid, signal.SIGKILL)
    if mons:
        found.append(f"monitor processes: {sorted(mons)}")
    return found


@pytest.fixture
def ctrs(pods, pod_berthd):
    before = berthd_monitors({pod_berthd.proc.pid})
    yield pods
    found = check_container_leaks(pod_berthd, before, pods)
    assert not found, "test left: " + "; ".join(found)
