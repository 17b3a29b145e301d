#include "base/signal_waiter.h"

#include <gtest/gtest.h>
#include <pthread.h>

#include <chrono>
#include <thread>

namespace krunbox {
namespace {

TEST(SignalWaiterTest, ReturnsSignalsInTheSet) {
  auto w = SignalWaiter::create({SIGUSR1, SIGUSR2});
  ASSERT_TRUE(w.ok()) << w.error().what();
  ASSERT_EQ(::kill(::getpid(), SIGUSR2), 0);
  EXPECT_EQ(w->wait(), SIGUSR2);
  ASSERT_EQ(::kill(::getpid(), SIGUSR1), 0);
  EXPECT_EQ(w->wait(), SIGUSR1);
}

TEST(SignalWaiterTest, StopWakesAWaitingThread) {
  auto w = SignalWaiter::create({SIGUSR1, SIGUSR2});
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

TEST(SignalWaiterTest, RestoresTheMaskAndDropsWhatWasLeft) {
  {
    auto w = SignalWaiter::create({SIGUSR1});
    ASSERT_TRUE(w.ok());
    sigset_t now;
    ASSERT_EQ(pthread_sigmask(SIG_BLOCK, nullptr, &now), 0);
    EXPECT_TRUE(sigismember(&now, SIGUSR1));
    ASSERT_EQ(::kill(::getpid(), SIGUSR1), 0);  // left pending: unblocking must not deliver it
  }
  sigset_t after;
  ASSERT_EQ(pthread_sigmask(SIG_BLOCK, nullptr, &after), 0);
  EXPECT_FALSE(sigismember(&after, SIGUSR1));
}

}  // namespace
}  // namespace krunbox
