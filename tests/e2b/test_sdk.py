"""The unmodified E2B JS SDK (tests/e2b/package.json) against
`krunbox serve --e2b` in a private world (tests/serve/conftest.py's): the
node suites sdk.test.mjs and many.test.mjs do the talking, this starts the
server, reads the result, and drives what the SDK has no call for (cut
uploads, the polled watchers) with a raw HTTP client."""
import os
import shutil
import socket
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "serve"))
import conftest  # noqa: E402
from conftest import World, free_port  # noqa: E402

# The host's VM assets and bundled image, linked into each world.
conftest.HOST_DATA = os.environ.get("KRUNBOX_HOST_DATA", conftest.HOST_DATA)

HERE = os.path.dirname(os.path.abspath(__file__))
NODE = shutil.which("node")
# The SDK's engines: node >=20.18.1 <21 || >=22 (its undici needs it).
# Debian 12's own nodejs is 18.20, which it does not support.
SDK_NODE = ((20, 18, 1), (21, 0, 0), (22, 0, 0))


def node_unusable():
    """Why this node cannot run the SDK, or None."""
    if NODE is None:
        return "node is not installed (scripts/setup.sh installs nodejs and npm; see docs/e2b.md)"
    v = subprocess.run([NODE, "-p", "process.versions.node"], capture_output=True, text=True).stdout.strip()
    version = tuple(int(x) for x in v.split(".")[:3]) if v else (0, 0, 0)
    low, gap, high = SDK_NODE
    if version < low or gap <= version < high:
        return "node %s is below the E2B SDK's engines (>=20.18.1 <21 || >=22); Debian 12's nodejs is 18" % v
    return None
KEY = "e2b_" + "0123456789abcdef" * 2 + "01234567"


def start_server(world, backend):
    key_file = os.path.join(world.dir, "e2b-keys")
    with open(key_file, "w") as f:
        f.write("# test key\n" + KEY + "\n")
    os.chmod(key_file, 0o600)
    port = free_port()
    server = world.serve("--e2b", "127.0.0.1:%d" % port, "--e2b-key-file", key_file, "--e2b-backend", backend)
    end = time.time() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert time.time() < end, server.output()
            time.sleep(0.05)
    return server, "http://127.0.0.1:%d" % port


def node_suite(world, backend, script="sdk.test.mjs", timeout=600, **extra_env):
    why = node_unusable()
    if why:
        pytest.skip(why)
    assert os.path.isdir(os.path.join(HERE, "node_modules", "e2b")), \
        "the E2B SDK is not installed: run scripts/setup.sh (npm ci in tests/e2b)"
    server, url = start_server(world, backend)
    env = dict(world.env, E2B_API_URL=url, E2B_SANDBOX_URL=url, E2B_API_KEY=KEY, E2B_TEMPLATE="busybox", **extra_env)
    r = subprocess.run([NODE, "--test", "--test-reporter=spec", script], cwd=HERE, env=env,
                       capture_output=True, text=True, timeout=timeout)
    print(r.stdout)
    print(r.stderr, file=sys.stderr)
    assert r.returncode == 0, "node suite failed:\n%s\n%s\nserver log:\n%s" % (r.stdout, r.stderr, server.output())
    # What the suite made, it removed: the world's ps is empty again.
    assert world.kb("ps", "-a", "-q").stdout.split() == []
    return server


def peak_rss_mib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM for pid %d" % pid)


@pytest.fixture
def world():
    w = World()
    yield w
    w.close()


def have_qemu_assets():
    return os.path.exists(os.path.join(conftest.HOST_DATA, "assets", "qemu", "current.json"))


def test_sdk_native(world):
    server = node_suite(world, "native")
    # The suite uploads 128 MiB in one request: it streams to the sandbox,
    # so the server never held it.
    peak = peak_rss_mib(server.proc.pid)
    assert peak < 100, "the server's peak RSS is %.0f MiB" % peak


def test_sdk_qemu(world):
    # The qemu backend's boot assets (scripts/make-qemu-assets.sh); under TCG
    # the suite takes some 25 s here.
    if not have_qemu_assets():
        pytest.skip("no qemu guest assets in %s/assets (scripts/setup.sh makes them)" % conftest.HOST_DATA)
    node_suite(world, "qemu")


def test_ten_at_once_native(world):
    node_suite(world, "native", "many.test.mjs", E2B_MANY="10")


def test_ten_at_once_qemu(world):
    # Ten guests booting together under TCG share this machine's 2 CPUs.
    if not have_qemu_assets():
        pytest.skip("no qemu guest assets in %s/assets (scripts/setup.sh makes them)" % conftest.HOST_DATA)
    node_suite(world, "qemu", "many.test.mjs", timeout=900, E2B_MANY="10")


