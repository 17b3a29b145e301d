#!/usr/bin/env bash
# Sets up everything krunbox needs on Debian 12, idempotently:
#   1. installs the build and run-time dependencies from Debian's archive,
#   2. configures and builds krunbox (build/),
#   3. prepares the bundled default image (a busybox rootfs) under the data dir.
# Later steps only redo what changed. Run as root (or with sudo available).
#
# usage: scripts/setup.sh [--no-build] [--build-dir DIR]
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
build_dir="$here/build"
do_build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) do_build=0 ;;
    --build-dir) build_dir=$2; shift ;;
    *) echo "setup.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done

# Every package comes from Debian's archive; nothing is downloaded from elsewhere.
packages=(
  # toolchain and build
  build-essential cmake ninja-build pkg-config clang libclang-rt-14-dev file ccache
  # libraries
  libgtest-dev libgmock-dev googletest libbenchmark-dev nlohmann-json3-dev libcli11-dev libfmt-dev
  libseccomp-dev libcurl4-openssl-dev libssl-dev libarchive-dev zlib1g-dev libzstd-dev libisal-dev
  libboost1.81-dev  # Boost.Beast/Asio: the API server (HTTP/1.1, WebSocket, Unix sockets)
  # run time: the bundled image, the qemu backend, networking helpers
  busybox-static qemu-system-x86 kmod cpio lz4 erofs-utils passt iproute2 uidmap
  # tests and benchmarks: image tools, peers
  umoci skopeo runc crun python3 python3-httpx python3-pytest docker-registry apache2-utils curl
  podman containerd  # tests/oci: krunbox-runc under real callers (conmon, containerd-shim-runc-v2)
  python3-websocket  # the attach WebSocket's tests: a real WebSocket client
  python3-docker  # tests/docker: docker-py, a real Docker SDK client
)

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "setup.sh: need root to run: $*" >&2; exit 1; fi
}

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup.sh: installing ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The E2B SDK's suite (tests/e2b) needs node and npm. Debian 12's nodejs
# (18.20) is older than the SDK's engines (>=20.18.1); a newer nodejs that is
# already installed (NodeSource's apt packages carry npm) is kept as it is.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "setup.sh: installing nodejs npm"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
# The SDK as package-lock.json pins it.
(cd "$here/tests/e2b" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)

if [ "$do_build" -eq 1 ]; then
  if [ ! -f "$build_dir/build.ninja" ]; then
    cmake -S "$here" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  fi
  cmake --build "$build_dir"
fi

# The data dir: what krunbox itself uses when run as this user.
if [ -n "${KRUNBOX_ROOT:-}" ]; then data_root=$KRUNBOX_ROOT
elif [ "$(id -u)" -eq 0 ]; then data_root=/var/lib/krunbox
else data_root=${XDG_DATA_HOME:-$HOME/.local/share}/krunbox; fi
mkdir -p "$data_root"
chmod 0700 "$data_root"

"$here/scripts/make-bundled-rootfs.sh" "$data_root/bundled/busybox/rootfs"
"$here/scripts/make-bundled-image.sh" "$data_root/bundled/busybox/rootfs" "$data_root/bundled/busybox-oci"
if [ "$do_build" -eq 1 ]; then
  "$here/scripts/make-qemu-assets.sh" "$data_root" "$build_dir/bin/krunbox-agent"
  # The default image, as an ordinary image in the store.
  KRUNBOX_ROOT=$data_root "$build_dir/bin/krunbox" load --name busybox "$data_root/bundled/busybox-oci" >/dev/null
fi
