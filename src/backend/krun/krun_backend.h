// The krun backend: each sandbox is a libkrun microVM run by its own
// krunbox-vmm helper process (krun_start_enter takes the process over). The
// helper serves the sandbox's rootfs under an overlay with krunbox-agent
// placed at a reserved path, runs the agent through libkrun's init, and maps
// a vsock port to a unix socket this backend listens on. The helper's exit
// status is the guest's; libkrun's reserved codes are named in crash reports.
// See docs/backends/krun.md.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "backend/sandbox.h"
#include "krunbox/error.h"

namespace krunbox {

std::unique_ptr<Backend> make_krun_backend();

// What an exit code of the helper means in libkrun's terms ("" when it is an
// ordinary guest code).
std::string describe_libkrun_exit(int code);

// Kills the helpers and removes the run dirs of krun sandboxes whose owner
// process is gone. Returns what it removed, a line each.
Result<std::vector<std::string>> sweep_krun_leftovers(const std::string& run_root);

}  // namespace krunbox
