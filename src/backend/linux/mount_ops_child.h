// Executes a MountPlan in a child after fork/clone. Everything here is
// async-signal-safe: no allocation, no locks, only system calls through the
// MountSyscalls seam (the real one, or a recording fake in tests).
#pragma once

#include <sys/types.h>

#include <cstdint>

#include "backend/linux/mount_ops.h"

namespace krunbox {

// Each call returns 0 or the errno of the failure.
class MountSyscalls {
 public:
  virtual ~MountSyscalls() = default;
  virtual int mount(const char* source, const char* target, const char* fstype, unsigned long flags,
                    const char* data) = 0;
  virtual int umount_detach(const char* target) = 0;
  virtual int mkdir(const char* path, mode_t mode) = 0;
  virtual int rmdir(const char* path) = 0;
  virtual int create_file(const char* path, mode_t mode) = 0;
  virtual int symlink(const char* to, const char* path) = 0;
  virtual int mknod(const char* path, mode_t mode, dev_t dev) = 0;
  virtual int chown(const char* path, uid_t uid, gid_t gid) = 0;
  // Sets the read-only attribute on the mount at path and every mount below it.
  virtual int set_readonly(const char* path) = 0;
  // 0 and *is_dir set, or the errno (ENOENT when missing).
  virtual int stat_kind(const char* path, bool* is_dir) = 0;
  virtual int chdir(const char* path) = 0;
  virtual int pivot_root(const char* new_root, const char* put_old) = 0;
  // The same inside `root`: `path` (absolute) resolves as if `root` were "/",
  // and a symlink or ".." that would leave it stays in it (RESOLVE_IN_ROOT).
  virtual int mkdir_in(const char* root, const char* path, mode_t mode) = 0;
  virtual int create_file_in(const char* root, const char* path, mode_t mode) = 0;
  virtual int stat_kind_in(const char* root, const char* path, bool* is_dir) = 0;
  // Clones the mount tree at `source` (host path), sets `attrs`
  // (MOUNT_ATTR_*) on all of it, and attaches it on `path` inside `root`.
  virtual int bind_volume(const char* source, const char* root, const char* path, uint64_t attrs) = 0;
};

// The kernel. Usable only in a child that owns its mount namespace.
class RealMountSyscalls final : public MountSyscalls {
 public:
  int mount(const char* source, const char* target, const char* fstype, unsigned long flags,
            const char* data) override;
  int umount_detach(const char* target) override;
  int mkdir(const char* path, mode_t mode) override;
  int rmdir(const char* path) override;
  int create_file(const char* path, mode_t mode) override;
  int symlink(const char* to, const char* path) override;
  int mknod(const char* path, mode_t mode, dev_t dev) override;
  int chown(const char* path, uid_t uid, gid_t gid) override;
  int set_readonly(const char* path) override;
  int stat_kind(const char* path, bool* is_dir) override;
  int chdir(const char* path) override;
  int pivot_root(const char* new_root, const char* put_old) override;
  int mkdir_in(const char* root, const char* path, mode_t mode) override;
  int create_file_in(const char* root, const char* path, mode_t mode) override;
  int stat_kind_in(const char* root, const char* path, bool* is_dir) override;
  int bind_volume(const char* source, const char* root, const char* path, uint64_t attrs) override;
};

struct PlanFailure {
  int index = -1;  // the op that failed; -1: none
  int err = 0;
};

// Runs the ops in order and stops at the first failure.
PlanFailure execute_mount_plan(const MountPlan& plan, MountSyscalls& sys);

}  // namespace krunbox
