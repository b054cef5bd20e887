"""Containers: CreateContainer, StartContainer, StopContainer,
RemoveContainer, ContainerStatus, ListContainers, UpdateContainerResources,
ReopenContainerLog, ExecSync, the pod's stop hook, and recovery after
berthd is SIGKILLed.

A busybox image is pushed to the session registry and pulled through
berthd.  What a container gets is checked from inside (ExecSync) and from
the host (its cgroup files, its log).  The `ctrs` fixture fails a test that
leaves a container, a dir, a monitor; `pods` then checks mounts and cgroups.
"""

import json
import os
import shutil
import signal
import subprocess
import threading
import time

import grpc
import pytest

from conftest import Berthd, Client, PodLeaks, check_container_leaks, berthd_monitors, write_pod_cni

RUNNING, CREATED, EXITED = 1, 0, 2
SLEEP = ["/bin/busybox", "sleep", "1000"]


@pytest.fixture(scope="session")
def image(pb, pod_berthd, registry):
    """busybox pulled into pod_berthd's store; its name."""
    ref = f"{registry.host}/test/busybox:1"
    c = Client(pb, pod_berthd.address)
    c.image.PullImage(pb[0].PullImageRequest(image=pb[0].ImageSpec(image=ref)), timeout=60)
    c.close()
    return ref


def pod_config(pb, logdir, name="web", uid="uid-c", **kw):
    kw.setdefault("hostname", name)
    return pb.PodSandboxConfig(metadata=pb.PodSandboxMetadata(name=name, namespace="default", uid=uid, attempt=0),
                               log_directory=logdir,
                               dns_config=pb.DNSConfig(servers=["10.0.0.10"], searches=["svc.local"]), **kw)


def run_pod(c, cfg):
    return c.runtime.RunPodSandbox(c.pb.RunPodSandboxRequest(config=cfg), timeout=60).pod_sandbox_id


def ctr_config(pb, image, name="app", args=SLEEP, **kw):
    return pb.ContainerConfig(metadata=pb.ContainerMetadata(name=name), image=pb.ImageSpec(image=image),
                              command=args[:1], args=args[1:], **kw)


def create(c, pod_id, pcfg, ccfg):
    return c.runtime.CreateContainer(c.pb.CreateContainerRequest(pod_sandbox_id=pod_id, config=ccfg,
                                                                 sandbox_config=pcfg), timeout=60).container_id


def start(c, cid):
    c.runtime.StartContainer(c.pb.StartContainerRequest(container_id=cid), timeout=30)


def stop(c, cid, timeout=0):
    c.runtime.StopContainer(c.pb.StopContainerRequest(container_id=cid, timeout=timeout), timeout=60)


def remove(c, cid):
    c.runtime.RemoveContainer(c.pb.RemoveContainerRequest(container_id=cid), timeout=60)


def status(c, cid, verbose=False):
    return c.runtime.ContainerStatus(c.pb.ContainerStatusRequest(container_id=cid, verbose=verbose), timeout=30)


def info(c, cid):
    return json.loads(status(c, cid, verbose=True).info["info"])


def listc(c, **filt):
    f = c.pb.ContainerFilter(**filt) if filt else None
    return sorted(x.id for x in c.runtime.ListContainers(c.pb.ListContainersRequest(filter=f), timeout=30).containers)


def exec_sync(c, cid, *cmd, timeout=10):
    r = c.runtime.ExecSync(c.pb.ExecSyncRequest(container_id=cid, cmd=list(cmd), timeout=timeout), timeout=60)
    return r.exit_code, r.stdout.decode(), r.stderr.decode()


def out(c, cid, *cmd):
    code, o, e = exec_sync(c, cid, *cmd)
    assert code == 0, (cmd, code, o, e)
    return o


def wait_state(c, cid, state, timeout=10):
    deadline = time.time() + timeout
    while True:
        s = status(c, cid).status
        if s.state == state or time.time() > deadline:
            return s
        time.sleep(0.05)


def code_of(fn):
    with pytest.raises(grpc.RpcError) as e:
        fn()
    return e.value.code(), e.value.details()


