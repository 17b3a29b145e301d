#!/usr/bin/env bash
# The Docker layer's cost, in one run: `docker run --rm busybox true` through
# krunbox serve's Docker socket beside `krunbox run busybox -- true`, on
# native and on qemu (under TCG here), alternating which goes first each
# round. Prints medians, P95s, the ratio and the difference (goal: the
# Docker layer adds <= 5 ms). Needs root and the docker CLI.
#
#   bench/docker/run.sh [ROUNDS] [QEMU_ROUNDS]      (default 20 5)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=${KRUNBOX_BUILD_DIR:-$repo/build}
[[ $build = /* ]] || build=$repo/$build
krunbox=$build/bin/krunbox
host_data=${KRUNBOX_BENCH_DATA:-/var/lib/krunbox}

die() { echo "docker bench: $*" >&2; exit 1; }
[[ $(id -u) = 0 ]] || die "needs root (native sandboxes)"
[[ -x $krunbox ]] || die "no $krunbox; build first"
command -v docker >/dev/null || die "no docker CLI on PATH"
[[ -d $host_data/bundled ]] || die "no bundled image in $host_data; run scripts/setup.sh"

work=$(mktemp -d /tmp/kb-dk.XXXXXX)
export KRUNBOX_ROOT=$work/d KRUNBOX_RUN_DIR=$work/r
mkdir -p -m 700 "$KRUNBOX_ROOT" "$KRUNBOX_RUN_DIR"
for shared in assets bundled; do ln -s "$host_data/$shared" "$KRUNBOX_ROOT/$shared"; done
"$krunbox" load --name busybox "$host_data/bundled/busybox-oci" >/dev/null
server=
cleanup() {
  [[ -n $server ]] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
  "$krunbox" ps -a -q 2>/dev/null | xargs -r "$krunbox" rm -f >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

KRUNBOX_LOG=warn "$krunbox" serve --docker >"$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 100); do [[ -S $KRUNBOX_RUN_DIR/docker.sock ]] && break; sleep 0.05; done
[[ -S $KRUNBOX_RUN_DIR/docker.sock ]] || die "krunbox serve did not start: $(cat "$work/serve.log")"
export DOCKER_HOST=unix://$KRUNBOX_RUN_DIR/docker.sock DOCKER_CONFIG=$work/docker-config

export KB="$krunbox" KB_ROUNDS=${1:-20} KB_QEMU_ROUNDS=${2:-5}
/usr/bin/python3 - <<'PY'
import os
import statistics
import subprocess
import time

kb = os.environ["KB"]

def timed(argv):
    t0 = time.perf_counter()
    r = subprocess.run(argv, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit("%s failed (%d): %s" % (" ".join(argv), r.returncode, r.stderr))
    return (time.perf_counter() - t0) * 1000

def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]

def compare(backend, rounds):
    dk = ["docker", "run", "--rm", "--label", "io.krunbox.backend=" + backend, "busybox", "true"]
    own = [kb, "run", "--backend", backend, "busybox", "--", "true"]
    timed(dk), timed(own)  # warm: image roots, page cache
    d, k = [], []
    for i in range(rounds):
        if i % 2:
            k.append(timed(own)); d.append(timed(dk))
        else:
            d.append(timed(dk)); k.append(timed(own))
    dm, km = statistics.median(d), statistics.median(k)
    print("%-7s docker run --rm: median %7.1f ms  P95 %7.1f | krunbox run: median %7.1f ms  P95 %7.1f"
          " | ratio %.2f, the Docker layer adds %+.1f ms (%d rounds)"
          % (backend, dm, pct(d, 95), km, pct(k, 95), dm / km, dm - km, rounds))

compare("native", int(os.environ["KB_ROUNDS"]))
compare("qemu", int(os.environ["KB_QEMU_ROUNDS"]))
PY
