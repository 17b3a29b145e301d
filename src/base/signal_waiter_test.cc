#include "base/signal_waiter.h"

#include <gtest/gtest.h>
#include <pthread.h>

#include <chrono>
#include <thread>

namespace krunbox {
namespace {

// Blocks SIGUSR1 and SIGUSR2 in this thread (and the threads it starts) for
// the test's duration.
class Blocked {
 public:
  Blocked() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGUSR1);
    sigaddset(&set_, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &set_, &old_);
  }
  ~Blocked() {
    timespec zero{0, 0};
    while (sigtimedwait(&set_, nullptr, &zero) > 0) {
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  const sigset_t& set() const { return set_; }

 private:
  sigset_t set_{}, old_{};
};

TEST(SignalWaiterTest, ReturnsSignalsInTheSet) {
  Blocked blocked;
  auto w = SignalWaiter::create(blocked.set());
  ASSERT_TRUE(w.ok()) << w.error().what();
  ASSERT_EQ(::kill(::getpid(), SIGUSR2), 0);
  EXPECT_EQ(w->wait(), SIGUSR2);
  ASSERT_EQ(::kill(::getpid(), SIGUSR1), 0);
  EXPECT_EQ(w->wait(), SIGUSR1);
}

TEST(SignalWaiterTest, StopWakesAWaitingThread) {
  Blocked blocked;
  auto w = SignalWaiter::create(blocked.set());
  ASSERT_TRUE(w.ok());
  std::optional<int> got = 0;
  // wait() has no timeout: only stop() can end this thread.
  std::thread waiter([&] { got = w->wait(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  w->stop();
  waiter.join();
  EXPECT_EQ(got, std::nullopt);
  EXPECT_EQ(w->wait(), std::nullopt);  // stays stopped
}

}  // namespace
}  // namespace krunbox
