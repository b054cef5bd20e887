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
    rootfs = os.path.join(b, "rootfs")

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

            def problem(what):
                problems.append(f"run {i} (kill at {delay * 1000:.1f} ms, {step}): {what}")

            shown = listed(ctx, cid)
            r = ctx.cmd("delete", "--force", cid)
            if r.rc != 0 and "does not exist" not in r.err:
                problem(f"delete --force failed{' (and list showed it)' if shown else ''}: "
                        f"rc={r.rc} {r.err.strip()}")

            def leftovers():
                reap(orphans)
                left = []
                if os.path.lexists(state_dir):
                    left.append(f"state dir entry {state_dir} ({sorted(os.listdir(state_dir))})")
                left += [f"cgroup {d}" for d in cgroup_dirs_named(cid)]
                left += [f"mount {m}" for m in mounts_of([b, rootfs], cid)]
                if pid and util.pid_alive(pid):
                    left.append(f"init pid {pid} from state.json")
                left += [f"process {q} in the container's cgroup" for q in procs_in_cgroup(cid)]
                left += [f"orphaned process {q} of the killed create" for q in sorted(orphans)
                         if util.pid_alive(q)]
                return left
            left = util.wait_for(lambda: not leftovers(), timeout=2) and [] or leftovers()
            if left:
                problem("left after delete --force: " + "; ".join(left))
                # Clean up by hand so the next run starts clean.
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
