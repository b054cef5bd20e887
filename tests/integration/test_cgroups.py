"""linux.resources at create, each checked in the host's cgroup files (v1,
v2 or hybrid: the file is looked up where the controller is), cgroupsPath
relative and absolute, pause/resume, and clear errors for controllers the
host lacks.  The same tests run on a pure cgroup v2 guest (tests/vm)."""

import json
import os
import time

import pytest

from test_events_update import cgroup_dir, read_cg, running
from util import berth_only, new_id, runc_lacks, wait_for

MiB = 1024 * 1024


def cg_version(pid, controller):
    return cgroup_dir(pid, controller)[1]


def create_fails(ctx, **res):
    b = ctx.bundle(["true"], edit=lambda s: s["linux"]["resources"].update(res))
    r = ctx.cmd("run", "--bundle", b, ctx.new_id())
    assert r.rc != 0 and r.err.strip(), r
    return r.err


def block_device():
    """major:minor of a real block device of this host (the root disk)."""
    for name in sorted(os.listdir("/sys/block")):
        if name.startswith(("loop", "ram", "zram")):
            continue
        with open(f"/sys/block/{name}/dev") as f:
            major, minor = f.read().strip().split(":")
        return int(major), int(minor)
    pytest.skip("no block device")


# ------------------------------------------------------------------ memory

def test_memory_limit_reservation_and_swap(ctx):
    cid, pid = running(ctx, memory={"limit": 64 * MiB, "reservation": 32 * MiB, "swap": 96 * MiB})
    if cg_version(pid, "memory") == 1:
        assert read_cg(pid, "memory", "memory.limit_in_bytes", None) == str(64 * MiB)
        assert read_cg(pid, "memory", "memory.soft_limit_in_bytes", None) == str(32 * MiB)
        d, _ = cgroup_dir(pid, "memory")
        if os.path.exists(os.path.join(d, "memory.memsw.limit_in_bytes")):
            assert read_cg(pid, "memory", "memory.memsw.limit_in_bytes", None) == str(96 * MiB)
    else:
        assert read_cg(pid, "memory", None, "memory.max") == str(64 * MiB)
        assert read_cg(pid, "memory", None, "memory.low") == str(32 * MiB)
        # v2 counts swap alone: memory+swap 96 MiB is 32 MiB of swap.
        assert read_cg(pid, "memory", None, "memory.swap.max") == str(32 * MiB)
    ctx.destroy(cid)


def test_memory_swappiness_and_oom_killer(ctx):
    if cgroup_dir(os.getpid(), "memory")[1] == 2:
        pytest.skip("cgroup v2 has neither memory.swappiness nor oom_control")
    cid, pid = running(ctx, memory={"limit": 64 * MiB, "swappiness": 10, "disableOOMKiller": True})
    assert read_cg(pid, "memory", "memory.swappiness", None) == "10"
    assert "oom_kill_disable 1" in read_cg(pid, "memory", "memory.oom_control", None)
    ctx.destroy(cid)


def test_memory_limit_is_enforced_inside(ctx):
    # The effect, not only the file: filling 64 MiB of tmpfs (charged to the
    # container) under a 16 MiB limit without swap gets dd OOM-killed.
    b = ctx.bundle(["sh", "-c", "dd if=/dev/zero of=/dev/shm/fill bs=1M count=64 2>/dev/null && echo complete"],
                   edit=lambda s: s["linux"]["resources"].update(memory={"limit": 16 * MiB, "swap": 16 * MiB}))
    r = ctx.cmd("run", "--bundle", b, ctx.new_id())
    assert "complete" not in r.out and r.rc != 0, r


# --------------------------------------------------------------------- cpu

