"""podman and containerd, each in a private sandbox, driving the runtime
under test ($BERTH_BIN, default build/src/cli/berth; BERTH_BIN=/usr/sbin/runc
checks the tests themselves against runc).

Nothing on the host is touched: each engine gets its own root, run dir,
socket, CNI config and IPAM state and its own network bridge.  containerd
gives the runtime its own --root too; podman cannot (its clean-up process,
`podman container cleanup`, drops --runtime-flag), so under podman the
runtime keeps its default root and the checks look only at entries and
cgroups that appeared during the test.  The host lacks CAP_SYS_RESOURCE, so podman's default rlimits
(1048576 open files and processes, which no runtime can raise to here) are
lowered in the test config.
"""

import json
import os
import shutil
import signal
import subprocess
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RUNTIME = os.path.realpath(os.environ.get("BERTH_BIN", os.path.join(REPO, "build", "src", "cli", "berth")))
# The runtime's name as the engines know it (podman's runtime_supports_json
# lists names): "berth", or "runc" when checking the tests against runc.
RUNTIME_NAME = os.path.basename(RUNTIME)
# The runtime's default --root, where podman's containers' state lives.
DEFAULT_STATE_ROOT = f"/run/{RUNTIME_NAME}"
IMAGE = "localhost/berth-test:latest"
TIMEOUT = 60


class Result:
    def __init__(self, argv, proc):
        self.argv, self.rc, self.out, self.err = argv, proc.returncode, proc.stdout, proc.stderr

    def __repr__(self):
        return f"{' '.join(self.argv)} -> rc {self.rc}\nstdout: {self.out}\nstderr: {self.err}"


def run(argv, env=None, input=None, timeout=TIMEOUT):
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, input=input, timeout=timeout)
    return Result(argv, proc)


def mounts_under(path):
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = line.split()[4]
            if mp == path or mp.startswith(path + "/"):
                out.append(mp)
    return out


def unmount_all_under(path):
    for mp in sorted(set(mounts_under(path)), key=lambda m: m.count("/"), reverse=True):
        subprocess.run(["umount", "-l", mp], stderr=subprocess.DEVNULL)


def pids_mentioning(token, exclude=()):
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) in exclude or int(name) == os.getpid():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                if token.encode() in f.read():
                    found.append(int(name))
        except OSError:
            pass
    return found


def dir_entries(path):
    try:
        return set(os.listdir(path))
    except OSError:
        return set()


def cgroups_under(name):
    """Every cgroup directory below /sys/fs/cgroup/*/<name>."""
    out = set()
    for h in os.listdir("/sys/fs/cgroup"):
        top = os.path.join("/sys/fs/cgroup", h, name)
        if os.path.isdir(top) and not os.path.islink(os.path.join("/sys/fs/cgroup", h)):
            for dirpath, dirnames, _ in os.walk(top):
                out.update(os.path.join(dirpath, d) for d in dirnames)
    return out


def remove_cgroups(dirs):
    for d in sorted(dirs, key=lambda p: p.count("/"), reverse=True):
        try:
            os.rmdir(d)
        except OSError:
            pass


def netns_entries():
    try:
        return set(os.listdir("/run/netns"))
    except OSError:
        return set()


