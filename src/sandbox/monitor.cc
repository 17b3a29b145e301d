#include "sandbox/monitor.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <future>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <thread>

#include "backend/registry.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/paths.h"
#include "base/unique_fd.h"
#include "base/unix_socket.h"
#include "proto/agent_client.h"
#include "sandbox/exec_request.h"
#include "sandbox/host_ports.h"
#include "sandbox/monitor_protocol.h"
#include "sandbox/output_log.h"
#include "sandbox/secrets.h"
#include "sandbox/state_store.h"

namespace krunbox {
namespace {

using namespace std::chrono_literals;
using monitor::FrameType;

constexpr auto kMaxBackoff = std::chrono::milliseconds(30s);
constexpr auto kFirstBackoff = std::chrono::milliseconds(100);
constexpr auto kEndGrace = std::chrono::milliseconds(2s);

struct Event {
  enum class Kind { kStart, kStop, kRemove, kMainExited };
  explicit Event(Kind k) : kind(k) {}
  Kind kind;
  std::chrono::milliseconds grace{0};
  uint64_t generation = 0;
  std::shared_ptr<std::promise<Status>> done;
  // Set by the connection thread once the reply went out, so that the
  // monitor does not exit before its last answer was written.
  std::shared_ptr<std::promise<void>> replied;
};

void answer(Event& ev, Status st) {
  ev.done->set_value(std::move(st));
}

void await_reply(Event& ev) {
  if (ev.replied) (void)ev.replied->get_future().wait_for(std::chrono::seconds(5));
}

Json reply_json(const Status& st) {
  if (st.ok()) return {{"ok", true}};
  return {{"ok", false}, {"error", st.error().what()}};
}

Json exit_json(const proto::ExitMessage& e) {
  return {{"code", e.status.code},
          {"signaled", e.status.signaled},
          {"signal", e.status.signal},
          {"timed_out", e.timed_out}};
}

class Monitor {
 public:
  Monitor(StateStore store, SandboxConfig config, SandboxStatus status, std::vector<Secret> secrets)
      : store_(std::move(store)),
        config_(std::move(config)),
        status_(std::move(status)),
        secrets_(std::move(secrets)) {}

  // The main thread: every engine start, restart and stop happens here (the
  // native backend's children die with the thread that forked them).
  int run();
  void serve(UniqueFd listener);
  void destroy_engine();

 private:
  const std::string& id() const { return config_.spec.id; }
  std::string short_id() const { return id().substr(0, 12); }

  void post(Event ev);
  Status post_and_wait(Event ev, int reply_fd);
  std::optional<Event> pop();

  Status do_start();
  Status create_engine();
  Status launch_main();
  // True when the monitor's work is over.
  bool on_main_exited(const Event& ev);
  bool do_restart();
  void do_stop(std::chrono::milliseconds grace, const std::string& reason);
  void finish(SandboxState state, std::string reason);
  void save();

  void handle_connection(UniqueFd fd);
  Status handle_exec(int fd, const Json& request);
  Status handle_kill(int sig);
  Status handle_pause(bool pause);

  StateStore store_;
  SandboxConfig config_;
  std::mutex status_mu_;
  SandboxStatus status_;
  std::vector<Secret> secrets_;
  std::unique_ptr<RotatingLog> log_;

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<Event> queue_;
  std::optional<std::chrono::steady_clock::time_point> restart_at_;

