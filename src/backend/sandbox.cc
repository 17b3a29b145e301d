#include "backend/sandbox.h"

#include "backend/registry.h"

namespace krunbox {

std::string_view to_string(SandboxState state) {
  switch (state) {
    case SandboxState::kCreated: return "created";
    case SandboxState::kStarting: return "starting";
    case SandboxState::kRunning: return "running";
    case SandboxState::kPaused: return "paused";
    case SandboxState::kStopped: return "stopped";
    case SandboxState::kCrashed: return "crashed";
  }
  return "unknown";
}

bool is_terminal(SandboxState s) { return s == SandboxState::kStopped || s == SandboxState::kCrashed; }

bool is_legal_transition(SandboxState from, SandboxState to) {
  using S = SandboxState;
  switch (from) {
    case S::kCreated: return to == S::kStarting || to == S::kStopped;
    case S::kStarting: return to == S::kRunning || to == S::kCrashed || to == S::kStopped;
    case S::kRunning: return to == S::kPaused || to == S::kStopped || to == S::kCrashed;
    case S::kPaused: return to == S::kRunning || to == S::kStopped || to == S::kCrashed;
    case S::kStopped:
    case S::kCrashed: return false;
  }
  return false;
}

SandboxState SandboxStateMachine::state() const {
  std::lock_guard lock(mu_);
  return state_;
}

Status SandboxStateMachine::transition(SandboxState to) {
  std::lock_guard lock(mu_);
  if (!is_legal_transition(state_, to))
    return Error(ErrorCode::kIllegalState, "sandbox is " + std::string(to_string(state_)) + ", cannot become " +
                                               std::string(to_string(to)));
  state_ = to;
  cv_.notify_all();
  return {};
}

bool SandboxStateMachine::wait_terminal(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return is_terminal(state_); });
}

void SandboxStateMachine::set_crash_reason(std::string reason) {
  std::lock_guard lock(mu_);
  crash_reason_ = std::move(reason);
}

std::string SandboxStateMachine::crash_reason() const {
  std::lock_guard lock(mu_);
  return crash_reason_;
}

Error Sandbox::unsupported(std::string_view operation) const {
  return Error(ErrorCode::kUnsupported,
               std::string(operation) + " is not supported by the " + std::string(backend_name()) + " backend");
}

Status Sandbox::pause() { return unsupported("pause"); }
Status Sandbox::resume() { return unsupported("resume"); }
Status Sandbox::snapshot(const std::string&) { return unsupported("snapshot"); }
Status Sandbox::restore(const std::string&) { return unsupported("restore"); }

Status Backend::check(const SandboxSpec& spec) const {
  return check_spec(spec, capabilities(), all_backend_capabilities());
}

Result<std::unique_ptr<Sandbox>> Backend::create(const SandboxSpec& spec) {
  KRUNBOX_TRY(check(spec));
  return make_sandbox(spec);
}

}  // namespace krunbox
