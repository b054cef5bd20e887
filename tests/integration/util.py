"""Helpers for berth's integration tests.

The tests run the binary named by $BERTH_BIN (default: build/src/cli/berth).
berth is a drop-in replacement for runc, so every test must also pass with
BERTH_BIN=/usr/bin/runc, except those marked `berth_only` (places where berth
deliberately says more than runc, e.g. error messages naming the JSON path).
"""

import copy
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import tempfile
import threading
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BERTH = os.environ.get("BERTH_BIN", os.path.join(REPO, "build", "src", "cli", "berth"))
IS_RUNC = os.path.basename(os.path.realpath(BERTH)).startswith("runc")
# Seconds one runtime command may take; every command is well under 1 s when
# things work, so a hang fails fast instead of stalling the suite.
TIMEOUT = float(os.environ.get("BERTH_TEST_TIMEOUT", "10"))

berth_only = pytest.mark.skipif(IS_RUNC, reason="berth deliberately differs from runc here")


def runc_lacks(what):
    """runc 1.1 does not implement `what`; berth does."""
    return pytest.mark.skipif(IS_RUNC, reason=f"runc 1.1 does not support {what}")


def new_id(prefix="t"):
    return f"{prefix}-{secrets.token_hex(5)}"


def default_spec(args):
    """What `runc spec` writes (runtime-spec defaults), made non-interactive
    and with a writable root so tests can create files."""
    caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
    return {
        "ociVersion": "1.0.2-dev",
        "process": {
            "terminal": False,
            "user": {"uid": 0, "gid": 0},
            "args": list(args),
            "env": [
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "TERM=xterm",
            ],
            "cwd": "/",
            "capabilities": {
                "bounding": list(caps),
                "effective": list(caps),
                "permitted": list(caps),
                "ambient": list(caps),
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": False},
        "hostname": "berth-test",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666",
                         "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
        ],
        "linux": {
            "resources": {"devices": [{"allow": False, "access": "rwm"}]},
            "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")],
            "maskedPaths": [
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                "/proc/sched_debug", "/sys/firmware", "/proc/scsi",
            ],
            "readonlyPaths": [
                "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
            ],
        },
    }


def sh(cmd):
    return ["sh", "-c", cmd]


def proc_starttime(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return None
    return data.rsplit(")", 1)[1].split()[19]


def pid_alive(pid, starttime=None):
    st = proc_starttime(pid)
    if st is None:
        return False
    if starttime is not None and st != starttime:
        return False  # the pid was reused
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_for(pred, timeout=5.0, step=0.02):
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > end:
            return v
        time.sleep(step)


def status_field(text, name):
    """A field of /proc/PID/status text, e.g. status_field(s, 'CapEff')."""
    m = re.search(rf"^{name}:\s*(.*)$", text, re.M)
    assert m, f"{name} not in status:\n{text}"
    return m.group(1).strip()


CAP_NAMES = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
    "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
    "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
]


def cap_mask(names):
    m = 0
    for n in names:
        m |= 1 << CAP_NAMES.index(n)
    return m


def open_fds(fds):
    """In a forked child: open each path at its fd number, inheritable."""
    for num, path in fds.items():
        fd = os.open(path, os.O_RDONLY)
        if fd != num:
            os.dup2(fd, num)
            os.close(fd)
        os.set_inheritable(num, True)


class Result:
    def __init__(self, argv, rc, out, err):
        self.argv, self.rc, self.out, self.err = argv, rc, out, err

    def __repr__(self):
        return (f"<{' '.join(self.argv)}: rc={self.rc}\n--- stdout\n{self.out}"
                f"\n--- stderr\n{self.err}>")

    @property
    def ok(self):
        return self.rc == 0


