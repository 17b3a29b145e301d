#include "backend/mock/mock_backend.h"

#include <signal.h>
#include <sys/wait.h>

#include <thread>

#include "base/fs.h"
#include "base/json.h"
#include "base/paths.h"
#include "base/subprocess.h"
#include "proto/agent_client.h"

namespace krunbox {

std::string_view to_string(MockOp op) {
  switch (op) {
    case MockOp::kCreate: return "create";
    case MockOp::kStart: return "start";
    case MockOp::kStop: return "stop";
    case MockOp::kKill: return "kill";
    case MockOp::kWait: return "wait";
    case MockOp::kPause: return "pause";
    case MockOp::kResume: return "resume";
    case MockOp::kSnapshot: return "snapshot";
    case MockOp::kRestore: return "restore";
  }
  return "?";
}

MockBackend::MockBackend(MockConfig config) : config_(std::move(config)), rng_(config_.seed) {}
MockBackend::~MockBackend() = default;

Status MockBackend::enter(MockOp op, const std::string& id, bool* crash) {
  MockFault fault;
  bool fires = false;
  {
    std::lock_guard lock(mu_);
    int n = ++counts_[op];
    calls_.push_back(std::string(to_string(op)) + " " + id.substr(0, 12));
    auto it = config_.faults.find(op);
    if (it == config_.faults.end()) return {};
    fault = it->second;
    // Draw on every call, fault or not, so the sequence depends only on the seed and the calls.
    double draw = std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
    fires = (fault.fail_on_call > 0 && n == fault.fail_on_call) || draw < fault.probability;
  }
  if (fault.delay.count() > 0) std::this_thread::sleep_for(fault.delay);
  if (!fires) return {};
  if (fault.crash && crash) {
    *crash = true;
    return {};
  }
  return Error(fault.code, std::string(to_string(op)) + " of sandbox " + id.substr(0, 12) + ": " + fault.message);
}

std::vector<std::string> MockBackend::calls() const {
  std::lock_guard lock(mu_);
  return calls_;
}

int MockBackend::call_count(MockOp op) const {
  std::lock_guard lock(mu_);
  auto it = counts_.find(op);
  return it == counts_.end() ? 0 : it->second;
}

BackendCapabilities mock_capabilities() {
  BackendCapabilities c;
  c.backend = "mock";
  c.fake = true;
  // The agent runs in the rootfs as its cwd, or in ours without one.
  c.needs_rootfs = false;
  c.volumes = c.volume_read_only = c.volume_suid = c.volume_devices = true;
  c.port_protocols = {PortProtocol::kTcp, PortProtocol::kUdp};
  c.network_modes = {NetworkMode::kNone, NetworkMode::kHost, NetworkMode::kUser, NetworkMode::kUserWithHostLoopback};
  c.accels = {VmAccel::kAuto, VmAccel::kKvm, VmAccel::kTcg};
  c.user_namespace = c.pids_limit = c.cpu_limit = c.memory_limit = true;
  c.tty = true;
  // These two it does for real: SIGSTOP/SIGCONT, and a JSON note of the state.
  c.pause_resume = true;
  c.snapshot = true;
  return c;
}

BackendCapabilities MockBackend::capabilities() const { return config_.capabilities.value_or(mock_capabilities()); }

Result<std::unique_ptr<Sandbox>> MockBackend::make_sandbox(const SandboxSpec& spec) {
  KRUNBOX_TRY(enter(MockOp::kCreate, spec.id));
  return std::unique_ptr<Sandbox>(new MockSandbox(spec, this));
}

std::unique_ptr<Backend> make_mock_backend(MockConfig config) { return std::make_unique<MockBackend>(std::move(config)); }

MockSandbox::MockSandbox(SandboxSpec spec, MockBackend* backend) : Sandbox(std::move(spec)), backend_(backend) {}

MockSandbox::~MockSandbox() { teardown(); }

void MockSandbox::teardown() {
  std::lock_guard lock(mu_);
  if (agent_) agent_->close();
  agent_.reset();
  if (agent_pid_.valid()) {
    (void)agent_pid_.kill(SIGKILL);
    if (auto st = agent_pid_.wait(); st.ok()) exit_status_ = *st;
  }
}

Status MockSandbox::start() {
  KRUNBOX_TRY(state_.transition(SandboxState::kStarting));
  bool crash = false;
  if (auto st = backend_->enter(MockOp::kStart, id(), &crash); !st.ok()) {
    (void)state_.transition(SandboxState::kCrashed);
    state_.set_crash_reason(st.error().what());
    return st;
  }
  if (crash) {
    state_.set_crash_reason("injected crash during start");
    (void)state_.transition(SandboxState::kCrashed);
    return Error(ErrorCode::kUnavailable, "sandbox " + id().substr(0, 12) + " crashed while starting (injected)");
  }
  if (backend_->config_.run_agent) {
    auto started = [&]() -> Status {
      KRUNBOX_ASSIGN_OR_RETURN(std::string agent_path, find_helper("krunbox-agent"));
      KRUNBOX_ASSIGN_OR_RETURN(auto pair, make_socketpair());
      SpawnOptions so;
      so.stdin_mode = Stdio::kNull;
      so.keep_fds = {{pair.second.get(), 3}};
      so.cwd = spec_.rootfs;
      so.new_process_group = true;
      KRUNBOX_ASSIGN_OR_RETURN(auto child, Subprocess::spawn({agent_path, "--fd", "3"}, so));
      pair.second.reset();
      KRUNBOX_ASSIGN_OR_RETURN(auto client, proto::AgentClient::connect(std::move(pair.first)));
      std::lock_guard lock(mu_);
      agent_pid_ = std::move(child.process());
      agent_ = std::move(client);
      return {};
    }();
    if (!started.ok()) {
      state_.set_crash_reason(started.error().what());
      (void)state_.transition(SandboxState::kCrashed);
      return std::move(started).error().wrap("starting mock sandbox " + id().substr(0, 12));
    }
  }
  return state_.transition(SandboxState::kRunning);
}

Status MockSandbox::stop(std::chrono::milliseconds grace) {
  KRUNBOX_TRY(backend_->enter(MockOp::kStop, id()));
  if (is_terminal(state())) return {};
  {
    std::lock_guard lock(mu_);
    if (agent_ && agent_->connected()) (void)agent_->shutdown(grace);
    if (agent_pid_.valid()) {
      (void)agent_pid_.kill(SIGCONT);  // a paused agent must be able to act on the shutdown
      auto done = agent_pid_.wait_for(grace + std::chrono::milliseconds(500));
      if (done.ok() && done->has_value()) exit_status_ = **done;
    }
  }
  teardown();
  return state_.transition(SandboxState::kStopped);
}

Status MockSandbox::kill(int sig) {
  KRUNBOX_TRY(backend_->enter(MockOp::kKill, id()));
  SandboxState s = state();
  if (s != SandboxState::kRunning && s != SandboxState::kPaused)
    return Error(ErrorCode::kIllegalState, "sandbox " + id().substr(0, 12) + " is " + std::string(to_string(s)));
  std::lock_guard lock(mu_);
  if (agent_pid_.valid()) return agent_pid_.kill(sig);
  return {};
}

Result<ExitStatus> MockSandbox::wait() {
  bool crash = false;
  KRUNBOX_TRY(backend_->enter(MockOp::kWait, id(), &crash));
  if (crash) inject_crash("injected crash while waiting");
  pid_t pid = -1;
  {
    std::lock_guard lock(mu_);
    if (agent_pid_.valid()) pid = agent_pid_.get();
  }
  if (pid > 0) {
    // Wait without reaping and without the lock, so kill/stop stay callable;
    // then reap under the lock (teardown may have reaped it first).
    siginfo_t info{};
    while (::waitid(P_PID, pid, &info, WEXITED | WNOWAIT) < 0 && errno == EINTR) {
    }
    std::optional<ExitStatus> st;
    {
      std::lock_guard lock(mu_);
      if (agent_pid_.valid()) {
        auto reaped = agent_pid_.wait();
        if (reaped.ok()) exit_status_ = *reaped;
      }
      st = exit_status_;
    }
    if (!is_terminal(state())) {
      state_.set_crash_reason("the agent " + (st ? st->describe() : std::string("ended")));
      (void)state_.transition(SandboxState::kCrashed);
    }
    return st.value_or(ExitStatus::exited(0));
  }
  state_.wait_terminal(std::chrono::hours(24 * 365));
  std::lock_guard lock(mu_);
  return exit_status_.value_or(ExitStatus::exited(0));
}

proto::AgentClient* MockSandbox::agent() {
  std::lock_guard lock(mu_);
  return agent_.get();
}

Status MockSandbox::pause() {
  KRUNBOX_TRY(backend_->enter(MockOp::kPause, id()));
  KRUNBOX_TRY(state_.transition(SandboxState::kPaused));
  std::lock_guard lock(mu_);
  if (agent_pid_.valid()) return agent_pid_.kill(SIGSTOP);
  return {};
}

Status MockSandbox::resume() {
  KRUNBOX_TRY(backend_->enter(MockOp::kResume, id()));
  KRUNBOX_TRY(state_.transition(SandboxState::kRunning));
  std::lock_guard lock(mu_);
  if (agent_pid_.valid()) return agent_pid_.kill(SIGCONT);
  return {};
}

Status MockSandbox::snapshot(const std::string& path) {
  KRUNBOX_TRY(backend_->enter(MockOp::kSnapshot, id()));
  SandboxState s = state();
  if (s != SandboxState::kRunning && s != SandboxState::kPaused)
    return Error(ErrorCode::kIllegalState, "cannot snapshot a " + std::string(to_string(s)) + " sandbox");
  Json j = {{"kind", "krunbox-mock-snapshot"}, {"id", id()}, {"state", to_string(s)}, {"rootfs", spec_.rootfs}};
  return write_file_atomic(path, j.dump(), 0600);
}

Status MockSandbox::restore(const std::string& path) {
  KRUNBOX_TRY(backend_->enter(MockOp::kRestore, id()));
  KRUNBOX_ASSIGN_OR_RETURN(Json j, read_json_file(path, 64 * 1024));
  if (!j.is_object() || j.value("kind", "") != "krunbox-mock-snapshot")
    return Error(ErrorCode::kCorrupt, path + " is not a mock snapshot");
  if (j.value("id", "") != id())
    return Error(ErrorCode::kInvalidArgument, path + " is a snapshot of another sandbox");
  if (j.value("state", "") == "paused" && state() == SandboxState::kRunning) return pause();
  if (j.value("state", "") == "running" && state() == SandboxState::kPaused) return resume();
  return {};
}

void MockSandbox::inject_crash(const std::string& reason) {
  {
    std::lock_guard lock(mu_);
    if (agent_pid_.valid()) (void)agent_pid_.kill(SIGKILL);
  }
  state_.set_crash_reason(reason);
  (void)state_.transition(SandboxState::kCrashed);
}

}  // namespace krunbox
