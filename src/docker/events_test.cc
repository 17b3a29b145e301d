#include "docker/events.h"

#include <gtest/gtest.h>

namespace krunbox::docker {
namespace {

DockerEvent die(const std::string& id, const std::string& name) {
  return {.type = "container",
          .action = "die",
          .id = id,
          .attributes = {{"name", name}, {"image", "busybox"}, {"exitCode", "3"}, {"team", "a"}},
          .time_nano = 1700000000123456789};
}

TEST(DockerEvents, TimesInEitherSpelling) {
  EXPECT_EQ(*parse_event_time("1700000000"), 1700000000000000000);
  EXPECT_EQ(*parse_event_time("1700000000.5"), 1700000000500000000);
  EXPECT_EQ(*parse_event_time("1700000000.000000001"), 1700000000000000001);
  EXPECT_EQ(*parse_event_time("2023-11-14T22:13:20Z"), 1700000000000000000);
  EXPECT_EQ(*parse_event_time("2023-11-14T23:13:20.25+01:00"), 1700000000250000000);
  for (const char* bad :
       {"", "x", "-5", "1.2.3", "1700000000.1234567890", "2023-11-14T22:13:20", "2023-11-14T22:13:20+1"}) {
    auto r = parse_event_time(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.error().what().find("invalid time"), std::string::npos);
  }
}

TEST(DockerEvents, DockersShape) {
  Json j = to_json(die("abc", "web"));
  EXPECT_EQ(j["Type"], "container");
  EXPECT_EQ(j["Action"], "die");
  EXPECT_EQ(j["Actor"]["ID"], "abc");
  EXPECT_EQ(j["Actor"]["Attributes"]["exitCode"], "3");
  EXPECT_EQ(j["time"], 1700000000);
  EXPECT_EQ(j["timeNano"], 1700000000123456789);
  EXPECT_EQ(j["status"], "die");
  EXPECT_EQ(j["from"], "busybox");
  Json image =
      to_json({.type = "image", .action = "load", .id = "busybox:test", .attributes = {{"name", "busybox:test"}}});
  EXPECT_FALSE(image.contains("status"));
}

TEST(DockerEvents, Filters) {
  auto f = [](const char* json) {
    auto r = EventFilter::parse(json);
    EXPECT_TRUE(r.ok()) << json;
    return *r;
  };
  DockerEvent e = die("abcdef", "web");
  EXPECT_TRUE(f("").matches(e));
  EXPECT_TRUE(f(R"({"container":["web"]})").matches(e));
  EXPECT_TRUE(f(R"({"container":["abc"]})").matches(e));
  EXPECT_FALSE(f(R"({"container":["other"]})").matches(e));
  EXPECT_TRUE(f(R"({"event":["start","die"],"type":["container"]})").matches(e));
  EXPECT_FALSE(f(R"({"event":["start"]})").matches(e));
  EXPECT_FALSE(f(R"({"type":["image"]})").matches(e));
  EXPECT_TRUE(f(R"({"label":["team=a"]})").matches(e));
  EXPECT_FALSE(f(R"({"label":["team=a","tier"]})").matches(e));
  EXPECT_TRUE(f(R"({"image":["busybox"]})").matches(e));
  auto unknown = EventFilter::parse(R"({"daemon":["x"]})");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().what().find("invalid filter 'daemon'"), std::string::npos);
  EXPECT_FALSE(EventFilter::parse(R"({"label":["=x"]})").ok());
}

TEST(DockerEvents, LogKeepsTheLatestAndWakesReaders) {
  EventLog log;
  for (size_t i = 0; i < EventLog::kKept + 10; ++i) log.add(die(std::to_string(i), "n"));
  uint64_t seq = 0;
  auto kept = log.kept(seq);
  ASSERT_EQ(kept.size(), EventLog::kKept);
  EXPECT_EQ(kept.front().id, "10");
  EXPECT_TRUE(log.wait(seq, std::chrono::milliseconds(1)).empty());
  log.add(die("new", "n"));
  auto fresh = log.wait(seq, std::chrono::milliseconds(1000));
  ASSERT_EQ(fresh.size(), 1u);
  EXPECT_EQ(fresh[0].id, "new");
}

}  // namespace
}  // namespace krunbox::docker
