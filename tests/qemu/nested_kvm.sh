#!/usr/bin/env bash
# The qemu backend's KVM code path (-accel kvm -cpu host, the jail's own
# /dev/kvm node for the QEMU uid, L1's /dev/kvm 0660 root:kvm as Debian's udev
# makes it) on a machine whose own /dev/kvm cannot boot the guest: a first-level
# guest under TCG with -cpu max (which offers SVM/VMX) loads kvm_amd or
# kvm_intel, gets /dev/kvm, and runs `krunbox run --backend qemu` inside,
# which must pick KVM and run a command in a second-level microVM.
#
# Part of the integration suite (ctest krunbox_qemu_nested_kvm): 1-2 min
# here, most of it building the ~240 MB L1 initramfs; the L1 boot with the
# nested-KVM L2 run inside took 26 s. Needs root; exits 77 (skip) when a
# prerequisite is missing, including the kernel package download.
#
#   tests/qemu/nested_kvm.sh [BUILD_DIR]      (default: build)
#
# L1 is an initramfs made here from host files only: the static busybox, the
# krunbox CLI, qemu-system-x86_64, mkfs.erofs and their shared libraries (from
# ldd), QEMU's firmware, the kernel modules for KVM, and a copy of krunbox's
# data root (guest assets and the bundled busybox image). Its /init prints
# one line "NESTED-KVM-RESULT ..." on the console and powers off.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=${1:-$repo/build}
[[ $build = /* ]] || build=$repo/$build
data=${KRUNBOX_ROOT:-/var/lib/krunbox}
timeout_s=${NESTED_KVM_TIMEOUT:-1200}

skip() { echo "nested_kvm: skipped: $*" >&2; exit 77; }
die() { skip "$@"; }
[[ $(id -u) = 0 ]] || die "needs root"
[[ -x $build/bin/krunbox ]] || die "no $build/bin/krunbox; build first"
[[ -r $data/assets/qemu/current.json ]] || die "no guest assets under $data; run scripts/setup.sh"
busybox=$(command -v busybox) || die "busybox-static not installed"
for p in qemu-system-x86_64 mkfs.erofs cpio python3 apt-get dpkg depmod modprobe; do
  command -v "$p" >/dev/null || die "$p not installed"
done
kver=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["kernel_version"])' "$data/assets/qemu/current.json")
kernel=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["kernel"])' "$data/assets/qemu/current.json")

work=$(mktemp -d /tmp/krunbox-nested-kvm.XXXXXX)
trap 'rm -rf "$work"' EXIT
root=$work/root
# Merged /usr as on the host: the QEMU jail shows only /usr (lib, lib64 are links into it).
mkdir -p "$root"/{bin,dev,proc,sys,tmp,run,etc,var/lib,usr/lib/modules,usr/lib64}
ln -s usr/lib "$root/lib"
ln -s usr/lib64 "$root/lib64"

# KVM modules (and what they need) from the same kernel package, unpacked here.
(cd "$work" && apt-get download "linux-image-$kver" >/dev/null 2>&1) || die "apt-get download linux-image-$kver failed"
dpkg -x "$work"/linux-image-"$kver"_*.deb "$work/kpkg"
depmod -b "$work/kpkg" "$kver"
for m in virtio_mmio kvm_amd kvm_intel; do
  modprobe -d "$work/kpkg" -S "$kver" --show-depends "$m" | awk '$1 == "insmod" {print $2}'
done | awk '!seen[$0]++' >"$work/modules.list"
while read -r path; do
  cp "$path" "$root/lib/modules/"
  echo "/lib/modules/$(basename "$path")" >>"$root/etc/modules.order"
done <"$work/modules.list"

# Programs with their libraries at the same paths as on the host.
copy_with_libs() {
  local f=$1
  mkdir -p "$root$(dirname "$f")"
  cp -L "$f" "$root$f"
  ldd "$f" 2>/dev/null | awk '/=> \// {print $3} /^\t\/lib/ {print $1}' | while read -r lib; do
    mkdir -p "$root$(dirname "$lib")"
    [[ -e $root$lib ]] || cp -L "$lib" "$root$lib"
  done
}
cp "$busybox" "$root/bin/busybox"
for f in "$build/bin/krunbox" "$(command -v qemu-system-x86_64)" "$(command -v mkfs.erofs)"; do copy_with_libs "$f"; done
# krunbox itself at a fixed place: the build dir may be under /tmp, which L1's
# init covers with a tmpfs.
mkdir -p "$root/opt/krunbox/bin"
mv "$root$build/bin/krunbox" "$root/opt/krunbox/bin/krunbox"
mkdir -p "$root/usr/share"
cp -a /usr/share/qemu "$root/usr/share/qemu"
[[ -d /usr/share/seabios ]] && cp -a /usr/share/seabios "$root/usr/share/seabios"
# QEMU's firmware directory holds links into other packages' directories.
for link in "$root"/usr/share/qemu/*; do
  [[ -L $link ]] || continue
  target=$(readlink -f "/usr/share/qemu/$(basename "$link")") || continue
  [[ -e $target && ! -e $root$target ]] && { mkdir -p "$root$(dirname "$target")"; cp -L "$target" "$root$target"; }
done
# The data root, without its caches (the root image is rebuilt inside).
mkdir -p "$root$data"
cp -a "$data/assets" "$data/bundled" "$root$data/"
# current.json names host paths under the data root; the copy sits at the same place in L1.
echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
printf 'root:x:0:\nkvm:x:104:\n' >"$root/etc/group"

cat >"$root/init" <<'INIT'
#!/bin/busybox sh
# pivot_root (used by krunbox's QEMU jail) refuses the initramfs root itself:
# move to a tmpfs root first, as a real init does before switch_root.
if [ "$1" != switched ]; then
  /bin/busybox mkdir -p /newroot
  /bin/busybox mount -t tmpfs -o mode=0755 root /newroot
  for d in /*; do
    case "$d" in /proc|/sys|/dev|/newroot) /bin/busybox mkdir -p "/newroot$d" ;; *) /bin/busybox cp -a "$d" /newroot/ ;; esac
  done
  /bin/busybox mount -t devtmpfs dev /newroot/dev
  exec /bin/busybox switch_root /newroot /init switched
fi
/bin/busybox --install -s /bin
export PATH=@BIN@:/usr/bin:/usr/sbin:/bin
mount -t proc proc /proc; mount -t sysfs sys /sys
mount -t tmpfs tmp /tmp; mount -t tmpfs run /run
mkdir -p /sys/fs/cgroup && mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null
while read -r m; do insmod "$m" 2>/dev/null; done </etc/modules.order
# What Debian's udev rule makes of it on a stock host: 0660 root:kvm. The
# jailed QEMU runs under an unprivileged uid outside that group, so this
# proves that krunbox gives it access without widening anyone else's.
[ -e /dev/kvm ] && chown root:104 /dev/kvm && chmod 0660 /dev/kvm
echo "NESTED-KVM-INFO cpu flags: $(grep -o -w -e svm -e vmx /proc/cpuinfo | sort -u | tr '\n' ' ') dev/kvm: $(ls -l /dev/kvm 2>&1)"
export KRUNBOX_ROOT=@DATA@
out=$(krunbox --verbose run --backend qemu --memory 256 --rootfs @DATA@/bundled/busybox/rootfs -- \
  sh -c 'echo guest kernel $(uname -r); echo exit-code-test; exit 7' 2>&1)
rc=$?
echo "$out" | sed 's/^/NESTED-KVM-OUT /'
accel=TCG
echo "$out" | grep -q ': KVM (' && ! echo "$out" | grep -q 'KVM could not boot' && accel=KVM
echo "NESTED-KVM-RESULT rc=$rc accel=$accel"
poweroff -f
INIT
sed -i "s|@DATA@|$data|g; s|@BIN@|/opt/krunbox/bin|g" "$root/init"
chmod 0755 "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet -R 0:0) >"$work/l1.cpio"
echo "nested_kvm: L1 initramfs $(du -h "$work/l1.cpio" | cut -f1), booting under TCG with -cpu max (timeout ${timeout_s}s)..."

mhz=$(awk -F: '/cpu MHz/ {printf "%d", $2 * 1000; exit}' /proc/cpuinfo)
start=$(date +%s)
timeout "$timeout_s" qemu-system-x86_64 -nodefaults -no-user-config -nographic -no-reboot \
  -M microvm,x-option-roms=off,rtc=on -accel tcg -cpu max -smp 2 -m 3072M \
  -kernel "$kernel" -initrd "$work/l1.cpio" \
  -append "console=ttyS0 reboot=t panic=-1 rdinit=/init tsc_early_khz=$mhz quiet" \
  -serial "file:$work/console.log" </dev/null >/dev/null 2>&1 || true
elapsed=$(($(date +%s) - start))
grep -a 'NESTED-KVM' "$work/console.log" || true
result=$(grep -a 'NESTED-KVM-RESULT' "$work/console.log" || true)
echo "nested_kvm: ${elapsed}s in all"
if [[ $result == *"rc=7 accel=KVM"* ]] && grep -aq 'NESTED-KVM-OUT exit-code-test' "$work/console.log"; then
  echo "nested_kvm: PASS (krunbox's qemu backend ran a command in a KVM microVM inside a TCG guest)"
  exit 0
fi
echo "nested_kvm: FAIL; console tail:"
tail -30 "$work/console.log"
exit 1
