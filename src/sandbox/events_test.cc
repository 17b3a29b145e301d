#include "sandbox/events.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>

#include "base/fs.h"
#include "base/temp_dir.h"
#include "base/unique_fd.h"

namespace krunbox {
namespace {

class SandboxWatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = TempDir::create();
    ASSERT_TRUE(d.ok());
    dir_ = std::move(*d);
    store_ = StateStore(join_path(dir_.path(), "lifecycle"), join_path(dir_.path(), "sock"));
    lc_ = std::make_unique<Lifecycle>(store_);
  }
  std::string make(const std::string& name, std::map<std::string, std::string> labels = {}) {
    SandboxConfig c;
    c.spec = *SandboxSpecBuilder().rootfs("/").name(name).command({"sleep", "1"}).build();
    c.backend = "mock";
    c.labels = std::move(labels);
    EXPECT_TRUE(store_.create(c).ok());
    return c.spec.id;
  }
  void set(const std::string& id, SandboxState state, std::optional<ExitStatus> exit = std::nullopt, int64_t run = 1) {
    SandboxStatus s;
    s.state = state;
    s.exit_status = exit;
    s.run = run;
    ASSERT_TRUE(lc_->store().save_status(id, s).ok());
  }
  std::vector<std::string> types(SandboxWatcher& w) {
    auto events = w.next(std::chrono::milliseconds(3000));
    EXPECT_TRUE(events.ok()) << events.error().what();
    std::vector<std::string> out;
    if (events.ok())
      for (const auto& e : *events) out.push_back(e.type);
    return out;
  }
  TempDir dir_;
  StateStore store_;
  std::unique_ptr<Lifecycle> lc_;
};

TEST_F(SandboxWatcherTest, StartsFromNowAndReportsEachChange) {
  std::string old = make("old");
  auto w = SandboxWatcher::open(*lc_);
  ASSERT_TRUE(w.ok()) << w.error().what();
  // What was there before is not an event.
  auto quiet = w->next(std::chrono::milliseconds(100));
  ASSERT_TRUE(quiet.ok());
  EXPECT_TRUE(quiet->empty());

  std::string id = make("web", {{"tier", "front"}});
  auto created = w->next(std::chrono::milliseconds(3000));
  ASSERT_TRUE(created.ok());
  ASSERT_EQ(created->size(), 1u);
  EXPECT_EQ((*created)[0].type, "created");
  EXPECT_EQ((*created)[0].id, id);
  EXPECT_EQ((*created)[0].name, "web");
  EXPECT_EQ((*created)[0].labels.at("tier"), "front");

  set(id, SandboxState::kStopped, ExitStatus::killed(9));
  auto exited = w->next(std::chrono::milliseconds(3000));
  ASSERT_TRUE(exited.ok());
  ASSERT_EQ(exited->size(), 1u);
  EXPECT_EQ((*exited)[0].type, "exited");
  EXPECT_EQ((*exited)[0].state, "stopped");
  EXPECT_EQ((*exited)[0].exit_code, 137);

  ASSERT_TRUE(store_.remove(id).ok());
  auto removed = w->next(std::chrono::milliseconds(3000));
  ASSERT_TRUE(removed.ok());
  ASSERT_EQ(removed->size(), 1u);
  EXPECT_EQ((*removed)[0].type, "removed");
  EXPECT_EQ((*removed)[0].name, "web");
  (void)old;
}

TEST_F(SandboxWatcherTest, PausesResumesAndRestartsBetweenLooks) {
  std::string id = make("p");
  // A monitor is whoever holds the sandbox's monitor lock: this test.
  UniqueFd lock(::open(join_path(lc_->store().dir(id), "monitor.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  ASSERT_TRUE(lock);
  ASSERT_EQ(::flock(lock.get(), LOCK_EX), 0);
  set(id, SandboxState::kRunning);
  auto w = SandboxWatcher::open(*lc_);
  ASSERT_TRUE(w.ok());
  set(id, SandboxState::kPaused);
  EXPECT_EQ(types(*w), std::vector<std::string>{"paused"});
  set(id, SandboxState::kRunning);
  EXPECT_EQ(types(*w), std::vector<std::string>{"resumed"});
  // A restart by the policy between two looks: a new run, still running.
  set(id, SandboxState::kRunning, std::nullopt, /*run=*/2);
  EXPECT_EQ(types(*w), (std::vector<std::string>{"exited", "started"}));
  set(id, SandboxState::kStopped, ExitStatus::exited(0), 2);
  EXPECT_EQ(types(*w), std::vector<std::string>{"exited"});
}

TEST_F(SandboxWatcherTest, AnActiveSandboxWhoseMonitorIsGoneIsACrash) {
  std::string id = make("c");
  auto w = SandboxWatcher::open(*lc_);
  ASSERT_TRUE(w.ok());
  SandboxStatus s;
  s.state = SandboxState::kRunning;
  s.run = 1;
  s.monitor = ProcessRef{999999, 1};
  ASSERT_TRUE(lc_->store().save_status(id, s).ok());
  auto events = w->next(std::chrono::milliseconds(3000));
  ASSERT_TRUE(events.ok());
  ASSERT_FALSE(events->empty());
  EXPECT_EQ(events->back().type, "crashed");
  EXPECT_NE(events->back().reason.find("monitor"), std::string::npos);
}

TEST(SandboxEventTypesTest, AreTheDocumentedOnes) {
  EXPECT_EQ(sandbox_event_types(),
            (std::vector<std::string>{"created", "started", "paused", "resumed", "exited", "crashed", "removed"}));
}

}  // namespace
}  // namespace krunbox
