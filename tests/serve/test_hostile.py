"""What a hostile or broken client sends: each gets a clear 4xx, and the
server goes on serving everyone else."""
import os
import socket
import time

import httpx
import pytest

from conftest import assert_error


def raw(world, data, read=True, timeout=10):
    """Sends bytes on a fresh connection; the response's status code."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(timeout)
        s.connect(world.socket)
        s.sendall(data)
        if not read:
            return None
        got = b""
        while b"\r\n" not in got:
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
    return int(got.split(b" ")[1]) if got.startswith(b"HTTP/1.1 ") else got


@pytest.fixture(autouse=True)
def still_serving(api):
    yield
    assert api.get("/v1/health").status_code == 200


def test_malformed_json(api):
    for body in (b"{", b"", b"not json", b"[1]", b"\"x\"", b"{\"image\": \"a\",}", b"\xff\xfe"):
        assert_error(api.post("/v1/sandboxes", content=body), 400, "invalid_argument")


def test_wrong_types_name_the_field(api):
    cases = {
        "cpus": "two", "memory_mib": -5, "image": 5, "start": "yes", "cmd": "ls", "env": 3, "labels": [],
        "ports": {}, "volumes": "a:b", "backend": 7, "restart": 1, "secrets": ["A=1"],
    }
    for field, value in cases.items():
        err = assert_error(api.post("/v1/sandboxes", json={field: value}), 400, "invalid_argument")
        assert '"%s' % field in err["message"], err
    err = assert_error(api.post("/v1/sandboxes", json={"ports": [{"guest_port": "80"}]}), 400)
    assert "ports[0].guest_port" in err["message"]


def test_unknown_fields(api):
    err = assert_error(api.post("/v1/sandboxes", json={"imagee": "busybox"}), 400, "invalid_argument")
    assert '"imagee" is not a known field' in err["message"]
    err = assert_error(api.post("/v1/sandboxes", json={"volumes": [{"host_path": "/a", "guest_path": "/b",
                                                                    "mode": "rw"}]}), 400)
    assert "volumes[0].mode" in err["message"]
    assert_error(api.get("/v1/sandboxes", params={"lable": "x"}), 400, "invalid_argument", "lable")
    assert_error(api.get("/v1/sandboxes", params={"label": "=x"}), 400, "invalid_argument", "label")


def test_oversized_body(api):
    big = b'{"name": "' + b"a" * (2 << 20) + b'"}'
    assert_error(api.post("/v1/sandboxes", content=big), 413, "body_too_large")


def test_oversized_chunked_body(api):
    def chunks():
        for _ in range(40):
            yield b"a" * 65536
    assert_error(api.post("/v1/sandboxes", content=chunks()), 413, "body_too_large")


def test_huge_header(api):
    assert_error(api.get("/v1/version", headers={"X-Big": "a" * 20000}), 431, "header_too_large")
    many = {"X-H%d" % i: "v" * 100 for i in range(300)}
    assert_error(api.get("/v1/version", headers=many), 431)


def test_path_traversal_in_ids(world, api):
    before = sorted(os.listdir(world.data))
    for path in ("/v1/sandboxes/..", "/v1/sandboxes/%2e%2e", "/v1/sandboxes/..%2f..%2fetc",
                 "/v1/sandboxes/%2e%2e%2flifecycle", "/v1/sandboxes/a%00b", "/v1/sandboxes/.hidden",
                 "/v1/sandboxes/%2fetc%2fpasswd/start", "/v1/sandboxes/" + "a" * 200):
        r = raw(world, b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert r == 400, (path, r)
    for path in ("/v1/sandboxes/../../etc", "/v1/../v1/version", "/v1//sandboxes", "/v1/sandboxes/x/../y/start"):
        r = raw(world, b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert r in (400, 404), (path, r)
    assert sorted(os.listdir(world.data)) == before


def test_unknown_routes_and_methods(api):
    for path in ("/", "/v2/sandboxes", "/v1", "/v1/", "/v1/nope", "/v1/sandboxes/x/y/z", "/v1/sandboxes/x/reboot",
                 "/v1/version/", "/etc/passwd"):
        assert_error(api.get(path), 404, "no_route")
    r = api.put("/v1/sandboxes")
    assert_error(r, 405, "method_not_allowed")
    assert r.headers["allow"] == "GET, POST"
    assert_error(api.delete("/v1/version"), 405)
    assert_error(api.get("/v1/sandboxes/abc/start"), 405)
    assert_error(api.request("BREW", "/v1/sandboxes"), 405)
    assert_error(api.get("/v1/sandboxes/nosuchbox"), 404, "not_found")
    assert_error(api.post("/v1/sandboxes/nosuchbox/stop"), 404, "not_found")
    assert_error(api.post("/v1/sandboxes/nosuchbox/stop", content=b"junk"), 400)


def test_not_http(world, api):
    assert raw(world, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n") == 400
    assert raw(world, b"GET /v1/version HTTP/1.1\r\nContent-Length: -1\r\n\r\n") == 400
    assert raw(world, b"GET /v1/version HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n") == 400


def test_slow_client_does_not_block_others(world, api):
    with socket.socket(socket.AF_UNIX) as slow:
        slow.connect(world.socket)
        slow.sendall(b"POST /v1/sandboxes HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        t = time.time()
        assert api.get("/v1/version").status_code == 200
        assert time.time() - t < 2


def test_keep_alive(server):
    with server.client() as c:
        for _ in range(5):
            assert c.get("/v1/version").status_code == 200
    # One connection served all five.
    log = server.output()
    assert log.count("GET /v1/version 200") >= 5
