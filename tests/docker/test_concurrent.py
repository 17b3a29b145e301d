"""Twenty `docker run --rm` at once: each gets its own output and exit code,
and nothing is left afterwards (containers, records, roots, processes,
mounts)."""
import os
import time

import pytest

from conftest import leftovers, run_concurrently


def assert_nothing_left(docker, world, server):
    deadline = time.time() + 30
    while True:
        ps = docker("ps", "-a", "-q", check=True).stdout.split()
        left = leftovers(world, server)
        if (not ps and not left) or time.time() > deadline:
            break
        time.sleep(0.2)
    assert ps == []
    assert world.kb("ps", "-a", "-q").stdout.split() == []
    assert left == []


def test_twenty_concurrent_runs_native(docker, world, server):
    run_concurrently(docker, 20, "-l", "io.krunbox.backend=native")
    assert_nothing_left(docker, world, server)


def test_concurrent_runs_qemu(docker, world, server):
    if not os.path.exists(os.path.join(world.data, "assets")):
        pytest.skip("no VM assets in the data root (scripts/setup.sh)")
    # Four TCG guests at once on this machine's two CPUs.
    run_concurrently(docker, 4, "-l", "io.krunbox.backend=qemu", timeout=600)
    assert_nothing_left(docker, world, server)
