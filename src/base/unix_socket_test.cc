#include "base/unix_socket.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/fs.h"
#include "base/temp_dir.h"

namespace krunbox {
namespace {

using namespace std::chrono_literals;

TEST(UnixSocketTest, FdPassesWithItsData) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  UniqueFd a(sv[0]), b(sv[1]);
  auto p = make_pipe();
  ASSERT_TRUE(p.ok());
  ASSERT_TRUE(send_fd(a.get(), p->write.get(), "/dev/pts/7").ok());
  std::string data;
  auto got = receive_fd(b.get(), &data);
  ASSERT_TRUE(got.ok()) << got.error().what();
  EXPECT_EQ(data, "/dev/pts/7");
  ASSERT_TRUE(write_all(got->get(), "x", 1).ok());
  char c = 0;
  EXPECT_EQ(::read(p->read.get(), &c, 1), 1);
  EXPECT_EQ(c, 'x');
  // Bytes without a descriptor are refused.
  ASSERT_EQ(::write(a.get(), "y", 1), 1);
  EXPECT_FALSE(receive_fd(b.get()).ok());
}

TEST(UnixSocketTest, OwnSocketOfOursConnects) {
  auto t = TempDir::create("krunbox-sock-");
  ASSERT_TRUE(t.ok());
  std::string path = join_path(t->path(), "s.sock");
  auto listener = listen_unix_socket(path);
  ASSERT_TRUE(listener.ok()) << listener.error().what();
  auto fd = connect_own_unix_socket(path, 1s);
  ASSERT_TRUE(fd.ok()) << fd.error().what();
  auto peer = socket_peer_uid(fd->get());
  ASSERT_TRUE(peer.ok());
  EXPECT_EQ(*peer, ::geteuid());
}

// Another user's process listening where we expect our monitor.
TEST(UnixSocketTest, SocketServedByAnotherUidIsRefusedAndGetsNothing) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to listen as another uid";
  auto t = TempDir::create("krunbox-sock-");
  ASSERT_TRUE(t.ok());
  ASSERT_EQ(::chmod(t->path().c_str(), 0777), 0);
  std::string path = join_path(t->path(), "s.sock");
  int ready[2], report[2];
  ASSERT_EQ(::pipe(ready), 0);
  ASSERT_EQ(::pipe(report), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0) ::_exit(2);
    auto l = listen_unix_socket(path);
    if (!l.ok()) ::_exit(3);
    (void)!::write(ready[1], "r", 1);
    int c = ::accept(l->get(), nullptr, nullptr);
    char buf[256];
    ssize_t n = c < 0 ? -1 : ::read(c, buf, sizeof buf);
    char got = n > 0 ? 'y' : 'n';  // did any byte of a request arrive?
    (void)!::write(report[1], &got, 1);
    ::_exit(0);
  }
  ::close(ready[1]);
  ::close(report[1]);
  char c;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  auto fd = connect_own_unix_socket(path, 1s);
  ASSERT_FALSE(fd.ok());
  EXPECT_EQ(fd.error().code(), ErrorCode::kPermissionDenied);
  EXPECT_NE(fd.error().message().find("uid 65534"), std::string::npos) << fd.error().message();
  EXPECT_NE(fd.error().message().find(path), std::string::npos) << fd.error().message();
  ASSERT_EQ(::read(report[0], &c, 1), 1);
  EXPECT_EQ(c, 'n') << "the other uid's socket received bytes";
  int status = 0;
  ::waitpid(child, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ::close(ready[0]);
  ::close(report[0]);
}

}  // namespace
}  // namespace krunbox
