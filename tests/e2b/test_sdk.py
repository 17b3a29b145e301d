"""The unmodified E2B JS SDK (tests/e2b/package.json) against
`krunbox serve --e2b` in a private world (tests/serve/conftest.py's): the
node suite sdk.test.mjs does the talking, this starts the server and reads
the result."""
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


def node_suite(world, backend):
    why = node_unusable()
    if why:
        pytest.skip(why)
    assert os.path.isdir(os.path.join(HERE, "node_modules", "e2b")), \
        "the E2B SDK is not installed: run scripts/setup.sh (npm ci in tests/e2b)"
    server, url = start_server(world, backend)
    env = dict(world.env, E2B_API_URL=url, E2B_SANDBOX_URL=url, E2B_API_KEY=KEY, E2B_TEMPLATE="busybox")
    r = subprocess.run([NODE, "--test", "--test-reporter=spec", "sdk.test.mjs"], cwd=HERE, env=env,
                       capture_output=True, text=True, timeout=600)
    print(r.stdout)
    print(r.stderr, file=sys.stderr)
    assert r.returncode == 0, "node suite failed:\n%s\n%s\nserver log:\n%s" % (r.stdout, r.stderr, server.output())
    # What the suite made, it removed: the world's ps is empty again.
    assert world.kb("ps", "-a", "-q").stdout.split() == []


@pytest.fixture
def world():
    w = World()
    yield w
    w.close()


def test_sdk_native(world):
    node_suite(world, "native")


def test_sdk_qemu(world):
    # The qemu backend's boot assets (scripts/make-qemu-assets.sh); under TCG
    # the suite takes some 25 s here.
    if not os.path.exists(os.path.join(conftest.HOST_DATA, "assets", "qemu", "current.json")):
        pytest.skip("no qemu guest assets in %s/assets (scripts/setup.sh makes them)" % conftest.HOST_DATA)
    node_suite(world, "qemu")


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
