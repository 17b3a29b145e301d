"""The SDK against a real `krunbox serve`, in a private world of its own.

The world and its server are the API suite's (tests/serve/conftest.py's
World and Server, loaded under another module name: pytest has a
"conftest" of its own here). KRUNBOX_TEST_HOST_DATA names where the host's
VM assets and bundled image are when they are not in /var/lib/krunbox
(where scripts/setup.sh puts them for root).

The SDK finds the server as a user's program would: KRUNBOX_HOST is unset
and KRUNBOX_RUN_DIR names the world's run dir, so the default socket is the
world's. The SDK under test is this tree's (sdk/python), not an installed one.

Tests marked ``needs_new_endpoints`` use endpoints that are being added to
the server (background execs and their list, files list/mkdir/move/remove,
the sandbox TTL); ``-m "not needs_new_endpoints"`` runs the others.
"""
import importlib.util
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(HERE, ".."))

import krunbox  # noqa: E402


def _serve_suite():
    spec = importlib.util.spec_from_file_location("krunbox_serve_conftest",
                                                  os.path.join(REPO, "tests", "serve", "conftest.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if os.environ.get("KRUNBOX_TEST_HOST_DATA"):
        module.HOST_DATA = os.environ["KRUNBOX_TEST_HOST_DATA"]
    return module


_serve = _serve_suite()
World = _serve.World
free_port = _serve.free_port

# The backend where a test is about the SDK rather than the engine: it
# starts in milliseconds (as tests/serve uses it).
BACKEND = "native"


def pytest_configure(config):
    config.addinivalue_line("markers", "needs_new_endpoints: uses API endpoints being added (background execs, "
                                       "exec list, files list/mkdir/move/remove, sandbox timeout)")


@pytest.fixture(scope="session")
def world():
    w = World()
    saved = {k: os.environ.get(k) for k in ("KRUNBOX_HOST", "KRUNBOX_API_KEY", "KRUNBOX_RUN_DIR")}
    os.environ.pop("KRUNBOX_HOST", None)
    os.environ.pop("KRUNBOX_API_KEY", None)
    os.environ["KRUNBOX_RUN_DIR"] = w.run
    yield w
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    w.close()


@pytest.fixture(scope="session")
def server(world):
    return world.serve()


@pytest.fixture(scope="module")
def sb(server):
    """One running sandbox for a module's commands and files."""
    s = krunbox.Sandbox.create(backend=BACKEND, labels={"suite": "sdk"})
    yield s
    s.kill()
    s.close()


def sandbox_ids(**labels):
    return {i.id for i in krunbox.Sandbox.list(labels=labels)}
