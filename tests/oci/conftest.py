"""A private world for krunbox-runc: its --root, data root and run dir, the
bundled busybox image built from scripts/ (rootfs and OCI layout), and
bundles made from it. Paths stay short for the unix sockets under them."""
import json
import os
import shutil
import subprocess
import tempfile

import pytest

BIN_DIR = os.environ.get("KRUNBOX_BIN_DIR", os.path.join(os.path.dirname(__file__), "../../build/bin"))
SOURCE_DIR = os.environ.get("KRUNBOX_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../.."))
RUNTIME = os.path.abspath(os.path.join(BIN_DIR, "krunbox-runc"))


def needs_root():
    if os.geteuid() != 0:
        pytest.skip("krunbox-runc's callers (containerd, podman) run as root here")


class World:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="koc-", dir="/tmp")
        os.chmod(self.dir, 0o700)
        self.root = os.path.join(self.dir, "rt")
        self.data = os.path.join(self.dir, "d")
        os.makedirs(self.data, mode=0o700)
        self.env = {k: v for k, v in os.environ.items() if k not in ("KRUNBOX_ROOT", "KRUNBOX_RUN_DIR", "KRUNBOX_LOG")}
        self.env["KRUNBOX_ROOT"] = self.data
        self.rootfs = os.path.join(self.dir, "busybox", "rootfs")
        self.layout = os.path.join(self.dir, "busybox-oci")
        for script, args in (("make-bundled-rootfs.sh", [self.rootfs]),
                             ("make-bundled-image.sh", [self.rootfs, self.layout])):
            subprocess.run([os.path.join(SOURCE_DIR, "scripts", script), *args], check=True, capture_output=True)
        self.bundles = 0

    def runc(self, *args, timeout=120, input=None, root=None):
        return subprocess.run([RUNTIME, "--root", root or self.root, *args], env=self.env, capture_output=True,
                              text=True, timeout=timeout, input=input)

    def bundle(self, args, config=None, edit=None):
        """A bundle with a private copy of the busybox root and a config.json
        as `runc spec` writes it (or `config` as given, text or object)."""
        self.bundles += 1
        b = os.path.join(self.dir, "b%d" % self.bundles)
        os.makedirs(b)
        subprocess.run(["cp", "-a", self.rootfs, os.path.join(b, "rootfs")], check=True)
        if config is None:
            config = spec(args)
            if edit:
                edit(config)
        with open(os.path.join(b, "config.json"), "w") as f:
            f.write(config if isinstance(config, str) else json.dumps(config))
        return b

    def close(self):
        for line in self.runc("list", "-q").stdout.split():
            self.runc("delete", "-f", line)
        shutil.rmtree(self.dir, ignore_errors=True)


def spec(args, terminal=False):
    """What `runc spec` writes, with `args` as the process."""
    return {
        "ociVersion": "1.0.2",
        "process": {"terminal": terminal, "user": {"uid": 0, "gid": 0}, "args": args,
                    "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
                    "cwd": "/", "noNewPrivileges": True,
                    "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}]},
        "root": {"path": "rootfs", "readonly": False},
        "hostname": "runc",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
        ],
        "linux": {"resources": {"devices": [{"allow": False, "access": "rwm"}]},
                  "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"},
                                 {"type": "mount"}],
                  "maskedPaths": ["/proc/kcore"], "readonlyPaths": ["/proc/sys"]},
    }


@pytest.fixture(scope="module")
def world():
    needs_root()
    w = World()
    yield w
    w.close()
