// The forked child that becomes a jailed QEMU. Everything here is
// async-signal-safe (the parent may have threads): no allocation, no locks,
// raw system calls only; the parent prepares every string and buffer.
#pragma once

#include <sys/types.h>

#include <cstddef>

#include "backend/linux/mount_ops_child.h"

namespace krunbox {

enum class JailStep : int {
  kNone = 0,
  kDeathSignal,
  kStdio,
  kCgroup,
  kMountNamespace,
  kMountPlan,
  kCapabilityBounds,
  kGroups,
  kGid,
  kUid,
  kNoNewPrivs,
  kCloseFds,
  kExec,
};
const char* describe(JailStep step);

// What the child writes to the report pipe before _exit; nothing on success
// (the pipe closes on exec).
struct JailChildReport {
  JailStep step = JailStep::kNone;
  int err = 0;
  int mount_op = -1;  // kMountPlan: the index of the failed op
};

struct JailChildArgs {
  const char* exe = nullptr;
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  int stdin_fd = -1;
  int log_fd = -1;
  int report_fd = -1;
  pid_t parent = 0;
  const char* const* cgroup_procs = nullptr;
  size_t cgroup_procs_count = 0;
  const MountPlan* plan = nullptr;  // null: stay in the parent's mount namespace
  MountSyscalls* sys = nullptr;
  bool drop_privileges = false;
  uid_t uid = 0;
  gid_t gid = 0;
};

[[noreturn]] void run_jail_child(const JailChildArgs& args);

}  // namespace krunbox
