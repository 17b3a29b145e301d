"""Sandboxes through the API: create, list, get, actions, delete; many at once."""
import concurrent.futures
import time

from conftest import assert_error

SLEEPER = {"backend": "native", "cmd": ["sleep", "600"]}


def create(api, **fields):
    body = dict(SLEEPER)
    body.update(fields)
    r = api.post("/v1/sandboxes", json=body)
    assert r.status_code == 201, r.text
    doc = r.json()
    assert r.headers["location"] == "/v1/sandboxes/" + doc["id"]
    return doc


def wait_state(api, sid, want, deadline=60):
    end = time.time() + deadline
    while time.time() < end:
        doc = api.get("/v1/sandboxes/" + sid).json()
        if doc.get("state") == want:
            return doc
        time.sleep(0.1)
    raise AssertionError("sandbox %s is %s, not %s" % (sid, doc.get("state"), want))


def test_version_and_health(api):
    v = api.get("/v1/version")
    assert v.status_code == 200
    assert v.json()["api_version"] == "v1"
    assert v.json()["version"]
    h = api.get("/v1/health")
    assert h.status_code == 200 and h.json()["status"] == "ok"


def test_socket_is_private(world, server):
    import os
    import stat
    st = os.stat(world.socket)
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o600


def test_native_lifecycle(api):
    doc = create(api, name="life", labels={"suite": "serve", "case": "life"})
    sid = doc["id"]
    assert len(sid) == 64
    assert doc["state"] == "running", doc
    assert doc["backend"] == "native"
    assert doc["image"] == "busybox"
    assert doc["name"] == "life"
    assert doc["labels"] == {"suite": "serve", "case": "life"}
    assert doc["exit_code"] is None
    assert isinstance(doc["created_at"], int) and doc["created_at"] > 0
    for key in ("id", "name", "image", "backend", "state", "status", "reason", "exit_code", "labels", "ports",
                "created_at"):
        assert key in doc

    other = create(api, labels={"suite": "serve", "case": "other"})

    listed = api.get("/v1/sandboxes", params={"label": "case=life"}).json()
    assert [d["id"] for d in listed] == [sid]
    both = api.get("/v1/sandboxes", params=[("label", "suite=serve"), ("label", "case")]).json()
    assert {d["id"] for d in both} >= {sid, other["id"]}
    assert api.get("/v1/sandboxes", params={"label": "case=nope"}).json() == []

    for key in (sid, sid[:12], "life"):
        got = api.get("/v1/sandboxes/" + key)
        assert got.status_code == 200, got.text
        assert got.json()["id"] == sid

    stopped = api.post("/v1/sandboxes/%s/stop" % sid, params={"timeout": "5"})
    assert stopped.status_code == 200, stopped.text
    assert stopped.json()["state"] == "stopped"
    assert stopped.json()["exit_code"] is not None

    gone = api.delete("/v1/sandboxes/" + sid)
    assert gone.status_code == 204, gone.text
    assert_error(api.get("/v1/sandboxes/" + sid), 404, "not_found")
    assert_error(api.delete("/v1/sandboxes/" + sid), 404, "not_found")
    assert sid not in [d["id"] for d in api.get("/v1/sandboxes").json()]
    assert api.get("/v1/sandboxes", params={"label": "case=life"}).json() == []

    # A running sandbox goes too: DELETE forces.
    assert api.delete("/v1/sandboxes/" + other["id"]).status_code == 204


def test_actions_and_wrong_states(api):
    doc = create(api, start=False, labels={"case": "actions"})
    sid = doc["id"]
    assert doc["state"] == "created", doc
    assert api.post("/v1/sandboxes/%s/start" % sid).json()["state"] == "running"
    assert_error(api.post("/v1/sandboxes/%s/start" % sid), 409, "illegal_state")
    assert_error(api.post("/v1/sandboxes/%s/resume" % sid), 409)
    assert api.post("/v1/sandboxes/%s/pause" % sid).json()["state"] == "paused"
    assert_error(api.post("/v1/sandboxes/%s/pause" % sid), 409)
    assert api.post("/v1/sandboxes/%s/resume" % sid).json()["state"] == "running"
    killed = api.post("/v1/sandboxes/%s/kill" % sid, params={"signal": "KILL"})
    assert killed.status_code == 200, killed.text
    done = wait_state(api, sid, "stopped")
    assert done["exit_code"] == 137, done
    assert_error(api.post("/v1/sandboxes/%s/kill" % sid), 409)
    assert_error(api.post("/v1/sandboxes/%s/kill" % sid, params={"signal": "NOPE"}), 400, "invalid_argument",
                 "signal")
    assert api.delete("/v1/sandboxes/" + sid).status_code == 204


def test_secrets_again_for_a_new_monitor(api):
    doc = create(api, secrets={"API_TOKEN": "s3cret"}, labels={"case": "secrets"})
    sid = doc["id"]
    assert "s3cret" not in str(doc)
    assert api.post("/v1/sandboxes/%s/stop" % sid, params={"timeout": "1"}).json()["state"] == "stopped"
    # The stopped sandbox's monitor ends (just after stop answers), and with
    # it the only copy of the secret.
    end = time.time() + 15
    while True:
        r = api.post("/v1/sandboxes/%s/start" % sid)
        if r.status_code == 400 or time.time() > end:
            break
        time.sleep(0.1)
    assert_error(r, 400, "invalid_argument", "API_TOKEN")
    again = api.post("/v1/sandboxes/%s/start" % sid, json={"secrets": {"API_TOKEN": "s3cret"}})
    assert again.status_code == 200, again.text
    assert again.json()["state"] == "running"
    assert_error(api.post("/v1/sandboxes/%s/start" % sid, json={"env": {}}), 400, "invalid_argument", "env")
    assert api.delete("/v1/sandboxes/" + sid).status_code == 204


