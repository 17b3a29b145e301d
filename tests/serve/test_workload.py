"""exec and files in a running sandbox through the API."""
import base64
import hashlib
import json
import os
import socket
import time

import pytest

from conftest import assert_error


@pytest.fixture(scope="module")
def box(api):
    r = api.post("/v1/sandboxes", json={"backend": "native", "cmd": ["sleep", "600"], "name": "wl"})
    assert r.status_code == 201, r.text
    yield r.json()["id"]
    api.delete("/v1/sandboxes/wl")


def test_exec_collected(api, box):
    r = api.post("/v1/sandboxes/wl/exec", json={"cmd": "echo hi; echo err >&2; exit 3"})
    assert r.status_code == 200, r.text
    assert r.json() == {"exit_code": 3, "signal": 0, "timed_out": False, "stdout": "hi\n", "stderr": "err\n",
                        "stdout_truncated": False, "stderr_truncated": False}
    r = api.post("/v1/sandboxes/%s/exec" % box, json={"argv": ["sh", "-c", 'echo "$A $B" $PWD'],
                                                      "env": {"A": "1", "B": "two"}, "cwd": "/tmp"})
    assert r.json()["stdout"] == "1 two /tmp\n", r.text


def test_exec_stdin_and_binary_output(api, box):
    r = api.post("/v1/sandboxes/wl/exec", json={"argv": ["cat"], "stdin": "line one\nline two\n"})
    assert r.json()["stdout"] == "line one\nline two\n", r.text
    r = api.post("/v1/sandboxes/wl/exec", json={"cmd": "printf '\\377\\000x'", "output_encoding": "base64"})
    assert base64.b64decode(r.json()["stdout"]) == b"\xff\x00x", r.text
    # Bytes that are not UTF-8 go in as base64 too, and come back unchanged.
    raw = bytes(range(256)) * 4
    r = api.post("/v1/sandboxes/wl/exec", json={"argv": ["cat"], "stdin": base64.b64encode(raw).decode(),
                                                "stdin_encoding": "base64", "output_encoding": "base64"})
    assert base64.b64decode(r.json()["stdout"]) == raw, r.text


def test_exec_timeout(api, box):
    t = time.time()
    r = api.post("/v1/sandboxes/wl/exec", json={"argv": ["sleep", "60"], "timeout_s": 1})
    assert r.status_code == 200, r.text
    assert r.json()["timed_out"] is True
    assert r.json()["exit_code"] == 124
    assert r.json()["signal"] == 9
    assert time.time() - t < 15


def test_exec_output_cap(api, box):
    r = api.post("/v1/sandboxes/wl/exec", json={"cmd": "head -c 5000000 /dev/zero"})
    j = r.json()
    assert j["exit_code"] == 0
    assert j["stdout_truncated"] is True
    assert len(j["stdout"]) == 4 << 20


