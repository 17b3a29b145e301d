// The small state file in each sandbox's run directory, so that a later
// krunbox process can tell whether the sandbox's owner is still alive and
// what to clean up if not. Processes are named by pid plus start time, so a
// recycled pid is never mistaken for the owner.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include "krunbox/error.h"

namespace krunbox::native {

struct ProcessRef {
  pid_t pid = 0;
  uint64_t start_time = 0;  // field 22 of /proc/PID/stat, in clock ticks since boot
};

// The running process `pid` with its start time, or nullopt if it is gone.
std::optional<ProcessRef> process_ref(pid_t pid);
// True if that exact process (same pid and start time) still runs.
bool process_alive(const ProcessRef& p);

struct RunState {
  std::string id;
  ProcessRef owner;
  std::optional<ProcessRef> pid1;
  std::string cgroup_root;
};

inline constexpr const char* kStateFile = "state.json";

Status write_run_state(const std::string& run_dir, const RunState& state);
Result<RunState> read_run_state(const std::string& run_dir);

// run_root/sandboxes
std::string sandboxes_dir(const std::string& run_root);

}  // namespace krunbox::native
