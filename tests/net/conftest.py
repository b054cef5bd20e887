"""Fixtures for the pod network tests (tests/net, run as root).

They drive build/src/net/berth-net-test, a thin CLI over src/net/net.h, and
Debian's CNI plugins in /usr/lib/cni with private names only: the bridge
"bnt0", subnet 10.215.0.0/24, host-local's dataDir, the CNI cache and the
conf dir all live in a per-test temp dir.  The host's /etc/cni/net.d,
/var/lib/cni and its existing iptables rules are never touched.

After each test the leak check fails it if it left a mount under its temp
dir, a veth on bnt0, an iptables rule naming one of its networks, or a
process it started.  At the end of the session bnt0 is deleted, and the
plugins' shared iptables chains (CNI-HOSTPORT-*, CNI-FORWARD, CNI-ADMIN) are
removed only when they did not exist before the session.
"""

import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("BUILD_DIR", "build")
NETTEST = os.environ.get("BERTH_NET_TEST_BIN", os.path.join(REPO, BUILD, "src", "net", "berth-net-test"))
PYTHON = "/usr/bin/python3"
BRIDGE = "bnt0"
SUBNET = "10.215.0"
TEMP_PREFIX = "berth-net-"
SHARED_CHAINS = {
    "nat": ["CNI-HOSTPORT-DNAT", "CNI-HOSTPORT-SNAT", "CNI-HOSTPORT-MASQ", "CNI-HOSTPORT-SETMARK"],
    "filter": ["CNI-FORWARD", "CNI-ADMIN"],
}


class Result:
    def __init__(self, p):
        self.rc, self.out, self.err = p.returncode, p.stdout, p.stderr

    def json(self):
        return json.loads(self.out)

    def __repr__(self):
        return f"rc={self.rc}\nstdout: {self.out}\nstderr: {self.err}"


def nettest(*args, check=True, env=None, timeout=120):
    p = subprocess.run([NETTEST, *map(str, args)], capture_output=True, text=True, env=env, timeout=timeout)
    r = Result(p)
    if check and r.rc != 0:
        raise AssertionError(f"berth-net-test {' '.join(map(str, args))} failed: {r}")
    return r


def mounts_under(path):
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = line.split()[4]
            if mp == path or mp.startswith(path.rstrip("/") + "/"):
                out.append(mp)
    return out


def links():
    """{name: master or None} of the host's links."""
    p = subprocess.run(["ip", "-j", "link", "show"], capture_output=True, text=True, check=True)
    return {l["ifname"]: l.get("master") for l in json.loads(p.stdout)}


def bridge_ports(bridge=BRIDGE):
    return sorted(n for n, m in links().items() if m == bridge)


def iptables_lines(*words):
    """iptables-save lines (all tables) that contain any of `words`."""
    p = subprocess.run(["iptables-save"], capture_output=True, text=True, check=True)
    return [l for l in p.stdout.splitlines() if not l.startswith("#") and any(w in l for w in words)]


def iptables_rules():
    """Every (table, rule line) of iptables-save."""
    p = subprocess.run(["iptables-save"], capture_output=True, text=True, check=True)
    table, out = None, []
    for line in p.stdout.splitlines():
        if line.startswith("*"):
            table = line[1:]
        elif line.startswith("-A "):
            out.append((table, line))
    return out


def remove_rules(rules):
    """Deletes leaked rules, then the per-pod chains they used (CNI-<hash>,
    CNI-DN-<hash>) once empty; shared chains are left."""
    chains = set()
    for table, line in rules:
        args = shlex.split(line)
        chain = args[1]
        if chain.startswith("CNI-") and not chain.startswith(("CNI-HOSTPORT-", "CNI-FORWARD", "CNI-ADMIN")):
            chains.add((table, chain))
        args[0] = "-D"
        subprocess.run(["iptables", "-t", table, *args], stderr=subprocess.DEVNULL)
    for table, chain in chains:
        subprocess.run(["iptables", "-t", table, "-X", chain], stderr=subprocess.DEVNULL)


def chains_present():
    present = set()
    for table, chains in SHARED_CHAINS.items():
        p = subprocess.run(["iptables-save", "-t", table], capture_output=True, text=True)
        for c in chains:
            if f":{c} " in p.stdout:
                present.add((table, c))
    return present


