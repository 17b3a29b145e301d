// For tests: a MountSyscalls that records every call as one line instead of
// calling the kernel, over a pretend file system, so that a MountPlan's
// execution can be checked without root.
#pragma once

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "backend/linux/mount_ops_child.h"

namespace krunbox::testing {

// Records every call as one line and pretends a small file system: paths in
// `dirs` and `files` exist; everything else is missing.
class RecordingSyscalls : public MountSyscalls {
 public:
  std::vector<std::string> calls;
  std::set<std::string> dirs{"/", "/proc", "/proc/acpi", "/sys", "/sys/firmware", "/proc/sys", "/proc/bus"};
  std::set<std::string> files{"/proc/kcore", "/proc/keys", "/proc/sysrq-trigger"};
  std::string fail_call;  // the first call starting with this fails with fail_errno
  int fail_errno = EPERM;

  int mount(const char* s, const char* t, const char* f, unsigned long flags, const char* d) override {
    return rec("mount " + str(s) + " " + str(t) + " " + str(f) + " " + std::to_string(flags) + " " + str(d));
  }
  int umount_detach(const char* t) override { return rec("umount " + str(t)); }
  int mkdir(const char* p, mode_t) override {
    if (dirs.count(p) || files.count(p)) return rec("mkdir " + str(p), EEXIST);
    dirs.insert(p);
    return rec("mkdir " + str(p));
  }
  int rmdir(const char* p) override { return rec("rmdir " + str(p)); }
  int create_file(const char* p, mode_t) override { return rec("touch " + str(p)); }
  int symlink(const char* to, const char* p) override { return rec("symlink " + str(p) + " " + str(to)); }
  int mknod(const char* p, mode_t, dev_t) override { return rec("mknod " + str(p)); }
  int chown(const char* p, uid_t u, gid_t g) override {
    return rec("chown " + str(p) + " " + std::to_string(u) + ":" + std::to_string(g));
  }
  int set_readonly(const char* p) override { return rec("readonly " + str(p)); }
  int stat_kind(const char* p, bool* is_dir) override {
    if (dirs.count(p)) return *is_dir = true, 0;
    if (files.count(p)) return *is_dir = false, 0;
    return ENOENT;
  }
  int chdir(const char* p) override { return rec("chdir " + str(p)); }
  int pivot_root(const char* n, const char* o) override { return rec("pivot_root " + str(n) + " " + str(o)); }
  int mkdir_in(const char* r, const char* p, mode_t) override { return rec("mkdir_in " + str(r) + " " + str(p)); }
  int create_file_in(const char* r, const char* p, mode_t) override {
    return rec("touch_in " + str(r) + " " + str(p));
  }
  int stat_kind_in(const char*, const char*, bool* is_dir) override { return *is_dir = true, 0; }
  int bind_volume(const char* s, const char* r, const char* p, uint64_t attrs) override {
    return rec("bind_volume " + str(s) + " " + str(r) + " " + str(p) + " " + std::to_string(attrs));
  }

  bool has(const std::string& prefix) const {
    return std::any_of(calls.begin(), calls.end(), [&](const std::string& c) { return c.rfind(prefix, 0) == 0; });
  }
  size_t index_of(const std::string& prefix) const {
    for (size_t i = 0; i < calls.size(); ++i)
      if (calls[i].rfind(prefix, 0) == 0) return i;
    return SIZE_MAX;
  }

 private:
  static std::string str(const char* s) { return s ? s : "-"; }
  int rec(std::string call, int err = 0) {
    if (!fail_call.empty() && call.rfind(fail_call, 0) == 0) err = fail_errno;
    calls.push_back(std::move(call));
    return err;
  }
};

}  // namespace krunbox::testing
