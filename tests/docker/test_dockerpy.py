"""docker-py (Debian's python3-docker) against krunbox's Docker socket."""
import io
import tarfile

import pytest


def test_ping_and_version(dockerpy):
    assert dockerpy.ping()
    assert dockerpy.version()["ApiVersion"] == "1.43"


def test_run_remove_returns_output(dockerpy):
    out = dockerpy.containers.run("busybox", ["sh", "-c", "echo hello"], remove=True)
    assert out == b"hello\n"


def test_run_failure_raises_container_error(dockerpy):
    import docker
    with pytest.raises(docker.errors.ContainerError) as e:
        dockerpy.containers.run("busybox", ["sh", "-c", "exit 4"], remove=True)
    assert e.value.exit_status == 4


def test_detached_exec_archive_logs_remove(dockerpy):
    c = dockerpy.containers.run("busybox", ["sh", "-c", "echo ready; sleep 300"], detach=True,
                                labels={"suite": "dockerpy"})
    try:
        c.reload()
        assert c.status == "running"
        assert c.labels == {"suite": "dockerpy"}
        r = c.exec_run(["sh", "-c", "echo exec-out; exit 2"])
        assert r.exit_code == 2
        assert r.output == b"exec-out\n"
        r = c.exec_run(["sh", "-c", "echo o; echo e >&2"], demux=True)
        assert r.output == (b"o\n", b"e\n")

        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as t:
            data = b"put by docker-py\n"
            info = tarfile.TarInfo("put.txt")
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
        assert c.put_archive("/tmp", buf.getvalue())
        assert c.exec_run(["cat", "/tmp/put.txt"]).output == b"put by docker-py\n"

        stream, stat = c.get_archive("/tmp/put.txt")
        assert stat["name"] == "put.txt"
        assert stat["size"] == len(b"put by docker-py\n")
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as t:
            assert t.extractfile("put.txt").read() == b"put by docker-py\n"

        assert b"ready\n" in c.logs()
        assert dockerpy.containers.list(filters={"label": "suite=dockerpy"})[0].id == c.id
    finally:
        c.remove(force=True)
    import docker
    with pytest.raises(docker.errors.NotFound):
        dockerpy.containers.get(c.id)