def remove_chains(table, chains):
    """Deletes every rule that jumps to `chains`, then the chains."""
    p = subprocess.run(["iptables-save", "-t", table], capture_output=True, text=True)
    for line in p.stdout.splitlines():
        if line.startswith("-A ") and any(f"-j {c}" in line for c in chains):
            args = shlex.split(line)
            args[0] = "-D"
            subprocess.run(["iptables", "-t", table, *args], stderr=subprocess.DEVNULL)
    for c in chains:
        subprocess.run(["iptables", "-t", table, "-F", c], stderr=subprocess.DEVNULL)
    for c in chains:
        subprocess.run(["iptables", "-t", table, "-X", c], stderr=subprocess.DEVNULL)


def pid_alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False


def ns_inode(path):
    return os.stat(path).st_ino


class Procs:
    """Processes a test started; killed by pid at the end."""

    def __init__(self):
        self.pids = []

    def add(self, pid):
        self.pids.append(pid)
        return pid

    def cleanup(self):
        left = []
        for pid in self.pids:
            if pid_alive(pid):
                left.append(pid)
                try:
                    os.kill(pid, 9)
                except ProcessLookupError:
                    pass
        return left


@pytest.fixture(scope="session", autouse=True)
def session_guard():
    if os.geteuid() != 0:
        pytest.skip("tests/net need root")
    if not os.path.exists(NETTEST):
        pytest.fail(f"{NETTEST} is missing: build it (ninja -C {BUILD})")
    before = chains_present()
    yield
    if BRIDGE in links():
        subprocess.run(["ip", "link", "del", BRIDGE], check=False)
    for table in SHARED_CHAINS:
        new = [c for (t, c) in chains_present() - before if t == table]
        if new:
            remove_chains(table, new)


class Env:
    """One test's private world: temp dir, conf dir, cache, IPAM dir."""

    def __init__(self, tmp, procs):
        self.tmp = tmp
        self.procs = procs
        self.conf = os.path.join(tmp, "conf")
        self.cache = os.path.join(tmp, "cache")
        self.ipam = os.path.join(tmp, "ipam")
        self.bin = os.path.join(tmp, "bin")
        self.networks = []
        for d in (self.conf, self.bin):
            os.makedirs(d)

    def path(self, *parts):
        return os.path.join(self.tmp, *parts)

    def write_conf(self, name, doc, conf_dir=None):
        d = conf_dir or self.conf
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, name), "w") as f:
            f.write(doc if isinstance(doc, str) else json.dumps(doc))
        if isinstance(doc, dict) and "name" in doc:
            self.networks.append(doc["name"])

    def bridge_conf(self, name="bnt-test", extra=(), ipmasq=True, version="1.0.0"):
        return {
            "cniVersion": version,
            "name": name,
            "plugins": [
                {
                    "type": "bridge",
                    "bridge": BRIDGE,
                    "isGateway": True,
                    "ipMasq": ipmasq,
                    "hairpinMode": True,
                    "ipam": {
                        "type": "host-local",
                        "dataDir": self.ipam,
                        "ranges": [[{"subnet": f"{SUBNET}.0/24"}]],
                        "routes": [{"dst": "0.0.0.0/0"}],
                    },
                },
                *extra,
            ],
        }

    def pin(self, name="pod", types="net,ipc,uts", hostname=None):
        d = self.path("pods", name, "ns")
        os.makedirs(os.path.dirname(d), exist_ok=True)
        args = ["pin", d, types] + ([hostname] if hostname else [])
        return d, nettest(*args).json()

    def cni(self, cmd, pod_id, netns, *args, conf=None, check=True, env=None):
        return nettest(cmd, conf or self.conf, self.cache, pod_id, netns, *args, check=check, env=env)

    def ipam_reservations(self, network="bnt-test"):
        d = os.path.join(self.ipam, network)
        if not os.path.isdir(d):
            return []
        return sorted(f for f in os.listdir(d) if f.startswith(SUBNET))


@pytest.fixture
def procs():
    p = Procs()
    yield p
    left = p.cleanup()
    assert not left, f"test left processes running: {left}"


