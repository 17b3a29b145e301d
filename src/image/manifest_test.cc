#include "image/manifest.h"

#include <gtest/gtest.h>

namespace krunbox::image {
namespace {

std::string hex(char c) { return std::string(64, c); }

std::string manifest_json(const std::string& media_type, int layers, const std::string& layer_type) {
  std::string s = R"({"schemaVersion":2,"mediaType":")" + media_type + R"(","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:)" + hex('c') + R"(","size":100},"layers":[)";
  for (int i = 0; i < layers; ++i)
    s += std::string(i ? "," : "") + R"({"mediaType":")" + layer_type + R"(","digest":"sha256:)" + hex('a') + R"(","size":5})";
  return s + "]}";
}

TEST(ManifestTest, ParsesOciAndDockerManifests) {
  for (auto [mt, lt] : {std::pair{media::kOciManifest, "application/vnd.oci.image.layer.v1.tar+gzip"},
                        std::pair{media::kDockerManifest, "application/vnd.docker.image.rootfs.diff.tar.gzip"}}) {
    auto doc = parse_manifest(manifest_json(std::string(mt), 2, lt), mt, {});
    ASSERT_TRUE(doc.ok()) << doc.error().what();
    const auto& m = std::get<Manifest>(*doc);
    EXPECT_EQ(m.layers.size(), 2u);
    EXPECT_EQ(m.config.size, 100u);
    EXPECT_EQ(m.config.digest.hex(), hex('c'));
  }
}

TEST(ManifestTest, EnforcesLimitsAndTypes) {
  ImageLimits limits;
  limits.max_layers = 3;
  auto too_many = parse_manifest(manifest_json(std::string(media::kOciManifest), 4, "application/vnd.oci.image.layer.v1.tar"), "", limits);
  ASSERT_FALSE(too_many.ok());
  EXPECT_EQ(too_many.error().code(), ErrorCode::kLimitExceeded);
  auto bad_layer = parse_manifest(manifest_json(std::string(media::kOciManifest), 1, "application/x-evil"), "", {});
  ASSERT_FALSE(bad_layer.ok());
  EXPECT_NE(bad_layer.error().what().find("layers[0]"), std::string::npos);
  auto mismatch = parse_manifest(manifest_json(std::string(media::kOciManifest), 1, "application/vnd.oci.image.layer.v1.tar"),
                                 media::kDockerManifest, {});
  EXPECT_EQ(mismatch.error().code(), ErrorCode::kCorrupt);
  limits.max_manifest_size = 10;
  EXPECT_EQ(parse_manifest(manifest_json(std::string(media::kOciManifest), 1, "application/vnd.oci.image.layer.v1.tar"), "", limits)
                .error().code(), ErrorCode::kLimitExceeded);
  EXPECT_FALSE(parse_manifest("[1,2]", "", {}).ok());
  EXPECT_FALSE(parse_manifest(R"({"schemaVersion":1,"fsLayers":[]})", "", {}).ok());
  EXPECT_FALSE(parse_manifest(R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"digest":"sha256:zz","size":1},"layers":[]})", "", {}).ok());
  EXPECT_FALSE(parse_manifest(R"({"schemaVersion":2,"config":{"digest":"sha256:)" + hex('a') + R"(","size":-1},"layers":[]})", "", {}).ok());
}

TEST(ManifestTest, SelectsPlatform) {
  std::string idx = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[
    {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:)" + hex('1') + R"(","size":1,"platform":{"os":"linux","architecture":"arm","variant":"v7"}},
    {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:)" + hex('2') + R"(","size":1,"platform":{"os":"linux","architecture":"arm64"}},
    {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:)" + hex('3') + R"(","size":1,"platform":{"os":"linux","architecture":"amd64"}},
    {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:)" + hex('4') + R"(","size":1,"platform":{"os":"unknown","architecture":"unknown"}}]})";
  auto doc = parse_manifest(idx, "", {});
  ASSERT_TRUE(doc.ok()) << doc.error().what();
  const auto& index = std::get<Index>(*doc);
  EXPECT_EQ(select_platform(index, *parse_platform("linux/amd64"))->digest.hex(), hex('3'));
  EXPECT_EQ(select_platform(index, *parse_platform("linux/arm64/v8"))->digest.hex(), hex('2'));
  EXPECT_EQ(select_platform(index, *parse_platform("linux/arm/v7"))->digest.hex(), hex('1'));
  auto none = select_platform(index, *parse_platform("linux/s390x"));
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().message().find("linux/amd64"), std::string::npos);
  EXPECT_FALSE(parse_platform("linux").ok());
}

TEST(ManifestTest, ParsesConfig) {
  std::string cfg = R"({"architecture":"amd64","os":"linux","created":"2024-01-01T00:00:00Z",
    "config":{"Entrypoint":["/bin/sh","-c"],"Cmd":null,"Env":["PATH=/bin","A=b"],"WorkingDir":"/w","User":"1000:1000",
              "ExposedPorts":{"80/tcp":{}},"Labels":{"k":"v"},"StopSignal":"SIGINT"},
    "rootfs":{"type":"layers","diff_ids":["sha256:)" + hex('d') + R"("]}})";
  auto c = parse_config(cfg, {});
  ASSERT_TRUE(c.ok()) << c.error().what();
  EXPECT_EQ(c->entrypoint->size(), 2u);
  EXPECT_FALSE(c->cmd.has_value());
  EXPECT_EQ(c->env.size(), 2u);
  EXPECT_EQ(c->working_dir, "/w");
  EXPECT_EQ(c->user, "1000:1000");
  EXPECT_EQ(c->exposed_ports, std::vector<std::string>{"80/tcp"});
  EXPECT_EQ(c->diff_ids.size(), 1u);
  EXPECT_EQ(c->platform.str(), "linux/amd64");
  EXPECT_FALSE(parse_config(R"({"config":{"Env":"x"},"rootfs":{"type":"layers","diff_ids":[]}})", {}).ok());
  EXPECT_FALSE(parse_config(R"({"rootfs":{"type":"layers","diff_ids":["sha256:x"]}})", {}).ok());
  EXPECT_FALSE(parse_config(R"({"rootfs":{"type":"other","diff_ids":[]}})", {}).ok());
}

}  // namespace
}  // namespace krunbox::image
