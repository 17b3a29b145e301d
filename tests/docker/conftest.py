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


def free_port():
    return serve_world.free_port()


HTTPD = "mkdir -p /www && echo hello-from-httpd > /www/index.html && exec httpd -f -p 80 -h /www"


def check_published_httpd(docker, *run_args, timeout=60):
    """`docker run -d -p 127.0.0.1:P:80` a busybox httpd and fetch its page
    from the host through the published port; the container is removed."""
    import time
    import urllib.request
    port = free_port()
    cid = docker("run", "-d", "-p", "127.0.0.1:%d:80" % port, *run_args, "busybox", "sh", "-c", HTTPD,
                 timeout=300, check=True).stdout.strip()
    try:
        r = docker("port", cid, "80/tcp", check=True)
        assert r.stdout.split() == ["127.0.0.1:%d" % port], r.stdout
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/index.html" % port, timeout=10) as resp:
                    assert resp.status == 200
                    assert resp.read() == b"hello-from-httpd\n"
                    return
            except (OSError, urllib.error.URLError) as e:
                last = e
                time.sleep(0.2)
        logs = docker("logs", cid).stdout
        raise AssertionError("port %d did not answer within %ds: %s; logs: %s" % (port, timeout, last, logs))
    finally:
        docker("rm", "-f", cid, timeout=120)


def leftovers(world, server):
    """What a world's sandboxes may leave behind: records, roots, processes
    (other than the server) started in the world, and mounts under it."""
    out = []
    for sub in ("lifecycle", "roots"):
        d = os.path.join(world.data, sub)
        # Dot files are the stores' own locks, not a sandbox's.
        entries = sorted(e for e in os.listdir(d) if not e.startswith(".")) if os.path.isdir(d) else []
        if entries:
            out.append("%s: %s" % (d, entries))
    server_pid = str(server.proc.pid)
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or pid == server_pid or int(pid) == os.getpid():
            continue
        try:
            with open("/proc/%s/environ" % pid, "rb") as f:
                env = f.read()
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmd = f.read().replace(b"\0", b" ")
        except OSError:
            continue
        if world.run.encode() in env and b"krunbox serve" not in cmd:
            out.append("process %s: %s" % (pid, cmd.decode(errors="replace")[:200]))
    with open("/proc/mounts") as f:
        out += ["mount: " + line.strip() for line in f if world.dir in line]
    return out


def run_concurrently(docker, n, *labels, timeout=300):
    """n `docker run --rm` at once, each with its own output and exit code."""
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(n) as pool:
        runs = [pool.submit(docker, "run", "--rm", *labels, "busybox", "sh", "-c",
                            "echo run-%d; echo err-%d >&2; exit %d" % (i, i, i % 7), timeout=timeout)
                for i in range(n)]
        results = [r.result() for r in runs]
    for i, r in enumerate(results):
        assert r.returncode == i % 7, "run %d: exit %d\nstdout: %s\nstderr: %s" % (i, r.returncode, r.stdout, r.stderr)
        assert sorted(r.stdout.split()) == sorted(["run-%d" % i, "err-%d" % i]), "run %d: %r" % (i, r.stdout)
