#include "backend/qemu/qemu_jail_child.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>

namespace krunbox {
namespace {

[[noreturn]] void fail(const JailChildArgs& a, JailStep step, int err, int op = -1) {
  JailChildReport r;
  r.step = step;
  r.err = err;
  r.mount_op = op;
  ssize_t n;
  do {
    n = ::write(a.report_fd, &r, sizeof r);
  } while (n < 0 && errno == EINTR);
  ::_exit(127);
}

bool write_all(int fd, const char* s, size_t len) {
  while (len > 0) {
    ssize_t n = ::write(fd, s, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    s += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

const char* describe(JailStep step) {
  switch (step) {
    case JailStep::kNone: return "nothing";
    case JailStep::kDeathSignal: return "setting the parent-death signal";
    case JailStep::kStdio: return "setting up stdin/stdout/stderr";
    case JailStep::kCgroup: return "joining the QEMU cgroup";
    case JailStep::kMountNamespace: return "creating a mount namespace";
    case JailStep::kMountPlan: return "building the jail's root";
    case JailStep::kGroups: return "setting supplementary groups";
    case JailStep::kGid: return "switching to the jail gid";
    case JailStep::kUid: return "switching to the jail uid";
    case JailStep::kNoNewPrivs: return "setting no_new_privs";
    case JailStep::kCloseFds: return "closing inherited fds";
    case JailStep::kExec: return "executing QEMU";
    case JailStep::kCapabilityBounds: return "clearing the capability bounding set";
  }
  return "an unknown step";
}

void run_jail_child(const JailChildArgs& a) {
  // SIGKILL when the spawning thread ends; if the parent is already gone,
  // the signal will never come, so do not start at all.
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) fail(a, JailStep::kDeathSignal, errno);
  if (::getppid() != a.parent) ::_exit(127);

  if (::dup2(a.stdin_fd, 0) < 0 || ::dup2(a.log_fd, 1) < 0 || ::dup2(a.log_fd, 2) < 0) fail(a, JailStep::kStdio, errno);

  // "0" moves the writer itself, so the group holds QEMU from its first instruction.
  for (size_t i = 0; i < a.cgroup_procs_count; ++i) {
    int fd = ::open(a.cgroup_procs[i], O_WRONLY | O_CLOEXEC);
    if (fd < 0) fail(a, JailStep::kCgroup, errno);
    bool ok = write_all(fd, "0", 1);
    int err = errno;
    ::close(fd);
    if (!ok) fail(a, JailStep::kCgroup, err);
  }

  if (a.plan) {
    if (::unshare(CLONE_NEWNS) != 0) fail(a, JailStep::kMountNamespace, errno);
    auto failure = execute_mount_plan(*a.plan, *a.sys);
    if (failure.index >= 0) fail(a, JailStep::kMountPlan, failure.err, failure.index);
  }

  // Raw system calls: they change only this thread, which is the whole process.
  if (a.drop_privileges) {
    // The bounding set first (it needs CAP_SETPCAP, gone after setresuid):
    // with it empty, nothing QEMU could exec regains a capability.
    for (int cap = 0; cap < 64; ++cap)
      if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) fail(a, JailStep::kCapabilityBounds, errno);
    if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
      fail(a, JailStep::kCapabilityBounds, errno);
    if (::syscall(SYS_setgroups, 0, nullptr) != 0) fail(a, JailStep::kGroups, errno);
    if (::syscall(SYS_setresgid, a.gid, a.gid, a.gid) != 0) fail(a, JailStep::kGid, errno);
    if (::syscall(SYS_setresuid, a.uid, a.uid, a.uid) != 0) fail(a, JailStep::kUid, errno);
    // A uid change clears the death signal; set it again.
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) fail(a, JailStep::kDeathSignal, errno);
    if (::getppid() != a.parent) ::_exit(127);
  }

  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail(a, JailStep::kNoNewPrivs, errno);

  // Every fd above 2 closes on exec (the report pipe already does).
  if (::syscall(SYS_close_range, 3U, UINT_MAX, CLOSE_RANGE_CLOEXEC) != 0) {
    if (errno != ENOSYS && errno != EINVAL) fail(a, JailStep::kCloseFds, errno);
    for (int fd = 3; fd < 65536; ++fd)
      if (fd != a.report_fd) (void)::fcntl(fd, F_SETFD, FD_CLOEXEC);
  }

  ::execve(a.exe, a.argv, a.envp);
  fail(a, JailStep::kExec, errno);
}

}  // namespace krunbox
