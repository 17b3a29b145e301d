"""The core of docker run and exec on the qemu backend, chosen with the
io.krunbox.backend label (TCG here: a VM boots in a few seconds)."""
import os

import pytest

from conftest import check_published_httpd


@pytest.fixture(scope="module")
def vm_docker(docker, world):
    if not os.path.exists(os.path.join(world.data, "assets")):
        pytest.skip("no VM assets in /var/lib/krunbox (scripts/setup.sh)")
    r = docker("run", "--rm", "-l", "io.krunbox.backend=qemu", "busybox", "true", timeout=300)
    if r.returncode != 0 and ("unavailable" in r.stderr or "not usable" in r.stderr):
        pytest.skip("the qemu backend is not usable here: " + r.stderr.strip()[:300])
    assert r.returncode == 0, r.stderr
    return docker


def test_qemu_run_rm_exit_code(vm_docker):
    r = vm_docker("run", "--rm", "-l", "io.krunbox.backend=qemu", "busybox", "sh", "-c", "echo hi; exit 3",
                  timeout=300)
    assert r.returncode == 3, r.stderr
    assert r.stdout == "hi\n"


def test_qemu_detached_exec(vm_docker):
    cid = vm_docker("run", "-d", "-l", "io.krunbox.backend=qemu", "busybox", "sleep", "300",
                    timeout=300, check=True).stdout.strip()
    try:
        r = vm_docker("inspect", "-f", "{{.HostConfig.Runtime}}", cid, check=True)
        assert r.stdout.strip() == "krunbox-qemu"
        r = vm_docker("exec", cid, "sh", "-c", "echo in-vm; exit 4")
        assert r.returncode == 4 and r.stdout == "in-vm\n"
        r = vm_docker("exec", "-i", cid, "cat", input="through stdin\n", check=True)
        assert r.stdout == "through stdin\n"
    finally:
        vm_docker("rm", "-f", cid, timeout=120)


def test_qemu_published_port_answers_from_the_host(vm_docker):
    check_published_httpd(vm_docker, "-l", "io.krunbox.backend=qemu", timeout=180)
