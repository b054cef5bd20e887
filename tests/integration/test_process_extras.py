"""Process attributes beyond ids and capabilities: personality, ioPriority,
scheduler, execCPUAffinity, memoryPolicy, and LSM labels on a host without
the LSM (a clear error).  Each is read back from inside the container."""

from util import berth_only, runc_lacks


def proc_field(stat_line, n):
    """Field n (1-based) of /proc/PID/stat, comm may contain spaces."""
    rest = stat_line[stat_line.rindex(")") + 2:].split()
    return rest[n - 3]


@runc_lacks("linux.personality (runc 1.1 ignores it)")
def test_personality_linux32(ctx):
    out = ctx.sh("uname -m", edit=lambda s: s["linux"].update(personality={"domain": "LINUX32"}))
    assert out.strip() in ("i686", "i386"), out


@berth_only
def test_personality_unknown_domain_names_path(ctx):
    r = ctx.run(["true"], edit=lambda s: s["linux"].update(personality={"domain": "PDP11"}))
    assert r.rc != 0 and "linux.personality.domain" in r.err, r


@berth_only
def test_io_priority(ctx):
    out = ctx.sh("ionice -p $$", edit=lambda s: s["process"].update(
        ioPriority={"class": "IOPRIO_CLASS_BE", "priority": 5}))
    assert "best-effort" in out and "5" in out, out


@berth_only
def test_scheduler_batch_with_nice(ctx):
    out = ctx.sh("cat /proc/self/stat", edit=lambda s: s["process"].update(
        scheduler={"policy": "SCHED_BATCH", "nice": 7}))
    assert proc_field(out, 19) == "7", out     # nice
    assert proc_field(out, 41) == "3", out     # policy: SCHED_BATCH


@berth_only
def test_scheduler_unknown_policy_names_path(ctx):
    r = ctx.run(["true"], edit=lambda s: s["process"].update(scheduler={"policy": "SCHED_FAST"}))
    assert r.rc != 0 and "process.scheduler.policy" in r.err and "SCHED_FAST" in r.err, r


@berth_only
def test_exec_cpu_affinity_final(ctx):
    out = ctx.sh("grep Cpus_allowed_list /proc/self/status",
                 edit=lambda s: s["process"].update(execCPUAffinity={"final": "0"}))
    assert out.split()[-1] == "0", out


@berth_only
def test_exec_cpu_affinity_bad_list_names_path(ctx):
    r = ctx.run(["true"], edit=lambda s: s["process"].update(execCPUAffinity={"final": "0-x"}))
    assert r.rc != 0 and "process.execCPUAffinity.final" in r.err, r


@berth_only
def test_memory_policy_bind(ctx):
    out = ctx.sh("grep -m1 heap /proc/self/numa_maps || head -1 /proc/self/numa_maps",
                 edit=lambda s: s["linux"].update(memoryPolicy={"mode": "MPOL_BIND", "nodes": "0"}))
    assert "bind:0" in out, out


@berth_only
def test_apparmor_profile_on_host_without_apparmor_is_a_clear_error(ctx):
    r = ctx.run(["true"], edit=lambda s: s["process"].update(apparmorProfile="my-profile"))
    assert r.rc != 0, r
    assert "process.apparmorProfile" in r.err and "AppArmor is not enabled" in r.err, r


@berth_only
def test_selinux_label_on_host_without_selinux_is_a_clear_error(ctx):
    r = ctx.run(["true"], edit=lambda s: s["process"].update(selinuxLabel="system_u:system_r:container_t:s0"))
    assert r.rc != 0 and "process.selinuxLabel" in r.err and "SELinux is not enabled" in r.err, r


@berth_only
def test_mount_label_on_host_without_selinux_is_ignored_with_a_warning(ctx):
    # Only the process label confines; a mount label alone labels files for
    # a policy this host does not have (crun and containerd ignore it too).
    r = ctx.run(["true"], edit=lambda s: s["linux"].update(mountLabel="system_u:object_r:container_file_t:s0"))
    assert r.rc == 0 and "linux.mountLabel ignored" in r.err and "SELinux is not enabled" in r.err, r
