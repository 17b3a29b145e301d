#!/usr/bin/env bash
# Host-side cost of the krun backend up to krun_start_enter: what krunbox adds
# on top of libkrun's own boot time. Measured with the libkrun C-API test
# double (tests/libkrun_double), which time-stamps every call: from launching
# `krunbox run --backend krun -- /bin/true` to the double's krun_start_enter
# (CLI start, backend probe, run dir, agent socket, krunbox-vmm spawn, config,
# overlay root, libkrun configuration). The peer figure is the native
# backend's equivalent: `krunbox run --backend native -- /bin/true` from
# launch to exit (namespaces, overlay, agent, workload). Interleaved runs,
# same rootfs, same machine. No real libkrun/KVM boot is included (none is
# possible here); add libkrun's boot time to the krun figure for a real host.
#
#   bench/krun_overhead/run.sh [RUNS]     (default 30; needs root)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
runs=${1:-30}
build=${KRUNBOX_BUILD_DIR:-$repo/build}
[[ $build = /* ]] || build=$repo/$build
double=$build/libkrun-double/libkrun.so.1

die() { echo "krun_overhead: $*" >&2; exit 1; }
[[ $(id -u) = 0 ]] || die "needs root (namespaces)"
[[ -x $build/bin/krunbox && -x $build/bin/krunbox-vmm ]] || die "build krunbox and krunbox-vmm first"
[[ -f $double ]] || die "no libkrun double at $double (cmake --build $build --target libkrun_double)"

work=$(mktemp -d /tmp/krunbox-bench-krun.XXXXXX)
trap 'rm -rf "$work"' EXIT
export KB="$build/bin/krunbox" DOUBLE="$double" WORK="$work" RUNS="$runs"
python3 - <<'PY'
import json, os, statistics, subprocess, time

kb, double, work, runs = os.environ["KB"], os.environ["DOUBLE"], os.environ["WORK"], int(os.environ["RUNS"])
base_env = dict(os.environ, KRUNBOX_RUN_DIR=work + "/run")

def krun_once(i):
    record = f"{work}/calls-{i}.jsonl"
    env = dict(base_env, KRUNBOX_LIBKRUN=double, KRUN_DOUBLE_RECORD=record)
    t0 = time.time_ns()
    subprocess.run([kb, "run", "--backend", "krun", "--", "/bin/true"], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    total = time.time_ns() - t0
    enter = [json.loads(l) for l in open(record) if '"krun_start_enter"' in l][-1]["t_ns"]
    return (enter - t0) / 1e6, total / 1e6

def native_once():
    t0 = time.time_ns()
    subprocess.run([kb, "run", "--backend", "native", "--", "/bin/true"], env=base_env, check=True,
                   stdout=subprocess.DEVNULL)
    return (time.time_ns() - t0) / 1e6

krun_enter, krun_total, native = [], [], []
krun_once(-1); native_once()  # warm caches
for i in range(runs):
    e, t = krun_once(i)
    krun_enter.append(e); krun_total.append(t)
    native.append(native_once())

med = statistics.median
print(f"runs: {runs} (interleaved), median wall time")
print(f"krunbox krun, launch -> krun_start_enter (double): {med(krun_enter):8.1f} ms")
print(f"krunbox krun, launch -> exit (double guest):       {med(krun_total):8.1f} ms")
print(f"krunbox native, launch -> exit (peer):              {med(native):8.1f} ms")
print(f"ratio krun-to-start_enter / native: {med(krun_enter) / med(native):.2f}")
PY
