// The monitor's insides (monitor.h is its entry point): the supervisor that
// owns the engine and the main process, the dispatch of control requests
// (monitor_dispatch.cc) and the byte relays of exec, put and get
// (monitor_relay.cc). Internal to src/sandbox.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "backend/registry.h"
#include "base/unique_fd.h"
#include "proto/agent_client.h"
#include "sandbox/monitor_execs.h"
#include "sandbox/monitor_messages.h"
#include "sandbox/output_log.h"
#include "sandbox/secrets.h"
#include "sandbox/state_store.h"
#include "sandbox/stdio_bridge.h"

namespace krunbox {

// An attached monitor's workload stdio (MonitorArgs::attached): the main
// process's output goes to these fds, and the bridge feeds its stdin and
// forwards signals and resizes to it.
struct AttachedStdio {
  int out_fd = -1;
  int err_fd = -1;
  StdioBridge* bridge = nullptr;
};

// What the connection threads ask of the main thread.
struct MonitorEvent {
  enum class Kind { kStart, kStop, kRemove, kMainExited, kExpire };
  explicit MonitorEvent(Kind k) : kind(k) {}
  Kind kind;
  std::chrono::milliseconds grace{0};
  uint64_t generation = 0;
  std::string reason;  // kExpire: which timeout ran out
  std::shared_ptr<std::promise<Status>> done;
  // Set by the connection thread once the reply went out, so that the
  // monitor does not exit before its last answer was written.
  std::shared_ptr<std::promise<void>> replied;
};

class Monitor {
 public:
  Monitor(StateStore store, SandboxConfig config, SandboxStatus status, std::vector<Secret> secrets)
      : store_(std::move(store)),
        config_(std::move(config)),
        status_(std::move(status)),
        secrets_(std::move(secrets)) {}

  // The main thread: every engine start, restart and stop happens here (the
  // native backend's children die with the thread that forked them).
  // Returns the process exit code once the monitor's work is over.
  int run();
  // Accepts connections, one thread each (monitor_dispatch.cc).
  void serve(UniqueFd listener);
  void destroy_engine();
  // Attached mode: set before run().
  void attach_stdio(AttachedStdio stdio) { attached_ = stdio; }
  // What an attached monitor exits with once run() returned: the main
  // process's exit code (128+N for signal N); 128+SIGKILL when the sandbox
  // was stopped before it ran; kExitSandboxFailed when the engine failed.
  int attached_exit_code();

 private:
  const std::string& id() const { return config_.spec.id; }
  std::string short_id() const { return id().substr(0, 12); }

  // Supervision (monitor_supervisor.cc).
  void post(MonitorEvent ev);
  std::optional<MonitorEvent> pop();
  Status do_start();
  Status create_engine();
  Status launch_main();
  // True when the monitor's work is over.
  bool on_main_exited(const MonitorEvent& ev);
  bool do_restart();
  void do_stop(std::chrono::milliseconds grace, const std::string& reason);
  void finish(SandboxState state, std::string reason);
  void save();
  Status handle_kill(int sig);
  Status handle_pause(bool pause);
  // Saves the engine's state into `dir`; the main process's guest session.
  Result<uint32_t> handle_checkpoint(const std::string& dir);
  // Time to live and idle timeout (monitor_timeouts.cc).
  Status handle_timeout(std::chrono::seconds ttl);
  void arm_timeouts();
  // With queue_mu_ held: the expiry due at `now`, if any, and when to look again.
  std::optional<MonitorEvent> expiry_due(std::chrono::steady_clock::time_point now,
                                         std::optional<std::chrono::steady_clock::time_point>& wake);
  // A client request began or ended (status requests do not count).
  void client_began();
  void client_ended();
  // Runs `use` with the agent of the running engine, which stays while it
  // runs (a restart or stop waits for it); the error a request gets when
  // the sandbox is not running or paused.
  Status with_agent(const std::function<Status(proto::AgentClient&)>& use);

  // Dispatch (monitor_dispatch.cc).
  void handle_connection(UniqueFd fd);
  Status post_and_wait(MonitorEvent ev, int reply_fd);

  // Relays (monitor_relay.cc): each writes its own reply.
  void relay_exec(int fd, monitor::ExecRequest request);
  void relay_put(int fd, const monitor::PutRequest& request);
  void relay_get(int fd, const monitor::GetRequest& request);
  void relay_stat(int fd, const monitor::StatRequest& request);
  void relay_list(int fd, const monitor::ListDirRequest& request);
  Status file_op(const monitor::Request& request);
  // Kept execs (monitor_kept.cc).
  void keep_exec(int fd, std::unique_ptr<proto::ExecSession> session, const proto::ExecRequest& request);
  void relay_attach(int fd, const monitor::AttachRequest& request);
  void relay_exec_stdin(int fd, const monitor::ExecStdinRequest& request);
  Status exec_signal(const monitor::ExecSignalRequest& request);
  Status exec_resize(const monitor::ExecResizeRequest& request);

  StateStore store_;
  SandboxConfig config_;
  std::mutex status_mu_;
  SandboxStatus status_;
  std::vector<Secret> secrets_;
  std::unique_ptr<RotatingLog> log_;

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<MonitorEvent> queue_;
  std::optional<std::chrono::steady_clock::time_point> restart_at_;
  // Under queue_mu_: when this run's time to live ends; whether the idle
  // timeout applies (a run is on) and when a client last went.
  std::optional<std::chrono::steady_clock::time_point> ttl_at_;
  bool idle_armed_ = false;
  std::chrono::steady_clock::time_point last_client_;
  int active_clients_ = 0;

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
  // The engine was just restored from config_.checkpoint: launch_main takes
  // over the main process of that session instead of starting one.
  std::optional<uint32_t> adopt_main_;
  std::string resumed_from_;  // the pause's checkpoint this run resumed, removed once it runs
  std::atomic<bool> stopping_{false};
  std::atomic<bool> killed_{false};
  KeptExecs kept_;
  std::optional<AttachedStdio> attached_;
  std::unique_ptr<SessionTarget> attached_target_;
  bool bridge_started_ = false;
};

}  // namespace krunbox
