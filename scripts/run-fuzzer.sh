#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time over its seed corpus.
# usage: run-fuzzer.sh BINARY SEED_CORPUS WORK_DIR SECONDS
set -euo pipefail
bin=$1 seeds=$2 work=$3 secs=$4
mkdir -p "$work/corpus"
[ -d "$seeds" ] || { echo "seed corpus $seeds missing" >&2; exit 1; }
# New inputs go to the work corpus; the seeds in the repository stay untouched.
exec "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$work/" "$work/corpus" "$seeds"
