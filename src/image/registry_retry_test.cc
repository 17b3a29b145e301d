#include "image/registry_retry.h"

#include <gtest/gtest.h>

namespace krunbox::image {
namespace {

using std::chrono::milliseconds;

TEST(RetryTest, RetryableStatuses) {
  for (long s : {408, 429, 500, 502, 503, 504, 599}) EXPECT_TRUE(retryable_http_status(s)) << s;
  for (long s : {200, 206, 301, 400, 401, 403, 404, 416, 501, 505, 600, 0, -1}) EXPECT_FALSE(retryable_http_status(s)) << s;
}

TEST(RetryTest, BackoffGrowsCapsAndJitters) {
  RetryPolicy p;
  EXPECT_EQ(backoff_delay(p, 0, 0.0), milliseconds(250));
  EXPECT_EQ(backoff_delay(p, 0, 1.0), milliseconds(500));
  EXPECT_EQ(backoff_delay(p, 1, 1.0), milliseconds(1000));
  EXPECT_EQ(backoff_delay(p, 3, 0.5), milliseconds(3000));
  EXPECT_EQ(backoff_delay(p, 10, 1.0), p.max_delay);
  EXPECT_EQ(backoff_delay(p, 1000, 1.0), p.max_delay);
  EXPECT_EQ(backoff_delay(p, -5, 1.0), milliseconds(500));
  EXPECT_EQ(backoff_delay(p, 0, 7.0), milliseconds(500));  // jitter clamped
  for (int a = 0; a < 8; ++a) EXPECT_LE(backoff_delay(p, a, 0.3), backoff_delay(p, a + 1, 0.3));
}

TEST(RetryTest, RetryAfterWinsWhenLonger) {
  RetryPolicy p;
  EXPECT_EQ(backoff_delay(p, 0, 0.0, milliseconds(7000)), milliseconds(7000));
  EXPECT_EQ(backoff_delay(p, 6, 1.0, milliseconds(10)), p.max_delay);
}

TEST(RetryTest, ParsesRetryAfter) {
  std::time_t now = 784111777;  // Sun, 06 Nov 1994 08:49:37 GMT
  EXPECT_EQ(parse_retry_after("120", now), milliseconds(120000));
  EXPECT_EQ(parse_retry_after(" 0 ", now), milliseconds(0));
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now), milliseconds(10000));
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now), milliseconds(0));
  EXPECT_EQ(parse_retry_after("99999999999999999999", now), milliseconds(int64_t{999999999} * 1000));
  for (const char* bad : {"", "-1", "1.5", "soon", "Sun, 06 Nov 1994 08:49:47", "Sun, 06 Nov 1994 08:49:47 GMTx", "0x10"})
    EXPECT_FALSE(parse_retry_after(bad, now).has_value()) << bad;
  EXPECT_FALSE(parse_retry_after(std::string(100, '1'), now).has_value());
}

}  // namespace
}  // namespace krunbox::image
