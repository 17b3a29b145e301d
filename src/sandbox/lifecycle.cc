#include "sandbox/lifecycle.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <thread>

#include "backend/registry.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/paths.h"
#include "base/read_to_eof.h"
#include "base/subprocess.h"
#include "base/unix_socket.h"
#include "sandbox/exec_request.h"
#include "sandbox/host_ports.h"
#include "sandbox/checkpoints.h"
#include "sandbox/image_root.h"
#include "sandbox/monitor_protocol.h"

namespace krunbox {
namespace {

using namespace std::chrono_literals;

constexpr auto kStartTimeout = std::chrono::milliseconds(15min);
constexpr auto kControlTimeout = std::chrono::milliseconds(60s);
// How long a monitor whose run ended may take to exit.
constexpr auto kMonitorEndTimeout = std::chrono::milliseconds(30s);

bool is_active(SandboxState s) {
  return s == SandboxState::kStarting || s == SandboxState::kRunning || s == SandboxState::kPaused;
}

std::string ago(int64_t t) {
  if (t <= 0) return "";
  int64_t d = unix_now() - t;
  if (d < 0) d = 0;
  if (d < 60) return std::to_string(d) + " seconds ago";
  if (d < 3600) return std::to_string(d / 60) + " minutes ago";
  if (d < 86400) return std::to_string(d / 3600) + " hours ago";
  return std::to_string(d / 86400) + " days ago";
}

// What the monitor will send the agent to start the main process, measured
// before the sandbox is recorded or started.
Status check_main_request_size(const SandboxSpec& spec, const std::vector<Secret>& secrets) {
  std::vector<std::string> env = secret_env(secrets);
  proto::ExecRequest req = main_process_request(spec, env);
  Status st = check_exec_request_size(req);
  for (auto& kv : env) wipe(kv);
  for (auto& kv : req.env) wipe(kv);
  return st;
}

// A monitor's own output goes to its log; its fds 3 (readiness) and 4 (the lock) are the caller's to add.
SpawnOptions monitor_spawn_options(const std::string& log) {
  SpawnOptions o;
  o.stdout_mode = Stdio::kFile;
  o.stderr_mode = Stdio::kFile;
  o.stdout_file = log;
  o.stderr_file = log;
  o.search_path = false;
  return o;
}

Json port_list(const std::vector<PortMapping>& ports) {
  Json a = Json::array();
  for (const auto& p : ports) a.push_back(describe(p));
  return a;
}

}  // namespace

std::string describe_status(const SandboxView& v) {
  const auto& s = v.status;
  switch (s.state) {
    case SandboxState::kCreated: return "created";
    case SandboxState::kStarting: return "starting";
    case SandboxState::kRunning: return s.restarting ? "restarting" : "running";
    case SandboxState::kPaused: return "paused";
    case SandboxState::kStopped: {
      if (v.paused_to_disk) return "paused (on disk)" + (s.finished_at ? " " + ago(s.finished_at) : std::string());
      std::string code = s.exit_status ? " (" + std::to_string(s.exit_status->shell_code()) + ")" : "";
      return "exited" + code + (s.finished_at ? " " + ago(s.finished_at) : "");
    }
    case SandboxState::kCrashed: return "crashed: " + s.reason;
  }
  return "unknown";
}

Json inspect_json(const SandboxView& v, const StateStore& store) {
  const auto& c = v.config;
  const auto& s = v.status;
  Json state = {{"Status", std::string(to_string(s.state))},
                {"Description", describe_status(v)},
                {"Running", s.state == SandboxState::kRunning},
                {"Restarting", s.restarting},
                {"RestartCount", s.restart_count},
                {"Reason", s.reason},
                {"StartedAt", s.started_at},
                {"FinishedAt", s.finished_at},
                {"MonitorAlive", v.monitor_alive},
                {"PausedToDisk", v.paused_to_disk}};
  if (s.monitor && v.monitor_alive) state["MonitorPid"] = s.monitor->pid;
  if (s.exit_status) state["ExitCode"] = s.exit_status->shell_code();
  if (s.deadline && !is_terminal(s.state)) state["Deadline"] = s.deadline;
  Json spec = to_json(c.spec);
  spec.erase("id");
  spec.erase("name");
  return {
      {"Id", v.id},
      {"Name", c.spec.name},
      {"Created", c.created_at},
      {"Backend", c.backend},
      {"Image", c.image},
      {"State", state},
      {"Config", spec},
      {"RestartPolicy", to_string(c.restart)},
      {"TimeToLive", c.ttl.count()},
      {"IdleTimeout", c.idle_timeout.count()},
      {"Labels", c.labels},
      {"Checkpoint", c.checkpoint},
      {"Secrets", c.secret_names},
      {"Ports", port_list(s.ports.empty() ? c.spec.ports : s.ports)},
      {"Paths", {{"StateDir", store.dir(v.id)}, {"Log", store.log_path(v.id)}, {"Socket", store.socket_path(v.id)}}}};
}

std::string Lifecycle::monitor_lock_path(const std::string& id) const {
  return join_path(store_.dir(id), "monitor.lock");
}

bool Lifecycle::monitor_alive(const std::string& id) const {
  UniqueFd fd(::open(monitor_lock_path(id).c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return false;
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) == 0) return false;  // nobody holds it: no monitor
  return errno == EWOULDBLOCK;
}

Status Lifecycle::spawn_monitor(const std::string& id, const std::vector<Secret>& secrets, UniqueFd lock) {
  KRUNBOX_ASSIGN_OR_RETURN(std::string exe, find_krunbox_program());
  KRUNBOX_ASSIGN_OR_RETURN(auto ready, make_pipe());
  SpawnOptions o = monitor_spawn_options(store_.monitor_log_path(id));
  o.stdin_mode = Stdio::kPipe;
  o.keep_fds = {{ready.write.get(), 3}, {lock.get(), 4}};
  KRUNBOX_ASSIGN_OR_RETURN(auto child, Subprocess::spawn({exe, "monitor", id}, o));
  ready.write.reset();
  lock.reset();  // the monitor holds it now
  std::string text = encode_secrets(secrets);
  Status wrote = write_all(child.stdin_fd().get(), text.data(), text.size());
  wipe(text);
  child.stdin_fd().reset();
  // The first process only reads the secrets and forks the real monitor.
  KRUNBOX_ASSIGN_OR_RETURN(auto first, child.wait());
  std::string answer = read_to_eof(ready.read.get());
  if (answer == "ok") return {};
  if (!wrote.ok()) return std::move(wrote).error().wrap("handing the secrets to the monitor");
  if (answer.empty())
    answer = "it ended (" + first.describe() + ") before it was ready; see " + store_.monitor_log_path(id);
  return Error(ErrorCode::kInternal, "starting the monitor of sandbox " + id.substr(0, 12) + ": " + answer);
}

Result<UniqueFd> Lifecycle::open_request(const std::string& id, const monitor::Request& request) {
  // The socket dir and the listener must be ours before a request (argv,
  // env) goes out: see docs/security.md, "Local users and the run dir".
  std::string socket = store_.socket_path(id);
  KRUNBOX_TRY_CTX(check_private_dir(dirname_of(socket)), "reaching the monitor of sandbox " + id.substr(0, 12));
  auto fd = connect_own_unix_socket(socket, 2s);
  if (!fd && fd.error().code() == ErrorCode::kPermissionDenied)
    return std::move(fd).error().wrap("reaching the monitor of sandbox " + id.substr(0, 12));
  if (!fd) return std::move(fd).error().wrap("the monitor of sandbox " + id.substr(0, 12) + " does not answer");
  KRUNBOX_TRY(monitor::write_frame(fd->get(), monitor::FrameType::kRequest, monitor::encode_request(request)));
  return fd;
}

Result<Json> Lifecycle::call(const std::string& id, const monitor::Request& request,
                             std::chrono::milliseconds timeout) {
  KRUNBOX_ASSIGN_OR_RETURN(auto fd, open_request(id, request));
  timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return read_monitor_reply(fd.get(), id);
}

Result<Json> read_monitor_reply(int fd, const std::string& id) {
  auto frame = monitor::read_frame(fd);
  if (!frame) return std::move(frame).error().wrap("waiting for the monitor of sandbox " + id.substr(0, 12));
  if (!*frame)
    return Error(ErrorCode::kCancelled, "the monitor of sandbox " + id.substr(0, 12) +
                                            " ended the connection before it answered (see krunbox ps -a)");
  if ((*frame)->type != monitor::FrameType::kReply)
    return Error(ErrorCode::kProtocol, "the monitor of sandbox " + id.substr(0, 12) + " sent frame type " +
                                           std::to_string(static_cast<int>((*frame)->type)) + " instead of its reply");
  return monitor::parse_reply((*frame)->payload);
}

Result<UniqueFd> Lifecycle::record(SandboxConfig& config, const std::vector<Secret>& secrets) {
  if (config.spec.id.empty()) config.spec.id = generate_sandbox_id();
  config.created_at = unix_now();
  config.secret_names.clear();
  for (const auto& s : secrets) config.secret_names.push_back(s.name);
  KRUNBOX_TRY(check_main_request_size(config.spec, secrets));
  // A taken host port is an error now, before anything exists.
  KRUNBOX_TRY(status_of(reserve_host_ports(config.spec.ports)));
  const std::string& id = config.spec.id;
  KRUNBOX_TRY(store_.create(config));
  UniqueFd lock(::open(monitor_lock_path(id).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!lock || ::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
    Error e = Error::from_errno("locking " + monitor_lock_path(id));
    (void)store_.remove(id);
    return e;
  }
  return lock;
}

Result<std::string> Lifecycle::create(SandboxConfig config, const std::vector<Secret>& secrets) {
  KRUNBOX_ASSIGN_OR_RETURN(UniqueFd lock, record(config, secrets));
  const std::string id = config.spec.id;
  if (auto st = spawn_monitor(id, secrets, std::move(lock)); !st.ok()) {
    (void)store_.remove(id);
    return std::move(st).error();
  }
  return id;
}

Result<pid_t> Lifecycle::create_attached(SandboxConfig config, const std::vector<std::string>& monitor_argv,
                                         std::array<int, 3> stdio) {
  KRUNBOX_ASSIGN_OR_RETURN(UniqueFd lock, record(config, {}));
  const std::string id = config.spec.id;
  auto spawned = [&]() -> Result<pid_t> {
    KRUNBOX_ASSIGN_OR_RETURN(auto ready, make_pipe());
    SpawnOptions o = monitor_spawn_options(store_.monitor_log_path(id));
    o.stdin_mode = Stdio::kNull;
    o.keep_fds = {{ready.write.get(), 3}, {lock.get(), 4}, {stdio[0], 5}, {stdio[1], 6}, {stdio[2], 7}};
    KRUNBOX_ASSIGN_OR_RETURN(auto child, Subprocess::spawn(monitor_argv, o));
    ready.write.reset();
    lock.reset();  // the monitor holds it now
    std::string answer = read_to_eof(ready.read.get());
    if (answer == "ok") return child.process().release();
    auto ended = child.wait();
    if (answer.empty())
      answer = "it ended (" + (ended ? ended->describe() : ended.error().what()) + ") before it was ready; see " +
               store_.monitor_log_path(id);
    return Error(ErrorCode::kInternal, "starting the monitor of sandbox " + id.substr(0, 12) + ": " + answer);
  }();
  if (!spawned) (void)store_.remove(id);
  return spawned;
}

bool Lifecycle::await_monitor_end(const std::string& id, std::chrono::milliseconds timeout) const {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (monitor_alive(id)) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

Status Lifecycle::start(const std::string& id, const std::vector<Secret>& secrets) {
  KRUNBOX_ASSIGN_OR_RETURN(auto v, view(id));
  if (is_active(v.status.state))
    return Error(ErrorCode::kIllegalState, "sandbox " + id.substr(0, 12) + " is already " + describe_status(v));
  // A run that ended takes its monitor with it, a moment later: a start in
  // that moment waits for it rather than asking a monitor on its way out.
  if (v.monitor_alive && is_terminal(v.status.state)) {
    if (!await_monitor_end(id, kMonitorEndTimeout))
      return Error(ErrorCode::kIllegalState, "the monitor of sandbox " + id.substr(0, 12) +
                                                 "'s last run has not ended after " +
                                                 std::to_string(kMonitorEndTimeout.count() / 1000) +
                                                 " s; try again, or remove the sandbox with force");
    v.monitor_alive = false;
  }
  if (!v.monitor_alive) {
    std::string missing;
    // A sandbox paused to disk resumes with its secrets in its saved memory.
    for (const auto& name : v.paused_to_disk ? std::vector<std::string>{} : v.config.secret_names) {
      bool given = false;
      for (const auto& s : secrets) given |= s.name == name;
      if (!given) missing += (missing.empty() ? "" : ", ") + name;
    }
    if (!missing.empty())
      return Error(ErrorCode::kInvalidArgument,
                   "sandbox " + id.substr(0, 12) +
                       " uses secrets that krunbox keeps only in its monitor's memory, "
                       "and that monitor has ended; give them again: krunbox start --secret NAME=... (" +
                       missing + ")");
    KRUNBOX_TRY(check_main_request_size(v.config.spec, secrets));
    UniqueFd lock(::open(monitor_lock_path(id).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!lock) return Error::from_errno("opening " + monitor_lock_path(id));
    if (::flock(lock.get(), LOCK_EX | LOCK_NB) != 0)
      return Error(ErrorCode::kIllegalState, "sandbox " + id.substr(0, 12) + " is being started by another command");
    KRUNBOX_TRY(spawn_monitor(id, secrets, std::move(lock)));
  }
  return status_of(call(id, monitor::StartRequest{}, kStartTimeout));
}

Status Lifecycle::stop(const std::string& id, std::chrono::milliseconds grace) {
  KRUNBOX_ASSIGN_OR_RETURN(auto v, view(id));
  if (!v.monitor_alive) return {};  // nothing of it runs
  KRUNBOX_TRY(status_of(call(id, monitor::StopRequest{grace}, grace + kControlTimeout)));
  // Stopped means the monitor is gone too, so what follows (start, rm)
  // meets no monitor on its way out.
  (void)await_monitor_end(id, kMonitorEndTimeout);
  return {};
}

Status Lifecycle::kill(const std::string& id, int signal) {
  KRUNBOX_ASSIGN_OR_RETURN(auto v, view(id));
  KRUNBOX_TRY(require_running(v, id));
  return status_of(call(id, monitor::KillRequest{signal}, kControlTimeout));
}

Status require_running(const SandboxView& v, const std::string& id) {
  if (v.monitor_alive && v.status.state == SandboxState::kRunning) return {};
  if (v.monitor_alive && v.status.state == SandboxState::kPaused) return monitor::paused_error(id.substr(0, 12));
  return Error(ErrorCode::kIllegalState,
               "sandbox " + id.substr(0, 12) + " is not running (" + describe_status(v) + ")");
}

Status Lifecycle::pause(const std::string& id) {
  KRUNBOX_ASSIGN_OR_RETURN(auto v, view(id));
  if (v.monitor_alive && v.status.state == SandboxState::kPaused)
    return Error(ErrorCode::kIllegalState, "sandbox " + id.substr(0, 12) + " is already paused");
  KRUNBOX_TRY(require_running(v, id));
  return status_of(call(id, monitor::PauseRequest{}, kControlTimeout));
}

Status Lifecycle::set_ttl(const std::string& id, std::chrono::seconds ttl) {
  KRUNBOX_TRY(check_sandbox_timeouts(ttl, std::chrono::seconds(0)));
  KRUNBOX_ASSIGN_OR_RETURN(auto v, view(id));
  if (!(v.monitor_alive && v.status.state == SandboxState::kPaused)) KRUNBOX_TRY(require_running(v, id));
  return status_of(call(id, monitor::TimeoutRequest{ttl}, kControlTimeout));
}

Status Lifecycle::resume(const std::string& id) {
  KRUNBOX_ASSIGN_OR_RETURN(auto v, view(id));
  // Its next start restores the pause's checkpoint (monitor_supervisor.cc).
  if (v.paused_to_disk) return start(id, {});
  if (!v.monitor_alive || v.status.state != SandboxState::kPaused)
    return Error(ErrorCode::kIllegalState,
                 "sandbox " + id.substr(0, 12) + " is not paused (" + describe_status(v) + ")");
  return status_of(call(id, monitor::ResumeRequest{}, kControlTimeout));
}

Result<std::vector<std::string>> Lifecycle::remove(const std::string& id, bool force) {
  KRUNBOX_ASSIGN_OR_RETURN(auto v, view(id));
  if (v.monitor_alive) {
    if (is_active(v.status.state) && !force)
      return Error(ErrorCode::kIllegalState, "sandbox " + id.substr(0, 12) + " is " + describe_status(v) +
                                                 "; stop it first (krunbox stop) or use rm -f");
    auto st = call(id, monitor::RemoveRequest{std::chrono::milliseconds(force ? 1000 : 10000)}, kControlTimeout);
    if (!st) KB_WARN("asking the monitor to end: {}", st.error().what());
    auto deadline = std::chrono::steady_clock::now() + (st ? 30s : 2s);
    while (monitor_alive(id) && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(20ms);
    if (monitor_alive(id)) {
      auto status = store_.load_status(id);
      if (status && status->monitor && process_alive(*status->monitor)) ::kill(status->monitor->pid, SIGKILL);
      deadline = std::chrono::steady_clock::now() + 5s;
      while (monitor_alive(id) && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(20ms);
      if (monitor_alive(id))
        return Error(ErrorCode::kIllegalState, "the monitor of sandbox " + id.substr(0, 12) + " does not end");
    }
  }
  // A dead monitor stays a zombie until its parent (init) reaps it, and the
  // sweeps treat an unreaped owner as alive: wait for it.
  if (auto status = store_.load_status(id); status && status->monitor) {
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (process_alive(*status->monitor) && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(20ms);
  }
  // Whatever a dead monitor's engine left behind (processes, mounts, cgroups,
  // run dirs), found in the run dir: only if it is ours, since the sweeps
  // kill the processes its state files name.
  KRUNBOX_TRY_CTX(check_private_dir(run_root()), "removing sandbox " + id.substr(0, 12));
  std::vector<std::string> lines = sweep_backend_leftovers();
  // Once the engine is gone (nothing mounts the root any more) and before the
  // record is (which owns the root until then: see image_root.h).
  KRUNBOX_TRY_CTX(release_sandbox_root(id, image_store_root_), "releasing the root of sandbox " + id.substr(0, 12));
  KRUNBOX_TRY_CTX(store_.remove(id), "removing sandbox " + id.substr(0, 12));
  return lines;
}

Result<SandboxView> Lifecycle::view(const std::string& id) {
  SandboxView v;
  v.id = id;
  KRUNBOX_ASSIGN_OR_RETURN(v.config, store_.load_config(id));
  KRUNBOX_ASSIGN_OR_RETURN(v.status, store_.load_status(id));
  v.monitor_alive = monitor_alive(id);
  v.paused_to_disk = !v.monitor_alive && is_paused_to_disk(store_, id);
  if (v.monitor_alive || !is_active(v.status.state)) return v;
  // The monitor is gone while the sandbox was active: record why, once.
  KRUNBOX_ASSIGN_OR_RETURN(auto lock, store_.lock(id));
  KRUNBOX_ASSIGN_OR_RETURN(v.status, store_.load_status(id));
  v.monitor_alive = monitor_alive(id);
  if (v.monitor_alive || !is_active(v.status.state)) return v;
  std::string pid = v.status.monitor ? " (pid " + std::to_string(v.status.monitor->pid) + ")" : "";
  v.status.reason = "the monitor" + pid + " ended unexpectedly while the sandbox was " +
                    std::string(to_string(v.status.state)) + "; krunbox rm cleans up after it";
  v.status.state = SandboxState::kCrashed;
  v.status.restarting = false;
  v.status.finished_at = unix_now();
  // The monitor's pid stays recorded: rm waits for it to be reaped before the sweeps.
  KRUNBOX_TRY(store_.save_status(id, v.status));
  return v;
}

Result<std::vector<SandboxView>> Lifecycle::list() {
  KRUNBOX_ASSIGN_OR_RETURN(auto ids, store_.list());
  std::vector<SandboxView> out;
  for (const auto& id : ids) {
    auto v = view(id);
    if (v) {
      out.push_back(std::move(*v));
    } else if (store_.load_config(id).ok()) {
      KB_WARN("sandbox {}: {}", id.substr(0, 12), v.error().what());
    }
  }
  std::sort(out.begin(), out.end(),
            [](const SandboxView& a, const SandboxView& b) { return a.config.created_at > b.config.created_at; });
  return out;
}

}  // namespace krunbox
