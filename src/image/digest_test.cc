#include "image/digest.h"

#include <gtest/gtest.h>

namespace krunbox::image {
namespace {

const std::string kAbc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

TEST(DigestTest, ParsesValid) {
  auto d = Digest::parse("sha256:" + kAbc);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->hex(), kAbc);
  EXPECT_EQ(d->str(), "sha256:" + kAbc);
}

TEST(DigestTest, RejectsMalformed) {
  for (std::string bad : {std::string("sha256:") + kAbc.substr(1), "sha256:" + kAbc + "0", "SHA256:" + kAbc, kAbc,
                          "sha256:" + std::string(64, 'A'), "sha256:../../../../etc/passwd" + std::string(35, 'a'),
                          std::string("sha256:") + std::string(63, 'a') + "/", std::string("")}) {
    EXPECT_FALSE(Digest::parse(bad).ok()) << bad;
  }
  auto other = Digest::parse("sha512:" + std::string(128, 'a'));
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().code(), ErrorCode::kUnsupported);
}

TEST(DigestTest, HashesAndChains) {
  EXPECT_EQ(Sha256::of("abc").hex(), kAbc);
  Sha256 h;
  h.update("a");
  h.update("bc");
  EXPECT_EQ(h.finish().hex(), kAbc);
  Digest a = Sha256::of("a"), b = Sha256::of("b");
  EXPECT_EQ(chain_id(Digest(), a), a);
  EXPECT_EQ(chain_id(a, b), Sha256::of(a.str() + " " + b.str()));
}

}  // namespace
}  // namespace krunbox::image
