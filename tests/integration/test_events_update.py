"""`events` (stats once, the stream, OOM notifications) and `update` (flags,
--resources FILE and stdin, merging, errors), checked from the cgroup files
of the host.  The same tests pass with BERTH_BIN=/usr/bin/runc except those
marked berth_only."""

import json
import os
import select
import subprocess
import time

import pytest

from util import IS_RUNC, berth_only, sh, wait_for

MiB = 1024 * 1024


def cgroup_dir(pid, v1_controller, v2_needed=None):
    """(directory, version) of pid's cgroup holding a controller: the v1
    hierarchy naming it, else the v2 one."""
    v2 = None
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            hid, ctrls, path = line.rstrip("\n").split(":", 2)
            if hid == "0":
                v2 = path
            elif v1_controller in ctrls.split(","):
                for mount in (f"/sys/fs/cgroup/{ctrls}", f"/sys/fs/cgroup/{v1_controller}"):
                    if os.path.isdir(mount + path):
                        return mount + path, 1
    for base in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
        if v2 is not None and os.path.exists(os.path.join(base, "cgroup.controllers")):
            return base + v2, 2
    pytest.skip(f"no {v1_controller} cgroup found")


def read_cg(pid, controller, v1_file, v2_file):
    d, version = cgroup_dir(pid, controller)
    with open(os.path.join(d, v1_file if version == 1 else v2_file)) as f:
        return f.read().strip()


def with_resources(**res):
    def edit(spec):
        spec["linux"]["resources"].update(res)
    return edit


def running(ctx, args=("sleep", "60"), **res):
    cid = ctx.start_running(list(args), edit=with_resources(**res) if res else None)
    return cid, ctx.state(cid)["pid"]


def stopped(ctx):
    cid, _ = ctx.create(sh("exit 0"))
    ctx.ok("start", cid)
    ctx.wait_status(cid, "stopped")
    return cid


# ---------------------------------------------------------------- events


def test_events_stats_once(ctx):
    cid, pid = running(ctx, memory={"limit": 64 * MiB}, pids={"limit": 100})
    r = ctx.ok("events", "--stats", cid)
    lines = r.out.splitlines()
    assert len(lines) == 1 and r.out.endswith("\n"), r
    ev = json.loads(lines[0])
    assert list(ev) == ["type", "id", "data"], ev
    assert ev["type"] == "stats" and ev["id"] == cid
    data = ev["data"]
    assert list(data) == ["cpu", "cpuset", "memory", "pids", "blkio", "hugetlb", "intel_rdt",
                          "network_interfaces"], data
    assert data["network_interfaces"] is None
    usage = data["cpu"]["usage"]
    assert "kernel" in usage and "user" in usage, usage
    assert "throttling" in data["cpu"]
    mem = data["memory"]
    for k in ("usage", "swap", "kernel", "kernelTCP"):
        assert "limit" in mem[k] and "failcnt" in mem[k], mem
    assert mem["usage"]["limit"] == 64 * MiB
    assert mem["usage"]["usage"] > 0
    assert data["pids"] == {"current": 1, "limit": 100}, data["pids"]
    for entry in data["hugetlb"].values():
        assert "failcnt" in entry
    ctx.destroy(cid)


def test_events_stats_cpuset_on_v1(ctx):
    cid, pid = running(ctx)
    d, version = cgroup_dir(pid, "cpuset")
    if version != 1:
        ctx.destroy(cid)
        pytest.skip("cpuset stats are v1 only (as in runc)")
    data = json.loads(ctx.ok("events", "--stats", cid).out)["data"]
    with open(os.path.join(d, "cpuset.cpus")) as f:
        text = f.read().strip()
    cpus = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        cpus += range(int(lo), int(hi or lo) + 1)
    assert data["cpuset"]["cpus"] == cpus
    assert "sched_relax_domain_level" in data["cpuset"]
    ctx.destroy(cid)


def test_events_not_running(ctx):
    cid = stopped(ctx)
    r = ctx.fail("events", "--stats", cid)
    assert f"container with id {cid} is not running" in r.err, r
    ctx.ok("delete", cid)


def test_events_missing_container(ctx):
    r = ctx.fail("events", "--stats", "t-no-such")
    assert "container does not exist" in r.err, r


def test_events_interval_must_be_positive(ctx):
    cid, _ = running(ctx)
    for value in ("0s", "-1s"):
        r = ctx.fail("events", "--interval", value, cid)
        assert "duration interval must be greater than 0" in r.err, r
    ctx.destroy(cid)


