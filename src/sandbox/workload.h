// The one workload layer: how every command krunbox starts in a sandbox (the
// workload of `run`, a long-lived sandbox's main process, `exec`, each line
// of `sh`) becomes an agent request, and how it ended. Building the request
// in one place keeps the four paths from drifting (env order, env mode,
// timeout, user and cwd defaults); one outcome type lets run, exec, sh and
// the monitor report an end the same way.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "backend/sandbox_spec.h"
#include "base/unique_pid.h"
#include "proto/messages.h"

namespace krunbox {

// A command to start in a sandbox, over the sandbox's spec: what is left
// empty comes from the spec.
struct Workload {
  std::vector<std::string> argv;  // empty: the spec's command
  // KEY=VALUE entries after the spec's env, in order (secrets, then exec's
  // own), so a later entry wins in the agent's merge.
  std::vector<std::string> env;
  std::string cwd;   // empty: the spec's
  std::string user;  // empty: the spec's
  bool tty = false;
  bool stdin_open = false;
  std::optional<std::pair<uint16_t, uint16_t>> tty_size;  // rows, cols; the agent's 24x80 without
  std::chrono::seconds timeout{0};                       // 0: none; the agent kills it then
};

// The sandbox's own command: the spec's argv, its env then the secrets'
// NAME=VALUE entries, and the spec's timeout (which is the main process's
// alone: exec'd commands and sh lines have none).
Workload main_workload(const SandboxSpec& spec, std::vector<std::string> secret_env);

// The agent request for `workload` in a sandbox made from `spec`.
proto::ExecRequest exec_request_for(const SandboxSpec& spec, const Workload& workload);

// Overwrites the env entries of a request that may hold secrets.
void wipe_env(proto::ExecRequest& request);

// Exit code of a workload that ran past its timeout, as timeout(1) has it.
inline constexpr int kExitTimedOut = 124;
// Exit code when the sandbox, not the workload, failed (krunbox's own failures).
inline constexpr int kExitSandboxFailed = 125;

// How a workload ended.
class WorkloadOutcome {
 public:
  enum class Kind {
    kExited,     // ended on its own with a code
    kSignaled,   // killed by a signal (its own, a forwarded one, kill)
    kTimedOut,   // killed by the agent at its timeout
    kCrashed,    // the sandbox or its engine died under it; reason() says how
    kOomKilled,  // killed by the kernel for memory, where the backend can tell
  };

  WorkloadOutcome() = default;
  static WorkloadOutcome exited(int code);
  static WorkloadOutcome signaled(int sig);
  static WorkloadOutcome crashed(std::string reason);
  static WorkloadOutcome oom_killed(ExitStatus status);
  // The one conversion from the agent's (and the monitor's) wire type.
  static WorkloadOutcome from_exit(const proto::ExitMessage& exit);

  Kind kind() const { return kind_; }
  bool success() const { return kind_ == Kind::kExited && status_.code == 0; }
  bool crashed() const { return kind_ == Kind::kCrashed; }
  bool timed_out() const { return kind_ == Kind::kTimedOut; }
  // How the process ended (for a timeout or an OOM kill: the kill); a crash has none.
  const ExitStatus& status() const { return status_; }
  const std::string& reason() const { return reason_; }

  // The shell's convention: the code, 128+N for signal N, kExitTimedOut
  // after the timeout, kExitSandboxFailed for a crash.
  int exit_code() const;
  // "exited with code 3", "killed by signal 9 (SIGKILL) (timed out)", "crashed: <reason>".
  std::string describe() const;

  bool operator==(const WorkloadOutcome&) const = default;

 private:
  Kind kind_ = Kind::kExited;
  ExitStatus status_;
  std::string reason_;
};

}  // namespace krunbox
