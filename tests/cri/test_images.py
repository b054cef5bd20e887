"""ImageService on berthd's image store: PullImage (anonymous, with auth
from the request, through a mirror), ListImages, ImageStatus, RemoveImage,
ImageFsInfo."""

import base64
import importlib.util
import json
import os
import time
import urllib.request

import grpc
import pytest

import images  # tests/image/images.py (conftest put its dir on sys.path)
from conftest import MIRRORED_HOST, REPO

USER, PASSWORD = "berth", "s3cret-pw"


def spec(pb, image):
    return pb.ImageSpec(image=image)


def pull(cri, image, auth=None, **kw):
    return cri.image.PullImage(cri.pb.PullImageRequest(image=spec(cri.pb, image), auth=auth), timeout=120, **kw)


def status(cri, image, verbose=False):
    return cri.image.ImageStatus(cri.pb.ImageStatusRequest(image=spec(cri.pb, image), verbose=verbose), timeout=30)


def remove(cri, image):
    cri.image.RemoveImage(cri.pb.RemoveImageRequest(image=spec(cri.pb, image)), timeout=30)


def rpc_error(fn, *a, **kw):
    with pytest.raises(grpc.RpcError) as e:
        fn(*a, **kw)
    return e.value


def registry_manifest_digest(host, repo, tag):
    req = urllib.request.Request(f"http://{host}/v2/{repo}/manifests/{tag}",
                                 headers={"Accept": "application/vnd.oci.image.manifest.v1+json"}, method="HEAD")
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.headers["Docker-Content-Digest"]


def test_pull_anonymous(cri, registry):
    ref = f"{registry.host}/test/busybox:1"
    image_ref = pull(cri, ref).image_ref
    assert image_ref.startswith("sha256:") and len(image_ref) == 71
    img = status(cri, ref).image
    # PullImageResponse.image_ref is Image.id (CRI, since v1.36 strictly).
    assert img.id == image_ref
    assert ref in img.repo_tags
    digest = registry_manifest_digest(registry.host, "test/busybox", "1")
    assert f"{registry.host}/test/busybox@{digest}" in img.repo_digests
    assert img.size > 0
    # The test image's User is "0:0".
    assert img.HasField("uid") and img.uid.value == 0 and img.username == ""
    assert any(i.id == image_ref for i in cri.image.ListImages(cri.pb.ListImagesRequest()).images)


def test_pull_without_tag_means_latest(cri, registry):
    ref = f"{registry.host}/test/busybox"
    image_ref = pull(cri, ref).image_ref
    img = status(cri, ref).image
    assert img.id == image_ref
    assert f"{ref}:latest" in img.repo_tags
    assert status(cri, f"{ref}:latest").image.id == image_ref


def test_pull_by_digest(cri, registry):
    digest = registry_manifest_digest(registry.host, "test/busybox", "1")
    ref = f"{registry.host}/test/busybox@{digest}"
    image_ref = pull(cri, ref).image_ref
    img = status(cri, ref).image
    assert img.id == image_ref and ref in img.repo_digests


def test_username_and_no_user(cri, registry):
    pull(cri, f"{registry.host}/test/named:1")
    img = status(cri, f"{registry.host}/test/named:1").image
    assert img.username == "nobody" and not img.HasField("uid")
    pull(cri, f"{registry.host}/test/nouser:1")
    img = status(cri, f"{registry.host}/test/nouser:1").image
    assert img.username == "" and not img.HasField("uid")


def test_sandbox_image_is_pinned(cri, registry):
    # The session config names test/nouser:1 as sandbox_image.
    pull(cri, f"{registry.host}/test/nouser:1")
    assert status(cri, f"{registry.host}/test/nouser:1").image.pinned is True
    pull(cri, f"{registry.host}/test/busybox:1")
    assert status(cri, f"{registry.host}/test/busybox:1").image.pinned is False


def test_pull_through_mirror(cri, registry):
    # The config sends registry.example to the session registry.
    ref = f"{MIRRORED_HOST}/test/busybox:1"
    image_ref = pull(cri, ref).image_ref
    img = status(cri, ref).image
    assert img.id == image_ref
    assert ref in img.repo_tags  # named as asked, not after the mirror
    assert image_ref == pull(cri, f"{registry.host}/test/busybox:1").image_ref


def test_pull_unmirrored_unknown_host_fails(cri):
    # Not in the config: goes to the host itself, over HTTPS, and fails
    # with the registry named (never a guess).
    e = rpc_error(pull, cri, "registry.invalid/test/busybox:1")
    assert "registry.invalid" in e.details()


