#include "backend/vm_sandbox.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ctime>
#include <thread>

#include "base/fs.h"
#include "base/json.h"
#include "base/log.h"
#include "base/paths.h"
#include "base/process_ref.h"

namespace krunbox {

std::string log_tail(const std::string& path, size_t max_bytes) {
  auto text = read_file(path, 64u << 20);
  if (!text || text->empty()) return "";
  std::string t = text->size() > max_bytes ? text->substr(text->size() - max_bytes) : *text;
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) t.pop_back();
  return t;
}

std::string last_line_with(const std::string& path, std::string_view needle) {
  auto text = read_file(path, 64u << 20);
  if (!text) return "";
  size_t at = text->rfind(needle);
  if (at == std::string::npos) return "";
  size_t begin = text->rfind('\n', at);
  begin = begin == std::string::npos ? 0 : begin + 1;
  size_t end = text->find('\n', at);
  std::string line = text->substr(begin, end == std::string::npos ? std::string::npos : end - begin);
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.pop_back();
  return line;
}

Result<std::vector<std::string>> sweep_vm_run_dirs(const std::string& dir, const std::string& helper_key,
                                                   const std::string& helper_label, const VmLeftoverCleanup& after_kill) {
  std::vector<std::string> removed;
  if (!is_directory(dir)) return removed;
  KRUNBOX_ASSIGN_OR_RETURN(std::vector<std::string> names, list_dir(dir));
  for (const auto& name : names) {
    std::string sdir = join_path(dir, name);
    if (is_lease_temp_name(name)) {
      // A run dir cut off between its mkdir and its rename.
      if (temp_lease_state(sdir) == LeaseState::kAbandoned && remove_tree(sdir).ok()) removed.push_back("removed " + sdir);
      continue;
    }
    if (name[0] == '.') continue;
    auto state = read_json_file(join_path(sdir, "state.json"), 64 * 1024);
    auto ref_of = [&](const std::string& key) -> std::optional<ProcessRef> {
      if (!state.ok() || !state->contains(key)) return std::nullopt;
      const Json& j = (*state)[key];
      return ProcessRef{j.value("pid", 0), j.value("start_time", uint64_t{0})};
    };
    // Held: a live krunbox process (of this run dir or another) owns it,
    // however young. The owner check also covers run dirs made before
    // leases (no owner.lock).
    if (lease_state(sdir) == LeaseState::kHeld) continue;
    if (auto owner = ref_of("owner"); owner && process_alive(*owner)) continue;
    if (auto helper = ref_of(helper_key); helper && process_alive(*helper)) {
      ::kill(helper->pid, SIGKILL);
      removed.push_back("killed " + helper_label + " " + std::to_string(helper->pid) + " of sandbox " + name.substr(0, 12));
      for (int i = 0; i < 200 && process_alive(*helper); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (after_kill) after_kill(name, removed);
    KRUNBOX_TRY(remove_tree(sdir));
    removed.push_back("removed " + sdir);
  }
  return removed;
}

Status VmSandbox::start() {
  KRUNBOX_TRY(state_.transition(SandboxState::kStarting));
  auto st = boot();
  if (!st.ok()) {
    auto [label, tail] = boot_log_tail();
    state_.set_crash_reason(st.error().what() + (tail.empty() ? "" : "; " + label + ": " + tail));
    (void)state_.transition(SandboxState::kCrashed);
    teardown();
    if (!tail.empty()) return std::move(st).error().wrap(label + " ends with: " + tail);
    return st;
  }
  return state_.transition(SandboxState::kRunning);
}

Status VmSandbox::stop(std::chrono::milliseconds grace) {
  if (is_terminal(state())) {
    teardown();
    return {};
  }
  stopping_ = true;
  // Without a grace period nothing in the guest gets time to end, so a guest
  // shutdown would only cost time: everything the VM holds is in its memory
  // (the root's writable layer is a tmpfs, and VM backends take no volumes),
  // so killing the VMM loses nothing a shutdown would have kept. Volumes on a
  // VM would need a sync through the agent first.
  if (grace.count() > 0) {
    if (auto* a = agent(); a && a->connected()) (void)a->shutdown(grace, shutdown_action());
    if (!wait_exit(grace + std::chrono::seconds(3))) {
      quit_gracefully();
      (void)wait_exit(std::chrono::seconds(2));
    }
  }
  teardown();
  return state_.transition(SandboxState::kStopped);
}

Status VmSandbox::kill(int sig) {
  std::lock_guard lock(mu_);
  if (!helper_.valid()) return Error(ErrorCode::kIllegalState, "sandbox " + id().substr(0, 12) + " is not running");
  return helper_.kill(sig);
}

Result<ExitStatus> VmSandbox::wait() {
  pid_t pid;
  {
    std::lock_guard lock(mu_);
    pid = helper_.valid() ? helper_.get() : -1;
  }
  if (pid > 0) {
    // Waits without reaping, so kill() and stop() keep a valid pid meanwhile.
    siginfo_t info{};
    while (::waitid(P_PID, pid, &info, WEXITED | WNOWAIT) < 0 && errno == EINTR) {
    }
    reap();
  }
  state_.wait_terminal(std::chrono::hours(24 * 365));
  std::lock_guard lock(mu_);
  return exit_status_.value_or(ExitStatus::exited(0));
}

proto::AgentClient* VmSandbox::agent() {
  std::lock_guard lock(mu_);
  return agent_.get();
}

void VmSandbox::adopt_helper(UniquePid helper) {
  std::lock_guard lock(mu_);
  helper_ = std::move(helper);
}

void VmSandbox::set_agent(std::unique_ptr<proto::AgentClient> agent) {
  std::lock_guard lock(mu_);
  agent_ = std::move(agent);
}

std::string VmSandbox::exit_note() {
  std::lock_guard lock(mu_);
  if (!helper_.valid()) return "";
  auto done = helper_.try_wait();
  if (done.ok() && done->has_value()) {
    exit_status_ = **done;
    return " (" + describe_exit(**done) + ")";
  }
  return "";
}

Status VmSandbox::write_state(const std::string& helper_key) {
  auto owner = process_ref(::getpid());
  std::optional<ProcessRef> helper;
  {
    std::lock_guard lock(mu_);
    helper = process_ref(helper_.get());
  }
  Json j = {{"id", id()}, {"backend", std::string(backend_name())}};
  if (owner) j["owner"] = {{"pid", owner->pid}, {"start_time", owner->start_time}};
  if (helper) j[helper_key] = {{"pid", helper->pid}, {"start_time", helper->start_time}};
  return write_file_atomic(join_path(run_dir(), "state.json"), j.dump(), 0600);
}

bool VmSandbox::wait_exit(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  if (!helper_.valid()) return true;
  auto done = helper_.wait_for(timeout);
  if (done.ok() && done->has_value()) {
    exit_status_ = **done;
    return true;
  }
  return false;
}

std::string VmSandbox::crash_reason_within(std::chrono::milliseconds grace) {
  pid_t pid;
  {
    std::lock_guard lock(mu_);
    pid = helper_.valid() ? helper_.get() : -1;
  }
  auto deadline = std::chrono::steady_clock::now() + grace;
  while (pid > 0) {
    // Without reaping, as wait() does; reap() then records the crash.
    siginfo_t info{};
    info.si_pid = 0;
    if (::waitid(P_PID, pid, &info, WEXITED | WNOWAIT | WNOHANG) == 0 && info.si_pid == pid) {
      reap();
      break;
    }
    if (std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return state_.crash_reason();
}

void VmSandbox::reap() {
  std::optional<ExitStatus> st;
  {
    std::lock_guard lock(mu_);
    if (!helper_.valid()) return;
    auto r = helper_.wait();
    if (r.ok()) exit_status_ = st = *r;
  }
  if (!stopping_ && !is_terminal(state())) {
    state_.set_crash_reason(crash_reason(st));
    (void)state_.transition(SandboxState::kCrashed);
  }
}

std::unique_ptr<proto::AgentClient> VmSandbox::end_helper_locked() {
  auto agent = std::move(agent_);
  if (helper_.valid()) {
    (void)helper_.kill(SIGKILL);
    auto r = helper_.wait();
    if (r.ok() && !exit_status_) exit_status_ = *r;
  }
  release_after_exit();
  return agent;
}

void VmSandbox::discard_helper() {
  std::unique_ptr<proto::AgentClient> agent;
  {
    std::lock_guard lock(mu_);
    agent = end_helper_locked();
    exit_status_.reset();
  }
  if (agent) agent->close();
}

Status VmSandbox::make_run_dir() {
  if (run_lease_.held()) return {};
  KRUNBOX_TRY(ensure_private_dir(dirname_of(run_dir())));
  KRUNBOX_ASSIGN_OR_RETURN(run_lease_, DirLease::create(run_dir(), 0700));
  return {};
}

void VmSandbox::teardown() {
  const std::string& dir = run_dir();
  std::unique_ptr<proto::AgentClient> agent;
  {
    std::lock_guard lock(mu_);
    agent = end_helper_locked();
  }
  if (agent) agent->close();
  if (!dir.empty() && path_exists(dir)) {
    if (auto st = remove_tree(dir); !st.ok()) KB_WARN("removing {}: {}", dir, st.error().what());
  }
  run_lease_.release();
}

}  // namespace krunbox
