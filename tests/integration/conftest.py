"""Fixtures for berth's integration tests (run as root).

Every test gets a `ctx` (util.Ctx): a private tmp dir (mode 0755, so a user
namespace can reach the rootfs), a private --root state dir, and fresh busybox
bundles.  After the test, before any clean-up, the leak check fails the test
if it left behind:
  - a mount under its tmp dir or naming one of its container ids,
  - a cgroup dir (any /sys/fs/cgroup hierarchy) named after one of its ids,
  - a process: a descendant of this pytest, one whose cmdline mentions the
    tmp dir, one in a cgroup named after its ids, or a container pid it saw,
  - a network namespace it made (`ip netns`, /run/netns),
  - an entry in its --root state dir.
Only things attributable to the test count, so other activity on the host
(another engineer's containers, a system service) never fails a test.
The same check runs once more over the whole session at the end.  A test
whose body already failed is not failed again for leftovers (its own clean-up
never ran); they are removed all the same.
"""

import os
import shutil
import signal
import subprocess
import tempfile

import pytest

import util

# ---------------------------------------------------------------------------
# host snapshots


def mounts():
    out = set()
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            # (mount point, root within fs, fs type, source)
            out.add((fields[4], fields[3], fields[sep + 1], fields[sep + 2]))
    return out


def cgroup_dirs():
    out = set()
    base = "/sys/fs/cgroup"
    try:
        hierarchies = os.listdir(base)
    except OSError:
        return out
    for h in hierarchies:
        top = os.path.join(base, h)
        if os.path.islink(top) or not os.path.isdir(top):
            continue
        for dirpath, dirnames, _ in os.walk(top):
            for d in dirnames:
                out.add(os.path.join(dirpath, d))
    return out


def netns_names():
    names = set()
    try:
        names.update(os.listdir("/run/netns"))
    except OSError:
        pass
    try:
        r = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=10)
        for line in r.stdout.splitlines():
            if line.strip():
                names.add(line.split()[0])
    except (OSError, subprocess.SubprocessError):
        pass
    return names


def processes():
    """{pid: (ppid, state, cmdline, cgroup text)} for every process but us."""
    out = {}
    me = os.getpid()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        pid = int(name)
        if pid == me:
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                rest = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{pid}/cgroup") as f:
                cgroup = f.read()
        except OSError:
            continue
        out[pid] = (int(rest[1]), rest[0], cmdline, cgroup)
    return out


def descendants(procs, root):
    kids = {}
    for pid, (ppid, *_rest) in procs.items():
        kids.setdefault(ppid, []).append(pid)
    found, todo = set(), [root]
    while todo:
        for k in kids.get(todo.pop(), []):
            if k not in found:
                found.add(k)
                todo.append(k)
    return found


def mentions(text, tokens):
    return any(t and t in text for t in tokens)


def find_leaks(before, paths, ids, netns, pids=(), state_root=None):
    """Things that exist now, did not before, and belong to this test.
    Returns (messages, pids to kill, mount points and cgroup dirs to remove)."""
    leaks, kill, detach = [], [], []
    id_tokens = [f"/{i}" for i in ids] + [f"{i}" for i in ids]
    path_tokens = [p.rstrip("/") for p in paths]

    for mp, root, fstype, source in sorted(mounts() - before["mounts"]):
        if (mentions(mp, path_tokens) or mentions(mp, id_tokens) or mentions(root, id_tokens)
                or mentions(source, path_tokens)):
            leaks.append(f"mount: {fstype} {source} on {mp}")
            detach.append(mp)

    for d in sorted(cgroup_dirs() - before["cgroups"]):
        if any(part in ids for part in d.split("/")) or mentions(d, [f"-{i}" for i in ids]):
            leaks.append(f"cgroup: {d}")
            detach.append(d)

    for name in sorted(netns_names()):
        if name in netns or (name not in before["netns"] and mentions(name, ids)):
            leaks.append(f"network namespace: {name}")

    procs = processes()
    mine = descendants(procs, os.getpid())
    for pid, (ppid, state, cmdline, cgroup) in sorted(procs.items()):
        why = None
        if pid in mine and pid not in before["descendants"]:
            why = "descendant of the test run"
        elif mentions(cmdline, path_tokens):
            why = "cmdline names the test's tmp dir"
        elif any(f"/{i}\n" in cgroup or f"/{i}/" in cgroup for i in ids):
            why = "in the test's container cgroup"
        elif any(p == pid and util.pid_alive(p, st) for p, st in pids):
            why = "container process the test saw"
        if why:
            leaks.append(f"process {pid} ({state}) [{cmdline.strip()}]: {why}")
            kill.append(pid)

    if state_root and os.path.isdir(state_root):
        for e in sorted(os.listdir(state_root)):
            leaks.append(f"state dir entry: {os.path.join(state_root, e)}")
    return leaks, kill, detach


