# The floor of a microVM boot on this machine, shared by bench/qemu_boot and
# bench/checkpoint: a bare qemu-system-x86_64 booting the qemu backend's kernel
# and initramfs with the same machine options, to a userspace /init that
# powers off at once. The agent's archive is unpacked as well, so the kernel
# does the same work; only what follows /init differs.
#
# Source it with $krunbox, $assets and $memory set; it defines $work (a temp
# dir removed on exit), $accel and the array `bare`. Needs busybox-static.
bare_qemu_setup() {
  command -v cpio >/dev/null && command -v gzip >/dev/null || { echo "cpio and gzip are needed" >&2; return 1; }
  local busybox
  busybox=$(command -v busybox) || { echo "busybox (busybox-static) not installed" >&2; return 1; }
  file -L "$busybox" 2>/dev/null | grep -q 'statically linked' || { echo "$busybox is not static (apt-get install busybox-static)" >&2; return 1; }
  work=$(mktemp -d /tmp/krunbox-bench-qemu.XXXXXX)
  trap 'rm -rf "$work"' EXIT
  kernel=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["kernel"])' "$assets")
  initramfs=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["initramfs"])' "$assets")

  # The same initramfs plus a second archive with /bare/busybox and /bare/init.
  mkdir -p "$work/extra/bare"
  cp "$busybox" "$work/extra/bare/busybox"
  printf '#!/bare/busybox sh\nexec /bare/busybox poweroff -f\n' >"$work/extra/bare/init"
  chmod 0755 "$work/extra/bare/init" "$work/extra/bare/busybox"
  (cd "$work/extra" && find bare | cpio -o -H newc --quiet | gzip -1) >"$work/extra.cpio.gz"
  cat "$initramfs" "$work/extra.cpio.gz" >"$work/bare-initramfs.cpio"

  # Same machine as the backend builds (src/backend/qemu/qemu_command.cc):
  # microvm without option ROMs, TCG (or KVM), -cpu max/host, 1 vCPU, the same
  # memory, the same kernel command line words, tsc_early_khz under TCG. The
  # accelerator is the one krunbox picks here (doctor's "accelerator" check):
  # a /dev/kvm that opens may not boot the guest (PVM).
  kvm_ok=$("$krunbox" doctor --json 2>/dev/null | python3 -c '
import json, sys
qemu = [b for b in json.load(sys.stdin)["backends"] if b["backend"] == "qemu"][0]
print("yes" if any(c["name"] == "accelerator" and c["detail"].startswith("KVM") for c in qemu["checks"]) else "no")' || echo no)
  if [[ $kvm_ok = yes ]]; then accel=kvm cpu=host tsc=""; else
    accel=tcg cpu=max
    tsc=" tsc_early_khz=$(awk -F: '/cpu MHz/ {printf "%d", $2 * 1000; exit}' /proc/cpuinfo)"
  fi
  bare=(qemu-system-x86_64 -nodefaults -no-user-config -nographic -no-reboot
    -M microvm,x-option-roms=off,rtc=on -accel "$accel" -cpu "$cpu" -smp 1 -m "${memory}M"
    -kernel "$kernel" -initrd "$work/bare-initramfs.cpio"
    -append "console=ttyS0 reboot=t panic=-1 quiet loglevel=3 rdinit=/bare/init$tsc"
    -serial "file:$work/bare-console.log"
    -sandbox on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny)
}
