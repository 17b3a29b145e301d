#include "serve/metrics.h"

#include <cstdio>

namespace krunbox::serve {
namespace {

std::string number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

}  // namespace

void Histogram::observe(std::chrono::duration<double> d) {
  std::lock_guard lock(mu_);
  size_t i = 0;
  while (i < kBounds.size() && d.count() > kBounds[i]) ++i;
  ++counts_[i];
  sum_ += d.count();
  ++count_;
}

std::string Histogram::text(const std::string& name, const std::string& help) const {
  return "# HELP " + name + " " + help + "\n# TYPE " + name + " histogram\n" + samples(name, "");
}

std::string Histogram::samples(const std::string& name, const std::string& labels) const {
  std::lock_guard lock(mu_);
  std::string out;
  std::string with = labels.empty() ? "" : labels + ",";
  std::string only = labels.empty() ? "" : "{" + labels + "}";
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= kBounds.size(); ++i) {
    cumulative += counts_[i];
    std::string le = i < kBounds.size() ? number(kBounds[i]) : "+Inf";
    out += name + "_bucket{" + with + "le=\"" + le + "\"} " + std::to_string(cumulative) + "\n";
  }
  out +=
      name + "_sum" + only + " " + number(sum_) + "\n" + name + "_count" + only + " " + std::to_string(count_) + "\n";
  return out;
}

void ApiMetrics::record(Kind kind, int status, std::chrono::duration<double> took) {
  {
    std::lock_guard lock(mu_);
    ++requests_[status];
  }
  if (status >= 400) return;
  if (kind == Kind::kExec) exec_.observe(took);
  if (kind == Kind::kCreate) create_.observe(took);
}

void ApiMetrics::record_start(const std::string& backend, std::chrono::duration<double> took) {
  std::lock_guard lock(mu_);
  starts_[backend].observe(took);
}

void ApiMetrics::record_background_exec() {
  ++background_execs_;
}

std::string ApiMetrics::text(Lifecycle& lc) const {
  std::string out =
      "# HELP krunbox_sandboxes Sandboxes by state, from their records.\n# TYPE krunbox_sandboxes gauge\n";
  std::map<std::string, uint64_t> by_state;
  for (auto s : {SandboxState::kCreated, SandboxState::kStarting, SandboxState::kRunning, SandboxState::kPaused,
                 SandboxState::kStopped, SandboxState::kCrashed})
    by_state[std::string(to_string(s))] = 0;
  if (auto views = lc.list(); views.ok())
    for (const auto& v : *views) ++by_state[std::string(to_string(v.status.state))];
  for (const auto& [state, n] : by_state)
    out += "krunbox_sandboxes{state=\"" + state + "\"} " + std::to_string(n) + "\n";
  out +=
      "# HELP krunbox_api_requests_total Requests this server answered, by HTTP status.\n"
      "# TYPE krunbox_api_requests_total counter\n";
  {
    std::lock_guard lock(mu_);
    for (const auto& [status, n] : requests_)
      out += "krunbox_api_requests_total{code=\"" + std::to_string(status) + "\"} " + std::to_string(n) + "\n";
  }
  out += exec_.text("krunbox_api_exec_duration_seconds",
                    "Foreground execs through the API, from the request to the command's end.");
  out += create_.text("krunbox_api_create_duration_seconds",
                      "Sandbox creates through the API (with their start unless start:false).");
  out +=
      "# HELP krunbox_sandbox_start_duration_seconds Sandbox starts through the API, from the request to running "
      "(a VM's boot to its agent's answer), by backend.\n"
      "# TYPE krunbox_sandbox_start_duration_seconds histogram\n";
  {
    std::lock_guard lock(mu_);
    for (const auto& [backend, h] : starts_)
      out += h.samples("krunbox_sandbox_start_duration_seconds", "backend=\"" + backend + "\"");
  }
  out +=
      "# HELP krunbox_api_background_execs_started_total Background commands started through the API.\n"
      "# TYPE krunbox_api_background_execs_started_total counter\n"
      "krunbox_api_background_execs_started_total " +
      std::to_string(background_execs_.load()) + "\n";
  return out;
}

}  // namespace krunbox::serve