def cgroup_file(pid, controller, name):
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            _, ctrls, path = line.rstrip("\n").split(":", 2)
            if controller in ctrls.split(","):
                with open(f"/sys/fs/cgroup/{controller}{path}/{name}") as g:
                    return g.read().strip()
    raise AssertionError(f"no {controller} cgroup for {pid}")


def log_lines(path):
    with open(path) as f:
        return [line.rstrip("\n").split(" ", 3) for line in f]


def test_container_lifecycle_seen_from_inside(ctrs, image, tmp):
    pb = ctrs.pb
    pcfg = pod_config(pb, tmp)
    pod = run_pod(ctrs, pcfg)
    res = pb.LinuxContainerResources(memory_limit_in_bytes=64 << 20, cpu_shares=512)
    ignore_term = ["/bin/sh", "-c", "trap '' TERM; while true; do /bin/busybox sleep 0.1; done"]
    ccfg = ctr_config(pb, image, args=ignore_term, envs=[pb.KeyValue(key="FOO", value=b"bar"),
                                       pb.KeyValue(key="GREETING", value=b"from config")],
                      labels={"tier": "front"}, annotations={"note": "x"}, log_path="app.log",
                      linux=pb.LinuxContainerConfig(resources=res))
    t0 = time.time_ns()
    cid = create(ctrs, pod, pcfg, ccfg)
    assert len(cid) == 64
    s = status(ctrs, cid).status
    assert s.state == CREATED and t0 <= s.created_at <= time.time_ns() and s.started_at == 0
    assert s.metadata.name == "app" and s.image.image == image and s.image_ref.startswith("sha256:")
    assert dict(s.labels) == {"tier": "front"} and dict(s.annotations) == {"note": "x"}
    assert s.log_path == os.path.join(tmp, "app.log")
    start(ctrs, cid)
    s = status(ctrs, cid).status
    assert s.state == RUNNING and s.started_at >= s.created_at

    assert out(ctrs, cid, "/bin/busybox", "hostname").strip() == "web"
    env = dict(line.split("=", 1) for line in out(ctrs, cid, "/bin/busybox", "env").splitlines())
    assert env["FOO"] == "bar" and env["GREETING"] == "from config" and env["HOSTNAME"] == "web"
    assert env["PATH"] == "/bin:/usr/bin"  # from the image
    assert out(ctrs, cid, "/bin/busybox", "id", "-u").strip() == "0"
    assert "web" in out(ctrs, cid, "/bin/cat", "/etc/hosts")
    assert "nameserver 10.0.0.10" in out(ctrs, cid, "/bin/cat", "/etc/resolv.conf")
    mounts = out(ctrs, cid, "/bin/cat", "/proc/mounts")
    assert any(line.split()[1] == "/dev/shm" for line in mounts.splitlines()), mounts
    caps = [line for line in out(ctrs, cid, "/bin/cat", "/proc/self/status").splitlines()
            if line.startswith("CapEff")][0].split()[1]
    assert int(caps, 16) & (1 << 21) == 0, caps  # no CAP_SYS_ADMIN
    assert int(caps, 16) & (1 << 0), caps  # CAP_CHOWN, a default one
    # cgroup limits from the config, then from UpdateContainerResources.
    init = info(ctrs, cid)["monitor"]["init_pid"]
    assert int(cgroup_file(init, "memory", "memory.limit_in_bytes")) == 64 << 20
    assert int(cgroup_file(init, "cpu", "cpu.shares")) == 512
    ctrs.runtime.UpdateContainerResources(pb.UpdateContainerResourcesRequest(
        container_id=cid, linux=pb.LinuxContainerResources(memory_limit_in_bytes=128 << 20)), timeout=30)
    assert int(cgroup_file(init, "memory", "memory.limit_in_bytes")) == 128 << 20
    # The id prefix works too.
    assert status(ctrs, cid[:12]).status.id == cid

    # The shell ignores SIGTERM: SIGKILL to every process at the timeout.
    t = time.time()
    stop(ctrs, cid, timeout=2)
    assert time.time() - t >= 1.9
    s = status(ctrs, cid).status
    assert s.state == EXITED and s.exit_code == 137 and s.reason == "Error" and s.finished_at >= s.started_at
    stop(ctrs, cid, timeout=2)  # idempotent
    assert code_of(lambda: exec_sync(ctrs, cid, "/bin/busybox", "true"))[0] == grpc.StatusCode.FAILED_PRECONDITION
    remove(ctrs, cid)
    assert listc(ctrs) == []
    remove(ctrs, cid)  # idempotent
    assert code_of(lambda: status(ctrs, cid))[0] == grpc.StatusCode.NOT_FOUND
    ctrs.runtime.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=pod), timeout=60)


