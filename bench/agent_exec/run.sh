#!/usr/bin/env bash
# Builds and runs the agent exec benchmark: ./bench/agent_exec/run.sh [BUILD_DIR] [-- bench args]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}
[ -f "$build/build.ninja" ] || cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release
ninja -C "$build" -j2 agent_exec_bench
shift || true
[ "${1:-}" = "--" ] && shift
exec "$build/bin/agent_exec_bench" "$@"
