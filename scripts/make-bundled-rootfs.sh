#!/usr/bin/env bash
# Builds the bundled default image: a busybox root filesystem made from
# Debian's busybox-static. It is built beside DEST and renamed into place, so
# DEST is either the old complete tree or the new one. Rebuilt only when the
# busybox binary or this script changes.
#
# usage: scripts/make-bundled-rootfs.sh DEST
set -euo pipefail
. "$(dirname "$0")/lib/stamped-dir.sh"
dest=${1:?usage: make-bundled-rootfs.sh DEST}
busybox=/bin/busybox
[ -x "$busybox" ] || { echo "make-bundled-rootfs: $busybox missing (apt-get install busybox-static)" >&2; exit 1; }
if ldd "$busybox" >/dev/null 2>&1; then
  echo "make-bundled-rootfs: $busybox is not static (install busybox-static, not busybox)" >&2; exit 1
fi

stamp=$( { sha256sum "$busybox"; sha256sum "$0"; } | sha256sum | cut -c1-16)
if stamped_dir_current "$dest" "$stamp"; then exit 0; fi

work=$(stamped_dir_begin "$dest")
trap 'rm -rf "$work"' EXIT

chmod 0755 "$work"
cd "$work"
mkdir -p bin sbin usr/bin usr/sbin etc root tmp proc sys dev run var/tmp home
cp "$busybox" bin/busybox
chmod 0755 bin/busybox
# One link per applet, at the path busybox itself reports for it.
"$busybox" --list-full | while read -r applet; do
  [ -e "$applet" ] || [ -L "$applet" ] || ln -s /bin/busybox "$applet"
done
cat > etc/passwd <<'P'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
P
cat > etc/group <<'G'
root:x:0:
nobody:x:65534:
G
echo krunbox > etc/hostname
: > etc/resolv.conf
printf '127.0.0.1\tlocalhost\n::1\tlocalhost\n' > etc/hosts
chmod 1777 tmp var/tmp
chmod 0700 root

stamped_dir_commit "$work" "$dest" "$stamp"
trap - EXIT
echo "bundled image ready: $dest"