def test_create_unpacks_missing_layers_through_the_helper(ctrs, image, tmp, pod_berthd):
    """berthd does not link the layer unpacker: a layer the store has as a
    blob but not unpacked (`berthctl pull --no-unpack` into a shared store,
    a snapshot removed) is unpacked by berthd-pull at CreateContainer."""
    pb = ctrs.pb
    snaps = os.path.join(pod_berthd.root, "snapshots")
    gone = [n for n in os.listdir(snaps) if not n.startswith("tmp")]
    assert gone
    for n in gone:
        shutil.rmtree(os.path.join(snaps, n))
    pcfg = pod_config(pb, tmp)
    pod = run_pod(ctrs, pcfg)
    cid = create(ctrs, pod, pcfg, ctr_config(pb, image, args=["/bin/busybox", "true"]))
    assert set(gone) <= set(os.listdir(snaps))
    start(ctrs, cid)
    s = wait_state(ctrs, cid, EXITED)
    assert s.state == EXITED and s.exit_code == 0
    ctrs.runtime.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=pod), timeout=60)


def test_log_and_exit_code(ctrs, image, tmp):
    pb = ctrs.pb
    pcfg = pod_config(pb, tmp)
    pod = run_pod(ctrs, pcfg)
    cid = create(ctrs, pod, pcfg, ctr_config(pb, image, args=["/bin/sh", "-c", "echo hello; echo oops >&2; exit 3"],
                                             log_path="out.log"))
    start(ctrs, cid)
    s = wait_state(ctrs, cid, EXITED)
    assert s.state == EXITED and s.exit_code == 3 and s.reason == "Error"
    lines = log_lines(os.path.join(tmp, "out.log"))
    assert sorted((l[1], l[2], l[3]) for l in lines) == [("stderr", "F", "oops"), ("stdout", "F", "hello")]
    assert all(l[0].endswith("Z") and len(l[0].split(".")[1]) == 10 for l in lines)
    ok = create(ctrs, pod, pcfg, ctr_config(pb, image, name="ok", args=["/bin/busybox", "true"]))
    start(ctrs, ok)
    s = wait_state(ctrs, ok, EXITED)
    assert s.exit_code == 0 and s.reason == "Completed"
    ctrs.runtime.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=pod), timeout=60)
    assert listc(ctrs) == []


def test_stop_signal_honoured_before_timeout(ctrs, image, tmp):
    pb = ctrs.pb
    pcfg = pod_config(pb, tmp)
    pod = run_pod(ctrs, pcfg)
    script = "trap 'exit 7' USR1; while true; do /bin/busybox sleep 0.1; done"
    cid = create(ctrs, pod, pcfg, ctr_config(pb, image, args=["/bin/sh", "-c", script], stop_signal=pb.SIGNAL_SIGUSR1))
    start(ctrs, cid)
    time.sleep(0.3)
    t = time.time()
    stop(ctrs, cid, timeout=20)
    assert time.time() - t < 5
    s = status(ctrs, cid).status
    assert s.state == EXITED and s.exit_code == 7
    ctrs.runtime.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=pod), timeout=60)


def test_exec_sync_exit_code_and_timeout(ctrs, image, tmp):
    pb = ctrs.pb
    pcfg = pod_config(pb, tmp)
    pod = run_pod(ctrs, pcfg)
    cid = create(ctrs, pod, pcfg, ctr_config(pb, image))
    start(ctrs, cid)
    assert exec_sync(ctrs, cid, "/bin/sh", "-c", "echo out; echo err >&2; exit 5") == (5, "out\n", "err\n")
    t = time.time()
    code, _, _ = exec_sync(ctrs, cid, "/bin/busybox", "sleep", "30", timeout=1)
    assert code == 137 and time.time() - t < 10
    code, msg = code_of(lambda: exec_sync(ctrs, cid))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "cmd" in msg
    ctrs.runtime.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=pod), timeout=60)


