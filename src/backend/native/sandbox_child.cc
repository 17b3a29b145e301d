#include "backend/native/sandbox_child.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <net/if.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "backend/linux/mount_ops_child.h"
#include "backend/native/seccomp_profile.h"

namespace krunbox::native {
namespace {

// The child's own copy of the error pipe, moved above the stdio range so the
// dup2s onto 0-2 cannot close it.
int g_error_fd = -1;

[[noreturn]] void fail(ChildStep step, int err, int index = -1) {
  ChildFailure f{static_cast<int32_t>(step), index, err};
  ssize_t n;
  do {
    n = ::write(g_error_fd, &f, sizeof f);
  } while (n < 0 && errno == EINTR);
  ::_exit(127);
}

int move_high(int fd) {
  int high = ::fcntl(fd, F_DUPFD_CLOEXEC, 10);
  return high;
}

void wait_for_parent(int sync_fd) {
  char go = 0;
  ssize_t n;
  do {
    n = ::read(sync_fd, &go, 1);
  } while (n < 0 && errno == EINTR);
  if (n != 1) fail(ChildStep::kWaitForParent, n < 0 ? errno : EPIPE);
}

void reset_signals() {
  sigset_t none;
  ::sigemptyset(&none);
  if (::sigprocmask(SIG_SETMASK, &none, nullptr) != 0) fail(ChildStep::kSignals, errno);
  // Ignored signals stay ignored across exec; the agent must start clean.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    ::sigaction(sig, &dfl, nullptr);  // glibc's internal signals refuse with EINVAL; harmless
  }
}

int loopback_up() {
  int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return errno;
  struct ifreq ifr {};
  std::memcpy(ifr.ifr_name, "lo", 3);
  int err = 0;
  if (::ioctl(s, SIOCGIFFLAGS, &ifr) != 0) {
    err = errno;
  } else {
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    if (::ioctl(s, SIOCSIFFLAGS, &ifr) != 0) err = errno;
  }
  ::close(s);
  return err;
}

void drop_capabilities(const ChildConfig& c) {
  for (int cap = 0; cap <= c.last_capability && cap < 64; ++cap) {
    if (c.keep_capabilities & (uint64_t{1} << cap)) continue;
    if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) fail(ChildStep::kCapabilityBounds, errno, cap);
  }
  // Ambient capabilities would survive the exec of a non-root workload.
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
    fail(ChildStep::kCapabilities, errno);
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  data[0].effective = data[0].permitted = static_cast<uint32_t>(c.keep_capabilities);
  data[1].effective = data[1].permitted = static_cast<uint32_t>(c.keep_capabilities >> 32);
  // Inheritable stays empty, as in Docker since CVE-2022-24769.
  if (::syscall(SYS_capset, &header, data) != 0) fail(ChildStep::kCapabilities, errno);
}

}  // namespace

void sandbox_child_main(const ChildConfig& c) {
  g_error_fd = move_high(c.error_fd);
  if (g_error_fd < 0) ::_exit(125);  // nobody can be told
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) fail(ChildStep::kParentDeathSignal, errno);
  int sock = move_high(c.agent_sock);
  int exe = move_high(c.agent_exe_fd);
  if (sock < 0 || exe < 0) fail(ChildStep::kFds, errno);

  // Before anything else, so that every later step, and all the agent will
  // ever start, counts against the sandbox's limits and device allow-list.
  for (int i = 0; i < c.cgroup_join_count; ++i) {
    ssize_t n;
    do {
      n = ::write(c.cgroup_join_fds[i], "0", 1);
    } while (n < 0 && errno == EINTR);
    if (n != 1) fail(ChildStep::kCgroup, n < 0 ? errno : EIO, i);
    ::close(c.cgroup_join_fds[i]);
  }

  // EOF instead of the byte means the parent died before (getppid() cannot
  // tell: it is 0 across a PID namespace), and the death signal set above
  // covers every later moment.
  wait_for_parent(c.sync_fd);

  reset_signals();
  if (c.hostname && *c.hostname && ::sethostname(c.hostname, std::strlen(c.hostname)) != 0)
    fail(ChildStep::kHostname, errno);

  RealMountSyscalls sys;
  PlanFailure pf = execute_mount_plan(*c.plan, sys);
  if (pf.index >= 0) fail(ChildStep::kMounts, pf.err, pf.index);

  if (c.bring_up_loopback) {
    if (int err = loopback_up()) fail(ChildStep::kLoopback, err);
  }

  // The agent's own stdio is the sandbox's /dev/null: no host terminal or pipe
  // reaches inside. Workloads get pipes or a pty from the agent.
  int null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null_fd < 0) fail(ChildStep::kStdio, errno);
  for (int fd = 0; fd <= 2; ++fd) {
    if (null_fd == fd) {
      if (::fcntl(fd, F_SETFD, 0) != 0) fail(ChildStep::kStdio, errno);
    } else if (::dup2(null_fd, fd) < 0) {
      fail(ChildStep::kStdio, errno);
    }
  }

  for (int i = 0; i < c.rlimit_count; ++i) {
    if (::setrlimit(static_cast<__rlimit_resource>(c.rlimits[i].resource), &c.rlimits[i].value) != 0)
      fail(ChildStep::kRlimits, errno, c.rlimits[i].resource);
  }

  if (::dup2(sock, kAgentFd) < 0) fail(ChildStep::kFds, errno);
  // Every other fd is closed by the exec, whatever the host left open.
  if (::syscall(SYS_close_range, kAgentFd + 1, ~0U, CLOSE_RANGE_CLOEXEC) != 0) fail(ChildStep::kFds, errno);

  drop_capabilities(c);
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail(ChildStep::kNoNewPrivs, errno);
  // Last: the steps above need syscalls the filter denies.
  if (c.seccomp) {
    if (int err = install_seccomp_program(c.seccomp)) fail(ChildStep::kSeccomp, err);
  }
  ::syscall(SYS_execveat, exe, "", c.argv, c.envp, AT_EMPTY_PATH);
  fail(ChildStep::kExecAgent, errno);
}

}  // namespace krunbox::native
