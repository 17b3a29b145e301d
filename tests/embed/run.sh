#!/usr/bin/env bash
# Installs krunbox from the build tree into a scratch prefix, builds the
# example program against that installed package (find_package(krunbox)),
# and runs it in a data root of its own on the default backend and on native.
#   tests/embed/run.sh BUILD_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$1
host_data=${KRUNBOX_HOST_DATA_ROOT:-/var/lib/krunbox}
[[ -d $host_data/bundled && -d $host_data/assets ]] || { echo "embed: no bundled image or VM assets in $host_data; run scripts/setup.sh" >&2; exit 1; }

work=$(mktemp -d /tmp/krunbox-embed.XXXXXX)
prefix=$work/prefix
export KRUNBOX_ROOT=$work/data KRUNBOX_RUN_DIR=$work/run
cleanup() {
  if [[ -x $prefix/bin/krunbox ]]; then
    ids=$("$prefix/bin/krunbox" ps -aq 2>/dev/null || true)
    [[ -z $ids ]] || "$prefix/bin/krunbox" rm -f $ids >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

cmake --install "$build" --prefix "$prefix" >/dev/null
[[ ! -e $prefix/include/krunbox/../../src ]] || { echo "embed: internal headers were installed" >&2; exit 1; }
cmake -S "$here/example" -B "$work/example-build" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$work/example-build" >/dev/null

mkdir -p "$KRUNBOX_ROOT" && chmod 0700 "$KRUNBOX_ROOT"
for shared in assets bundled; do ln -s "$host_data/$shared" "$KRUNBOX_ROOT/$shared"; done

# The program finds krunbox through the installed package alone: nothing of
# the build tree is on its PATH or in its environment.
env -u KRUNBOX_BIN_DIR -u KRUNBOX_LIBEXEC PATH=/usr/sbin:/usr/bin:/sbin:/bin "$work/example-build/embed_example"
env -u KRUNBOX_BIN_DIR -u KRUNBOX_LIBEXEC PATH=/usr/sbin:/usr/bin:/sbin:/bin "$work/example-build/embed_example" native
