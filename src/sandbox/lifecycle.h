// Long-lived sandboxes from the CLI's side: create, start, stop, kill, rm,
// ps and inspect over the state store and the monitors' control sockets.
// Every read reconciles: a sandbox whose monitor is gone (kill -9, crash,
// reboot) is recorded as crashed with the reason, and rm cleans up whatever
// the engine left behind. See docs/lifecycle.md.
#pragma once

#include <array>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "base/json.h"
#include "base/unique_fd.h"
#include "krunbox/error.h"
#include "sandbox/monitor_messages.h"
#include "sandbox/secrets.h"
#include "sandbox/state_store.h"

namespace krunbox {

struct SandboxView {
  std::string id;
  SandboxConfig config;
  SandboxStatus status;
  bool monitor_alive = false;
  // Stopped by pause --to-disk: unpause restores it (sandbox/checkpointing.h).
  bool paused_to_disk = false;
};

// "running", "exited (0) 3 seconds ago", "crashed: <reason>", ...
std::string describe_status(const SandboxView& view);
// The document `krunbox inspect` prints (no secret values, only names).
Json inspect_json(const SandboxView& view, const StateStore& store);

// OK for a running sandbox; otherwise the error a request that needs it
// running gets, with the way out for a paused one.
Status require_running(const SandboxView& view, const std::string& id);

// The monitor's reply on `fd` (after whatever frames came before it): the
// body of an ok reply, the error of a failed one, or what became of the
// connection, naming sandbox `id`.
Result<Json> read_monitor_reply(int fd, const std::string& id);

class Lifecycle {
 public:
  // `image_store_root`: the image store that holds the sandboxes' roots
  // (data_root() when empty).
  explicit Lifecycle(StateStore store = StateStore(), std::string image_store_root = "")
      : store_(std::move(store)), image_store_root_(std::move(image_store_root)) {}
  const StateStore& store() const { return store_; }

  // Records the sandbox and starts its monitor (which holds the secrets).
  Result<std::string> create(SandboxConfig config, const std::vector<Secret>& secrets);
  // For an OCI runtime: records the sandbox and starts its monitor attached
  // (MonitorArgs::attached) as a child of this process, running
  // `monitor_argv` (a program that calls run_monitor with the arguments
  // given by monitor_args_from, below). The workload's stdio are `stdio`
  // (three fds of ours). Returns the monitor's pid once it is ready; this
  // process no longer owns it: whoever reaps this process's orphans (the
  // caller's subreaper) reaps it and gets the workload's exit status.
  Result<pid_t> create_attached(SandboxConfig config, const std::vector<std::string>& monitor_argv,
                                std::array<int, 3> stdio);
  // Starts it; a sandbox whose monitor ended (stopped, crashed) gets a new
  // one, which needs the secrets it was created with again.
  Status start(const std::string& id, const std::vector<Secret>& secrets);
  Status stop(const std::string& id, std::chrono::milliseconds grace);
  Status kill(const std::string& id, int signal);
  // Freezes a running sandbox (its processes, or the VM's vCPUs) and thaws it.
  Status pause(const std::string& id);
  Status resume(const std::string& id);
  // A running sandbox's time to live, from now (0: none); its monitor stops
  // it then, as it stops one that was never extended.
  Status set_ttl(const std::string& id, std::chrono::seconds ttl);
  // Removes every trace, its image root included; a running sandbox only
  // with force. Returns what the leftover sweeps removed.
  Result<std::vector<std::string>> remove(const std::string& id, bool force);

  Result<std::string> resolve(const std::string& key) const { return store_.resolve(key); }
  Result<SandboxView> view(const std::string& id);
  Result<std::vector<SandboxView>> list();

  // A connection to the monitor, after sending `request` (the reply is not read).
  Result<UniqueFd> open_request(const std::string& id, const monitor::Request& request);
  bool monitor_alive(const std::string& id) const;
  // Waits until no monitor holds the sandbox's lock; false at the timeout.
  bool await_monitor_end(const std::string& id, std::chrono::milliseconds timeout) const;
  // One request and its reply: the body of the monitor's ok reply, its
  // error otherwise, waiting at most `timeout` for it.
  Result<Json> call(const std::string& id, const monitor::Request& request, std::chrono::milliseconds timeout);

 private:
  Status spawn_monitor(const std::string& id, const std::vector<Secret>& secrets, UniqueFd lock);
  // Validates and records `config`; the monitor.lock, held.
  Result<UniqueFd> record(SandboxConfig& config, const std::vector<Secret>& secrets);
  std::string monitor_lock_path(const std::string& id) const;

  StateStore store_;
  std::string image_store_root_;
};

}  // namespace krunbox