  // Exclusive while the engine or the main session is replaced; shared while used.
  std::shared_mutex engine_mu_;
  std::unique_ptr<Backend> backend_;
  std::unique_ptr<Sandbox> sandbox_;
  std::unique_ptr<proto::ExecSession> main_;
  std::thread waiter_;
  std::mutex exit_mu_;
  std::optional<proto::ExitMessage> last_exit_;
  std::string last_exit_error_;
  uint64_t generation_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> killed_{false};
};

void Monitor::save() {
  std::lock_guard lock(status_mu_);
  if (auto st = store_.save_status(id(), status_); !st.ok()) KB_ERROR("saving state: {}", st.error().what());
}

void Monitor::post(Event ev) {
  std::lock_guard lock(queue_mu_);
  queue_.push_back(std::move(ev));
  queue_cv_.notify_all();
}

Status Monitor::post_and_wait(Event ev, int reply_fd) {
  ev.done = std::make_shared<std::promise<Status>>();
  ev.replied = std::make_shared<std::promise<void>>();
  auto replied = ev.replied;
  auto future = ev.done->get_future();
  post(std::move(ev));
  Status st = future.get();
  (void)monitor::write_frame(reply_fd, FrameType::kReply, reply_json(st).dump());
  replied->set_value();
  return st;
}

void Monitor::destroy_engine() {
  if (waiter_.joinable()) waiter_.join();
  std::unique_lock lock(engine_mu_);
  main_.reset();
  sandbox_.reset();
}

std::optional<Event> Monitor::pop() {
  std::unique_lock lock(queue_mu_);
  for (;;) {
    if (!queue_.empty()) {
      Event ev = std::move(queue_.front());
      queue_.pop_front();
      return ev;
    }
    if (restart_at_) {
      if (queue_cv_.wait_until(lock, *restart_at_) == std::cv_status::timeout && queue_.empty()) return std::nullopt;
    } else {
      queue_cv_.wait(lock);
    }
  }
}

int Monitor::run() {
  for (;;) {
    std::optional<Event> ev = pop();
    if (!ev) {
      restart_at_.reset();
      if (do_restart()) return 0;
      continue;
    }
    switch (ev->kind) {
      case Event::Kind::kStart: {
        Status st = do_start();
        bool failed = !st.ok();
        answer(*ev, std::move(st));
        if (failed) {
          await_reply(*ev);
          return 1;
        }
        break;
      }
      case Event::Kind::kStop:
        do_stop(ev->grace, "stopped by krunbox stop");
        answer(*ev, Status{});
        await_reply(*ev);
        return 0;
      case Event::Kind::kRemove:
        do_stop(ev->grace, "removed by krunbox rm");
        answer(*ev, Status{});
        await_reply(*ev);
        return 0;
      case Event::Kind::kMainExited:
        if (ev->generation != generation_ || stopping_) break;
        if (on_main_exited(*ev)) return 0;
        break;
    }
  }
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
  save();
  if (auto st = launch_main(); !st.ok()) {
    {
      std::shared_lock lock(engine_mu_);
      (void)sandbox_->stop(kEndGrace);
    }
    return fail(std::move(st).error().wrap("starting the main process"));
  }
  return {};
}

Status Monitor::launch_main() {
  proto::AgentClient* agent = sandbox_ ? sandbox_->agent() : nullptr;
  if (!agent) return Error(ErrorCode::kInternal, "sandbox " + short_id() + " has no agent connection");
  std::vector<std::string> secrets = secret_env(secrets_);
  proto::ExecRequest req = main_process_request(config_.spec, secrets);
  for (auto& kv : secrets) wipe(kv);
  if (auto st = check_exec_request_size(req); !st.ok()) {
    for (auto& kv : req.env) wipe(kv);
    return st;
  }
  proto::ExecCallbacks callbacks;
  RotatingLog* log = log_.get();
  auto sink = [log](std::string_view data) {
    if (auto st = log->write(data); !st.ok()) KB_WARN("{}", st.error().what());
  };
  callbacks.on_stdout = sink;
  callbacks.on_stderr = sink;
  auto session = agent->exec(req, std::move(callbacks));
  for (auto& kv : req.env) wipe(kv);
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
    Event ev(Event::Kind::kMainExited);
    ev.generation = generation;
    post(std::move(ev));
  });
  return {};
}

