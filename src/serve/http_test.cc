#include "serve/http.h"

#include <gtest/gtest.h>

namespace krunbox::serve {
namespace {

TEST(HttpRequestTest, HeaderLookupIgnoresCaseAndTakesTheFirst) {
  HttpRequest r;
  r.headers = {{"Content-Type", "application/json"}, {"X-Access-Token", "a"}, {"x-access-token", "b"}};
  EXPECT_EQ(r.header("content-type"), "application/json");
  EXPECT_EQ(r.header("X-ACCESS-TOKEN"), "a");
  EXPECT_EQ(r.header("Upgrade"), "");
  EXPECT_EQ(r.header(""), "");
}

}  // namespace
}  // namespace krunbox::serve
