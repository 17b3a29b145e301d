#include "base/subprocess.h"

#include <fcntl.h>
#include <signal.h>

#include <gtest/gtest.h>

#include "base/test_util.h"

namespace krunbox {
namespace {

TEST(SubprocessTest, CapturesOutputAndExitCode) {
  auto r = run_capture({"sh", "-c", "echo out; echo err >&2; exit 3"});
  ASSERT_TRUE(r.ok()) << r.error().what();
  EXPECT_EQ(r->out, "out\n");
  EXPECT_EQ(r->err, "err\n");
  EXPECT_EQ(r->status, ExitStatus::exited(3));
}

TEST(SubprocessTest, FeedsStdin) {
  RunOptions o;
  o.stdin_data = std::string(200000, 'z');
  auto r = run_capture({"wc", "-c"}, o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(std::stoi(r->out), 200000);
}

TEST(SubprocessTest, TimeoutKillsTheChild) {
  RunOptions o;
  o.timeout = std::chrono::milliseconds(200);
  auto start = std::chrono::steady_clock::now();
  // The grandchild keeps the pipe open too; the deadline must still hold.
  auto r = run_capture({"sh", "-c", "sleep 30"}, o);
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kTimeout);
  EXPECT_LT(took, std::chrono::seconds(5));
}

TEST(SubprocessTest, SignalIsReported) {
  auto r = run_capture({"sh", "-c", "kill -9 $$"});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->status.signaled);
  EXPECT_EQ(r->status.signal, SIGKILL);
  EXPECT_EQ(r->status.shell_code(), 137);
}

TEST(SubprocessTest, MissingProgramIsNamed) {
  auto r = run_capture({"krunbox-no-such-program"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(r.error().what().find("krunbox-no-such-program"), std::string::npos);
}

TEST(SubprocessTest, NoFdLeaksIntoChildAndKeptFdsArrive) {
  // An fd without O_CLOEXEC must still not reach the child.
  int leaky = ::open("/dev/null", O_RDONLY);
  ASSERT_GE(leaky, 0);
  auto pair = make_pipe();
  ASSERT_TRUE(pair.ok());
  SpawnOptions so;
  so.stdout_mode = Stdio::kPipe;
  so.keep_fds = {{pair->write.get(), 5}};
  auto sp = Subprocess::spawn({"sh", "-c", "for f in 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do "
                                    "[ -e /proc/$$/fd/$f ] && echo $f; done; echo kept >&5"}, so);
  ASSERT_TRUE(sp.ok()) << sp.error().what();
  pair->write.reset();
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(sp->stdout_fd().get(), buf, sizeof buf)) > 0) out.append(buf, n);
  ASSERT_TRUE(sp->wait().ok());
  ::close(leaky);
  // Exactly the fds we gave: stdio and 5.
  EXPECT_EQ(out, "0\n1\n2\n5\n");
  n = ::read(pair->read.get(), buf, sizeof buf);
  EXPECT_EQ(std::string(buf, n > 0 ? n : 0), "kept\n");
}

TEST(SubprocessTest, NoFdLeakInParentAfterRuns) {
  auto before = testing::open_fds();
  for (int i = 0; i < 20; ++i) {
    auto r = run_capture({"true"});
    ASSERT_TRUE(r.ok());
  }
  EXPECT_EQ(testing::open_fds(), before);
}

TEST(SubprocessTest, OutputToFiles) {
  std::string path = "/tmp/krunbox-spawn-test-" + std::to_string(::getpid());
  SpawnOptions so;
  so.stdout_mode = Stdio::kFile;
  so.stdout_file = path;
  so.stderr_mode = Stdio::kFile;
  so.stderr_file = path;
  for (int i = 0; i < 2; ++i) {
    auto sp = Subprocess::spawn({"sh", "-c", "echo out; echo err >&2"}, so);
    ASSERT_TRUE(sp.ok());
    ASSERT_TRUE(sp->wait().ok());
  }
  char buf[64] = {};
  int fd = ::open(path.c_str(), O_RDONLY);
  ssize_t n = ::read(fd, buf, sizeof buf);
  ::close(fd);
  ::unlink(path.c_str());
  EXPECT_EQ(std::string(buf, n > 0 ? n : 0), "out\nerr\nout\nerr\n");
}

TEST(SubprocessTest, EnvAndCwd) {
  RunOptions o;
  o.env = std::vector<std::string>{"A=1", "PATH=/usr/bin:/bin"};
  o.cwd = "/tmp";
  auto r = run_capture({"sh", "-c", "echo $A $(pwd)"}, o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->out, "1 /tmp\n");
}

}  // namespace
}  // namespace krunbox
