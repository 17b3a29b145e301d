"""Background commands and a sandbox's time limits through the API.

Background commands belong to the sandbox's monitor, not to the request or
the server: they outlive the client and a kill -9 of the server, keep their
output for whoever comes back, and take stdin, signals and resizes by exec
id. The time to live and the idle timeout are the monitor's too."""
import base64
import json
import signal
import time

import pytest

from conftest import assert_error


def events(api, sid, eid, **params):
    out = []
    with api.stream("GET", "/v1/sandboxes/%s/execs/%s/output" % (sid, eid), params=params) as r:
        assert r.status_code == 200, r.read()
        assert r.headers["content-type"] == "application/x-ndjson"
        for line in r.iter_lines():
            if line:
                out.append(json.loads(line))
    return out


def text_of(evs, kind="stdout"):
    return b"".join(base64.b64decode(e["data"]) for e in evs if e["type"] == kind)


def wait_ended(api, sid, eid, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        doc = api.get("/v1/sandboxes/%s/execs/%s" % (sid, eid)).json()
        if not doc["running"]:
            return doc
        time.sleep(0.1)
    raise AssertionError("background command %s still runs" % eid)


def start(api, sid, **body):
    r = api.post("/v1/sandboxes/%s/exec" % sid, json=dict(body, background=True))
    assert r.status_code == 201, r.text
    doc = r.json()
    assert set(doc) == {"exec_id", "pid"}, doc
    assert r.headers["location"].endswith("/execs/" + doc["exec_id"])
    return doc["exec_id"]


@pytest.fixture(scope="module")
def box(api):
    r = api.post("/v1/sandboxes", json={"backend": "native", "cmd": ["sleep", "600"], "name": "bg"})
    assert r.status_code == 201, r.text
    yield r.json()["id"]
    api.delete("/v1/sandboxes/bg")


def test_background_output_is_kept_and_replayed(api, box):
    eid = start(api, "bg", cmd="echo one; echo two >&2; sleep 0.5; echo three; exit 4")
    # Followed from the start: everything, in order, then the exit.
    evs = events(api, "bg", eid, follow="1")
    assert [e["type"] for e in evs][0] == "start"
    assert evs[-1] == {"type": "exit", "exit_code": 4, "signal": 0, "timed_out": False}
    assert text_of(evs) == b"one\nthree\n"
    assert text_of(evs, "stderr") == b"two\n"
    # Offsets count both streams, so a client can resume where it was.
    offsets = [e["offset"] for e in evs if e["type"] in ("stdout", "stderr")]
    assert offsets == sorted(offsets) and offsets[0] == 0
    # "three" came 0.5 s after the rest: resuming at its offset gives it alone.
    last = [e for e in evs if e["type"] == "stdout"][-1]
    assert base64.b64decode(last["data"]).endswith(b"three\n")
    again = events(api, "bg", eid, offset=str(last["offset"] + len(base64.b64decode(last["data"])) - len("three\n")))
    assert text_of(again) == b"three\n" and text_of(again, "stderr") == b""
    doc = api.get("/v1/sandboxes/bg/execs/" + eid).json()
    assert doc["running"] is False and doc["exit_code"] == 4 and doc["timed_out"] is False
    assert doc["argv"] == ["/bin/sh", "-c", "echo one; echo two >&2; sleep 0.5; echo three; exit 4"]
    assert eid in [d["exec_id"] for d in api.get("/v1/sandboxes/bg/execs").json()]


def test_a_client_that_goes_leaves_it_running(api, box):
    eid = start(api, "bg", cmd="for i in 1 2 3 4 5 6; do echo $i; sleep 0.3; done")
    # Read the first event and hang up.
    with api.stream("GET", "/v1/sandboxes/bg/execs/%s/output" % eid, params={"follow": "1"}) as r:
        for line in r.iter_lines():
            if line and json.loads(line)["type"] == "stdout":
                break
    assert api.get("/v1/sandboxes/bg/execs/" + eid).json()["running"] is True
    # Without follow: what is kept so far, and an end that says it runs on.
    now = events(api, "bg", eid)
    assert now[-1]["type"] == "end" and now[-1]["running"] is True
    doc = wait_ended(api, "bg", eid)
    assert doc["exit_code"] == 0
    assert text_of(events(api, "bg", eid)) == b"1\n2\n3\n4\n5\n6\n"


def test_stdin_then_close(api, box):
    eid = start(api, "bg", argv=["sh", "-c", "read a; read b; echo \"got $a $b\"; cat; echo done"])
    for chunk in (b"x\n", b"y\n", b"rest"):
        r = api.post("/v1/sandboxes/bg/execs/%s/stdin" % eid, content=chunk,
                     headers={"Content-Type": "application/octet-stream"})
        assert r.status_code == 204, r.text
    assert api.post("/v1/sandboxes/bg/execs/%s/close-stdin" % eid).status_code == 204
    assert wait_ended(api, "bg", eid)["exit_code"] == 0
    assert text_of(events(api, "bg", eid)) == b"got x y\nrestdone\n"
    # Given at the start, stdin is written and closed.
    eid = start(api, "bg", argv=["cat"], stdin="from the body")
    assert wait_ended(api, "bg", eid)["exit_code"] == 0
    assert text_of(events(api, "bg", eid)) == b"from the body"


def test_signal_and_names(api, box):
    eid = start(api, "bg", argv=["sleep", "600"])
    assert api.post("/v1/sandboxes/bg/execs/%s/signal" % eid, json={"signal": "TERM"}).status_code == 204
    doc = wait_ended(api, "bg", eid)
    assert doc["signal"] == signal.SIGTERM and doc["exit_code"] == 128 + signal.SIGTERM
    # An ended command takes no more signals or input.
    assert_error(api.post("/v1/sandboxes/bg/execs/%s/signal" % eid, json={"signal": 9}), 409, None, "ended")
    assert_error(api.post("/v1/sandboxes/bg/execs/%s/stdin" % eid, content=b"x"), 409, None, "ended")


def test_tty_and_resize(api, box):
    eid = start(api, "bg", argv=["sh", "-c", "sleep 1; stty size"], tty=True)
    r = api.post("/v1/sandboxes/bg/execs/%s/resize" % eid, json={"rows": 33, "cols": 101})
    assert r.status_code == 204, r.text
    assert wait_ended(api, "bg", eid)["exit_code"] == 0
    assert b"33 101" in text_of(events(api, "bg", eid))


def test_timeout_of_a_background_command(api, box):
    eid = start(api, "bg", argv=["sleep", "60"], timeout_s=1)
    doc = wait_ended(api, "bg", eid, timeout=20)
    assert doc["timed_out"] is True and doc["exit_code"] == 124


def test_hostile_and_unknown(api, box):
    assert_error(api.get("/v1/sandboxes/bg/execs/0123456789abcdef"), 404, "not_found")
    assert_error(api.get("/v1/sandboxes/bg/execs/..%2f..%2fetc"), 404)
    assert_error(api.get("/v1/sandboxes/bg/execs/ZZZZ/output"), 404)
    eid = start(api, "bg", argv=["sleep", "600"])
    base = "/v1/sandboxes/bg/execs/" + eid
    assert_error(api.post(base + "/signal", json={"signal": 0}), 400, None, "signal")
    assert_error(api.post(base + "/signal", json={"signal": "NOPE"}), 400, None, "signal")
    assert_error(api.post(base + "/signal", json={}), 400, None, "signal")
    assert_error(api.post(base + "/signal", json={"signal": 9, "x": 1}), 400, None, "x")
    assert_error(api.post(base + "/resize", json={"rows": 0, "cols": 80}), 400, None, "rows")
    assert_error(api.post(base + "/resize", json={"rows": 10}), 400, None, "cols")
    assert_error(api.get(base + "/output", params={"follow": "maybe"}), 400, None, "follow")
    assert_error(api.get(base + "/output", params={"offset": "-1"}), 400, None, "offset")
    assert_error(api.get(base + "/output", params={"nope": "1"}), 400, None, "nope")
    assert_error(api.post(base + "/output"), 405)
    assert_error(api.get(base + "/signal"), 405)
    assert_error(api.post(base + "/bogus"), 404)
    assert_error(api.delete(base), 405)
    # The command was not disturbed by any of it.
    assert api.get(base).json()["running"] is True
    assert api.post(base + "/signal", json={"signal": 9}).status_code == 204
    assert wait_ended(api, "bg", eid)["signal"] == 9


def test_background_commands_survive_the_server(world):
    first = world.serve("--socket", world.socket + ".bg")
    with first.client_at(world.socket + ".bg") as c:
        sid = c.post("/v1/sandboxes", json={"backend": "native", "cmd": ["sleep", "600"]}).json()["id"]
        eid = start(c, sid, cmd="echo before; sleep 2; echo after")
    first.kill(signal.SIGKILL)
    second = world.serve("--socket", world.socket + ".bg")
    with second.client_at(world.socket + ".bg") as c:
        evs = events(c, sid, eid, follow="1")
        assert text_of(evs) == b"before\nafter\n"
        assert evs[-1]["type"] == "exit" and evs[-1]["exit_code"] == 0
        assert c.delete("/v1/sandboxes/" + sid).status_code == 204
    assert second.terminate() == 0


def wait_state(api, sid, state, timeout):
    end = time.time() + timeout
    doc = None
    while time.time() < end:
        doc = api.get("/v1/sandboxes/" + sid).json()
        if doc["state"] == state:
            return doc
        time.sleep(0.2)
    raise AssertionError("sandbox %s is %s, not %s" % (sid, doc and doc["state"], state))


def test_time_to_live_stops_the_sandbox_and_can_be_extended(api):
    t = time.time()
    r = api.post("/v1/sandboxes", json={"backend": "native", "cmd": ["sleep", "600"], "timeout_s": 3})
    assert r.status_code == 201, r.text
    doc = r.json()
    sid = doc["id"]
    assert doc["timeout_s"] == 3 and doc["deadline"] >= int(t)
    # Extended from now: it lives past its first deadline.
    time.sleep(1)
    r = api.post("/v1/sandboxes/%s/timeout" % sid, json={"timeout_s": 5})
    assert r.status_code == 200, r.text
    assert r.json()["deadline"] >= int(time.time()) + 4
    time.sleep(3.5)
    assert api.get("/v1/sandboxes/" + sid).json()["state"] == "running"
    doc = wait_state(api, sid, "stopped", 20)
    assert "time to live" in doc["reason"], doc
    assert doc["deadline"] is None
    assert_error(api.post("/v1/sandboxes/%s/timeout" % sid, json={"timeout_s": 5}), 409)
    assert api.delete("/v1/sandboxes/" + sid).status_code == 204


def test_idle_timeout_counts_clients_not_status_reads(api):
    r = api.post("/v1/sandboxes", json={"backend": "native", "cmd": ["sleep", "600"], "idle_timeout_s": 2})
    sid = r.json()["id"]
    # An exec that runs longer than the idle timeout keeps it busy.
    r = api.post("/v1/sandboxes/%s/exec" % sid, json={"argv": ["sleep", "3"]})
    assert r.json()["exit_code"] == 0
    assert api.get("/v1/sandboxes/" + sid).json()["state"] == "running"
    # Status reads alone do not: it stops about 2 s after the exec.
    doc = wait_state(api, sid, "stopped", 20)
    assert "idle" in doc["reason"], doc
    assert api.delete("/v1/sandboxes/" + sid).status_code == 204


def test_time_limits_hostile(api):
    for body in ({"timeout_s": -1}, {"timeout_s": "10"}, {"timeout_s": 10 ** 12}, {"idle_timeout_s": 1.5}):
        assert_error(api.post("/v1/sandboxes", json=dict(body, backend="native", cmd=["true"])), 400, None,
                     list(body)[0])
    assert_error(api.post("/v1/sandboxes/nope/timeout", json={"timeout_s": 5}), 404)
    r = api.post("/v1/sandboxes", json={"backend": "native", "cmd": ["sleep", "600"]})
    sid = r.json()["id"]
    assert r.json()["deadline"] is None and r.json()["timeout_s"] == 0
    assert_error(api.post("/v1/sandboxes/%s/timeout" % sid, json={}), 400, None, "timeout_s")
    assert_error(api.post("/v1/sandboxes/%s/timeout" % sid, json={"timeout_s": -5}), 400, None, "timeout_s")
    assert_error(api.post("/v1/sandboxes/%s/timeout" % sid, json={"timeout_s": 5, "ttl": 1}), 400, None, "ttl")
    assert api.get("/v1/sandboxes/" + sid).json()["state"] == "running"
    assert api.delete("/v1/sandboxes/" + sid).status_code == 204


def test_background_on_qemu(api):
    r = api.post("/v1/sandboxes", json={"backend": "qemu", "cmd": ["sleep", "600"], "memory_mib": 256,
                                        "idle_timeout_s": 600}, timeout=300)
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    try:
        eid = start(api, sid, cmd="read line; echo \"vm says $line\"")
        assert api.post("/v1/sandboxes/%s/execs/%s/stdin" % (sid, eid), content=b"hello\n").status_code == 204
        assert wait_ended(api, sid, eid, timeout=60)["exit_code"] == 0
        assert text_of(events(api, sid, eid)) == b"vm says hello\n"
        # Archives in and out of the VM, through its agent.
        import io, tarfile
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as t:
            info = tarfile.TarInfo("in-vm/f.txt")
            info.size = 3
            t.addfile(info, io.BytesIO(b"abc"))
        r = api.put("/v1/sandboxes/%s/archive" % sid, params={"path": "/tmp"}, content=buf.getvalue())
        assert r.status_code == 200, r.text
        r = api.get("/v1/sandboxes/%s/archive" % sid, params={"path": "/tmp/in-vm"})
        with tarfile.open(fileobj=io.BytesIO(r.content)) as t:
            assert t.extractfile("in-vm/f.txt").read() == b"abc"
    finally:
        assert api.delete("/v1/sandboxes/" + sid).status_code == 204
