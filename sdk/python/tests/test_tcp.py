"""Over TCP: the bearer token from KRUNBOX_API_KEY (or api_key=), and a wrong one."""
import os

import pytest

from conftest import BACKEND, free_port
from krunbox import AuthenticationException, Sandbox

TOKEN = "sdk-t0k3n-" + "9f8e7d6c" * 4


@pytest.fixture(scope="module")
def tcp_host(world, server):
    path = os.path.join(world.dir, "sdk-token")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(TOKEN + "\n")
    port = free_port()
    s = world.serve("--listen", "127.0.0.1:%d" % port, "--token-file", path, "--socket",
                    os.path.join(world.dir, "tcp.sock"), wait=False)
    s.wait_ready(os.path.join(world.dir, "tcp.sock"))
    yield "http://127.0.0.1:%d" % port
    s.terminate()


def test_tcp_with_the_key(tcp_host, monkeypatch):
    monkeypatch.setenv("KRUNBOX_HOST", tcp_host)
    monkeypatch.setenv("KRUNBOX_API_KEY", TOKEN)
    with Sandbox.create(backend=BACKEND, labels={"case": "tcp"}) as sb:
        assert sb.connection_config.uds is None
        assert sb.commands.run("echo over tcp").stdout == "over tcp\n"
        got = []
        sb.commands.run("echo streamed", on_stdout=got.append)
        assert got == ["streamed\n"]
        sb.files.write("/tmp/f", b"tcp bytes")
        assert sb.files.read("/tmp/f", format="bytes") == b"tcp bytes"
        assert [i.id for i in Sandbox.list(labels={"case": "tcp"})] == [sb.id]
    # tcp:// (DOCKER_HOST's spelling) and explicit arguments work too.
    assert Sandbox.list(labels={"case": "tcp"}, host=tcp_host.replace("http://", "tcp://"), api_key=TOKEN) == []


def test_tcp_with_a_wrong_key(tcp_host, monkeypatch):
    monkeypatch.setenv("KRUNBOX_HOST", tcp_host)
    monkeypatch.setenv("KRUNBOX_API_KEY", TOKEN + "x")
    with pytest.raises(AuthenticationException) as e:
        Sandbox.list()
    assert e.value.status == 401 and e.value.code == "unauthorized"
    assert "KRUNBOX_API_KEY" in str(e.value)
    with pytest.raises(AuthenticationException):
        Sandbox.create(backend=BACKEND)
    monkeypatch.delenv("KRUNBOX_API_KEY")
    with pytest.raises(AuthenticationException):
        Sandbox.list()
    assert Sandbox.list(host="tcp" + tcp_host[4:], api_key=TOKEN) is not None
