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
source "$here/../lib/serve-world.sh"
serve_world_init docker
command -v docker >/dev/null || die "no docker CLI on PATH"
"$krunbox" load --name busybox "$host_data/bundled/busybox-oci" >/dev/null
serve_world_serve docker.sock --docker
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
