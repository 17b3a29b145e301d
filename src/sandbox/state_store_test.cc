#include "sandbox/state_store.h"

#include <gtest/gtest.h>

#include "base/fs.h"
#include "base/temp_dir.h"

namespace krunbox {
namespace {

class StateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = TempDir::create();
    ASSERT_TRUE(d.ok());
    dir_ = std::move(*d);
    store_ = std::make_unique<StateStore>(join_path(dir_.path(), "lifecycle"), join_path(dir_.path(), "sock"));
  }
  SandboxConfig config(std::string name) {
    SandboxConfig c;
    c.spec = *SandboxSpecBuilder().rootfs("/").name(std::move(name)).command({"sleep", "1"}).env("A=1").build();
    c.backend = "mock";
    c.restart = *parse_restart_policy("on-failure:3");
    c.secret_names = {"TOKEN"};
    return c;
  }
  TempDir dir_;
  std::unique_ptr<StateStore> store_;
};

TEST_F(StateStoreTest, RoundTripsConfigAndStatus) {
  auto c = config("web");
  c.spec.ports.push_back({"127.0.0.1", 0, 80, PortProtocol::kUdp});
  c.spec.volumes.push_back({"/tmp", "/data", true});
  ASSERT_TRUE(store_->create(c).ok());
  auto back = store_->load_config(c.spec.id);
  ASSERT_TRUE(back.ok()) << back.error().what();
  EXPECT_EQ(back->spec.argv, c.spec.argv);
  EXPECT_EQ(back->spec.env, c.spec.env);
  EXPECT_EQ(back->spec.ports, c.spec.ports);
  EXPECT_EQ(back->spec.volumes, c.spec.volumes);
  EXPECT_EQ(back->restart, c.restart);
  EXPECT_EQ(back->secret_names, c.secret_names);

  SandboxStatus s;
  s.state = SandboxState::kStopped;
  s.exit_status = ExitStatus::killed(9);
  s.restart_count = 3;
  s.monitor = ProcessRef{42, 7};
  ASSERT_TRUE(store_->save_status(c.spec.id, s).ok());
  auto st = store_->load_status(c.spec.id);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->state, SandboxState::kStopped);
  EXPECT_EQ(st->exit_status, s.exit_status);
  EXPECT_EQ(st->restart_count, 3u);
  EXPECT_EQ(st->monitor, s.monitor);
}

TEST_F(StateStoreTest, NamesAreUniqueAndResolveLikeDocker) {
  auto a = config("web");
  ASSERT_TRUE(store_->create(a).ok());
  auto dup = config("web");
  auto st = store_->create(dup);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), ErrorCode::kAlreadyExists);
  auto b = config("db");
  b.spec.id = std::string(a.spec.id.substr(0, 4)) + std::string(60, '0');
  if (b.spec.id == a.spec.id) b.spec.id[63] = '1';
  ASSERT_TRUE(store_->create(b).ok());
  EXPECT_EQ(*store_->resolve("web"), a.spec.id);
  EXPECT_EQ(*store_->resolve(a.spec.id), a.spec.id);
  EXPECT_EQ(*store_->resolve(b.spec.id.substr(0, 12)), b.spec.id);
  auto ambiguous = store_->resolve(a.spec.id.substr(0, 4));
  ASSERT_FALSE(ambiguous.ok());
  EXPECT_NE(ambiguous.error().what().find("matches 2"), std::string::npos);
  EXPECT_EQ(store_->resolve("nope").error().code(), ErrorCode::kNotFound);
  ASSERT_TRUE(store_->remove(a.spec.id).ok());
  EXPECT_EQ(store_->list()->size(), 1u);
}

TEST_F(StateStoreTest, UnfinishedCreateIsIgnoredAndHostileFilesFailClearly) {
  ASSERT_TRUE(make_dirs(join_path(store_->root(), std::string(64, 'a'))).ok());
  EXPECT_TRUE(store_->list()->empty());
  auto c = config("");
  ASSERT_TRUE(store_->create(c).ok());
  ASSERT_TRUE(write_file_atomic(join_path(store_->dir(c.spec.id), "state.json"), "{\"state\":\"zombie\"}").ok());
  auto st = store_->load_status(c.spec.id);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().what().find("zombie"), std::string::npos);
  ASSERT_TRUE(write_file_atomic(join_path(store_->dir(c.spec.id), "config.json"), "{\"spec\":[]}").ok());
  EXPECT_FALSE(store_->load_config(c.spec.id).ok());
  SandboxConfig bad = config("x");
  bad.spec.id = "../../etc";
  EXPECT_FALSE(store_->create(bad).ok());
}

TEST(RestartPolicyTest, Parses) {
  EXPECT_EQ(parse_restart_policy("no")->mode, RestartPolicy::Mode::kNo);
  EXPECT_EQ(parse_restart_policy("always")->mode, RestartPolicy::Mode::kAlways);
  auto p = parse_restart_policy("on-failure:3");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->mode, RestartPolicy::Mode::kOnFailure);
  EXPECT_EQ(p->max_retries, 3u);
  EXPECT_EQ(to_string(*p), "on-failure:3");
  EXPECT_EQ(parse_restart_policy("on-failure")->max_retries, 0u);
  for (const char* bad : {"sometimes", "on-failure:", "on-failure:-1", "on-failure:x", "on-failure:99999999",
                          "on-failure3", "always:2"})
    EXPECT_FALSE(parse_restart_policy(bad).ok()) << bad;
}

}  // namespace
}  // namespace krunbox
