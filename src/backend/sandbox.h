// The seam between krunbox and its isolation engines. A Backend probes the
// host and creates Sandboxes; a Sandbox boots an engine (a namespace set, a
// QEMU or libkrun VM, or a fake) whose PID 1 is krunbox-agent, and hands out
// the AgentClient through which workloads run.
//
// States (seed 002): Created -> Starting -> Running <-> Paused -> Stopped,
// and Crashed when the engine dies on its own. Every transition goes through
// SandboxStateMachine, which refuses the illegal ones.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "backend/capabilities.h"
#include "backend/probe.h"
#include "backend/sandbox_spec.h"
#include "base/unique_pid.h"
#include "krunbox/error.h"

namespace krunbox {
namespace proto {
class AgentClient;
}

enum class SandboxState { kCreated, kStarting, kRunning, kPaused, kStopped, kCrashed };
std::string_view to_string(SandboxState state);
bool is_legal_transition(SandboxState from, SandboxState to);
bool is_terminal(SandboxState state);

// Thread-safe state holder: monitors, CLI threads and the engine watcher all move it.
class SandboxStateMachine {
 public:
  SandboxState state() const;
  // Fails with kIllegalState naming both states if the move is not allowed.
  Status transition(SandboxState to);
  // Blocks until a terminal state (Stopped or Crashed) or the timeout.
  bool wait_terminal(std::chrono::milliseconds timeout) const;
  // Why the sandbox crashed (set together with the Crashed state).
  void set_crash_reason(std::string reason);
  std::string crash_reason() const;

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  SandboxState state_ = SandboxState::kCreated;
  std::string crash_reason_;
};

class Sandbox {
 public:
  virtual ~Sandbox() = default;

  const std::string& id() const { return spec_.id; }
  const SandboxSpec& spec() const { return spec_; }
  SandboxState state() const { return state_.state(); }
  std::string crash_reason() const { return state_.crash_reason(); }
  // crash_reason(), after waiting up to `grace` for the sandbox to end: a lost
  // agent connection is often the first sign of a crash whose reason (a guest
  // panic on the console, the engine's exit) is known a moment later.
  virtual std::string crash_reason_within(std::chrono::milliseconds grace) {
    (void)state_.wait_terminal(grace);
    return state_.crash_reason();
  }
  virtual std::string_view backend_name() const = 0;

  // Boots the engine and connects to the agent: Created -> Starting -> Running.
  // On failure everything started so far is torn down and the state is Crashed.
  virtual Status start() = 0;
  // Asks the agent to end every process within `grace`, then forces the
  // engine down; afterwards nothing of the sandbox runs. -> Stopped.
  virtual Status stop(std::chrono::milliseconds grace) = 0;
  // Sends `signal` to the engine (SIGKILL ends the sandbox at once).
  virtual Status kill(int signal) = 0;
  // Blocks until the engine has ended; its exit status.
  virtual Result<ExitStatus> wait() = 0;
  // The connection to the agent; valid while Running or Paused.
  virtual proto::AgentClient* agent() = 0;

  // Engines that cannot do these keep these defaults, which say so.
  virtual Status pause();
  virtual Status resume();
  virtual Status snapshot(const std::string& path);
  virtual Status restore(const std::string& path);

 protected:
  explicit Sandbox(SandboxSpec spec) : spec_(std::move(spec)) {}
  Error unsupported(std::string_view operation) const;

  SandboxSpec spec_;
  SandboxStateMachine state_;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string_view name() const = 0;
  virtual BackendReport probe() const = 0;
  // What the backend can do by its nature (see capabilities.h).
  virtual BackendCapabilities capabilities() const = 0;
  // Whether this backend can run the spec, by its nature: check_spec against
  // capabilities(), with the other backends named in the advice.
  Status check(const SandboxSpec& spec) const;
  // The one gate every spec passes, whoever the caller: check(), then
  // make_sandbox. (A sandbox recorded now and started later is checked when
  // it is recorded too, so it fails before anything is kept.)
  Result<std::unique_ptr<Sandbox>> create(const SandboxSpec& spec);

 protected:
  // Makes the sandbox of a spec that passed check_spec; what is left to check
  // here is the host's side (paths that must exist, and the like).
  virtual Result<std::unique_ptr<Sandbox>> make_sandbox(const SandboxSpec& spec) = 0;
};

}  // namespace krunbox