bool Monitor::on_main_exited(const Event&) {
  if (waiter_.joinable()) waiter_.join();
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
  bool failed = !exit || !exit->status.success();
  std::string reason;
  if (exit) {
    reason = "main process " + exit->status.describe() + (exit->timed_out ? " (timed out)" : "");
  } else {
    reason = "engine failed: " + (crash.empty() ? error : crash);
  }
  {
    std::lock_guard lock(status_mu_);
    if (exit) status_.exit_status = exit->status;
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

Status Monitor::handle_exec(int fd, const Json& q) {
  proto::ExecRequest req;
  try {
    req.argv = q.at("argv").get<std::vector<std::string>>();
    req.env = config_.spec.env;
    for (auto& kv : secret_env(secrets_)) req.env.push_back(std::move(kv));
    for (auto& kv : q.value("env", std::vector<std::string>{})) req.env.push_back(std::move(kv));
    req.cwd = q.value("cwd", std::string());
    if (req.cwd.empty()) req.cwd = config_.spec.cwd;
    req.user = q.value("user", std::string());
    if (req.user.empty()) req.user = config_.spec.user;
    req.tty = q.value("tty", false);
    req.stdin_open = q.value("stdin", false);
    req.rows = q.value("rows", uint16_t{24});
    req.cols = q.value("cols", uint16_t{80});
  } catch (const Json::exception& e) {
    return Error(ErrorCode::kProtocol, std::string("malformed exec request: ") + e.what());
  }
  if (req.argv.empty()) return Error(ErrorCode::kInvalidArgument, "exec needs a command");
  // Refused here, not by the agent, whose refusal would cost the sandbox its agent connection.
  if (auto st = check_exec_request_size(req); !st.ok()) {
    for (auto& kv : req.env) wipe(kv);
    return st;
  }
  std::unique_ptr<proto::ExecSession> session;
  {
    std::shared_lock lock(engine_mu_);
    proto::AgentClient* agent = sandbox_ ? sandbox_->agent() : nullptr;
    if (agent && sandbox_->state() == SandboxState::kPaused) return monitor::paused_error(short_id());
    if (!agent || sandbox_->state() != SandboxState::kRunning)
      return Error(ErrorCode::kIllegalState, "sandbox " + short_id() + " is not running");
    auto started = agent->exec(req);
    for (auto& kv : req.env) wipe(kv);
    if (!started) return std::move(started).error();
    session = std::move(*started);
  }
  KRUNBOX_TRY(monitor::write_frame(fd, FrameType::kReply, Json{{"ok", true}, {"pid", session->pid()}}.dump()));

  std::mutex write_mu;
  auto send = [&](FrameType t, std::string_view p) {
    std::lock_guard lock(write_mu);
    return monitor::write_frame(fd, t, p);
  };
  auto pump = [&](bool err) {
    char buf[32768];
    for (;;) {
      auto n = err ? session->read_stderr(buf, sizeof buf) : session->read_stdout(buf, sizeof buf);
      if (!n.ok() || *n == 0) return;
      if (!send(err ? FrameType::kStderr : FrameType::kStdout, std::string_view(buf, *n)).ok()) return;
    }
  };
  std::atomic<bool> exited{false};
  std::thread out(pump, false);
  std::thread err(pump, true);
  std::thread input([&] {
    for (;;) {
      auto frame = monitor::read_frame(fd);
      if (!frame.ok() || !*frame) break;
      const auto& f = **frame;
      if (f.type == FrameType::kStdin) {
        (void)session->write_stdin(f.payload);
      } else if (f.type == FrameType::kStdinClose) {
        (void)session->close_stdin();
      } else if (f.type == FrameType::kSignal || f.type == FrameType::kResize) {
        auto j = monitor::parse_object(f.payload, "control frame");
        if (!j) break;
        if (f.type == FrameType::kSignal)
          (void)session->signal(j->value("signal", 0), false);
        else
          (void)session->resize(j->value("rows", uint16_t{24}), j->value("cols", uint16_t{80}));
      } else {
        break;
      }
    }
    // The client went away: the command ends with it.
    if (!exited) (void)session->cancel();
  });
  out.join();
  err.join();
  auto exit = session->wait();
  exited = true;
  if (exit.ok()) (void)send(FrameType::kExit, exit_json(*exit).dump());
  ::shutdown(fd, SHUT_RDWR);
  input.join();
  if (!exit.ok()) return std::move(exit).error();
  return {};
}

void Monitor::handle_connection(UniqueFd fd) {
  auto frame = monitor::read_frame(fd.get());
  if (!frame.ok() || !*frame || (*frame)->type != FrameType::kRequest) return;
  auto q = monitor::parse_object((*frame)->payload, "monitor request");
  Status st;
  Json reply;
  if (!q) {
    st = std::move(q).error();
  } else {
    std::string op = q->value("op", std::string());
    if (op == "exec") {
      st = handle_exec(fd.get(), *q);
      if (st.ok()) return;  // the reply and streams went out
      KB_DEBUG("exec: {}", st.error().what());
    } else if (op == "start") {
      (void)post_and_wait(Event(Event::Kind::kStart), fd.get());
      return;
    } else if (op == "stop" || op == "remove") {
      Event ev(op == "stop" ? Event::Kind::kStop : Event::Kind::kRemove);
      ev.grace = std::chrono::milliseconds(q->value("grace_ms", int64_t{10000}));
      (void)post_and_wait(std::move(ev), fd.get());
      return;
    } else if (op == "kill") {
      st = handle_kill(q->value("signal", 15));
    } else if (op == "pause" || op == "resume") {
      st = handle_pause(op == "pause");
    } else if (op == "status") {
      std::lock_guard lock(status_mu_);
      reply = {{"ok", true}, {"status", to_json(status_)}};
    } else {
      st = Error(ErrorCode::kInvalidArgument, "unknown monitor request '" + op + "'");
    }
  }
  if (reply.is_null()) reply = reply_json(st);
  (void)monitor::write_frame(fd.get(), FrameType::kReply, reply.dump());
}

void Monitor::serve(UniqueFd listener) {
  for (;;) {
    UniqueFd conn(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn) {
      if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE) {
        if (errno == EMFILE || errno == ENFILE) std::this_thread::sleep_for(10ms);
        continue;
      }
      KB_ERROR("accept on the control socket: {}", std::strerror(errno));
      return;
    }
    std::thread([this, c = std::move(conn)]() mutable { handle_connection(std::move(c)); }).detach();
  }
}

Result<UniqueFd> listen_on(const std::string& path) {
  KRUNBOX_TRY(ensure_private_dir(dirname_of(path), 0700));
  KRUNBOX_ASSIGN_OR_RETURN(UniqueFd fd, listen_unix_socket(path, 128));
  if (::chmod(path.c_str(), 0600) != 0) return Error::from_errno("chmod " + path);
  return fd;
}

Result<std::string> read_all_stdin() {
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(0, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::from_errno("reading the secrets from stdin");
    if (n == 0) return out;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > kMaxSecrets * (kMaxSecretBytes + 512))
      return Error(ErrorCode::kLimitExceeded, "secrets too large");
  }
}

}  // namespace

