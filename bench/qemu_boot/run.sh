#!/usr/bin/env bash
# Boot-to-exit of a microVM: `krunbox run --backend qemu busybox -- true` end to end
# vs a bare qemu-system-x86_64 booting the same kernel and the same initramfs
# with the same machine options, to a userspace /init that powers off at once
# (the floor on this machine). Interleaved in one run, so the ratio compares
# like with like on a noisy machine.
#
#   bench/qemu_boot/run.sh [RUNS]        (default 10; each run is a TCG boot)
#   KRUNBOX_BUILD_DIR=build-x bench/qemu_boot/run.sh
#
# The bare boot needs no krunbox code in the guest: it appends a second cpio
# archive (the kernel unpacks concatenated archives in order) holding the
# static busybox of busybox-static and a two-line script, and boots it with
# rdinit= pointing at that script, which runs `poweroff -f`. The agent's
# archive is unpacked as well, so the kernel does the same work; only what
# follows /init differs (the agent loads modules, mounts the root and answers
# the host).
#
# Boot-to-agent-ready comes from krunbox's own --verbose line ("agent ready
# after N ms", QEMU spawn to the agent's hello).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
runs=${1:-10}
build=${KRUNBOX_BUILD_DIR:-$repo/build}
[[ $build = /* ]] || build=$repo/$build
assets=${KRUNBOX_QEMU_ASSETS:-/var/lib/krunbox/assets/qemu/current.json}
memory=256

die() { echo "qemu_boot: $*" >&2; exit 1; }
krunbox=$build/bin/krunbox
[[ -x $krunbox ]] || die "no $krunbox; build first"
[[ -r $assets ]] || die "no QEMU guest assets at $assets; run scripts/setup.sh"
for p in qemu-system-x86_64 python3 cpio gzip; do command -v "$p" >/dev/null || die "$p not installed"; done

# shellcheck source=../lib/bare-qemu.sh
source "$repo/bench/lib/bare-qemu.sh"
bare_qemu_setup || die "cannot prepare the bare QEMU boot"

# The bundled busybox image from the store, as a user runs it.
kb=("$krunbox" --verbose run --backend qemu --accel "$accel" --memory "$memory" busybox -- true)

"${kb[@]}" 2>/dev/null || die "krunbox does not run true: ${kb[*]}"
timeout 120 "${bare[@]}" </dev/null >/dev/null || die "bare QEMU boot failed: ${bare[*]}; console: $(tail -5 "$work/bare-console.log")"

export KB_CMD=$(printf '%q ' "${kb[@]}") BARE_CMD=$(printf '%q ' "${bare[@]}") RUNS=$runs ACCEL=$accel
python3 - <<'PY'
import os, re, shlex, statistics, subprocess, time
runs = int(os.environ["RUNS"])
peers = {"krunbox": shlex.split(os.environ["KB_CMD"]), "bare qemu": shlex.split(os.environ["BARE_CMD"])}
times = {k: [] for k in peers}
ready = []
# Counterbalanced order (krunbox first in even rounds, bare first in odd
# ones): on this machine every other QEMU process in a row is ~15% slower
# whatever it runs (shown with the same bare boot run twice per round), so a
# fixed order would hand one side all the slow runs.
for i in range(runs + 1):
    order = list(peers.items()) if i % 2 == 0 else list(reversed(peers.items()))
    for name, argv in order:
        t0 = time.perf_counter()
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=300)
        dt = (time.perf_counter() - t0) * 1000
        if r.returncode != 0:
            raise SystemExit("%s failed (%d): %s" % (name, r.returncode, r.stderr.decode(errors="replace")))
        if i == 0:
            continue  # the first round warms caches (and builds the root image)
        times[name].append(dt)
        if os.environ.get("KRUNBOX_BENCH_TRACE"):
            print("  run %d %-10s %5.0f ms" % (i, name, dt), flush=True)
        if name == "krunbox":
            m = re.search(rb"agent ready after (\d+) ms", r.stderr)
            if m:
                ready.append(int(m.group(1)))
med = {k: statistics.median(v) for k, v in times.items()}
print("qemu_boot: microVM boot to exit, %d runs each (interleaved), %s, 1 vCPU, 256 MiB" % (runs, os.environ["ACCEL"].upper()))
for k in peers:
    v = sorted(times[k])
    print("  %-10s median %7.0f ms   min %7.0f   max %7.0f" % (k, med[k], v[0], v[-1]))
if ready:
    print("  krunbox boot-to-agent-ready (QEMU spawn to agent hello): median %.0f ms" % statistics.median(ready))
else:
    print("  krunbox boot-to-agent-ready: not reported (no 'agent ready' line in --verbose output)")
print("  ratio krunbox / bare qemu %.2f   (overhead %+.0f ms; goal: <= 1.15, krunbox <= 3000 ms under TCG)"
      % (med["krunbox"] / med["bare qemu"], med["krunbox"] - med["bare qemu"]))
# The host's speed drifts from minute to minute; the fastest run of each side
# is the least disturbed estimate of its own cost (reported, not the goal).
print("  ratio of the fastest runs     %.2f" % (min(times["krunbox"]) / min(times["bare qemu"])))
# Each krunbox run and the bare boot right after it see the same host speed,
# so the median of these paired ratios is the steadiest figure when the host
# drifts between fast and slow spells (reported, not the goal).
paired = [k / b for k, b in zip(times["krunbox"], times["bare qemu"])]  # same round
print("  median of paired ratios       %.2f   (each run against the bare boot next to it)" % statistics.median(paired))
PY
