"""Pod sandboxes: RunPodSandbox, StopPodSandbox, RemovePodSandbox,
PodSandboxStatus, ListPodSandbox, and berthd's recovery after SIGKILL.

What a pod holds is checked from the host: nsenter into the pinned
namespaces, the pod's files, its shm mount, its pause process, its port
mapping.  The `pods` fixture (conftest.py) fails a test that leaves any of it.
"""

import json
import os
import signal
import subprocess
import threading
import time

import grpc
import pytest

from conftest import POD_SUBNET, Berthd, Client, PodLeaks, net_conftest, pod_conflist, write_pod_cni


def config(pb, name="web", namespace="default", uid="uid-1", attempt=0, **kw):
    kw.setdefault("hostname", name)
    return pb.PodSandboxConfig(metadata=pb.PodSandboxMetadata(name=name, namespace=namespace, uid=uid, attempt=attempt),
                               **kw)


def linux(pb, network=0, pid=0, ipc=0, **kw):
    sc = pb.LinuxSandboxSecurityContext(
        namespace_options=pb.NamespaceOption(network=network, pid=pid, ipc=ipc),
        privileged=kw.pop("privileged", False))
    return pb.LinuxPodSandboxConfig(security_context=sc, **kw)


def run(c, cfg, handler="", timeout=60):
    return c.runtime.RunPodSandbox(c.pb.RunPodSandboxRequest(config=cfg, runtime_handler=handler),
                                   timeout=timeout).pod_sandbox_id


def status(c, pod_id, verbose=False):
    return c.runtime.PodSandboxStatus(c.pb.PodSandboxStatusRequest(pod_sandbox_id=pod_id, verbose=verbose),
                                      timeout=30)


def info(c, pod_id):
    return json.loads(status(c, pod_id, verbose=True).info["info"])


def stop(c, pod_id):
    c.runtime.StopPodSandbox(c.pb.StopPodSandboxRequest(pod_sandbox_id=pod_id), timeout=60)


def remove(c, pod_id):
    c.runtime.RemovePodSandbox(c.pb.RemovePodSandboxRequest(pod_sandbox_id=pod_id), timeout=60)


def listp(c, **filt):
    f = c.pb.PodSandboxFilter(**filt) if filt else None
    return list(c.runtime.ListPodSandbox(c.pb.ListPodSandboxRequest(filter=f), timeout=30).items)


