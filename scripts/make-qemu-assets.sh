#!/usr/bin/env bash
# Prepares the guest boot assets of the qemu backend, from Debian packages only:
#   - the cloud kernel (linux-image-cloud-amd64), unpacked with dpkg -x, never
#     installed; booted as the uncompressed PVH ELF when it has the PVH entry
#     note (faster under TCG), else as the bzImage;
#   - an uncompressed initramfs whose /init is the static krunbox-agent, with
#     the kernel modules the guest needs and lists of them in dependency order,
#     which the agent loads itself (no busybox, no modprobe in the guest): one
#     without networking and one with it, so a sandbox without a network
#     device does not load (and probe) the network drivers.
# Everything is cached under DATA/assets/qemu/: the kernel by its version, the
# initramfs by the hash of the agent and the module set. DATA/assets/qemu/current.json
# names the files to boot. Reruns only redo what changed.
#
# usage: scripts/make-qemu-assets.sh DATA_ROOT AGENT_BINARY
set -euo pipefail
data_root=${1:?usage: make-qemu-assets.sh DATA_ROOT AGENT_BINARY}
agent=${2:?usage: make-qemu-assets.sh DATA_ROOT AGENT_BINARY}
assets="$data_root/assets/qemu"
[ -x "$agent" ] || { echo "make-qemu-assets: $agent is missing: build krunbox first" >&2; exit 1; }

# The modules the guest loads, by name; their dependencies are added in order.
modules=(virtio_mmio virtio_console virtio_blk erofs overlay)
net_modules=(virtio_net)
# Parameters some modules load with. virtio-mmio offers every queue with 1024
# entries and virtio_blk sizes its request pool to the queue: 1024 requests
# cost ~8 ms of a boot under emulation, and 128 in flight is ample for a root disk.
declare -A module_params=([virtio_blk]="queue_depth=128")
# Bump when what goes into the kernel directory changes, so reruns redo it.
layout=3

