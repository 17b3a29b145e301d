#include "serve/auth.h"

#include <sys/stat.h>

#include <gtest/gtest.h>

#include "base/fs.h"
#include "base/temp_dir.h"

namespace krunbox::serve {
namespace {

TEST(Auth, ConstantTimeEqual) {
  EXPECT_TRUE(constant_time_equal("abc", "abc"));
  EXPECT_TRUE(constant_time_equal("", ""));
  EXPECT_FALSE(constant_time_equal("abc", "abd"));
  EXPECT_FALSE(constant_time_equal("ab", "abc"));
  EXPECT_FALSE(constant_time_equal("abcd", "abc"));
  EXPECT_FALSE(constant_time_equal(std::string("abc\0", 4), "abc"));
}

TEST(Auth, Bearer) {
  const std::string token = "0123456789abcdef0123";
  EXPECT_TRUE(bearer_matches("Bearer " + token, token));
  EXPECT_TRUE(bearer_matches("bearer " + token, token));
  EXPECT_FALSE(bearer_matches("Bearer " + token + "x", token));
  EXPECT_FALSE(bearer_matches("Bearer " + token.substr(1), token));
  EXPECT_FALSE(bearer_matches("Basic " + token, token));
  EXPECT_FALSE(bearer_matches(token, token));
  EXPECT_FALSE(bearer_matches("", token));
  EXPECT_FALSE(bearer_matches("Bearer ", ""));
}

TEST(Auth, TokenFile) {
  auto dir = TempDir::create("krunbox-auth-");
  ASSERT_TRUE(dir.ok());
  std::string path = dir->path() + "/token";
  ASSERT_TRUE(write_file_atomic(path, "0123456789abcdef0123\n", 0600).ok());
  auto t = load_token_file(path);
  ASSERT_TRUE(t.ok()) << t.error().what();
  EXPECT_EQ(*t, "0123456789abcdef0123");

  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  auto open = load_token_file(path);
  ASSERT_FALSE(open.ok());
  EXPECT_NE(open.error().what().find("chmod 600"), std::string::npos);

  ASSERT_TRUE(write_file_atomic(path, "short\n", 0600).ok());
  EXPECT_FALSE(load_token_file(path).ok());
  ASSERT_TRUE(write_file_atomic(path, "0123456789 abcdef0123\n", 0600).ok());
  EXPECT_FALSE(load_token_file(path).ok());
  EXPECT_FALSE(load_token_file(dir->path() + "/missing").ok());
}

}  // namespace
}  // namespace krunbox::serve