def snapshot():
    return {"mounts": mounts(), "cgroups": cgroup_dirs(), "netns": netns_names(),
            "descendants": descendants(processes(), os.getpid())}


def force_cleanup(kill, detach):
    """After a leak was recorded: end the leaked processes (reaping our own
    children), detach leaked mounts and remove leaked cgroups, deepest first,
    so one failing test does not cascade into the next."""
    for pid in kill:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    for pid in kill:
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
        except OSError:
            pass
    for path in sorted(set(detach), key=lambda m: m.count("/"), reverse=True):
        if path.startswith("/sys/fs/cgroup/"):
            util.wait_for(lambda: _rmdir(path), timeout=1)
        else:
            subprocess.run(["umount", "-l", path], stderr=subprocess.DEVNULL)


def _rmdir(path):
    try:
        os.rmdir(path)
    except FileNotFoundError:
        pass
    except OSError:
        return False
    return True


def safe_rmtree(path):
    """Remove a tmp dir only if nothing is mounted under it (rmtree would
    otherwise walk into a leaked bind mount and delete host files)."""
    p = path.rstrip("/") + "/"
    if any(mp == path or mp.startswith(p) for mp, *_ in mounts()):
        return False
    shutil.rmtree(path, ignore_errors=True)
    return True


# ---------------------------------------------------------------------------
# fixtures

SESSION = {"ids": [], "netns": []}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Remember whether the test body failed: its leftovers are then the
    result of clean-up it never reached, not a leak to report twice."""
    outcome = yield
    rep = outcome.get_result()
    if rep.when == "call":
        item.berth_call_failed = rep.failed


@pytest.fixture(scope="session")
def tmp_base():
    base = tempfile.mkdtemp(prefix="berth-it-", dir="/tmp")
    os.chmod(base, 0o755)
    before = snapshot()
    yield base
    leaks, kill, detach = find_leaks(before, [base], SESSION["ids"], SESSION["netns"])
    force_cleanup(kill, detach)
    safe_rmtree(base)
    if leaks:
        pytest.fail("the test session left behind:\n  " + "\n  ".join(leaks), pytrace=False)


@pytest.fixture(scope="session")
def rootfs_template(tmp_base):
    d = os.path.join(tmp_base, "template")
    subprocess.run([os.path.join(util.REPO, "scripts", "make-bundle.sh"), "--rootfs-only", d],
                   check=True)
    return os.path.join(d, "rootfs")


@pytest.fixture(autouse=True)
def ctx(request, tmp_base, rootfs_template):
    if os.geteuid() != 0:
        pytest.skip("integration tests run as root")
    if not os.access(util.BERTH, os.X_OK):
        pytest.fail(f"no runtime binary at {util.BERTH} (build it, or set BERTH_BIN)")
    name = request.node.name.replace("/", "_")[:60]
    tmp = tempfile.mkdtemp(prefix=f"{name}-", dir=tmp_base)
    os.chmod(tmp, 0o755)
    before = snapshot()
    c = util.Ctx(tmp, rootfs_template)
    yield c
    SESSION["ids"].extend(c.ids)
    SESSION["netns"].extend(c.netns)
    # Popen'd runtimes the test already waited for are not leaks; close pipes.
    for p in c.popens:
        if p.poll() is not None:
            for s in (p.stdout, p.stderr):
                if s:
                    s.close()
    leaks, kill, detach = find_leaks(before, [tmp], c.ids, c.netns, c.pids, c.root)
    # Clean up whatever is left so one failure does not cascade.
    c.kill_all()
    force_cleanup(kill, detach)
    for n in c.netns:
        subprocess.run(["ip", "netns", "delete", n], stderr=subprocess.DEVNULL)
    if util.wait_for(lambda: safe_rmtree(tmp), timeout=2) is False:
        leaks.append(f"mounts remain under {tmp}")
    if leaks and not getattr(request.node, "berth_call_failed", False):
        pytest.fail("test left behind:\n  " + "\n  ".join(leaks), pytrace=False)
