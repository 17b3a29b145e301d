// Owns a child process: kills (SIGKILL) and reaps it in the destructor unless
// it was waited for or released, so no path leaves a stray or a zombie.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <utility>

#include "krunbox/error.h"

namespace krunbox {

// How a process ended.
struct ExitStatus {
  bool signaled = false;
  int code = 0;    // exit code when !signaled
  int signal = 0;  // terminating signal when signaled

  static ExitStatus from_wait_status(int wstatus);
  static ExitStatus exited(int code) { return {false, code, 0}; }
  static ExitStatus killed(int sig) { return {true, 0, sig}; }

  bool success() const { return !signaled && code == 0; }
  // The shell convention: the exit code, or 128 + the signal number.
  int shell_code() const { return signaled ? 128 + signal : code; }
  std::string describe() const;
  bool operator==(const ExitStatus&) const = default;
};

class UniquePid {
 public:
  UniquePid() = default;
  explicit UniquePid(pid_t pid) : pid_(pid) {}
  UniquePid(const UniquePid&) = delete;
  UniquePid& operator=(const UniquePid&) = delete;
  UniquePid(UniquePid&& other) noexcept : pid_(other.release()) {}
  UniquePid& operator=(UniquePid&& other) noexcept;
  ~UniquePid();

  pid_t get() const { return pid_; }
  bool valid() const { return pid_ > 0; }
  pid_t release() { return std::exchange(pid_, -1); }

  Status kill(int sig) const;
  // Blocks until the process ends; the pid is reaped and no longer owned.
  Result<ExitStatus> wait();
  // Waits at most `timeout`; nullopt if still running.
  Result<std::optional<ExitStatus>> wait_for(std::chrono::milliseconds timeout);
  // Non-blocking check.
  Result<std::optional<ExitStatus>> try_wait();

 private:
  void kill_and_reap() noexcept;
  pid_t pid_ = -1;
};

}  // namespace krunbox