def test_list_filters(ctrs, image, tmp):
    pb = ctrs.pb
    pa, pb_ = pod_config(pb, tmp, name="pa", uid="ua"), pod_config(pb, tmp, name="pb", uid="ub")
    a_pod, b_pod = run_pod(ctrs, pa), run_pod(ctrs, pb_)
    a = create(ctrs, a_pod, pa, ctr_config(pb, image, name="a", labels={"app": "x"}))
    b = create(ctrs, b_pod, pb_, ctr_config(pb, image, name="b", labels={"app": "x", "tier": "back"}))
    start(ctrs, b)
    assert listc(ctrs) == sorted([a, b])
    assert listc(ctrs, id=a[:10]) == [a]
    assert listc(ctrs, pod_sandbox_id=b_pod) == [b]
    assert listc(ctrs, state=pb.ContainerStateValue(state=RUNNING)) == [b]
    assert listc(ctrs, state=pb.ContainerStateValue(state=CREATED)) == [a]
    assert listc(ctrs, label_selector={"app": "x"}) == sorted([a, b])
    assert listc(ctrs, label_selector={"tier": "back"}) == [b]
    assert listc(ctrs, label_selector={"app": "y"}) == []
    item = [x for x in ctrs.runtime.ListContainers(pb.ListContainersRequest(), timeout=30).containers if x.id == b][0]
    assert item.pod_sandbox_id == b_pod and item.metadata.name == "b" and item.image.image == image
    for p in (a_pod, b_pod):
        ctrs.runtime.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=p), timeout=60)
    assert listc(ctrs) == []


def test_reopen_log_after_rename(ctrs, image, tmp):
    pb = ctrs.pb
    pcfg = pod_config(pb, tmp)
    pod = run_pod(ctrs, pcfg)
    script = "i=0; while true; do echo line$i; i=$((i+1)); /bin/busybox sleep 0.05; done"
    cid = create(ctrs, pod, pcfg, ctr_config(pb, image, args=["/bin/sh", "-c", script], log_path="r.log"))
    start(ctrs, cid)
    path = os.path.join(tmp, "r.log")
    time.sleep(0.3)
    os.rename(path, path + ".1")
    ctrs.runtime.ReopenContainerLog(pb.ReopenContainerLogRequest(container_id=cid), timeout=30)
    time.sleep(0.3)
    assert os.path.exists(path) and log_lines(path)
    assert log_lines(path)[0][3].startswith("line")
    stop(ctrs, cid)
    code, _ = code_of(lambda: ctrs.runtime.ReopenContainerLog(pb.ReopenContainerLogRequest(container_id=cid),
                                                              timeout=30))
    assert code == grpc.StatusCode.FAILED_PRECONDITION
    ctrs.runtime.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=pod), timeout=60)


def test_stop_pod_stops_its_containers(ctrs, image, tmp):
    pb = ctrs.pb
    pcfg = pod_config(pb, tmp)
    pod = run_pod(ctrs, pcfg)
    cid = create(ctrs, pod, pcfg, ctr_config(pb, image))
    start(ctrs, cid)
    ctrs.runtime.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=pod), timeout=60)
    s = status(ctrs, cid).status
    assert s.state == EXITED and s.exit_code == 137
    # A stopped pod takes no new container.
    code, msg = code_of(lambda: create(ctrs, pod, pcfg, ctr_config(pb, image, name="late")))
    assert code == grpc.StatusCode.FAILED_PRECONDITION and "not ready" in msg
    ctrs.runtime.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=pod), timeout=60)
    assert listc(ctrs) == []


