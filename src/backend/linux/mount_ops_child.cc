#include "backend/linux/mount_ops_child.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace krunbox {
namespace {

int result(int r) { return r == 0 ? 0 : errno; }

// Closes on every way out; the child cannot use UniqueFd's logging.
struct ChildFd {
  int fd = -1;
  ~ChildFd() {
    if (fd >= 0) ::close(fd);
  }
};

// openat2 of `path` below the directory `root` with RESOLVE_IN_ROOT.
int open_in_root(const char* root, const char* path, uint64_t flags, ChildFd* out) {
  ChildFd dir;
  dir.fd = ::open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dir.fd < 0) return errno;
  open_how how{};
  how.flags = flags | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  while (*path == '/') ++path;  // relative to the root's fd, with nothing left out
  long fd = ::syscall(SYS_openat2, dir.fd, *path ? path : ".", &how, sizeof how);
  if (fd < 0) return errno;
  out->fd = static_cast<int>(fd);
  return 0;
}

// Splits an absolute path into its parent and last component, both in
// `buf`. No allocation: this runs in the cloned child.
int split_path(const char* path, char (&buf)[4096], const char** parent, const char** leaf) {
  size_t n = std::strlen(path);
  while (n > 1 && path[n - 1] == '/') --n;
  if (n == 0 || n >= sizeof buf) return ENAMETOOLONG;
  std::memcpy(buf, path, n);
  buf[n] = 0;
  char* slash = std::strrchr(buf, '/');
  if (!slash || slash[1] == 0) return EINVAL;
  *leaf = slash + 1;
  if (slash == buf) {
    *parent = "/";
  } else {
    *slash = 0;
    *parent = buf;
  }
  return 0;
}

// The parent directory of `path` inside `root`, and its last component.
int open_parent_in_root(const char* root, const char* path, char (&buf)[4096], const char** leaf, ChildFd* parent) {
  const char* dir = nullptr;
  if (int err = split_path(path, buf, &dir, leaf)) return err;
  if (std::strcmp(*leaf, ".") == 0 || std::strcmp(*leaf, "..") == 0) return EINVAL;
  return open_in_root(root, dir, O_PATH | O_DIRECTORY, parent);
}

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
      const char* root = op.root.empty() ? nullptr : op.root.c_str();
      int err = root ? sys.mkdir_in(root, target, op.mode) : sys.mkdir(target, op.mode);
      if (err == EEXIST) {
        bool is_dir = false;
        int st = root ? sys.stat_kind_in(root, target, &is_dir) : sys.stat_kind(target, &is_dir);
        return st != 0 ? st : (is_dir ? 0 : ENOTDIR);
      }
      return err;
    }
    case MountOpKind::kCreateFile: {
      int err = op.root.empty() ? sys.create_file(target, op.mode) : sys.create_file_in(op.root.c_str(), target, op.mode);
      return err == EEXIST ? 0 : err;
    }
    case MountOpKind::kBindVolume:
      if (op.root.empty()) return EINVAL;  // always resolved inside the new root
      return sys.bind_volume(op.source.c_str(), op.root.c_str(), target, op.attrs);
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

int RealMountSyscalls::mkdir_in(const char* root, const char* path, mode_t mode) {
  char buf[4096];
  const char* leaf = nullptr;
  ChildFd parent;
  if (int err = open_parent_in_root(root, path, buf, &leaf, &parent)) return err;
  if (::mkdirat(parent.fd, leaf, mode) != 0) return errno;
  // mkdirat applied the umask; the new entry is ours and no workload runs yet.
  return result(::fchmodat(parent.fd, leaf, mode, 0));
}

int RealMountSyscalls::create_file_in(const char* root, const char* path, mode_t mode) {
  char buf[4096];
  const char* leaf = nullptr;
  ChildFd parent;
  if (int err = open_parent_in_root(root, path, buf, &leaf, &parent)) return err;
  int fd = ::openat(parent.fd, leaf, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) return errno;
  ::close(fd);
  return 0;
}

int RealMountSyscalls::stat_kind_in(const char* root, const char* path, bool* is_dir) {
  ChildFd fd;
  if (int err = open_in_root(root, path, O_PATH, &fd)) return err;
  struct stat st {};
  if (::fstat(fd.fd, &st) != 0) return errno;
  *is_dir = S_ISDIR(st.st_mode);
  return 0;
}

int RealMountSyscalls::bind_volume(const char* source, const char* root, const char* path, uint64_t attrs) {
  ChildFd target;
  if (int err = open_in_root(root, path, O_PATH, &target)) return err;
  // The new mount API works on fds end to end: the mount lands exactly on
  // the directory opened inside the root, whatever the path's symlinks say.
  ChildFd tree;
  tree.fd = static_cast<int>(
      ::syscall(SYS_open_tree, AT_FDCWD, source, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE));
  if (tree.fd < 0) return errno;
  if (attrs != 0) {
    struct mount_attr attr {};
    attr.attr_set = attrs;
    if (::syscall(SYS_mount_setattr, tree.fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) != 0) return errno;
  }
  return result(static_cast<int>(::syscall(SYS_move_mount, tree.fd, "", target.fd, "",
                                           MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH)));
}

}  // namespace krunbox
