"""Where the SDK looks for the server (no server needed)."""
import os

import pytest

import krunbox
from krunbox import ConnectionConfig, SandboxException


@pytest.fixture
def clean_env(monkeypatch):
    for k in ("KRUNBOX_HOST", "KRUNBOX_API_KEY", "KRUNBOX_RUN_DIR", "XDG_RUNTIME_DIR"):
        monkeypatch.delenv(k, raising=False)
    return monkeypatch


def test_run_dir_as_paths_cc_computes_it(clean_env):
    clean_env.setattr(os, "geteuid", lambda: 0)
    assert krunbox.default_run_dir() == "/run/krunbox"
    assert krunbox.default_host() == "unix:///run/krunbox/api.sock"
    clean_env.setenv("KRUNBOX_RUN_DIR", "/srv/kb")
    assert krunbox.default_host() == "unix:///srv/kb/api.sock"
    clean_env.delenv("KRUNBOX_RUN_DIR")
    clean_env.setattr(os, "geteuid", lambda: 1000)
    assert krunbox.default_run_dir() == "/tmp/krunbox-1000"
    clean_env.setenv("XDG_RUNTIME_DIR", "/run/user/1000")
    assert krunbox.default_run_dir() == "/run/user/1000/krunbox"
    # An empty variable counts as unset, as in paths.cc.
    clean_env.setenv("KRUNBOX_RUN_DIR", "")
    assert krunbox.default_run_dir() == "/run/user/1000/krunbox"


def test_hosts(clean_env):
    c = ConnectionConfig.resolve()
    assert c.uds == os.path.join(krunbox.default_run_dir(), "api.sock")
    c = ConnectionConfig.resolve("unix:///tmp/x.sock", api_key="k" * 20)
    assert c.uds == "/tmp/x.sock"
    assert "Authorization" not in c.headers()  # the token never goes over the socket
    clean_env.setenv("KRUNBOX_HOST", "http://127.0.0.1:2375")
    clean_env.setenv("KRUNBOX_API_KEY", "secret-token-0123456789")
    c = ConnectionConfig.resolve()
    assert c.uds is None and c.base_url == "http://127.0.0.1:2375"
    assert c.headers()["Authorization"] == "Bearer secret-token-0123456789"
    assert ConnectionConfig.resolve("tcp://[::1]:2375/").base_url == "http://[::1]:2375"
    assert ConnectionConfig.resolve("https://kb.example:443").base_url == "https://kb.example:443"
    for bad in ("unix://relative.sock", "ftp://x", "http://", "http://h:1/path"):
        with pytest.raises(SandboxException):
            ConnectionConfig.resolve(bad)


def test_no_server_is_a_connection_error(clean_env, tmp_path):
    with pytest.raises(krunbox.ConnectionException) as e:
        krunbox.Sandbox.list(host="unix://%s/none.sock" % tmp_path)
    assert "none.sock" in str(e.value)