@runc_lacks("cpu.burst on cgroup v1")
def test_cpu_shares_quota_period_burst(ctx):
    cid, pid = running(ctx, cpu={"shares": 512, "quota": 20000, "period": 100000, "burst": 5000})
    if cg_version(pid, "cpu") == 1:
        assert read_cg(pid, "cpu", "cpu.shares", None) == "512"
        assert read_cg(pid, "cpu", "cpu.cfs_quota_us", None) == "20000"
        assert read_cg(pid, "cpu", "cpu.cfs_period_us", None) == "100000"
        assert read_cg(pid, "cpu", "cpu.cfs_burst_us", None) == "5000"
    else:
        # runc's and crun's conversion of shares [2, 262144] to weight [1, 10000].
        assert read_cg(pid, "cpu", None, "cpu.weight") == str(1 + ((512 - 2) * 9999) // 262142)
        assert read_cg(pid, "cpu", None, "cpu.max") == "20000 100000"
        assert read_cg(pid, "cpu", None, "cpu.max.burst") == "5000"
    ctx.destroy(cid)


@runc_lacks("cpu.idle on cgroup v1")
def test_cpu_idle(ctx):
    # Looked for in a container's cgroup: a v2 root cgroup has no cpu.idle,
    # and the tests may run in one (tests/vm).
    cid, pid = running(ctx)
    has_idle = os.path.exists(os.path.join(cgroup_dir(pid, "cpu")[0], "cpu.idle"))
    ctx.destroy(cid)
    if not has_idle:
        pytest.skip("this kernel has no cpu.idle")
    cid, pid = running(ctx, cpu={"idle": 1})
    assert read_cg(pid, "cpu", "cpu.idle", "cpu.idle") == "1"
    ctx.destroy(cid)


def test_cpuset_cpus_and_mems(ctx):
    cid, pid = running(ctx, cpu={"cpus": "0", "mems": "0"})
    assert read_cg(pid, "cpuset", "cpuset.cpus", "cpuset.cpus") == "0"
    assert read_cg(pid, "cpuset", "cpuset.mems", "cpuset.mems") == "0"
    with open(f"/proc/{pid}/status") as f:
        assert "Cpus_allowed_list:\t0\n" in f.read()
    ctx.destroy(cid)


@berth_only
def test_cpu_realtime(ctx):
    d, version = cgroup_dir(os.getpid(), "cpu")
    if version == 2 or not os.path.exists(os.path.join(d, "cpu.rt_runtime_us")):
        pytest.skip("no realtime group scheduling (CONFIG_RT_GROUP_SCHED) here")
    cid, pid = running(ctx, cpu={"realtimeRuntime": 10000, "realtimePeriod": 1000000})
    assert read_cg(pid, "cpu", "cpu.rt_period_us", None) == "1000000"
    assert read_cg(pid, "cpu", "cpu.rt_runtime_us", None) == "10000"
    ctx.destroy(cid)


# -------------------------------------------------------------------- pids

def test_pids_limit_is_enforced_inside(ctx):
    b = ctx.bundle(["sh", "-c", "for i in 1 2 3 4 5 6; do sleep 5 & done 2>&1; wait; true"],
                   edit=lambda s: s["linux"]["resources"].update(pids={"limit": 4}))
    cid = ctx.new_id()
    r = ctx.cmd("run", "--bundle", b, cid)
    assert "Resource temporarily unavailable" in r.out + r.err or "can't fork" in r.out + r.err, r


# ----------------------------------------------------------------- blockIO

def test_blkio_throttles(ctx):
    major, minor = block_device()
    dev = lambda rate: [{"major": major, "minor": minor, "rate": rate}]  # noqa: E731
    cid, pid = running(ctx, blockIO={"throttleReadBpsDevice": dev(1048576), "throttleWriteBpsDevice": dev(2097152),
                                   "throttleReadIOPSDevice": dev(100), "throttleWriteIOPSDevice": dev(200)})
    if cg_version(pid, "blkio") == 1:
        assert read_cg(pid, "blkio", "blkio.throttle.read_bps_device", None) == f"{major}:{minor} 1048576"
        assert read_cg(pid, "blkio", "blkio.throttle.write_bps_device", None) == f"{major}:{minor} 2097152"
        assert read_cg(pid, "blkio", "blkio.throttle.read_iops_device", None) == f"{major}:{minor} 100"
        assert read_cg(pid, "blkio", "blkio.throttle.write_iops_device", None) == f"{major}:{minor} 200"
    else:
        assert read_cg(pid, "io", None, "io.max") == f"{major}:{minor} rbps=1048576 wbps=2097152 riops=100 wiops=200"
    ctx.destroy(cid)


def weight_file(d, version):
    """The I/O weight file of cgroup dir d: CFQ's went with CFQ (Linux 5.0),
    BFQ's are what kernels have now; None without either."""
    prefix = "blkio" if version == 1 else "io"
    return next((n for n in (f"{prefix}.weight", f"{prefix}.bfq.weight") if os.path.exists(os.path.join(d, n))), None)


def test_blkio_weight(ctx):
    cid, pid = running(ctx, blockIO={"weight": 300})
    d, version = cgroup_dir(pid, "blkio")
    name = weight_file(d, version)
    if name is None:
        ctx.destroy(cid)
        pytest.skip("no I/O weight files (no BFQ scheduler)")
    # io.weight (v2 without BFQ) takes it converted from [10, 1000] to
    # [1, 10000], as runc and crun convert it.
    want = str(1 + ((300 - 10) * 9999) // 990) if name == "io.weight" else "300"
    with open(os.path.join(d, name)) as f:
        assert want in f.read().split()
    ctx.destroy(cid)


@berth_only
def test_blkio_weight_device(ctx):
    # Per-device weights need the device to use BFQ; otherwise the kernel
    # refuses, and the error names the field, the device and the file.
    major, minor = block_device()
    with open(f"/sys/dev/block/{major}:{minor}/queue/scheduler") as f:
        bfq = "[bfq]" in f.read()
    res = {"blockIO": {"weightDevice": [{"major": major, "minor": minor, "weight": 500}]}}
    if not bfq:
        err = create_fails(ctx, **res)
        if cg_version(os.getpid(), "blkio") == 1:
            assert "linux.resources.blockIO" in err and f"{major}:{minor} 500" in err and "weight_device" in err, err
        else:
            # v2: io.weight, the weight converted as blockIO.weight is
            io_weight = 1 + ((500 - 10) * 9999) // 990
            assert "linux.resources.blockIO" in err and f"{major}:{minor} {io_weight}" in err and "io.weight" in err, err
        return
    cid, pid = running(ctx, **res)
    d, version = cgroup_dir(pid, "blkio")
    name = weight_file(d, version)
    with open(os.path.join(d, name + "_device" if version == 1 else name)) as f:
        assert f"{major}:{minor} 500" in f.read()
    ctx.destroy(cid)


# ------------------------------------------------------------ hugepages

@runc_lacks("hugetlb on the cgroup2 hierarchy of a hybrid host")
def test_hugepage_limits(ctx):
    if not os.path.isdir("/sys/kernel/mm/hugepages/hugepages-2048kB"):
        pytest.skip("no 2 MB huge pages")
    cid, pid = running(ctx, hugepageLimits=[{"pageSize": "2MB", "limit": 4 * 2 * MiB}])
    # v1 hierarchy if the host has one, else the cgroup2 one (on this hybrid
    # host hugetlb lives only on /sys/fs/cgroup/unified).
    assert read_cg(pid, "hugetlb", "hugetlb.2MB.limit_in_bytes", "hugetlb.2MB.max") == str(8 * MiB)
    ctx.destroy(cid)


@berth_only
def test_unknown_hugepage_size_is_refused(ctx):
    err = create_fails(ctx, hugepageLimits=[{"pageSize": "3MB", "limit": 1}])
    assert "hugepageLimits" in err and "3MB" in err, err


# ------------------------------------------- network, rdma and unified

@berth_only
def test_network_class_id(ctx):
    if os.path.isdir("/sys/fs/cgroup/net_cls") or os.path.isdir("/sys/fs/cgroup/net_cls,net_prio"):
        cid, pid = running(ctx, network={"classID": 0x100001})
        assert read_cg(pid, "net_cls", "net_cls.classid", None) == str(0x100001)
        ctx.destroy(cid)
    else:
        err = create_fails(ctx, network={"classID": 0x100001})
        assert "linux.resources.network.classID" in err and "net_cls" in err, err


@berth_only
def test_rdma_without_the_controller_or_device_is_a_clear_error(ctx):
    err = create_fails(ctx, rdma={"nosuchdev0": {"hcaHandles": 2, "hcaObjects": 100}})
    assert "linux.resources.rdma" in err and ("rdma" in err.split("linux.resources.rdma", 1)[1]), err


@berth_only
def test_unified_keys_go_to_the_cgroup2_hierarchy(ctx):
    d, version = cgroup_dir(os.getpid(), "hugetlb")
    if version != 2:
        pytest.skip("no cgroup2 hierarchy holding hugetlb")
    if not os.path.isdir("/sys/kernel/mm/hugepages/hugepages-2048kB"):
        pytest.skip("no 2 MB huge pages")
    cid, pid = running(ctx, unified={"hugetlb.2MB.max": str(6 * MiB)})
    assert read_cg(pid, "hugetlb", None, "hugetlb.2MB.max") == str(6 * MiB)
    ctx.destroy(cid)


@berth_only
def test_unified_key_of_a_missing_file_names_it(ctx):
    err = create_fails(ctx, unified={"nosuch.knob": "1"})
    assert "linux.resources.unified" in err and "nosuch.knob" in err, err


# --------------------------------------------------------- cgroupsPath

def own_cgroup(pid, controller="pids"):
    """pid's cgroup path in the v1 hierarchy of `controller`, else in v2."""
    v2 = None
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            hid, ctrls, path = line.rstrip("\n").split(":", 2)
            if controller in ctrls.split(","):
                return path
            if hid == "0":
                v2 = path
    return v2


def test_cgroups_path_absolute(ctx):
    path = f"/{new_id('bcg')}/inner"
    cid = ctx.start_running(["sleep", "60"], edit=lambda s: s["linux"].update(cgroupsPath=path))
    pid = ctx.state(cid)["pid"]
    assert own_cgroup(pid) == path
    d, _ = cgroup_dir(pid, "pids")
    ctx.ok("delete", "--force", cid)
    assert not os.path.exists(d)


def test_cgroups_path_relative_is_below_the_callers(ctx):
    rel = f"{new_id('bcg')}/inner"
    cid = ctx.start_running(["sleep", "60"], edit=lambda s: s["linux"].update(cgroupsPath=rel))
    pid = ctx.state(cid)["pid"]
    mine = own_cgroup(os.getpid(), "memory")
    theirs = own_cgroup(pid, "memory")
    assert theirs == (mine.rstrip("/") + "/" + rel), (mine, theirs)
    ctx.ok("delete", "--force", cid)


def test_cgroup_is_removed_at_delete(ctx):
    cid, pid = running(ctx, pids={"limit": 10})
    d, _ = cgroup_dir(pid, "pids")
    assert os.path.isdir(d)
    ctx.ok("delete", "--force", cid)
    assert not os.path.exists(d)


# ----------------------------------------------------- pause / resume

def proc_state(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def test_pause_and_resume_freeze_every_process(ctx):
    b = ctx.bundle(["sh", "-c", "sleep 60 & while :; do date +%s%N > /tick; usleep 20000; done"])
    cid = ctx.new_id()
    ctx.ok("run", "--detach", "--bundle", b, cid)
    pid = ctx.state(cid)["pid"]
    tick = os.path.join(b, "rootfs", "tick")

    def read_tick():
        with open(tick) as f:
            return f.read()
    assert wait_for(lambda: os.path.exists(tick) and read_tick() != "")
    ctx.ok("pause", cid)
    assert ctx.state(cid)["status"] == "paused"
    d, version = cgroup_dir(pid, "freezer")
    if version == 1:
        assert read_cg(pid, "freezer", "freezer.state", None) == "FROZEN"
    else:
        assert read_cg(pid, "freezer", None, "cgroup.freeze") == "1"
    assert len(json.loads(ctx.ok("ps", "--format", "json", cid).out)) >= 2
    frozen = read_tick()
    time.sleep(0.3)
    assert read_tick() == frozen, "the container ran while paused"
    ctx.ok("resume", cid)
    assert ctx.state(cid)["status"] == "running"
    assert wait_for(lambda: read_tick() != frozen), "the container did not run again after resume"
    ctx.destroy(cid)


@berth_only
def test_systemd_cgroup_without_systemd_is_a_clear_error(ctx):
    if os.path.isdir("/run/systemd/system"):
        pytest.skip("systemd runs here")
    b = ctx.bundle(["true"], edit=lambda s: s["linux"].update(cgroupsPath="system.slice:berth:" + new_id()))
    r = ctx.cmd("--systemd-cgroup", "run", "--bundle", b, ctx.new_id())
    assert r.rc != 0 and "systemd" in r.err, r


def test_cpuset_parent_left_empty_by_a_concurrent_create(ctx):
    # Two creates racing on a shared parent: the one that made it may not
    # have copied cpus/mems into it yet when the other makes its leaf
    # below.  An empty v1 cpuset parent must be filled, not copied empty.
    if cgroup_dir(os.getpid(), "cpuset")[1] != 1:
        pytest.skip("v1 cpuset only: v2 cpusets inherit their parent's")
    parent = new_id("bcg")
    top = os.path.join(cgroup_dir(os.getpid(), "cpuset")[0], parent)
    os.mkdir(top)
    try:
        with open(os.path.join(top, "cpuset.cpus")) as f:
            assert f.read().strip() == ""
        cid = ctx.start_running(["sleep", "60"], edit=lambda s: s["linux"].update(cgroupsPath=f"{parent}/c"))
        with open(os.path.join(top, "cpuset.cpus")) as f:
            assert f.read().strip() != ""
        ctx.destroy(cid)
    finally:
        for d in [os.path.join(m, parent) for m in ("/sys/fs/cgroup/" + h for h in os.listdir("/sys/fs/cgroup"))]:
            if os.path.isdir(d):
                os.rmdir(d)
