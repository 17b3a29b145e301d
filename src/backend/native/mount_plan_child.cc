#include "backend/native/mount_plan_child.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace krunbox::native {
namespace {

int result(int r) { return r == 0 ? 0 : errno; }

// An empty read-only tmpfs hides a directory's contents without leaving a
// writable place; "/dev/null" hides a file.
int mask_path(MountSyscalls& sys, const char* path) {
  bool is_dir = false;
  if (int err = sys.stat_kind(path, &is_dir)) return err;
  if (is_dir) return sys.mount("tmpfs", path, "tmpfs", MS_RDONLY, "size=0,mode=0555");
  return sys.mount("/dev/null", path, nullptr, MS_BIND, nullptr);
}

int readonly_path(MountSyscalls& sys, const char* path) {
  bool is_dir = false;
  if (int err = sys.stat_kind(path, &is_dir)) return err;
  if (int err = sys.mount(path, path, nullptr, MS_BIND | MS_REC, nullptr)) return err;
  return sys.set_readonly(path);
}

int run_op(const MountOp& op, MountSyscalls& sys) {
  const char* target = op.target.c_str();
  switch (op.kind) {
    case MountOpKind::kMount:
      return sys.mount(op.source.empty() ? nullptr : op.source.c_str(), target,
                       op.fstype.empty() ? nullptr : op.fstype.c_str(), op.flags,
                       op.data.empty() ? nullptr : op.data.c_str());
    case MountOpKind::kMkdir: {
      int err = sys.mkdir(target, op.mode);
      if (err == EEXIST) {
        bool is_dir = false;
        int st = sys.stat_kind(target, &is_dir);
        return st != 0 ? st : (is_dir ? 0 : ENOTDIR);
      }
      return err;
    }
    case MountOpKind::kCreateFile: {
      int err = sys.create_file(target, op.mode);
      return err == EEXIST ? 0 : err;
    }
    case MountOpKind::kSymlink: {
      int err = sys.symlink(op.source.c_str(), target);
      return err == EEXIST ? 0 : err;
    }
    case MountOpKind::kMknod: return sys.mknod(target, op.mode, op.dev);
    case MountOpKind::kChown: return sys.chown(target, op.uid, op.gid);
    case MountOpKind::kSetReadonly: return sys.set_readonly(target);
    case MountOpKind::kMask: return mask_path(sys, target);
    case MountOpKind::kReadonlyPath: return readonly_path(sys, target);
    case MountOpKind::kPivotRoot: {
      if (int err = sys.chdir(target)) return err;
      int err = sys.mkdir(op.source.c_str(), 0700);
      if (err != 0 && err != EEXIST) return err;
      if (int e = sys.pivot_root(".", op.source.c_str())) return e;
      return sys.chdir("/");
    }
    case MountOpKind::kDetach: {
      if (int err = sys.umount_detach(target)) return err;
      return sys.rmdir(target);
    }
  }
  return EINVAL;
}

}  // namespace

PlanFailure execute_mount_plan(const MountPlan& plan, MountSyscalls& sys) {
  for (size_t i = 0; i < plan.size(); ++i) {
    int err = run_op(plan[i], sys);
    if (err == ENOENT && plan[i].optional) continue;
    if (err != 0) return {static_cast<int>(i), err};
  }
  return {};
}

int RealMountSyscalls::mount(const char* source, const char* target, const char* fstype, unsigned long flags,
                             const char* data) {
  return result(::mount(source, target, fstype, flags, data));
}

int RealMountSyscalls::umount_detach(const char* target) { return result(::umount2(target, MNT_DETACH)); }
int RealMountSyscalls::mkdir(const char* path, mode_t mode) {
  if (::mkdir(path, mode) != 0) return errno;
  // mkdir applies the umask; the plan's mode is what the sandbox must see (01777 for /dev/shm).
  return result(::chmod(path, mode));
}
int RealMountSyscalls::rmdir(const char* path) { return result(::rmdir(path)); }

int RealMountSyscalls::create_file(const char* path, mode_t mode) {
  int fd = ::open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) return errno;
  ::close(fd);
  return 0;
}

int RealMountSyscalls::symlink(const char* to, const char* path) { return result(::symlink(to, path)); }
int RealMountSyscalls::mknod(const char* path, mode_t mode, dev_t dev) {
  if (::mknod(path, mode, dev) != 0) return errno;
  return result(::chmod(path, mode & 07777));
}

int RealMountSyscalls::chown(const char* path, uid_t uid, gid_t gid) {
  return result(::lchown(path, uid, gid));
}

int RealMountSyscalls::set_readonly(const char* path) {
  struct mount_attr attr {};
  attr.attr_set = MOUNT_ATTR_RDONLY;
  if (::syscall(SYS_mount_setattr, AT_FDCWD, path, AT_RECURSIVE, &attr, sizeof attr) == 0) return 0;
  if (errno != ENOSYS) return errno;
  // Kernels before 5.12 have no mount_setattr; a remount reaches only the top mount.
  return result(::mount(nullptr, path, nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY, nullptr));
}

int RealMountSyscalls::stat_kind(const char* path, bool* is_dir) {
  struct stat st {};
  if (::stat(path, &st) != 0) return errno;
  *is_dir = S_ISDIR(st.st_mode);
  return 0;
}

int RealMountSyscalls::chdir(const char* path) { return result(::chdir(path)); }
int RealMountSyscalls::pivot_root(const char* new_root, const char* put_old) {
  return result(static_cast<int>(::syscall(SYS_pivot_root, new_root, put_old)));
}

}  // namespace krunbox::native
