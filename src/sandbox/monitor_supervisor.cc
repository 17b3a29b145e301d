#include "sandbox/monitor_supervisor.h"

#include <signal.h>

#include <algorithm>

#include "base/fs.h"
#include "base/log.h"
#include "base/paths.h"
#include "sandbox/checkpoints.h"
#include "sandbox/exec_request.h"
#include "sandbox/host_ports.h"
#include "sandbox/monitor_protocol.h"
#include "sandbox/terminal.h"
#include "sandbox/workload.h"

namespace krunbox {
namespace {

using namespace std::chrono_literals;

constexpr auto kMaxBackoff = std::chrono::milliseconds(30s);
constexpr auto kFirstBackoff = std::chrono::milliseconds(100);
constexpr auto kEndGrace = std::chrono::milliseconds(2s);
// A run whose time ran out gets what `krunbox stop` gives by default.
constexpr auto kExpireGrace = std::chrono::milliseconds(10s);

void answer(MonitorEvent& ev, Status st) {
  ev.done->set_value(std::move(st));
}

void await_reply(MonitorEvent& ev) {
  if (ev.replied) (void)ev.replied->get_future().wait_for(std::chrono::seconds(5));
}

}  // namespace

void Monitor::save() {
  std::lock_guard lock(status_mu_);
  if (auto st = store_.save_status(id(), status_); !st.ok()) KB_ERROR("saving state: {}", st.error().what());
}

void Monitor::post(MonitorEvent ev) {
  std::lock_guard lock(queue_mu_);
  queue_.push_back(std::move(ev));
  queue_cv_.notify_all();
}

void Monitor::destroy_engine() {
  if (waiter_.joinable()) waiter_.join();
  if (attached_ && attached_->bridge) attached_->bridge->stop();
  std::unique_lock lock(engine_mu_);
  main_.reset();
  sandbox_.reset();
}

std::optional<MonitorEvent> Monitor::pop() {
  std::unique_lock lock(queue_mu_);
  for (;;) {
    if (!queue_.empty()) {
      MonitorEvent ev = std::move(queue_.front());
      queue_.pop_front();
      return ev;
    }
    auto now = std::chrono::steady_clock::now();
    std::optional<std::chrono::steady_clock::time_point> wake;
    if (auto expired = expiry_due(now, wake)) return expired;
    if (restart_at_) {
      // nullopt: the restart is due.
      if (now >= *restart_at_) return std::nullopt;
      if (!wake || *restart_at_ < *wake) wake = *restart_at_;
    }
    if (wake) {
      queue_cv_.wait_until(lock, *wake);
    } else {
      queue_cv_.wait(lock);
    }
  }
}

int Monitor::run() {
  for (;;) {
    std::optional<MonitorEvent> ev = pop();
    if (!ev) {
      restart_at_.reset();
      if (do_restart()) return 0;
      continue;
    }
    switch (ev->kind) {
      case MonitorEvent::Kind::kStart: {
        Status st = do_start();
        bool failed = !st.ok();
        answer(*ev, std::move(st));
        if (failed) {
          await_reply(*ev);
          return 1;
        }
        break;
      }
      case MonitorEvent::Kind::kStop:
        do_stop(ev->grace, "stopped by krunbox stop");
        answer(*ev, Status{});
        await_reply(*ev);
        return 0;
      case MonitorEvent::Kind::kRemove:
        do_stop(ev->grace, "removed by krunbox rm");
        answer(*ev, Status{});
        await_reply(*ev);
        return 0;
      case MonitorEvent::Kind::kExpire:
        KB_INFO("sandbox {}: stopping: {}", short_id(), ev->reason);
        do_stop(kExpireGrace, "stopped: " + ev->reason);
        return 0;
      case MonitorEvent::Kind::kMainExited:
        if (ev->generation != generation_ || stopping_) break;
        if (on_main_exited(*ev)) return 0;
        break;
    }
  }
}

int Monitor::attached_exit_code() {
  std::lock_guard lock(status_mu_);
  if (status_.exit_status) return status_.exit_status->shell_code();
  if (status_.state == SandboxState::kCrashed) return kExitSandboxFailed;
  return 128 + SIGKILL;
}

Status Monitor::create_engine() {
  if (!backend_) {
    KRUNBOX_ASSIGN_OR_RETURN(auto choice, select_backend(config_.backend, false));
    backend_ = std::move(choice.backend);
  }
  SandboxSpec spec = config_.spec;
  {
    std::lock_guard lock(status_mu_);
    spec.ports = status_.ports;
  }
  KRUNBOX_ASSIGN_OR_RETURN(auto sandbox, backend_->create(spec));
  {
    std::unique_lock lock(engine_mu_);
    sandbox_ = std::move(sandbox);
  }
  if (is_paused_to_disk(store_, id())) {
    // Resumed after pause --to-disk: the pause's checkpoint goes once the
    // main process is taken over (do_start).
    KRUNBOX_ASSIGN_OR_RETURN(CheckpointInfo paused,
                             paused_checkpoint_store(store_, id()).load(kPausedCheckpoint));
    KRUNBOX_TRY_CTX(sandbox_->restore(paused.dir), "resuming sandbox " + short_id() + " from its pause on disk");
    adopt_main_ = paused.main_session;
    resumed_from_ = paused.dir;
    return {};
  }
  if (!config_.checkpoint.empty()) {
    KRUNBOX_ASSIGN_OR_RETURN(CheckpointInfo checkpoint, CheckpointStore().load(config_.checkpoint));
    KRUNBOX_TRY_CTX(sandbox_->restore(checkpoint.dir),
                    "restoring sandbox " + short_id() + " from checkpoint '" + config_.checkpoint + "'");
    adopt_main_ = checkpoint.main_session;
    return {};
  }
  adopt_main_.reset();
  return sandbox_->start().wrap("starting sandbox " + short_id() + " (" + config_.backend + ")");
}

Status Monitor::do_start() {
  {
    std::lock_guard lock(status_mu_);
    if (status_.state != SandboxState::kCreated && !is_terminal(status_.state))
      return Error(ErrorCode::kIllegalState,
                   "sandbox " + short_id() + " is already " + std::string(to_string(status_.state)));
    status_.state = SandboxState::kStarting;
    status_.run += 1;
    status_.restart_count = 0;
    status_.restarting = false;
    status_.exit_status.reset();
    status_.reason.clear();
    status_.finished_at = 0;
  }
  save();
  auto fail = [&](Error e) {
    finish(SandboxState::kCrashed, "start failed: " + e.what());
    return Status(std::move(e));
  };
  auto ports = reserve_host_ports(config_.spec.ports);
  if (!ports) return fail(std::move(ports).error().wrap("sandbox " + short_id()));
  {
    std::lock_guard lock(status_mu_);
    status_.ports = std::move(*ports);
  }
  auto log = RotatingLog::open(store_.log_path(id()));
  if (!log) return fail(std::move(log).error());
  log_ = std::move(*log);
  if (auto st = create_engine(); !st.ok()) return fail(std::move(st).error());
  {
    std::lock_guard lock(status_mu_);
    status_.state = SandboxState::kRunning;
    status_.started_at = unix_now();
  }
  arm_timeouts();
  save();
  if (auto st = launch_main(); !st.ok()) {
    {
      std::shared_lock lock(engine_mu_);
      (void)sandbox_->stop(kEndGrace);
    }
    return fail(std::move(st).error().wrap("starting the main process"));
  }
  if (!resumed_from_.empty()) {
    if (auto st = remove_tree(resumed_from_); !st.ok()) KB_WARN("removing the pause's checkpoint: {}", st.error().what());
    resumed_from_.clear();
  }
  return {};
}

Status Monitor::launch_main() {
  proto::AgentClient* agent = sandbox_ ? sandbox_->agent() : nullptr;
  if (!agent) return Error(ErrorCode::kInternal, "sandbox " + short_id() + " has no agent connection");
  proto::ExecCallbacks callbacks;
  if (attached_) {
    callbacks = write_streams_to(attached_->out_fd, attached_->err_fd);
  } else {
    RotatingLog* log = log_.get();
    auto sink = [log](std::string_view data) {
      if (auto st = log->write(data); !st.ok()) KB_WARN("{}", st.error().what());
    };
    callbacks.on_stdout = sink;
    callbacks.on_stderr = sink;
  }
  Result<std::unique_ptr<proto::ExecSession>> session = Error(ErrorCode::kInternal, "no main process");
  if (adopt_main_) {
    // The checkpoint's main process runs on in the restored guest.
    session = agent->adopt(*adopt_main_, std::move(callbacks));
    adopt_main_.reset();
  } else {
    std::vector<std::string> secrets = secret_env(secrets_);
    Workload workload = main_workload(config_.spec, secrets);
    if (attached_) {
      workload.tty = config_.spec.tty;
      workload.stdin_open = true;
      workload.tty_size = terminal_size(attached_->out_fd);
    }
    proto::ExecRequest req = exec_request_for(config_.spec, workload);
    for (auto& kv : secrets) wipe(kv);
    for (auto& kv : workload.env) wipe(kv);
    if (auto st = check_exec_request_size(req); !st.ok()) {
      wipe_env(req);
      return st;
    }
    // A checkpoint of the sandbox carries the main process on: a restored
    // guest's agent keeps it for the new host.
    req.keep = true;
    session = agent->exec(req, std::move(callbacks));
    wipe_env(req);
  }
  if (!session) return std::move(session).error();
  if (waiter_.joinable()) waiter_.join();
  uint64_t generation;
  {
    std::unique_lock lock(engine_mu_);
    main_ = std::move(*session);
    generation = ++generation_;
  }
  killed_ = false;
  proto::ExecSession* s = main_.get();
  if (attached_ && attached_->bridge) {
    attached_target_ = std::make_unique<SessionTarget>(s, /*group=*/true);
    if (!bridge_started_) {
      bridge_started_ = true;
      if (auto st = attached_->bridge->start(attached_target_.get()); !st.ok())
        KB_WARN("sandbox {}: the workload's stdio: {}", short_id(), st.error().what());
    } else {
      attached_->bridge->set_target(attached_target_.get());
    }
  }
  waiter_ = std::thread([this, s, generation] {
    auto exit = s->wait();
    {
      std::lock_guard lock(exit_mu_);
      if (exit.ok()) {
        last_exit_ = *exit;
        last_exit_error_.clear();
      } else {
        last_exit_.reset();
        last_exit_error_ = exit.error().what();
      }
    }
    MonitorEvent ev(MonitorEvent::Kind::kMainExited);
    ev.generation = generation;
    post(std::move(ev));
  });
  return {};
}

bool Monitor::on_main_exited(const MonitorEvent&) {
  if (waiter_.joinable()) waiter_.join();
  // The workload's end is the attached monitor's: nothing more goes to it.
  if (attached_ && attached_->bridge) attached_->bridge->stop();
  std::optional<proto::ExitMessage> exit;
  std::string error;
  {
    std::lock_guard lock(exit_mu_);
    exit = last_exit_;
    error = last_exit_error_;
  }
  // A lost agent connection: the engine's end (a guest panic, say) and its
  // reason follow a moment later.
  std::string crash = !exit && sandbox_ ? sandbox_->crash_reason_within(std::chrono::seconds(3)) : "";
  bool engine_alive = sandbox_ && sandbox_->state() == SandboxState::kRunning;
  WorkloadOutcome outcome =
      exit ? WorkloadOutcome::from_exit(*exit) : WorkloadOutcome::crashed(crash.empty() ? error : crash);
  bool failed = !outcome.success();
  std::string reason = outcome.crashed() ? "engine failed: " + outcome.reason() : "main process " + outcome.describe();
  {
    std::lock_guard lock(status_mu_);
    if (!outcome.crashed()) status_.exit_status = outcome.status();
    status_.reason = reason;
  }
  const auto& policy = config_.restart;
  bool restart = !killed_ && (policy.mode == RestartPolicy::Mode::kAlways ||
                              (policy.mode == RestartPolicy::Mode::kOnFailure && failed &&
                               (policy.max_retries == 0 || status_.restart_count < policy.max_retries)));
  if (restart) {
    auto backoff = std::min(kMaxBackoff, kFirstBackoff * (1u << std::min(status_.restart_count, 16u)));
    KB_INFO("sandbox {}: {}; restarting in {} ms", short_id(), reason, backoff.count());
    {
      std::lock_guard lock(status_mu_);
      status_.restarting = true;
    }
    save();
    std::lock_guard lock(queue_mu_);
    restart_at_ = std::chrono::steady_clock::now() + backoff;
    return false;
  }
  if (engine_alive) {
    if (auto st = sandbox_->stop(kEndGrace); !st.ok())
      KB_WARN("stopping sandbox {}: {}", short_id(), st.error().what());
  }
  finish(exit && engine_alive ? SandboxState::kStopped : SandboxState::kCrashed, reason);
  return true;
}

bool Monitor::do_restart() {
  {
    std::lock_guard lock(status_mu_);
    status_.restart_count += 1;
    status_.restarting = false;
  }
  bool engine_alive = sandbox_ && sandbox_->state() == SandboxState::kRunning;
  {
    std::unique_lock lock(engine_mu_);
    main_.reset();
    if (!engine_alive) sandbox_.reset();
  }
  if (!engine_alive) {
    if (auto st = create_engine(); !st.ok()) {
      finish(SandboxState::kCrashed, "restart failed: " + st.error().what());
      return true;
    }
  }
  arm_timeouts();
  save();
  if (auto st = launch_main(); !st.ok()) {
    if (sandbox_) (void)sandbox_->stop(kEndGrace);
    finish(SandboxState::kCrashed, "restart failed: " + st.error().what());
    return true;
  }
  return false;
}

void Monitor::do_stop(std::chrono::milliseconds grace, const std::string& reason) {
  stopping_ = true;
  restart_at_.reset();
  // A frozen workload could not use its grace period: thaw it first.
  if (sandbox_ && sandbox_->state() == SandboxState::kPaused)
    if (auto st = sandbox_->resume(); !st.ok())
      KB_WARN("resuming sandbox {} to stop it: {}", short_id(), st.error().what());
  if (sandbox_ && !is_terminal(sandbox_->state())) {
    if (auto st = sandbox_->stop(grace); !st.ok()) KB_WARN("stopping sandbox {}: {}", short_id(), st.error().what());
  }
  if (waiter_.joinable()) waiter_.join();
  {
    std::lock_guard lock(exit_mu_);
    std::lock_guard status_lock(status_mu_);
    if (last_exit_ && generation_ > 0) status_.exit_status = last_exit_->status;
  }
  finish(SandboxState::kStopped, reason);
}

void Monitor::finish(SandboxState state, std::string reason) {
  {
    std::lock_guard lock(status_mu_);
    status_.state = state;
    status_.reason = std::move(reason);
    status_.restarting = false;
    status_.finished_at = unix_now();
    status_.monitor.reset();
  }
  save();
  KB_INFO("sandbox {}: {} ({})", short_id(), to_string(state), status_.reason);
}

Status Monitor::handle_kill(int sig) {
  std::shared_lock lock(engine_mu_);
  if (sandbox_ && sandbox_->state() == SandboxState::kPaused) return monitor::paused_error(short_id());
  if (!main_ || !sandbox_ || sandbox_->state() != SandboxState::kRunning)
    return Error(ErrorCode::kIllegalState, "sandbox " + short_id() + " is not running");
  killed_ = true;
  return main_->signal(sig, /*group=*/true);
}

// Freezes or thaws the whole sandbox (every process, or the VM's vCPUs); the
// recorded state follows, so ps and inspect show it.
Status Monitor::handle_pause(bool pause) {
  std::unique_lock lock(engine_mu_);
  SandboxState now = sandbox_ ? sandbox_->state() : SandboxState::kStopped;
  if (pause && now == SandboxState::kPaused)
    return Error(ErrorCode::kIllegalState, "sandbox " + short_id() + " is already paused");
  if (!pause && now == SandboxState::kRunning)
    return Error(ErrorCode::kIllegalState, "sandbox " + short_id() + " is not paused");
  if (now != SandboxState::kRunning && now != SandboxState::kPaused)
    return Error(ErrorCode::kIllegalState, "sandbox " + short_id() + " is not running");
  if (pause) {
    KRUNBOX_TRY_CTX(sandbox_->pause(), "pausing sandbox " + short_id());
  } else {
    KRUNBOX_TRY_CTX(sandbox_->resume(), "resuming sandbox " + short_id());
  }
  {
    std::lock_guard status_lock(status_mu_);
    status_.state = pause ? SandboxState::kPaused : SandboxState::kRunning;
  }
  save();
  KB_INFO("sandbox {}: {}", short_id(), pause ? "paused" : "resumed");
  return {};
}

Result<uint32_t> Monitor::handle_checkpoint(const std::string& dir) {
  std::shared_lock lock(engine_mu_);
  SandboxState now = sandbox_ ? sandbox_->state() : SandboxState::kStopped;
  if (now != SandboxState::kRunning && now != SandboxState::kPaused)
    return Error(ErrorCode::kIllegalState, "sandbox " + short_id() + " is not running");
  if (!main_) return Error(ErrorCode::kIllegalState, "sandbox " + short_id() + " has no main process to carry over");
  uint32_t session = main_->id();
  KRUNBOX_TRY(sandbox_->snapshot(dir));
  KB_INFO("sandbox {}: checkpointed into {}", short_id(), dir);
  return session;
}

Status Monitor::with_agent(const std::function<Status(proto::AgentClient&)>& use) {
  std::shared_lock lock(engine_mu_);
  proto::AgentClient* agent = sandbox_ ? sandbox_->agent() : nullptr;
  if (agent && sandbox_->state() == SandboxState::kPaused) return monitor::paused_error(short_id());
  if (!agent || sandbox_->state() != SandboxState::kRunning)
    return Error(ErrorCode::kIllegalState, "sandbox " + short_id() + " is not running");
  return use(*agent);
}

}  // namespace krunbox