def test_exec_streamed(api, box):
    events = []
    with api.stream("POST", "/v1/sandboxes/wl/exec", json={"cmd": "echo a; sleep 0.3; echo b >&2; exit 2"},
                    headers={"Accept": "application/x-ndjson"}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"] == "application/x-ndjson"
        assert r.headers["transfer-encoding"] == "chunked"
        for line in r.iter_lines():
            if line:
                events.append((time.time(), json.loads(line)))
    kinds = [e["type"] for _, e in events]
    assert kinds == ["start", "stdout", "stderr", "exit"], events
    assert base64.b64decode(events[1][1]["data"]) == b"a\n"
    assert base64.b64decode(events[2][1]["data"]) == b"b\n"
    assert events[3][1]["exit_code"] == 2
    # Output arrived as it happened, not all at the end.
    assert events[2][0] - events[1][0] > 0.2


def test_exec_errors(api, box):
    assert_error(api.post("/v1/sandboxes/wl/exec", json={}), 400, "invalid_argument", "argv")
    assert_error(api.post("/v1/sandboxes/wl/exec", json={"argv": ["a"], "cmd": "b"}), 400, "invalid_argument")
    assert_error(api.post("/v1/sandboxes/wl/exec", json={"argv": []}), 400, "invalid_argument", "argv")
    assert_error(api.post("/v1/sandboxes/wl/exec", json={"argv": ["true"], "tty": True}), 400, None, "tty")
    assert_error(api.post("/v1/sandboxes/wl/exec", json={"argv": ["true"], "timeout_s": -1}), 400, None, "timeout_s")
    assert_error(api.post("/v1/sandboxes/nope/exec", json={"argv": ["true"]}), 404)
    assert_error(api.get("/v1/sandboxes/wl/exec"), 405)
    r = api.post("/v1/sandboxes/wl/exec", json={"argv": ["/no/such/program"]})
    assert r.status_code in (200, 400, 404), r.text
    stopped = api.post("/v1/sandboxes", json={"backend": "native", "cmd": ["sleep", "600"], "start": False}).json()
    assert_error(api.post("/v1/sandboxes/%s/exec" % stopped["id"], json={"argv": ["true"]}), 409)
    api.delete("/v1/sandboxes/" + stopped["id"])


def test_files(api, box):
    data = bytes(range(256)) * 1000
    r = api.put("/v1/sandboxes/wl/files", params={"path": "/tmp/dir/f.bin", "parents": "true", "mode": "0640"},
                content=data)
    assert r.status_code == 204, r.text
    got = api.get("/v1/sandboxes/wl/files", params={"path": "/tmp/dir/f.bin"})
    assert got.status_code == 200
    assert got.headers["content-type"] == "application/octet-stream"
    assert got.content == data
    st = api.get("/v1/sandboxes/wl/files/stat", params={"path": "/tmp/dir/f.bin"}).json()
    assert st["type"] == "file" and st["size"] == len(data) and st["mode"] == 0o640, st
    assert api.get("/v1/sandboxes/wl/files/stat", params={"path": "/tmp/dir"}).json()["type"] == "directory"
    # What exec sees is what was written.
    r = api.post("/v1/sandboxes/wl/exec", json={"cmd": "wc -c < /tmp/dir/f.bin"})
    assert r.json()["stdout"].strip() == str(len(data))


def test_file_errors(api, box):
    assert_error(api.get("/v1/sandboxes/wl/files", params={"path": "/no/such"}), 404)
    assert_error(api.get("/v1/sandboxes/wl/files/stat", params={"path": "/no/such"}), 404)
    assert_error(api.get("/v1/sandboxes/wl/files"), 400, "invalid_argument", "path")
    assert_error(api.get("/v1/sandboxes/wl/files", params={"path": "relative"}), 400, "invalid_argument", "path")
    assert_error(api.put("/v1/sandboxes/wl/files", params={"path": "/tmp/m", "mode": "9"}, content=b"x"), 400,
                 None, "mode")
    # The monitor refuses this put before the data; it drains what the client
    # still sends, so the answer is never lost to a reset, however big.
    for size in (1, 8 << 20):
        r = api.put("/v1/sandboxes/wl/files", params={"path": "/no/parent/f"}, content=b"x" * size)
        assert_error(r, 404, "not_found", "/no/parent")
    assert_error(api.post("/v1/sandboxes/wl/files", params={"path": "/tmp/m"}), 405)


def peak_rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM for %d" % pid)


def test_a_file_far_over_memory_streams_both_ways(server, api, box):
    # 160 MiB, chunked: neither way is held whole in the server's memory.
    size, piece = 160 << 20, os.urandom(1 << 20)
    want = hashlib.sha256()
    for i in range(size // len(piece)):
        want.update(bytes([i & 0xFF]) + piece[1:])

    def chunks():
        for i in range(size // len(piece)):
            yield bytes([i & 0xFF]) + piece[1:]
    before = peak_rss_kib(server.proc.pid)
    r = api.put("/v1/sandboxes/wl/files", params={"path": "/tmp/big.bin"}, content=chunks())
    assert r.status_code == 204, r.text
    got = hashlib.sha256()
    n = 0
    with api.stream("GET", "/v1/sandboxes/wl/files", params={"path": "/tmp/big.bin"}) as r:
        assert r.status_code == 200
        assert r.headers["x-krunbox-file-size"] == str(size)
        for data in r.iter_bytes():
            got.update(data)
            n += len(data)
    assert n == size and got.hexdigest() == want.hexdigest()
    grown_mib = (peak_rss_kib(server.proc.pid) - before) / 1024
    assert grown_mib < 64, "the server's peak memory grew by %.0f MiB for a %d MiB file" % (grown_mib, size >> 20)
    assert api.delete("/v1/sandboxes/wl/files", params={"path": "/tmp/big.bin"}).status_code == 204


def test_a_cut_upload_leaves_nothing(world, api, box):
    # The client goes after 1 of its 10 MiB: no file, and the old one stays.
    assert api.put("/v1/sandboxes/wl/files", params={"path": "/tmp/kept"}, content=b"old").status_code == 204
    for path in ("/tmp/cut", "/tmp/kept"):
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(world.socket)
            s.sendall(b"PUT /v1/sandboxes/wl/files?path=%s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
                      % (path.encode(), 10 << 20))
            s.sendall(b"x" * (1 << 20))
    deadline = time.time() + 10
    while time.time() < deadline:
        if api.get("/v1/sandboxes/wl/files/stat", params={"path": "/tmp/cut"}).status_code == 404 and \
                api.get("/v1/sandboxes/wl/files", params={"path": "/tmp/kept"}).content == b"old":
            break
        time.sleep(0.2)
    assert_error(api.get("/v1/sandboxes/wl/files/stat", params={"path": "/tmp/cut"}), 404)
    assert api.get("/v1/sandboxes/wl/files", params={"path": "/tmp/kept"}).content == b"old"
    # A JSON body still has its limit, chunked or not.
    def chunks():
        for _ in range(2):
            yield b"x" * (1 << 20)
    assert_error(api.post("/v1/sandboxes/wl/files/mkdir", content=chunks()), 413)


def test_files_tree(api, box):
    base = "/v1/sandboxes/wl/files"
    assert api.post(base + "/mkdir", json={"path": "/tmp/tree/a/b", "parents": True}).status_code == 204
    assert api.put(base, params={"path": "/tmp/tree/a/f.txt"}, content=b"x").status_code == 204
    assert api.post("/v1/sandboxes/wl/exec", json={"cmd": "ln -s f.txt /tmp/tree/a/link"}).json()["exit_code"] == 0
    r = api.get(base + "/list", params={"path": "/tmp/tree", "depth": "3"})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["truncated"] is False
    by_path = {e["path"]: e for e in doc["entries"]}
    assert set(by_path) == {"/tmp/tree/a", "/tmp/tree/a/b", "/tmp/tree/a/f.txt", "/tmp/tree/a/link"}
    assert by_path["/tmp/tree/a/b"]["type"] == "directory" and by_path["/tmp/tree/a/b"]["name"] == "b"
    assert by_path["/tmp/tree/a/b"]["depth"] == 2
    assert by_path["/tmp/tree/a/f.txt"]["size"] == 1
    assert by_path["/tmp/tree/a/link"]["type"] == "symlink"
    assert by_path["/tmp/tree/a/link"]["symlink_target"] == "f.txt"
    # Depth 1: the top level only.
    assert [e["name"] for e in api.get(base + "/list", params={"path": "/tmp/tree"}).json()["entries"]] == ["a"]
    # Move, then remove (a non-empty directory only with recursive).
    assert api.post(base + "/move", json={"from": "/tmp/tree/a/f.txt", "to": "/tmp/tree/g.txt"}).status_code == 204
    assert api.get(base, params={"path": "/tmp/tree/g.txt"}).content == b"x"
    assert_error(api.delete(base, params={"path": "/tmp/tree/a"}), 409)
    assert api.delete(base, params={"path": "/tmp/tree/a", "recursive": "1"}).status_code == 204
    assert [e["name"] for e in api.get(base + "/list", params={"path": "/tmp/tree"}).json()["entries"]] == ["g.txt"]
    assert api.delete(base, params={"path": "/tmp/tree/g.txt"}).status_code == 204
    assert_error(api.get(base + "/stat", params={"path": "/tmp/tree/g.txt"}), 404)


def test_files_tree_hostile(api, box):
    base = "/v1/sandboxes/wl/files"
    assert_error(api.get(base + "/list", params={"path": "/nope"}), 404)
    assert_error(api.get(base + "/list", params={"path": "/etc/hostname"}), 400, None, "not a directory")
    assert_error(api.get(base + "/list", params={"path": "/", "depth": "11"}), 400, None, "depth")
    assert_error(api.get(base + "/list", params={"path": "rel"}), 400, None, "path")
    assert_error(api.post(base + "/mkdir", json={"path": "/tmp", "parents": False}), 409)
    assert_error(api.post(base + "/mkdir", json={"path": "x"}), 400, None, "path")
    assert_error(api.post(base + "/mkdir", json={"path": "/a", "mode": 99999}), 400, None, "mode")
    assert_error(api.post(base + "/move", json={"from": "/nope", "to": "/tmp/x"}), 404)
    assert_error(api.post(base + "/move", json={"from": "/tmp"}), 400, None, "to")
    assert api.delete(base, params={"path": "/", "recursive": "1"}).status_code in (400, 409)
    assert_error(api.delete(base, params={"path": "/tmp", "recursive": "perhaps"}), 400, None, "recursive")
    assert_error(api.get(base + "/mkdir"), 405)
    assert_error(api.post(base + "/list"), 405)
    assert_error(api.get(base + "/bogus"), 404)
    # The sandbox's files are as they were.
    assert api.get(base + "/stat", params={"path": "/etc/hostname"}).status_code == 200