class Podman:
    """podman with a private containers.conf, storage.conf and CNI network."""

    def __init__(self, base, subnet_octet, runtimes=None):
        # name -> binary; the first is podman's default (bench/ lists several)
        self.runtimes = runtimes or {RUNTIME_NAME: RUNTIME}
        self.base = base
        self.state_root = DEFAULT_STATE_ROOT
        self.bridge = f"berth-br{subnet_octet}"
        self.network = "berthtest"
        self.subnet = f"10.213.{subnet_octet}.0/24"
        self.session_cgroups = cgroups_under("libpod_parent")
        # podman makes its parent cgroup on first use: ours to remove then.
        self.parent_cgroups = {f"/sys/fs/cgroup/{h}/libpod_parent" for h in os.listdir("/sys/fs/cgroup")
                               if not os.path.isdir(f"/sys/fs/cgroup/{h}/libpod_parent")}
        self.state_before, self.cgroups_before = set(), set(self.session_cgroups)
        self.conf = os.path.join(base, "containers.conf")
        self.storage_conf = os.path.join(base, "storage.conf")
        self.env = dict(os.environ, CONTAINERS_CONF=self.conf, CONTAINERS_STORAGE_CONF=self.storage_conf,
                        CONTAINERS_REGISTRIES_CONF=os.path.join(base, "registries.conf"), TMPDIR=base)
        self._write_config()

    def _write_config(self):
        b = self.base
        os.makedirs(os.path.join(b, "cni"))
        with open(self.conf, "w") as f:
            f.write(f"""[containers]
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "{b}/events.log"
tmp_dir = "{b}/libpod"
volume_path = "{b}/volumes"
runtime = "{next(iter(self.runtimes))}"
runtime_supports_json = {json.dumps(list(self.runtimes))}
[engine.runtimes]
{"".join(f'{name} = ["{path}"]{chr(10)}' for name, path in self.runtimes.items())}[network]
network_backend = "cni"
network_config_dir = "{b}/cni"
cni_plugin_dirs = ["/usr/lib/cni"]
default_network = "{self.network}"
""")
        with open(self.storage_conf, "w") as f:
            f.write(f'[storage]\ndriver = "overlay"\ngraphroot = "{b}/storage"\nrunroot = "{b}/storage-run"\n')
        with open(os.path.join(b, "registries.conf"), "w") as f:
            f.write("unqualified-search-registries = []\n")
        # Our own bridge and IPAM state dir: the host's cni-podman0 and
        # /var/lib/cni stay untouched.
        conflist = {
            "cniVersion": "0.4.0",
            "name": self.network,
            "plugins": [
                {"type": "bridge", "bridge": self.bridge, "isGateway": True, "ipMasq": True, "hairpinMode": True,
                 "ipam": {"type": "host-local", "dataDir": f"{b}/cni-ipam", "routes": [{"dst": "0.0.0.0/0"}],
                          "ranges": [[{"subnet": self.subnet}]]}},
                {"type": "portmap", "capabilities": {"portMappings": True}},
                {"type": "firewall", "backend": "iptables"},
                {"type": "tuning"},
            ],
        }
        with open(os.path.join(b, "cni", f"{self.network}.conflist"), "w") as f:
            json.dump(conflist, f)

    def argv(self, *args):
        return ["podman", *args]

    def __call__(self, *args, input=None, timeout=TIMEOUT):
        return run(self.argv(*args), env=self.env, input=input, timeout=timeout)

    def ok(self, *args, **kw):
        r = self(*args, **kw)
        assert r.rc == 0, r
        return r

    def setup(self, archive):
        self.ok("load", "-q", "-i", archive)
        self.baseline_mounts = set(mounts_under(self.base))

    def snapshot(self):
        self.state_before = dir_entries(self.state_root)
        self.cgroups_before = cgroups_under("libpod_parent")

    def leftovers(self):
        """What a test left behind: containers, runtime state, cgroups,
        mounts, processes."""
        out = []
        ids = self("ps", "-aq").out.split()
        if ids:
            out.append(f"podman containers: {ids}")
        # podman removes a --rm container from a clean-up process that
        # conmon starts when the container exits: give it a moment.
        deadline = time.time() + 5
        while time.time() < deadline and (dir_entries(self.state_root) - self.state_before
                                          or self._new_cgroups() or pids_mentioning(self.base)):
            time.sleep(0.05)
        state = dir_entries(self.state_root) - self.state_before
        if state:
            out.append(f"runtime state in {self.state_root}: {sorted(state)}")
        if self._new_cgroups():
            out.append(f"cgroups: {sorted(self._new_cgroups())}")
        extra = set(mounts_under(self.base)) - self.baseline_mounts
        if extra:
            out.append(f"mounts: {sorted(extra)}")
        pids = pids_mentioning(self.base)
        if pids:
            out.append(f"processes naming {self.base}: {pids}")
        return out

    def _new_cgroups(self):
        # podman's parent cgroup and conmon's own stay; containers' go.
        return {d for d in cgroups_under("libpod_parent") - self.cgroups_before
                if os.path.basename(d).startswith("libpod-")}

    def clean(self):
        self("rm", "-af", "-t", "0")
        self("volume", "rm", "-af")
        remove_cgroups(self._new_cgroups())

    def teardown(self):
        self.clean()
        self("rmi", "-af")
        self("system", "reset", "-f", timeout=120)
        for pid in pids_mentioning(self.base):
            os.kill(pid, signal.SIGKILL)
        unmount_all_under(self.base)
        remove_cgroups((cgroups_under("libpod_parent") - self.session_cgroups) | self.parent_cgroups)
        subprocess.run(["ip", "link", "del", self.bridge], stderr=subprocess.DEVNULL)
        shutil.rmtree(self.base, ignore_errors=True)


