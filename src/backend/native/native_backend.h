// The native backend: sandboxes made of Linux namespaces, an overlay root,
// seccomp, a reduced capability set and cgroups, with krunbox-agent as PID 1.
// See docs/backends/native.md for the layers and what each defends.
#pragma once

#include <memory>
#include <string>

#include "backend/sandbox.h"
#include "krunbox/error.h"

namespace krunbox {

std::unique_ptr<Backend> make_native_backend();

// Removes what sandboxes of dead owners left behind: their processes, cgroups
// and run directories (run_root()/sandboxes/<id>). A sandbox whose owner
// process still runs is left alone. The CLI calls this at start-up.
Status sweep_native_leftovers();

namespace native {

struct SweepOptions {
  std::string run_root;     // default: run_root()
  std::string cgroup_root;  // default: /sys/fs/cgroup
};
// What was removed, one line each (for --verbose).
Result<std::vector<std::string>> sweep_leftovers(const SweepOptions& options);

}  // namespace native
}  // namespace krunbox