def test_pull_missing_image_is_not_found(cri, registry):
    e = rpc_error(pull, cri, f"{registry.host}/test/nothing:1")
    assert e.code() == grpc.StatusCode.NOT_FOUND
    assert f"{registry.host}/test/nothing:1" in e.details()


@pytest.mark.parametrize("image, message", [
    ("", "image.image: required"),
    ("busybox", 'image.image: "busybox" names no registry'),
    ("library/busybox:1", 'image.image: "library/busybox:1": "library" is not a registry host'),
])
def test_pull_invalid_argument_names_field(cri, image, message):
    e = rpc_error(pull, cri, image)
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert message in e.details()


def test_pull_no_image_spec(cri):
    e = rpc_error(cri.image.PullImage, cri.pb.PullImageRequest(), timeout=30)
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT and "image.image" in e.details()


def test_pull_unknown_runtime_handler(cri, registry):
    req = cri.pb.PullImageRequest(image=cri.pb.ImageSpec(image=f"{registry.host}/test/busybox:1",
                                                         runtime_handler="kata"))
    e = rpc_error(cri.image.PullImage, req, timeout=30)
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert 'image.runtime_handler: unknown runtime handler "kata"' in e.details()


def test_image_status_missing_is_empty(cri):
    r = status(cri, "127.0.0.1:1/no/such:image")
    assert not r.HasField("image")
    r = status(cri, "sha256:" + "f" * 64)
    assert not r.HasField("image")


def test_image_status_forms(cri, registry):
    ref = f"{registry.host}/test/busybox:1"
    image_ref = pull(cri, ref).image_ref
    img = status(cri, ref).image
    for name in (image_ref, image_ref[7:], img.repo_digests[0]):
        assert status(cri, name).image.id == image_ref, name
    r = status(cri, ref, verbose=True)
    info = json.loads(r.info["info"])
    assert info["Id"] == image_ref and info["Config"]["User"] == "0:0"
    assert dict(status(cri, ref).info) == {}


def test_image_status_requires_image(cri):
    e = rpc_error(cri.image.ImageStatus, cri.pb.ImageStatusRequest(), timeout=30)
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT and "image.image" in e.details()


def test_list_images_filter(cri, registry):
    a = pull(cri, f"{registry.host}/test/busybox:1").image_ref
    b = pull(cri, f"{registry.host}/test/named:1").image_ref
    assert a != b
    ids = [i.id for i in cri.image.ListImages(cri.pb.ListImagesRequest()).images]
    assert a in ids and b in ids and len(ids) == len(set(ids))  # one entry per image id
    f = cri.pb.ImageFilter(image=cri.pb.ImageSpec(image=f"{registry.host}/test/named:1"))
    assert [i.id for i in cri.image.ListImages(cri.pb.ListImagesRequest(filter=f)).images] == [b]
    f = cri.pb.ImageFilter(image=cri.pb.ImageSpec(image=f"{registry.host}/test/none:1"))
    assert list(cri.image.ListImages(cri.pb.ListImagesRequest(filter=f)).images) == []


def test_remove_image_idempotent(cri, registry, berthd):
    ref = f"{registry.host}/test/named:1"
    image_ref = pull(cri, ref).image_ref
    blob = os.path.join(berthd.root, "blobs", "sha256", image_ref[7:])
    assert os.path.exists(blob)
    remove(cri, ref)
    assert not status(cri, ref).HasField("image")
    remove(cri, ref)  # again: still OK
    remove(cri, "sha256:" + "e" * 64)  # never there: OK
    # Content goes in the background GC.
    deadline = time.time() + 20
    while os.path.exists(blob) and time.time() < deadline:
        time.sleep(0.05)
    assert not os.path.exists(blob), "GC did not remove the image's config blob"


def test_remove_image_by_id_removes_every_name(cri, registry):
    ref = f"{registry.host}/test/busybox:1"
    image_ref = pull(cri, ref).image_ref
    pull(cri, f"{MIRRORED_HOST}/test/busybox:1")
    assert len(status(cri, image_ref).image.repo_tags) >= 2
    remove(cri, image_ref)
    assert not status(cri, ref).HasField("image")
    assert not status(cri, f"{MIRRORED_HOST}/test/busybox:1").HasField("image")


def test_remove_image_requires_image(cri):
    e = rpc_error(cri.image.RemoveImage, cri.pb.RemoveImageRequest(), timeout=30)
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT and "image.image" in e.details()


