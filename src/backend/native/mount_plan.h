// The mounts that make a native sandbox's root, as a MountPlan
// (backend/linux/mount_ops.h): built here, in the parent (allocation,
// validation, error messages); the cloned child only walks it
// (mount_ops_child.h). Tests check which mounts happen, in which order and
// with which flags, without root, through the MountSyscalls seam.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "backend/linux/mount_ops.h"
#include "backend/sandbox_spec.h"
#include "krunbox/error.h"

namespace krunbox::native {


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
