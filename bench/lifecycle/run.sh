#!/usr/bin/env bash
# Long-lived sandboxes, in one run:
#   1. `krunbox exec ID true` into a running native sandbox vs `runc exec` into
#      a running runc container over the same busybox rootfs: medians, ratio
#      (goal: krunbox <= runc);
#   2. the monitor's RSS per sandbox (goal: <= 8 MiB);
#   3. the time to start 20, then 50 sandboxes (krunbox run -d, in parallel),
#      with runc run -d of as many containers as the peer figure.
# Needs root.
#
#   bench/lifecycle/run.sh [EXECS]       (default 50)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
execs=${1:-50}
build=${KRUNBOX_BUILD_DIR:-$repo/build}
[[ $build = /* ]] || build=$repo/$build
rootfs=${KRUNBOX_BENCH_ROOTFS:-/var/lib/krunbox/bundled/busybox/rootfs}
krunbox=$build/bin/krunbox

die() { echo "lifecycle bench: $*" >&2; exit 1; }
[[ $(id -u) = 0 ]] || die "needs root (native sandboxes and runc as root)"
[[ -x $rootfs/bin/busybox ]] || die "no busybox rootfs at $rootfs; run scripts/setup.sh"
[[ -x $krunbox ]] || die "no $krunbox; build first"
for p in runc unshare python3; do command -v "$p" >/dev/null || die "$p not installed"; done

work=$(mktemp -d /tmp/krunbox-bench-lc.XXXXXX)
# A private krunbox world (the bundled image is named by --rootfs).
export KRUNBOX_ROOT=$work/data KRUNBOX_RUN_DIR=$work/run
mkdir -p "$KRUNBOX_ROOT" "$KRUNBOX_RUN_DIR"
cleanup() {
  "$krunbox" ps -a -q 2>/dev/null | xargs -r "$krunbox" rm -f >/dev/null 2>&1 || true
  for c in $(runc list -q 2>/dev/null | grep "^kb-lc-$$-" || true); do runc delete -f "$c" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/bundle"
(cd "$work/bundle" && runc spec)
python3 - "$work/bundle/config.json" "$rootfs" <<'PY'
import json, sys
path, rootfs = sys.argv[1], sys.argv[2]
c = json.load(open(path))
c["root"] = {"path": rootfs, "readonly": True}
c["process"]["args"] = ["/bin/sleep", "3600"]
c["process"]["terminal"] = False
json.dump(c, open(path, "w"), indent=1)
PY

export KB="$krunbox" KB_ROOTFS="$rootfs" KB_BUNDLE="$work/bundle" KB_EXECS="$execs" KB_TAG="kb-lc-$$"
python3 - <<'PY'
import os, statistics, subprocess, time, concurrent.futures as cf

kb, rootfs, bundle, tag = os.environ["KB"], os.environ["KB_ROOTFS"], os.environ["KB_BUNDLE"], os.environ["KB_TAG"]
execs = int(os.environ["KB_EXECS"])

def run(argv, **kw):
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)
    if r.returncode != 0:
        raise SystemExit("%s failed (%d): %s" % (" ".join(argv[:3]), r.returncode, r.stderr.decode(errors="replace")))
    return r.stdout.decode().strip()

def timed(argv):
    t0 = time.perf_counter()
    run(argv)
    return (time.perf_counter() - t0) * 1000

# 1. exec latency, interleaved.
sid = run([kb, "run", "-d", "--backend", "native", "--rootfs", rootfs, "--", "sleep", "3600"])
cid = tag + "-exec"
subprocess.run(["runc", "run", "-d", "--bundle", bundle, cid], stdin=subprocess.DEVNULL,
               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
kt, rt = [], []
for i in range(execs + 3):
    a = timed([kb, "exec", sid, "--", "true"])
    b = timed(["runc", "exec", cid, "true"])
    if i >= 3:
        kt.append(a); rt.append(b)
km, rm = statistics.median(kt), statistics.median(rt)
print("exec true into a running sandbox (%d runs, medians):" % execs)
print("  krunbox exec (native)   %8.2f ms" % km)
print("  runc exec               %8.2f ms" % rm)
print("  ratio krunbox/runc      %8.2f   (goal <= 1.0)" % (km / rm))

# 2. monitor RSS.
def monitor_rss_kib(id_):
    import json
    j = json.loads(run([kb, "inspect", "--type", "sandbox", id_]))[0]
    pid = j["State"]["MonitorPid"]
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0

# 3. 20, then 50 sandboxes at once.
ids, starts = [], []
for n in (20, 50):
    t0 = time.perf_counter()
    with cf.ThreadPoolExecutor(n) as ex:
        batch = list(ex.map(lambda i: run([kb, "run", "-d", "--backend", "native", "--rootfs", rootfs, "--", "sleep", "3600"]), range(n)))
    kn = (time.perf_counter() - t0) * 1000
    ids += batch
    t0 = time.perf_counter()
    with cf.ThreadPoolExecutor(n) as ex:
        list(ex.map(lambda i: subprocess.run(["runc", "run", "-d", "--bundle", bundle, "%s-%d-%d" % (tag, n, i)],
                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True), range(n)))
    rn = (time.perf_counter() - t0) * 1000
    starts.append((n, kn, rn))
rss = [monitor_rss_kib(i) for i in ids + [sid]]
print("monitor RSS per sandbox (%d monitors): median %.1f MiB, max %.1f MiB   (goal <= 8 MiB)" %
      (len(rss), statistics.median(rss) / 1024, max(rss) / 1024))
for n, kn, rn in starts:
    print("start %d sandboxes in parallel:" % n)
    print("  krunbox run -d (native) %8.0f ms" % kn)
    print("  runc run -d             %8.0f ms" % rn)
    print("  ratio krunbox/runc      %8.2f" % (kn / rn))
PY
