#include "serve/metrics.h"

#include <gtest/gtest.h>

namespace krunbox::serve {
namespace {

TEST(MetricsTest, HistogramBucketsAreCumulative) {
  Histogram h;
  h.observe(std::chrono::milliseconds(2));   // <= 0.0025
  h.observe(std::chrono::milliseconds(30));  // <= 0.05
  h.observe(std::chrono::seconds(100));      // +Inf only
  std::string t = h.text("x", "help");
  EXPECT_NE(t.find("# TYPE x histogram\n"), std::string::npos) << t;
  EXPECT_NE(t.find("x_bucket{le=\"0.001\"} 0\n"), std::string::npos) << t;
  EXPECT_NE(t.find("x_bucket{le=\"0.0025\"} 1\n"), std::string::npos) << t;
  EXPECT_NE(t.find("x_bucket{le=\"0.05\"} 2\n"), std::string::npos) << t;
  EXPECT_NE(t.find("x_bucket{le=\"60\"} 2\n"), std::string::npos) << t;
  EXPECT_NE(t.find("x_bucket{le=\"+Inf\"} 3\n"), std::string::npos) << t;
  EXPECT_NE(t.find("x_count 3\n"), std::string::npos) << t;
  EXPECT_NE(t.find("x_sum 100.032\n"), std::string::npos) << t;
}

TEST(MetricsTest, FailedRequestsCountButAreNotTimed) {
  ApiMetrics m;
  m.record(ApiMetrics::Kind::kExec, 200, std::chrono::milliseconds(3));
  m.record(ApiMetrics::Kind::kExec, 409, std::chrono::milliseconds(1));
  m.record(ApiMetrics::Kind::kCreate, 201, std::chrono::milliseconds(20));
  Lifecycle lc(StateStore("/nonexistent-krunbox-metrics-test", "/nonexistent-krunbox-metrics-test"));
  std::string t = m.text(lc);
  EXPECT_NE(t.find("krunbox_api_requests_total{code=\"409\"} 1\n"), std::string::npos) << t;
  EXPECT_NE(t.find("krunbox_api_exec_duration_seconds_count 1\n"), std::string::npos) << t;
  EXPECT_NE(t.find("krunbox_api_create_duration_seconds_count 1\n"), std::string::npos) << t;
  EXPECT_NE(t.find("krunbox_sandboxes{state=\"running\"} 0\n"), std::string::npos) << t;
}

}  // namespace
}  // namespace krunbox::serve
