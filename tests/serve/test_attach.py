"""The attach WebSocket onto a background command, with a real WebSocket
client (python3-websocket) over the server's Unix socket: a terminal whose
size the command sees, stdin in, output out, signals, and a session that can
be left and taken up again. Plus the events stream."""
import json
import socket
import subprocess
import threading
import time

import pytest
import websocket

from conftest import assert_error


def attach(world, sid, eid, **params):
    s = socket.socket(socket.AF_UNIX)
    s.connect(world.socket)
    query = "&".join("%s=%s" % kv for kv in params.items())
    url = "ws://krunbox/v1/sandboxes/%s/execs/%s/attach%s" % (sid, eid, "?" + query if query else "")
    ws = websocket.create_connection(url, socket=s, timeout=60)
    first = json.loads(ws.recv())
    assert first["type"] == "start" and first["exec_id"] == eid, first
    return ws, first


def read_until(ws, want, timeout=60):
    """Output (channel 1 and 2 bytes) until `want` shows in stdout, and the text events seen."""
    out = {1: b"", 2: b""}
    events = []
    end = time.time() + timeout
    while time.time() < end:
        op, data = ws.recv_data()
        if op == websocket.ABNF.OPCODE_BINARY:
            assert data[:1] in (b"\x01", b"\x02"), data
            out[data[0]] += data[1:]
        elif op == websocket.ABNF.OPCODE_TEXT:
            ev = json.loads(data)
            events.append(ev)
            if ev["type"] == "exit":
                return out, events
        elif op == websocket.ABNF.OPCODE_CLOSE:
            return out, events
        if want is not None and want in out[1]:
            return out, events
    raise AssertionError("no %r in %r" % (want, out))


def start(api, sid, **body):
    r = api.post("/v1/sandboxes/%s/exec" % sid, json=dict(body, background=True))
    assert r.status_code == 201, r.text
    return r.json()["exec_id"]


@pytest.fixture(scope="module")
def box(api):
    r = api.post("/v1/sandboxes", json={"backend": "native", "cmd": ["sleep", "600"], "name": "att"})
    assert r.status_code == 201, r.text
    yield r.json()["id"]
    api.delete("/v1/sandboxes/att")


def test_a_terminal_over_the_websocket(world, api, box):
    eid = start(api, "att", argv=["/bin/sh"], tty=True)
    ws, _ = attach(world, "att", eid)
    ws.send(json.dumps({"type": "resize", "rows": 37, "cols": 101}))
    ws.send_binary(b"\x00stty size; echo mark-$((6*7))\n")
    out, _ = read_until(ws, b"mark-42")
    assert b"37 101" in out[1], out
    # A bad control message is answered and the session goes on.
    ws.send(json.dumps({"type": "warp", "speed": 9}))
    ws.send_binary(b"\x01not stdin")
    ws.send_binary(b"\x00echo still-$((1+1))\n")
    out, events = read_until(ws, b"still-2")
    errors = [e for e in events if e["type"] == "error"]
    assert any("warp" in e["error"]["message"] for e in errors), events
    assert any("channel byte 0" in e["error"]["message"] for e in errors), events
    # Leaving the WebSocket leaves the shell running; a new one replays and goes on.
    ws.close()
    assert api.get("/v1/sandboxes/att/execs/" + eid).json()["running"] is True
    ws, first = attach(world, "att", eid)
    assert first["offset"] == 0
    replay, _ = read_until(ws, b"still-2")
    assert b"mark-42" in replay[1]
    ws.send_binary(b"\x00exit 7\n")
    _, events = read_until(ws, None)
    assert events[-1]["type"] == "exit" and events[-1]["exit_code"] == 7, events
    # The server closes normally after the exit event.
    with pytest.raises(websocket.WebSocketConnectionClosedException):
        for _ in range(10):
            ws.recv()
    ws.close()


def test_stdin_close_and_signals_without_a_terminal(world, api, box):
    eid = start(api, "att", cmd="cat; echo done >&2")
    ws, _ = attach(world, "att", eid)
    ws.send_binary(b"\x00hello ws\n")
    out, _ = read_until(ws, b"hello ws")
    ws.send(json.dumps({"type": "close_stdin"}))
    out, events = read_until(ws, None)
    assert out[2] == b"done\n", out
    assert events[-1]["exit_code"] == 0, events
    ws.close()
    eid = start(api, "att", argv=["sleep", "300"])
    ws, _ = attach(world, "att", eid)
    ws.send(json.dumps({"type": "signal", "signal": "TERM"}))
    _, events = read_until(ws, None)
    assert events[-1]["type"] == "exit" and events[-1]["signal"] == 15, events
    ws.close()


