#include "sandbox/workload.h"

#include "sandbox/secrets.h"

namespace krunbox {

Workload main_workload(const SandboxSpec& spec, std::vector<std::string> secret_env) {
  Workload w;
  w.argv = spec.argv;
  w.env = std::move(secret_env);
  w.timeout = spec.timeout;
  return w;
}

proto::ExecRequest exec_request_for(const SandboxSpec& spec, const Workload& w) {
  proto::ExecRequest req;
  req.argv = w.argv.empty() ? spec.argv : w.argv;
  req.env = spec.env;
  req.env.insert(req.env.end(), w.env.begin(), w.env.end());
  // Over the image's environment (the agent's PATH, HOME), as Docker does.
  req.env_mode = proto::EnvMode::kMerge;
  req.cwd = w.cwd.empty() ? spec.cwd : w.cwd;
  req.user = w.user.empty() ? spec.user : w.user;
  req.tty = w.tty;
  if (w.tty && w.tty_size) std::tie(req.rows, req.cols) = *w.tty_size;
  req.stdin_open = w.stdin_open;
  req.timeout_ms = static_cast<uint64_t>(w.timeout.count()) * 1000;
  return req;
}

void wipe_env(proto::ExecRequest& request) {
  for (auto& kv : request.env) wipe(kv);
}

WorkloadOutcome WorkloadOutcome::exited(int code) {
  WorkloadOutcome o;
  o.kind_ = Kind::kExited;
  o.status_ = ExitStatus::exited(code);
  return o;
}

WorkloadOutcome WorkloadOutcome::signaled(int sig) {
  WorkloadOutcome o;
  o.kind_ = Kind::kSignaled;
  o.status_ = ExitStatus::killed(sig);
  return o;
}

WorkloadOutcome WorkloadOutcome::crashed(std::string reason) {
  WorkloadOutcome o;
  o.kind_ = Kind::kCrashed;
  o.status_ = {};
  o.reason_ = std::move(reason);
  return o;
}

WorkloadOutcome WorkloadOutcome::oom_killed(ExitStatus status) {
  WorkloadOutcome o;
  o.kind_ = Kind::kOomKilled;
  o.status_ = status;
  return o;
}

WorkloadOutcome WorkloadOutcome::from_exit(const proto::ExitMessage& exit) {
  WorkloadOutcome o;
  o.status_ = exit.status;
  o.kind_ = exit.timed_out ? Kind::kTimedOut : exit.status.signaled ? Kind::kSignaled : Kind::kExited;
  return o;
}

int WorkloadOutcome::exit_code() const {
  switch (kind_) {
    case Kind::kTimedOut: return kExitTimedOut;
    case Kind::kCrashed: return kExitSandboxFailed;
    default: return status_.shell_code();
  }
}

std::string WorkloadOutcome::describe() const {
  switch (kind_) {
    case Kind::kTimedOut: return status_.describe() + " (timed out)";
    case Kind::kCrashed: return "crashed: " + reason_;
    case Kind::kOomKilled: return status_.describe() + " (out of memory)";
    default: return status_.describe();
  }
}

}  // namespace krunbox