def test_create_failures_leave_nothing(ctrs, image, tmp, pod_berthd):
    pb = ctrs.pb
    pcfg = pod_config(pb, tmp)
    pod = run_pod(ctrs, pcfg)
    code, msg = code_of(lambda: create(ctrs, pod, pcfg, ctr_config(pb, image.replace("busybox", "nosuch"))))
    assert code == grpc.StatusCode.NOT_FOUND and "nosuch" in msg
    code, msg = code_of(lambda: create(ctrs, pod, pcfg, pb.ContainerConfig(image=pb.ImageSpec(image=image))))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "config.metadata.name" in msg
    code, msg = code_of(lambda: create(ctrs, pod, pcfg, ctr_config(pb, image, linux=pb.LinuxContainerConfig(
        security_context=pb.LinuxContainerSecurityContext(run_as_group=pb.Int64Value(value=5))))))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "run_as_group" in msg
    code, msg = code_of(lambda: create(ctrs, "f" * 64, pcfg, ctr_config(pb, image)))
    assert code == grpc.StatusCode.NOT_FOUND
    # A binary missing in the image: libberth's create fails, everything goes.
    code, msg = code_of(lambda: create(ctrs, pod, pcfg, ctr_config(pb, image, args=["/nosuch"])))
    assert code == grpc.StatusCode.UNKNOWN and "nosuch" in msg, msg
    assert listc(ctrs) == []
    from conftest import container_dirs_left
    assert container_dirs_left(pod_berthd) == []
    # The names were released, and a name is taken once.
    cid = create(ctrs, pod, pcfg, ctr_config(pb, image))
    code, msg = code_of(lambda: create(ctrs, pod, pcfg, ctr_config(pb, image)))
    assert code == grpc.StatusCode.ALREADY_EXISTS and cid in msg
    ctrs.runtime.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=pod), timeout=60)


def test_concurrent_same_name_one_wins(ctrs, image, tmp):
    pb = ctrs.pb
    pcfg = pod_config(pb, tmp)
    pod = run_pod(ctrs, pcfg)
    results = []

    def one():
        try:
            results.append(create(ctrs, pod, pcfg, ctr_config(pb, image)))
        except grpc.RpcError as e:
            results.append(e.code())

    threads = [threading.Thread(target=one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = [r for r in results if isinstance(r, str)]
    assert len(ids) == 1 and results.count(grpc.StatusCode.ALREADY_EXISTS) == 3, results
    ctrs.runtime.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=pod), timeout=60)


def test_sigkill_and_restart_finds_containers(pb, tmp, pod_leaks, image, pod_berthd):
    d = Berthd(tmp)
    write_pod_cni(d)
    pod_leaks(PodLeaks(d))
    d.start()
    c = Client(pb, d.address)
    monitors = berthd_monitors({d.proc.pid})
    found = []
    try:
        c.image.PullImage(pb[0].PullImageRequest(image=pb[0].ImageSpec(image=image)), timeout=60)
        logdir = os.path.join(tmp, "logs")
        os.makedirs(logdir)
        pcfg = pod_config(pb[0], logdir)
        pod = run_pod(c, pcfg)
        running = create(c, pod, pcfg, ctr_config(pb[0], image, name="running"))
        start(c, running)
        created = create(c, pod, pcfg, ctr_config(pb[0], image, name="created"))
        done = create(c, pod, pcfg, ctr_config(pb[0], image, name="done", args=["/bin/sh", "-c", "exit 4"]))
        start(c, done)
        wait_state(c, done, EXITED)
        lost = create(c, pod, pcfg, ctr_config(pb[0], image, name="lost"))
        start(c, lost)
        lost_mon, lost_init = info(c, lost)["monitor"]["pid"], info(c, lost)["monitor"]["init_pid"]
        c.close()
        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait()
        d.log.close()
        # A monitor killed while berthd is away: no exit file, 255 "Unknown".
        os.kill(lost_mon, signal.SIGKILL)
        d.start()
        c = Client(pb, d.address)
        got = {x.metadata.name: x for x in c.runtime.ListContainers(pb[0].ListContainersRequest(),
                                                                     timeout=30).containers}
        assert sorted(got) == ["created", "done", "lost", "running"]
        assert got["running"].state == RUNNING and got["created"].state == CREATED
        assert status(c, done).status.exit_code == 4
        s = status(c, lost).status
        assert s.state == EXITED and s.exit_code == 255 and s.reason == "Unknown"
        deadline = time.time() + 5  # and it was ended, not left running unwatched
        while os.path.exists(f"/proc/{lost_init}") and time.time() < deadline:
            time.sleep(0.05)
        assert not os.path.exists(f"/proc/{lost_init}")
        assert out(c, running, "/bin/busybox", "hostname").strip() == "web"
        code, _ = code_of(lambda: create(c, pod, pcfg, ctr_config(pb[0], image, name="running")))
        assert code == grpc.StatusCode.ALREADY_EXISTS
        stop(c, running)
        assert status(c, running).status.state == EXITED
        for x in (running, created, done, lost):
            remove(c, x)
        c.runtime.RemovePodSandbox(pb[0].RemovePodSandboxRequest(pod_sandbox_id=pod), timeout=60)
    finally:
        found = check_container_leaks(d, monitors, c)
        c.close()
        d.stop()
    assert not found, "test left: " + "; ".join(found)


