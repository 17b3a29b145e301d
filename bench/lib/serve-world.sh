# Sourced by benchmarks that drive `krunbox serve`: a private data root and
# run dir (the host's VM assets and bundled image linked in, as the tests'
# worlds do), a server in it, and a cleanup that removes every sandbox made.
#
#   serve_world_init NAME     # NAME for messages; sets krunbox, work,
#                             # KRUNBOX_ROOT, KRUNBOX_RUN_DIR; die() exits
#   serve_world_serve SOCKET [SERVE_ARGS...]
#                             # starts the server, waits for <run dir>/SOCKET
#
# Needs root (native sandboxes) and a build (KRUNBOX_BUILD_DIR, default build/).
serve_world_name=""
serve_world_server=""

die() { echo "$serve_world_name bench: $*" >&2; exit 1; }

serve_world_init() {
  serve_world_name=$1
  local repo build
  repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  build=${KRUNBOX_BUILD_DIR:-$repo/build}
  [[ $build = /* ]] || build=$repo/$build
  krunbox=$build/bin/krunbox
  host_data=${KRUNBOX_BENCH_DATA:-/var/lib/krunbox}
  [[ $(id -u) = 0 ]] || die "needs root (native sandboxes)"
  [[ -x $krunbox ]] || die "no $krunbox; build first"
  [[ -d $host_data/bundled ]] || die "no bundled image in $host_data; run scripts/setup.sh"
  work=$(mktemp -d "/tmp/kb-$serve_world_name.XXXXXX")
  export KRUNBOX_ROOT=$work/d KRUNBOX_RUN_DIR=$work/r
  mkdir -p -m 700 "$KRUNBOX_ROOT" "$KRUNBOX_RUN_DIR"
  for shared in assets bundled; do ln -s "$host_data/$shared" "$KRUNBOX_ROOT/$shared"; done
  trap serve_world_cleanup EXIT
}

serve_world_cleanup() {
  [[ -n $serve_world_server ]] && kill "$serve_world_server" 2>/dev/null && wait "$serve_world_server" 2>/dev/null || true
  "$krunbox" ps -a -q 2>/dev/null | xargs -r "$krunbox" rm -f >/dev/null 2>&1 || true
  rm -rf "$work"
}

serve_world_serve() {
  local socket=$KRUNBOX_RUN_DIR/$1
  shift
  KRUNBOX_LOG=warn "$krunbox" serve "$@" >"$work/serve.log" 2>&1 &
  serve_world_server=$!
  for _ in $(seq 100); do [[ -S $socket ]] && break; sleep 0.05; done
  [[ -S $socket ]] || die "krunbox serve did not start: $(cat "$work/serve.log")"
}