def raw_upload(port, sandbox, token, path, content_type, length, sent):
    """POST /files announcing `length` bytes, of which only `sent` go out
    before the connection closes."""
    s = socket.create_connection(("127.0.0.1", port))
    head = ("POST /files?path=%s HTTP/1.1\r\nHost: krunbox\r\nE2b-Sandbox-Id: %s\r\nX-Access-Token: %s\r\n"
            "Content-Type: %s\r\nContent-Length: %d\r\n\r\n" % (path, sandbox, token, content_type, length))
    s.sendall(head.encode() + sent)
    s.close()


def test_an_upload_cut_short_leaves_no_file(world):
    import httpx
    server, url = start_server(world, "native")
    port = int(url.rsplit(":", 1)[1])
    with httpx.Client(base_url=url, timeout=120) as c:
        r = c.post("/sandboxes", headers={"X-API-Key": KEY}, json={"templateID": "busybox", "timeout": 300})
        assert r.status_code == 201, r.text
        sb = r.json()
        sid, token = sb["sandboxID"], sb["envdAccessToken"]
        envd = {"E2b-Sandbox-Id": sid, "X-Access-Token": token}

        def missing(path):
            r = c.post("/filesystem.Filesystem/Stat", headers=envd, json={"path": path})
            return r.status_code == 404 and r.json()["code"] == "not_found"

        def part_head(path):
            return b'--B\r\nContent-Disposition: form-data; name="file"; filename="%s"\r\n\r\n' % path.encode()

        megs = b"x" * (8 << 20)
        # 8 of 64 MiB, then the client is gone: nothing is written.
        raw_upload(port, sid, token, "/tmp/cut.bin", "multipart/form-data; boundary=B", 64 << 20,
                   part_head("/tmp/cut.bin") + megs)
        raw_upload(port, sid, token, "/tmp/cut-octets.bin", "application/octet-stream", 64 << 20, megs)
        # An overwrite cut short leaves the old file.
        octets = dict(envd, **{"Content-Type": "application/octet-stream"})
        assert c.post("/files?path=/tmp/keep.txt", headers=octets, content=b"old").status_code == 200
        raw_upload(port, sid, token, "/tmp/keep.txt", "application/octet-stream", 64 << 20, megs)
        # The server noticed: its next answers come, and the files are not there.
        assert missing("/tmp/cut.bin") and missing("/tmp/cut-octets.bin")
        assert c.get("/files?path=/tmp/keep.txt", headers=envd).content == b"old"

        multipart = dict(envd, **{"Content-Type": "multipart/form-data; boundary=B"})
        # A body without its closing boundary: refused, saying so, and no file.
        r = c.post("/files?path=/tmp/unclosed.bin", headers=multipart, content=part_head("/tmp/unclosed.bin") + b"abc")
        assert r.status_code == 400 and "closing boundary" in r.json()["message"], r.text
        assert missing("/tmp/unclosed.bin")
        # ?path= names one file; a second part is refused, naming the rule.
        two = part_head("a") + b"1\r\n" + part_head("b") + b"2\r\n--B--\r\n"
        r = c.post("/files?path=/tmp/one.txt", headers=multipart, content=two)
        assert r.status_code == 400 and "carries one file" in r.json()["message"], r.text
        # Compressed uploads are refused rather than written compressed.
        r = c.post("/files?path=/tmp/z.gz", headers=dict(octets, **{"Content-Encoding": "gzip"}), content=b"\x1f\x8b")
        assert r.status_code == 422 and "Content-Encoding gzip" in r.json()["message"], r.text
        assert missing("/tmp/z.gz")
        # Several files without ?path=, each to its file name, streamed one after the other.
        body = part_head("/tmp/m/a.txt") + b"A" * 300000 + b"\r\n" + part_head("/tmp/m/b.txt") + b"B\r\n--B--\r\n"
        r = c.post("/files", headers=multipart, content=body)
        assert r.status_code == 200, r.text
        assert [f["path"] for f in r.json()] == ["/tmp/m/a.txt", "/tmp/m/b.txt"]
        assert c.get("/files?path=/tmp/m/a.txt", headers=envd).content == b"A" * 300000
        assert c.delete("/sandboxes/" + sid, headers={"X-API-Key": KEY}).status_code == 204


