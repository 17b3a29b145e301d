#include "e2b/keys.h"

#include <gtest/gtest.h>

namespace krunbox::e2b {
namespace {

const std::string kKey = "e2b_0123456789abcdef0123456789abcdef01234567";

TEST(Keys, Format) {
  EXPECT_TRUE(is_api_key(kKey));
  EXPECT_FALSE(is_api_key("e2b_0123"));
  EXPECT_FALSE(is_api_key("e2b_0123456789ABCDEF0123456789abcdef01234567"));
  EXPECT_FALSE(is_api_key("xyz_0123456789abcdef0123456789abcdef01234567"));
}

TEST(Keys, KeyFile) {
  auto keys = parse_key_file("# rotation\n\n" + kKey + "\n  e2b_ffffffffffffffffffffffffffffffff \r\n", "f");
  ASSERT_TRUE(keys.ok()) << keys.error().message();
  ASSERT_EQ(keys->size(), 2u);
  EXPECT_EQ((*keys)[1], "e2b_ffffffffffffffffffffffffffffffff");
  EXPECT_FALSE(parse_key_file("# none\n", "f").ok());
  auto bad = parse_key_file(kKey + "\nnot-a-key\n", "f");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("line 2"), std::string::npos);
}

TEST(Keys, HmacMatchesRfc4231) {
  // RFC 4231 test case 2.
  EXPECT_EQ(hmac_sha256_hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // Test case 6: a key longer than the block.
  EXPECT_EQ(hmac_sha256_hex(std::string(131, '\xaa'), "Test Using Larger Than Block-Size Key - Hash Key First"),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(Keys, TokensPerSandbox) {
  Keys k({kKey}, "secret-secret-secret-secret-secret");
  EXPECT_TRUE(k.api_key_ok(kKey));
  EXPECT_FALSE(k.api_key_ok(kKey + "0"));
  EXPECT_FALSE(k.api_key_ok(""));
  std::string a = k.access_token("aaaa");
  EXPECT_EQ(a, k.access_token("aaaa"));
  EXPECT_NE(a, k.access_token("aaab"));
  EXPECT_TRUE(k.access_token_ok("aaaa", a));
  EXPECT_FALSE(k.access_token_ok("aaab", a));
  Keys other({kKey}, "another-secret-another-secret-xx");
  EXPECT_NE(a, other.access_token("aaaa"));
}

}  // namespace
}  // namespace krunbox::e2b
