// `krunbox exec`: a command in a running sandbox, through its monitor, with
// stdio streamed, signals forwarded and a pty when asked (as run does).
#pragma once

#include <string>
#include <vector>

#include "base/unique_pid.h"
#include "krunbox/error.h"
#include "sandbox/lifecycle.h"

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

struct ExecResult {
  ExitStatus status;
  bool timed_out = false;
};

Result<ExecResult> exec_in_sandbox(Lifecycle& lifecycle, const std::string& id, const ExecOptions& options);

}  // namespace krunbox
