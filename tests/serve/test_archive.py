"""Tar archives in and out of a sandbox through the API (what docker cp
moves), read and written with Python's tarfile as a client would."""
import base64
import io
import json
import tarfile

import pytest

from conftest import assert_error


@pytest.fixture(scope="module")
def box(api):
    r = api.post("/v1/sandboxes", json={"backend": "native", "cmd": ["sleep", "600"], "name": "ar"})
    assert r.status_code == 201, r.text
    yield r.json()["id"]
    api.delete("/v1/sandboxes/ar")


def tar_of(entries):
    """entries: (name, bytes | None for a directory | ("symlink", target))."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            if data is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o750
                t.addfile(info)
            elif isinstance(data, tuple):
                info.type, info.linkname = tarfile.SYMTYPE, data[1]
                t.addfile(info)
            else:
                info.size, info.mode = len(data), 0o640
                t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_archive_out(api, box):
    setup = "mkdir -p /tmp/src/sub && printf hello > /tmp/src/a.txt && head -c 300000 /dev/urandom > /tmp/src/sub/big " \
            "&& ln -s a.txt /tmp/src/link && sha256sum /tmp/src/sub/big"
    r = api.post("/v1/sandboxes/ar/exec", json={"cmd": setup})
    assert r.json()["exit_code"] == 0, r.text
    digest = r.json()["stdout"].split()[0]
    r = api.get("/v1/sandboxes/ar/archive", params={"path": "/tmp/src"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/x-tar"
    stat = json.loads(base64.b64decode(r.headers["x-krunbox-path-stat"]))
    assert stat["type"] == "directory" and stat["path"] == "/tmp/src"
    with tarfile.open(fileobj=io.BytesIO(r.content)) as t:
        members = {m.name: m for m in t.getmembers()}
        assert set(members) == {"src", "src/a.txt", "src/link", "src/sub", "src/sub/big"}
        assert members["src/link"].issym() and members["src/link"].linkname == "a.txt"
        assert t.extractfile("src/a.txt").read() == b"hello"
        import hashlib
        assert hashlib.sha256(t.extractfile("src/sub/big").read()).hexdigest() == digest
    # A single file: one entry, its own name.
    r = api.get("/v1/sandboxes/ar/archive", params={"path": "/tmp/src/a.txt"})
    with tarfile.open(fileobj=io.BytesIO(r.content)) as t:
        assert t.getnames() == ["a.txt"]
    assert_error(api.get("/v1/sandboxes/ar/archive", params={"path": "/no/such"}), 404)


def test_archive_in(api, box):
    assert api.post("/v1/sandboxes/ar/files/mkdir", json={"path": "/tmp/dst", "parents": True}).status_code == 204
    body = tar_of([("./proj", None), ("./proj/main.py", b"print('hi')\n"), ("proj/data/x.bin", b"\x00\xff" * 1000)])
    r = api.put("/v1/sandboxes/ar/archive", params={"path": "/tmp/dst"}, content=body)
    assert r.status_code == 200, r.text
    assert r.json() == {"files": 2, "directories": 1, "bytes": 12 + 2000}
    assert api.get("/v1/sandboxes/ar/files", params={"path": "/tmp/dst/proj/main.py"}).content == b"print('hi')\n"
    st = api.get("/v1/sandboxes/ar/files/stat", params={"path": "/tmp/dst/proj/data/x.bin"}).json()
    assert st["size"] == 2000 and st["mode"] == 0o640
    assert api.get("/v1/sandboxes/ar/files/stat", params={"path": "/tmp/dst/proj"}).json()["mode"] == 0o750
    # gzip too.
    import gzip
    r = api.put("/v1/sandboxes/ar/archive", params={"path": "/tmp/dst"}, content=gzip.compress(tar_of([("z.txt", b"z")])))
    assert r.status_code == 200, r.text
    assert api.get("/v1/sandboxes/ar/files", params={"path": "/tmp/dst/z.txt"}).content == b"z"


def test_archive_hostile(api, box):
    assert api.post("/v1/sandboxes/ar/files/mkdir", json={"path": "/tmp/h", "parents": True}).status_code == 204
    for entries, status, words in (
            ([("../escape.txt", b"x")], 400, ".."),
            ([("ok/../../escape.txt", b"x")], 400, ".."),
            ([("/etc/escape.txt", b"x")], 400, "absolute"),
            ([("l", ("symlink", "/etc/passwd"))], 422, "symlink")):
        r = api.put("/v1/sandboxes/ar/archive", params={"path": "/tmp/h"}, content=tar_of(entries))
        assert_error(r, status, None, words)
    assert_error(api.put("/v1/sandboxes/ar/archive", params={"path": "/tmp/h"}, content=b"not a tar at all" * 100), 400)
    assert_error(api.put("/v1/sandboxes/ar/archive", params={"path": "/etc/hostname"}, content=tar_of([("a", b"")])),
                 400, None, "not a directory")
    assert_error(api.put("/v1/sandboxes/ar/archive", params={"path": "/no/such"}, content=tar_of([("a", b"")])), 404)
    assert_error(api.delete("/v1/sandboxes/ar/archive", params={"path": "/tmp"}), 405)
    # Nothing escaped, and the target holds nothing.
    for path in ("/tmp/escape.txt", "/etc/escape.txt"):
        assert_error(api.get("/v1/sandboxes/ar/files/stat", params={"path": path}), 404)
    assert api.get("/v1/sandboxes/ar/files/list", params={"path": "/tmp/h"}).json()["entries"] == []
