#include "docker/query.h"

#include <gtest/gtest.h>

namespace krunbox::docker {
namespace {

TEST(DockerPath, StripsTheVersionPrefix) {
  auto p = parse_docker_path("/v1.43/containers/abc/json");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->version, "1.43");
  EXPECT_EQ(p->segments, (std::vector<std::string>{"containers", "abc", "json"}));
  auto bare = parse_docker_path("/_ping");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->version, "");
  EXPECT_EQ(bare->segments, std::vector<std::string>{"_ping"});
}

TEST(DockerPath, RefusesOldMalformedAndHostilePaths) {
  EXPECT_FALSE(parse_docker_path("/v1.12/info").ok());
  EXPECT_FALSE(parse_docker_path("/v1.x/info").ok());
  EXPECT_FALSE(parse_docker_path("/v1.43//info").ok());
  EXPECT_FALSE(parse_docker_path("/containers/a%2Fb/json").ok());
  EXPECT_FALSE(parse_docker_path("/containers/a%00/json").ok());
  EXPECT_FALSE(parse_docker_path("containers").ok());
  EXPECT_TRUE(parse_docker_path("/v1.50/version").ok());
}

TEST(DockerQuery, DecodesGoFormEncoding) {
  auto q = DockerQuery::parse("name=a+b&all=1&filters=%7B%22label%22%3A%7B%22x%3Dy%22%3Atrue%7D%7D&all=0");
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->get("name"), "a b");
  EXPECT_FALSE(q->flag("all"));  // the last one counts
  EXPECT_TRUE(q->flag("missing", true));
  auto py = DockerQuery::parse("link=False&force=True&v=0");
  ASSERT_TRUE(py.ok());
  EXPECT_FALSE(py->flag("link"));
  EXPECT_TRUE(py->flag("force"));
  EXPECT_FALSE(py->flag("v"));
  auto f = parse_filters(*q->get("filters"));
  ASSERT_TRUE(f.ok());
  EXPECT_EQ((*f)["label"], std::vector<std::string>{"x=y"});
}

TEST(DockerQuery, IntegersAreBounded) {
  auto q = DockerQuery::parse("t=5&bad=x&big=99999");
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(*q->integer("t", 0, 10).value(), 5);
  EXPECT_FALSE(q->integer("bad", 0, 10).ok());
  EXPECT_FALSE(q->integer("big", 0, 10).ok());
  EXPECT_FALSE(q->integer("absent", 0, 10).value().has_value());
}

TEST(DockerFilters, BothSpellingsAndBadOnes) {
  auto a = parse_filters(R"({"status":["running","exited"]})");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ((*a)["status"].size(), 2u);
  EXPECT_FALSE(parse_filters("[1]").ok());
  EXPECT_FALSE(parse_filters(R"({"label":3})").ok());
  EXPECT_FALSE(parse_filters("{").ok());
  EXPECT_EQ(parse_filters("{").error().code(), ErrorCode::kInvalidArgument);
}

TEST(DockerSignal, NamesAndNumbers) {
  EXPECT_EQ(parse_signal("KILL").value(), 9);
  EXPECT_EQ(parse_signal("SIGTERM").value(), 15);
  EXPECT_EQ(parse_signal("2").value(), 2);
  EXPECT_FALSE(parse_signal("0").ok());
  EXPECT_FALSE(parse_signal("NOPE").ok());
}

}  // namespace
}  // namespace krunbox::docker
