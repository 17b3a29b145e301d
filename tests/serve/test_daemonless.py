"""The server holds nothing: sandboxes survive kill -9 of it, a restarted
server lists them as they are, and SIGTERM ends it cleanly. TCP needs a token."""
import os
import signal
import socket
import threading
import time

import httpx
import pytest

from conftest import KRUNBOX, assert_error, free_port

SLEEPER = {"backend": "native", "cmd": ["sleep", "600"]}


def test_kill9_then_restart(world):
    first = world.serve()
    with first.client() as c:
        ids = [c.post("/v1/sandboxes", json=dict(SLEEPER, labels={"case": "k9"})).json()["id"] for _ in range(2)]
        stopped = c.post("/v1/sandboxes", json=dict(SLEEPER, labels={"case": "k9"}, start=False)).json()["id"]
    first.kill(signal.SIGKILL)
    # The sandboxes are their monitors' and keep running without any server.
    running = world.kb("ps", "-q").stdout.split()
    assert {sid[:12] for sid in ids} <= {short[:12] for short in running}
    assert os.path.exists(world.socket)  # stale: the dead server could not remove it

    second = world.serve()
    with second.client() as c:
        listed = {d["id"]: d["state"] for d in c.get("/v1/sandboxes", params={"label": "case=k9"}).json()}
        assert listed == {ids[0]: "running", ids[1]: "running", stopped: "created"}
        for sid in ids + [stopped]:
            assert c.delete("/v1/sandboxes/" + sid).status_code == 204
    assert second.terminate() == 0


def test_second_server_on_the_same_socket_is_refused(world):
    first = world.serve()
    second = world.serve(wait=False)
    assert second.proc.wait(timeout=30) != 0
    assert "another server is listening" in second.output()
    with first.client() as c:
        assert c.get("/v1/health").status_code == 200
    assert first.terminate() == 0


def test_sigterm_finishes_requests_in_flight(world):
    s = world.serve()
    with s.client() as c:
        sid = c.post("/v1/sandboxes", json={"backend": "native", "cmd": ["sh", "-c", "trap '' TERM; sleep 600"]}).json()["id"]
    result = {}

    def stop():
        with s.client() as c:
            result["r"] = c.post("/v1/sandboxes/%s/stop" % sid, params={"timeout": "2"})

    t = threading.Thread(target=stop)
    t.start()
    time.sleep(0.5)
    # An idle keep-alive connection must not hold the server up.
    idle = socket.socket(socket.AF_UNIX)
    idle.connect(world.socket)
    begun = time.time()
    s.proc.send_signal(signal.SIGTERM)
    assert s.proc.wait(timeout=30) == 0
    t.join()
    assert result["r"].status_code == 200, result["r"].text
    assert result["r"].json()["state"] == "stopped"
    assert time.time() - begun < 10
    assert not os.path.exists(world.socket)
    idle.close()
    assert "stopped" in s.output()
    again = world.serve()
    with again.client() as c:
        assert c.delete("/v1/sandboxes/" + sid).status_code == 204
    assert again.terminate() == 0


def test_tcp_needs_the_token(world):
    token = "t0k3n-" + "a1b2c3d4" * 4
    path = os.path.join(world.dir, "token")
    with open(path, "w") as f:
        f.write(token + "\n")
    os.chmod(path, 0o600)
    port = free_port()
    s = world.serve("--listen", "127.0.0.1:%d" % port, "--token-file", path)
    url = "http://127.0.0.1:%d" % port
    end = time.time() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.time() > end:
                raise
            time.sleep(0.05)
    with httpx.Client(base_url=url, timeout=30) as c:
        r = c.get("/v1/version")
        assert_error(r, 401, "unauthorized")
        assert r.headers["www-authenticate"] == "Bearer"
        assert_error(c.get("/v1/version", headers={"Authorization": "Bearer wrong"}), 401)
        assert_error(c.get("/v1/version", headers={"Authorization": "Bearer " + token + "x"}), 401)
        assert_error(c.get("/v1/version", headers={"Authorization": "Basic " + token}), 401)
        assert_error(c.post("/v1/sandboxes", json=SLEEPER), 401)
        ok = c.get("/v1/version", headers={"Authorization": "Bearer " + token})
        assert ok.status_code == 200, ok.text
        assert c.get("/v1/sandboxes", headers={"Authorization": "Bearer " + token}).status_code == 200
    # The Unix socket needs none.
    with s.client() as c:
        assert c.get("/v1/version").status_code == 200
    log = s.output()
    assert token not in log
    assert s.terminate() == 0


def test_listen_without_a_token_is_refused(world):
    r = world.kb("serve", "--listen", "127.0.0.1:%d" % free_port(), "--socket", os.path.join(world.dir, "x.sock"),
                 timeout=30)
    assert r.returncode != 0
    assert "--token-file" in r.stderr
    loose = os.path.join(world.dir, "loose-token")
    with open(loose, "w") as f:
        f.write("a" * 32)
    os.chmod(loose, 0o644)
    r = world.kb("serve", "--listen", "127.0.0.1:%d" % free_port(), "--token-file", loose, "--socket",
                 os.path.join(world.dir, "y.sock"), timeout=30)
    assert r.returncode != 0
    assert "chmod 600" in r.stderr


def test_connection_limit(world):
    path = os.path.join(world.dir, "lim.sock")
    s = world.serve("--socket", path, "--max-connections", "2", wait=False)
    s.wait_ready(path)
    time.sleep(0.5)  # the readiness probe's connection ends first
    held = []
    for _ in range(2):
        h = socket.socket(socket.AF_UNIX)
        h.connect(path)
        held.append(h)
    time.sleep(0.3)
    with socket.socket(socket.AF_UNIX) as third:
        third.settimeout(10)
        third.connect(path)
        got = third.recv(4096)
    assert got.startswith(b"HTTP/1.1 503"), got
    assert b'"code":"unavailable"' in got
    for h in held:
        h.close()
    time.sleep(0.3)
    with httpx.Client(transport=httpx.HTTPTransport(uds=path), base_url="http://krunbox") as c:
        assert c.get("/v1/health").status_code == 200
    assert s.terminate() == 0
