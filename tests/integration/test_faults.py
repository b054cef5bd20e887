"""Faults: berth killed with SIGKILL at any point of `create` (issue 5).

`berth create` is killed after a delay spread over its whole run (measured
first), 200 times.  After each kill:
  - `list` shows the container only if `delete --force` can then delete it;
  - `delete --force ID` succeeds (or says the container does not exist);
  - nothing of the container is left: no state dir entry, no cgroup dir named
    after the id in any hierarchy, no mount under the bundle or naming the id,
    no process (the killed create's init, orphaned, must be ended by
    `delete --force`: the test is a child subreaper during the loop, so an
    orphan becomes its child and is seen, and found also by pid from
    state.json and by its cgroup).

A failure names each leftover with the step of create that was under way when
berth died (what the state dir held at that moment).
"""

import ctypes
import json
import os
import random
import signal
import subprocess
import time

import pytest

import util

RUNS = 200
PR_SET_CHILD_SUBREAPER = 36


def set_subreaper(on):
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1 if on else 0, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def children():
    """Our direct children (orphans reparent to us while we are a subreaper)."""
    out = set()
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/children") as f:
                out.update(int(p) for p in f.read().split())
        except OSError:
            pass
    return out


def reap(pids):
    """waitpid the zombies among `pids` (our orphaned descendants)."""
    for pid in list(pids):
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            done = pid
        if done == pid:
            pids.discard(pid)


def cgroup_dirs_named(cid):
    found = []
    for h in os.listdir("/sys/fs/cgroup"):
        top = os.path.join("/sys/fs/cgroup", h)
        if os.path.islink(top) or not os.path.isdir(top):
            continue
        for dirpath, dirnames, _ in os.walk(top):
            found += [os.path.join(dirpath, d) for d in dirnames if d == cid]
    return found


def mounts_of(paths, cid):
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = line.split()[4]
            if any(mp == p or mp.startswith(p + "/") for p in paths) or cid in mp:
                out.append(mp)
    return out


def procs_in_cgroup(cid):
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/cgroup") as f:
                text = f.read()
        except OSError:
            continue
        if f"/{cid}\n" in text or f"/{cid}/" in text:
            if util.pid_alive(int(name)):
                out.append(int(name))
    return out


def step_of(state_dir):
    """What create had done when it died, from what its state dir held."""
    try:
        names = set(os.listdir(state_dir))
    except FileNotFoundError:
        return "before the state dir (bundle/config checks)"
    if "state.json" in names:
        return "after state.json was written"
    if "exec.fifo" in names:
        return "state dir with config.json and exec.fifo, no state.json (cgroup/clone/init set-up)"
    if "config.json" in names:
        return "state dir with config.json only"
    return "empty state dir (just made)"


def state_pid(state_dir):
    try:
        with open(os.path.join(state_dir, "state.json")) as f:
            return json.load(f).get("pid")
    except (OSError, ValueError):
        return None


def listed(ctx, cid):
    r = ctx.cmd("list", "--format", "json")
    assert r.rc == 0, r
    return any(c.get("id") == cid for c in (json.loads(r.out or "null") or []))


def test_sigkill_during_create_leaves_nothing_after_delete_force(ctx):
    b = ctx.bundle(["sleep", "30"])

    # How long a whole create takes here (the kill delays span it).
    times = []
    for _ in range(3):
        cid = ctx.new_id()
        t0 = time.monotonic()
        ctx.ok("create", "--bundle", b, cid)
        times.append(time.monotonic() - t0)
        ctx.ok("delete", "--force", cid)
    typical = sorted(times)[1]

    rng = random.Random(int(os.environ.get("BERTH_FAULT_SEED", "5")))
    problems = []
    hits = {}
    orphans = set()
    set_subreaper(True)
    try:
        for i in range(RUNS):
            # Stratified over [0, 1.15 * typical]: early, middle and late
            # steps are all hit, plus a few kills after create finished.
            delay = (i + rng.random()) / RUNS * typical * 1.15
            cid = ctx.new_id()
            state_dir = os.path.join(ctx.root, cid)
            with open(os.devnull, "wb") as null:
                p = subprocess.Popen([util.BERTH, "--root", ctx.root, "create", "--bundle", b, cid],
                                     stdin=subprocess.DEVNULL, stdout=null, stderr=null)
            time.sleep(delay)
            p.send_signal(signal.SIGKILL)
            rc = p.wait()
            step = "create had finished" if rc == 0 else step_of(state_dir)
            hits[step] = hits.get(step, 0) + 1
            pid = state_pid(state_dir)
            if pid:
                ctx.note_pid(pid)
            orphans |= children() - {p.pid}

            left = check_after_kill(ctx, cid, b, orphans, pid)
            if left:
                problems.append(f"run {i} (kill at {delay * 1000:.1f} ms, {step}): " + "; ".join(left))
                clean_by_hand(ctx, cid, orphans, pid)
            if len(problems) > 20:
                break
    finally:
        set_subreaper(False)
        for q in orphans:
            try:
                os.kill(q, signal.SIGKILL)
            except OSError:
                pass
        for q in orphans:
            try:
                os.waitpid(q, 0)
            except ChildProcessError:
                pass
    print(f"create takes {typical * 1000:.1f} ms; kills by step: {hits}")
    assert not problems, (f"create takes {typical * 1000:.1f} ms; kills by step: {hits}\n"
                          + "\n".join(problems))
    assert os.listdir(ctx.root) == []


