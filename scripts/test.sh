#!/usr/bin/env bash
# The whole test suite, as `make test` and CI run it:
#   1. the main build (GCC): unit tests, then the integration, security and
#      performance suites under tests/, two at a time (each in a data root
#      and run dir of its own; the suites that are mostly emulated guests
#      share the "guest_cpu" lock, so only one of them runs at once, and
#      those that check the whole host for leftovers run alone);
#   2. the sanitizer build (clang, ASan+UBSan): the unit tests again, and every
#      libFuzzer target for KRUNBOX_FUZZ_SECONDS each over its seed corpus.
# Every stage runs even if an earlier one failed; the exit status is non-zero
# if any did.
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${KRUNBOX_BUILD_DIR:-$here/build}
san=${KRUNBOX_SAN_BUILD_DIR:-$here/build-san}
fuzz_seconds=${KRUNBOX_FUZZ_SECONDS:-20}
jobs=$(nproc)
failed=()

stage() {
  local name=$1; shift
  echo "=== $name"
  if ! "$@"; then failed+=("$name"); fi
}

stage "build" cmake --build "$build"
stage "unit tests" ctest --test-dir "$build" --output-on-failure -j "$jobs" -L unit
stage "integration, security and performance suites" ctest --test-dir "$build" --output-on-failure -j "$jobs" -LE 'unit|fuzz'

if [ ! -f "$san/build.ninja" ]; then
  CC=clang CXX=clang++ cmake -S "$here" -B "$san" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
    -DKRUNBOX_SANITIZE=ON -DKRUNBOX_FUZZ=ON -DKRUNBOX_BENCH=OFF -DKRUNBOX_INTEGRATION_TESTS=OFF \
    -DKRUNBOX_FUZZ_SECONDS="$fuzz_seconds" >/dev/null
else
  cmake "$san" -DKRUNBOX_INTEGRATION_TESTS=OFF -DKRUNBOX_FUZZ_SECONDS="$fuzz_seconds" >/dev/null
fi
stage "sanitizer build" cmake --build "$san"
stage "unit tests under ASan+UBSan" ctest --test-dir "$san" --output-on-failure -j "$jobs" -L unit
stage "fuzz targets (${fuzz_seconds}s each)" ctest --test-dir "$san" --output-on-failure -j "$jobs" -L fuzz --no-tests=ignore

if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED stages: ${failed[*]}" >&2
  exit 1
fi
echo "all test stages passed"