def test_tty_output_goes_to_stdout_log(ctrs, image, tmp):
    pb = ctrs.pb
    pcfg = pod_config(pb, tmp)
    pod = run_pod(ctrs, pcfg)
    cid = create(ctrs, pod, pcfg, ctr_config(pb, image, args=["/bin/sh", "-c", "echo hi; echo err >&2"],
                                             tty=True, log_path="tty.log"))
    start(ctrs, cid)
    assert wait_state(ctrs, cid, EXITED).exit_code == 0
    lines = log_lines(os.path.join(tmp, "tty.log"))
    assert [(l[1], l[3]) for l in lines] == [("stdout", "hi"), ("stdout", "err")]
    ctrs.runtime.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=pod), timeout=60)


def test_privileged_container_in_privileged_pod(ctrs, image, tmp):
    pb = ctrs.pb
    priv = pb.LinuxPodSandboxConfig(security_context=pb.LinuxSandboxSecurityContext(privileged=True))
    pcfg = pod_config(pb, tmp, linux=priv)
    pod = run_pod(ctrs, pcfg)
    sc = pb.LinuxContainerConfig(security_context=pb.LinuxContainerSecurityContext(privileged=True))
    cid = create(ctrs, pod, pcfg, ctr_config(pb, image, linux=sc))
    start(ctrs, cid)
    caps = [line for line in out(ctrs, cid, "/bin/cat", "/proc/self/status").splitlines()
            if line.startswith("CapEff")][0].split()[1]
    assert int(caps, 16) & (1 << 21), caps  # CAP_SYS_ADMIN
    # Every host device: /dev/null is there, and so is one the default set lacks.
    devs = out(ctrs, cid, "/bin/ls", "/dev").split()
    assert "null" in devs and "loop-control" in devs, devs
    # Not privileged in an unprivileged pod.
    p2cfg = pod_config(pb, tmp, name="plain", uid="u-plain")
    pod2 = run_pod(ctrs, p2cfg)
    code, msg = code_of(lambda: create(ctrs, pod2, p2cfg, ctr_config(pb, image, linux=sc)))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "privileged" in msg
    for p in (pod, pod2):
        ctrs.runtime.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=p), timeout=60)


def test_container_follows_host_network_and_ipc_of_its_pod(ctrs, image, tmp):
    """A container whose config leaves namespace_options unset (POD) in a
    pod on the host's network and ipc joins the host's, as containerd does
    (critest's "portforward in host network" creates one so)."""
    pb = ctrs.pb
    NODE, CONTAINER = 2, 1
    lx = pb.LinuxPodSandboxConfig(security_context=pb.LinuxSandboxSecurityContext(
        namespace_options=pb.NamespaceOption(network=NODE, pid=CONTAINER, ipc=NODE)))
    pcfg = pod_config(pb, tmp, hostname="", linux=lx)
    pod = run_pod(ctrs, pcfg)
    cid = create(ctrs, pod, pcfg, ctr_config(pb, image))
    start(ctrs, cid)
    for ns in ("net", "ipc", "uts"):
        inside = out(ctrs, cid, "/bin/busybox", "readlink", f"/proc/self/ns/{ns}").strip()
        assert inside == os.readlink(f"/proc/self/ns/{ns}"), ns
    ctrs.runtime.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=pod), timeout=60)


