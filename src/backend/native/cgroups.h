// A sandbox's cgroups: memory, cpu and pids limits, and the freezer behind
// pause/resume. v1 (one group per controller, as on hybrid hosts) or v2 (one
// group with controllers enabled from its parent). Each limit is applied
// where the controller is writable; what could not be applied is recorded in
// notes() so `doctor` and --verbose can say so.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "backend/native/cgroup_probe.h"
#include "base/unique_fd.h"
#include "krunbox/error.h"

namespace krunbox::native {

struct CgroupLimits {
  std::optional<uint64_t> memory_bytes;
  std::optional<uint32_t> cpu_millis;  // 1000 = one CPU
  std::optional<uint32_t> pids;
};

// The group name under every controller: krunbox/<sandbox id>.
inline constexpr const char* kCgroupParent = "krunbox";

class SandboxCgroup {
 public:
  // root: the cgroup mount (/sys/fs/cgroup; tests pass a fake tree).
  static Result<SandboxCgroup> create(const std::string& root, const std::string& id, const CgroupLimits& limits);

  SandboxCgroup() = default;
  SandboxCgroup(SandboxCgroup&& other) noexcept;
  SandboxCgroup& operator=(SandboxCgroup&& other) noexcept;
  SandboxCgroup(const SandboxCgroup&) = delete;
  SandboxCgroup& operator=(const SandboxCgroup&) = delete;
  // Removes the groups (killing anything still in them).
  ~SandboxCgroup();

  // Moves `pid` into every group.
  Status add_process(pid_t pid);
  // One open file per group through which a process joins it by writing "0"
  // (itself): the sandbox's PID 1 does so before anything else, so no code
  // of the sandbox runs outside the groups. v1: the group's `tasks`, since a
  // thread that moves itself skips the kernel's threadgroup lock, whose
  // first writer waits for an RCU grace period (~6 ms on every start, when a
  // parent writes cgroup.procs); the child is single-threaded, so its
  // process moves whole. v2: cgroup.procs. The kernel checks the opener's
  // credentials (ours, on the host), not the writer's. Close-on-exec.
  Result<std::vector<UniqueFd>> open_join_files() const;
  bool can_freeze() const { return !freezer_dir_.empty(); }
  Status freeze();
  Status thaw();
  // The processes in the group (nullopt when there is no group to ask).
  std::optional<std::vector<pid_t>> processes() const;
  // The OOM kills the memory controller has counted (nullopt: unknown).
  std::optional<uint64_t> oom_kills() const;

  // Kills what is left in the groups and removes them; safe to call twice.
  Status destroy();

  const std::vector<std::string>& dirs() const { return dirs_; }
  const std::vector<std::string>& notes() const { return notes_; }

 private:
  CgroupMode mode_ = CgroupMode::kNone;
  std::vector<std::string> dirs_;  // every group we created, to remove
  std::string memory_dir_, freezer_dir_;
  std::vector<std::string> notes_;
};

// Kills every process listed in the group's cgroup.procs, waits for them to
// leave, and removes the directory. A missing directory is fine.
Status remove_cgroup_dir(const std::string& dir);

// The group directories a sandbox with `id` would have under `root`.
std::vector<std::string> cgroup_dirs_for(const std::string& root, const std::string& id);
// Whether any process is in the group (cgroup.procs not empty).
bool cgroup_has_processes(const std::string& dir);

// Sandbox ids that have a group under `root` (for sweeping leftovers).
std::vector<std::string> list_cgroup_sandbox_ids(const std::string& root);

}  // namespace krunbox::native
