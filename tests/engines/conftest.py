"""Fixtures for the engine tests: one private podman and one private
containerd per session, the test image loaded into each, and after every
test a check that it left nothing behind (containers, tasks, runtime state,
mounts, processes, network namespaces); leftovers fail the test and are
removed so that the next test starts clean."""

import os
import shutil
import tempfile

import pytest

import engines
import oci_image


def _require(tool):
    if shutil.which(tool) is None:
        pytest.fail(f"`{tool}` is not installed (scripts/install-deps.sh installs it)")


@pytest.fixture(scope="session")
def image_archive(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("image") / "berth-test.oci.tar")
    oci_image.write_archive(path, engines.IMAGE)
    return path


@pytest.fixture(scope="session")
def podman_session(image_archive):
    _require("podman")
    _require("conmon")
    base = tempfile.mkdtemp(prefix="berth-podman-", dir="/tmp")
    p = engines.Podman(base, subnet_octet=os.getpid() % 200 + 20)
    try:
        p.setup(image_archive)
        yield p
    finally:
        p.teardown()


@pytest.fixture(scope="session")
def containerd_session(image_archive):
    _require("containerd")
    _require("ctr")
    base = tempfile.mkdtemp(prefix="berth-containerd-", dir="/tmp")
    c = engines.Containerd(base)
    try:
        c.setup(image_archive)
        yield c
    finally:
        c.teardown()


def _checked(engine, request):
    netns_before = engines.netns_entries()
    engine.snapshot()
    yield engine
    leftovers = engine.leftovers()
    new_netns = engines.netns_entries() - netns_before
    if new_netns:
        leftovers.append(f"network namespaces: {sorted(new_netns)}")
    if leftovers:
        engine.clean()
    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    if leftovers and not failed:
        pytest.fail("left behind: " + "; ".join(leftovers))


@pytest.fixture
def podman(podman_session, request):
    yield from _checked(podman_session, request)


@pytest.fixture
def ctr(containerd_session, request):
    yield from _checked(containerd_session, request)


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)
