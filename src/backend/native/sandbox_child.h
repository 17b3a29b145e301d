// The code between clone() and the agent's exec. The parent prepares a
// ChildConfig (everything allocated and resolved up front); the child only
// reads it and makes system calls. On any failure it writes a ChildFailure
// to the error pipe and exits, and the parent turns it into an Error.
#pragma once

#include <linux/filter.h>
#include <sys/resource.h>
#include <sys/types.h>

#include <cstdint>
#include <string>

#include "backend/native/mount_plan.h"

namespace krunbox::native {

enum class ChildStep : int32_t {
  kNone = 0,
  kParentDeathSignal,
  kWaitForParent,
  kSignals,
  kCgroup,  // index: the join file
  kMounts,  // index: the MountPlan op
  kHostname,
  kLoopback,
  kStdio,
  kRlimits,
  kCapabilityBounds,
  kCapabilities,
  kNoNewPrivs,
  kSeccomp,
  kFds,
  kExecAgent,
};

struct ChildFailure {
  int32_t step = 0;
  int32_t index = -1;
  int32_t err = 0;
};

// Turns a reported failure into a message such as "mounting proc on /proc".
std::string describe_child_failure(const ChildFailure& failure, const MountPlan& plan);

struct ChildRlimit {
  int resource;
  rlimit value;
};

// The fd the agent serves on inside the sandbox (--fd 3).
inline constexpr int kAgentFd = 3;

struct ChildConfig {
  const MountPlan* plan = nullptr;
  // Read end. The parent writes one byte once the id maps are written (the
  // mounts need them); EOF instead means the parent is gone.
  int sync_fd = -1;
  // SandboxCgroup::open_join_files(): the child writes "0" to each, first
  // thing, then closes them.
  const int* cgroup_join_fds = nullptr;
  int cgroup_join_count = 0;
  int error_fd = -1;      // write end, close-on-exec: EOF at exec means success
  int agent_sock = -1;    // becomes kAgentFd
  int agent_exe_fd = -1;  // the agent binary, opened on the host before pivot_root
  const char* hostname = nullptr;
  bool bring_up_loopback = true;
  const ChildRlimit* rlimits = nullptr;
  int rlimit_count = 0;
  uint64_t keep_capabilities = 0;  // bit n: capability n
  int last_capability = 40;        // /proc/sys/kernel/cap_last_cap
  const sock_fprog* seccomp = nullptr;
  char* const* argv = nullptr;
  char* const* envp = nullptr;
};

// The capabilities a sandbox keeps, as a bit mask: Docker's default set
// without CAP_MKNOD, so no device node can be made (see device_filter.h).
uint64_t default_capabilities();

// Never returns: execs the agent or reports and _exits.
[[noreturn]] void sandbox_child_main(const ChildConfig& config);

}  // namespace krunbox::native
