"""The image endpoints against a real docker-registry on loopback, with the
bundled busybox pushed to it by skopeo."""
import json
import os
import shutil
import subprocess
import time

import pytest

from conftest import HOST_DATA, assert_error, free_port

BUSYBOX_OCI = os.path.join(HOST_DATA, "bundled", "busybox-oci")


@pytest.fixture(scope="module")
def registry(world):
    for tool in ("docker-registry", "skopeo"):
        if not shutil.which(tool):
            pytest.skip("%s is not installed (scripts/setup.sh installs it)" % tool)
    port = free_port()
    conf = os.path.join(world.dir, "registry.yml")
    with open(conf, "w") as f:
        f.write("version: 0.1\nlog: {level: error}\nstorage: {filesystem: {rootdirectory: %s}}\n"
                "http: {addr: 127.0.0.1:%d}\n" % (os.path.join(world.dir, "registry-data"), port))
    proc = subprocess.Popen(["docker-registry", "serve", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                import socket
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.05)
        subprocess.run(["skopeo", "copy", "-q", "--dest-tls-verify=false", "oci:%s:latest" % BUSYBOX_OCI,
                        "docker://127.0.0.1:%d/tools/busybox:1" % port], check=True, timeout=120)
        yield "127.0.0.1:%d" % port
    finally:
        proc.kill()
        proc.wait()


def test_pull_streams_progress_then_the_image(api, registry):
    ref = registry + "/tools/busybox:1"
    events = []
    with api.stream("POST", "/v1/images/pull", json={"ref": ref}, headers={"Accept": "application/x-ndjson"}) as r:
        assert r.status_code == 200, r.read()
        for line in r.iter_lines():
            if line:
                events.append(json.loads(line))
    kinds = [e["type"] for e in events]
    assert kinds[0] == "resolved", events
    assert kinds[-1] == "pulled", events
    assert "layer" in kinds
    done = events[-1]
    assert done["repository"] == registry + "/tools/busybox" and done["tag"] == "1"
    assert done["digest"].startswith("sha256:") and done["blobs_downloaded"] >= 2
    states = {e["state"] for e in events if e["type"] == "layer"}
    assert "downloaded" in states or "cached" in states, events
    # Listed, inspected (by reference, the path's slashes as they are), and
    # usable by a sandbox.
    listed = [i for i in api.get("/v1/images").json() if i["repository"] == registry + "/tools/busybox"]
    assert len(listed) == 1 and listed[0]["digest"] == done["digest"]
    doc = api.get("/v1/images/" + ref).json()
    assert doc["digest"] == done["digest"] and "inspect" in doc
    r = api.post("/v1/sandboxes", json={"image": ref, "pull": "never", "backend": "native", "cmd": ["sleep", "60"]})
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    assert api.post("/v1/sandboxes/%s/exec" % sid, json={"cmd": "echo from-pulled"}).json()["stdout"] == "from-pulled\n"
    assert api.delete("/v1/sandboxes/" + sid).status_code == 204
    # A second pull without streaming: everything already there.
    again = api.post("/v1/images/pull", json={"ref": ref})
    assert again.status_code == 200, again.text
    assert again.json()["blobs_downloaded"] == 0 and again.json()["digest"] == done["digest"]
    # Removed: gone from the list, 404 after.
    gone = api.delete("/v1/images/" + ref)
    assert gone.status_code == 200, gone.text
    assert [i["tag"] for i in gone.json()["removed"]] == ["1"]
    assert_error(api.get("/v1/images/" + ref), 404)
    assert_error(api.delete("/v1/images/" + ref), 404)


def test_pull_failures_are_clear(api, registry):
    # Nothing under that name: an error event once the stream started.
    with api.stream("POST", "/v1/images/pull", json={"ref": registry + "/no/such:1"},
                    headers={"Accept": "application/x-ndjson"}) as r:
        lines = [json.loads(l) for l in r.iter_lines() if l]
    assert lines[-1]["type"] == "error" and lines[-1]["error"]["code"] == "not_found", lines
    r = api.post("/v1/images/pull", json={"ref": registry + "/no/such:1"})
    assert_error(r, 404, "not_found")


def test_image_requests_hostile(api, world):
    loaded = world.kb("load", "--name", "local", BUSYBOX_OCI)
    assert loaded.returncode == 0, loaded.stderr
    assert_error(api.post("/v1/images/pull", json={}), 400, None, "ref")
    assert_error(api.post("/v1/images/pull", json={"ref": "bad//name"}), 400, None, "ref")
    assert_error(api.post("/v1/images/pull", json={"ref": "a" * 300}), 400, None, "ref")
    assert_error(api.post("/v1/images/pull", json={"ref": "busybox", "platform": "nope"}), 400, None, "platform")
    assert_error(api.post("/v1/images/pull", json={"ref": "busybox", "x": 1}), 400, None, "x")
    assert_error(api.post("/v1/images/pull", content=b"{not json"), 400)
    assert_error(api.post("/v1/images"), 405)
    assert_error(api.put("/v1/images/busybox"), 405)
    assert_error(api.get("/v1/images/no-such-image:1"), 404)
    assert_error(api.get("/v1/images", params={"x": "1"}), 400, None, "x")
    # The store is as it was.
    assert any(i["name"] == "local" for i in api.get("/v1/images").json())