def test_image_fs_info(cri, registry, berthd):
    pull(cri, f"{registry.host}/test/busybox:1")
    r = cri.image.ImageFsInfo(cri.pb.ImageFsInfoRequest())
    assert len(r.image_filesystems) == 1
    fs = r.image_filesystems[0]
    assert fs.fs_id.mountpoint == berthd.root
    assert fs.timestamp > 1_600_000_000 * 10**9
    # busybox alone is about 2 MB unpacked, plus its blobs.
    assert fs.used_bytes.value > 1_000_000 and fs.inodes_used.value > 10


# --- auth from the request ------------------------------------------------------

@pytest.fixture(scope="module")
def basic_registry(registry_factory, layouts, session_tmp):
    reg = registry_factory(images.htpasswd_auth(os.path.join(session_tmp, "htpasswd"), USER, PASSWORD))
    reg.push(layouts["busybox"], "1", "test/private:1", creds=f"{USER}:{PASSWORD}")
    return reg


def test_pull_basic_auth_from_request(cri, basic_registry):
    ref = f"{basic_registry.host}/test/private:1"
    e = rpc_error(pull, cri, ref)
    assert e.code() == grpc.StatusCode.UNAUTHENTICATED and "authentication required" in e.details()
    e = rpc_error(pull, cri, ref, cri.pb.AuthConfig(username=USER, password="wrong"))
    assert e.code() == grpc.StatusCode.UNAUTHENTICATED and f'"{USER}"' in e.details()
    assert pull(cri, ref, cri.pb.AuthConfig(username=USER, password=PASSWORD)).image_ref.startswith("sha256:")
    remove(cri, ref)
    # The docker config.json form: auth = base64("user:password").
    auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    assert pull(cri, ref, cri.pb.AuthConfig(auth=auth, server_address=basic_registry.host)).image_ref
    remove(cri, ref)


@pytest.mark.parametrize("auth, message", [
    ({"auth": "not base64!"}, "auth.auth: expected base64"),
    ({"auth": base64.b64encode(b"no-colon").decode()}, "auth.auth: expected base64"),
    ({"password": "x"}, "auth.password: given without auth.username"),
    ({"identity_token": "t"}, "auth.identity_token: not supported"),
])
def test_pull_bad_auth_names_field(cri, basic_registry, auth, message):
    e = rpc_error(pull, cri, f"{basic_registry.host}/test/private:1", cri.pb.AuthConfig(**auth))
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert message in e.details()


def load_image_test_auth():
    spec_ = importlib.util.spec_from_file_location("image_test_auth",
                                                   os.path.join(REPO, "tests", "image", "test_auth.py"))
    mod = importlib.util.module_from_spec(spec_)
    spec_.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def token_registry(registry_factory, layouts, session_tmp):
    ts = load_image_test_auth().TokenServer(session_tmp)
    reg = registry_factory({"token": {"realm": ts.realm, "service": ts.service, "issuer": ts.issuer,
                                      "rootcertbundle": ts.cert}})
    reg.push(layouts["busybox"], "1", "test/tokened:1", creds=f"{USER}:{PASSWORD}")
    yield reg, ts
    ts.stop()


def fetch_token(ts, scope):
    req = urllib.request.Request(f"{ts.realm}?service={ts.service}&scope={scope}")
    req.add_header("Authorization", "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode())
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.load(r)["token"]


def test_pull_registry_token_from_request(cri, token_registry):
    reg, ts = token_registry
    ref = f"{reg.host}/test/tokened:1"
    token = fetch_token(ts, "repository:test/tokened:pull")
    ts.requests.clear()
    assert pull(cri, ref, cri.pb.AuthConfig(registry_token=token)).image_ref.startswith("sha256:")
    assert ts.requests == [], "berthd asked the token server although it had a token"
    remove(cri, ref)
    # A token for another repository is refused, and berthd has no
    # credentials to get another.
    bad = fetch_token(ts, "repository:test/other:pull")
    e = rpc_error(pull, cri, ref, cri.pb.AuthConfig(registry_token=bad))
    assert e.code() == grpc.StatusCode.UNAUTHENTICATED


def test_pull_token_flow_with_username_password(cri, token_registry):
    reg, ts = token_registry
    ref = f"{reg.host}/test/tokened:1"
    assert pull(cri, ref, cri.pb.AuthConfig(username=USER, password=PASSWORD)).image_ref
    remove(cri, ref)
