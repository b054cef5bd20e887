"""Fixtures for the container monitor tests (run as root).

They drive `monitor_test` (tests/monitor/monitor_test.c, built into
$BUILD_DIR/tests/monitor, default build/) which calls src/daemon/monitor.h
as berthd does; `berth` from the same build dir kills and deletes.

Every test gets an `mctx`: a private tmp dir (bundles, logs, exit files)
and --root state dir.  After the test the leak check of tests/integration
(its conftest's find_leaks: mounts, cgroups, processes, state dirs named
after the test's ids or under its tmp dir) fails it if anything is left.
"""

import importlib.util
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
BUILD = os.environ.get("BUILD_DIR", "build")
MONITOR_TEST = os.path.join(REPO, BUILD, "tests", "monitor", "monitor_test")
BERTH = os.path.join(REPO, BUILD, "src", "cli", "berth")
TIMEOUT = 10

# tests/integration's helpers: util.py on sys.path, its conftest loaded under
# another name (ours is "conftest" too).
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
import util  # noqa: E402

_spec = importlib.util.spec_from_file_location(
    "integration_conftest", os.path.join(REPO, "tests", "integration", "conftest.py"))
leakcheck = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(leakcheck)


class MonCtx:
    def __init__(self, tmp, template):
        self.tmp = tmp
        self.root = os.path.join(tmp, "state")
        os.makedirs(self.root)
        self.template = template
        self.ids = []
        self.pids = []  # (pid, starttime) of monitors and inits seen
        self._n = 0

    def new_id(self):
        cid = util.new_id("mon")
        self.ids.append(cid)
        return cid

    def bundle(self, args=("true",), edit=None, text=None):
        self._n += 1
        b = os.path.join(self.tmp, f"bundle{self._n}")
        os.makedirs(b)
        subprocess.run(["cp", "-a", self.template, os.path.join(b, "rootfs")], check=True)
        if text is None:
            spec = util.default_spec(args)
            if edit:
                edit(spec)
            text = json.dumps(spec, indent=2)
        with open(os.path.join(b, "config.json"), "w") as f:
            f.write(text)
        return b

    def path(self, name):
        return os.path.join(self.tmp, name)

    def run(self, *args, check=True, timeout=TIMEOUT):
        r = subprocess.run([MONITOR_TEST, *[str(a) for a in args]], capture_output=True, text=True,
                           timeout=timeout, stdin=subprocess.DEVNULL)
        if check:
            assert r.returncode == 0, f"monitor_test {' '.join(map(str, args))}: {r.stderr}"
        return r

    def berth(self, *args, check=True):
        r = subprocess.run([BERTH, "--root", self.root, *[str(a) for a in args]],
                           capture_output=True, text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)
        if check:
            assert r.returncode == 0, f"berth {' '.join(map(str, args))}: {r.stderr}"
        return r

    def spawn_args(self, cid, bundle, log=True, extra=()):
        args = ["spawn", "--id", cid, "--bundle", bundle, "--root", self.root,
                "--exit-file", self.path(f"{cid}.exit")]
        if log:
            args += ["--log", self.path(f"{cid}.log")]
        return args + list(extra)

    def spawn(self, cid, bundle, log=True, extra=()):
        r = self.run(*self.spawn_args(cid, bundle, log, extra))
        info = json.loads(r.stdout)
        self.remember(info)
        return info

    def remember(self, info):
        for p in (info["pid"], info["init_pid"]):
            st = util.proc_starttime(p)
            if st is not None:
                self.pids.append((p, st))

    def start(self, cid):
        self.run("start", "--root", self.root, "--id", cid)

    def exit_record(self, cid, timeout=TIMEOUT):
        path = self.path(f"{cid}.exit")
        assert util.wait_for(lambda: os.path.exists(path), timeout=timeout), f"no exit file {path}"
        r = self.run("exit-file", path)
        return json.loads(r.stdout)

    def log_lines(self, cid, name=None):
        path = self.path(name or f"{cid}.log")
        with open(path, "rb") as f:
            return f.read().decode(errors="replace").splitlines()

    def remove(self, cid):
        """Delete the container (stopped or not) the way berthd will."""
        self.berth("delete", "--force", cid, check=False)

    def cleanup(self):
        for cid in self.ids:
            self.remove(cid)


@pytest.fixture(scope="session")
def template():
    if os.geteuid() != 0:
        pytest.skip("monitor tests run as root")
    for b in (MONITOR_TEST, BERTH):
        if not os.access(b, os.X_OK):
            pytest.fail(f"no binary at {b} (build {BUILD}, or set BUILD_DIR)")
    base = tempfile.mkdtemp(prefix="berth-mon-")
    os.chmod(base, 0o755)
    d = os.path.join(base, "template")
    subprocess.run([os.path.join(REPO, "scripts", "make-bundle.sh"), "--rootfs-only", d], check=True)
    yield os.path.join(d, "rootfs")
    leakcheck.safe_rmtree(base)


@pytest.fixture
def mctx(request, template):
    tmp = tempfile.mkdtemp(prefix=f"{request.node.name[:40]}-", dir=os.path.dirname(os.path.dirname(template)))
    os.chmod(tmp, 0o755)
    before = leakcheck.snapshot()
    c = MonCtx(tmp, template)
    yield c
    # The test deletes its containers; what is left now is a leak.
    leaks, kill, detach = leakcheck.find_leaks(before, [tmp], c.ids, [], c.pids, c.root)
    # Monitors are reparented to pid 1, which on some hosts never reaps:
    # a zombie is no leak.
    leaks = [l for l in leaks if " (Z) " not in l]
    c.cleanup()
    leakcheck.force_cleanup(kill, detach)
    for p, st in c.pids:
        if util.pid_alive(p, st):
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
    if util.wait_for(lambda: leakcheck.safe_rmtree(tmp), timeout=2) is False:
        leaks.append(f"mounts remain under {tmp}")
    if leaks:
        pytest.fail("test left behind:\n  " + "\n  ".join(leaks), pytrace=False)


def wait_gone(pid, starttime, timeout=TIMEOUT):
    return util.wait_for(lambda: not util.pid_alive(pid, starttime), timeout=timeout)


def now():
    return time.time()
