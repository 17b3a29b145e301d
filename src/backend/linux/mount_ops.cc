#include "backend/linux/mount_ops.h"

#include <sys/mount.h>

namespace krunbox {

MountOp mount_op(std::string source, std::string target, std::string fstype, unsigned long flags,
                 std::string data) {
  MountOp op;
  op.kind = MountOpKind::kMount;
  op.source = std::move(source);
  op.target = std::move(target);
  op.fstype = std::move(fstype);
  op.flags = flags;
  op.data = std::move(data);
  return op;
}

MountOp path_op(MountOpKind kind, std::string target, mode_t mode) {
  MountOp op;
  op.kind = kind;
  op.target = std::move(target);
  op.mode = mode;
  return op;
}

std::string MountOp::describe() const {
  // Resolved inside the new root: only volume mount points are.
  if (!root.empty() && (kind == MountOpKind::kMkdir || kind == MountOpKind::kCreateFile))
    return "creating the volume mount point " + target +
           " inside the sandbox's root (symlinks in the image resolve inside that root)";
  switch (kind) {
    case MountOpKind::kMount:
      if (flags & MS_BIND) return "bind-mounting " + source + " on " + target;
      if (flags & MS_REMOUNT) return "remounting " + target;
      if (flags & (MS_PRIVATE | MS_SLAVE | MS_SHARED)) return "changing the propagation of " + target;
      return "mounting " + fstype + " on " + target;
    case MountOpKind::kMkdir: return "creating directory " + target;
    case MountOpKind::kCreateFile: return "creating mount point " + target;
    case MountOpKind::kSymlink: return "creating symlink " + target + " -> " + source;
    case MountOpKind::kMknod: return "creating device node " + target;
    case MountOpKind::kChown: return "changing the owner of " + target;
    case MountOpKind::kSetReadonly: return "making " + target + " read-only";
    case MountOpKind::kMask: return "masking " + target;
    case MountOpKind::kReadonlyPath: return "making " + target + " read-only";
    case MountOpKind::kPivotRoot: return "pivoting the root to " + target;
    case MountOpKind::kDetach: return "detaching the host's root (" + target + ")";
    case MountOpKind::kBindVolume: return "bind-mounting volume " + source + " on " + target;
  }
  return "setting up mounts";
}

}  // namespace krunbox
