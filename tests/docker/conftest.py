"""`krunbox serve` with its Docker socket in a private world (tests/serve's
World and Server, loaded from there), and the real docker CLI and docker-py
pointed at it with DOCKER_HOST."""
import importlib.util
import os
import shutil
import subprocess
import tempfile

import pytest

_spec = importlib.util.spec_from_file_location(
    "krunbox_serve_world", os.path.join(os.path.dirname(__file__), "..", "serve", "conftest.py"))
serve_world = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(serve_world)
# Where the VM assets and the bundled image come from (scripts/setup.sh puts
# them in /var/lib/krunbox); another copy can be named for a run.
if os.environ.get("KRUNBOX_TEST_HOST_DATA"):
    serve_world.HOST_DATA = os.environ["KRUNBOX_TEST_HOST_DATA"]

DOCKER = shutil.which("docker") or "/usr/local/bin/docker"


class Docker:
    """The docker CLI against one socket, with a config dir of its own."""

    def __init__(self, world, sock):
        self.world = world
        self.sock = sock
        self.config = tempfile.mkdtemp(prefix="kdc-", dir=world.dir)
        self.env = dict(world.env)
        self.env["DOCKER_HOST"] = "unix://" + sock
        self.env["DOCKER_CONFIG"] = self.config
        for k in ("DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "DOCKER_API_VERSION"):
            self.env.pop(k, None)

    def __call__(self, *args, input=None, timeout=120, check=False):
        r = subprocess.run([DOCKER, *args], env=self.env, input=input, capture_output=True, text=True,
                           timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError("docker %s: exit %d\nstdout: %s\nstderr: %s" %
                                 (" ".join(args), r.returncode, r.stdout, r.stderr))
        return r


@pytest.fixture(scope="module")
def world():
    w = serve_world.World()
    yield w
    w.close()


@pytest.fixture(scope="module")
def server(world):
    sock = os.path.join(world.run, "docker.sock")
    s = world.serve("--docker-socket", sock)
    s.wait_ready(sock)
    s.docker_socket = sock
    return s


@pytest.fixture(scope="module")
def docker(world, server):
    if not os.path.exists(DOCKER):
        pytest.skip("the docker CLI is not installed (/usr/local/bin/docker)")
    return Docker(world, server.docker_socket)


@pytest.fixture(scope="module")
def dockerpy(server):
    docker_py = pytest.importorskip("docker", reason="docker-py is not installed (apt-get install python3-docker)")
    c = docker_py.DockerClient(base_url="unix://" + server.docker_socket, timeout=120)
    yield c
    c.close()