def test_polled_watchers(world):
    """CreateWatcher / GetWatcherEvents / RemoveWatcher, as the Python SDK's
    synchronous watch_dir calls them (the JS SDK streams WatchDir)."""
    import httpx
    server, url = start_server(world, "native")
    with httpx.Client(base_url=url, timeout=120) as c:
        r = c.post("/sandboxes", headers={"X-API-Key": KEY}, json={"templateID": "busybox", "timeout": 300})
        assert r.status_code == 201, r.text
        sb = r.json()
        envd = {"E2b-Sandbox-Id": sb["sandboxID"], "X-Access-Token": sb["envdAccessToken"]}

        def rpc(method, **message):
            return c.post("/filesystem.Filesystem/" + method, headers=envd, json=message)

        def write(path, data):
            r = c.post("/files?path=" + path, headers=dict(envd, **{"Content-Type": "application/octet-stream"}),
                       content=data)
            assert r.status_code == 200, r.text

        assert rpc("MakeDir", path="/tmp/w").status_code == 200
        r = rpc("CreateWatcher", path="/tmp/w")
        assert r.status_code == 200, r.text
        watcher = r.json()["watcherId"]
        assert rpc("GetWatcherEvents", watcherId=watcher).json() == {"events": []}
        write("/tmp/w/a", b"1")
        write("/tmp/w/b", b"2")
        events = rpc("GetWatcherEvents", watcherId=watcher).json()["events"]
        assert events == [{"name": "a", "type": "EVENT_TYPE_CREATE"}, {"name": "b", "type": "EVENT_TYPE_CREATE"}]
        # Between two asks, a file made and removed is not seen: coalesced.
        write("/tmp/w/brief", b"x")
        assert rpc("Remove", path="/tmp/w/brief").status_code == 200
        write("/tmp/w/a", b"longer")
        assert rpc("GetWatcherEvents", watcherId=watcher).json()["events"] == [{"name": "a", "type": "EVENT_TYPE_WRITE"}]
        # A made-up id is not found.
        r = rpc("GetWatcherEvents", watcherId="0" * 32)
        assert r.status_code == 404 and r.json()["code"] == "not_found", r.text
        assert rpc("RemoveWatcher", watcherId=watcher).json() == {}
        r = rpc("GetWatcherEvents", watcherId=watcher)
        assert r.status_code == 404 and "not found" in r.json()["message"], r.text
        r = rpc("CreateWatcher", path="/tmp/w/a")
        assert r.status_code == 400 and "not a directory" in r.json()["message"], r.text
        r = rpc("GetWatcherEvents")
        assert r.status_code == 400 and "watcherId" in r.json()["message"], r.text
        assert c.delete("/sandboxes/" + sb["sandboxID"], headers={"X-API-Key": KEY}).status_code == 204


def test_sandboxes_are_krunbox_sandboxes(world):
    """What the E2B API makes is an ordinary sandbox: ps shows it, with the
    template label and the metadata; envd is reached by header or by Host."""
    import httpx
    server, url = start_server(world, "native")
    with httpx.Client(base_url=url, timeout=120) as c:
        assert c.post("/sandboxes", json={"templateID": "busybox"}).status_code == 401
        r = c.post("/sandboxes", headers={"X-API-Key": KEY},
                   json={"templateID": "busybox", "timeout": 60, "metadata": {"owner": "pytest"}})
        assert r.status_code == 201, r.text
        sb = r.json()
        ps = world.kb("ps", "--format", "json")
        assert ps.returncode == 0, ps.stderr
        assert sb["sandboxID"] in ps.stdout and "krunbox.e2b/template" in ps.stdout and "pytest" in ps.stdout
        token = {"X-Access-Token": sb["envdAccessToken"]}
        assert c.get("/health", headers={"E2b-Sandbox-Id": sb["sandboxID"]}).status_code == 204
        host = {"Host": "49983-%s.sandbox.example" % sb["sandboxID"]}
        r = c.post("/filesystem.Filesystem/Stat", headers=dict(token, **host), json={"path": "/etc"})
        assert r.status_code == 200, r.text
        assert r.json()["entry"]["type"] == "FILE_TYPE_DIRECTORY"
        r = c.post("/filesystem.Filesystem/Stat", headers=dict(host, **{"X-Access-Token": "ea_x"}), json={"path": "/"})
        assert r.status_code == 401 and r.json()["code"] == "unauthenticated"
        assert c.delete("/sandboxes/" + sb["sandboxID"], headers={"X-API-Key": KEY}).status_code == 204
        assert c.get("/health", headers={"E2b-Sandbox-Id": sb["sandboxID"]}).status_code == 502
        assert c.delete("/sandboxes/" + sb["sandboxID"], headers={"X-API-Key": KEY}).status_code == 404
    assert world.kb("ps", "-a", "-q").stdout.split() == []
