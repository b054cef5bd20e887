#!/usr/bin/python3
"""Benchmark berth against runc and crun (issue 4).

Run as root, with Debian's python (stdlib only):

    sudo bench/run.sh [--quick] [--json FILE] [--runtimes berth,runc,crun]

or directly, with a berth binary of your choosing:

    sudo BERTH=build-bench/src/cli/berth /usr/bin/python3 bench/bench.py

One run measures every installed runtime and interleaves them (the order of
the runtimes rotates every round or container), so that noise on the machine
hits all of them alike.  Every figure is printed with its ratio to berth's.

What is measured, and how
-------------------------
1. `RT run ID` of /bin/true, N sequential containers per round, R rounds
   (default 100 x 5): wall time of the round / N.  All three runtimes remove
   the container when `run` returns (runc 1.1 keeps it only with --keep), so
   `run` is the whole "run + delete"; the state dir is checked after every
   round and anything left behind is reported and force-deleted.
   The floor (`unshare -m -u -i -n -p -f chroot ROOTFS /bin/true`) runs in
   the same rounds.
2. Latency of `create`, `start` and `delete`, each timed alone, per container
   (default 50).  After `start` the harness (a child subreaper) reaps the
   container's init before `delete` is timed, so `delete` never meets a
   running container and never waits for it.
3. Peak RSS of the runtime process during `create` and during `run`.  Main
   figure: VmHWM of the runtime's own address space, read from
   /proc/PID/status while the process is held at its exit
   (PTRACE_O_TRACEEXIT; nothing else is traced).  This excludes the
   container's init, helper processes and the pre-exec image of the spawner.
   Also printed: `/usr/bin/time -f %M`, i.e. wait4's ru_maxrss, which is the
   maximum over the runtime *and every descendant it reaped* (for `run`, the
   container init, whose pre-exec pages are a copy of the runtime's).
4. Throughput: 50 containers, 2 and 4 at a time: each of the 2 (4) workers
   does create, start, reap, delete for its share; containers per second =
   50 / wall time; median of 3 rounds.
5. The floor (see 1), and for crun on a hybrid host the cost of the wrapper
   it needs (below), measured the same way.
6. The 512 KiB memory-limit check: linux.resources.memory.limit = 524288,
   process `echo it works`; pass if it exits 0 and prints "it works".

crun 1.8.1 refuses cgroup v1 "hybrid" hosts (v1 controllers plus cgroup2 on
/sys/fs/cgroup/unified).  On such a host a helper process holds a mount
namespace made with `unshare -m --propagation private` in which
/sys/fs/cgroup/unified is unmounted, and crun's `create` and `run` are
started in it with `nsenter -t PID -m -- crun ...`; its `start` and `delete`
need no wrapper.  The nsenter hop is timed alone and printed, and the
"crun-net" rows subtract it.

Timing is wall-clock (time.perf_counter_ns) around posix_spawn + wait4 of one
runtime command, so it includes the runtime's whole process start-up
(dynamic linking, Go runtime start, ...) as a container engine sees it.
"""

import argparse
import ctypes
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEVNULL = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
PR_SET_CHILD_SUBREAPER = 36
HYBRID_V2 = "/sys/fs/cgroup/unified"
FLOOR_NAME = "floor"
WRAP_NAME = "crun-wrapper"

libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
libc.ptrace.restype = ctypes.c_long
libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]


def log(*a):
    print(*a, flush=True)


def ms(ns):
    return ns / 1e6


# ---------------------------------------------------------------- processes


class Call:
    """One finished command: wall time, exit code, first error line, and CPU
    time (user + system of the command and of the descendants it reaped)."""

    __slots__ = ("ns", "rc", "err", "cpu_ns")

    def __init__(self, ns, rc, err, cpu_ns=0):
        self.ns, self.rc, self.err, self.cpu_ns = ns, rc, err, cpu_ns

    @property
    def ok(self):
        return self.rc == 0


class ErrLog:
    """A per-runtime stderr file; a failed call reads what it appended."""

    def __init__(self, path):
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)

    def tail_from(self, off):
        data = os.pread(self.fd, 4096, off).decode(errors="replace").strip()
        return data.splitlines()[-1] if data else ""


