// A sandbox's cgroups: memory, cpu and pids limits, the device allow-list and
// the freezer behind pause/resume, in the groups backend/linux/cgroup.h makes
// (v1: one per controller, as on hybrid hosts; v2: one). Each limit is
// applied where the controller is writable; what could not be applied is
// recorded in notes() so `doctor` and --verbose can say so.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "backend/linux/cgroup.h"
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

  // Moves `pid` into every group.
  Status add_process(pid_t pid) { return set_.add_process(pid); }
  // See CgroupSet::open_join_files: the sandbox's PID 1 joins through these
  // before anything else, so no code of the sandbox runs outside the groups.
  Result<std::vector<UniqueFd>> open_join_files() const { return set_.open_join_files(); }
  bool can_freeze() const { return !freezer_dir_.empty(); }
  Status freeze();
  Status thaw();
  // The processes in the group (nullopt when there is no group to ask).
  std::optional<std::vector<pid_t>> processes() const;
  // The OOM kills the memory controller has counted (nullopt: unknown).
  std::optional<uint64_t> oom_kills() const;

  // Kills what is left in the groups and removes them; safe to call twice.
  Status destroy();

  const std::vector<std::string>& dirs() const { return set_.dirs(); }
  const std::vector<std::string>& notes() const { return notes_; }

 private:
  CgroupSet set_;
  std::string memory_dir_, freezer_dir_;
  std::vector<std::string> notes_;
};

// The group directories a sandbox with `id` would have under `root`.
std::vector<std::string> cgroup_dirs_for(const std::string& root, const std::string& id);

// Sandbox ids that have a group under `root` (for sweeping leftovers).
std::vector<std::string> list_cgroup_sandbox_ids(const std::string& root);

}  // namespace krunbox::native
