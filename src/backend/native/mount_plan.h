// The mounts that make a sandbox's root, as data. The parent builds a
// MountPlan (allocation, validation, error messages); the cloned child only
// walks it and calls the kernel (mount_plan_child.h). Keeping the two apart
// lets tests check which mounts happen, in which order and with which flags,
// without root, through the MountSyscalls seam and a recording fake.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "backend/sandbox_spec.h"
#include "krunbox/error.h"

namespace krunbox::native {

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

// A volume whose host path the parent has resolved (realpath) and stat'ed.
struct ResolvedVolume {
  std::string host_path;   // absolute, no symlinks
  std::string guest_path;  // normalised absolute path inside the sandbox
  bool is_dir = true;
  bool read_only = false;
  bool allow_suid = false;
  bool allow_devices = false;
};

enum class RootKind {
  kOverlay,  // overlayfs: lower = image, upper/work = per-sandbox dirs
  kBind,     // bind the directory (a private root or a private copy)
};

struct MountPlanInput {
  RootKind root_kind = RootKind::kOverlay;
  std::string lower;        // the image root (kOverlay) or the root to bind (kBind)
  std::string upper, work;  // kOverlay only
  std::string root_mount;   // where the root is assembled: <run dir>/root
  std::vector<ResolvedVolume> volumes;
  bool user_namespace = false;
  bool host_network = false;
  // kOverlay: mount with `volatile` (Linux 5.10+), so that tearing the
  // sandbox down does not sync the upper dir's whole host file system, which
  // on a busy disk cost more than the rest of a start. The upper dir is
  // thrown away with the sandbox, so nothing that a sync would keep matters.
  bool overlay_volatile = false;
};

// Whether this kernel's overlayfs takes the `volatile` option.
bool overlay_supports_volatile();

// Where the old root sits between pivot_root and its detach.
inline constexpr const char* kOldRootDir = "/.krunbox-oldroot";

// The masked and read-only paths runc and Docker apply by default.
const std::vector<std::string>& default_masked_paths();
const std::vector<std::string>& default_readonly_paths();

// Validates the input and returns the ordered plan.
Result<MountPlan> build_mount_plan(const MountPlanInput& input);

// "/a//b/./c/" -> "/a/b/c"; rejects relative paths and ".." (which could climb
// out of the sandbox root) with an error naming `what`.
Result<std::string> normalize_guest_path(const std::string& path, const std::string& what);

// Resolves each volume's host path (it must exist) and normalises its guest
// path; refuses targets that would cover the root or the kernel filesystems.
Result<std::vector<ResolvedVolume>> resolve_volumes(const std::vector<VolumeMount>& volumes);

}  // namespace krunbox::native
