#include "backend/qemu/qemu_jail.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <thread>

#include "backend/linux/mount_ops.h"
#include "backend/linux/mount_ops_child.h"
#include "backend/qemu/qemu_jail_child.h"
#include "base/fs.h"

namespace krunbox {
namespace {

constexpr const char* kCgroupParentName = "krunbox-qemu";

void bind_file_readonly(MountPlan& plan, const std::string& source, const std::string& target) {
  plan.push_back(path_op(MountOpKind::kCreateFile, target, 0444));
  plan.push_back(mount_op(source, target, "", MS_BIND));
  plan.push_back(path_op(MountOpKind::kSetReadonly, target));
}

}  // namespace

// ---- UidLease ----

Result<UidLease> UidLease::acquire(const std::string& dir, const std::string& seed) {
  KRUNBOX_TRY(make_dirs(dir, 0700));
  uint32_t start = static_cast<uint32_t>(std::hash<std::string>{}(seed) % kJailUidSlots);
  for (uint32_t i = 0; i < kJailUidSlots; ++i) {
    uint32_t slot = (start + i) % kJailUidSlots;
    std::string path = join_path(dir, std::to_string(slot));
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd.valid()) return Error::from_errno("open uid lease " + path);
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) == 0) {
      UidLease lease;
      lease.lock_ = std::move(fd);
      lease.uid_ = kJailUidBase + slot;
      return lease;
    }
    if (errno != EWOULDBLOCK) return Error::from_errno("flock uid lease " + path);
  }
  return Error(ErrorCode::kLimitExceeded, "all " + std::to_string(kJailUidSlots) + " QEMU jail uids in " + dir +
                                              " are leased; stop some sandboxes");
}

// ---- QemuCgroup ----

std::vector<std::string> qemu_cgroup_dirs_for(const std::string& root, const std::string& id) {
  if (is_cgroup2_root(root)) return {join_path(root, std::string(kCgroupParentName) + "/" + id)};
  std::vector<std::string> dirs;
  for (const char* ctrl : {"memory", "pids"})
    dirs.push_back(join_path(root, std::string(ctrl) + "/" + kCgroupParentName + "/" + id));
  return dirs;
}

QemuCgroup QemuCgroup::create(const std::string& root, const std::string& id, const Limits& limits) {
  QemuCgroup cg;
  cg.set_ = CgroupSet::create(root, kCgroupParentName, id, {"memory", "pids"});
  cg.notes_ = cg.set_.notes();
  auto limit = [&cg](const char* controller, const char* v1_file, const char* v2_file, uint64_t value) {
    std::string dir = cg.set_.dir(controller);
    if (dir.empty() || value == 0) return;
    std::string file = join_path(dir, cg.set_.v2() ? v2_file : v1_file);
    if (auto s = write_cgroup_file(file, std::to_string(value)); !s.ok())
      cg.notes_.push_back(std::string("QEMU ") + controller + " limit not set: " + s.error().what());
  };
  limit("memory", "memory.limit_in_bytes", "memory.max", limits.memory_bytes);
  limit("pids", "pids.max", "pids.max", limits.pids);
  return cg;
}

std::vector<std::string> QemuCgroup::procs_files() const {
  std::vector<std::string> files;
  for (const auto& d : set_.dirs()) files.push_back(join_path(d, "cgroup.procs"));
  return files;
}

// ---- spawn_jailed ----

