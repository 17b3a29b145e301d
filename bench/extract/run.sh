#!/usr/bin/env bash
# Builds and runs the layer extraction benchmark.
# usage: bench/extract/run.sh [WORK_DIR] [RUNS]
# The fixture (3 layers, >100 MB compressed, >8,000 entries) is generated
# into WORK_DIR once and reused. What the tools write goes to a fresh ext4
# mounted for this run (bench/lib/scratch-fs.sh says why). Run as root for
# ownership, overlay xattrs and the scratch file system.
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
mkdir -p "$work"
# shellcheck source=../lib/scratch-fs.sh
. "$src/bench/lib/scratch-fs.sh"
trap scratch_fs_cleanup EXIT
scratch_fs_mount "$work/out" 8G
"$build/bin/krunbox_bench_extract" "$work" "$runs" "$work/out"