int run_monitor(const MonitorArgs& a) {
  UniqueFd ready(a.ready_fd);
  auto tell = [&](std::string_view msg) {
    if (ready) (void)write_all(ready.get(), msg.data(), msg.size());
    ready.reset();
  };
  if (a.id.size() != 64 || a.id.find_first_not_of("0123456789abcdef") != std::string::npos) {
    tell("monitor: '" + a.id + "' is not a sandbox id");
    return 1;
  }
  auto text = read_all_stdin();
  if (!text) {
    tell(text.error().what());
    return 1;
  }
  auto secrets = decode_secrets(*text);
  wipe(*text);
  if (!secrets) {
    tell(secrets.error().what());
    return 1;
  }
  // Detach: a new session without a terminal, and not the spawner's child.
  (void)::setsid();
  pid_t pid = ::fork();
  if (pid < 0) {
    tell("fork: " + std::string(std::strerror(errno)));
    return 1;
  }
  if (pid > 0) ::_exit(0);
  int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull >= 0) {
    ::dup2(devnull, 0);
    ::close(devnull);
  }
  // The lock must not leak into engines we start (it would outlive us there).
  ::fcntl(a.lock_fd, F_SETFD, FD_CLOEXEC);

  StateStore store(a.store_root, a.socket_root);
  auto config = store.load_config(a.id);
  if (!config) {
    tell(config.error().what());
    return 1;
  }
  auto status = store.load_status(a.id);
  if (!status) {
    tell(status.error().what());
    return 1;
  }
  auto listener = listen_on(store.socket_path(a.id));
  if (!listener) {
    tell(listener.error().what());
    return 1;
  }
  status->monitor = process_ref(::getpid());
  if (auto st = store.save_status(a.id, *status); !st.ok()) {
    tell(st.error().what());
    return 1;
  }
  KB_INFO("monitor of sandbox {} ready (pid {})", a.id.substr(0, 12), ::getpid());
  auto* m = new Monitor(store, std::move(*config), std::move(*status), std::move(*secrets));
  std::thread([m, l = std::move(*listener)]() mutable { m->serve(std::move(l)); }).detach();
  tell("ok");
  int rc = m->run();
  m->destroy_engine();
  (void)::unlink(store.socket_path(a.id).c_str());
  KB_INFO("monitor of sandbox {} exits", a.id.substr(0, 12));
  // Connection threads may still be running; end the process without running
  // destructors under them. The engine is stopped and state.json is final.
  std::fflush(nullptr);
  ::_exit(rc);
}

}  // namespace krunbox
