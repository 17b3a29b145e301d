#!/usr/bin/env bash
# Checkpoints on the qemu backend, in one run (interleaved rounds):
#   cold      `krunbox run --backend qemu busybox -- true` end to end (a boot);
#   restore   `krunbox run -d --from-checkpoint` of a 256 MiB sandbox, then its
#             first `krunbox exec -- true`, end to end;
#   bare qemu a bare QEMU boot of the same kernel to a /init that powers off
#             (bench/lib/bare-qemu.sh): today's floor for a boot;
# and the time `krunbox checkpoint --leave-running` takes to save it.
# Goals: restore to first exec <= 0.15x cold; checkpoint <= 1 s.
# Boot templates (a restore in place of every cold boot) are not built yet,
# so there is no "run with a template" row.
#
#   bench/checkpoint/run.sh [RUNS]       (default 5; each round boots twice)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
runs=${1:-5}
build=${KRUNBOX_BUILD_DIR:-$repo/build}
[[ $build = /* ]] || build=$repo/$build
memory=256
die() { echo "checkpoint bench: $*" >&2; exit 1; }
krunbox=$build/bin/krunbox
[[ -x $krunbox ]] || die "no $krunbox; build first"
[[ $(id -u) = 0 ]] || die "needs root (the qemu backend's jail)"
data=${KRUNBOX_ROOT:-/var/lib/krunbox}
assets=$data/assets/qemu/current.json
[[ -r $assets ]] || die "no QEMU guest assets at $assets; run scripts/setup.sh"
# shellcheck source=../lib/bare-qemu.sh
source "$repo/bench/lib/bare-qemu.sh"
bare_qemu_setup || die "cannot prepare the bare QEMU boot"

# A private world (data root with the shared assets and image store linked in).
world=$(mktemp -d /tmp/kbck.XXXXXX)
trap 'KRUNBOX_ROOT=$world/d KRUNBOX_RUN_DIR=$world/r "$krunbox" rm -f $(KRUNBOX_ROOT=$world/d KRUNBOX_RUN_DIR=$world/r "$krunbox" ps -aq) >/dev/null 2>&1; rm -rf "$work" "$world"' EXIT
mkdir -p -m 0700 "$world/d" "$world/r"
ln -s "$data/assets" "$world/d/assets"
ln -s "$data/bundled" "$world/d/bundled"
export KRUNBOX_ROOT=$world/d KRUNBOX_RUN_DIR=$world/r
rootfs=$data/bundled/busybox/rootfs

"$krunbox" run -d --backend qemu --accel "$accel" --memory "$memory" --rootfs "$rootfs" --name src -- \
  sh -c 'i=0; while :; do i=$((i+1)); echo $i >/tmp/count; sleep 0.1; done' >/dev/null
"$krunbox" exec src -- true

export KB=$krunbox ROOTFS=$rootfs ACCEL=$accel MEMORY=$memory RUNS=$runs BARE_CMD=$(printf '%q ' "${bare[@]}")
python3 - <<'PY'
import os, shlex, statistics, subprocess, time
kb, runs = os.environ["KB"], int(os.environ["RUNS"])
def run(argv, what):
    t0 = time.perf_counter()
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600)
    if r.returncode != 0:
        raise SystemExit("%s failed (%d): %s" % (what, r.returncode, r.stderr.decode(errors="replace")))
    return (time.perf_counter() - t0) * 1000
cold = [kb, "run", "--backend", "qemu", "--accel", os.environ["ACCEL"], "--memory", os.environ["MEMORY"],
        "--rootfs", os.environ["ROOTFS"], "--", "true"]
bare = shlex.split(os.environ["BARE_CMD"])
times = {"cold": [], "restore": [], "bare qemu": [], "checkpoint": []}
for i in range(runs + 1):
    name = "ck%d" % i
    t_ck = run([kb, "checkpoint", "--leave-running", "src", name], "checkpoint")
    def restore():
        t0 = time.perf_counter()
        run([kb, "run", "-d", "--from-checkpoint", name, "--name", "r" + name], "run --from-checkpoint")
        run([kb, "exec", "r" + name, "--", "true"], "first exec")
        return (time.perf_counter() - t0) * 1000
    steps = [("cold", lambda: run(cold, "cold run")), ("restore", restore), ("bare qemu", lambda: run(bare, "bare qemu"))]
    if i % 2:
        steps.reverse()
    results = {k: f() for k, f in steps}
    run([kb, "rm", "-f", "r" + name], "rm")
    run([kb, "checkpoint", "rm", name], "checkpoint rm")
    if i == 0:
        continue  # warm-up round
    for k, v in results.items():
        times[k].append(v)
    times["checkpoint"].append(t_ck)
size = None
print("checkpoint: qemu backend, %s, 1 vCPU, %s MiB, %d rounds (interleaved)" % (os.environ["ACCEL"].upper(), os.environ["MEMORY"], runs))
med = {k: statistics.median(v) for k, v in times.items()}
for k in ("cold", "restore", "bare qemu", "checkpoint"):
    v = sorted(times[k])
    print("  %-11s median %7.0f ms   min %7.0f   max %7.0f" % (k, med[k], v[0], v[-1]))
print("  restore to first exec / cold run  %.2f   (goal <= 0.15)" % (med["restore"] / med["cold"]))
print("  restore to first exec / bare qemu %.2f" % (med["restore"] / med["bare qemu"]))
print("  checkpoint of %s MiB: %.0f ms   (goal <= 1000 ms)" % (os.environ["MEMORY"], med["checkpoint"]))
PY
