#!/usr/bin/env bash
# Start-to-exit of /bin/true in a fresh sandbox, on the same busybox rootfs:
# krunbox's native backend vs crun vs runc, interleaved in one run, so the
# ratios compare like with like on a noisy machine. Needs root.
#
#   bench/native_start/run.sh [RUNS]        (default 30)
#   KRUNBOX_BUILD_DIR=build-native bench/native_start/run.sh
#
# krunbox is timed through `krunbox run --backend native` when the CLI has the
# verb, else through krunbox-native-driver (tests/native), which does the same
# create/start/exec/stop through the C++ API.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
runs=${1:-30}
build=${KRUNBOX_BUILD_DIR:-$repo/build}
[[ $build = /* ]] || build=$repo/$build
rootfs=${KRUNBOX_BENCH_ROOTFS:-/var/lib/krunbox/bundled/busybox/rootfs}

die() { echo "native_start: $*" >&2; exit 1; }
[[ $(id -u) = 0 ]] || die "needs root (namespaces, cgroups, crun and runc as root)"
[[ -x $rootfs/bin/busybox ]] || die "no busybox rootfs at $rootfs; run scripts/setup.sh"
for p in crun runc unshare python3; do command -v "$p" >/dev/null || die "$p not installed"; done

if [[ -x $build/bin/krunbox ]] && "$build/bin/krunbox" run --help >/dev/null 2>&1; then
  krunbox_cmd=("$build/bin/krunbox" run --backend native --rootfs "$rootfs" -- /bin/true)
  krunbox_how="krunbox run --backend native"
elif [[ -x $build/bin/krunbox-native-driver ]]; then
  krunbox_cmd=("$build/bin/krunbox-native-driver" run "$rootfs" -- /bin/true)
  krunbox_how="krunbox-native-driver (the CLI has no 'run' verb in $build yet)"
else
  die "neither $build/bin/krunbox with 'run' nor $build/bin/krunbox-native-driver; build first"
fi
"${krunbox_cmd[@]}" || die "krunbox does not run /bin/true: ${krunbox_cmd[*]}"

work=$(mktemp -d /tmp/krunbox-bench-native.XXXXXX)
trap 'rm -rf "$work"' EXIT
# One OCI bundle for both peers, over the same rootfs (read-only, as krunbox
# never writes to the image either).
mkdir -p "$work/bundle"
(cd "$work/bundle" && runc spec)
python3 - "$work/bundle/config.json" "$rootfs" <<'PY'
import json, sys
path, rootfs = sys.argv[1], sys.argv[2]
c = json.load(open(path))
c["root"] = {"path": rootfs, "readonly": True}
c["process"]["args"] = ["/bin/true"]
c["process"]["terminal"] = False
json.dump(c, open(path, "w"), indent=1)
PY

# crun refuses hybrid cgroups; inside a private mount namespace without the
# cgroup2 mount it sees plain v1 (see docs in ../shared/reference/environment.md).
# All three run in that same namespace, so they see the same host.
export KB_CMD=$(printf '%q ' "${krunbox_cmd[@]}")
export KB_HOW="$krunbox_how" KB_BUNDLE="$work/bundle" KB_RUNS="$runs"
exec unshare -m --propagation private bash -c '
  umount /sys/fs/cgroup/unified 2>/dev/null || true
  python3 - <<"PY"
import os, shlex, statistics, subprocess, time
runs = int(os.environ["KB_RUNS"])
bundle = os.environ["KB_BUNDLE"]
krunbox = shlex.split(os.environ["KB_CMD"])
peers = {
    "krunbox": lambda i: krunbox,
    "crun": lambda i: ["crun", "run", "--bundle", bundle, "kb-bench-crun-%d-%d" % (os.getpid(), i)],
    "runc": lambda i: ["runc", "run", "--bundle", bundle, "kb-bench-runc-%d-%d" % (os.getpid(), i)],
}
times = {k: [] for k in peers}
for i in range(runs + 2):
    for name, argv in peers.items():
        t0 = time.perf_counter()
        r = subprocess.run(argv(i), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        dt = (time.perf_counter() - t0) * 1000
        if r.returncode != 0:
            raise SystemExit("%s failed (%d): %s" % (name, r.returncode, r.stderr.decode(errors="replace")))
        if i >= 2:  # the first two rounds warm caches
            times[name].append(dt)
med = {k: statistics.median(v) for k, v in times.items()}
print("native_start: /bin/true in a fresh sandbox, %d runs each (interleaved), busybox rootfs" % runs)
print("  krunbox via %s" % os.environ["KB_HOW"])
for k in peers:
    v = sorted(times[k])
    print("  %-8s median %7.1f ms   p10 %7.1f   p90 %7.1f" % (k, med[k], v[len(v) // 10], v[(len(v) * 9) // 10]))
print("  ratio krunbox/crun %.2f   krunbox/runc %.2f   (goal: krunbox/crun <= 1)" % (med["krunbox"] / med["crun"], med["krunbox"] / med["runc"]))
PY
'
