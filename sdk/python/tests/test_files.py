"""sb.files: read and write text and bytes, stat, and (new endpoints) list, mkdir, move, remove."""
import hashlib
import os

import pytest

from krunbox import AlreadyExistsException, InvalidArgumentException, NotFoundException


def test_text_and_bytes(sb):
    info = sb.files.write("/tmp/t.txt", "h\u00e9llo\n")
    assert (info.name, info.path) == ("t.txt", "/tmp/t.txt")
    assert sb.files.read("/tmp/t.txt") == "h\u00e9llo\n"
    assert sb.files.read("/tmp/t.txt", format="bytes") == b"h\xc3\xa9llo\n"
    every = bytes(range(256)) * 4
    sb.files.write("/tmp/b.bin", every)
    assert sb.files.read("/tmp/b.bin", format="bytes") == every
    assert "\ufffd" in sb.files.read("/tmp/b.bin")  # as text, bad bytes are replaced
    assert sb.commands.run("cat /tmp/t.txt").stdout == "h\u00e9llo\n"  # what exec sees is what was written
    with pytest.raises(InvalidArgumentException):
        sb.files.read("/tmp/t.txt", format="blob")


def test_ten_mib_keeps_its_sha256(sb):
    data = os.urandom(10 << 20)
    digest = hashlib.sha256(data).hexdigest()
    sb.files.write("/tmp/big.bin", data)
    assert sb.commands.run("sha256sum /tmp/big.bin").stdout.split()[0] == digest
    back = sb.files.read("/tmp/big.bin", format="bytes")
    assert len(back) == len(data) and hashlib.sha256(back).hexdigest() == digest


def test_parents_mode_stat_exists(sb):
    sb.files.write("/tmp/p/q/r.txt", "deep", mode=0o600)
    st = sb.files.get_info("/tmp/p/q/r.txt")
    assert (st.name, st.path, st.type, st.size, st.mode) == ("r.txt", "/tmp/p/q/r.txt", "file", 4, 0o600)
    assert st.permissions == "rw-------"
    assert sb.files.get_info("/tmp/p/q").type == "directory"
    assert sb.files.exists("/tmp/p/q/r.txt") and not sb.files.exists("/tmp/p/nope")
    with open(os.devnull, "rb") as empty:
        sb.files.write("/tmp/empty", empty)  # a file object
    assert sb.files.read("/tmp/empty") == ""


def test_missing_file(sb):
    with pytest.raises(NotFoundException):
        sb.files.read("/no/such/file")
    with pytest.raises(NotFoundException):
        sb.files.get_info("/no/such/file")
    with pytest.raises(InvalidArgumentException):
        sb.files.read("relative/path")


@pytest.mark.needs_new_endpoints
def test_list_mkdir_move_remove(sb):
    assert sb.files.make_dir("/tmp/tree/sub") is True
    assert sb.files.make_dir("/tmp/tree/sub") is False
    sb.files.write("/tmp/tree/file", "x")
    with pytest.raises(AlreadyExistsException):
        sb.files.make_dir("/tmp/tree/file")  # a file in the way is an error, not "there already"
    sb.files.remove("/tmp/tree/file")
    sb.files.write("/tmp/tree/a.txt", "a")
    sb.files.write("/tmp/tree/sub/b.txt", "bb")
    top = {e.name: e for e in sb.files.list("/tmp/tree")}
    assert set(top) == {"a.txt", "sub"}
    assert top["a.txt"].type == "file" and top["a.txt"].size == 1 and top["a.txt"].path == "/tmp/tree/a.txt"
    assert top["sub"].type == "directory"
    deep = {e.path for e in sb.files.list("/tmp/tree", depth=2)}
    assert {"/tmp/tree/a.txt", "/tmp/tree/sub", "/tmp/tree/sub/b.txt"} <= deep

    moved = sb.files.rename("/tmp/tree/a.txt", "/tmp/tree/sub/c.txt")
    assert moved.path == "/tmp/tree/sub/c.txt" and moved.type == "file"
    assert not sb.files.exists("/tmp/tree/a.txt")
    assert sb.files.read("/tmp/tree/sub/c.txt") == "a"

    sb.files.remove("/tmp/tree/sub/c.txt")
    assert not sb.files.exists("/tmp/tree/sub/c.txt")
    sb.files.remove("/tmp/tree")  # a directory, with what is in it
    assert not sb.files.exists("/tmp/tree")
    with pytest.raises(NotFoundException):
        sb.files.list("/tmp/tree")