def read_lines(p, n, timeout):
    """n lines from p.stdout within timeout (fewer when it ends early)."""
    lines, buf, end = [], b"", time.monotonic() + timeout
    fd = p.stdout.fileno()
    while len(lines) < n and time.monotonic() < end:
        r, _, _ = select.select([fd], [], [], max(0.0, end - time.monotonic()))
        if not r:
            break
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        buf += chunk
        while b"\n" in buf and len(lines) < n:
            line, buf = buf.split(b"\n", 1)
            lines.append(json.loads(line))
    return lines


def test_events_stream_every_interval_and_end(ctx):
    cid, _ = running(ctx)
    p = ctx.popen("events", "--interval", "300ms", cid)
    t0 = time.monotonic()
    evs = read_lines(p, 3, timeout=5)
    assert len(evs) == 3, evs
    assert time.monotonic() - t0 >= 0.6
    assert all(e["type"] == "stats" and e["id"] == cid for e in evs)
    # The stream ends once the container is gone.
    ctx.destroy(cid)
    assert p.wait(timeout=10) == 0
    p.stdout.close()
    p.stderr.close()


def test_events_oom(ctx):
    # No swap room (memory+swap == memory), so going over the limit kills.
    cid, pid = running(ctx, sh("sleep 2; dd if=/dev/zero of=/dev/null bs=64M count=1; sleep 60"),
                       memory={"limit": 24 * MiB, "swap": 24 * MiB})
    p = ctx.popen("events", "--interval", "30s", cid)
    evs = read_lines(p, 1, timeout=15)
    assert evs == [{"type": "oom", "id": cid}], evs
    ctx.destroy(cid)
    p.wait(timeout=10)
    p.stdout.close()
    p.stderr.close()


# ---------------------------------------------------------------- update


