#include "image/curl_api.h"

#include <gtest/gtest.h>

namespace krunbox::image {
namespace {

TEST(CurlApiTest, LoadsOnceWithEveryFunction) {
  auto api = curl_api();
  ASSERT_TRUE(api.ok()) << api.error().what();
  EXPECT_EQ(*api, *curl_api());
  const CurlApi& c = **api;
  for (const void* fn : {reinterpret_cast<const void*>(c.easy_init), reinterpret_cast<const void*>(c.easy_setopt),
                         reinterpret_cast<const void*>(c.easy_perform), reinterpret_cast<const void*>(c.share_setopt),
                         reinterpret_cast<const void*>(c.slist_free_all)})
    EXPECT_NE(fn, nullptr);
  CURL* h = c.easy_init();
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(c.easy_setopt(h, CURLOPT_URL, "http://127.0.0.1:1/"), CURLE_OK);
  c.easy_cleanup(h);
  EXPECT_STREQ(c.easy_strerror(CURLE_OK), "No error");
}

TEST(CurlApiTest, MissingLibraryIsAClearError) {
  auto api = load_curl("libcurl-does-not-exist.so.4");
  ASSERT_FALSE(api.ok());
  EXPECT_EQ(api.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(api.error().what().find("libcurl-does-not-exist.so.4"), std::string::npos) << api.error().what();
  EXPECT_NE(api.error().what().find("apt-get install libcurl4"), std::string::npos) << api.error().what();
}

TEST(CurlApiTest, LibraryWithoutCurlIsRefusedByName) {
  auto api = load_curl("libz.so.1");
  ASSERT_FALSE(api.ok());
  EXPECT_NE(api.error().what().find("lacks curl_global_init"), std::string::npos) << api.error().what();
}

}  // namespace
}  // namespace krunbox::image
