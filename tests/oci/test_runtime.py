"""krunbox-runc's own command line, as runc's callers use it: the verbs,
their states and exit codes, runc's error texts, and hostile bundles that
must leave nothing behind. Each result is compared with runc's on the same
bundle where runc is installed."""
import json
import os
import shutil
import subprocess
import time

import pytest

from conftest import RUNTIME, spec

RUNC = shutil.which("runc")


def wait_status(world, cid, want, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        r = world.runc("state", cid)
        if r.returncode == 0 and json.loads(r.stdout)["status"] == want:
            return json.loads(r.stdout)
        time.sleep(0.05)
    raise AssertionError("%s never became %s: %s %s" % (cid, want, r.stdout, r.stderr))


def create(world, cid, bundle, out):
    """create with the workload's stdio in files: a pipe would stay open as
    long as the container, as with runc. Its own errors are the stderr file's."""
    err = out + ".err"
    with open(out, "w") as o, open(err, "w") as e:
        r = subprocess.run([RUNTIME, "--root", world.root, "create", "-b", bundle, "--pid-file",
                            os.path.join(bundle, "pid"), cid], env=world.env, stdin=subprocess.DEVNULL,
                           stdout=o, stderr=e, timeout=120)
    r.stderr = open(err).read()
    return r


def leftovers(world):
    state = os.path.join(world.root, "state")
    entries = [e for e in os.listdir(state) if not e.startswith(".")] if os.path.isdir(state) else []
    monitors = subprocess.run(["pgrep", "-f", world.root + " monitor"], capture_output=True, text=True).stdout.split()
    return entries, monitors


@pytest.mark.parametrize("runtime", ["krunbox-runc", "runc"])
def test_run_returns_the_exit_code_and_the_output(world, runtime):
    if runtime == "runc" and not RUNC:
        pytest.skip("runc is not installed")
    b = world.bundle(["sh", "-c", "echo hello from $(hostname); exit 3"])
    binary = RUNTIME if runtime == "krunbox-runc" else RUNC
    root = world.root if runtime == "krunbox-runc" else os.path.join(world.dir, "runc-root")
    r = subprocess.run([binary, "--root", root, "run", "-b", b, "run-" + runtime], env=world.env,
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    assert r.returncode == 3, r.stderr
    assert "hello from runc" in r.stdout
    assert leftovers(world) == ([], []) if runtime == "krunbox-runc" else True


def test_create_start_exec_pause_kill_delete(world):
    b = world.bundle(["sh", "-c", "echo started; while :; do sleep 1; done"])
    out = os.path.join(world.dir, "c1.out")
    r = create(world, "c1", b, out)
    assert r.returncode == 0, r.stderr
    st = wait_status(world, "c1", "created")
    pid = int(open(os.path.join(b, "pid")).read())
    assert st["pid"] == pid and st["bundle"] == b and st["rootfs"] == os.path.join(b, "rootfs")
    assert st["id"] == "c1" and st["ociVersion"].startswith("1.")
    assert b"monitor" in open("/proc/%d/cmdline" % pid, "rb").read()
    assert world.runc("start", "c1").returncode == 0
    wait_status(world, "c1", "running")
    r = world.runc("start", "c1")
    assert r.returncode == 1 and "cannot start an already running container" in r.stderr

    r = world.runc("exec", "c1", "sh", "-c", "echo in-exec; exit 5")
    assert r.returncode == 5, r.stderr
    assert "in-exec" in r.stdout
    r = world.runc("exec", "--cwd", "/tmp", "-e", "X=from-env", "c1", "sh", "-c", "echo $PWD $X")
    assert r.stdout.strip() == "/tmp from-env", r.stderr
    proc = os.path.join(world.dir, "process.json")
    with open(proc, "w") as f:
        json.dump({"args": ["sh", "-c", "exit 6"], "cwd": "/", "env": ["PATH=/bin"], "user": {"uid": 0, "gid": 0}}, f)
    assert world.runc("exec", "-p", proc, "c1").returncode == 6

    pids = json.loads(world.runc("ps", "-f", "json", "c1").stdout)
    assert pid in pids and len(pids) > 1

    assert world.runc("pause", "c1").returncode == 0
    assert json.loads(world.runc("state", "c1").stdout)["status"] == "paused"
    r = world.runc("exec", "c1", "true")
    assert r.returncode != 0 and "paused" in r.stderr
    assert world.runc("resume", "c1").returncode == 0
    assert json.loads(world.runc("state", "c1").stdout)["status"] == "running"

    r = world.runc("delete", "c1")
    assert r.returncode == 1 and "cannot delete container c1 that is not stopped: running" in r.stderr
    assert world.runc("kill", "c1", "KILL").returncode == 0
    st = wait_status(world, "c1", "stopped")
    assert st["pid"] == 0
    r = world.runc("kill", "c1", "TERM")
    assert r.returncode == 1 and "container not running" in r.stderr
    assert world.runc("delete", "c1").returncode == 0
    r = world.runc("state", "c1")
    assert r.returncode == 1 and "container does not exist" in r.stderr
    assert "started" in open(out).read()
    assert leftovers(world) == ([], [])


def test_writes_reach_the_bundle_and_its_bind_mounts(world):
    host = os.path.join(world.dir, "vol")
    os.makedirs(host)

    def mount(config):
        config["mounts"].append({"destination": "/vol", "type": "bind", "source": host, "options": ["rbind", "rw"]})
    b = world.bundle(["sh", "-c", "echo root > /written && echo vol > /vol/file"], edit=mount)
    r = world.runc("run", "-b", b, "writes")
    assert r.returncode == 0, r.stderr
    assert open(os.path.join(b, "rootfs", "written")).read() == "root\n"
    assert open(os.path.join(host, "file")).read() == "vol\n"


def test_unknown_containers_get_runcs_text(world):
    for verb in (["state"], ["start"], ["kill"], ["delete"], ["pause"], ["exec"], ["ps"]):
        args = verb + ["no-such"] + (["true"] if verb == ["exec"] else [])
        r = world.runc(*args)
        assert r.returncode != 0 and "container does not exist" in r.stderr, (verb, r.stderr)
    r = world.runc("state", "../escape")
    assert r.returncode == 1 and "invalid container id format" in r.stderr


def test_an_id_is_taken_once(world):
    b = world.bundle(["sleep", "100"])
    assert create(world, "dup", b, os.path.join(world.dir, "dup.out")).returncode == 0
    r = create(world, "dup", b, os.path.join(world.dir, "dup.out"))
    assert r.returncode == 1 and "container with given ID already exists" in r.stderr
    assert world.runc("delete", "dup").returncode == 0
    assert leftovers(world) == ([], [])


HUGE_ARGS = ["x"] * 5000


@pytest.mark.parametrize("name,config,needle", [
    ("bad-json", '{"ociVersion": "1.0.2", "process": {', "config.json"),
    ("not-object", "[1,2]", "must be a JSON object"),
    ("dotdot", "dotdot", "climbs out of the container's root"),
    ("relative", "relative", "is not an absolute path"),
    ("huge-args", "huge", "process.args: has 5000 entries (at most 4096)"),
    ("many-mounts", "mounts", "mounts: has 300 entries (at most 256)"),
    ("hooks", "hooks", "OCI hooks are not supported"),
    ("no-root", "noroot", "root.path"),
    ("nfs", "nfs", "type 'nfs' are not supported"),
])
def test_hostile_bundles_are_refused_and_leave_nothing(world, name, config, needle):
    edits = {
        "dotdot": lambda c: c["mounts"].append({"destination": "/a/../../etc", "type": "bind", "source": "/tmp"}),
        "relative": lambda c: c["mounts"].append({"destination": "etc", "type": "bind", "source": "/tmp"}),
        "huge": lambda c: c["process"].__setitem__("args", HUGE_ARGS),
        "mounts": lambda c: c.__setitem__("mounts", [{"destination": "/m", "type": "bind", "source": "/tmp"}] * 300),
        "hooks": lambda c: c.__setitem__("hooks", {"prestart": [{"path": "/bin/true"}]}),
        "noroot": lambda c: c["root"].__setitem__("path", "missing"),
        "nfs": lambda c: c["mounts"].append({"destination": "/n", "type": "nfs", "source": "h:/x"}),
    }
    if config in edits:
        c = spec(["true"])
        edits[config](c)
        b = world.bundle(None, config=c)
    else:
        b = world.bundle(None, config=config)
    log = os.path.join(world.dir, name + ".log.json")
    r = subprocess.run([RUNTIME, "--root", world.root, "--log", log, "--log-format", "json", "create", "-b", b,
                        "hostile-" + name], env=world.env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert needle in r.stderr, r.stderr
    last = json.loads(open(log).read().splitlines()[-1])
    assert last["level"] == "error" and needle in last["msg"] and last["time"]
    assert leftovers(world) == ([], [])
    assert world.runc("state", "hostile-" + name).returncode == 1


def test_missing_config_and_unsupported_verbs(world):
    empty = os.path.join(world.dir, "empty-bundle")
    os.makedirs(empty)
    r = world.runc("create", "-b", empty, "none")
    assert r.returncode == 1 and "config.json not found" in r.stderr
    for verb in ("checkpoint", "restore"):
        r = world.runc(verb, "x")
        assert r.returncode == 1 and verb + " is not supported" in r.stderr
    features = json.loads(world.runc("features").stdout)
    assert features["ociVersionMax"].startswith("1.") and "io.krunbox.backend" in features["annotations"]
    assert "krunbox-runc version" in world.runc("--version").stdout


def test_a_terminal_goes_to_the_console_socket(world):
    import array
    import socket
    c = spec(["sh", "-c", "tty; stty size; sleep 5"], terminal=True)
    b = world.bundle(None, config=c)
    path = os.path.join(world.dir, "console.sock")
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(path)
    srv.listen(1)
    with open(os.path.join(world.dir, "tty.out"), "w") as o:
        p = subprocess.Popen([RUNTIME, "--root", world.root, "create", "-b", b, "--console-socket", path, "tty"],
                             env=world.env, stdin=subprocess.DEVNULL, stdout=o, stderr=o)
        srv.settimeout(60)
        conn, _ = srv.accept()
        msg, anc, _, _ = conn.recvmsg(4096, socket.CMSG_LEN(4))
        fds = array.array("i")
        for level, kind, data in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.frombytes(data[:4])
        assert p.wait(timeout=60) == 0
    assert len(fds) == 1 and msg.startswith(b"/dev/pts/")
    master = fds[0]
    try:
        assert world.runc("start", "tty").returncode == 0
        seen = b""
        end = time.time() + 30
        while b"\r\n" not in seen.split(b"/dev/pts/", 1)[-1] and time.time() < end:
            seen += os.read(master, 4096)
        # The process's stdio is a terminal inside the sandbox, and its output arrives raw (CRLF) on the master.
        assert b"/dev/pts/" in seen and b"\r\n" in seen, seen
    finally:
        os.close(master)
        world.runc("delete", "-f", "tty")
    r = world.runc("create", "-b", b, "tty-no-socket")
    assert r.returncode == 1 and "--console-socket" in r.stderr
