#include "image/registry_client.h"

#include <gtest/gtest.h>

#include "image/manifest.h"

namespace krunbox::image {
namespace {

TEST(RegistryClientTest, RegistriesConfig) {
  auto r = parse_registries_config(R"({"insecure": ["reg.local:5000", "10.0.0.1"]})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->size(), 2u);
  EXPECT_TRUE(parse_registries_config("{}")->empty());
  for (const char* bad : {"", "[]", "{\"insecure\": \"x\"}", "{\"insecure\": [1]}"}) EXPECT_FALSE(parse_registries_config(bad).ok()) << bad;
}

TEST(RegistryClientTest, LoopbackAndHosts) {
  for (const char* d : {"localhost", "localhost:5000", "127.0.0.1:5000", "127.1.2.3", "[::1]:5000"}) EXPECT_TRUE(is_loopback_domain(d)) << d;
  for (const char* d : {"docker.io", "127.example.com.evil", "10.0.0.1:5000", "[::2]:1", "localhost.evil.com"})
    EXPECT_FALSE(is_loopback_domain(d)) << d;
  EXPECT_EQ(registry_host("docker.io"), "registry-1.docker.io");
  EXPECT_EQ(registry_host("ghcr.io"), "ghcr.io");
}

TEST(RegistryClientTest, AcceptsAllFourManifestTypes) {
  std::string a = manifest_accept_header();
  for (auto t : {media::kOciManifest, media::kOciIndex, media::kDockerManifest, media::kDockerManifestList})
    EXPECT_NE(a.find(t), std::string::npos) << t;
}

TEST(RegistryClientTest, ErrorBodies) {
  EXPECT_EQ(registry_error_text(R"({"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{}}]})"),
            "MANIFEST_UNKNOWN: manifest unknown");
  EXPECT_EQ(registry_error_text("<html>"), "");
  EXPECT_EQ(registry_error_text(R"({"errors":5})"), "");
  EXPECT_EQ(registry_error_text(R"({"errors":[{"code":"X\u001b[2J"}]})"), "X?[2J");
  std::string big = R"({"errors":[)";
  for (int i = 0; i < 500; ++i) big += std::string(i ? "," : "") + R"({"code":"C","message":"mmmmmmmmmm"})";
  big += "]}";
  EXPECT_LE(registry_error_text(big).size(), 400u);
}

TEST(RegistryClientTest, UnreachableRegistryFailsClearly) {
  RegistryOptions o;
  o.retry.max_attempts = 2;
  o.retry.base_delay = std::chrono::milliseconds(10);
  o.use_docker_config = false;
  // Port 1 on loopback: nothing listens there.
  auto c = RegistryClient::connect("127.0.0.1:1", "x/y", o);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code(), ErrorCode::kUnavailable) << c.error().what();
  EXPECT_NE(c.error().what().find("127.0.0.1:1"), std::string::npos) << c.error().what();
}

}  // namespace
}  // namespace krunbox::image