def test_add_all_capabilities_is_berthds_bounding_set(ctrs, image, tmp, pod_berthd):
    """add_capabilities ["ALL"] in an unprivileged container means every
    capability berthd has (containerd's current caps), not 0..cap_last_cap:
    root here lacks CAP_SYS_RESOURCE and capset would fail."""
    pb = ctrs.pb
    pcfg = pod_config(pb, tmp)
    pod = run_pod(ctrs, pcfg)

    def capbnd(text):
        return int([line for line in text.splitlines() if line.startswith("CapBnd")][0].split()[1], 16)

    with open(f"/proc/{pod_berthd.proc.pid}/status") as f:
        have = capbnd(f.read())
    sc = pb.LinuxContainerConfig(security_context=pb.LinuxContainerSecurityContext(
        capabilities=pb.Capability(add_capabilities=["ALL"], drop_capabilities=["CHOWN"])))
    cid = create(ctrs, pod, pcfg, ctr_config(pb, image, linux=sc))
    start(ctrs, cid)
    status_text = out(ctrs, cid, "/bin/cat", "/proc/self/status")
    assert capbnd(status_text) == have & ~1, status_text  # CAP_CHOWN is bit 0
    ctrs.runtime.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=pod), timeout=60)


def test_container_stats(ctrs, image, tmp):
    """ContainerStats and ListContainerStats: attributes, cpu and memory
    from the container's cgroup (as the host sees it), filters; an exited
    container has attributes only."""
    pb = ctrs.pb
    pcfg = pod_config(pb, tmp)
    pod = run_pod(ctrs, pcfg)
    res = pb.LinuxContainerResources(memory_limit_in_bytes=64 << 20)
    cid = create(ctrs, pod, pcfg, ctr_config(pb, image, labels={"tier": "front"}, annotations={"a": "b"},
                                             linux=pb.LinuxContainerConfig(resources=res)))
    start(ctrs, cid)
    t0 = time.time_ns()
    st = ctrs.runtime.ContainerStats(pb.ContainerStatsRequest(container_id=cid[:12]), timeout=30).stats
    assert st.attributes.id == cid and st.attributes.metadata.name == "app"
    assert dict(st.attributes.labels) == {"tier": "front"} and dict(st.attributes.annotations) == {"a": "b"}
    assert st.cpu.timestamp >= t0 and st.cpu.usage_core_nano_seconds.value > 0
    assert st.memory.timestamp >= t0 and 0 < st.memory.working_set_bytes.value <= st.memory.usage_bytes.value
    init = info(ctrs, cid)["monitor"]["init_pid"]
    assert int(cgroup_file(init, "cpuacct", "cpuacct.usage")) >= st.cpu.usage_core_nano_seconds.value
    assert st.memory.usage_bytes.value <= int(cgroup_file(init, "memory", "memory.limit_in_bytes")) == 64 << 20

    def ids(**filt):
        f = pb.ContainerStatsFilter(**filt) if filt else None
        r = ctrs.runtime.ListContainerStats(pb.ListContainerStatsRequest(filter=f), timeout=30)
        return {s.attributes.id: s for s in r.stats}

    assert set(ids()) == {cid}
    assert set(ids(id=cid[:8])) == {cid} and set(ids(pod_sandbox_id=pod)) == {cid}
    assert set(ids(label_selector={"tier": "front"})) == {cid} and not ids(label_selector={"tier": "back"})
    assert not ids(id="f" * 64)
    code, _ = code_of(lambda: ctrs.runtime.ContainerStats(pb.ContainerStatsRequest(container_id="0" * 64), timeout=30))
    assert code == grpc.StatusCode.NOT_FOUND
    stop(ctrs, cid)
    ended = ids()[cid]
    assert ended.attributes.id == cid and not ended.HasField("cpu") and not ended.HasField("memory")
    ctrs.runtime.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=pod), timeout=60)


def test_config_mount_seen_inside_and_in_status(ctrs, image, tmp):
    pb = ctrs.pb
    vol = os.path.join(tmp, "vol")
    os.makedirs(vol)
    with open(os.path.join(vol, "f"), "w") as f:
        f.write("from the host\n")
    pcfg = pod_config(pb, tmp)
    pod = run_pod(ctrs, pcfg)
    m = pb.Mount(container_path="/mnt/vol", host_path=vol, readonly=True)
    cid = create(ctrs, pod, pcfg, ctr_config(pb, image, mounts=[m]))
    start(ctrs, cid)
    assert out(ctrs, cid, "/bin/cat", "/mnt/vol/f") == "from the host\n"
    code, _, _ = exec_sync(ctrs, cid, "/bin/sh", "-c", "echo x > /mnt/vol/g")
    assert code != 0 and not os.path.exists(os.path.join(vol, "g"))
    (sm,) = status(ctrs, cid).status.mounts
    assert (sm.container_path, sm.host_path, sm.readonly) == ("/mnt/vol", vol, True)
    ctrs.runtime.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=pod), timeout=60)


