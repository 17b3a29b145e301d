// One command in a running sandbox for the API, over the library's
// ExecSession (no terminal, no signal forwarding: the server keeps its own
// SIGTERM): stdin given whole, output to a callback as it arrives.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "krunbox/error.h"
#include "sandbox/exec_session.h"
#include "sandbox/lifecycle.h"
#include "sandbox/output_ring.h"
#include "sandbox/workload.h"

namespace krunbox::serve {

struct ExecParams {
  Workload workload;                      // argv, env, cwd, user
  std::optional<std::string> stdin_data;  // given, then closed; nullopt: no stdin
  std::chrono::seconds timeout{0};        // 0: none; then the agent kills the command
};

struct ExecEnd {
  int exit_code = 0;  // 128+N for signal N; 124 after the timeout
  int signal = 0;
  bool timed_out = false;
};

// How a command ended, for the API; a crash (the sandbox went away under
// it) is an error instead.
Result<ExecEnd> exec_end_of(const WorkloadOutcome& outcome);

// False: stop (the client went away); the command is then ended.
using OutputSink = std::function<bool(OutputStream, std::string_view)>;

class ExecCall {
 public:
  // Checks the sandbox runs and the request fits, and starts the command;
  // errors here come before any output (404, 409, 400).
  static Result<std::unique_ptr<ExecCall>> start(Lifecycle& lifecycle, const std::string& id, ExecParams params);
  ~ExecCall();
  ExecCall(const ExecCall&) = delete;
  ExecCall& operator=(const ExecCall&) = delete;

  int64_t pid() const { return session_->pid(); }
  // Hands output to `sink` until the command ends.
  Result<ExecEnd> run(const OutputSink& sink);

 private:
  ExecCall(std::unique_ptr<ExecSession> session, std::string id, ExecParams params)
      : session_(std::move(session)), id_(std::move(id)), params_(std::move(params)) {}

  std::unique_ptr<ExecSession> session_;
  std::string id_;
  ExecParams params_;
};

}  // namespace krunbox::serve