def test_create_errors_from_the_library(api):
    create(api, name="dup", labels={"case": "dup"})
    assert_error(api.post("/v1/sandboxes", json=dict(SLEEPER, name="dup")), 409, "already_exists", "dup")
    assert_error(api.post("/v1/sandboxes", json=dict(SLEEPER, image="no-such-image:1", pull="never")), 404)
    assert_error(api.post("/v1/sandboxes", json=dict(SLEEPER, backend="warp")), 400, None, "warp")
    assert_error(api.post("/v1/sandboxes", json=dict(SLEEPER, workdir="relative")), 400)
    assert api.delete("/v1/sandboxes/dup").status_code == 204


def test_twenty_concurrent_creates(server, api):
    def one(i):
        with server.client() as c:
            return c.post("/v1/sandboxes", json=dict(SLEEPER, name="c%02d" % i, labels={"batch": "20"}))

    with concurrent.futures.ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(one, range(20)))
    assert [r.status_code for r in results] == [201] * 20, [r.text for r in results if r.status_code != 201]
    ids = {r.json()["id"] for r in results}
    assert len(ids) == 20
    assert all(r.json()["state"] == "running" for r in results)
    listed = api.get("/v1/sandboxes", params={"label": "batch=20"}).json()
    assert {d["id"] for d in listed} == ids
    assert all(d["state"] == "running" for d in listed)

    def rm(sid):
        with server.client() as c:
            return c.delete("/v1/sandboxes/" + sid).status_code

    with concurrent.futures.ThreadPoolExecutor(max_workers=20) as pool:
        assert list(pool.map(rm, ids)) == [204] * 20
    assert api.get("/v1/sandboxes", params={"label": "batch=20"}).json() == []


def test_qemu_sandbox(api):
    r = api.post("/v1/sandboxes", json={"backend": "qemu", "cmd": ["sleep", "600"], "memory_mib": 256,
                                        "labels": {"case": "qemu"}}, timeout=300)
    assert r.status_code == 201, r.text
    doc = r.json()
    assert doc["backend"] == "qemu"
    assert doc["state"] == "running", doc
    listed = api.get("/v1/sandboxes", params={"label": "case=qemu"}).json()
    assert [d["state"] for d in listed] == ["running"]
    # exec and files reach the guest's agent through the VM's monitor too.
    out = api.post("/v1/sandboxes/%s/exec" % doc["id"], json={"cmd": "uname -s; cat /tmp/in"}, timeout=120)
    assert out.status_code == 200, out.text
    assert api.put("/v1/sandboxes/%s/files" % doc["id"], params={"path": "/tmp/in"},
                   content=b"from the host\n").status_code == 204
    out = api.post("/v1/sandboxes/%s/exec" % doc["id"], json={"cmd": "uname -s; cat /tmp/in"}, timeout=120)
    assert out.json()["stdout"] == "Linux\nfrom the host\n", out.text
    assert api.delete("/v1/sandboxes/" + doc["id"], timeout=120).status_code == 204
    assert api.get("/v1/sandboxes", params={"label": "case=qemu"}).json() == []


def test_metrics(api):
    r = api.post("/v1/sandboxes", json={"backend": "native", "cmd": ["sleep", "60"], "labels": {"case": "metrics"}})
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    assert api.post("/v1/sandboxes/%s/exec" % sid, json={"argv": ["true"]}).json()["exit_code"] == 0
    m = api.get("/metrics")
    assert m.status_code == 200
    assert m.headers["content-type"].startswith("text/plain")
    lines = dict(l.rsplit(" ", 1) for l in m.text.splitlines() if l and not l.startswith("#"))
    assert int(lines['krunbox_sandboxes{state="running"}']) >= 1
    assert int(lines["krunbox_api_exec_duration_seconds_count"]) >= 1
    assert int(lines["krunbox_api_create_duration_seconds_count"]) >= 1
    assert int(lines['krunbox_api_exec_duration_seconds_bucket{le="+Inf"}']) == \
        int(lines["krunbox_api_exec_duration_seconds_count"])
    assert int(lines['krunbox_api_requests_total{code="201"}']) >= 1
    assert "# TYPE krunbox_api_exec_duration_seconds histogram" in m.text
    # The start's time, by the backend it booted.
    assert int(lines['krunbox_sandbox_start_duration_seconds_count{backend="native"}']) >= 1
    assert int(lines['krunbox_sandbox_start_duration_seconds_bucket{backend="native",le="+Inf"}']) == \
        int(lines['krunbox_sandbox_start_duration_seconds_count{backend="native"}'])
    assert "krunbox_api_background_execs_started_total" in lines
    assert api.post("/metrics").status_code == 405
    assert api.delete("/v1/sandboxes/" + sid).status_code == 204