def check_after_kill(ctx, cid, b, orphans, pid):
    """delete --force, then what is left of `cid` (empty list: nothing)."""
    state_dir = os.path.join(ctx.root, cid)
    shown = listed(ctx, cid)
    out = []
    r = ctx.cmd("delete", "--force", cid)
    if r.rc != 0 and "does not exist" not in r.err:
        out.append(f"delete --force failed{' (and list showed it)' if shown else ''}: "
                   f"rc={r.rc} {r.err.strip()}")

    def leftovers():
        reap(orphans)
        left = []
        if os.path.lexists(state_dir):
            left.append(f"state dir entry {state_dir} ({sorted(os.listdir(state_dir))})")
        left += [f"cgroup {d}" for d in cgroup_dirs_named(cid)]
        left += [f"mount {m}" for m in mounts_of([b], cid)]
        if pid and util.pid_alive(pid):
            left.append(f"init pid {pid} from state.json")
        left += [f"process {q} in the container's cgroup" for q in procs_in_cgroup(cid)]
        left += [f"orphaned process {q} of the killed create" for q in sorted(orphans)
                 if util.pid_alive(q)]
        return left
    if not util.wait_for(lambda: not leftovers(), timeout=1):
        out += leftovers()
    return out


def clean_by_hand(ctx, cid, orphans, pid):
    state_dir = os.path.join(ctx.root, cid)
    for q in list(orphans) + procs_in_cgroup(cid) + ([pid] if pid else []):
        try:
            os.kill(q, signal.SIGKILL)
        except OSError:
            pass
    util.wait_for(lambda: (reap(orphans), not procs_in_cgroup(cid))[1], timeout=2)
    for d in sorted(cgroup_dirs_named(cid), key=len, reverse=True):
        try:
            os.rmdir(d)
        except OSError:
            pass
    if os.path.isdir(state_dir):
        for n in os.listdir(state_dir):
            os.unlink(os.path.join(state_dir, n))
        os.rmdir(state_dir)


STRACE = "/usr/bin/strace"


@util.berth_only
@pytest.mark.skipif(not os.access(STRACE, os.X_OK), reason="needs strace")
def test_sigkill_at_each_create_syscall(ctx):
    """Deterministic form: strace (without -f: berth itself, not its init)
    delivers SIGKILL on entry to berth's Nth system call (as the strace of a
    whole create numbers them), for N spread over
    every call create makes, so each step (state dir, config copy, fifo,
    cgroup dirs, clone, waiting for the init, state.json) is hit."""
    b = ctx.bundle(["sleep", "30"])
    # How many system calls a whole create makes.
    cid = ctx.new_id()
    log = os.path.join(ctx.tmp, "strace.log")
    subprocess.run([STRACE, "-o", log, util.BERTH, "--root", ctx.root, "create", "--bundle", b, cid],
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   check=True, timeout=30)
    ctx.ok("delete", "--force", cid)
    with open(log) as f:
        calls = [line.split("(", 1)[0] for line in f if "(" in line and not line.startswith("+++")]
    total = len(calls)
    # The interesting calls all, the rest by stride: about 120 runs.
    key = ("mkdir", "rename", "mknod", "clone", "openat", "write", "read", "recv", "send", "wait",
           "flock", "setns", "unlink")
    points = sorted({n for n in range(1, total + 1)
                     if n % max(1, total // 60) == 0
                     or (any(calls[n - 1].startswith(k) for k in key) and n % 2 == 0)
                     or calls[n - 1].startswith(("mkdir", "rename", "clone", "mknod"))})
    problems = []
    orphans = set()
    set_subreaper(True)
    try:
        for n in points:
            cid = ctx.new_id()
            state_dir = os.path.join(ctx.root, cid)
            name = calls[n - 1]
            nth = calls[:n].count(name)  # strace counts each system call apart
            p = subprocess.Popen([STRACE, "-o", "/dev/null", "-e", f"trace={name}",
                                  "-e", f"inject={name}:signal=KILL:when={nth}",
                                  util.BERTH, "--root", ctx.root, "create", "--bundle", b, cid],
                                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
            p.wait(timeout=30)
            rc = p.returncode
            step = f"syscall {n}/{total} ({name} #{nth}), {step_of(state_dir)}"
            if rc == 0 and name.startswith(("read", "recv")) and ctx.cmd("state", cid).rc == 0:
                # How many reads a create makes depends on how the init's
                # messages were split in the pipe: this run made fewer, and
                # finished.  Not a kill point this time; clean up.
                ctx.ok("delete", "--force", cid)
                continue
            if rc not in (-signal.SIGKILL, 128 + signal.SIGKILL):
                problems.append(f"{step}: berth was not killed (strace rc {rc})")
            pid = state_pid(state_dir)
            if pid:
                ctx.note_pid(pid)
            orphans |= children() - {p.pid}
            left = check_after_kill(ctx, cid, b, orphans, pid)
            if left:
                problems.append(f"killed at {step}: " + "; ".join(left))
                clean_by_hand(ctx, cid, orphans, pid)
    finally:
        set_subreaper(False)
        for q in orphans:
            try:
                os.kill(q, signal.SIGKILL)
                os.waitpid(q, 0)
            except OSError:
                pass
    assert not problems, f"{len(points)} kill points over {total} syscalls:\n" + "\n".join(problems)
    assert os.listdir(ctx.root) == []
