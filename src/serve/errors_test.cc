#include "serve/errors.h"

#include <gtest/gtest.h>

#include "base/json.h"

namespace krunbox::serve {
namespace {

TEST(Errors, StatusMapping) {
  EXPECT_EQ(http_status(ErrorCode::kInvalidArgument), 400);
  EXPECT_EQ(http_status(ErrorCode::kNotFound), 404);
  EXPECT_EQ(http_status(ErrorCode::kIllegalState), 409);
  EXPECT_EQ(http_status(ErrorCode::kAlreadyExists), 409);
  EXPECT_EQ(http_status(ErrorCode::kLimitExceeded), 413);
  EXPECT_EQ(http_status(ErrorCode::kUnavailable), 503);
  EXPECT_EQ(http_status(ErrorCode::kInternal), 500);
}

TEST(Errors, Shape) {
  HttpResponse r = error_response(Error(ErrorCode::kNotFound, "no sandbox \"x\"").wrap("looking up x"));
  EXPECT_EQ(r.status, 404);
  auto j = parse_json(r.body, "error");
  ASSERT_TRUE(j.ok());
  EXPECT_EQ((*j)["error"]["code"], "not_found");
  EXPECT_NE((*j)["error"]["message"].get<std::string>().find("looking up x"), std::string::npos);
}

TEST(Errors, InvalidUtf8StaysValidJson) {
  std::string body = error_body("bad", "bytes \xff\xfe here");
  EXPECT_TRUE(parse_json(body, "error").ok());
}

}  // namespace
}  // namespace krunbox::serve
