#include "base/unique_pid.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

namespace krunbox {
namespace {

pid_t spawn_sleeper() {
  pid_t pid = ::fork();
  if (pid == 0) {
    ::execl("/bin/sleep", "sleep", "60", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return pid;
}

bool process_exists(pid_t pid) { return ::kill(pid, 0) == 0; }

TEST(UniquePidTest, DestructorKillsAndReaps) {
  pid_t raw;
  {
    UniquePid p(spawn_sleeper());
    raw = p.get();
    ASSERT_TRUE(process_exists(raw));
  }
  // Reaped, so not even a zombie remains and waitpid finds nothing.
  EXPECT_FALSE(process_exists(raw));
  EXPECT_EQ(::waitpid(raw, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

TEST(UniquePidTest, MoveAssignmentKillsPreviousChild) {
  UniquePid a(spawn_sleeper());
  pid_t first = a.get();
  a = UniquePid(spawn_sleeper());
  EXPECT_FALSE(process_exists(first));
  EXPECT_TRUE(process_exists(a.get()));
}

TEST(UniquePidTest, WaitReportsExitCodeAndSignal) {
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(42);
  UniquePid p(pid);
  auto st = p.wait();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(*st, ExitStatus::exited(42));
  EXPECT_FALSE(p.valid());

  UniquePid s(spawn_sleeper());
  ASSERT_TRUE(s.kill(SIGTERM).ok());
  auto st2 = s.wait();
  ASSERT_TRUE(st2.ok());
  EXPECT_TRUE(st2->signaled);
  EXPECT_EQ(st2->signal, SIGTERM);
  EXPECT_EQ(st2->shell_code(), 128 + SIGTERM);
  EXPECT_EQ(st2->describe(), "killed by signal 15 (SIGTERM)");
}

TEST(UniquePidTest, WaitForTimesOut) {
  UniquePid p(spawn_sleeper());
  auto r = p.wait_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());
  EXPECT_TRUE(p.valid());
}

TEST(UniquePidTest, ReleaseLeavesProcessAlone) {
  UniquePid p(spawn_sleeper());
  pid_t raw = p.release();
  EXPECT_TRUE(process_exists(raw));
  ::kill(raw, SIGKILL);
  ::waitpid(raw, nullptr, 0);
}

}  // namespace
}  // namespace krunbox
