#include "agent/spawn_child.h"

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>

namespace krunbox::agent {
namespace {

[[noreturn]] void fail(int report_fd, ChildStage stage) {
  ChildReport r{static_cast<int>(stage), errno};
  // A short write cannot be retried meaningfully here; the parent treats a partial report as a failure too.
  (void)!::write(report_fd, &r, sizeof r);
  ::_exit(127);
}

// dup2 that also clears close-on-exec when the fd is already in place.
bool move_fd(int from, int to) {
  if (from == to) {
    int flags = ::fcntl(to, F_GETFD);
    return flags >= 0 && ::fcntl(to, F_SETFD, flags & ~FD_CLOEXEC) == 0;
  }
  return ::dup2(from, to) == to;
}

}  // namespace

const char* child_stage_name(ChildStage stage) {
  switch (stage) {
    case ChildStage::kSignals: return "resetting signals";
    case ChildStage::kSetsid: return "setsid";
    case ChildStage::kTty: return "opening the pty";
    case ChildStage::kDup: return "setting up stdio";
    case ChildStage::kGroups: return "setgroups";
    case ChildStage::kGid: return "setgid";
    case ChildStage::kUid: return "setuid";
    case ChildStage::kChdir: return "chdir";
    case ChildStage::kExec: return "execve";
  }
  return "starting";
}

void run_child(const ChildArgs& a) {
  // The agent blocks the signals it reads through signalfd and ignores
  // SIGPIPE; the workload starts with defaults, as from a shell.
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    struct sigaction sa = {};
    sa.sa_handler = SIG_DFL;
    ::sigaction(sig, &sa, nullptr);  // fails harmlessly for the realtime signals glibc reserves
  }
  sigset_t none;
  ::sigemptyset(&none);
  if (::sigprocmask(SIG_SETMASK, &none, nullptr) != 0) fail(a.report_fd, ChildStage::kSignals);

  if (::setsid() < 0) fail(a.report_fd, ChildStage::kSetsid);

  if (a.tty_path) {
    int tty = ::open(a.tty_path, O_RDWR);
    if (tty < 0) fail(a.report_fd, ChildStage::kTty);
    if (::ioctl(tty, TIOCSCTTY, 0) != 0) fail(a.report_fd, ChildStage::kTty);
    for (int fd = 0; fd < 3; ++fd)
      if (::dup2(tty, fd) != fd) fail(a.report_fd, ChildStage::kDup);
    if (tty > 2) ::close(tty);
  } else {
    // The agent keeps fds 0-2 open (see main), so these fds are all above 2
    // and no dup2 here overwrites a source still needed.
    if (!move_fd(a.stdin_fd, 0) || !move_fd(a.stdout_fd, 1) || !move_fd(a.stderr_fd, 2))
      fail(a.report_fd, ChildStage::kDup);
  }

  if (a.set_ids) {
    if (::setgroups(a.ngroups, a.groups) != 0) fail(a.report_fd, ChildStage::kGroups);
    if (::setgid(a.gid) != 0) fail(a.report_fd, ChildStage::kGid);
    if (::setuid(a.uid) != 0) fail(a.report_fd, ChildStage::kUid);
  }
  if (::chdir(a.cwd) != 0) fail(a.report_fd, ChildStage::kChdir);
  ::execve(a.path, a.argv, a.envp);
  fail(a.report_fd, ChildStage::kExec);
}

#if defined(__SANITIZE_ADDRESS__)
#define KRUNBOX_CHILD_FORK 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KRUNBOX_CHILD_FORK 1
#endif
#endif

pid_t start_child(const ChildArgs& args) {
#ifdef KRUNBOX_CHILD_FORK
  pid_t pid = ::fork();
#else
  pid_t pid = ::vfork();
#endif
  if (pid == 0) run_child(args);
  return pid;
}

}  // namespace krunbox::agent
