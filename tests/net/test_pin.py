"""Pinned pod namespaces (src/net/pin.c) and the pause process (pause.c)."""

import json
import os
import signal
import subprocess
import time

from conftest import mounts_under, nettest, ns_inode, pid_alive


def holders_of(inode, kind):
    """Pids whose /proc/<pid>/ns/<kind> is the namespace `inode`."""
    out = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if os.stat(f"/proc/{pid}/ns/{kind}").st_ino == inode:
                    out.append(int(pid))
            except OSError:
                pass
    return out


def test_pin_creates_persistent_ns_files(env):
    d, ns = env.pin(hostname="pod-a")
    assert ns == {"net": f"{d}/net", "ipc": f"{d}/ipc", "uts": f"{d}/uts"}
    assert sorted(mounts_under(d)) == sorted(ns.values())
    for kind, path in ns.items():
        # A namespace of its own, held by the bind mount alone: the child
        # that created it is gone.
        assert ns_inode(path) != os.stat(f"/proc/self/ns/{kind}").st_ino
        assert holders_of(ns_inode(path), kind) == []
    nettest("unpin", d)


def test_pinned_ns_has_hostname_and_lo_up(env):
    d, ns = env.pin(hostname="pod-b.example")
    out = subprocess.run(["nsenter", f"--uts={ns['uts']}", "hostname"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "pod-b.example"
    out = subprocess.run(["nsenter", f"--net={ns['net']}", "ip", "-j", "link", "show"], capture_output=True,
                         text=True, check=True)
    linkinfo = json.loads(out.stdout)
    assert [l["ifname"] for l in linkinfo] == ["lo"]
    assert "UP" in linkinfo[0]["flags"]
    # lo answers inside: the kernel's own address works once lo is up.
    out = subprocess.run(["nsenter", f"--net={ns['net']}", "ip", "-j", "addr", "show", "lo"], capture_output=True,
                         text=True, check=True)
    assert any(a["local"] == "127.0.0.1" for a in json.loads(out.stdout)[0]["addr_info"])
    nettest("unpin", d)


def test_unpin_twice_is_fine(env):
    d, _ = env.pin()
    nettest("unpin", d)
    assert mounts_under(d) == []
    assert not os.path.exists(d)
    nettest("unpin", d)
    assert nettest("lookup", d).json() == {}


def test_pin_only_net(env):
    d, ns = env.pin(types="net")
    assert list(ns) == ["net"]
    assert os.listdir(d) == ["net"]
    assert nettest("lookup", d).json() == ns
    nettest("unpin", d)


def test_pin_existing_fails_and_keeps_the_first(env):
    d, ns = env.pin(types="net")
    inode = ns_inode(ns["net"])
    r = nettest("pin", d, "net,uts", check=False)
    assert r.rc == 1 and f"create `{d}/net`: file exists" in r.err
    # The failed pin left nothing of its own (no uts) and the first intact.
    assert os.listdir(d) == ["net"]
    assert ns_inode(ns["net"]) == inode
    assert mounts_under(d) == [ns["net"]]
    nettest("unpin", d)


def test_pin_refuses_bad_types_and_hostname(env):
    d = env.path("pods", "bad", "ns")
    os.makedirs(os.path.dirname(d))
    r = nettest("pin", d, "pid", check=False)
    assert r.rc == 1 and "only net, ipc and uts can be pinned" in r.err
    r = nettest("pin", d, "uts", "x" * 65, check=False)
    assert r.rc == 1 and "invalid hostname" in r.err
    assert not os.path.exists(d)


def test_pin_error_leaves_nothing(env):
    # The parent of dir is missing: mkdir fails before anything is made.
    d = env.path("missing", "ns")
    r = nettest("pin", d, "net", check=False)
    assert r.rc == 1 and f"mkdir `{d}`" in r.err
    assert not os.path.exists(env.path("missing"))


def start_pause(env, procs):
    d, ns = env.pin(hostname="paused")
    p = nettest("pause", d).json()
    procs.add(p["pid"])
    return d, ns, p


def test_pause_in_new_pid_ns(env, procs):
    d, ns, p = start_pause(env, procs)
    pid = p["pid"]
    assert p["pidns"] == f"/proc/{pid}/ns/pid"
    assert pid_alive(pid)
    # It outlived the CLI that started it, and is nobody's child here.
    with open(f"/proc/{pid}/stat") as f:
        ppid = int(f.read().rsplit(")", 1)[1].split()[1])
    assert ppid != os.getpid()
    with open(f"/proc/{pid}/comm") as f:
        assert f.read().strip() == "pause"
    # A pid namespace of its own; the pinned net, ipc and uts joined.
    assert ns_inode(f"/proc/{pid}/ns/pid") != ns_inode("/proc/self/ns/pid")
    for kind in ("net", "ipc", "uts"):
        assert ns_inode(f"/proc/{pid}/ns/{kind}") == ns_inode(ns[kind])
    # No fd of its starter: only 0, 1, 2 on /dev/null.
    fds = {fd: os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}
    assert fds == {"0": "/dev/null", "1": "/dev/null", "2": "/dev/null"}
    with open(f"/proc/{pid}/status") as f:
        status = dict(l.split(":", 1) for l in f if ":" in l)
    assert int(status["NSpid"].split()[-1]) == 1  # pid 1 inside
    # A process entering it is pid 2+ and sees the pod's hostname.
    out = subprocess.run(["nsenter", f"--target={pid}", "--pid", "--uts", "--net", "sh", "-c", "echo $$; hostname"],
                         capture_output=True, text=True, check=True)
    inner_pid, hostname = out.stdout.split()
    assert int(inner_pid) > 1 and hostname == "paused"

    nettest("stop-pause", pid, p["start_time"])
    assert nettest("alive", pid, p["start_time"]).out.strip() == "false"
    nettest("stop-pause", pid, p["start_time"])  # idempotent
    nettest("unpin", d)


def test_pause_reaps_orphans(env, procs):
    d, ns, p = start_pause(env, procs)
    pid = p["pid"]
    # sh exits at once; its background sleep is reparented to the pause.
    subprocess.run(["nsenter", f"--target={pid}", "--pid", "sh", "-c", "sleep 0.3 & exit 0"], check=True)
    time.sleep(1.0)
    children = subprocess.run(["ps", "--ppid", str(pid), "-o", "pid=,stat="], capture_output=True, text=True)
    assert children.stdout.strip() == "", f"pause left zombies: {children.stdout}"
    nettest("stop-pause", pid, p["start_time"])
    nettest("unpin", d)


def test_pause_exits_on_sigint(env, procs):
    d, ns, p = start_pause(env, procs)
    os.kill(p["pid"], signal.SIGINT)
    deadline = time.monotonic() + 5
    while pid_alive(p["pid"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pid_alive(p["pid"])
    nettest("stop-pause", p["pid"], p["start_time"])  # already gone: fine
    nettest("unpin", d)


def test_stop_pause_ignores_reused_pid(env, procs):
    # Our own pid with a wrong start time is "not the pause": left alone.
    nettest("stop-pause", os.getpid(), 1)
    assert nettest("alive", os.getpid(), 1).out.strip() == "false"


def test_pause_outlives_unpin_and_keeps_netns(env, procs):
    # The pause holds the namespaces it joined even after the pins go.
    d, ns, p = start_pause(env, procs)
    inode = ns_inode(ns["net"])
    nettest("unpin", d)
    assert ns_inode(f"/proc/{p['pid']}/ns/net") == inode
    nettest("stop-pause", p["pid"], p["start_time"])
