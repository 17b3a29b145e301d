"""A background command outlives its server: wait() takes its output up again where it broke off."""
import os
import signal
import threading
import time

import pytest

from conftest import BACKEND
from krunbox import Sandbox


@pytest.mark.needs_new_endpoints
def test_wait_goes_on_across_a_server_restart(world):
    path = os.path.join(world.dir, "restart.sock")
    host = "unix://" + path
    first = world.serve("--socket", path, wait=False)
    first.wait_ready(path)
    with Sandbox.create(backend=BACKEND, labels={"case": "restart"}, host=host) as sb:
        h = sb.commands.run("for i in $(seq 1 15); do echo line $i; sleep 0.2; done", background=True)
        chunks = []
        done = {}

        def wait():
            try:
                done["result"] = h.wait(on_stdout=chunks.append)
            except Exception as e:  # noqa: BLE001 (handed to the test's thread)
                done["error"] = e

        t = threading.Thread(target=wait)
        t.start()
        time.sleep(1)
        first.kill(signal.SIGKILL)  # mid-stream
        second = world.serve("--socket", path, wait=False)
        second.wait_ready(path)
        t.join(timeout=60)
        assert not t.is_alive()
        assert "error" not in done, done
        want = "".join("line %d\n" % i for i in range(1, 16))
        assert done["result"].stdout == want  # every line once: resumed at its offset, not replayed
        assert "".join(chunks) == want
    second.terminate()
