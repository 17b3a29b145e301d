"""Checkpoints through the API, on qemu: save, restore a fork, persistent
pause, and the refusals, each error in the API's shape."""
import os
import time

import pytest

from conftest import assert_error

from conftest import HOST_DATA

ROOTFS = os.path.join(HOST_DATA, "bundled/busybox/rootfs")
COUNTER = ["sh", "-c", "i=0; while :; do i=$((i+1)); echo $i > /tmp/count; sleep 0.1; done"]


def qemu_or_skip(api):
    if os.geteuid() != 0:
        pytest.skip("the qemu backend's jail needs root")
    if not os.path.isdir(ROOTFS):
        pytest.skip("no bundled rootfs at %s; run scripts/setup.sh" % ROOTFS)


def count(api, sid):
    # The counter's `echo $i > /tmp/count` truncates before it writes: a read
    # that meets it empty looks again.
    for _ in range(20):
        r = api.post("/v1/sandboxes/%s/exec" % sid, json={"argv": ["cat", "/tmp/count"]})
        assert r.status_code == 200, r.text
        out = r.json()["stdout"].strip()
        if out.isdigit():
            return int(out)
        time.sleep(0.05)
    return -1


def counted_to(api, sid, n, deadline=120):
    end = time.time() + deadline
    while time.time() < end:
        if count(api, sid) >= n:
            return True
        time.sleep(0.2)
    return False


def test_checkpoint_restore_and_pause_to_disk(api):
    qemu_or_skip(api)
    r = api.post("/v1/sandboxes", json={"backend": "qemu", "rootfs": ROOTFS, "name": "ck-src", "cmd": COUNTER},
                 timeout=600)
    assert r.status_code == 201, r.text
    src = r.json()["id"]
    assert counted_to(api, src, 3)

    r = api.post("/v1/sandboxes/ck-src/checkpoint", json={"name": "api-cp", "leave_running": True}, timeout=600)
    assert r.status_code == 201, r.text
    assert r.headers["location"] == "/v1/checkpoints/api-cp"
    doc = r.json()
    assert doc["name"] == "api-cp" and doc["sandbox_id"] == src and doc["backend"] == "qemu"
    assert doc["size_bytes"] > 0
    assert api.get("/v1/sandboxes/ck-src").json()["state"] == "running"
    assert [c["name"] for c in api.get("/v1/checkpoints").json()] == ["api-cp"]
    assert api.get("/v1/checkpoints/api-cp").json()["sandbox_name"] == "ck-src"
    assert_error(api.post("/v1/sandboxes/ck-src/checkpoint", json={"name": "api-cp"}), 409, "already_exists")

    r = api.post("/v1/sandboxes", json={"from_checkpoint": "api-cp", "name": "ck-fork"}, timeout=600)
    assert r.status_code == 201, r.text
    fork = r.json()
    assert fork["checkpoint"] == "api-cp" and fork["state"] == "running"
    assert count(api, "ck-fork") >= 3, "the fork's counter started over"
    assert_error(api.delete("/v1/checkpoints/api-cp"), 409, mentions="remove that sandbox first")

    r = api.post("/v1/sandboxes/ck-fork/pause?to_disk=1", timeout=600)
    assert r.status_code == 200, r.text
    assert r.json()["paused_to_disk"] is True and r.json()["state"] == "stopped"
    r = api.post("/v1/sandboxes/ck-fork/resume", timeout=600)
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "running" and r.json()["paused_to_disk"] is False
    before = count(api, "ck-fork")
    assert before >= 3 and counted_to(api, "ck-fork", before + 2)

    for sid in ("ck-fork", "ck-src"):
        assert api.delete("/v1/sandboxes/" + sid, timeout=300).status_code == 204
    assert api.delete("/v1/checkpoints/api-cp").status_code == 204
    assert_error(api.get("/v1/checkpoints/api-cp"), 404, "not_found")


def test_checkpoint_requests_are_checked(api):
    for body, mentions in [({}, "name"), ({"name": "../x"}, "name"), ({"name": "ok", "leave_running": "yes"},
                                                                        "leave_running"),
                           ({"name": "ok", "extra": 1}, "extra"), ([], None)]:
        assert_error(api.post("/v1/sandboxes/nosuch/checkpoint", json=body), 400, mentions=mentions)
    assert_error(api.post("/v1/sandboxes", json={"from_checkpoint": "x", "cmd": ["true"]}), 400,
                 mentions="cannot be combined with")
    assert_error(api.post("/v1/sandboxes", json={"from_checkpoint": "../x"}), 400, mentions="from_checkpoint")
    assert_error(api.post("/v1/sandboxes", json={"from_checkpoint": "nosuch"}), 404, mentions="no checkpoint named")
    assert_error(api.get("/v1/checkpoints/nosuch"), 404, "not_found")
    assert_error(api.post("/v1/checkpoints"), 405)
    assert_error(api.post("/v1/sandboxes/nosuch/pause?to_disk=maybe"), 400, mentions="to_disk")
    r = api.post("/v1/sandboxes", json={"backend": "native", "name": "ck-native", "cmd": ["sleep", "600"]})
    if r.status_code == 201:
        assert_error(api.post("/v1/sandboxes/ck-native/checkpoint", json={"name": "n"}), 422, "unsupported", mentions="CRIU")
        assert api.delete("/v1/sandboxes/ck-native").status_code == 204
