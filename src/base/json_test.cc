#include "base/json.h"

#include <gtest/gtest.h>

namespace krunbox {
namespace {

TEST(JsonTest, ParsesAndNamesBadDocuments) {
  auto ok = parse_json(R"({"a": 1})", "config");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ((*ok)["a"], 1);
  auto bad = parse_json("{\"a\": ", "state.json of sandbox x");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code(), ErrorCode::kCorrupt);
  EXPECT_NE(bad.error().what().find("state.json of sandbox x"), std::string::npos);
}

TEST(JsonTest, DeepNestingDoesNotCrash) {
  std::string deep(100000, '[');
  auto r = parse_json(deep, "hostile");
  EXPECT_FALSE(r.ok());
}

}  // namespace
}  // namespace krunbox
