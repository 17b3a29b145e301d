// One command in a running sandbox for the API: the request goes to the
// sandbox's monitor, stdin is given whole, output goes to a callback as it
// arrives, and the API's timeout is kept here. Unlike the CLI's
// exec_in_sandbox there is no terminal and no signal forwarding: a server
// must not take its own SIGTERM for the command's.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/unique_fd.h"
#include "krunbox/error.h"
#include "sandbox/lifecycle.h"
#include "sandbox/workload.h"

namespace krunbox::serve {

struct ExecParams {
  Workload workload;                      // argv, env, cwd, user
  std::optional<std::string> stdin_data;  // given, then closed; nullopt: no stdin
  std::chrono::seconds timeout{0};        // 0: none; then the command is killed
};

struct ExecEnd {
  int exit_code = 0;  // 128+N for signal N; 124 after the timeout
  int signal = 0;
  bool timed_out = false;
};

enum class OutputStream { kStdout, kStderr };
// False: stop (the client went away); the command is killed.
using OutputSink = std::function<bool(OutputStream, std::string_view)>;

class ExecCall {
 public:
  // Checks the sandbox runs and the request fits, and starts the command;
  // errors here come before any output (404, 409, 400).
  static Result<std::unique_ptr<ExecCall>> start(Lifecycle& lifecycle, const std::string& id, ExecParams params);
  ~ExecCall();
  ExecCall(const ExecCall&) = delete;
  ExecCall& operator=(const ExecCall&) = delete;

  int64_t pid() const { return pid_; }
  // Hands output to `sink` until the command ends.
  Result<ExecEnd> run(const OutputSink& sink);

 private:
  ExecCall(std::string id, UniqueFd conn, ExecParams params, int64_t pid);
  Status kill();

  std::string id_;
  UniqueFd conn_;
  ExecParams params_;
  int64_t pid_ = 0;
  struct Writer;
  std::unique_ptr<Writer> writer_;
};

}  // namespace krunbox::serve