def test_half_made_container_undone_at_start(pb, tmp, pod_leaks):
    """berthd killed inside CreateContainer, before the record: the dir it
    made (here with a mount on rootfs/) goes at the next start."""
    d = Berthd(tmp)
    write_pod_cni(d)
    pod_leaks(PodLeaks(d))
    d.start()
    d.stop()
    orphan = os.path.join(d.state, "containers", "a" * 64)
    os.makedirs(os.path.join(orphan, "rootfs"))
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", os.path.join(orphan, "rootfs")], check=True)
    d.start()
    c = Client(pb, d.address)
    try:
        assert listc(c) == []
        assert not os.path.exists(orphan)
    finally:
        c.close()
        d.stop()


# ---- stdin: the monitor's fifo <state>/containers/<id>/stdin --------------------
#
# berthd has no Attach server yet: the fifo is the attach point, and a writer
# of it (open, write, close) stands for an attach session here.

def stdin_fifo(pod_berthd, cid):
    return os.path.join(pod_berthd.state, "containers", cid, "stdin")


def write_session(path, data):
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def test_stdin_once_closes_stdin_after_the_first_session(ctrs, image, tmp, pod_berthd):
    pb = ctrs.pb
    pcfg = pod_config(pb, tmp)
    pod = run_pod(ctrs, pcfg)
    cid = create(ctrs, pod, pcfg, ctr_config(pb, image, args=["/bin/sh", "-c", "cat; echo stdin closed"],
                                             stdin=True, stdin_once=True, log_path="once.log"))
    start(ctrs, cid)
    time.sleep(0.5)  # nobody attached yet: no EOF
    assert status(ctrs, cid).status.state == RUNNING
    write_session(stdin_fifo(pod_berthd, cid), b"hello\n")
    s = wait_state(ctrs, cid, EXITED)
    assert s.state == EXITED and s.exit_code == 0
    assert [l[3] for l in log_lines(os.path.join(tmp, "once.log"))] == ["hello", "stdin closed"]
    # Closed for good: a later session finds no fifo rather than a reader-less one.
    assert not os.path.exists(stdin_fifo(pod_berthd, cid))
    ctrs.runtime.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=pod), timeout=60)


def test_stdin_without_once_stays_open_between_sessions(ctrs, image, tmp, pod_berthd):
    """stdin without stdin_once, and stdin_once with a tty (containerd closes
    stdin after an attach only without one): sessions come and go, no EOF."""
    pb = ctrs.pb
    pcfg = pod_config(pb, tmp)
    pod = run_pod(ctrs, pcfg)
    plain = create(ctrs, pod, pcfg, ctr_config(pb, image, name="plain", args=["/bin/sh", "-c", "cat; echo eof"],
                                               stdin=True, log_path="plain.log"))
    tty = create(ctrs, pod, pcfg, ctr_config(pb, image, name="tty", args=["/bin/sh", "-c", "cat; echo eof"],
                                             stdin=True, stdin_once=True, tty=True, log_path="tty.log"))
    for cid in (plain, tty):
        start(ctrs, cid)
        write_session(stdin_fifo(pod_berthd, cid), b"one\n")
        write_session(stdin_fifo(pod_berthd, cid), b"two\n")
    plain_log = os.path.join(tmp, "plain.log")
    deadline = time.time() + 10
    while len(log_lines(plain_log)) < 2 and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    assert [l[3] for l in log_lines(plain_log)] == ["one", "two"]
    for cid in (plain, tty):
        assert status(ctrs, cid).status.state == RUNNING
        assert os.path.exists(stdin_fifo(pod_berthd, cid))
    ctrs.runtime.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=pod), timeout=60)
