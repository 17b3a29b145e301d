// `krunbox run`: one workload in a fresh sandbox, with its stdio streamed,
// signals forwarded, and everything torn down on every path.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "backend/sandbox_spec.h"
#include "base/unique_pid.h"
#include "krunbox/error.h"
#include "sandbox/workload.h"

namespace krunbox {

struct OneShotOptions {
  std::string backend = "auto";
  bool require_vm = false;
  SandboxSpec spec;           // validated; spec.argv is the workload
  bool interactive = false;   // attach stdin (-i)
  bool tty = false;           // allocate a pty (-t)
  // NAME=VALUE of --secret: added to the workload's environment only (never the spec).
  std::vector<std::string> secret_env;
  std::chrono::milliseconds stop_grace{std::chrono::seconds(2)};
  int in_fd = 0;
  int out_fd = 1;
  int err_fd = 2;
  // Told which backend and isolation were chosen (for --verbose).
  std::function<void(const std::string& backend, const std::string& isolation)> on_backend;
};

struct OneShotOutcome {
  WorkloadOutcome workload;  // kCrashed when the sandbox died under it
  std::string backend;
};

// Blocks SIGINT, SIGTERM, SIGHUP, SIGQUIT and SIGWINCH for its duration and
// forwards them to the workload (SIGWINCH as a pty resize). An error is a
// failure to start; once the workload started, its end is the outcome.
Result<OneShotOutcome> run_one_shot(const OneShotOptions& options);

}  // namespace krunbox
