#!/usr/bin/env bash
# Pull benchmark: in one run against a docker-registry on loopback,
#   krunbox:  pull (parallel download + verify + extract as layers land) + root ready
#   peer:     skopeo copy docker://… oci:…  +  umoci unpack
# on the extract benchmark's fixture (3 layers, >100 MB compressed, >8,000
# entries), generated and pushed once under CACHE_DIR. Prints medians and
# the ratio. Page cache warm for both (the registry's files stay cached);
# both write to the same freshly made ext4.
# Run as root (overlay roots, umoci unpack with owners).
# usage: bench/pull/run.sh [CACHE_DIR] [RUNS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=${KRUNBOX_BUILD_DIR:-$src/build}
cache=${1:-/var/tmp/krunbox-bench-pull}
runs=${2:-3}
for tool in docker-registry skopeo umoci python3; do
  command -v "$tool" >/dev/null || { echo "bench/pull: $tool is not installed" >&2; exit 1; }
done
if [ ! -f "$build/build.ninja" ] || ! ninja -C "$build" -t targets all 2>/dev/null | grep -q '^krunbox_bench_pull:'; then
  cmake -S "$src" -B "$build" -G Ninja -DKRUNBOX_BENCH=ON >/dev/null
fi
ninja -C "$build" krunbox_bench_pull krunbox_bench_extract >/dev/null
mkdir -p "$cache"

# The fixture: the extract benchmark's generator writes it (once).
if [ ! -f "$cache/fixture/fixture.done" ]; then
  echo "generating the fixture in $cache/fixture (once)..." >&2
  "$build/bin/krunbox_bench_extract" "$cache/fixture" 1 >/dev/null
fi

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$cache/registry.yml" <<YML
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $cache/registry}}
http: {addr: 127.0.0.1:$port}
YML
docker-registry serve "$cache/registry.yml" >"$cache/registry.log" 2>&1 &
registry_pid=$!
# What both sides write goes to a fresh ext4 (bench/lib/scratch-fs.sh says why).
# shellcheck source=../lib/scratch-fs.sh
. "$src/bench/lib/scratch-fs.sh"
work=$cache/out
cleanup() { kill "$registry_pid" 2>/dev/null || true; wait "$registry_pid" 2>/dev/null || true; scratch_fs_cleanup; }
trap cleanup EXIT
scratch_fs_mount "$work" 8G
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.05; done
ref=127.0.0.1:$port/bench:v1
if [ ! -f "$cache/pushed" ]; then
  skopeo copy -q --dest-tls-verify=false "oci:$cache/fixture/layout:bench" "docker://$ref"
  touch "$cache/pushed"
fi

now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
k_times=() p_times=()
for i in $(seq "$runs"); do
  read -r k layers bytes overlay < <("$build/bin/krunbox_bench_pull" "$work/store" "$ref")
  rm -rf "$work/store"
  k_times+=("$k")
  t0=$(now)
  skopeo copy -q --src-tls-verify=false "docker://$ref" "oci:$work/oci:bench"
  umoci unpack --image "$work/oci:bench" "$work/bundle" >/dev/null
  t1=$(now)
  rm -rf "$work/oci" "$work/bundle"
  p_times+=("$(echo "$t1 - $t0" | bc -l)")
  echo "run $i/$runs: krunbox $k s, skopeo+umoci ${p_times[-1]} s" >&2
done
k=$(printf '%s\n' "${k_times[@]}" | median)
p=$(printf '%s\n' "${p_times[@]}" | median)
printf 'fixture: %s layers, %.1f MB compressed (the extract benchmark'"'"'s, >8,000 entries); %s runs, medians\n' "$layers" "$(echo "$bytes / 1000000" | bc -l)" "$runs"
printf 'krunbox pull + root ready (%s)   %7.3f s\n' "$([ "$overlay" = 1 ] && echo overlay || echo copy)" "$k"
printf 'skopeo copy + umoci unpack       %7.3f s\n' "$p"
printf 'ratio                            %7.2fx  (goal >= 5x)\n' "$(echo "$p / $k" | bc -l)"
