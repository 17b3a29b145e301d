"""docker load and docker-py's images.load: Docker's archive layout (as
skopeo's docker-archive writes it), Docker 25's tar with both layouts, and
hostile archives refused by name."""
import io
import json
import os
import shutil
import subprocess
import tarfile

import pytest

SKOPEO = shutil.which("skopeo")


@pytest.fixture(scope="module")
def layout(world):
    path = os.path.join(world.data, "bundled", "busybox-oci")
    if not os.path.isdir(path):
        pytest.skip("no bundled OCI layout in the data root (scripts/setup.sh)")
    if not SKOPEO:
        pytest.skip("skopeo is not installed (apt-get install skopeo)")
    return path


def docker_archive(world, layout, tag):
    out = os.path.join(world.dir, tag.replace(":", "-").replace("/", "-") + ".tar")
    subprocess.run([SKOPEO, "copy", "-q", "oci:" + layout, "docker-archive:%s:%s" % (out, tag)], check=True,
                   capture_output=True, timeout=120)
    return out


def tar_of(files):
    """A tar from {name: bytes}."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_docker_load_of_a_docker_archive(docker, world, layout):
    tar = docker_archive(world, layout, "busybox:test")
    r = docker("load", "-i", tar, check=True)
    assert r.stdout.strip() == "Loaded image: busybox:test"
    assert "busybox:test" in docker("images", "--format", "{{.Repository}}:{{.Tag}}", check=True).stdout.split()
    r = docker("run", "--rm", "busybox:test", "sh", "-c", "echo from-the-loaded-image", check=True)
    assert r.stdout == "from-the-loaded-image\n"
    # krunbox's own load takes the same archive.
    r = world.kb("load", "--name", "kbload", tar)
    assert r.returncode == 0, r.stderr
    assert "kbload:test" in docker("images", "--format", "{{.Repository}}:{{.Tag}}", check=True).stdout.split()


def test_docker25_tar_with_both_layouts(docker, world, layout):
    # What docker save writes since Docker 25: an OCI layout whose index
    # names the image, with manifest.json beside it over the same blobs.
    d = os.path.join(world.dir, "both")
    subprocess.run([SKOPEO, "copy", "-q", "oci:" + layout, "oci:%s:busybox:both" % d], check=True,
                   capture_output=True, timeout=120)
    with open(os.path.join(d, "index.json")) as f:
        desc = json.load(f)["manifests"][0]
    with open(os.path.join(d, "blobs", "sha256", desc["digest"].split(":")[1])) as f:
        manifest = json.load(f)
    blob = lambda dsc: "blobs/sha256/" + dsc["digest"].split(":")[1]
    with open(os.path.join(d, "manifest.json"), "w") as f:
        json.dump([{"Config": blob(manifest["config"]), "RepoTags": ["busybox:both"],
                    "Layers": [blob(l) for l in manifest["layers"]]}], f)
    tar = os.path.join(world.dir, "both.tar")
    subprocess.run(["tar", "-C", d, "-cf", tar, "."], check=True)
    r = docker("load", "-i", tar, check=True)
    assert r.stdout.strip() == "Loaded image: busybox:both"


def test_dockerpy_images_load(dockerpy, world, layout):
    with open(docker_archive(world, layout, "busybox:py"), "rb") as f:
        images = dockerpy.images.load(f.read())
    assert [i.tags for i in images] == [["busybox:py"]]
    out = dockerpy.containers.run("busybox:py", ["echo", "py-loaded"], remove=True)
    assert out == b"py-loaded\n"


@pytest.mark.parametrize("files,words", [
    ({"hello.txt": b"hi"}, "docker save"),
    ({"manifest.json": b"{not json"}, "manifest.json"),
    ({"manifest.json": b'[{"Config":"../c.json","Layers":[]}]'}, "climbs out"),
    ({"manifest.json": b'[{"Config":"/etc/passwd","Layers":[]}]'}, "absolute"),
    ({"manifest.json": b'[{"Config":"c.json","Layers":["nosuch.tar"]}]', "c.json": b"{}"}, "c.json"),
    ({"manifest.json": b'[{"Config":"c.json","Layers":["nosuch.tar"]}]',
      "c.json": json.dumps({"os": "linux", "architecture": "amd64",
                            "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "a" * 64]}}).encode()},
     "no file nosuch.tar"),
    ({"manifest.json": b"[" + b" " * (2 << 20) + b"]"}, "manifest.json"),
])
def test_hostile_archives_are_refused_by_name(docker, world, files, words):
    path = os.path.join(world.dir, "hostile.tar")
    with open(path, "wb") as f:
        f.write(tar_of(files))
    r = docker("load", "-i", path)
    assert r.returncode != 0
    assert words in r.stderr, r.stderr
    r = docker("load", "-i", "/dev/null")
    assert r.returncode != 0 and "empty" in r.stderr, r.stderr