meta=linux-image-cloud-amd64
pkg=$(apt-cache depends "$meta" 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
if [ -z "$pkg" ]; then
  apt-get update -qq
  pkg=$(apt-cache depends "$meta" | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
fi
[ -n "$pkg" ] || { echo "make-qemu-assets: cannot resolve $meta to a kernel package" >&2; exit 1; }
kver=${pkg#linux-image-}
kdir="$assets/kernel-$kver"

mkdir -p "$assets"
if [ "$(cat "$kdir/.complete" 2>/dev/null)" != "$layout" ]; then
  work=$(mktemp -d "$assets/.kernel.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  ( cd "$work" && apt-get download "$pkg" >/dev/null 2>&1 ) ||
    { echo "make-qemu-assets: apt-get download $pkg failed" >&2; exit 1; }
  dpkg -x "$work"/"$pkg"_*.deb "$work/x"
  mkdir -p "$work/out"
  cp "$work/x/boot/vmlinuz-$kver" "$work/out/vmlinuz"
  # The build config says whether the kernel can boot on a PVM /dev/kvm
  # (CONFIG_PVM_GUEST); krunbox reads it instead of trying a KVM boot.
  cp "$work/x/boot/config-$kver" "$work/out/config"

  # The bzImage holds the kernel ELF compressed after a setup stub: find the
  # compressed stream by its magic and decompress it; keep the first result
  # that is an ELF with the PVH (XEN_ELFNOTE_PHYS32_ENTRY) note.
  for format in "02214c18:lz4 -dc" "fd377a585a00:xz -dc" "28b52ffd:zstd -dc" "1f8b08:gzip -dc"; do
    magic=${format%%:*} tool=${format#*:}
    for off in $(LC_ALL=C grep -obUaP "$(echo "$magic" | sed 's/../\\x&/g')" "$work/out/vmlinuz" | cut -d: -f1); do
      tail -c +$((off + 1)) "$work/out/vmlinuz" | $tool > "$work/out/vmlinux" 2>/dev/null || true
      if [ -s "$work/out/vmlinux" ] && readelf -n "$work/out/vmlinux" 2>/dev/null | grep 'Xen.*0x00000012' >/dev/null; then
        break 2
      fi
      rm -f "$work/out/vmlinux"
    done
  done

  # Only the modules we need, with modules.dep made by depmod (Debian's
  # package does not ship it), and the load order resolved now.
  mdir="$work/x/lib/modules/$kver"
  depmod -b "$work/x" "$kver"
  # Soft dependencies left out: crc32c-intel is only libcrc32c's preferred
  # crc32c, the kernel has the generic one built in, and loading it costs
  # its self-test (~10 ms of a boot under emulation).
  skip=" "
  if grep -q '^CONFIG_CRYPTO_CRC32C=y' "$work/x/boot/config-$kver" 2>/dev/null; then skip+="crc32c-intel.ko "; fi
  resolve() {
    for m in "$@"; do
      modprobe -d "$work/x" -S "$kver" --show-depends "$m" | awk '$1 == "insmod" {print $2}'
    done | awk '!seen[$0]++' | while read -r path; do
      case "$skip" in *" $(basename "$path") "*) ;; *) echo "$path" ;; esac
    done
  }
  resolve "${modules[@]}" > "$work/modules.list"
  resolve "${modules[@]}" "${net_modules[@]}" > "$work/modules-net.list"
  mkdir -p "$work/out/modules"
  for list in modules modules-net; do
    : > "$work/out/$list.order"
    while read -r path; do
      name=$(basename "$path")
      # --strip-debug also drops the appended module signature. The guest
      # kernel then loads the module without checking it (Debian does not
      # force signatures; the kernel notes an unsigned module as a taint),
      # which saves hashing every module under emulation. The modules come
      # from our own initramfs, so the check protects nothing here.
      [ -f "$work/out/modules/$name" ] || strip --strip-debug -o "$work/out/modules/$name" "$path"
      params=${module_params[${name%.ko}]:-}
      echo "/lib/modules/$name${params:+ $params}" >> "$work/out/$list.order"
    done < "$work/$list.list"
    [ -s "$work/out/$list.order" ] || { echo "make-qemu-assets: no modules resolved" >&2; exit 1; }
  done
  echo "$kver" > "$work/out/version"
  echo "$layout" > "$work/out/.complete"
  rm -rf "$kdir"
  mv "$work/out" "$kdir"
  rm -rf "$work"
  trap - EXIT
fi

# The initramfs: /init (the agent), /lib/modules/*.ko and /etc/krunbox/modules.
key=$( { sha256sum "$agent" | cut -d' ' -f1; cat "$kdir/modules.order" "$kdir/modules-net.order"; echo "$kver"; } | sha256sum | cut -c1-16)
initramfs="$assets/initramfs-$key.cpio"
if [ ! -f "$initramfs" ]; then
  work=$(mktemp -d "$assets/.initramfs.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  mkdir -p "$work/root/lib/modules" "$work/root/etc/krunbox" "$work/root/dev" "$work/root/proc" \
    "$work/root/sys" "$work/root/newroot"
  # Without its debug info the agent is a tenth of the size: a smaller initramfs boots faster.
  strip --strip-all -o "$work/root/init" "$agent"
  chmod 0755 "$work/root/init"
  cp "$kdir"/modules/*.ko "$work/root/lib/modules/"
  cp "$kdir/modules.order" "$work/root/etc/krunbox/modules"
  cp "$kdir/modules-net.order" "$work/root/etc/krunbox/modules-net"
  # Uncompressed: the guest kernel copies it instead of inflating 3 MB,
  # which under emulation is the slower of the two.
  ( cd "$work/root" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet -R 0:0 ) > "$work/initramfs"
  mv "$work/initramfs" "$initramfs"
  rm -rf "$work"
  trap - EXIT
fi

kernel="$kdir/vmlinuz"
format=bzimage
if [ -f "$kdir/vmlinux" ]; then kernel="$kdir/vmlinux"; format=pvh-elf; fi
manifest=$(printf '{"kernel": "%s", "kernel_format": "%s", "initramfs": "%s", "kernel_version": "%s", "kernel_config": "%s"}\n' \
  "$kernel" "$format" "$initramfs" "$kver" "$kdir/config")
tmp=$(mktemp "$assets/.current.XXXXXX")
chmod 0644 "$tmp"
echo "$manifest" > "$tmp"
mv "$tmp" "$assets/current.json"
# Older initramfs images (from earlier agents) are no longer named by current.json.
find "$assets" -maxdepth 1 -name 'initramfs-*.cpio*' ! -path "$initramfs" -delete
echo "qemu guest assets ready: kernel $kver ($format), $(basename "$initramfs")"
