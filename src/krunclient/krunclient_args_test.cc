#include "krunclient/krunclient_args.h"

#include <gtest/gtest.h>

namespace krunbox::krunclient {
namespace {

TEST(KrunclientArgsTest, DefaultsFollowTheSeed) {
  auto a = parse_args({"/srv/app", "18080"});
  ASSERT_TRUE(a.ok()) << a.error().what();
  auto c = build_config(*a, {{"HOST", "h.example"}, {"INTERNAL_SECRET", "s"}, {"PATH", "/bin"}, {"HOME", "/root"}});
  EXPECT_EQ(c.vcpus, 1u);
  EXPECT_EQ(c.memory_mib, 512u);
  EXPECT_EQ(c.port_map, std::vector<std::string>{"18080:80"});
  EXPECT_EQ(c.exec_path, "/bin/app");
  EXPECT_TRUE(c.args.empty());
  EXPECT_EQ(c.env, (std::vector<std::string>{"HOST=h.example", "INTERNAL_SECRET=s"}));
  EXPECT_TRUE(c.root_is_private);
}

TEST(KrunclientArgsTest, FlagsOverrideAndPassMoreEnv) {
  auto a = parse_args({"--cpus", "2", "/srv/app", "--memory", "1024", "8080", "--pass-env", "TZ", "--pass-env", "HOST"});
  ASSERT_TRUE(a.ok()) << a.error().what();
  auto c = build_config(*a, {{"TZ", "UTC"}, {"HOST", "x"}});
  EXPECT_EQ(c.vcpus, 2u);
  EXPECT_EQ(c.memory_mib, 1024u);
  EXPECT_EQ(c.env, (std::vector<std::string>{"HOST=x", "TZ=UTC"}));
}

TEST(KrunclientArgsTest, UnsetVariablesAreNotInvented) {
  auto a = parse_args({"/r", "1"});
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(build_config(*a, {}).env.empty());
}

TEST(KrunclientArgsTest, HostileArgumentsAreRefused) {
  const std::vector<std::vector<std::string>> bad = {
      {},
      {"/r"},
      {"/r", "http"},
      {"/r", "0"},
      {"/r", "65536"},
      {"/r", "-1"},
      {"/r", "80a"},
      {"/r", "99999999999999999999"},
      {"/r", " 80"},
      {"/r", "80", "extra"},
      {"/r", "80", "--cpus"},
      {"/r", "80", "--cpus", "0"},
      {"/r", "80", "--cpus", "17"},
      {"/r", "80", "--memory", "16"},
      {"/r", "80", "--memory", "1e9"},
      {"/r", "80", "--pass-env", "A=B"},
      {"/r", "80", "--pass-env", "1A"},
      {"/r", "80", "--pass-env", ""},
      {"/r", "80", "--bogus"},
      {"", "80"},
      {"/r", "80", "--libkrun", ""},
  };
  for (const auto& args : bad) {
    auto a = parse_args(args);
    std::string joined;
    for (const auto& s : args) joined += "[" + s + "]";
    EXPECT_FALSE(a.ok()) << joined;
    if (!a.ok()) {
      EXPECT_EQ(a.error().code(), ErrorCode::kInvalidArgument);
    }
  }
}

}  // namespace
}  // namespace krunbox::krunclient