class ConsoleSocket:
    """A unix socket server that receives one pty master over SCM_RIGHTS, as
    an engine's --console-socket listener does."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        self.sock.bind(path)
        self.sock.listen(1)
        self.fds = []
        self.error = None
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        try:
            self.sock.settimeout(15)
            conn, _ = self.sock.accept()
            with conn:
                msg, fds, _flags, _addr = socket.recv_fds(conn, 4096, 4)
                self.name = msg
                self.fds = fds
        except Exception as e:  # reported by master()
            self.error = e

    def master(self, timeout=10):
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "no pty master arrived on the console socket"
        assert self.error is None, f"console socket: {self.error!r}"
        assert len(self.fds) == 1, f"expected one fd, got {self.fds}"
        return self.fds[0]

    def close(self):
        self.sock.close()
        for fd in self.fds:
            try:
                os.close(fd)
            except OSError:
                pass
        self.fds = []


def read_pty(fd, until=None, timeout=5.0):
    """Read a pty master until EOF/EIO, `until` appears, or timeout."""
    import select
    buf = b""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        r, _, _ = select.select([fd], [], [], 0.1)
        if not r:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        buf += chunk
        if until is not None and until.encode() in buf:
            break
    return buf.decode(errors="replace")


class Ctx:
    """One test's world: a private --root, bundles in a private tmp dir,
    container ids it made (so the leak check knows what is its own)."""

    def __init__(self, tmpdir, rootfs_template):
        self.tmp = tmpdir
        self.root = os.path.join(tmpdir, "state")
        os.makedirs(self.root)
        self.template = rootfs_template
        self.ids = []
        self.netns = []
        self.pids = []  # (pid, starttime) of container processes seen
        self.popens = []
        self._n = 0

    # ---- ids and bundles -------------------------------------------------
    def new_id(self):
        cid = new_id()
        self.ids.append(cid)
        return cid

    def bundle(self, args=("true",), edit=None, spec=None):
        """A bundle dir with a fresh copy of the busybox rootfs.  `edit(spec)`
        may change the default spec in place, `spec` replaces it."""
        self._n += 1
        b = os.path.join(self.tmp, f"bundle{self._n}")
        os.makedirs(b)
        subprocess.run(["cp", "-a", self.template, os.path.join(b, "rootfs")], check=True)
        if spec is None:
            spec = default_spec(args)
            if edit:
                edit(spec)
        if isinstance(spec, (dict, list)):
            text = json.dumps(spec, indent=2)
        else:
            text = spec
        with open(os.path.join(b, "config.json"), "w") as f:
            f.write(text)
        return b

    def write_spec(self, bundle, spec):
        with open(os.path.join(bundle, "config.json"), "w") as f:
            json.dump(spec, f, indent=2)

    # ---- running the binary ----------------------------------------------
    def cmd(self, *args, root=True, input=None, timeout=None, cwd=None, env=None,
            stdin=subprocess.DEVNULL, fds=None):
        """Run the runtime; `fds` {number: path} opens extra fds in the child."""
        argv = [BERTH]
        if root:
            argv += ["--root", self.root]
        argv += [str(a) for a in args]
        # Files, not pipes: a created or detached container inherits our
        # stdio and would hold a pipe open until it exits.
        with tempfile.TemporaryFile(dir=self.tmp) as out, \
                tempfile.TemporaryFile(dir=self.tmp) as err:
            if input is not None:
                stdin = tempfile.TemporaryFile(dir=self.tmp)
                stdin.write(input if isinstance(input, bytes) else input.encode())
                stdin.seek(0)
            try:
                p = subprocess.run(argv, stdin=stdin, stdout=out, stderr=err,
                                   timeout=timeout or TIMEOUT,
                                   cwd=cwd, env=env, pass_fds=tuple(fds or ()),
                                   preexec_fn=(lambda: open_fds(fds)) if fds else None)
            finally:
                if input is not None:
                    stdin.close()
            out.seek(0)
            err.seek(0)
            return Result(argv, p.returncode, out.read().decode(errors="replace"),
                          err.read().decode(errors="replace"))

    def popen(self, *args, **kw):
        argv = [BERTH, "--root", self.root] + [str(a) for a in args]
        kw.setdefault("stdin", subprocess.DEVNULL)
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("stderr", subprocess.PIPE)
        p = subprocess.Popen(argv, **kw)
        self.popens.append(p)
        return p

    def ok(self, *args, **kw):
        r = self.cmd(*args, **kw)
        assert r.rc == 0, r
        return r

    def fail(self, *args, **kw):
        r = self.cmd(*args, **kw)
        assert r.rc != 0, r
        assert r.err.strip(), f"no error message: {r}"
        return r

    def run(self, args=("true",), edit=None, spec=None, flags=(), **kw):
        """`run` a container to completion; returns Result.  The container is
        gone afterwards (run deletes it), which the leak check verifies."""
        b = self.bundle(args, edit=edit, spec=spec)
        cid = self.new_id()
        return self.cmd("run", *flags, "--bundle", b, cid, **kw)

    def sh(self, script, edit=None, flags=(), **kw):
        """Run `sh -c script` in a container; assert it exits 0; return stdout."""
        r = self.run(sh(script), edit=edit, flags=flags, **kw)
        assert r.rc == 0, r
        return r.out

    def state(self, cid):
        r = self.ok("state", cid)
        st = json.loads(r.out)
        if st.get("pid"):
            self.note_pid(st["pid"])
        return st

    def note_pid(self, pid):
        st = proc_starttime(pid)
        if st is not None and (pid, st) not in self.pids:
            self.pids.append((pid, st))

    def create(self, args=("sleep", "30"), edit=None, flags=(), bundle=None):
        """create a container (status created); returns (id, bundle)."""
        b = bundle or self.bundle(args, edit=edit)
        cid = self.new_id()
        self.ok("create", *flags, "--bundle", b, cid)
        self.state(cid)
        return cid, b

    def start_running(self, args=("sleep", "30"), edit=None):
        """A running container (run --detach); returns its id."""
        b = self.bundle(args, edit=edit)
        cid = self.new_id()
        self.ok("run", "--detach", "--bundle", b, cid)
        self.state(cid)
        return cid

    def wait_status(self, cid, status, timeout=5):
        def check():
            r = self.cmd("state", cid)
            return r.rc == 0 and json.loads(r.out)["status"] == status
        assert wait_for(check, timeout), f"{cid} never reached {status}: {self.cmd('state', cid)}"

    def destroy(self, cid):
        """Stop and delete a container through the runtime itself."""
        r = self.cmd("delete", "--force", cid)
        assert r.rc == 0, r

    # ---- network namespaces made by tests -----------------------------------
    def add_netns(self):
        name = new_id("tn")
        self.netns.append(name)
        subprocess.run(["ip", "netns", "add", name], check=True)
        return name

    def del_netns(self, name):
        subprocess.run(["ip", "netns", "delete", name], check=True)

    def kill_all(self):
        """Last-resort cleanup after the leak check has run."""
        for cid in self.ids:
            try:
                subprocess.run([BERTH, "--root", self.root, "delete", "--force", cid],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               timeout=TIMEOUT)
            except (OSError, subprocess.TimeoutExpired):
                pass  # the leak check's own clean-up ends what is left
        for p in self.popens:
            if p.poll() is None:
                p.kill()
            p.wait()
            for s in (p.stdout, p.stderr):
                if s:
                    s.close()
        for pid, st in self.pids:
            if pid_alive(pid, st):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass


def deep_copy(spec):
    return copy.deepcopy(spec)
