// A run's time to live and idle timeout (SandboxConfig::ttl, idle_timeout),
// kept by the monitor's main loop: pop() wakes when one is due and hands
// the loop a kExpire event, which stops the run like `krunbox stop`.
#include "base/log.h"
#include "sandbox/monitor_supervisor.h"

namespace krunbox {
namespace {

using Clock = std::chrono::steady_clock;

std::string seconds_text(std::chrono::seconds s) {
  return std::to_string(s.count()) + " s";
}

}  // namespace

// At the start of a run.
void Monitor::arm_timeouts() {
  auto now = Clock::now();
  {
    std::lock_guard lock(queue_mu_);
    ttl_at_.reset();
    if (config_.ttl.count() > 0) ttl_at_ = now + config_.ttl;
    idle_armed_ = config_.idle_timeout.count() > 0;
    last_client_ = now;
  }
  std::lock_guard lock(status_mu_);
  status_.deadline = config_.ttl.count() > 0 ? unix_now() + config_.ttl.count() : 0;
}

Status Monitor::handle_timeout(std::chrono::seconds ttl) {
  {
    std::lock_guard lock(status_mu_);
    if (status_.state != SandboxState::kRunning && status_.state != SandboxState::kPaused)
      return Error(ErrorCode::kIllegalState, "sandbox " + short_id() + " is " + std::string(to_string(status_.state)) +
                                                 "; a time to live applies to a running sandbox");
    status_.deadline = ttl.count() > 0 ? unix_now() + ttl.count() : 0;
  }
  save();
  std::lock_guard lock(queue_mu_);
  if (ttl.count() > 0) {
    ttl_at_ = Clock::now() + ttl;
  } else {
    ttl_at_.reset();
  }
  queue_cv_.notify_all();
  KB_INFO("sandbox {}: time to live set to {}", short_id(), ttl.count() > 0 ? seconds_text(ttl) : "none");
  return {};
}

std::optional<MonitorEvent> Monitor::expiry_due(Clock::time_point now, std::optional<Clock::time_point>& wake) {
  auto earliest = [&](Clock::time_point t) {
    if (!wake || t < *wake) wake = t;
  };
  if (ttl_at_) {
    if (now >= *ttl_at_) {
      ttl_at_.reset();
      MonitorEvent ev(MonitorEvent::Kind::kExpire);
      ev.reason = "its time to live ran out";
      return ev;
    }
    earliest(*ttl_at_);
  }
  if (idle_armed_) {
    // A client still connected (an exec, a transfer) or a background
    // command still running keeps it busy: look again a timeout later.
    if (active_clients_ > 0 || kept_.any_running()) last_client_ = std::max(last_client_, now);
    auto due = last_client_ + config_.idle_timeout;
    if (now >= due) {
      idle_armed_ = false;
      MonitorEvent ev(MonitorEvent::Kind::kExpire);
      ev.reason = "no client used it for " + seconds_text(config_.idle_timeout) + " (idle timeout)";
      return ev;
    }
    earliest(due);
  }
  return std::nullopt;
}

void Monitor::client_began() {
  std::lock_guard lock(queue_mu_);
  ++active_clients_;
}

void Monitor::client_ended() {
  std::lock_guard lock(queue_mu_);
  --active_clients_;
  last_client_ = Clock::now();
}

}  // namespace krunbox
