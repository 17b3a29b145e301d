// What the VM backends (qemu, krun) share: a sandbox whose VM is one helper
// process the backend spawned (QEMU, krunbox-vmm) with the agent connected
// from inside. The base owns the helper, the agent client and the exit
// status, and implements start/stop/kill/wait over a few hooks; subclasses
// boot the helper and say how their VM ends and what their logs show.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "backend/sandbox.h"
#include "base/dir_lease.h"
#include "base/unique_pid.h"
#include "proto/agent_client.h"

namespace krunbox {

class VmSandbox : public Sandbox {
 public:
  explicit VmSandbox(SandboxSpec spec) : Sandbox(std::move(spec)) {}

  // Boots; a failure crashes the sandbox with the end of the VM's log.
  Status start() override;
  // The agent's shutdown, then quit_gracefully(), then SIGKILL.
  Status stop(std::chrono::milliseconds grace) override;
  Status kill(int sig) override;
  Result<ExitStatus> wait() override;
  // Waits up to `grace` for the helper (QEMU, the VMM) to end and records why.
  std::string crash_reason_within(std::chrono::milliseconds grace) override;
  proto::AgentClient* agent() override;

 protected:
  virtual Status boot() = 0;
  // How the agent ends the guest: power off (a VM) or exit (libkrun's init).
  virtual proto::ShutdownAction shutdown_action() const = 0;
  // The helper's own clean exit when the agent could not end the guest.
  virtual void quit_gracefully() = 0;
  // "guest console" and its last lines, for start failures.
  virtual std::pair<std::string, std::string> boot_log_tail() = 0;
  // What an ended helper means: "QEMU exited 1: <log>".
  virtual std::string describe_exit(const ExitStatus& status) = 0;
  // The crash reason when the helper ends on its own.
  virtual std::string crash_reason(const std::optional<ExitStatus>& status) = 0;
  // Frees what must outlive the helper (its cgroup, its uid); called with
  // the helper gone.
  virtual void release_after_exit() {}

  // For boot():
  void adopt_helper(UniquePid helper);
  void set_agent(std::unique_ptr<proto::AgentClient> agent);
  // " (<describe_exit>)" once the helper has ended, else "".
  std::string exit_note();
  // run_dir()/state.json: the owner (this process) and the helper under `helper_key`.
  Status write_state(const std::string& helper_key);
  // Kills the helper, closes the agent, removes run_dir(). Subclasses'
  // destructors call it (while their hooks still exist).
  void teardown();
  // For a boot() that tries again: kills and reaps the helper of a failed
  // attempt, closes its agent, release_after_exit(), and forgets its exit.
  void discard_helper();
  // The sandbox's private directory, removed by teardown().
  virtual const std::string& run_dir() const = 0;
  // Makes run_dir() (and its parent), leased to this process until
  // teardown(): the sweep of another krunbox process leaves a held run dir
  // alone, however young, and takes an unheld one for a leftover. A boot
  // that tries again keeps the one it made.
  Status make_run_dir();

 private:
  bool wait_exit(std::chrono::milliseconds timeout);
  void reap();
  // Kills and reaps the helper, releases what outlives it; returns the agent to close.
  std::unique_ptr<proto::AgentClient> end_helper_locked();

  std::mutex mu_;
  DirLease run_lease_;
  UniquePid helper_;
  std::unique_ptr<proto::AgentClient> agent_;
  std::optional<ExitStatus> exit_status_;
  std::atomic<bool> stopping_{false};
};

// The sweep of a VM backend's run dirs (<run_root>/<backend>/<name>/): each
// one whose owner (state.json "owner") is dead, or that has no state and is
// over a minute old, has its helper (state.json `helper_key`) killed,
// `after_kill` run (the backend's own leftovers, e.g. cgroups), and is
// removed. Returns a line per thing removed.
using VmLeftoverCleanup = std::function<void(const std::string& name, std::vector<std::string>& removed)>;
Result<std::vector<std::string>> sweep_vm_run_dirs(const std::string& dir, const std::string& helper_key,
                                                   const std::string& helper_label,
                                                   const VmLeftoverCleanup& after_kill = {});

// The last `max_bytes` of a log file without trailing newlines ("" if none).
std::string log_tail(const std::string& path, size_t max_bytes = 2048);
// The last line of the log at `path` holding `needle` (without its newline),
// or "".
std::string last_line_with(const std::string& path, std::string_view needle);

}  // namespace krunbox
