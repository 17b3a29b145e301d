// The small state file in each sandbox's run directory, so that a later
// krunbox process can tell whether the sandbox's owner is still alive and
// what to clean up if not. Processes are named by pid plus start time, so a
// recycled pid is never mistaken for the owner.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include "base/process_ref.h"
#include "krunbox/error.h"

namespace krunbox::native {

// Processes are named as in base/process_ref.h.
using krunbox::ProcessRef;
using krunbox::process_alive;
using krunbox::process_ref;

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
