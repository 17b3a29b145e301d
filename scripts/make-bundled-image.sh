#!/usr/bin/env bash
# Packs the bundled busybox root filesystem (scripts/make-bundled-rootfs.sh)
# as an OCI image layout, so the default image is an ordinary image that
# `krunbox load` puts in the store. The layer is reproducible (sorted names,
# numeric root ownership, fixed mtimes, gzip without a timestamp): the same
# busybox gives the same image digest on every machine. Rebuilt only when the
# rootfs changes. Written beside DEST and renamed into place.
#
# usage: scripts/make-bundled-image.sh ROOTFS DEST
set -euo pipefail
. "$(dirname "$0")/lib/stamped-dir.sh"
rootfs=${1:?usage: make-bundled-image.sh ROOTFS DEST}
dest=${2:?usage: make-bundled-image.sh ROOTFS DEST}
[ -f "$rootfs/.krunbox-bundled" ] || { echo "make-bundled-image: $rootfs is not a bundled rootfs (run make-bundled-rootfs.sh)" >&2; exit 1; }

stamp=$( { cat "$rootfs/.krunbox-bundled"; sha256sum "$0"; } | sha256sum | cut -c1-16)
if stamped_dir_current "$dest" "$stamp"; then exit 0; fi

work=$(stamped_dir_begin "$dest")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/blobs/sha256"

tar --sort=name --numeric-owner --owner=0 --group=0 --mtime=@0 --format=posix \
  --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
  --exclude=./.krunbox-bundled -C "$rootfs" -cf "$work/layer.tar" .
diff_id=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
gzip -n -9 "$work/layer.tar"
layer_digest=$(sha256sum "$work/layer.tar.gz" | cut -d' ' -f1)
layer_size=$(stat -c %s "$work/layer.tar.gz")
mv "$work/layer.tar.gz" "$work/blobs/sha256/$layer_digest"
# sed reads all of it: with pipefail, `head` would let busybox die of SIGPIPE.
version=$(/bin/busybox 2>/dev/null | sed -n "1s/^BusyBox v\([0-9.]*\).*/\1/p" || true)

python3 - "$work" "$diff_id" "$layer_digest" "$layer_size" "${version:-unknown}" <<'PY'
import hashlib, json, os, sys
work, diff_id, layer_digest, layer_size, version = sys.argv[1:]

def blob(data, media_type):
    digest = hashlib.sha256(data).hexdigest()
    with open(os.path.join(work, "blobs/sha256", digest), "wb") as f:
        f.write(data)
    return {"mediaType": media_type, "digest": "sha256:" + digest, "size": len(data)}

def dump(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()

config = {
    "architecture": "amd64", "os": "linux", "created": "1970-01-01T00:00:00Z",
    "config": {"Cmd": ["/bin/sh"], "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
               "WorkingDir": "/", "Labels": {"org.opencontainers.image.title": "krunbox bundled busybox",
                                            "org.opencontainers.image.version": version}},
    "rootfs": {"type": "layers", "diff_ids": ["sha256:" + diff_id]},
    "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "scripts/make-bundled-image.sh"}],
}
manifest = {
    "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": blob(dump(config), "application/vnd.oci.image.config.v1+json"),
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": "sha256:" + layer_digest, "size": int(layer_size)}],
}
desc = blob(dump(manifest), "application/vnd.oci.image.manifest.v1+json")
desc["annotations"] = {"org.opencontainers.image.ref.name": "latest"}
desc["platform"] = {"architecture": "amd64", "os": "linux"}
with open(os.path.join(work, "index.json"), "wb") as f:
    f.write(dump({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [desc]}))
with open(os.path.join(work, "oci-layout"), "w") as f:
    f.write('{"imageLayoutVersion":"1.0.0"}')
PY
chmod 0755 "$work"

stamped_dir_commit "$work" "$dest" "$stamp"
trap - EXIT
echo "bundled image layout ready: $dest"
