"""containerd 1.6 (ctr and containerd-shim-runc-v2) with krunbox-runc as its
runc binary, in a private containerd (config, root, state, socket of its
own) with the bundled busybox imported from an OCI archive. The shim passes
--root, --log log.json and --log-format json on every call, takes the pid
files' processes for the task and its execs, and builds its errors from the
last line of log.json. Exit codes are compared with runc's."""
import os
import shutil
import socket
import subprocess
import time

import pytest

from conftest import RUNTIME

IMAGE = "docker.io/library/busybox:latest"
CONTAINERD = shutil.which("containerd")
CTR = shutil.which("ctr")
RUNC = shutil.which("runc")


class Containerd:
    def __init__(self, world):
        self.dir = os.path.join(world.dir, "ctd")
        os.makedirs(self.dir)
        self.sock = os.path.join(self.dir, "c.sock")
        config = os.path.join(self.dir, "config.toml")
        with open(config, "w") as f:
            f.write('version = 2\nroot = "%s/root"\nstate = "%s/state"\n'
                    'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
                    '[grpc]\n  address = "%s"\n[ttrpc]\n  address = "%s.ttrpc"\n'
                    '[debug]\n  address = "%s/debug.sock"\n' % (self.dir, self.dir, self.sock, self.sock, self.dir))
        self.log = open(os.path.join(self.dir, "containerd.log"), "w")
        self.proc = subprocess.Popen([CONTAINERD, "--config", config], env=world.env, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        end = time.time() + 30
        while True:
            try:
                with socket.socket(socket.AF_UNIX) as s:
                    s.connect(self.sock)
                    break
            except OSError:
                if time.time() > end or self.proc.poll() is not None:
                    raise AssertionError("containerd did not start: " + open(self.log.name).read()[-2000:])
                time.sleep(0.05)
        self.runc_root = os.path.join(self.dir, "runc-root")

    def ctr(self, *args, timeout=120, check=False):
        r = subprocess.run([CTR, "--address", self.sock, "--namespace", "koc", *args], capture_output=True, text=True,
                           timeout=timeout, stdin=subprocess.DEVNULL)
        if check and r.returncode != 0:
            raise AssertionError("ctr %s: %d\n%s%s" % (" ".join(args), r.returncode, r.stdout, r.stderr))
        return r

    def run_flags(self, runtime):
        binary = RUNTIME if runtime == "krunbox-runc" else RUNC
        return ["--runc-binary", binary, "--runc-root", os.path.join(self.runc_root, runtime)]

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


@pytest.fixture(scope="module")
def ctd(world):
    if not CONTAINERD or not CTR:
        pytest.skip("containerd is not installed (apt-get install containerd)")
    c = Containerd(world)
    archive = os.path.join(world.dir, "busybox.tar")
    subprocess.run(["tar", "-C", world.layout, "-cf", archive, "."], check=True)
    c.ctr("images", "import", "--base-name", "docker.io/library/busybox", archive, check=True)
    yield c
    c.close()


def runtimes():
    return ["krunbox-runc"] + (["runc"] if RUNC else [])


@pytest.mark.parametrize("runtime", runtimes())
def test_ctr_run_returns_the_exit_code(ctd, runtime):
    r = ctd.ctr("run", "--rm", *ctd.run_flags(runtime), IMAGE, "exit3-" + runtime, "sh", "-c", "echo out; exit 3")
    assert r.returncode == 3, r.stderr
    assert "out" in r.stdout


@pytest.mark.parametrize("runtime", runtimes())
def test_ctr_exec_ps_pause_and_kill(ctd, runtime):
    cid = "task-" + runtime
    # ctr 1.6 has no `task wait`: the foreground run's exit code is the task's.
    run = subprocess.Popen([CTR, "--address", ctd.sock, "--namespace", "koc", "run", "--rm", *ctd.run_flags(runtime),
                            IMAGE, cid, "sh", "-c", "while :; do sleep 1; done"], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        end = time.time() + 60
        while "RUNNING" not in ctd.ctr("task", "ls").stdout:
            assert time.time() < end and run.poll() is None, run.stderr.read() if run.poll() is not None else "slow"
            time.sleep(0.1)
        r = ctd.ctr("task", "exec", "--exec-id", "e5", cid, "sh", "-c", "echo exec-out; exit 5")
        assert r.returncode == 5, r.stderr
        assert "exec-out" in r.stdout
        ps = ctd.ctr("task", "ps", cid, check=True).stdout
        assert len(ps.strip().splitlines()) >= 2, ps
        ctd.ctr("task", "pause", cid, check=True)
        assert "PAUSED" in ctd.ctr("task", "ls", check=True).stdout
        ctd.ctr("task", "resume", cid, check=True)
        assert "RUNNING" in ctd.ctr("task", "ls", check=True).stdout
        ctd.ctr("task", "kill", "-a", "-s", "KILL", cid, check=True)
        out, err = run.communicate(timeout=60)
        assert run.returncode == 137, (run.returncode, out, err)
    finally:
        if run.poll() is None:
            run.kill()
        ctd.ctr("task", "delete", "-f", cid)
        ctd.ctr("container", "delete", cid)
    state = os.path.join(ctd.runc_root, runtime, "koc", "state")
    if runtime == "krunbox-runc" and os.path.isdir(state):
        assert [e for e in os.listdir(state) if not e.startswith(".")] == []


def test_a_bundle_error_reaches_ctr(ctd):
    r = ctd.ctr("run", "--rm", *ctd.run_flags("krunbox-runc"), "--annotation", "io.krunbox.backend=bogus", IMAGE,
                "broken", "true")
    assert r.returncode != 0
    assert "'bogus' is not a backend" in r.stderr, r.stderr
    assert "broken" not in ctd.ctr("task", "ls").stdout
    ctd.ctr("container", "delete", "broken")