def test_attach_refuses_what_is_not_a_websocket(world, api, box):
    eid = start(api, "att", argv=["sleep", "300"])
    r = api.get("/v1/sandboxes/att/execs/%s/attach" % eid)
    assert_error(r, 400, "invalid_argument", "WebSocket")
    assert_error(api.get("/v1/sandboxes/att/execs/%s/attach" % eid, params={"follow": "1"},
                         headers={"Upgrade": "websocket", "Connection": "Upgrade",
                                  "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version": "13"}),
                 400, "invalid_argument", "follow")
    assert_error(api.post("/v1/sandboxes/att/execs/%s/attach" % eid), 405)
    with pytest.raises(websocket.WebSocketBadStatusException) as e:
        attach(world, "att", "00000000000000ff")
    assert e.value.status_code == 404
    api.post("/v1/sandboxes/att/execs/%s/signal" % eid, json={"signal": 9})


def test_sixty_fifth_background_command_is_busy(api, box):
    r = api.post("/v1/sandboxes", json={"backend": "native", "cmd": ["sleep", "600"], "name": "busy"})
    assert r.status_code == 201, r.text
    try:
        for _ in range(64):
            start(api, "busy", argv=["sleep", "600"])
        assert_error(api.post("/v1/sandboxes/busy/exec", json={"argv": ["true"], "background": True}),
                     429, "busy", "64 background commands")
    finally:
        assert api.delete("/v1/sandboxes/busy").status_code == 204


def test_events_follow_what_any_front_end_does(world, server, api):
    seen = []
    ready = threading.Event()

    def follow():
        with server.client(timeout=120) as c:
            with c.stream("GET", "/v1/events", params={"label": "ev=1"}) as r:
                assert r.status_code == 200
                ready.set()
                for line in r.iter_lines():
                    if line:
                        seen.append(json.loads(line))
                    if any(e["type"] == "removed" for e in seen):
                        return

    t = threading.Thread(target=follow, daemon=True)
    t.start()
    assert ready.wait(30)
    time.sleep(0.3)
    # An unrelated sandbox is filtered out by the label.
    other = world.kb("run", "-d", "--backend", "native", "--name", "noise", "--", "true")
    assert other.returncode == 0, other.stderr
    # Running for seconds: the watcher looks on every change of the records,
    # but a state shorter than its look on a loaded host can pass unseen.
    r = world.kb("run", "-d", "--backend", "native", "--label", "ev=1", "--name", "evbox", "--", "sh", "-c",
                 "sleep 3; exit 3")
    assert r.returncode == 0, r.stderr
    end = time.time() + 30
    while time.time() < end and not any(e["type"] == "exited" for e in seen):
        time.sleep(0.1)
    assert world.kb("rm", "evbox").returncode == 0
    t.join(30)
    types = [e["type"] for e in seen if e["type"] != "keepalive"]
    assert types == ["created", "started", "exited", "removed"], seen
    assert {e["name"] for e in seen} == {"evbox"}
    exited = [e for e in seen if e["type"] == "exited"][0]
    assert exited["exit_code"] == 3 and exited["state"] == "stopped", exited
    world.kb("rm", "-f", "noise")


def test_events_hostile_queries(api):
    assert_error(api.get("/v1/events", params={"type": "exploded"}), 400, "invalid_argument", "exploded")
    assert_error(api.get("/v1/events", params={"sandbox": "../x"}), 400, "invalid_argument", "sandbox")
    assert_error(api.get("/v1/events", params={"since": "0"}), 400, "invalid_argument", "since")
    assert_error(api.post("/v1/events"), 405)


def test_cli_events_print_the_same_changes(world):
    from conftest import KRUNBOX
    p = subprocess.Popen([KRUNBOX, "events", "--for", "10", "--format", "json", "--filter", "label=cli=1"],
                         env=world.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1)
        r = world.kb("run", "-d", "--backend", "native", "--label", "cli=1", "--name", "clibox", "--",
                     "sh", "-c", "sleep 1")
        assert r.returncode == 0, r.stderr
        end = time.time() + 20
        while time.time() < end and "stopped" not in world.kb("inspect", "clibox").stdout:
            time.sleep(0.2)
        assert world.kb("rm", "clibox").returncode == 0
        out, err = p.communicate(timeout=30)
    finally:
        p.kill()
    assert p.returncode == 0, err
    events = [json.loads(line) for line in out.splitlines()]
    assert [e["type"] for e in events] == ["created", "started", "exited", "removed"], out
    assert events[2]["exit_code"] == 0
    bad = world.kb("events", "--filter", "bogus")
    assert bad.returncode == 125 and "KEY=VALUE" in bad.stderr, bad.stderr
    bad = world.kb("events", "--filter", "type=nope")
    assert bad.returncode == 125 and "nope" in bad.stderr, bad.stderr
    bad = world.kb("events", "--filter", "color=red")
    assert bad.returncode == 125 and "color" in bad.stderr, bad.stderr