def test_update_flags(ctx):
    cid, pid = running(ctx)
    ctx.ok("update", "--memory", "64m", "--memory-reservation", "32m", "--pids-limit", "20",
           "--cpu-share", "256", "--cpu-period", "100000", "--cpu-quota", "50000", cid)
    assert read_cg(pid, "memory", "memory.limit_in_bytes", "memory.max") == str(64 * MiB)
    assert read_cg(pid, "memory", "memory.soft_limit_in_bytes", "memory.low") == str(32 * MiB)
    assert read_cg(pid, "pids", "pids.max", "pids.max") == "20"
    d, version = cgroup_dir(pid, "cpu")
    if version == 1:
        assert read_cg(pid, "cpu", "cpu.shares", "") == "256"
        assert read_cg(pid, "cpu", "cpu.cfs_quota_us", "") == "50000"
        assert read_cg(pid, "cpu", "cpu.cfs_period_us", "") == "100000"
    else:
        # shares [2, 262144] -> weight [1, 10000], as runc and crun convert
        assert read_cg(pid, "cpu", "", "cpu.weight") == str(1 + ((256 - 2) * 9999) // 262142)
        assert read_cg(pid, "cpu", "", "cpu.max") == "50000 100000"
    # What update set shows in the stats too.
    data = json.loads(ctx.ok("events", "--stats", cid).out)["data"]
    assert data["memory"]["usage"]["limit"] == 64 * MiB
    assert data["pids"]["limit"] == 20
    ctx.destroy(cid)


def test_update_memory_units(ctx):
    cid, pid = running(ctx)
    for text, value in (("1.5g", 3 * 512 * MiB), ("100M", 100 * MiB), ("65536k", 64 * MiB),
                        ("2gib", 2048 * MiB), ("99999999", 99999999 // 4096 * 4096)):
        ctx.ok("update", "--memory", text, cid)
        assert read_cg(pid, "memory", "memory.limit_in_bytes", "memory.max") == str(value), text
    ctx.destroy(cid)


def test_update_cpuset(ctx):
    cid, pid = running(ctx)
    ctx.ok("update", "--cpuset-cpus", "0", cid)
    assert read_cg(pid, "cpuset", "cpuset.cpus", "cpuset.cpus") == "0"
    ctx.destroy(cid)


def test_update_resources_file_and_stdin(ctx):
    cid, pid = running(ctx)
    path = os.path.join(ctx.tmp, "res.json")
    with open(path, "w") as f:
        json.dump({"memory": {"limit": 48 * MiB}, "pids": {"limit": 33}}, f)
    ctx.ok("update", "--resources", path, cid)
    assert read_cg(pid, "memory", "memory.limit_in_bytes", "memory.max") == str(48 * MiB)
    assert read_cg(pid, "pids", "pids.max", "pids.max") == "33"
    # With a file, the other flags are ignored.
    ctx.ok("update", "-r", "-", "--pids-limit", "99", cid, input='{"pids": {"limit": 44}}')
    assert read_cg(pid, "pids", "pids.max", "pids.max") == "44"
    ctx.destroy(cid)


def test_update_merges_with_earlier_values(ctx):
    cid, pid = running(ctx)
    d, version = cgroup_dir(pid, "memory")
    swap_file = "memory.memsw.limit_in_bytes" if version == 1 else "memory.swap.max"
    if not os.path.exists(os.path.join(d, swap_file)):
        ctx.destroy(cid)
        pytest.skip("needs swap accounting")
    ctx.ok("update", "--memory", "64m", "--memory-swap", "128m", cid)
    # Only the memory limit changes; memory+swap stays as set before, which
    # v2 stores as swap alone: 128m - 100m.
    ctx.ok("update", "--memory", "100m", cid)
    assert read_cg(pid, "memory", "memory.limit_in_bytes", "memory.max") == str(100 * MiB)
    assert read_cg(pid, "memory", swap_file, swap_file) == str((128 if version == 1 else 28) * MiB)
    ctx.destroy(cid)


@berth_only
def test_update_persists_in_state(ctx):
    cid, pid = running(ctx, memory={"limit": 64 * MiB})
    ctx.ok("update", "--pids-limit", "30", cid)
    ctx.ok("update", "--cpu-share", "512", cid)
    with open(os.path.join(ctx.root, cid, "config.json")) as f:
        res = json.load(f)["linux"]["resources"]
    assert res["memory"] == {"limit": 64 * MiB}
    assert res["pids"] == {"limit": 30}
    assert res["cpu"] == {"shares": 512}
    assert res["devices"] == [{"allow": False, "access": "rwm"}]
    ctx.destroy(cid)


@pytest.mark.parametrize("flag,value,message", [
    ("--memory", "1x", "invalid value for memory: invalid size: '1x'"),
    ("--memory-swap", "1.2.3", 'invalid value for memory-swap: strconv.ParseFloat: parsing "1.2.3": invalid syntax'),
    ("--cpu-share", "abc", 'invalid value for cpu-share: strconv.ParseUint: parsing "abc": invalid syntax'),
    ("--cpu-quota", "1.5", 'invalid value for cpu-quota: strconv.ParseInt: parsing "1.5": invalid syntax'),
    ("--cpu-period", "-1", 'invalid value for cpu-period: strconv.ParseUint: parsing "-1": invalid syntax'),
])
def test_update_bad_values(ctx, flag, value, message):
    cid, _ = running(ctx)
    r = ctx.fail("update", flag, value, cid)
    assert message in r.err.replace('\\"', '"'), r
    ctx.destroy(cid)


def test_update_intel_rdt_unavailable(ctx):
    if os.path.exists("/sys/fs/resctrl/info"):
        pytest.skip("resctrl is mounted here")
    cid, _ = running(ctx)
    r = ctx.fail("update", "--l3-cache-schema", "L3:0=f", cid)
    assert "Intel RDT/CAT: l3 cache schema is not enabled" in r.err, r
    r = ctx.fail("update", "--mem-bw-schema", "MB:0=70", cid)
    assert "Intel RDT/MBA: memory bandwidth schema is not enabled" in r.err, r
    ctx.destroy(cid)


def test_update_kernel_memory_is_ignored(ctx):
    cid, _ = running(ctx)
    r = ctx.ok("update", "--kernel-memory", "64m", cid)
    assert "Kernel memory settings are ignored" in r.err, r
    ctx.destroy(cid)


def test_update_stopped_and_missing(ctx):
    cid = stopped(ctx)
    r = ctx.fail("update", "--memory", "64m", cid)
    assert "container not running" in r.err, r
    ctx.ok("delete", cid)
    r = ctx.fail("update", "--memory", "64m", "t-no-such")
    assert "container does not exist" in r.err, r


def test_update_resources_file_errors(ctx):
    cid, _ = running(ctx)
    r = ctx.fail("update", "-r", os.path.join(ctx.tmp, "absent.json"), cid)
    assert "no such file or directory" in r.err.lower(), r
    r = ctx.fail("update", "-r", "-", cid, input="{bad")
    assert r.rc == 1
    r = ctx.fail("update", "-r", "-", cid, input='{"memory": {"limit": "x"}}')
    assert "memory.limit" in r.err, r
    ctx.destroy(cid)
