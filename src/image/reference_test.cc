#include "image/reference.h"

#include <gtest/gtest.h>

#include <vector>

namespace krunbox::image {
namespace {

TEST(ReferenceTest, NormalizesLikeDocker) {
  auto r = parse_reference("busybox");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->name, "docker.io/library/busybox");
  EXPECT_EQ(r->tag, "latest");
  EXPECT_EQ(r->familiar(), "busybox:latest");
  EXPECT_EQ(parse_reference("foo/bar:1.2")->name, "docker.io/foo/bar");
  auto reg = parse_reference("127.0.0.1:5000/x/y:v1");
  EXPECT_EQ(reg->name, "127.0.0.1:5000/x/y");
  EXPECT_EQ(reg->tag, "v1");
  auto dig = parse_reference("alpine@sha256:" + std::string(64, 'a'));
  ASSERT_TRUE(dig.ok());
  EXPECT_TRUE(dig->tag.empty());
  EXPECT_TRUE(dig->digest.has_value());
  EXPECT_EQ(parse_reference("localhost/app")->name, "localhost/app");
}

TEST(ReferenceTest, RejectsInvalid) {
  for (std::string bad : std::vector<std::string>{"", "UPPER", "a//b", "a:", "a:-tag", "a@sha256:xyz", "-a", "a/../b", std::string(600, 'a')})
    EXPECT_FALSE(parse_reference(bad).ok()) << bad;
}

}  // namespace
}  // namespace krunbox::image
