#include "krunbox/error.h"

#include <gtest/gtest.h>

namespace krunbox {
namespace {

Result<int> parse_positive(int v) {
  if (v <= 0) return Error(ErrorCode::kInvalidArgument, "value " + std::to_string(v) + " is not positive");
  return v;
}

Result<int> doubled(int v) {
  KRUNBOX_ASSIGN_OR_RETURN(int x, parse_positive(v));
  return 2 * x;
}

Status layered(int v) {
  KRUNBOX_TRY_CTX(doubled(v), "reading config");
  return {};
}

TEST(ErrorTest, WrapAddsContextOutermostFirst) {
  Error e(ErrorCode::kNotFound, "open /x");
  e.wrap("loading image").wrap("pulling alpine");
  EXPECT_EQ(e.what(), "pulling alpine: loading image: open /x");
  EXPECT_EQ(e.code(), ErrorCode::kNotFound);
}

TEST(ErrorTest, FromErrnoKeepsErrnoAndMapsCode) {
  Error e = Error::from_errno("open /nope", ENOENT);
  EXPECT_EQ(e.sys_errno(), ENOENT);
  EXPECT_EQ(e.code(), ErrorCode::kNotFound);
  EXPECT_NE(e.what().find("No such file or directory"), std::string::npos);
  EXPECT_EQ(Error::from_errno("x", EACCES).code(), ErrorCode::kPermissionDenied);
}

TEST(ErrorTest, FieldNamesTheInputAndSurvivesWrapping) {
  EXPECT_TRUE(Error(ErrorCode::kInternal, "x").field().name.empty());
  Status st = Error(ErrorCode::kUnsupported, "network mode host is not possible").with_field("network", "host");
  Status wrapped = std::move(st).wrap("starting sandbox abc");
  ASSERT_FALSE(wrapped.ok());
  EXPECT_EQ(wrapped.error().field().name, "network");
  EXPECT_EQ(wrapped.error().field().value, "host");
  // The text for every reader stays the message and its context.
  EXPECT_EQ(wrapped.error().what(), "starting sandbox abc: network mode host is not possible");
}

TEST(ErrorTest, ResultCarriesValueOrError) {
  auto good = doubled(4);
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 8);
  auto bad = doubled(-1);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code(), ErrorCode::kInvalidArgument);
}

TEST(ErrorTest, TryPropagatesWithContext) {
  EXPECT_TRUE(layered(3).ok());
  Status st = layered(0);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().what(), "reading config: value 0 is not positive");
}

TEST(ErrorTest, ResultWrapOnlyTouchesErrors) {
  auto r = Result<std::string>(std::string("x")).wrap("ctx");
  EXPECT_EQ(*r, "x");
  auto e = Result<std::string>(Error(ErrorCode::kIo, "boom")).wrap("ctx");
  EXPECT_EQ(e.error().what(), "ctx: boom");
}

TEST(ErrorTest, MoveOnlyValues) {
  Result<std::unique_ptr<int>> r = std::make_unique<int>(7);
  ASSERT_TRUE(r.ok());
  auto p = std::move(r).value();
  EXPECT_EQ(*p, 7);
}

}  // namespace
}  // namespace krunbox
