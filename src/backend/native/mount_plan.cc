#include "backend/native/mount_plan.h"

#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#include <climits>
#include <cstdio>
#include <cstdlib>

namespace krunbox::native {
namespace {

constexpr unsigned long kNoSuidDevExec = MS_NOSUID | MS_NODEV | MS_NOEXEC;

// overlayfs splits its options at ',' and its lower dirs at ':'; the kernel's
// escaping rules differ between versions, so such paths are refused outright.
Status check_overlay_path(const std::string& path, const char* what) {
  if (path.find_first_of(",:\\") != std::string::npos)
    return Error(ErrorCode::kInvalidArgument,
                 std::string(what) + " " + path + " contains ',', ':' or '\\', which overlayfs options cannot carry; " +
                     "move it to a plain path");
  return {};
}

MountOp in_root(MountOp op, const std::string& root) {
  op.root = root;
  return op;
}

// mkdir -p of a guest path, one component at a time, each resolved inside
// `root` (RESOLVE_IN_ROOT): an image's symlink cannot lead a mkdir outside.
void add_mkdir_all(MountPlan& plan, const std::string& root, const std::string& path) {
  size_t pos = 1;
  while (pos <= path.size()) {
    size_t next = path.find('/', pos);
    if (next == std::string::npos) next = path.size();
    plan.push_back(in_root(path_op(MountOpKind::kMkdir, path.substr(0, next), 0755), root));
    pos = next + 1;
  }
}

bool is_under(const std::string& path, const std::string& dir) {
  return path == dir || (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 && path[dir.size()] == '/');
}

}  // namespace

const std::vector<std::string>& default_masked_paths() {
  static const std::vector<std::string> paths = {
      "/proc/acpi",        "/proc/asound",      "/proc/interrupts", "/proc/kcore",  "/proc/keys",
      "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
      "/sys/firmware",     "/sys/devices/virtual/powercap",
  };
  return paths;
}

const std::vector<std::string>& default_readonly_paths() {
  static const std::vector<std::string> paths = {
      "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
  };
  return paths;
}

Result<std::string> normalize_guest_path(const std::string& path, const std::string& what) {
  if (path.empty() || path[0] != '/')
    return Error(ErrorCode::kInvalidArgument, what + " '" + path + "' must be an absolute path");
  if (path.size() > PATH_MAX) return Error(ErrorCode::kLimitExceeded, what + " is longer than PATH_MAX");
  std::string out;
  size_t pos = 0;
  while (pos < path.size()) {
    size_t next = path.find('/', pos);
    if (next == std::string::npos) next = path.size();
    std::string part = path.substr(pos, next - pos);
    pos = next + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..")
      return Error(ErrorCode::kInvalidArgument, what + " '" + path + "' must not contain '..'");
    out += "/" + part;
  }
  return out.empty() ? std::string("/") : out;
}

Result<std::vector<ResolvedVolume>> resolve_volumes(const std::vector<VolumeMount>& volumes) {
  std::vector<ResolvedVolume> out;
  for (const auto& v : volumes) {
    std::string what = "volume " + v.host_path + ":" + v.guest_path;
    char real[PATH_MAX];
    if (::realpath(v.host_path.c_str(), real) == nullptr)
      return Error::from_errno(what + ": host path " + v.host_path + " (create it first or fix the -v argument)");
    struct stat st {};
    if (::stat(real, &st) != 0) return Error::from_errno(what + ": stat " + real);
    if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
      return Error(ErrorCode::kInvalidArgument, what + ": host path must be a directory or a regular file");
    KRUNBOX_ASSIGN_OR_RETURN(std::string guest, normalize_guest_path(v.guest_path, what + ": guest path"));
    if (guest == "/") return Error(ErrorCode::kInvalidArgument, what + ": a volume cannot replace the root");
    for (const char* kernel_fs : {"/proc", "/sys", "/dev"}) {
      if (is_under(guest, kernel_fs))
        return Error(ErrorCode::kInvalidArgument,
                     what + ": guest path is inside " + kernel_fs + ", which the sandbox mounts itself");
    }
    out.push_back({real, guest, S_ISDIR(st.st_mode), v.read_only, v.allow_suid, v.allow_devices});
  }
  return out;
}

bool overlay_supports_volatile() {
  static const bool supported = [] {
    utsname u{};
    if (::uname(&u) != 0) return false;
    unsigned major = 0, minor = 0;
    if (std::sscanf(u.release, "%u.%u", &major, &minor) != 2) return false;
    return major > 5 || (major == 5 && minor >= 10);
  }();
  return supported;
}

Result<MountPlan> build_mount_plan(const MountPlanInput& in) {
  if (in.lower.empty() || in.lower[0] != '/')
    return Error(ErrorCode::kInvalidArgument, "rootfs '" + in.lower + "' must be an absolute path");
  if (in.root_mount.empty() || in.root_mount[0] != '/')
    return Error(ErrorCode::kInvalidArgument, "root mount point '" + in.root_mount + "' must be absolute");
  MountPlan plan;
  // Nothing we mount may propagate back to the host's mount namespace.
  plan.push_back(mount_op("", "/", "", MS_REC | MS_PRIVATE));

  if (in.root_kind == RootKind::kOverlay) {
    KRUNBOX_TRY(check_overlay_path(in.lower, "rootfs"));
    KRUNBOX_TRY(check_overlay_path(in.upper, "overlay upper dir"));
    KRUNBOX_TRY(check_overlay_path(in.work, "overlay work dir"));
    std::string data = "lowerdir=" + in.lower + ",upperdir=" + in.upper + ",workdir=" + in.work;
    // Inside a user namespace overlayfs cannot use trusted.* xattrs.
    if (in.user_namespace) data += ",userxattr";
    if (in.overlay_volatile) data += ",volatile";
    plan.push_back(mount_op("overlay", in.root_mount, "overlay", 0, data));
  } else {
    plan.push_back(mount_op(in.lower, in.root_mount, "", MS_BIND | MS_REC));
  }

  // Volumes before pivot_root, while the host's root is not inside the new
  // one: their mount points are made and resolved inside the new root only,
  // so an image's symlink (say into the old root's place) cannot put a
  // directory, a file or a mount on the host.
  for (const auto& v : in.volumes) {
    std::string parent = v.guest_path.substr(0, v.guest_path.rfind('/'));
    if (!parent.empty()) add_mkdir_all(plan, in.root_mount, parent);
    if (v.is_dir) plan.push_back(in_root(path_op(MountOpKind::kMkdir, v.guest_path, 0755), in.root_mount));
    else plan.push_back(in_root(path_op(MountOpKind::kCreateFile, v.guest_path, 0644), in.root_mount));
    MountOp bind = in_root(path_op(MountOpKind::kBindVolume, v.guest_path), in.root_mount);
    bind.source = v.host_path;
    if (!v.allow_suid) bind.attrs |= MOUNT_ATTR_NOSUID;
    if (!v.allow_devices) bind.attrs |= MOUNT_ATTR_NODEV;
    if (v.read_only) bind.attrs |= MOUNT_ATTR_RDONLY;
    plan.push_back(bind);
  }

  std::string old_root = kOldRootDir;
  MountOp pivot = path_op(MountOpKind::kPivotRoot, in.root_mount);
  pivot.source = old_root.substr(1);  // relative to the new root
  plan.push_back(pivot);
  // From here on every path resolves inside the sandbox's root; host paths are
  // reached through the old root, which is detached at the end.

  plan.push_back(path_op(MountOpKind::kMkdir, "/proc", 0555));
  plan.push_back(mount_op("proc", "/proc", "proc", kNoSuidDevExec));

  plan.push_back(path_op(MountOpKind::kMkdir, "/dev", 0755));
  // nodev: a node made in /dev opens nothing. The standard nodes are the
  // host's, bound in (a bind keeps its source mount's flags), as runc does in
  // a user namespace; the sandbox has no CAP_MKNOD to make others.
  plan.push_back(mount_op("tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_STRICTATIME,
                          "mode=755,size=65536k"));
  for (const char* name : {"null", "zero", "full", "random", "urandom", "tty"}) {
    std::string path = std::string("/dev/") + name;
    plan.push_back(path_op(MountOpKind::kCreateFile, path, 0666));
    plan.push_back(mount_op(old_root + path, path, "", MS_BIND));
  }
  plan.push_back(path_op(MountOpKind::kMkdir, "/dev/pts", 0755));
  // gid=5 (tty) exists only when the id mapping covers it, so it is left out in a user namespace.
  plan.push_back(mount_op("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
                          in.user_namespace ? "newinstance,ptmxmode=0666,mode=0620"
                                            : "newinstance,ptmxmode=0666,mode=0620,gid=5"));
  MountOp ptmx = path_op(MountOpKind::kSymlink, "/dev/ptmx");
  ptmx.source = "pts/ptmx";
  plan.push_back(ptmx);
  plan.push_back(path_op(MountOpKind::kMkdir, "/dev/shm", 01777));
  plan.push_back(mount_op("shm", "/dev/shm", "tmpfs", kNoSuidDevExec, "mode=1777,size=65536k"));
  plan.push_back(path_op(MountOpKind::kMkdir, "/dev/mqueue", 0755));
  plan.push_back(mount_op("mqueue", "/dev/mqueue", "mqueue", kNoSuidDevExec));
  const std::pair<const char*, const char*> links[] = {{"/dev/fd", "/proc/self/fd"},
                                                        {"/dev/stdin", "/proc/self/fd/0"},
                                                        {"/dev/stdout", "/proc/self/fd/1"},
                                                        {"/dev/stderr", "/proc/self/fd/2"},
                                                        {"/dev/core", "/proc/kcore"}};
  for (const auto& [link, to] : links) {
    MountOp op = path_op(MountOpKind::kSymlink, link);
    op.source = to;
    plan.push_back(op);
  }

  plan.push_back(path_op(MountOpKind::kMkdir, "/sys", 0555));
  if (in.user_namespace && in.host_network) {
    // sysfs may only be mounted by the owner of the network namespace; with the
    // host's network that is not us, so the host's /sys is bound read-only.
    plan.push_back(mount_op(old_root + "/sys", "/sys", "", MS_BIND | MS_REC));
    plan.push_back(path_op(MountOpKind::kSetReadonly, "/sys"));
  } else {
    plan.push_back(mount_op("sysfs", "/sys", "sysfs", kNoSuidDevExec | MS_RDONLY));
  }

  // Masks and read-only paths come last so nothing above can undo them.
  for (const auto& p : default_masked_paths()) {
    MountOp op = path_op(MountOpKind::kMask, p);
    op.optional = true;
    plan.push_back(op);
  }
  for (const auto& p : default_readonly_paths()) {
    MountOp op = path_op(MountOpKind::kReadonlyPath, p);
    op.optional = true;
    plan.push_back(op);
  }
  plan.push_back(path_op(MountOpKind::kDetach, old_root));
  return plan;
}

}  // namespace krunbox::native
