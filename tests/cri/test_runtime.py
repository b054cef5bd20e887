"""RuntimeService Version and Status, and what is not implemented yet."""

import json
import os

import grpc
import pytest


def test_version(cri):
    v = cri.runtime.Version(cri.pb.VersionRequest(version="v1"))
    assert v.runtime_name == "berth"
    assert v.runtime_api_version == "v1"
    assert v.version == "0.1.0"
    assert v.runtime_version.count(".") == 2  # semver


def conditions(resp):
    return {c.type: c for c in resp.status.conditions}


def test_status_network_not_ready_without_cni_config(cri, berthd):
    assert os.listdir(berthd.cni_dir) == []
    c = conditions(cri.runtime.Status(cri.pb.StatusRequest()))
    assert c["RuntimeReady"].status is True
    assert c["NetworkReady"].status is False
    assert c["NetworkReady"].reason == "NetworkPluginNotReady"
    assert berthd.cni_dir in c["NetworkReady"].message


def test_status_network_ready_with_cni_config(cri, berthd):
    path = os.path.join(berthd.cni_dir, "10-test.conflist")
    with open(path, "w") as f:
        json.dump({"cniVersion": "1.0.0", "name": "test", "plugins": [{"type": "loopback"}]}, f)
    try:
        c = conditions(cri.runtime.Status(cri.pb.StatusRequest()))
        assert c["NetworkReady"].status is True
        assert c["NetworkReady"].reason == ""
    finally:
        os.unlink(path)
    # Read per call: removing it makes the network not ready again.
    assert conditions(cri.runtime.Status(cri.pb.StatusRequest()))["NetworkReady"].status is False


def test_status_verbose_and_handlers(cri, berthd, registry):
    r = cri.runtime.Status(cri.pb.StatusRequest(verbose=True))
    cfg = json.loads(r.info["config"])
    assert cfg["root"] == berthd.root and cfg["cgroup_driver"] == "cgroupfs"
    assert cfg["restrict_oom_score_adj"] is True
    assert cfg["registries"]["registry.example"]["mirror"] == f"http://{registry.host}"
    assert [h.name for h in r.runtime_handlers] == ["", "berth"]
    # Not verbose: no info, as CRI asks.
    assert dict(cri.runtime.Status(cri.pb.StatusRequest()).info) == {}


@pytest.mark.parametrize("method", [
    "/runtime.v1.RuntimeService/CheckpointContainer",  # in the proto, no handler
    "/runtime.v1.RuntimeService/NoSuchMethod",    # not in the proto
    "/runtime.v1alpha2.RuntimeService/Version",   # a service berthd does not serve
    "/runtime.v1.ImageService/Version",           # a method of the other service
])
def test_unimplemented(cri, method):
    with pytest.raises(grpc.RpcError) as e:
        cri.raw(method, b"")
    assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert method in e.value.details()


def test_unimplemented_through_stub(cri):
    with pytest.raises(grpc.RpcError) as e:
        cri.runtime.CheckpointContainer(cri.pb.CheckpointContainerRequest())
    assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_undecodable_request_is_invalid_argument(cri):
    # Field 1 (string) with a length running past the end of the message.
    with pytest.raises(grpc.RpcError) as e:
        cri.raw("/runtime.v1.RuntimeService/Version", b"\x0a\x7fabc")
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "runtime.v1.VersionRequest" in e.value.details()
