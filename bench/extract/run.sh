#!/usr/bin/env bash
# Builds and runs the layer extraction benchmark.
# usage: bench/extract/run.sh [WORK_DIR] [RUNS]
# The fixture (3 layers, >100 MB compressed, >8,000 entries) is generated
# into WORK_DIR once and reused. Run as root for ownership and overlay xattrs.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=${KRUNBOX_BUILD_DIR:-$src/build}
work=${1:-/var/tmp/krunbox-bench-extract}
runs=${2:-5}
if [ ! -f "$build/build.ninja" ]; then
  cmake -S "$src" -B "$build" -G Ninja >/dev/null
fi
ninja -C "$build" krunbox_bench_extract >/dev/null
exec "$build/bin/krunbox_bench_extract" "$work" "$runs"