def spawn_wait(argv, errlog, stdout=DEVNULL):
    """posix_spawn argv with stdin/stdout on stdout, stderr appended to errlog."""
    off = os.fstat(errlog.fd).st_size
    acts = [
        (os.POSIX_SPAWN_DUP2, DEVNULL, 0),
        (os.POSIX_SPAWN_DUP2, stdout, 1),
        (os.POSIX_SPAWN_DUP2, errlog.fd, 2),
    ]
    t0 = time.perf_counter_ns()
    try:
        pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=acts)
    except OSError as e:
        return Call(time.perf_counter_ns() - t0, 127, f"{argv[0]}: {e}")
    _, status, ru = os.wait4(pid, 0)
    ns = time.perf_counter_ns() - t0
    rc = os.waitstatus_to_exitcode(status)
    err = "" if rc == 0 else (errlog.tail_from(off) or f"exit {rc}")
    return Call(ns, rc, err, int((ru.ru_utime + ru.ru_stime) * 1e9))


def reap(pid, timeout=10.0):
    """Wait for a container init to be gone: reap it if it is our child
    (we are a subreaper), else poll /proc until it is gone or a zombie."""
    try:
        os.waitpid(pid, 0)
        return
    except ChildProcessError:
        pass
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] in "ZX":
                    return
        except (FileNotFoundError, ProcessLookupError, IndexError):
            return
        time.sleep(0.0005)


