#include "image/registry_auth.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <vector>

#include "base/fs.h"
#include "base/temp_dir.h"

namespace krunbox::image {
namespace {

TEST(WwwAuthenticateTest, BearerChallengeOfDistribution) {
  auto c = parse_www_authenticate(
      R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull")");
  ASSERT_TRUE(c.ok()) << c.error().what();
  ASSERT_EQ(c->size(), 1u);
  EXPECT_EQ((*c)[0].scheme, "bearer");
  EXPECT_EQ((*c)[0].param("realm"), "https://auth.docker.io/token");
  EXPECT_EQ((*c)[0].param("service"), "registry.docker.io");
  EXPECT_EQ((*c)[0].param("scope"), "repository:library/alpine:pull");
}

TEST(WwwAuthenticateTest, SeveralChallengesTokensAndEscapes) {
  auto c = parse_www_authenticate(R"(Basic realm="Registry \"R\"", BEARER Realm=https://x/t , error="insufficient_scope")");
  ASSERT_TRUE(c.ok()) << c.error().what();
  ASSERT_EQ(c->size(), 2u);
  EXPECT_EQ((*c)[0].scheme, "basic");
  EXPECT_EQ((*c)[0].param("realm"), "Registry \"R\"");
  EXPECT_EQ((*c)[1].scheme, "bearer");
  EXPECT_EQ((*c)[1].param("realm"), "https://x/t");
  EXPECT_EQ((*c)[1].param("error"), "insufficient_scope");
  auto bare = parse_www_authenticate("Basic");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ((*bare)[0].scheme, "basic");
  EXPECT_TRUE((*bare)[0].params.empty());
}

TEST(WwwAuthenticateTest, RejectsHostileHeaders) {
  for (std::string bad : {std::string(""), std::string("   "), std::string("\"quoted\""), std::string("Bearer realm=\"unterminated"),
                          std::string("Bearer realm=\"a\" service=\"b\""), std::string("Bearer realm=\"a\",realm=\"b\""),
                          std::string("Bearer realm=\"a\x01\""), std::string("Bearer realm=\"a\\"), std::string(9000, 'a'),
                          std::string("Bearer =x"), std::string("@@@")})
    EXPECT_FALSE(parse_www_authenticate(bad).ok()) << bad;
  std::string many;
  for (int i = 0; i < 20; ++i) many += "Basic, ";
  EXPECT_FALSE(parse_www_authenticate(many).ok());
}

TEST(Base64Test, RoundTripsAndRejects) {
  for (std::string s : std::vector<std::string>{"", "a", "ab", "abc", "user:pa:ss", std::string("\0\xff\x10", 3)}) {
    auto d = base64_decode(base64_encode(s));
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(*d, s);
  }
  EXPECT_EQ(base64_encode("user:pass"), "dXNlcjpwYXNz");
  for (std::string bad : {"a", "ab=c", "a===", "$$$$", "dXNl\ncjpwYXNz"}) EXPECT_FALSE(base64_decode(bad).ok()) << bad;
}

TEST(DockerConfigTest, ReadsAuthsInEveryForm) {
  auto a = parse_docker_config(R"({
    "auths": {
      "https://index.docker.io/v1/": {"auth": "dXNlcjpwYXNz"},
      "127.0.0.1:5000": {"username": "u2", "password": "p:2"},
      "http://ghcr.io/v2/": {"auth": "YTpi", "identitytoken": "tok"},
      "empty.example": {}
    },
    "credsStore": "desktop"
  })");
  ASSERT_TRUE(a.ok()) << a.error().what();
  auto hub = find_credentials(*a, "docker.io");
  ASSERT_TRUE(hub);
  EXPECT_EQ(hub->username, "user");
  EXPECT_EQ(hub->password, "pass");
  auto local = find_credentials(*a, "127.0.0.1:5000");
  ASSERT_TRUE(local);
  EXPECT_EQ(local->password, "p:2");
  auto gh = find_credentials(*a, "ghcr.io");
  ASSERT_TRUE(gh);
  EXPECT_EQ(gh->username, "a");
  EXPECT_EQ(gh->identity_token, "tok");
  EXPECT_FALSE(find_credentials(*a, "quay.io"));
  EXPECT_TRUE(find_credentials(*a, "empty.example")->empty());
  EXPECT_TRUE(parse_docker_config("{}")->empty());
}

TEST(DockerConfigTest, RejectsHostileConfigs) {
  for (std::string bad : std::vector<std::string>{"", "[]", "{\"auths\": []}", "{\"auths\": {\"x\": 1}}", "{\"auths\": {\"x\": {\"auth\": 5}}}",
                          "{\"auths\": {\"x\": {\"auth\": \"!!!\"}}}", "{\"auths\": {\"x\": {\"auth\": \"bm9jb2xvbg==\"}}}",
                          "{\"auths\": {\"x\": {\"username\": \"a\\nb\"}}}", "{\"auths\": {", std::string(2 << 20, ' ')})
    EXPECT_FALSE(parse_docker_config(bad).ok()) << bad.substr(0, 60);
}

TEST(DockerConfigTest, LoadsFromDockerConfigDir) {
  TempDir dir = *TempDir::create("krunbox-dockercfg");
  ASSERT_TRUE(write_file_atomic(dir.path() + "/config.json", R"({"auths":{"reg.example:443":{"auth":"eDp5"}}})").ok());
  const char* old = std::getenv("DOCKER_CONFIG");
  std::string saved = old ? old : "";
  ::setenv("DOCKER_CONFIG", dir.path().c_str(), 1);
  auto c = load_docker_credentials("reg.example:443");
  auto none = load_docker_credentials("other.example");
  if (old) ::setenv("DOCKER_CONFIG", saved.c_str(), 1);
  else ::unsetenv("DOCKER_CONFIG");
  ASSERT_TRUE(c.ok()) << c.error().what();
  ASSERT_TRUE(c->has_value());
  EXPECT_EQ((*c)->username, "x");
  EXPECT_EQ((*c)->password, "y");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

TEST(TokenResponseTest, ParsesBothSpellings) {
  auto t = parse_token_response(R"({"token":"abc.def","expires_in":300})");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->token, "abc.def");
  EXPECT_EQ(t->expires_in, 300);
  auto a = parse_token_response(R"({"access_token":"xyz"})");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->token, "xyz");
  EXPECT_EQ(a->expires_in, 60);
  EXPECT_EQ(parse_token_response(R"({"token":"t","expires_in":1})")->expires_in, 60);
}

TEST(TokenResponseTest, RejectsHostileResponses) {
  for (std::string bad : std::vector<std::string>{"", "null", "{}", "{\"token\":\"\"}", "{\"token\":5}", "{\"token\":\"a b\"}", "{\"token\":\"a\\r\\nX: y\"}",
                          "{\"token\":\"t\",\"expires_in\":\"9\"}", "{\"token\":\"" + std::string(70000, 'a') + "\"}",
                          std::string(300000, ' ')})
    EXPECT_FALSE(parse_token_response(bad).ok()) << bad.substr(0, 60);
}

}  // namespace
}  // namespace krunbox::image
