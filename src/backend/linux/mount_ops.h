// A mount namespace's set-up as data: the steps (MountOp) a parent builds,
// with every string allocated and validated up front, for a child after
// fork/clone to execute with raw system calls (mount_ops_child.h). Shared by
// the native backend's sandbox root (native/mount_plan.h) and QEMU's jail
// (qemu/qemu_jail.cc).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace krunbox {

enum class MountOpKind {
  kMount,         // mount(source, target, fstype, flags, data)
  kMkdir,         // mkdir(target, mode); an existing directory is fine
  kCreateFile,    // an empty file to bind a file over; an existing one is fine
  kSymlink,       // symlink(source, target); an existing entry is fine
  kMknod,         // mknod(target, mode, dev)
  kChown,         // chown(target, uid, gid)
  kSetReadonly,   // make the mount at target read-only, with every submount
  kMask,          // hide target: /dev/null over a file, an empty read-only tmpfs over a directory
  kReadonlyPath,  // bind target over itself, then read-only
  kPivotRoot,     // chdir(target); pivot_root(".", source); chdir("/")
  kDetach,        // umount2(target, MNT_DETACH); rmdir(target)
  kBindVolume,    // a recursive clone of source, with `attrs` set, moved onto target
};

struct MountOp {
  MountOpKind kind = MountOpKind::kMount;
  std::string source;
  std::string target;
  std::string fstype;
  std::string data;
  unsigned long flags = 0;
  mode_t mode = 0;
  dev_t dev = 0;
  uid_t uid = 0;  // kChown
  gid_t gid = 0;
  uint64_t attrs = 0;  // kBindVolume: MOUNT_ATTR_* set on every mount of the clone
  // Non-empty: target is resolved inside this directory as if it were "/"
  // (openat2 RESOLVE_IN_ROOT), so no symlink in it can lead outside. Used
  // for kMkdir, kCreateFile and kBindVolume before pivot_root, where the
  // image's symlinks would otherwise resolve against the host.
  std::string root;
  // A missing target is not an error (masks of paths some kernels lack).
  bool optional = false;

  // "mounting proc on /proc": what the child was doing when op failed.
  std::string describe() const;
};

using MountPlan = std::vector<MountOp>;

// A kMount op: mount(source, target, fstype, flags, data); empty strings pass null.
MountOp mount_op(std::string source, std::string target, std::string fstype, unsigned long flags,
                 std::string data = {});
// An op of `kind` on `target` alone (kMkdir, kCreateFile, kSetReadonly, ...).
MountOp path_op(MountOpKind kind, std::string target, mode_t mode = 0);

// Where the old root sits between pivot_root and its detach.
inline constexpr const char* kOldRootDir = "/.krunbox-oldroot";

}  // namespace krunbox
