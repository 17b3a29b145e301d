"""A private krunbox world per test module, and `krunbox serve` in it.

Each world has its own data root and run dir (the host's VM assets and
bundled image linked in), so the suite never sees or touches anyone else's
sandboxes. Paths are short: the qemu backend's sockets under the run dir
must fit a unix address with a 64-digit sandbox id in them.
"""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import httpx
import pytest

BIN_DIR = os.environ.get("KRUNBOX_BIN_DIR", os.path.join(os.path.dirname(__file__), "../../build/bin"))
KRUNBOX = os.path.join(BIN_DIR, "krunbox")
HOST_DATA = "/var/lib/krunbox"


class World:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="ksv-", dir="/tmp")
        self.data = os.path.join(self.dir, "d")
        self.run = os.path.join(self.dir, "r")
        for d in (self.data, self.run):
            os.makedirs(d, mode=0o700)
        for shared in ("assets", "bundled"):
            os.symlink(os.path.join(HOST_DATA, shared), os.path.join(self.data, shared))
        self.env = {k: v for k, v in os.environ.items() if k not in ("KRUNBOX_ROOT", "KRUNBOX_RUN_DIR", "KRUNBOX_LOG")}
        self.env["KRUNBOX_ROOT"] = self.data
        self.env["KRUNBOX_RUN_DIR"] = self.run
        self.socket = os.path.join(self.run, "api.sock")
        self.servers = []

    def kb(self, *args, timeout=300):
        return subprocess.run([KRUNBOX, *args], env=self.env, capture_output=True, text=True, timeout=timeout)

    def serve(self, *args, wait=True):
        s = Server(self, list(args))
        self.servers.append(s)
        if wait:
            s.wait_ready(args[args.index("--socket") + 1] if "--socket" in args else None)
        return s

    def close(self):
        for s in self.servers:
            s.kill()
        ids = self.kb("ps", "-a", "-q").stdout.split()
        if ids:
            self.kb("rm", "-f", *ids)
        shutil.rmtree(self.dir, ignore_errors=True)


class Server:
    def __init__(self, world, args):
        self.world = world
        self.log_path = os.path.join(world.dir, "serve-%d.log" % len(world.servers))
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([KRUNBOX, "serve", *args], env=world.env, stdout=self.log,
                                     stderr=subprocess.STDOUT)

    def wait_ready(self, path=None, timeout=20):
        path = path or self.world.socket
        end = time.time() + timeout
        while time.time() < end:
            if self.proc.poll() is not None:
                raise AssertionError("krunbox serve ended with %s:\n%s" % (self.proc.returncode, self.output()))
            try:
                with socket.socket(socket.AF_UNIX) as s:
                    s.connect(path)
                    return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("krunbox serve did not listen on %s:\n%s" % (path, self.output()))

    def output(self):
        self.log.flush()
        with open(self.log_path) as f:
            return f.read()

    def client(self, timeout=120):
        return self.client_at(self.world.socket, timeout)

    def client_at(self, path, timeout=120):
        return httpx.Client(transport=httpx.HTTPTransport(uds=path), base_url="http://krunbox", timeout=timeout)

    def kill(self, sig=signal.SIGKILL):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=60)

    def terminate(self, timeout=60):
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)


@pytest.fixture(scope="module")
def world():
    w = World()
    yield w
    w.close()


@pytest.fixture(scope="module")
def server(world):
    return world.serve()


@pytest.fixture(scope="module")
def api(server):
    with server.client() as c:
        yield c


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def assert_error(response, status, code=None, mentions=None):
    """The one error shape, with the status and (optionally) code and words."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message"}, body
    if code:
        assert body["error"]["code"] == code, body
    if mentions:
        assert mentions in body["error"]["message"], body
    return body["error"]