def reap_strays():
    """Collect zombies reparented to us (we are a subreaper)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


PTRACE_TRACEME, PTRACE_CONT, PTRACE_SETOPTIONS = 0, 7, 0x4200
PTRACE_O_TRACEEXEC, PTRACE_O_TRACEEXIT, PTRACE_O_EXITKILL = 0x10, 0x40, 0x100000
PTRACE_EVENT_EXIT = 6


def own_peak_rss_kb(argv):
    """Run argv traced only for its exit; return (rc, VmHWM kB of the last
    image it exec'd, read at its exit stop)."""
    pid = os.fork()
    if pid == 0:  # child: no Python after this but ptrace, kill, dup2, exec
        try:
            libc.ptrace(PTRACE_TRACEME, 0, None, None)
            os.kill(os.getpid(), signal.SIGSTOP)
            os.dup2(DEVNULL, 0)
            os.dup2(DEVNULL, 1)
            os.dup2(DEVNULL, 2)
            os.execv(argv[0], argv)
        finally:
            os._exit(127)
    _, st = os.waitpid(pid, 0)
    opts = PTRACE_O_TRACEEXEC | PTRACE_O_TRACEEXIT | PTRACE_O_EXITKILL
    libc.ptrace(PTRACE_SETOPTIONS, pid, None, ctypes.c_void_p(opts))
    libc.ptrace(PTRACE_CONT, pid, None, None)
    hwm = None
    while True:
        _, st = os.waitpid(pid, 0)
        if not os.WIFSTOPPED(st):
            return os.waitstatus_to_exitcode(st), hwm
        sig = os.WSTOPSIG(st)
        if sig == signal.SIGTRAP and st >> 16:
            if st >> 16 == PTRACE_EVENT_EXIT:
                try:
                    with open(f"/proc/{pid}/status") as f:
                        for line in f:
                            if line.startswith("VmHWM:"):
                                hwm = int(line.split()[1])
                except OSError:
                    pass
            sig = 0
        libc.ptrace(PTRACE_CONT, pid, None, ctypes.c_void_p(sig))


def time_maxrss_kb(argv, outfile):
    """/usr/bin/time -f %M: wait4 ru_maxrss of the command and its reaped descendants."""
    r = subprocess.run(["/usr/bin/time", "-o", outfile, "-f", "%M", *argv],
                       stdin=DEVNULL, stdout=DEVNULL, stderr=DEVNULL)
    try:
        with open(outfile) as f:
            return r.returncode, int(f.read().split()[-1])
    except (OSError, ValueError, IndexError):
        return r.returncode, None


# ---------------------------------------------------------------- runtimes


def hybrid_host():
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                fields = line.split()
                if fields[4] == HYBRID_V2 and line.split(" - ")[1].startswith("cgroup2 "):
                    return True
    except OSError:
        pass
    return False


class PrivateMountNs:
    """A process holding a private mount namespace in which the cgroup2
    mount of a hybrid host is unmounted; crun is started in it by nsenter."""

    def __init__(self):
        argv = ["/usr/bin/unshare", "-m", "--propagation", "private", "/bin/sh", "-c",
                f"umount {HYBRID_V2} && exec sleep infinity"]
        self.pid = os.posix_spawn(argv[0], argv, os.environ,
                                  file_actions=[(os.POSIX_SPAWN_DUP2, DEVNULL, 0),
                                                (os.POSIX_SPAWN_DUP2, DEVNULL, 1)])
        end = time.monotonic() + 5
        while time.monotonic() < end:
            try:
                with open(f"/proc/{self.pid}/comm") as f:
                    if f.read().strip() == "sleep":
                        return
            except OSError:
                break
            time.sleep(0.005)
        self.close()
        raise RuntimeError("cannot make a mount namespace without " + HYBRID_V2)

    def argv(self):
        return ["/usr/bin/nsenter", "-t", str(self.pid), "-m", "--"]

    def close(self):
        if self.pid:
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except OSError:
                pass
            self.pid = None


class Runtime:
    def __init__(self, name, path, workdir, wrap=None):
        self.name, self.path, self.wrap = name, path, wrap or []
        self.root = os.path.join(workdir, "state-" + name)
        os.makedirs(self.root, exist_ok=True)
        self.errlog = ErrLog(os.path.join(workdir, name + ".stderr"))
        self.base = [path, "--root", self.root]

    def argv(self, verb, *args):
        a = [*self.base, verb, *args]
        if self.wrap and verb in ("create", "run"):
            a = self.wrap + a
        return a

    def call(self, verb, *args, stdout=DEVNULL):
        return spawn_wait(self.argv(verb, *args), self.errlog, stdout)

    def version(self):
        try:
            out = subprocess.run([self.path, "--version"], capture_output=True, text=True,
                                 timeout=10).stdout
            return out.splitlines()[0].split("version", 1)[-1].strip()
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return "?"

    def leftovers(self):
        try:
            return sorted(os.listdir(self.root))
        except OSError:
            return []

    def force_delete(self, cid):
        if os.path.exists(os.path.join(self.root, cid)):
            spawn_wait([*self.base, "delete", "--force", cid], self.errlog)

    def force_delete_all(self):
        left = self.leftovers()
        for cid in left:
            self.force_delete(cid)
        return left


class Stats:
    """Samples (ns or any number) and failures for one runtime and one figure."""

    def __init__(self):
        self.samples, self.fails, self.first_err = [], 0, ""
        self.lock = threading.Lock()

    def add(self, call, cpu=False):
        if call.ok:
            self.samples.append(call.cpu_ns if cpu else call.ns)
        else:
            self.fail(call.err)

    def fail(self, err):
        with self.lock:
            self.fails += 1
            self.first_err = self.first_err or err

    def min(self):
        return min(self.samples) if self.samples else None

    def median(self):
        return statistics.median(self.samples) if self.samples else None


# ---------------------------------------------------------------- bundle


def make_bundles(workdir, berth):
    bundle = os.path.join(workdir, "bundle")
    env = dict(os.environ, BERTH=berth, ARGS='["/bin/true"]')
    subprocess.run(["/bin/bash", os.path.join(REPO, "scripts/make-bundle.sh"), bundle],
                   env=env, check=True, stdout=DEVNULL)
    cfg_path = os.path.join(bundle, "config.json")
    with open(cfg_path) as f:
        spec = json.load(f)
    # crun 1.8.1 refuses runtime-spec versions it does not know (1.2.0:
    # "unknown version specified"); 1.0.2 is what runc 1.1 writes itself.
    spec["ociVersion"] = "1.0.2"
    with open(cfg_path, "w") as f:
        json.dump(spec, f, indent="\t")

    mem = os.path.join(workdir, "bundle-mem")
    os.makedirs(mem)
    spec["root"]["path"] = os.path.join(bundle, "rootfs")  # runc refuses a symlinked rootfs
    spec["process"]["args"] = ["echo", "it works"]
    spec["linux"].setdefault("resources", {})["memory"] = {"limit": 524288}
    with open(os.path.join(mem, "config.json"), "w") as f:
        json.dump(spec, f, indent="\t")
    return bundle, mem


# ---------------------------------------------------------------- the benchmark


class Bench:
    def __init__(self, args):
        self.args = args
        self.quick = args.quick
        self.workdir = tempfile.mkdtemp(prefix="berth-bench.", dir="/tmp")
        self.tag = "bb%d" % (os.getpid() % 100000)  # container id prefix, also cgroup names
        self.runtimes = []
        self.pseudo = []  # floor (and crun's wrapper): timed in section 1 only
        self.results = {}
        self.seq = 0
        self.seq_lock = threading.Lock()

    def cid(self, rt, what):
        with self.seq_lock:
            self.seq += 1
            return f"{self.tag}-{rt.name}-{what}{self.seq}"

    # -- set-up

    def setup(self):
        berth = os.path.abspath(self.args.berth)
        self.bundle, self.mem_bundle = make_bundles(self.workdir, berth)
        self.rootfs = os.path.join(self.bundle, "rootfs")
        self.hybrid = hybrid_host()
        self.mntns = None
        wanted = self.args.runtimes.split(",")
        paths = {"berth": berth, "runc": self.args.runc, "crun": self.args.crun}
        for name in wanted:
            path = paths.get(name)
            if not path or not os.access(path, os.X_OK):
                log(f"note: {name} not found at {path}; skipped")
                continue
            wrap = None
            if name == "crun" and self.hybrid:
                self.mntns = self.mntns or PrivateMountNs()
                wrap = self.mntns.argv()
            self.runtimes.append(Runtime(name, path, self.workdir, wrap))
        if not self.runtimes or self.runtimes[0].name != "berth":
            sys.exit("bench: berth is needed (it is the reference of every ratio)")
        floor = ["/usr/bin/unshare", "-m", "-u", "-i", "-n", "-p", "-f", "/usr/sbin/chroot",
                 self.rootfs, "/bin/true"]
        self.pseudo.append((FLOOR_NAME, floor))
        if self.mntns:
            self.pseudo.append((WRAP_NAME, self.mntns.argv() + ["/bin/true"]))
        self.perr = ErrLog(os.path.join(self.workdir, "pseudo.stderr"))

    def header(self):
        u = os.uname()
        try:
            with open("/proc/cpuinfo") as f:
                cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
        except (OSError, StopIteration):
            cpu = "?"
        mode = "v1 hybrid (cgroup2 on /sys/fs/cgroup/unified)" if self.hybrid else \
            ("v2" if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else "v1")
        log(f"berth benchmark  {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
            f"  {'quick' if self.quick else 'full'} mode")
        log(f"machine: Linux {u.release} {u.machine}, {os.cpu_count()} CPUs ({cpu}), cgroup {mode}")
        log("load average at start: %.2f %.2f %.2f" % os.getloadavg())
        for rt in self.runtimes:
            extra = ""
            if rt.name == "berth":
                extra = f"  [{berth_buildtype(rt.path)}]"
            log(f"  {rt.name:6} {rt.version():22} {rt.path}{extra}")
        if self.mntns:
            log("note: crun 1.8.1 refuses this hybrid cgroup host. A helper made with")
            log(f"      `unshare -m --propagation private` + `umount {HYBRID_V2}` holds a mount")
            log(f"      namespace without cgroup2; crun's create and run are started in it")
            log(f"      with `nsenter -t {self.mntns.pid} -m -- crun ...` (start/delete need no")
            log("      wrapper). The nsenter hop is timed alone ('crun-wrapper') and")
            log("      subtracted in the 'crun-net' rows.")
        log(f"bundle: {self.bundle} (Debian busybox-static), process /bin/true; "
            "each runtime has its own --root in " + self.workdir)
        log("'x berth' = that runtime's median / berth's median (for times and memory, "
            "above 1 means berth is better; for containers/s, below 1)")
        log("")

    # -- sanity: each runtime runs one container, else it is dropped

    def sanity(self):
        keep = []
        for rt in self.runtimes:
            c = rt.call("run", "--bundle", self.bundle, self.cid(rt, "check"))
            rt.force_delete_all()
            if c.ok:
                keep.append(rt)
            else:
                log(f"!! {rt.name}: a first `run` failed ({c.err}); {rt.name} is left out")
        self.runtimes = keep
        if not keep or keep[0].name != "berth":
            raise SystemExit("bench: berth cannot run a container; nothing to compare")

    # -- 1. sequential run, with the floor in the same rounds

    def seq_run(self, n, rounds):
        names = [rt.name for rt in self.runtimes] + [p[0] for p in self.pseudo]
        per = {k: Stats() for k in names}
        calls = {k: Stats() for k in names}
        cpu = {k: Stats() for k in names}
        units = [(rt.name, rt) for rt in self.runtimes] + self.pseudo
        for r in range(rounds):
            order = units[r % len(units):] + units[:r % len(units)]
            for name, what in order:
                t0 = time.perf_counter_ns()
                okn = 0
                for _ in range(n):
                    if isinstance(what, Runtime):
                        c = what.call("run", "--bundle", self.bundle, self.cid(what, "r"))
                    else:
                        c = spawn_wait(what, self.perr)
                    calls[name].add(c)
                    cpu[name].add(c, cpu=True)
                    okn += c.ok
                dt = time.perf_counter_ns() - t0
                if okn == n:
                    per[name].samples.append(dt / n)
                else:
                    per[name].fail(calls[name].first_err)
                if isinstance(what, Runtime):
                    left = what.force_delete_all()
                    if left:
                        per[name].fail(f"`run` left {len(left)} container(s) behind")
                reap_strays()
            log(f"  round {r + 1}/{rounds} done")
        if WRAP_NAME in per:
            per["crun-net"] = net(per.get("crun"), per[WRAP_NAME])
            calls["crun-net"] = net(calls.get("crun"), calls[WRAP_NAME])
            cpu["crun-net"] = net(cpu.get("crun"), cpu[WRAP_NAME])
        return per, calls, cpu

    # -- 2. create / start / delete latency

    def lifecycle(self, rt, figs):
        cid = self.cid(rt, "l")
        pidfile = os.path.join(self.workdir, cid + ".pid")
        c = rt.call("create", "--bundle", self.bundle, "--pid-file", pidfile, cid)
        figs["create"].add(c)
        if not c.ok:
            rt.force_delete(cid)
            return False
        try:
            with open(pidfile) as f:
                pid = int(f.read())
        except (OSError, ValueError):
            pid = None
        c = rt.call("start", cid)
        figs["start"].add(c)
        if c.ok and pid:
            reap(pid)
        c = rt.call("delete", cid)
        figs["delete"].add(c)
        if not c.ok:
            rt.force_delete(cid)
        return True

    def latency(self, n):
        figs = {rt.name: {k: Stats() for k in ("create", "start", "delete")}
                for rt in self.runtimes}
        for i in range(n):
            k = i % len(self.runtimes)
            for rt in self.runtimes[k:] + self.runtimes[:k]:
                self.lifecycle(rt, figs[rt.name])
            reap_strays()
        return figs

    # -- 3. peak RSS

    def rss(self, n):
        res = {rt.name: {k: Stats() for k in ("create", "run", "create %M", "run %M")}
               for rt in self.runtimes}
        tfile = os.path.join(self.workdir, "time.out")
        for i in range(n):
            for rt in self.runtimes:
                f = res[rt.name]
                cid = self.cid(rt, "m")
                rc, kb = own_peak_rss_kb(rt.argv("create", "--bundle", self.bundle, cid))
                (f["create"].samples.append(kb) if rc == 0 and kb else f["create"].fail(f"exit {rc}"))
                rt.force_delete_all()
                rc, kb = own_peak_rss_kb(rt.argv("run", "--bundle", self.bundle, self.cid(rt, "m")))
                (f["run"].samples.append(kb) if rc == 0 and kb else f["run"].fail(f"exit {rc}"))
                rt.force_delete_all()
                rc, kb = time_maxrss_kb(rt.argv("create", "--bundle", self.bundle,
                                                self.cid(rt, "m")), tfile)
                (f["create %M"].samples.append(kb) if rc == 0 and kb else f["create %M"].fail(f"exit {rc}"))
                rt.force_delete_all()
                rc, kb = time_maxrss_kb(rt.argv("run", "--bundle", self.bundle,
                                                self.cid(rt, "m")), tfile)
                (f["run %M"].samples.append(kb) if rc == 0 and kb else f["run %M"].fail(f"exit {rc}"))
                rt.force_delete_all()
                reap_strays()
        return res

    # -- 4. throughput

    def throughput(self, n, levels, rounds):
        """{level: {runtime: Stats of containers/s}}, rounds interleaved."""
        res = {lvl: {rt.name: Stats() for rt in self.runtimes} for lvl in levels}
        for r in range(rounds):
            for lvl in levels:
                k = (r + lvl) % len(self.runtimes)
                for rt in self.runtimes[k:] + self.runtimes[:k]:
                    self.parallel_round(rt, n, lvl, res[lvl][rt.name])
        return res

    def parallel_round(self, rt, n, level, st):
        figs = {k: Stats() for k in ("create", "start", "delete")}
        shares = [n // level + (1 if w < n % level else 0) for w in range(level)]

        def worker(count):
            for _ in range(count):
                self.lifecycle(rt, figs)

        t0 = time.perf_counter_ns()
        ts = [threading.Thread(target=worker, args=(s,)) for s in shares]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        dt = time.perf_counter_ns() - t0
        fails = sum(f.fails for f in figs.values())
        if fails:
            st.fail(next(f.first_err for f in figs.values() if f.fails))
            st.fails += fails - 1
        else:
            st.samples.append(n / (dt / 1e9))
        rt.force_delete_all()
        reap_strays()

    # -- 6. memory limit

    def memlimit(self):
        res = {}
        out = os.path.join(self.workdir, "mem.out")
        for rt in self.runtimes:
            fd = os.open(out, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
            c = rt.call("run", "--bundle", self.mem_bundle, self.cid(rt, "mem"), stdout=fd)
            os.close(fd)
            with open(out) as f:
                said = f.read().strip()
            ok = c.ok and "it works" in said
            res[rt.name] = (ok, said if ok else (c.err or said or f"exit {c.rc}"))
            rt.force_delete_all()
        return res

    # -- driver

    def run(self):
        a = self.args
        n_seq = a.runs or (20 if self.quick else 100)
        rounds = a.rounds or (3 if self.quick else 5)
        n_lat = a.containers or (15 if self.quick else 50)
        n_par = a.containers or (16 if self.quick else 50)
        n_rss = 3 if self.quick else 10
        par_rounds = 1 if self.quick else 3
        self.setup()
        self.header()
        self.sanity()
        names = [rt.name for rt in self.runtimes]
        t_start = time.monotonic()

        log(f"1. {n_seq} sequential `run` of /bin/true x {rounds} rounds ...")
        per, calls, cpu = self.seq_run(n_seq, rounds)
        log(f"2. create / start / delete latency over {n_lat} containers ...")
        lat = self.latency(n_lat)
        log(f"3. peak RSS ({n_rss} samples each) ...")
        rss = self.rss(n_rss)
        log(f"4. throughput, {n_par} containers 2 and 4 at a time, {par_rounds} round(s) ...")
        par = self.throughput(n_par, (2, 4), par_rounds)
        log("6. 512 KiB memory limit ...")
        mem = self.memlimit()
        log(f"(measured in {time.monotonic() - t_start:.0f} s; load average now "
            "%.2f %.2f %.2f)\n" % os.getloadavg())

        rows_seq = names + [k for k in ("crun-net", FLOOR_NAME, WRAP_NAME) if k in per]
        table(f"1. {n_seq} x `run` /bin/true, sequential, {rounds} rounds: ms per container "
              "(round wall time / N)", rows_seq, {"": per}, ms, lower=True)
        table(f"   the same, single `run` calls ({n_seq * rounds} per runtime): wall ms, and CPU ms "
              "(user+sys of the command and the children it reaped: less sensitive to load)",
              rows_seq, {"wall": calls, "cpu": cpu}, ms, lower=True)
        fl = per[FLOOR_NAME].median()
        if fl:
            log("   x floor (median):  " + "   ".join(
                f"{k} {per[k].median() / fl:.2f}" for k in names + ["crun-net"]
                if k in per and per[k].median()))
            log("")
        latrows = names + (["crun-net"] if WRAP_NAME in per else [])
        lat_by_fig = {}
        for fig in ("create", "start", "delete"):
            d = {nm: lat[nm][fig] for nm in names}
            if "crun" in d and WRAP_NAME in calls and fig == "create":
                d["crun-net"] = net(d["crun"], calls[WRAP_NAME])
            elif "crun" in d:
                d["crun-net"] = d["crun"]
            lat_by_fig[fig] = d
        table(f"2. latency over {n_lat} containers: ms  (crun-net: create minus the wrapper's "
              "median)", latrows, lat_by_fig, ms, lower=True)
        table(f"3. peak RSS of the runtime process, kB, {n_rss} samples: own = VmHWM at exit "
              "(PTRACE_O_TRACEEXIT), %M = /usr/bin/time (includes reaped children)",
              names, {k: {nm: rss[nm][k] for nm in names}
                      for k in ("create", "run", "create %M", "run %M")}, None, lower=True)
        table(f"4. throughput: {n_par} x (create, start, delete) by 2 and 4 workers, median of "
              f"{par_rounds} round(s): containers/s (higher is better)", names,
              {f"{lvl} at a time": par[lvl] for lvl in (2, 4)}, None, lower=False, one=True)
        log("5. floor: `unshare -m -u -i -n -p -f chroot ROOTFS /bin/true` "
            f"{fmt(ms(fl) if fl else None)} ms median (row 'floor' in 1)")
        if WRAP_NAME in per:
            log(f"   crun's hybrid-host wrapper (nsenter) alone: "
                f"{fmt(ms(per[WRAP_NAME].median()))} ms median")
        log("")
        log("6. memory.limit = 524288 (512 KiB), `echo it works`:")
        for nm in names:
            ok, said = mem[nm]
            log(f"   {nm:8} {'pass' if ok else 'FAIL'}  {said[:110]}")
        log("")
        self.targets(per, lat_by_fig, rss, mem)
        self.results = {"seq_per_container_ns": dump(per), "seq_calls_ns": dump(calls),
                        "seq_calls_cpu_ns": dump(cpu),
                        "latency_ns": {f: dump(d) for f, d in lat_by_fig.items()},
                        "rss_kb": {nm: dump(rss[nm]) for nm in names},
                        "throughput_per_s": {str(lvl): dump(par[lvl]) for lvl in (2, 4)},
                        "memlimit": {nm: mem[nm][0] for nm in names}}
        if a.json:
            with open(a.json, "w") as f:
                json.dump(self.results, f, indent=1)

    def targets(self, per, lat, rss, mem):
        if "crun" not in [rt.name for rt in self.runtimes]:
            return
        crun = "crun-net" if "crun-net" in per else "crun"
        checks = []

        def ratio(a, b):
            return a / b if a and b else None

        r = ratio(per["berth"].median(), per[crun].median())
        if crun == "crun-net":
            # The issue's own crun figure was taken as crun must run on this
            # host, wrapper included; crun-net (without it) is the stricter.
            checks.append(("run: berth <= 0.5 x crun (as run here)",
                           ratio(per["berth"].median(), per["crun"].median()), 0.5))
        checks.append((f"run: berth <= 0.5 x {crun}", r, 0.5))
        checks.append(("run: berth <= 1.6 x floor", ratio(per["berth"].median(),
                                                          per[FLOOR_NAME].median()), 1.6))
        for fig in ("create", "start", "delete"):
            checks.append((f"{fig}: berth <= 0.7 x {crun}",
                           ratio(lat[fig]["berth"].median(), lat[fig][crun].median()), 0.7))
        for fig in ("create", "run"):
            checks.append((f"peak RSS ({fig}): berth <= 0.6 x crun",
                           ratio(rss["berth"][fig].median(), rss["crun"][fig].median()), 0.6))
        log("targets (issue 4), medians:")
        for what, r, lim in checks:
            verdict = "?" if r is None else ("met" if r <= lim else "NOT met")
            log(f"   {what:36} {fmt(r, 2):>7}  {verdict}")
        log(f"   {'512 KiB memory limit runs':36} {'':>7}  "
            f"{'met' if mem['berth'][0] else 'NOT met'}")
        log("")

    # -- clean-up: containers, cgroups, files

    def cleanup(self):
        for rt in self.runtimes:
            try:
                left = rt.force_delete_all()
                if left:
                    log(f"cleanup: {rt.name} left {len(left)} container(s); force-deleted")
            except Exception as e:  # keep cleaning the rest
                log(f"cleanup: {rt.name}: {e}")
        if self.mntns:
            self.mntns.close()
        reap_strays()
        rm_cgroups(self.tag)
        shutil.rmtree(self.workdir, ignore_errors=True)


def net(a, wrap):
    """a minus the median of wrap, sample by sample (crun without its wrapper)."""
    if a is None:
        return None
    s = Stats()
    s.fails, s.first_err = a.fails, a.first_err
    w = wrap.median() or 0
    s.samples = [x - w for x in a.samples]
    return s


def rm_cgroups(tag):
    """Remove cgroups named after our containers that a runtime left behind."""
    base = "/sys/fs/cgroup"
    try:
        hier = [os.path.join(base, d) for d in os.listdir(base)]
    except OSError:
        return
    hier.append(base)
    for h in hier:
        try:
            names = [n for n in os.listdir(h) if n.startswith(tag + "-")]
        except OSError:
            continue
        for n in names:
            d = os.path.join(h, n)
            try:
                with open(os.path.join(d, "cgroup.procs")) as f:
                    for p in f.read().split():
                        os.kill(int(p), signal.SIGKILL)
            except OSError:
                pass
            for _ in range(100):
                try:
                    os.rmdir(d)
                    print(f"cleanup: removed left-over cgroup {d}")
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.01)


def berth_buildtype(path):
    d = os.path.dirname(os.path.abspath(path))
    for _ in range(4):
        f = os.path.join(d, "meson-info", "intro-buildoptions.json")
        if os.path.exists(f):
            try:
                with open(f) as fh:
                    for o in json.load(fh):
                        if o["name"] == "buildtype":
                            return "buildtype=" + o["value"]
            except (OSError, ValueError, KeyError):
                pass
        d = os.path.dirname(d)
    return "buildtype unknown"


def fmt(x, nd=2):
    if x is None:
        return "-"
    if abs(x) >= 1000:
        return f"{x:.0f}"
    return f"{x:.{nd}f}"


def table(title, rows, groups, conv, lower, one=False):
    """Rows: runtimes; for each group: min, median and median's ratio to berth."""
    conv = conv or (lambda v: v)
    log(title)
    head = f"   {'':12}"
    for g in groups:
        if one:
            head += f" {g:>14} {'x berth':>8}"
        else:
            head += f" {g + ' min':>11} {'median':>9} {'x berth':>8}"
    log(head)
    for nm in rows:
        line = f"   {nm:12}"
        notes = []
        for g, d in groups.items():
            s = d.get(nm)
            b = d.get("berth")
            if s is None:
                line += " " * (24 if one else 30)
                continue
            med = s.median()
            bm = b.median() if b else None
            r = med / bm if med is not None and bm else None
            if one:
                line += f" {fmt(conv(med) if med is not None else None):>14} {fmt(r):>8}"
            else:
                mn = s.min()
                line += (f" {fmt(conv(mn) if mn is not None else None):>11}"
                         f" {fmt(conv(med) if med is not None else None):>9} {fmt(r):>8}")
            if s.fails:
                notes.append(f"{g or 'all'}: {s.fails} failed ({s.first_err[:80]})")
        log(line)
        for n in notes:
            log(f"   {'':12}   ! {n}")
    log("")


def dump(d):
    return {k: {"min": v.min(), "median": v.median(), "n": len(v.samples), "failed": v.fails}
            for k, v in d.items() if v is not None}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="about a minute instead of about five")
    p.add_argument("--berth", default=os.environ.get("BERTH",
                   os.path.join(REPO, "build-bench/src/cli/berth")))
    p.add_argument("--runc", default=os.environ.get("RUNC", "/usr/bin/runc"))
    p.add_argument("--crun", default=os.environ.get("CRUN", "/usr/bin/crun"))
    p.add_argument("--runtimes", default="berth,runc,crun",
                   help="comma-separated; berth must come first")
    p.add_argument("--runs", type=int, help="containers per round in 1 (default 100, quick 20)")
    p.add_argument("--rounds", type=int, help="rounds in 1 (default 5, quick 3)")
    p.add_argument("--containers", type=int, help="containers in 2 and 4 (default 50)")
    p.add_argument("--json", help="also write the figures to this file")
    args = p.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench: must run as root (containers, cgroups, namespaces)")
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        sys.exit("bench: prctl(PR_SET_CHILD_SUBREAPER) failed")

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    b = Bench(args)
    try:
        b.run()
    except KeyboardInterrupt as e:
        log(f"\ninterrupted ({e}); cleaning up")
        return 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        b.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
