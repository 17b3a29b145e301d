#!/usr/bin/env bash
# `ctr run --rm` of /bin/true through krunbox-runc (native backend) against
# runc, interleaved in one run, in a private containerd with the bundled
# busybox imported: medians and the ratio (goal for native: <= runc).
# Needs root, containerd and runc.
#
#   bench/oci/run.sh [RUNS]       (default 20)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
runs=${1:-20}
build=${KRUNBOX_BUILD_DIR:-$repo/build}
[[ $build = /* ]] || build=$repo/$build
runtime=$build/bin/krunbox-runc

die() { echo "oci bench: $*" >&2; exit 1; }
[[ $(id -u) = 0 ]] || die "needs root (containerd)"
[[ -x $runtime ]] || die "no $runtime; build first"
for p in containerd ctr runc python3; do command -v "$p" >/dev/null || die "$p not installed"; done

work=$(mktemp -d /tmp/koc-bench.XXXXXX)
export KRUNBOX_ROOT=$work/data
mkdir -p "$KRUNBOX_ROOT"
ctd_pid=
cleanup() {
  [[ -n $ctd_pid ]] && kill "$ctd_pid" 2>/dev/null && wait "$ctd_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

"$repo/scripts/make-bundled-rootfs.sh" "$work/busybox/rootfs" >/dev/null
"$repo/scripts/make-bundled-image.sh" "$work/busybox/rootfs" "$work/busybox-oci" >/dev/null
tar -C "$work/busybox-oci" -cf "$work/busybox.tar" .
sock=$work/c.sock
cat > "$work/config.toml" <<TOML
version = 2
root = "$work/root"
state = "$work/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$sock"
[ttrpc]
  address = "$sock.ttrpc"
[debug]
  address = "$work/debug.sock"
TOML
containerd --config "$work/config.toml" >"$work/containerd.log" 2>&1 &
ctd_pid=$!
for _ in $(seq 300); do [[ -S $sock ]] && break; sleep 0.05; done
[[ -S $sock ]] || die "containerd did not start: $(tail -5 "$work/containerd.log")"
ctr() { command ctr --address "$sock" --namespace bench "$@"; }
ctr images import --base-name docker.io/library/busybox "$work/busybox.tar" >/dev/null
image=docker.io/library/busybox:latest

one() {  # RUNTIME BINARY N -> milliseconds
  local t0 t1
  t0=$(date +%s%N)
  ctr run --rm --runc-binary "$2" --runc-root "$work/rt-$1" "$image" "b-$1-$3" /bin/true >/dev/null
  t1=$(date +%s%N)
  echo $(( (t1 - t0) / 1000000 ))
}
# One warm-up each, then interleaved.
one krunbox "$runtime" warm >/dev/null
one runc "$(command -v runc)" warm >/dev/null
: > "$work/krunbox.ms"; : > "$work/runc.ms"
for i in $(seq "$runs"); do
  one krunbox "$runtime" "$i" >> "$work/krunbox.ms"
  one runc "$(command -v runc)" "$i" >> "$work/runc.ms"
done
python3 - "$work/krunbox.ms" "$work/runc.ms" "$runs" <<'PY'
import statistics, sys
k = [int(x) for x in open(sys.argv[1])]
r = [int(x) for x in open(sys.argv[2])]
mk, mr = statistics.median(k), statistics.median(r)
print("ctr run --rm /bin/true, %s runs each, interleaved" % sys.argv[3])
print("  krunbox-runc (native): median %.0f ms (min %d, max %d)" % (mk, min(k), max(k)))
print("  runc:                  median %.0f ms (min %d, max %d)" % (mr, min(r), max(r)))
print("  ratio krunbox-runc/runc: %.2f" % (mk / mr))
PY
