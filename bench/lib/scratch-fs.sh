# Sourced by benchmarks that write many files: mounts a freshly made ext4
# (mke2fs's defaults, journal included, as on a stock Debian install) on a
# loop file, so every tool in a run writes to the same clean file system.
#
# Why: on ext4 *without* a journal the inode allocator skips inodes deleted
# in the last minute or more (recently_deleted() in fs/ext4/ialloc.c),
# reading an inode table block for each. A benchmark that removes one tool's
# tree and then lets the next tool create ~13,000 files pays for that scan:
# on a no-journal root file system every run after the first was 3-8x
# slower, for krunbox, tar and umoci alike, and the ratios were noise.
#
#   scratch_fs_mount DIR SIZE   # e.g. scratch_fs_mount "$work/fs" 8G
#   scratch_fs_cleanup          # unmounts and deletes the loop file
#
# Needs root, mkfs.ext4 and a loop device. Without them it leaves DIR a plain
# directory on the file system it is on and says so: the figures are then
# that file system's.
scratch_fs_dir=""
scratch_fs_image=""
scratch_fs_device=""

scratch_fs_mount() {
  local dir=$1 size=$2
  mkdir -p "$dir"
  scratch_fs_dir=$dir
  if [[ $(id -u) -ne 0 ]] || ! command -v mkfs.ext4 >/dev/null || ! command -v losetup >/dev/null; then
    echo "scratch fs: not root or no mkfs.ext4/losetup; writing to $(findmnt -no FSTYPE -T "$dir" 2>/dev/null || echo '?') at $dir" >&2
    return 0
  fi
  scratch_fs_image=$dir.img
  rm -f "$scratch_fs_image"
  truncate -s "$size" "$scratch_fs_image"
  # Direct I/O on the loop device: its writes go straight to the backing
  # file's blocks instead of being cached a second time, as on a real disk.
  if ! mkfs.ext4 -q -F "$scratch_fs_image" ||
    ! scratch_fs_device=$(losetup --direct-io=on --find --show "$scratch_fs_image") ||
    ! mount "$scratch_fs_device" "$dir"; then
    echo "scratch fs: could not make or mount an ext4 loop file; writing to $dir as it is" >&2
    [[ -n $scratch_fs_device ]] && losetup -d "$scratch_fs_device" 2>/dev/null
    rm -f "$scratch_fs_image"
    scratch_fs_image=""
    scratch_fs_device=""
    return 0
  fi
  echo "scratch fs: fresh ext4 ($size loop file) at $dir" >&2
}

scratch_fs_cleanup() {
  [[ -n $scratch_fs_dir ]] || return 0
  if [[ -n $scratch_fs_image ]]; then
    umount "$scratch_fs_dir" 2>/dev/null || umount -l "$scratch_fs_dir" 2>/dev/null || true
    losetup -d "$scratch_fs_device" 2>/dev/null || true
    rm -f "$scratch_fs_image"
  fi
  rm -rf "$scratch_fs_dir"
  scratch_fs_dir=""
  scratch_fs_image=""
  scratch_fs_device=""
}