class Containerd:
    """A containerd daemon with a private root, state dir and socket; tasks
    run through the io.containerd.runc.v2 shim with the runtime under test
    as its runc binary."""

    NAMESPACE = "berth-test"

    def __init__(self, base):
        self.base = base
        self.sock = os.path.join(base, "containerd.sock")
        self.runc_root = os.path.join(base, "runtime-state")
        self.conf = os.path.join(base, "config.toml")
        with open(self.conf, "w") as f:
            f.write(f"""version = 2
root = "{base}/root"
state = "{base}/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "{self.sock}"
[ttrpc]
  address = "{self.sock}.ttrpc"
[debug]
  address = "{base}/debug.sock"
[plugins."io.containerd.internal.v1.opt"]
  path = "{base}/opt"
""")
        self.log = open(os.path.join(base, "containerd.log"), "w")
        self.proc = subprocess.Popen(["containerd", "--config", self.conf], stdout=self.log, stderr=self.log)
        deadline = time.time() + 20
        while self("version").rc != 0:
            if time.time() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"containerd did not start; see {self.log.name}")
            time.sleep(0.1)

    def argv(self, *args):
        return ["ctr", "--address", self.sock, "-n", self.NAMESPACE, *args]

    def __call__(self, *args, input=None, timeout=TIMEOUT):
        return run(self.argv(*args), input=input, timeout=timeout)

    def ok(self, *args, **kw):
        r = self(*args, **kw)
        assert r.rc == 0, r
        return r

    def run_args(self):
        """The flags that make `ctr run` use the runtime under test."""
        return ["--runc-binary", RUNTIME, "--runc-root", self.runc_root]

    def task_dir(self, cid):
        return os.path.join(self.base, "state", "io.containerd.runtime.v2.task", self.NAMESPACE, cid)

    def setup(self, archive):
        self.ok("images", "import", archive)
        self.baseline_mounts = set(mounts_under(self.base))

    def snapshot(self):
        pass

    def leftovers(self):
        out = []
        if cgroups_under(self.NAMESPACE):
            out.append(f"cgroups: {sorted(cgroups_under(self.NAMESPACE))}")
        tasks = [line.split()[0] for line in self("tasks", "ls", "-q").out.splitlines() if line.strip()]
        if tasks:
            out.append(f"tasks: {tasks}")
        conts = self("containers", "ls", "-q").out.split()
        if conts:
            out.append(f"containers: {conts}")
        ns_root = os.path.join(self.runc_root, self.NAMESPACE)
        if os.path.isdir(ns_root) and os.listdir(ns_root):
            out.append(f"runtime state: {os.listdir(ns_root)}")
        extra = set(mounts_under(self.base)) - self.baseline_mounts
        if extra:
            out.append(f"mounts: {sorted(extra)}")
        pids = pids_mentioning(self.base, exclude=(self.proc.pid,))
        if pids:
            out.append(f"processes naming {self.base}: {pids}")
        return out

    def clean(self):
        for cid in self("containers", "ls", "-q").out.split():
            self("tasks", "kill", "-a", "-s", "SIGKILL", cid)
            self("tasks", "delete", "-f", cid)
            self("containers", "delete", cid)
        remove_cgroups(cgroups_under(self.NAMESPACE))

    def teardown(self):
        self.clean()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        for pid in pids_mentioning(self.base):
            os.kill(pid, signal.SIGKILL)
        unmount_all_under(self.base)
        remove_cgroups(cgroups_under(self.NAMESPACE) | {f"/sys/fs/cgroup/{h}/{self.NAMESPACE}"
                                                        for h in os.listdir("/sys/fs/cgroup")})
        shutil.rmtree(self.base, ignore_errors=True)
