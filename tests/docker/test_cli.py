"""The real docker CLI against krunbox's Docker socket (native backend)."""
import json
import time

from conftest import check_published_httpd


def test_version_and_info(docker):
    r = docker("version", "--format", "{{json .Server}}", check=True)
    server = json.loads(r.stdout)
    assert server["ApiVersion"] == "1.43"
    assert server["MinAPIVersion"] == "1.24"
    r = docker("info", "--format", "{{.Driver}} {{.OSType}}", check=True)
    assert r.stdout.strip() == "krunbox linux"


def test_run_rm_prints_and_exits_with_the_code(docker, world):
    r = docker("run", "--rm", "busybox", "sh", "-c", "echo hi; exit 3")
    assert r.returncode == 3, r.stderr
    assert r.stdout == "hi\n"
    # --rm: gone from krunbox's records too (AutoRemove runs in the server).
    deadline = time.time() + 10
    while time.time() < deadline and world.kb("ps", "-a", "-q").stdout.strip():
        time.sleep(0.1)
    assert world.kb("ps", "-a", "-q").stdout.strip() == ""


def test_run_sends_both_streams_as_one(docker):
    r = docker("run", "--rm", "busybox", "sh", "-c", "echo one; echo two >&2; echo three", check=True)
    # krunbox keeps the main process's output as one stream, stdout's and
    # stderr's lines each in order but not with each other (docs/docker-api.md).
    lines = r.stdout.split()
    assert sorted(lines) == ["one", "three", "two"]
    assert lines.index("one") < lines.index("three")


def test_unknown_image_and_container_are_dockers_errors(docker):
    r = docker("inspect", "--type", "container", "nosuchthing")
    assert r.returncode != 0
    assert "No such container: nosuchthing" in r.stderr
    r = docker("rm", "nosuchthing")
    assert "No such container: nosuchthing" in r.stderr


def test_unsupported_option_is_refused_by_name(docker):
    r = docker("run", "--rm", "--privileged", "busybox", "true")
    assert r.returncode != 0
    assert "HostConfig.Privileged" in r.stderr


def test_detached_container_exec_logs_cp_stop(docker, world, tmp_path):
    script = "trap '' TERM; echo started; while true; do sleep 1; done"
    r = docker("run", "-d", "--name", "svc", "-l", "team=a", "busybox", "sh", "-c", script, check=True)
    cid = r.stdout.strip()
    assert len(cid) == 64

    # It is a krunbox sandbox.
    assert cid in world.kb("ps", "-q", "--no-trunc").stdout or cid[:12] in world.kb("ps").stdout

    r = docker("ps", "--format", "{{.ID}} {{.Names}} {{.Status}}", check=True)
    assert cid[:12] + " svc Up" in r.stdout
    r = docker("ps", "-q", "--filter", "label=team=a", check=True)
    assert r.stdout.split() == [cid[:12]]
    r = docker("ps", "-q", "--filter", "label=team=b", check=True)
    assert r.stdout.split() == []

    r = docker("exec", "svc", "sh", "-c", "echo out; echo err >&2; exit 5")
    assert r.returncode == 5
    assert r.stdout == "out\n"
    assert r.stderr == "err\n"
    r = docker("exec", "-i", "svc", "sh", "-c", "tr a-z A-Z", input="hello stdin\n", check=True)
    assert r.stdout == "HELLO STDIN\n"

    deadline = time.time() + 10
    while time.time() < deadline and "started" not in docker("logs", "svc").stdout:
        time.sleep(0.1)
    assert docker("logs", "svc", check=True).stdout == "started\n"
    assert docker("logs", "--tail", "1", "svc", check=True).stdout == "started\n"
    stamped = docker("logs", "-t", "svc", check=True).stdout
    assert stamped.endswith(" started\n") and stamped[:4].isdigit()

    # docker cp, both ways.
    src = tmp_path / "host.txt"
    src.write_text("from the host\n")
    docker("cp", str(src), "svc:/tmp/", check=True)
    assert docker("exec", "svc", "cat", "/tmp/host.txt", check=True).stdout == "from the host\n"
    docker("exec", "svc", "sh", "-c", "mkdir -p /tmp/d && echo inside > /tmp/d/f.txt", check=True)
    docker("cp", "svc:/tmp/d/f.txt", str(tmp_path / "back.txt"), check=True)
    assert (tmp_path / "back.txt").read_text() == "inside\n"
    docker("cp", "svc:/tmp/d", str(tmp_path / "dir"), check=True)
    assert (tmp_path / "dir" / "f.txt").read_text() == "inside\n"

    inspect = json.loads(docker("inspect", "svc", check=True).stdout)[0]
    assert inspect["Id"] == cid
    assert inspect["Name"] == "/svc"
    assert inspect["State"]["Running"] is True
    assert inspect["Config"]["Labels"] == {"team": "a"}

    # TERM is ignored: after 2 s it is killed.
    t0 = time.time()
    docker("stop", "-t", "2", "svc", check=True)
    assert 1.5 < time.time() - t0 < 15
    r = docker("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "svc", check=True)
    assert r.stdout.strip() == "exited 137"
    r = docker("ps", "-a", "--format", "{{.Names}} {{.Status}}", check=True)
    assert "svc Exited (137)" in r.stdout
    docker("rm", "svc", check=True)
    assert "No such container" in docker("inspect", "--type", "container", "svc").stderr


def test_rm_force_kill_restart_pause(docker):
    cid = docker("run", "-d", "busybox", "sleep", "300", check=True).stdout.strip()
    r = docker("rm", cid)
    assert r.returncode != 0 and "running" in r.stderr
    docker("pause", cid, check=True)
    assert docker("inspect", "-f", "{{.State.Status}}", cid, check=True).stdout.strip() == "paused"
    docker("unpause", cid, check=True)
    docker("restart", "-t", "1", cid, check=True)
    assert docker("inspect", "-f", "{{.State.Status}}", cid, check=True).stdout.strip() == "running"
    docker("kill", cid, check=True)
    r = docker("wait", cid, check=True)
    assert r.stdout.strip() == "137"
    docker("start", cid, check=True)
    docker("rm", "-f", cid, check=True)
    assert "No such container" in docker("inspect", "--type", "container", cid).stderr


def test_images(docker):
    r = docker("images", "--format", "{{.Repository}}:{{.Tag}}", check=True)
    assert "busybox:latest" in r.stdout.split()
    r = docker("image", "inspect", "-f", "{{.Os}}", "busybox", check=True)
    assert r.stdout.strip() == "linux"
    r = docker("image", "inspect", "nosuchimage:1")
    assert "No such image" in r.stderr


def test_published_port_answers_from_the_host(docker):
    check_published_httpd(docker)
