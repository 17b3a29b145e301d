// The monitor's kept execs: commands started to outlive their client
// (`exec` in the background, the API's background execs). The monitor owns
// each one's agent session, pumps its output into an OutputRing as it
// comes, so the command never waits on a reader, and keeps its end for
// whoever asks later. Clients attach, detach and come back by exec id.
// Internal to src/sandbox (monitor_supervisor.h holds the table).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "krunbox/error.h"
#include "proto/agent_client.h"
#include "sandbox/monitor_messages.h"
#include "sandbox/output_ring.h"

namespace krunbox {

// Bounds of one monitor's table: what a client of the same user can make
// it hold. A kept exec's output beyond the window is dropped oldest first.
inline constexpr size_t kMaxRunningKeptExecs = 64;
inline constexpr size_t kMaxEndedKeptExecs = 64;
inline constexpr size_t kKeptOutputBytes = 1u << 20;

class KeptExec {
 public:
  KeptExec(std::string exec_id, std::unique_ptr<proto::ExecSession> session, std::vector<std::string> argv, bool tty);
  ~KeptExec();
  KeptExec(const KeptExec&) = delete;
  KeptExec& operator=(const KeptExec&) = delete;

  const std::string& exec_id() const { return exec_id_; }
  OutputRing& output() { return output_; }
  proto::ExecSession& session() { return *session_; }
  monitor::KeptExecInfo info() const;
  bool ended() const;

 private:
  void pump(bool err);
  void wait_for_end();

  const std::string exec_id_;
  std::unique_ptr<proto::ExecSession> session_;
  const std::vector<std::string> argv_;
  const bool tty_;
  const int64_t started_unix_ms_;
  OutputRing output_;
  mutable std::mutex mu_;
  std::optional<proto::ExitMessage> exit_;
  std::string crash_reason_;
  std::thread out_, err_, waiter_;
};

class KeptExecs {
 public:
  // Takes a started session; refused (the session is then cancelled) when
  // kMaxRunningKeptExecs already run. Drops the oldest ended ones beyond
  // kMaxEndedKeptExecs.
  Result<std::shared_ptr<KeptExec>> add(std::unique_ptr<proto::ExecSession> session, std::vector<std::string> argv,
                                        bool tty);
  // kNotFound naming the id when there is none (or it was dropped).
  Result<std::shared_ptr<KeptExec>> find(const std::string& exec_id) const;
  std::vector<monitor::KeptExecInfo> list() const;
  bool any_running() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<KeptExec>> execs_;
  std::vector<std::string> order_;  // exec ids, oldest first
};

}  // namespace krunbox
