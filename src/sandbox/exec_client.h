// `krunbox exec`: a command in a running sandbox, through its monitor, with
// stdio streamed, signals forwarded and a pty when asked (as run does).
#pragma once

#include <string>
#include <vector>

#include "krunbox/error.h"
#include "sandbox/lifecycle.h"
#include "sandbox/workload.h"

namespace krunbox {

struct ExecOptions {
  std::vector<std::string> argv;
  std::vector<std::string> env;  // KEY=VALUE, over the sandbox's own
  std::string cwd;               // empty: the sandbox's
  std::string user;              // empty: the sandbox's
  bool interactive = false;
  bool tty = false;
  int in_fd = 0;
  int out_fd = 1;
  int err_fd = 2;
};

// An error when the command could not be started; kCrashed when the
// sandbox went away before it ended.
Result<WorkloadOutcome> exec_in_sandbox(Lifecycle& lifecycle, const std::string& id, const ExecOptions& options);

}  // namespace krunbox
