#include "sandbox/one_shot.h"

#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "base/fs.h"
#include "base/paths.h"
#include "base/temp_dir.h"
#include "base/unique_fd.h"

namespace krunbox {
namespace {

class OneShotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!find_helper("krunbox-agent").ok()) GTEST_SKIP() << "krunbox-agent not built";
    auto d = TempDir::create();
    ASSERT_TRUE(d.ok());
    dir_ = std::move(*d);
  }

  Result<OneShotOutcome> run(std::vector<std::string> argv, std::string stdin_data = "", bool interactive = false,
                             std::chrono::seconds timeout = std::chrono::seconds(0)) {
    auto spec = SandboxSpecBuilder().rootfs("/").command(std::move(argv)).timeout(timeout).build();
    EXPECT_TRUE(spec.ok());
    std::string in_path = join_path(dir_.path(), "in");
    EXPECT_TRUE(write_file_atomic(in_path, stdin_data).ok());
    UniqueFd in_fd(::open(in_path.c_str(), O_RDONLY | O_CLOEXEC));
    UniqueFd out_fd(::open(join_path(dir_.path(), "out").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    UniqueFd err_fd(::open(join_path(dir_.path(), "err").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    OneShotOptions o;
    o.backend = "mock";
    o.spec = std::move(*spec);
    o.interactive = interactive;
    o.in_fd = in_fd.get();
    o.out_fd = out_fd.get();
    o.err_fd = err_fd.get();
    o.on_backend = [this](const std::string& b, const std::string&) { chosen_ = b; };
    return run_one_shot(o);
  }
  std::string out() { return read_file(join_path(dir_.path(), "out")).value_or("?"); }
  std::string err() { return read_file(join_path(dir_.path(), "err")).value_or("?"); }

  TempDir dir_;
  std::string chosen_;
};

TEST_F(OneShotTest, StreamsAndExitCode) {
  auto r = run({"sh", "-c", "echo out; echo err >&2; exit 3"});
  ASSERT_TRUE(r.ok()) << r.error().what();
  EXPECT_EQ(r->workload.status(), ExitStatus::exited(3));
  EXPECT_EQ(out(), "out\n");
  EXPECT_EQ(err(), "err\n");
  EXPECT_EQ(chosen_, "mock");
}

TEST_F(OneShotTest, StdinReachesTheWorkloadOnlyWhenInteractive) {
  auto r = run({"sh", "-c", "cat; echo done"}, "line one\nline two\n", true);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(out(), "line one\nline two\ndone\n");
  auto closed = run({"sh", "-c", "cat; echo done"}, "ignored\n", false);
  ASSERT_TRUE(closed.ok());
  EXPECT_EQ(out(), "done\n");
}

TEST_F(OneShotTest, SignalDeathIsReported) {
  auto r = run({"sh", "-c", "kill -9 $$"});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->workload.status().signaled);
  EXPECT_EQ(r->workload.status().shell_code(), 137);
}

TEST_F(OneShotTest, TimeoutKillsTheWorkload) {
  auto t0 = std::chrono::steady_clock::now();
  auto r = run({"sleep", "30"}, "", false, std::chrono::seconds(1));
  ASSERT_TRUE(r.ok()) << r.error().what();
  EXPECT_TRUE(r->workload.timed_out());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(15));
}

TEST_F(OneShotTest, UnknownBackendIsAClearError) {
  auto spec = SandboxSpecBuilder().rootfs("/").command({"true"}).build();
  OneShotOptions o;
  o.backend = "hyperdrive";
  o.spec = *spec;
  auto r = run_one_shot(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().what().find("unknown backend 'hyperdrive'"), std::string::npos);
}

TEST_F(OneShotTest, IsolationVmRefusesContainers) {
  auto spec = SandboxSpecBuilder().rootfs("/").command({"true"}).build();
  OneShotOptions o;
  o.backend = "native";
  o.require_vm = true;
  o.spec = *spec;
  auto r = run_one_shot(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().what().find("isolation vm"), std::string::npos) << r.error().what();
}

}  // namespace
}  // namespace krunbox