Result<UniquePid> spawn_jailed(const std::vector<std::string>& argv, const QemuJailSpec& spec) {
  if (argv.empty() || argv[0].empty() || argv[0][0] != '/')
    return Error(ErrorCode::kInvalidArgument, "the jailed program needs an absolute path");

  MountPlan plan;
  if (spec.mount_namespace) {
    const std::string& r = spec.jail_root;
    if (r.empty() || r[0] != '/') return Error(ErrorCode::kInvalidArgument, "jail root '" + r + "' is not absolute");
    // Nothing mounted here may propagate back to the host.
    plan.push_back(mount_op("", "/", "", MS_REC | MS_PRIVATE));
    plan.push_back(mount_op("tmpfs", r, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755,size=64k"));
    // All of /usr, read-only: QEMU's libraries (some sixty), the modules it
    // dlopens on demand (/usr/lib/x86_64-linux-gnu/qemu) and its firmware and
    // option ROMs (/usr/share/qemu, seabios) change with every package update,
    // so an exact list would break on the next upgrade. /usr holds programs
    // and data anyone on the host may read, nothing private (docs/security.md).
    plan.push_back(path_op(MountOpKind::kMkdir, r + "/usr", 0755));
    plan.push_back(mount_op("/usr", r + "/usr", "", MS_BIND | MS_REC));
    plan.push_back(path_op(MountOpKind::kSetReadonly, r + "/usr"));
    for (const char* link : {"lib", "lib64", "bin", "sbin"}) {
      MountOp l = path_op(MountOpKind::kSymlink, r + "/" + link);
      l.source = std::string("usr/") + link;
      plan.push_back(l);
    }
    // A QEMU outside /usr (KRUNBOX_QEMU) is shown as that one file, at its
    // own path; its libraries must still come from /usr.
    if (!argv[0].starts_with("/usr/")) {
      for (size_t slash = argv[0].find('/', 1); slash != std::string::npos; slash = argv[0].find('/', slash + 1))
        plan.push_back(path_op(MountOpKind::kMkdir, r + argv[0].substr(0, slash), 0755));
      bind_file_readonly(plan, argv[0], r + argv[0]);
    }
    // /dev is a tmpfs of its own, the one place in the jail where device
    // nodes work (the jail's root is nodev).
    plan.push_back(path_op(MountOpKind::kMkdir, r + "/dev", 0755));
    plan.push_back(mount_op("tmpfs", r + "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=4k"));
    bind_file_readonly(plan, "/dev/null", r + "/dev/null");
    if (spec.kvm) {
      // As Firecracker's jailer does: a /dev/kvm node of the jail's own,
      // owned by the jail uid with mode 0600, so QEMU opens it whatever the
      // host's node allows (0600 root, 0660 root:kvm) and nobody else gains
      // anything: the node exists only in this mount namespace.
      struct stat kvm {};
      if (::stat("/dev/kvm", &kvm) != 0) return Error::from_errno("stat /dev/kvm");
      if (!S_ISCHR(kvm.st_mode)) return Error(ErrorCode::kUnsupported, "/dev/kvm is not a character device");
      MountOp node = path_op(MountOpKind::kMknod, r + "/dev/kvm", S_IFCHR | 0600);
      node.dev = kvm.st_rdev;
      plan.push_back(node);
      MountOp owner = path_op(MountOpKind::kChown, r + "/dev/kvm");
      owner.uid = spec.uid.value_or(0);
      owner.gid = static_cast<gid_t>(owner.uid);
      plan.push_back(owner);
    }
    plan.push_back(path_op(MountOpKind::kSetReadonly, r + "/dev"));
    plan.push_back(path_op(MountOpKind::kMkdir, r + kJailBootDir, 0755));
    for (const auto& [host, name] : spec.boot_files) {
      if (name.empty() || name.find('/') != std::string::npos)
        return Error(ErrorCode::kInvalidArgument, "jail boot file name '" + name + "' must be a plain name");
      bind_file_readonly(plan, host, r + kJailBootDir + "/" + name);
    }
    plan.push_back(path_op(MountOpKind::kMkdir, r + kJailVmDir, 0700));
    plan.push_back(mount_op(spec.vm_dir, r + kJailVmDir, "", MS_BIND));
    MountOp pivot = path_op(MountOpKind::kPivotRoot, r);
    pivot.source = std::string(kOldRootDir).substr(1);
    plan.push_back(pivot);
    plan.push_back(path_op(MountOpKind::kDetach, kOldRootDir));
    // The jail's own tmpfs root becomes read-only too (only that mount: /vm stays writable).
    plan.push_back(mount_op("", "/", "", MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC));
  }

  UniqueFd null_fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!null_fd.valid()) return Error::from_errno("open /dev/null");
  UniqueFd log_fd(::open(spec.log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  if (!log_fd.valid()) return Error::from_errno("open " + spec.log_file);
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return Error::from_errno("pipe2");
  UniqueFd report_read(pipe_fds[0]), report_write(pipe_fds[1]);

  // Every string the child touches, made before the fork.
  std::vector<char*> cargv;
  for (const auto& s : argv) cargv.push_back(const_cast<char*>(s.c_str()));
  cargv.push_back(nullptr);
  static const char* const kEnv[] = {"PATH=/usr/bin", "LC_ALL=C", nullptr};
  std::vector<const char*> procs;
  for (const auto& p : spec.cgroup_procs) procs.push_back(p.c_str());
  RealMountSyscalls sys;

  JailChildArgs a;
  a.exe = argv[0].c_str();
  a.argv = cargv.data();
  a.envp = const_cast<char* const*>(kEnv);
  a.stdin_fd = null_fd.get();
  a.log_fd = log_fd.get();
  a.report_fd = report_write.get();
  a.parent = ::getpid();
  a.cgroup_procs = procs.data();
  a.cgroup_procs_count = procs.size();
  a.plan = spec.mount_namespace ? &plan : nullptr;
  a.sys = &sys;
  a.drop_privileges = spec.uid.has_value();
  a.uid = spec.uid.value_or(0);
  a.gid = static_cast<gid_t>(a.uid);

  pid_t pid = ::fork();
  if (pid < 0) return Error::from_errno("fork for QEMU");
  if (pid == 0) run_jail_child(a);
  UniquePid child(pid);
  report_write.reset();

  JailChildReport report;
  ssize_t n;
  do {
    n = ::read(report_read.get(), &report, sizeof report);
  } while (n < 0 && errno == EINTR);
  if (n == 0) return child;  // the pipe closed on exec
  (void)child.kill(SIGKILL);
  (void)child.wait();
  if (n != static_cast<ssize_t>(sizeof report))
    return Error(ErrorCode::kInternal, "QEMU's jail child ended without a complete report");
  std::string what = describe(report.step);
  if (report.step == JailStep::kMountPlan && report.mount_op >= 0 && static_cast<size_t>(report.mount_op) < plan.size())
    what += " (" + plan[report.mount_op].describe() + ")";
  return Error(ErrorCode::kIo, "starting QEMU in its jail: " + what + " failed: " + std::strerror(report.err));
}

}  // namespace krunbox
