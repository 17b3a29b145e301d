// cgroup groups as the backends use them: one named group per sandbox under
// each v1 controller (hybrid hosts) or one v2 group with those controllers
// enabled from the root down, made and removed here; what each backend
// writes into them (limits, device rules, the freezer) stays with it. The
// native backend's groups are krunbox/<id>, QEMU's jails krunbox-qemu/<id>.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "base/unique_fd.h"
#include "krunbox/error.h"

namespace krunbox {

// cgroupfs files exist already and take one write; no temp-and-rename.
// O_CREAT only matters for the plain-directory trees tests pass as roots.
Status write_cgroup_file(const std::string& path, const std::string& value);
// Whether `path` is on a cgroup file system (v1 or v2), not a test's tree.
bool is_cgroupfs(const std::string& path);
// Whether `root` is a v2 hierarchy (a fake tree says so with cgroup.controllers).
bool is_cgroup2_root(const std::string& root);

// The pids in the group's cgroup.procs (nullopt: unreadable).
std::optional<std::vector<pid_t>> cgroup_processes(const std::string& dir);
bool cgroup_has_processes(const std::string& dir);
// Thaws the group, SIGKILLs every process in it until it is empty (at most
// 5 s), and removes the directory. A missing directory is fine.
Status remove_cgroup_dir(const std::string& dir);

// Every directory a group `parent/id` may have under `root`: one per v1
// controller in `controllers`, then the v2 one.
std::vector<std::string> cgroup_group_dirs(const std::string& root, const std::string& parent, const std::string& id,
                                           const std::vector<std::string>& controllers);
// The ids that have a group under `parent` in any of those places.
std::vector<std::string> list_cgroup_group_ids(const std::string& root, const std::string& parent,
                                               const std::vector<std::string>& controllers);

class CgroupSet {
 public:
  // Never fails: a controller whose group cannot be made is skipped and
  // noted. On v2, "freezer" and "devices" name no controller to enable (the
  // freezer is cgroup.freeze; devices are a BPF program on the group).
  static CgroupSet create(const std::string& root, const std::string& parent, const std::string& id,
                          const std::vector<std::string>& controllers);

  CgroupSet() = default;
  CgroupSet(CgroupSet&& other) noexcept;
  CgroupSet& operator=(CgroupSet&& other) noexcept;
  CgroupSet(const CgroupSet&) = delete;
  CgroupSet& operator=(const CgroupSet&) = delete;
  // Removes the groups (killing anything still in them).
  ~CgroupSet();

  bool v2() const { return v2_; }
  // No cgroup file system at the root at all.
  bool missing() const { return missing_; }
  // The group that `controller` governs; empty when it has none.
  std::string dir(const std::string& controller) const;
  // Removes the group of one controller (say, one left half-configured).
  Status drop(const std::string& controller);
  // One open file per group through which a process joins it by writing
  // "0" (itself). v1: the group's `tasks`, since a thread that moves itself
  // skips the kernel's threadgroup lock, whose first writer waits for an RCU
  // grace period (~6 ms on every start when a parent wrote cgroup.procs);
  // a single-threaded child moves whole that way. v2: cgroup.procs. The
  // kernel checks the credentials of the file's opener (the host side), not
  // the writer's. Close-on-exec.
  Result<std::vector<UniqueFd>> open_join_files() const;
  // Writes `pid` into each group's cgroup.procs.
  Status add_process(pid_t pid);
  // Kills what is left in the groups and removes them; safe to call twice.
  Status destroy();

  const std::vector<std::string>& dirs() const { return dirs_; }
  const std::vector<std::string>& notes() const { return notes_; }

 private:
  bool v2_ = false;
  bool missing_ = false;
  std::vector<std::string> controllers_;  // parallel to dirs_ on v1
  std::vector<std::string> dirs_;
  std::vector<std::string> notes_;
};

}  // namespace krunbox
