#include "base/unique_pid.h"

#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/unique_fd.h"

namespace krunbox {

ExitStatus ExitStatus::from_wait_status(int wstatus) {
  if (WIFSIGNALED(wstatus)) return killed(WTERMSIG(wstatus));
  return exited(WEXITSTATUS(wstatus));
}

std::string ExitStatus::describe() const {
  if (signaled) {
    const char* name = ::sigabbrev_np(signal);
    return "killed by signal " + std::to_string(signal) + (name ? std::string(" (SIG") + name + ")" : "");
  }
  return "exited with code " + std::to_string(code);
}

UniquePid& UniquePid::operator=(UniquePid&& other) noexcept {
  if (this != &other) {
    kill_and_reap();
    pid_ = other.release();
  }
  return *this;
}

UniquePid::~UniquePid() { kill_and_reap(); }

void UniquePid::kill_and_reap() noexcept {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

Status UniquePid::kill(int sig) const {
  if (pid_ <= 0) return Error(ErrorCode::kIllegalState, "kill: no process");
  if (::kill(pid_, sig) != 0) return Error::from_errno("kill(" + std::to_string(pid_) + ")");
  return {};
}

Result<ExitStatus> UniquePid::wait() {
  if (pid_ <= 0) return Error(ErrorCode::kIllegalState, "wait: no process");
  int wstatus = 0;
  while (::waitpid(pid_, &wstatus, 0) < 0) {
    if (errno != EINTR) return Error::from_errno("waitpid(" + std::to_string(pid_) + ")");
  }
  pid_ = -1;
  return ExitStatus::from_wait_status(wstatus);
}

Result<std::optional<ExitStatus>> UniquePid::try_wait() {
  if (pid_ <= 0) return Error(ErrorCode::kIllegalState, "wait: no process");
  int wstatus = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &wstatus, WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r < 0) return Error::from_errno("waitpid(" + std::to_string(pid_) + ")");
  if (r == 0) return std::optional<ExitStatus>();
  pid_ = -1;
  return std::optional<ExitStatus>(ExitStatus::from_wait_status(wstatus));
}

Result<std::optional<ExitStatus>> UniquePid::wait_for(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return Error(ErrorCode::kIllegalState, "wait: no process");
  // A pidfd turns "wait with a deadline" into a poll, with no SIGCHLD games.
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0)));
  if (!pidfd) {
    // Old kernels: poll the child's state every few milliseconds.
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      KRUNBOX_ASSIGN_OR_RETURN(auto done, try_wait());
      if (done || std::chrono::steady_clock::now() >= deadline) return done;
      ::usleep(2000);
    }
  }
  pollfd pfd{pidfd.get(), POLLIN, 0};
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    int r = ::poll(&pfd, 1, static_cast<int>(std::max<long long>(0, left.count())));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return Error::from_errno("poll(pidfd)");
    if (r == 0) return std::optional<ExitStatus>();
    return try_wait();
  }
}

}  // namespace krunbox