def nsenter(kind, path, *cmd):
    p = subprocess.run(["nsenter", f"--{kind}={path}", *cmd], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    return p.stdout


def mount_of(path):
    with open("/proc/self/mountinfo") as f:
        for line in f:
            parts = line.split()
            if parts[4] == path:
                sep = parts.index("-")
                return parts[sep + 1], parts[sep + 3]  # fstype, super options
    return None


def read(path):
    with open(path) as f:
        return f.read()


def code_of(fn):
    with pytest.raises(grpc.RpcError) as e:
        fn()
    return e.value.code(), e.value.details()


READY, NOTREADY = 0, 1


# ---- RunPodSandbox, seen from the host ---------------------------------------

def test_pod_lifecycle(pods):
    pb = pods.pb
    cfg = config(pb, labels={"app": "web"}, annotations={"note": "x"},
                 dns_config=pb.DNSConfig(servers=["10.0.0.10"], searches=["svc.local", "local"],
                                         options=["ndots:5"]),
                 linux=linux(pb, sysctls={"net.ipv4.ip_forward": "1", "kernel.shmmax": "12345678"}))
    t0 = time.time_ns()
    pid = run(pods, cfg)
    assert len(pid) == 64 and all(ch in "0123456789abcdef" for ch in pid)

    s = status(pods, pid).status
    assert s.id == pid and s.state == READY
    assert s.metadata.name == "web" and s.metadata.namespace == "default" and s.metadata.uid == "uid-1"
    assert t0 <= s.created_at <= time.time_ns()
    assert s.network.ip.startswith(POD_SUBNET + ".")
    assert dict(s.labels) == {"app": "web"} and dict(s.annotations) == {"note": "x"}
    assert s.runtime_handler == ""
    o = s.linux.namespaces.options
    assert (o.network, o.pid, o.ipc) == (0, 0, 0)

    i = info(pods, pid)
    assert i["state"] == "ready" and i["pause_alive"] and i["netns_pinned"]
    netns, utsns, ipcns = i["netns"], i["utsns"], i["ipcns"]
    # The pod's namespaces, from the host.
    assert f"inet {s.network.ip}/24" in nsenter("net", netns, "ip", "-4", "addr", "show", "eth0")
    assert nsenter("uts", utsns, "hostname").strip() == "web"
    assert nsenter("net", netns, "sysctl", "-n", "net.ipv4.ip_forward").strip() == "1"
    assert nsenter("ipc", ipcns, "sysctl", "-n", "kernel.shmmax").strip() == "12345678"
    # ... and the host's are untouched.
    assert read("/proc/sys/kernel/shmmax").strip() != "12345678"
    # The files containers get.
    pod_dir = i["pod_dir"]
    assert read(os.path.join(pod_dir, "hostname")) == "web\n"
    assert f"{s.network.ip}\tweb\n" in read(os.path.join(pod_dir, "hosts"))
    assert "127.0.0.1\tlocalhost" in read(os.path.join(pod_dir, "hosts"))
    assert read(os.path.join(pod_dir, "resolv.conf")) == (
        "search svc.local local\nnameserver 10.0.0.10\noptions ndots:5\n")
    fstype, opts = mount_of(i["shm"])
    assert fstype == "tmpfs" and "size=65536k" in opts
    # The pause process holds the shared pid namespace, in the pod's netns.
    pause = i["pause"]["pid"]
    assert read(f"/proc/{pause}/comm").strip() == "pause"
    assert os.stat(f"/proc/{pause}/ns/net").st_ino == os.stat(netns).st_ino
    assert os.readlink(f"/proc/{pause}/ns/pid") != os.readlink("/proc/self/ns/pid")

    # Stop: twice is fine (the kubelet does it); the record stays.
    stop(pods, pid)
    stop(pods, pid)
    s = status(pods, pid).status
    assert s.state == NOTREADY
    i = info(pods, pid)
    assert not i["pause_alive"] and not i["netns_pinned"] and not net_conftest.pid_alive(pause)
    assert mount_of(os.path.join(pod_dir, "shm")) is None and not os.path.exists(netns)
    assert [p.id for p in listp(pods)] == [pid]

    remove(pods, pid)
    remove(pods, pid)  # idempotent
    assert listp(pods) == []
    assert not os.path.exists(pod_dir)
    assert code_of(lambda: status(pods, pid))[0] == grpc.StatusCode.NOT_FOUND


def test_resolv_conf_is_the_hosts_without_dns_config(pods):
    pid = run(pods, config(pods.pb))
    try:
        assert read(os.path.join(info(pods, pid)["pod_dir"], "resolv.conf")) == read("/etc/resolv.conf")
    finally:
        remove(pods, pid)


def test_remove_without_stop(pods):
    pid = run(pods, config(pods.pb))
    remove(pods, pid)  # the leak check proves it stopped everything


def test_port_mapping_reachable(pods, tmp):
    pb = pods.pb
    cfg = config(pb, port_mappings=[pb.PortMapping(protocol=pb.TCP, container_port=8080, host_port=18616)])
    pid = run(pods, cfg)
    procs = net_conftest.Procs()
    try:
        netns = info(pods, pid)["netns"]
        server = net_conftest.serve_in_netns(procs, netns, 8080)
        ip = status(pods, pid).status.network.ip
        assert net_conftest.tcp_get(ip, 8080).startswith("pong")
        assert net_conftest.tcp_get(net_conftest.host_ip(), 18616).startswith("pong")
        net_conftest.stop_server(server)
    finally:
        procs.cleanup()
        remove(pods, pid)


def test_host_network_and_ipc(pods):
    pb = pods.pb
    cfg = config(pb, hostname="", linux=linux(pb, network=2, pid=1, ipc=2))  # NODE, CONTAINER, NODE
    pid = run(pods, cfg)
    try:
        s = status(pods, pid).status
        assert s.state == READY and s.network.ip == ""
        o = s.linux.namespaces.options
        assert (o.network, o.pid, o.ipc) == (2, 1, 2)
        i = info(pods, pid)
        # No pinned namespace, no shm, no pause, no CNI.
        assert i.get("netns") is None and i.get("ipcns") is None and i.get("utsns") is None
        assert i.get("shm") is None and "pause" not in i and i["cni"] is False
        assert read(os.path.join(i["pod_dir"], "hostname")) == os.uname().nodename + "\n"
    finally:
        stop(pods, pid)
        remove(pods, pid)


def test_no_pause_without_shared_pid(pods):
    pb = pods.pb
    pid = run(pods, config(pb, linux=linux(pb, pid=1)))
    try:
        i = info(pods, pid)
        assert "pause" not in i and i["netns_pinned"] and i["shm"]
    finally:
        remove(pods, pid)


def test_privileged_and_cgroup_parent(pods):
    pb = pods.pb
    pid = run(pods, config(pb, linux=linux(pb, privileged=True, cgroup_parent="/berth-test-pods/p1")))
    try:
        i = info(pods, pid)
        assert i["privileged"] is True and i["cgroup_parent"] == "/berth-test-pods/p1"
        # The pause sits in <cgroup_parent>/<id>, as a container of the pod would.
        cg = read(f"/proc/{i['pause']['pid']}/cgroup")
        assert f"/berth-test-pods/p1/{pid}\n" in cg
    finally:
        remove(pods, pid)
    for h in os.listdir("/sys/fs/cgroup"):
        assert not os.path.exists(f"/sys/fs/cgroup/{h}/berth-test-pods"), h


def test_default_runtime_handler_accepted(pods):
    pid = run(pods, config(pods.pb), handler="berth")
    try:
        assert status(pods, pid).status.runtime_handler == "berth"
    finally:
        remove(pods, pid)


# ---- errors ------------------------------------------------------------------

def bad_configs(pb):
    return [
        (pb.PodSandboxConfig(), "config.metadata: required"),
        (pb.PodSandboxConfig(metadata=pb.PodSandboxMetadata(uid="u")), "config.metadata.name: required"),
        (config(pb, linux=linux(pb, sysctls={"kernel.panic": "1"})),
         'config.linux.sysctls["kernel.panic"]: not a namespaced sysctl'),
        (config(pb, linux=linux(pb, network=2, sysctls={"net.ipv4.ip_forward": "1"})),
         "the pod uses the host's network namespace"),
        (config(pb, linux=linux(pb, pid=3)), "namespace_options.pid: TARGET is only for containers"),
        (config(pb, linux=linux(pb, network=1)), "namespace_options.network: CONTAINER is not a pod network mode"),
        (config(pb, port_mappings=[pb.PortMapping(container_port=0, host_port=80)]),
         "config.port_mappings[0].container_port: 0 is not a port"),
        (config(pb, hostname="bad name"), "config.hostname"),
        (config(pb, dns_config=pb.DNSConfig(servers=["1.1.1.1\nnameserver 6.6.6.6"])), "config.dns_config.servers[0]"),
        (config(pb, linux=linux(pb, cgroup_parent="/a/../b")), "config.linux.cgroup_parent"),
    ]


def test_invalid_configs_name_the_field(pods):
    for cfg, want in bad_configs(pods.pb):
        code, msg = code_of(lambda: run(pods, cfg))
        assert code == grpc.StatusCode.INVALID_ARGUMENT, (want, msg)
        assert want in msg, (want, msg)
    code, msg = code_of(lambda: run(pods, config(pods.pb), handler="runc"))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and 'runtime_handler: "runc"' in msg


def test_missing_request_fields(pods):
    pb = pods.pb
    for call, req in ((pods.runtime.StopPodSandbox, pb.StopPodSandboxRequest()),
                      (pods.runtime.RemovePodSandbox, pb.RemovePodSandboxRequest()),
                      (pods.runtime.PodSandboxStatus, pb.PodSandboxStatusRequest())):
        code, msg = code_of(lambda: call(req))
        assert code == grpc.StatusCode.INVALID_ARGUMENT and "pod_sandbox_id: required" in msg


def test_unknown_ids(pods):
    unknown = "ab" * 32
    assert code_of(lambda: status(pods, unknown))[0] == grpc.StatusCode.NOT_FOUND
    assert code_of(lambda: stop(pods, unknown))[0] == grpc.StatusCode.NOT_FOUND
    remove(pods, unknown)  # removing what is gone is success (CRI)
    assert code_of(lambda: status(pods, "not-an-id"))[0] == grpc.StatusCode.INVALID_ARGUMENT


# ---- names ---------------------------------------------------------------------

def test_concurrent_same_name_one_wins(pods):
    cfg = config(pods.pb, name="race")
    results = []

    def one():
        try:
            results.append(("ok", run(pods, cfg)))
        except grpc.RpcError as e:
            results.append((e.code(), e.details()))

    threads = [threading.Thread(target=one) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    won = [r[1] for r in results if r[0] == "ok"]
    lost = [r for r in results if r[0] != "ok"]
    try:
        assert len(won) == 1, results
        for code, msg in lost:
            assert code == grpc.StatusCode.ALREADY_EXISTS
            assert f'name "race_default_uid-1_0" is reserved for "{won[0]}"' in msg
    finally:
        for pid in won:
            remove(pods, pid)


def test_name_free_again_after_remove(pods):
    cfg = config(pods.pb, name="again")
    first = run(pods, cfg)
    assert code_of(lambda: run(pods, cfg))[0] == grpc.StatusCode.ALREADY_EXISTS
    stop(pods, first)  # a stopped pod still holds its name
    assert code_of(lambda: run(pods, cfg))[0] == grpc.StatusCode.ALREADY_EXISTS
    remove(pods, first)
    second = run(pods, cfg)
    assert second != first
    # Another attempt is another name.
    third = run(pods, config(pods.pb, name="again", attempt=1))
    remove(pods, second)
    remove(pods, third)


# ---- list ---------------------------------------------------------------------

def test_list_filters(pods):
    pb = pods.pb
    a = run(pods, config(pb, name="a", labels={"app": "x", "tier": "front"}))
    b = run(pods, config(pb, name="b", labels={"app": "x", "tier": "back"}))
    c = run(pods, config(pb, name="c", labels={"app": "y"}))
    try:
        stop(pods, c)
        ids = lambda items: sorted(p.id for p in items)  # noqa: E731
        assert ids(listp(pods)) == sorted([a, b, c])
        assert ids(listp(pods, id=a)) == [a]
        assert ids(listp(pods, id=b[:12])) == [b]
        assert ids(listp(pods, state=pb.PodSandboxStateValue(state=READY))) == sorted([a, b])
        assert ids(listp(pods, state=pb.PodSandboxStateValue(state=NOTREADY))) == [c]
        assert ids(listp(pods, label_selector={"app": "x"})) == sorted([a, b])
        assert ids(listp(pods, label_selector={"app": "x", "tier": "back"})) == [b]
        assert ids(listp(pods, label_selector={"app": "z"})) == []
        item = [p for p in listp(pods) if p.id == a][0]
        assert item.metadata.name == "a" and item.state == READY and dict(item.labels)["tier"] == "front"
        # A unique prefix names a pod in the other calls too.
        assert status(pods, a[:10]).status.id == a
    finally:
        for p in (a, b, c):
            remove(pods, p)


# ---- failures undo everything ---------------------------------------------------

@pytest.mark.parametrize("broken", ["missing-plugin", "ipam-fails", "no-config"])
def test_cni_failure_leaves_nothing(pb, tmp, pod_leaks, broken):
    d = Berthd(tmp)
    if broken == "missing-plugin":
        write_pod_cni(d, pod_conflist(os.path.join(tmp, "ipam"), plugins_extra=[{"type": "nosuch-plugin"}]))
    elif broken == "ipam-fails":
        conf = pod_conflist(os.path.join(tmp, "ipam"))
        conf["plugins"][0]["ipam"]["ranges"] = [[{"subnet": f"{POD_SUBNET}.0/24", "rangeStart": f"{POD_SUBNET}.250",
                                                   "rangeEnd": f"{POD_SUBNET}.249"}]]
        write_pod_cni(d, conf)
    pod_leaks(PodLeaks(d))
    d.start()
    c = Client(pb, d.address)
    try:
        code, msg = code_of(lambda: run(c, config(pb[0])))
        assert code == grpc.StatusCode.UNKNOWN, msg
        assert "set up the network" in msg, msg
        if broken == "missing-plugin":
            assert "nosuch-plugin" in msg
        assert listp(c) == []
        # The name was released: fixed config, same name, works.
        write_pod_cni(d)
        pid = run(c, config(pb[0]))
        remove(c, pid)
    finally:
        c.close()
        d.stop()


# ---- restart ----------------------------------------------------------------------

def test_sigkill_and_restart_finds_pods(pb, tmp, pod_leaks):
    d = Berthd(tmp)
    write_pod_cni(d)
    pod_leaks(PodLeaks(d))
    d.start()
    c = Client(pb, d.address)
    try:
        ready = run(c, config(pb[0], name="ready"))
        stopped = run(c, config(pb[0], name="stopped"))
        stop(c, stopped)
        lost = run(c, config(pb[0], name="lost"))
        ip = status(c, ready).status.network.ip
        lost_pause = info(c, lost)["pause"]["pid"]
        c.close()
        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait()
        d.log.close()
        # The pause process outlives berthd; kill one to see it noticed.
        os.kill(lost_pause, signal.SIGKILL)
        deadline = time.time() + 5
        while net_conftest.pid_alive(lost_pause) and time.time() < deadline:
            time.sleep(0.05)
        d.start()
        c = Client(pb, d.address)
        got = {p.metadata.name: p for p in listp(c)}
        assert sorted(got) == ["lost", "ready", "stopped"]
        assert got["ready"].state == READY and got["ready"].id == ready
        assert got["stopped"].state == NOTREADY
        assert got["lost"].state == NOTREADY
        assert status(c, ready).status.network.ip == ip
        # Names still reserved after the restart.
        assert code_of(lambda: run(c, config(pb[0], name="ready")))[0] == grpc.StatusCode.ALREADY_EXISTS
        for p in (ready, stopped, lost):
            stop(c, p)
            remove(c, p)
        assert listp(c) == []
    finally:
        c.close()
        d.stop()


SLOW_PLUGIN = r"""#!/bin/sh
# A CNI plugin that hangs on ADD (so berthd can be killed in the middle).
cat > /dev/null
if [ "$CNI_COMMAND" = ADD ]; then echo $$ > "$SLOW_PID_FILE"; exec sleep 60; fi
exit 0
"""


def test_half_made_pod_undone_at_start(pb, tmp, pod_leaks):
    """berthd killed inside RunPodSandbox: the next start undoes the pod."""
    bindir = os.path.join(tmp, "bin")
    os.makedirs(bindir)
    with open(os.path.join(bindir, "slow"), "w") as f:
        f.write(SLOW_PLUGIN)
    os.chmod(os.path.join(bindir, "slow"), 0o755)
    pidfile = os.path.join(tmp, "slow.pid")
    d = Berthd(tmp, {"cni": {"conf_dir": os.path.join(tmp, "cni"), "bin_dir": bindir}})
    write_pod_cni(d, {"cniVersion": "1.0.0", "name": "bcri-slow", "plugins": [{"type": "slow"}]})
    pod_leaks(PodLeaks(d))
    os.environ["SLOW_PID_FILE"] = pidfile
    try:
        d.start()
    finally:
        del os.environ["SLOW_PID_FILE"]
    c = Client(pb, d.address)
    err = []
    t = threading.Thread(target=lambda: err.append(code_of(lambda: run(c, config(pb[0]), timeout=30))))
    t.start()
    try:
        deadline = time.time() + 20
        slow = ""
        while not slow.endswith("\n") and time.time() < deadline:  # the shell writes it in two steps
            time.sleep(0.05)
            if os.path.exists(pidfile):
                slow = read(pidfile)
        slow = int(slow)
        pods_dir = os.path.join(d.state, "pods")
        [pod_id] = os.listdir(pods_dir)
        assert os.path.exists(os.path.join(d.root, "pods", pod_id + ".json"))
        assert mount_of(os.path.join(pods_dir, pod_id, "shm")) is not None
        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait()
        d.log.close()
        os.kill(slow, signal.SIGKILL)
        t.join()
        assert err and err[0][0] == grpc.StatusCode.UNAVAILABLE
        d.start()
        assert listp(Client(pb, d.address)) == []
        assert os.listdir(pods_dir) == [] and os.listdir(os.path.join(d.root, "pods")) == []
        assert "was never finished: removing it" in d.read_log()
    finally:
        c.close()
        d.stop()
