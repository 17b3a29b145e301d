#include "base/process_ref.h"

#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

namespace krunbox {
namespace {

TEST(ProcessRefTest, SelfIsAlive) {
  auto me = process_ref(::getpid());
  ASSERT_TRUE(me.has_value());
  EXPECT_GT(me->start_time, 0u);
  EXPECT_TRUE(process_alive(*me));
}

TEST(ProcessRefTest, DeadOrRecycledIsNotAlive) {
  pid_t pid = ::fork();
  if (pid == 0) {
    ::pause();
    ::_exit(0);
  }
  auto ref = process_ref(pid);
  ASSERT_TRUE(ref.has_value());
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  EXPECT_FALSE(process_alive(*ref));
  EXPECT_FALSE(process_ref(pid).has_value());
  // Same pid, another start time: a recycled pid.
  auto me = *process_ref(::getpid());
  me.start_time += 1;
  EXPECT_FALSE(process_alive(me));
  EXPECT_FALSE(process_ref(0).has_value());
}

}  // namespace
}  // namespace krunbox
