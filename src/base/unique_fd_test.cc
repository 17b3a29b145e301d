#include "base/unique_fd.h"

#include <fcntl.h>
#include <gtest/gtest.h>

#include <vector>

#include "base/test_util.h"

namespace krunbox {
namespace {

bool fd_is_open(int fd) { return ::fcntl(fd, F_GETFD) >= 0; }

TEST(UniqueFdTest, ClosesOnDestruction) {
  int raw;
  {
    UniqueFd fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    raw = fd.get();
    ASSERT_TRUE(fd_is_open(raw));
  }
  EXPECT_FALSE(fd_is_open(raw));
}

TEST(UniqueFdTest, MovesTransferOwnershipWithoutLeaks) {
  auto before = testing::open_fds();
  {
    UniqueFd a(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    UniqueFd b(std::move(a));
    EXPECT_FALSE(a.valid());
    UniqueFd c(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    int c_raw = c.get();
    c = std::move(b);  // c's old fd must be closed here
    EXPECT_FALSE(fd_is_open(c_raw));
    std::vector<UniqueFd> many;
    for (int i = 0; i < 50; ++i) many.emplace_back(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    auto moved = std::move(many);
  }
  EXPECT_EQ(testing::open_fds(), before);
}

TEST(UniqueFdTest, ReleaseKeepsFdOpen) {
  UniqueFd fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  int raw = fd.release();
  EXPECT_FALSE(fd.valid());
  EXPECT_TRUE(fd_is_open(raw));
  ::close(raw);
}

TEST(UniqueFdTest, PipeIsCloexecAndRoundTrips) {
  auto p = make_pipe();
  ASSERT_TRUE(p.ok()) << p.error().what();
  EXPECT_TRUE(::fcntl(p->read.get(), F_GETFD) & FD_CLOEXEC);
  ASSERT_TRUE(write_all(p->write.get(), "hello", 5).ok());
  char buf[5];
  ASSERT_TRUE(read_exact(p->read.get(), buf, 5).ok());
  EXPECT_EQ(std::string(buf, 5), "hello");
  p->write.reset();
  auto eof = read_exact(p->read.get(), buf, 1);
  EXPECT_EQ(eof.error().code(), ErrorCode::kProtocol);
}

}  // namespace
}  // namespace krunbox
