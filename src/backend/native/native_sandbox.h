// One native sandbox: a PID-1 krunbox-agent in fresh namespaces over a
// private root, owned by this object. Everything it creates on the host (run
// directory, cgroups, port relays) is removed by stop(), by wait() once the
// sandbox ended, or by the destructor, whichever comes first.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "backend/native/cgroups.h"
#include "backend/native/mount_plan.h"
#include "backend/native/port_relay.h"
#include "backend/sandbox.h"
#include "base/dir_lease.h"
#include "base/unique_fd.h"
#include "base/unique_pid.h"
#include "proto/agent_client.h"

namespace krunbox::native {

struct NativeOptions {
  std::string run_root;     // default: run_root()
  std::string cgroup_root = "/sys/fs/cgroup";
  std::string agent_path;   // default: find_helper("krunbox-agent")
  std::chrono::milliseconds hello_timeout{std::chrono::seconds(10)};
};

class NativeSandbox final : public Sandbox {
 public:
  NativeSandbox(SandboxSpec spec, NativeOptions options);
  ~NativeSandbox() override;

  std::string_view backend_name() const override { return "native"; }
  Status start() override;
  Status stop(std::chrono::milliseconds grace) override;
  Status kill(int signal) override;
  Result<ExitStatus> wait() override;
  proto::AgentClient* agent() override;
  Status pause() override;
  Status resume() override;

  // The host pid of the sandbox's PID 1 (0 when not running).
  pid_t pid1() const;
  const std::string& run_dir() const { return run_dir_; }
  // Host ports as bound (differs from the spec where it asked for port 0).
  std::vector<PortMapping> published_ports() const;
  // Limits that could not be applied here, and why.
  std::vector<std::string> notes() const;
  // OOM kills counted in the sandbox's memory cgroup, when known.
  std::optional<uint64_t> oom_kills() const;

 private:
  Status start_locked();
  Status launch(RootKind root_kind, const std::string& lower, bool* overlay_failed);
  Status write_id_maps(pid_t pid);
  // Reaps PID 1 if it ended (blocking when `block`); records the status.
  Result<std::optional<ExitStatus>> reap_locked(bool block, std::chrono::milliseconds timeout);
  void on_ended_locked(const ExitStatus& status);
  // Removes every host-side trace; idempotent.
  Status cleanup_locked();

  NativeOptions options_;
  std::string short_id_;
  std::string run_dir_;
  mutable std::mutex mu_;
  UniquePid pid1_;
  UniqueFd pidfd_;
  std::optional<ExitStatus> exit_status_;
  bool stop_requested_ = false;
  DirLease run_lease_;  // held while run_dir_ is ours
  SandboxCgroup cgroup_;
  std::unique_ptr<proto::AgentClient> agent_;
  std::vector<std::unique_ptr<PortRelay>> relays_;
};

}  // namespace krunbox::native