@pytest.fixture
def env(procs):
    tmp = tempfile.mkdtemp(prefix=TEMP_PREFIX)
    ports_before = bridge_ports()
    rules_before = set(iptables_rules())
    e = Env(tmp, procs)
    yield e
    leaked_mounts = mounts_under(tmp)
    for mp in sorted(leaked_mounts, key=len, reverse=True):
        subprocess.run(["umount", "-l", mp], stderr=subprocess.DEVNULL)
    leaked_ports = sorted(set(bridge_ports()) - set(ports_before))
    for port in leaked_ports:
        subprocess.run(["ip", "link", "del", port], stderr=subprocess.DEVNULL)
    names = [f'name: \\"{n}\\"' for n in set(e.networks)]
    leaked_rules = [r for r in iptables_rules() if r not in rules_before and any(n in r[1] for n in names)]
    remove_rules(leaked_rules)
    shutil.rmtree(tmp, ignore_errors=True)
    assert not leaked_mounts, f"test left mounts: {leaked_mounts}"
    assert not leaked_ports, f"test left veths on {BRIDGE}: {leaked_ports}"
    assert not leaked_rules, f"test left iptables rules: {leaked_rules}"


LISTENER = r"""
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1])))
s.listen(16)
print("ready", flush=True)
while True:
    c, a = s.accept()
    c.sendall(("pong from %s\n" % a[0]).encode())
    c.close()
"""


def serve_in_netns(procs, netns, port):
    """A TCP server inside `netns` (setns through nsenter) answering "pong"."""
    p = subprocess.Popen(["nsenter", f"--net={netns}", PYTHON, "-c", LISTENER, str(port)],
                         stdout=subprocess.PIPE, text=True)
    procs.add(p.pid)
    line = p.stdout.readline()
    assert line.strip() == "ready", line
    return p


def stop_server(p):
    p.kill()
    p.wait()
    p.stdout.close()


def tcp_get(host, port, timeout=3.0):
    import socket
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=1.0) as s:
                return s.recv(100).decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def host_ip():
    """The host's source address for the default route (not loopback)."""
    p = subprocess.run(["ip", "-j", "route", "get", "1.1.1.1"], capture_output=True, text=True, check=True)
    return json.loads(p.stdout)[0]["prefsrc"]


FAKE_PLUGIN = r"""#!/usr/bin/python3
# A fake CNI plugin: records its call in $FAKE_CNI_LOG and acts on its config.
import json, os, sys, time
conf = json.loads(sys.stdin.read())
cmd = os.environ["CNI_COMMAND"]
with open(os.environ["FAKE_CNI_LOG"], "a") as f:
    f.write(json.dumps({"type": os.path.basename(sys.argv[0]), "cmd": cmd, "pid": os.getpid(),
                        "env": {k: v for k, v in os.environ.items() if k.startswith("CNI_")},
                        "stdin": conf}) + "\n")
mode = conf.get("mode", {}).get(cmd, "ok")
if mode == "sleep":
    time.sleep(60)
if mode == "fail":
    print(json.dumps({"cniVersion": conf["cniVersion"], "code": 7, "msg": "fake failure",
                      "details": "asked to fail"}))
    sys.exit(1)
if mode == "stderr":
    sys.stderr.write("something broke\n")
    sys.exit(3)
if cmd == "ADD":
    res = conf.get("prevResult") or {"cniVersion": conf["cniVersion"],
        "interfaces": [{"name": os.environ["CNI_IFNAME"], "sandbox": os.environ["CNI_NETNS"]}],
        "ips": [{"address": conf.get("ip", "10.99.0.2/24"), "interface": 0}]}
    print(json.dumps(res))
"""


@pytest.fixture
def fake(env):
    """Fake plugins fake1, fake2, fake3 in env.bin; returns (env vars, log reader)."""
    for name in ("fake1", "fake2", "fake3"):
        path = os.path.join(env.bin, name)
        with open(path, "w") as f:
            f.write(FAKE_PLUGIN)
        os.chmod(path, 0o755)
    log = env.path("fake.log")
    vars_ = dict(os.environ, FAKE_CNI_LOG=log)

    def calls():
        if not os.path.exists(log):
            return []
        with open(log) as f:
            return [json.loads(l) for l in f]

    return vars_, calls
