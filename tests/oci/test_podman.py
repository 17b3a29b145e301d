"""podman 4.3 (with conmon) running containers through krunbox-runc, in a
private storage (--root, --runroot, --tmpdir) with the bundled busybox
copied in by skopeo, and a containers.conf that lists krunbox-runc in
runtime_supports_json (so conmon passes --log-format json). conmon never
passes --root: the runtime's default root is used, as in production.
Exit codes are compared with runc's."""
import os
import shutil
import subprocess

import pytest

from conftest import RUNTIME

PODMAN = shutil.which("podman")
SKOPEO = shutil.which("skopeo")
RUNC = shutil.which("runc")
IMAGE = "localhost/busybox:latest"
ULIMITS = ["--ulimit", "nofile=20000:20000", "--ulimit", "nproc=32768:32768"]


class Podman:
    def __init__(self, world):
        self.dir = os.path.join(world.dir, "pm")
        self.storage = os.path.join(self.dir, "storage")
        self.runroot = os.path.join(self.dir, "runroot")
        self.tmp = os.path.join(self.dir, "tmp")
        for d in (self.storage, self.runroot, self.tmp):
            os.makedirs(d)
        conf = os.path.join(self.dir, "containers.conf")
        with open(conf, "w") as f:
            f.write('[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n'
                    'runtime_supports_json = ["krunbox-runc", "crun", "runc"]\n')
        self.env = dict(world.env)
        self.env["CONTAINERS_CONF"] = conf
        storage_conf = os.path.join(self.dir, "storage.conf")
        with open(storage_conf, "w") as f:
            f.write('[storage]\ndriver = "overlay"\ngraphroot = "%s"\nrunroot = "%s"\n' % (self.storage, self.runroot))
        self.env["CONTAINERS_STORAGE_CONF"] = storage_conf
        r = subprocess.run([SKOPEO, "copy", "oci:%s:latest" % world.layout,
                            "containers-storage:[overlay@%s+%s]%s" % (self.storage, self.runroot, IMAGE)],
                           env=self.env, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr

    def __call__(self, runtime, *args, timeout=120):
        binary = RUNTIME if runtime == "krunbox-runc" else RUNC
        return subprocess.run([PODMAN, "--root", self.storage, "--runroot", self.runroot, "--tmpdir", self.tmp,
                               "--storage-driver", "overlay", "--runtime", binary, *args], env=self.env,
                              capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def podman(world):
    if not PODMAN or not SKOPEO:
        pytest.skip("podman or skopeo is not installed (apt-get install podman skopeo)")
    p = Podman(world)
    yield p
    for runtime in ("krunbox-runc",) + (("runc",) if RUNC else ()):
        p(runtime, "rm", "-a", "-f", "-t", "0")


def runtimes():
    return ["krunbox-runc"] + (["runc"] if RUNC else [])


@pytest.mark.parametrize("runtime", runtimes())
def test_podman_run_rm_returns_the_exit_code(podman, runtime):
    r = podman(runtime, "run", "--rm", "--network", "none", *ULIMITS, IMAGE, "sh", "-c", "echo out; exit 4")
    assert r.returncode == 4, r.stderr
    assert "out" in r.stdout


@pytest.mark.parametrize("runtime", runtimes())
def test_podman_exec_and_its_pid(podman, runtime):
    name = "pexec-" + runtime
    r = podman(runtime, "run", "-d", "--name", name, "--network", "none", *ULIMITS, IMAGE, "sh", "-c",
               "while :; do sleep 1; done")
    assert r.returncode == 0, r.stderr
    try:
        r = podman(runtime, "exec", name, "sh", "-c", "echo exec-out; exit 6")
        assert r.returncode == 6, r.stderr
        assert "exec-out" in r.stdout
        pid = int(podman(runtime, "inspect", "-f", "{{.State.Pid}}", name).stdout)
        if runtime == "krunbox-runc":
            assert b"monitor" in open("/proc/%d/cmdline" % pid, "rb").read()
    finally:
        podman(runtime, "rm", "-f", "-t", "0", name)


@pytest.mark.parametrize("runtime", runtimes())
def test_podman_stop_kills_a_process_that_ignores_term(podman, runtime):
    name = "pstop-" + runtime
    r = podman(runtime, "run", "-d", "--name", name, "--network", "none", *ULIMITS, IMAGE, "sh", "-c",
               "trap '' TERM; while :; do sleep 1; done")
    assert r.returncode == 0, r.stderr
    try:
        r = podman(runtime, "stop", "-t", "2", name)
        assert r.returncode == 0, r.stderr
        code = podman(runtime, "inspect", "-f", "{{.State.ExitCode}}", name).stdout.strip()
        assert code == "137", code
    finally:
        podman(runtime, "rm", "-f", "-t", "0", name)


def test_podman_volume_writes_reach_the_host(podman, world):
    host = os.path.join(podman.dir, "vol")
    os.makedirs(host)
    r = podman("krunbox-runc", "run", "--rm", "--network", "none", *ULIMITS, "-v", host + ":/data", IMAGE, "sh", "-c",
               "echo from-container > /data/f")
    assert r.returncode == 0, r.stderr
    assert open(os.path.join(host, "f")).read() == "from-container\n"
