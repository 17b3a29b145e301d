#include "backend/native/seccomp_profile.h"

#include <gtest/gtest.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

namespace krunbox::native {
namespace {

// Runs `body` in a forked child with the filter installed and returns its exit
// code: 0 means every expectation inside held, otherwise the failing check.
int run_filtered(SeccompProgram& program, int (*body)()) {
  sock_fprog fprog = program.fprog();
  pid_t pid = ::fork();
  if (pid == 0) {
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) ::_exit(100);
    if (install_seccomp_program(&fprog) != 0) ::_exit(101);
    ::_exit(body());
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 200 + WTERMSIG(status);
}

TEST(SeccompProfileTest, BuildsANonEmptyProgram) {
  auto program = build_default_seccomp_program();
  ASSERT_TRUE(program.ok()) << program.error().what();
  EXPECT_GT(program->filter.size(), 50u);
}

TEST(SeccompProfileTest, BlocksNamespaceAndKernelSyscallsButNotOrdinaryOnes) {
  auto program = build_default_seccomp_program();
  ASSERT_TRUE(program.ok());
  int code = run_filtered(*program, [] {
    if (::unshare(CLONE_NEWUTS) == 0 || errno != EPERM) return 1;
    if (::syscall(SYS_keyctl, 0, 0, 0, 0, 0) != -1 || errno != EPERM) return 2;
    if (::syscall(SYS_umount2, "/", 0) != -1 || errno != EPERM) return 3;
    if (::syscall(SYS_clone3, nullptr, 0) != -1 || errno != ENOSYS) return 4;
    if (::syscall(SYS_clone, CLONE_NEWNET | SIGCHLD, 0, 0, 0, 0) != -1 || errno != EPERM) return 5;
    if (::getpid() <= 0) return 8;
    // Plain fork still works: clone without namespace flags is allowed.
    pid_t child = ::fork();
    if (child < 0) return 9;
    if (child == 0) ::_exit(0);
    int st = 0;
    ::waitpid(child, &st, 0);
    return 0;
  });
  EXPECT_EQ(code, 0);
}

TEST(SeccompProfileTest, ReportsModeTwoInProcStatus) {
  auto program = build_default_seccomp_program();
  ASSERT_TRUE(program.ok());
  int code = run_filtered(*program, [] { return ::prctl(PR_GET_SECCOMP) == 2 ? 0 : 1; });
  EXPECT_EQ(code, 0);
}

}  // namespace
}  // namespace krunbox::native
