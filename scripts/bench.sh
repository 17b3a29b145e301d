#!/usr/bin/env bash
# Runs every benchmark under bench/ (each bench/NAME/run.sh compares krunbox
# with a named peer in one run and prints the ratio).
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
status=0
for script in "$here"/bench/*/run.sh; do
  [ -x "$script" ] || continue
  echo "=== $(basename "$(dirname "$script")")"
  "$script" || status=1
done
exit $status
