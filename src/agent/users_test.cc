#include "agent/users.h"

#include <gtest/gtest.h>

#include "base/fs.h"
#include "base/temp_dir.h"

namespace krunbox::agent {
namespace {

class UsersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = TempDir::create("users-");
    ASSERT_TRUE(d.ok());
    dir_ = std::move(*d);
    ASSERT_TRUE(write_file_atomic(dir_.path() + "/passwd",
                                  "root:x:0:0:root:/root:/bin/sh\n"
                                  "# comment\n"
                                  "broken line\n"
                                  "app:x:1000:1001:App:/home/app:/bin/sh\n"
                                  "bad:x:notanumber:1:::\n")
                    .ok());
    ASSERT_TRUE(write_file_atomic(dir_.path() + "/group",
                                  "root:x:0:\n"
                                  "appgrp:x:1001:\n"
                                  "wheel:x:10:root,app\n"
                                  "audio:x:29:app\n")
                    .ok());
  }
  TempDir dir_;
};

TEST_F(UsersTest, ParsesAndSkipsMalformedLines) {
  auto p = parse_passwd("a:x:1:2:g:/h:/s\nb:x:1\nc:x:3:4:g:/h:/s");
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[1].name, "c");
  EXPECT_EQ(p[1].gid, 4u);
  auto g = parse_group("g:x:5:a,b\nh:x:\n");
  ASSERT_EQ(g.size(), 1u);
  EXPECT_EQ(g[0].members, (std::vector<std::string>{"a", "b"}));
}

TEST_F(UsersTest, ResolvesNamesWithSupplementaryGroups) {
  auto u = resolve_user("app", dir_.path());
  ASSERT_TRUE(u.ok()) << u.error().what();
  EXPECT_EQ(u->uid, 1000u);
  EXPECT_EQ(u->gid, 1001u);
  EXPECT_EQ(u->home, "/home/app");
  EXPECT_EQ(u->groups, (std::vector<gid_t>{1001, 10, 29}));
}

TEST_F(UsersTest, NumericAndGroupForms) {
  auto a = resolve_user("1000", dir_.path());
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->gid, 1001u);
  auto b = resolve_user("4242", dir_.path());
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->uid, 4242u);
  EXPECT_EQ(b->gid, 4242u);
  auto c = resolve_user("app:wheel", dir_.path());
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->gid, 10u);
  auto d = resolve_user("5:6", dir_.path());
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->uid, 5u);
  EXPECT_EQ(d->gid, 6u);
}

TEST_F(UsersTest, UnknownNamesFail) {
  EXPECT_EQ(resolve_user("nobody", dir_.path()).error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(resolve_user("app:nogroup", dir_.path()).error().code(), ErrorCode::kNotFound);
  EXPECT_FALSE(resolve_user(":1", dir_.path()).ok());
  EXPECT_FALSE(resolve_user("", dir_.path()).ok());
}

}  // namespace
}  // namespace krunbox::agent
