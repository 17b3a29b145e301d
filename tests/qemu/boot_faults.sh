#!/usr/bin/env bash
# Boots that go wrong, driven through the krunbox CLI as a user runs it, with
# a stand-in QEMU (KRUNBOX_QEMU) that misbehaves on purpose:
#   1. a KVM that cannot run the guest (as on a PVM host, or broken nested
#      virtualization): the first run warns, boots again under TCG and
#      succeeds; the verdict is recorded, so the next run goes straight to
#      TCG without a KVM attempt; --accel kvm then fails naming the reason;
#      doctor shows the recorded verdict.
#   2. a QEMU that never opens its agent socket, and one that accepts the
#      connection and never answers: run, run -d and doctor end at the boot
#      deadline with the phase that stalled, and leave no process behind.
#
# To reach the KVM path on this machine kind, whose /dev/kvm is PVM (known up
# front to be unable to boot the guest), the script runs krunbox in a private
# mount namespace where the kvm_pvm module's sysfs entry is hidden: the host
# then looks like one with a KVM that fails at boot. Needs root and /dev/kvm.
#
#   tests/qemu/boot_faults.sh [BUILD_DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=${1:-$repo/build}
[[ $build = /* ]] || build=$repo/$build
krunbox=$build/bin/krunbox
data=${KRUNBOX_ROOT:-/var/lib/krunbox}
rootfs=$data/bundled/busybox/rootfs

fail() { echo "boot_faults: FAIL: $*" >&2; exit 1; }
[[ $(id -u) = 0 ]] || fail "needs root (the QEMU jail, the mount namespace)"
[[ -x $krunbox ]] || fail "no $krunbox; build first"
[[ -d $rootfs ]] || fail "no bundled rootfs at $rootfs; run scripts/setup.sh"
[[ -c /dev/kvm ]] || fail "no /dev/kvm on this host: the KVM fallback cannot be exercised"

work=$(mktemp -d /tmp/kbf.XXXXXX)
cleanup() {
  pkill -KILL -f "$work/" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
chmod 0755 "$work"

# A QEMU whose KVM fails the way PVM fails a non-PVM kernel: QEMU exits with
# KVM's emulation error. Under TCG it is the real QEMU.
cat >"$work/qemu-bad-kvm" <<'SH'
#!/bin/sh
prev=
for a in "$@"; do
  if [ "$prev" = "-accel" ] && [ "$a" = kvm ]; then
    echo "error: kvm run failed Bad address" >&2
    echo "KVM internal error. Suberror: 1" >&2
    echo "emulation failure" >&2
    exit 1
  fi
  prev=$a
done
exec /usr/bin/qemu-system-x86_64 "$@"
SH
# A QEMU that never creates its sockets: it only burns time.
cat >"$work/qemu-no-socket" <<'SH'
#!/bin/sh
exec sleep 3600
SH
# A QEMU whose guest never boots: the agent socket accepts and stays silent.
cat >"$work/qemu-silent" <<'PY'
#!/usr/bin/python3
import socket, sys, time
args = sys.argv[1:]
def chardev_path(prefix):
    for i, a in enumerate(args[:-1]):
        if a == "-chardev" and args[i + 1].startswith(prefix):
            return [kv[5:] for kv in args[i + 1].split(",") if kv.startswith("path=")][0]
# As QEMU does, the console file exists from the start (and stays empty).
open(chardev_path("file,id=console,"), "w").close()
path = chardev_path("socket,id=agent,")
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
s.listen(1)
conn, _ = s.accept()
time.sleep(3600)
PY
chmod 0755 "$work"/qemu-*

# krunbox with the given QEMU and run dir, as if this host's KVM were not PVM.
kb() {
  local qemu=$1 run=$2; shift 2
  mkdir -p "$run"
  unshare -m --propagation private bash -c '
    [ -d /sys/module/kvm_pvm ] && mount -t tmpfs none /sys/module/kvm_pvm
    exec "$@"' bash env KRUNBOX_QEMU="$qemu" KRUNBOX_RUN_DIR="$run" "$krunbox" "$@"
}
contains() { grep -qF -- "$2" <<<"$1" || fail "$3: expected '$2' in: $1"; }
lacks() { ! grep -qF -- "$2" <<<"$1" || fail "$3: did not expect '$2' in: $1"; }

echo "boot_faults: 1. a KVM that cannot boot the guest"
run=$work/r1
out=$(kb "$work/qemu-bad-kvm" "$run" --verbose run --backend qemu --memory 256 --rootfs "$rootfs" -- echo hi 2>&1) ||
  fail "first run failed: $out"
contains "$out" "hi" "first run"
contains "$out" "KVM could not boot the guest" "first run"
contains "$out" "KVM internal error" "first run's warning names QEMU's error"
contains "$out" "booting it again under TCG emulation" "first run"
[[ $(grep -c 'warn:' <<<"$out") = 1 ]] || fail "one warning line expected: $out"
[[ -s $run/qemu-kvm-verdicts.json ]] || fail "no verdict recorded in $run"

out=$(kb "$work/qemu-bad-kvm" "$run" --verbose run --backend qemu --memory 256 --rootfs "$rootfs" -- echo again 2>&1) ||
  fail "second run failed: $out"
contains "$out" "again" "second run"
lacks "$out" "KVM could not boot" "second run (the verdict is recorded: no KVM attempt)"
lacks "$out" "warn:" "second run"
contains "$out" "TCG emulation: a KVM boot of this guest kernel failed" "second run's choice"
contains "$out" "recorded by an earlier boot" "second run's choice"

set +e
out=$(kb "$work/qemu-bad-kvm" "$run" run --backend qemu --accel kvm --rootfs "$rootfs" -- true 2>&1)
rc=$?
set -e
[[ $rc = 125 ]] || fail "--accel kvm after a failed KVM boot: exit $rc, want 125: $out"
contains "$out" "KVM acceleration was requested, but KVM cannot boot the guest here" "--accel kvm"
out=$(KRUNBOX_QEMU_ACCEL=kvm kb "$work/qemu-bad-kvm" "$run" run --backend qemu --rootfs "$rootfs" -- true 2>&1) && fail "KRUNBOX_QEMU_ACCEL=kvm ran: $out"
contains "$out" "KVM acceleration was requested" "KRUNBOX_QEMU_ACCEL=kvm"
out=$(kb "$work/qemu-bad-kvm" "$run" --verbose run --backend qemu --accel tcg --rootfs "$rootfs" -- echo tcg 2>&1) || fail "--accel tcg: $out"
contains "$out" "TCG emulation (requested)" "--accel tcg"

json=$(kb "$work/qemu-bad-kvm" "$run" doctor --json) || true
python3 - "$json" <<'PY' || fail "doctor --json does not show the recorded verdict: $json"
import json, sys
doc = json.loads(sys.argv[1])
qemu = [b for b in doc["backends"] if b["backend"] == "qemu"][0]
check = [c for c in qemu["checks"] if c["name"] == "KVM for the guest kernel"][0]
assert not check["ok"] and "recorded" in check["detail"] and "KVM internal error" in check["detail"], check
assert "TCG" in qemu["isolation_detail"], qemu["isolation_detail"]
PY

echo "boot_faults: 2. a QEMU that never answers"
for fake in qemu-no-socket qemu-silent; do
  run=$work/r-$fake
  start=$(date +%s)
  set +e
  out=$(KRUNBOX_QEMU_BOOT_TIMEOUT=3 kb "$work/$fake" "$run" run --backend qemu --accel tcg --rootfs "$rootfs" -- true 2>&1)
  rc=$?
  set -e
  took=$(($(date +%s) - start))
  [[ $rc = 125 ]] || fail "$fake: exit $rc, want 125: $out"
  (( took < 30 )) || fail "$fake: the failed start took ${took}s"
  case $fake in
    qemu-no-socket) contains "$out" "waiting for QEMU to open the agent socket" "$fake" ;;
    qemu-silent)
      contains "$out" "waiting for the guest agent's hello: none within 3 s" "$fake"
      contains "$out" "guest console ends with: (nothing: the guest kernel printed no line)" "$fake" ;;
  esac
  pgrep -f "$work/$fake" >/dev/null && fail "$fake: the stand-in QEMU outlived the failed start"
  [[ -z $(ls -A "$run/qemu" 2>/dev/null) ]] || fail "$fake: run dirs left: $(ls -A "$run/qemu")"

  # Long-lived: run -d returns with the error; the sandbox shows why. Its
  # own data root, with the machine's guest assets and bundled image.
  mkdir -p "$work/d-$fake"
  ln -sfn "$data/assets" "$work/d-$fake/assets"
  ln -sfn "$data/bundled" "$work/d-$fake/bundled"
  set +e
  out=$(KRUNBOX_QEMU_BOOT_TIMEOUT=3 KRUNBOX_ROOT=$work/d-$fake kb "$work/$fake" "$run" run -d --backend qemu --accel tcg \
    --name stuck --rootfs "$rootfs" -- sleep 60 2>&1)
  rc=$?
  set -e
  [[ $rc != 0 ]] || fail "$fake: run -d succeeded: $out"
  contains "$out" "waiting for" "$fake (run -d)"
  sleep 1
  pgrep -f "$work/$fake" >/dev/null && fail "$fake: the stand-in QEMU outlived a failed run -d"
  KRUNBOX_ROOT=$work/d-$fake kb "$work/$fake" "$run" rm -f stuck >/dev/null 2>&1 || true
done
echo "boot_faults: PASS"
