#include "image/docker_archive.h"

#include <gtest/gtest.h>

#include "base/fs.h"
#include "base/json.h"
#include "base/temp_dir.h"
#include "image/image_store.h"
#include "image/test_tar.h"

namespace krunbox::image {
namespace {

using testing::TarBuilder;

// Writes docker save archives the way Docker (legacy <id>/layer.tar),
// skopeo (<hex>.tar with legacy symlinks) and hostile writers do.
class DockerArchiveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tmp_ = std::move(*TempDir::create("krunbox-docker-archive-"));
    auto s = ImageStore::open(tmp_.path() + "/store");
    ASSERT_TRUE(s.ok()) << s.error().what();
    store_ = std::move(*s);
    layer_ = TarBuilder().dir("bin/").file("bin/sh", "shell", 0755).file("etc/os", "docker").end().str();
    Json config = {{"architecture", "amd64"},
                   {"os", "linux"},
                   {"created", "2024-05-01T00:00:00Z"},
                   {"config", {{"Cmd", {"/bin/sh"}}}},
                   {"rootfs", {{"type", "layers"}, {"diff_ids", {Sha256::of(layer_).str()}}}}};
    config_ = config.dump();
    config_name_ = Sha256::of(config_).hex() + ".json";
  }
  std::string write(const std::string& name, const std::string& tar) {
    std::string path = tmp_.path() + "/" + name;
    EXPECT_TRUE(write_file_atomic(path, tar).ok());
    return path;
  }
  std::string manifest(const std::string& layer_path, const std::string& tags = R"(["demo:1.0"])") {
    return R"([{"Config":")" + config_name_ + R"(","RepoTags":)" + tags + R"(,"Layers":[")" + layer_path + R"("]}])";
  }
  Error load_error(const std::string& tar) {
    auto r = store_->load(write("bad.tar", tar));
    EXPECT_FALSE(r.ok());
    EXPECT_TRUE(store_->list()->empty());
    return r.ok() ? Error(ErrorCode::kInternal, "loaded") : r.error();
  }
  TempDir tmp_;
  std::unique_ptr<ImageStore> store_;
  std::string layer_, config_, config_name_;
};

TEST_F(DockerArchiveTest, LoadsDockersLegacyLayout) {
  std::string tar = TarBuilder()
                        .file(config_name_, config_)
                        .dir("abc/")
                        .file("abc/VERSION", "1.0")
                        .file("abc/layer.tar", layer_)
                        .file("repositories", R"({"demo":{"1.0":"abc"}})")
                        .file("manifest.json", manifest("abc/layer.tar"))
                        .end()
                        .str();
  auto r = store_->load(write("demo.tar", tar));
  ASSERT_TRUE(r.ok()) << r.error().what();
  ASSERT_EQ(r->images.size(), 1u);
  EXPECT_EQ(r->images[0].name, "docker.io/library/demo");
  EXPECT_EQ(r->images[0].tag, "1.0");
  EXPECT_EQ(r->images[0].created, "2024-05-01T00:00:00Z");
  auto img = store_->resolve("demo:1.0");
  ASSERT_TRUE(img.ok()) << img.error().what();
  ASSERT_EQ(img->layers.size(), 1u);
  EXPECT_EQ(img->config.cmd->at(0), "/bin/sh");
  auto root = store_->create_root("sb", *img);
  ASSERT_TRUE(root.ok()) << root.error().what();
  EXPECT_EQ(*read_file(root->path + "/etc/os", 64), "docker");
  EXPECT_TRUE(store_->release_root("sb").ok());
}

TEST_F(DockerArchiveTest, FollowsSkopeosSymlinksAndGzipLayers) {
  std::string gz = TarBuilder::gzip(layer_);
  std::string hex = Sha256::of(gz).hex();
  // The manifest names the legacy symlink; the layer is compressed.
  std::string tar =
      TarBuilder()
          .file(hex + ".tar", gz)
          .file(config_name_, config_)
          .symlink("id1/layer.tar", "../" + hex + ".tar")
          .file("manifest.json", manifest("./id1/layer.tar", R"(["reg.example:5000/t/demo:2","demo:latest"])"))
          .end()
          .str();
  auto r = store_->load(write("x.tar", tar));
  ASSERT_TRUE(r.ok()) << r.error().what();
  ASSERT_EQ(r->images.size(), 2u);
  EXPECT_TRUE(store_->resolve("reg.example:5000/t/demo:2").ok());
  auto img = store_->resolve("demo");
  ASSERT_TRUE(img.ok()) << img.error().what();
  EXPECT_EQ(img->manifest.layers[0].media_type, "application/vnd.oci.image.layer.v1.tar+gzip");
  // --name replaces the repository of every tag.
  auto named = store_->load(write("y.tar", tar), {.name = "other"});
  ASSERT_TRUE(named.ok()) << named.error().what();
  EXPECT_TRUE(store_->find("other:2").ok());
}

TEST_F(DockerArchiveTest, AnUntaggedLoneImageTakesTheFileName) {
  std::string tar = TarBuilder()
                        .file("l.tar", layer_)
                        .file(config_name_, config_)
                        .file("manifest.json", manifest("l.tar", "null"))
                        .end()
                        .str();
  auto r = store_->load(write("My Image.tar", tar));
  ASSERT_TRUE(r.ok()) << r.error().what();
  EXPECT_TRUE(store_->find("my-image:latest").ok());
}

TEST_F(DockerArchiveTest, HostileArchivesAreRefusedByName) {
  auto with_manifest = [&](const std::string& m) {
    return TarBuilder().file("l.tar", layer_).file(config_name_, config_).file("manifest.json", m).end().str();
  };
  EXPECT_NE(load_error(with_manifest("{not json")).what().find("manifest.json"), std::string::npos);
  EXPECT_NE(load_error(with_manifest(R"({"Config":"x"})")).what().find("not a list"), std::string::npos);
  EXPECT_NE(load_error(with_manifest("[]")).what().find("lists no image"), std::string::npos);
  EXPECT_NE(load_error(with_manifest(manifest("../l.tar"))).what().find("climbs out"), std::string::npos);
  EXPECT_NE(load_error(with_manifest(manifest("/etc/passwd"))).what().find("absolute"), std::string::npos);
  Error missing = load_error(with_manifest(manifest("nosuch.tar")));
  EXPECT_EQ(missing.code(), ErrorCode::kNotFound);
  EXPECT_NE(missing.what().find("nosuch.tar"), std::string::npos);
  EXPECT_NE(load_error(with_manifest(manifest("l.tar", R"(["Not A Ref!"])"))).what().find("RepoTags"),
            std::string::npos);
  // A layer that is not the one its config names.
  std::string other = TarBuilder().file("evil", "x").end().str();
  Error wrong = load_error(TarBuilder()
                               .file("l.tar", other)
                               .file(config_name_, config_)
                               .file("manifest.json", manifest("l.tar"))
                               .end()
                               .str());
  EXPECT_EQ(wrong.code(), ErrorCode::kCorrupt);
  EXPECT_NE(wrong.what().find("diff ID"), std::string::npos);
  // Symlinks out of the archive and in a loop.
  std::string escape = TarBuilder()
                           .file(config_name_, config_)
                           .symlink("a/layer.tar", "../../../etc/passwd")
                           .file("manifest.json", manifest("a/layer.tar"))
                           .end()
                           .str();
  EXPECT_NE(load_error(escape).what().find("climbs out"), std::string::npos);
  std::string loop = TarBuilder()
                         .file(config_name_, config_)
                         .symlink("a.tar", "b.tar")
                         .symlink("b.tar", "a.tar")
                         .file("manifest.json", manifest("a.tar"))
                         .end()
                         .str();
  EXPECT_NE(load_error(loop).what().find("loop"), std::string::npos);
  // A manifest.json over the limit is refused before it is parsed.
  std::string huge = "[" + std::string(2 << 20, ' ') + "]";
  Error big = load_error(with_manifest(huge));
  EXPECT_EQ(big.code(), ErrorCode::kLimitExceeded);
  EXPECT_NE(big.what().find("manifest.json"), std::string::npos);
  // Neither layout.
  Error neither = load_error(TarBuilder().file("hello.txt", "hi").end().str());
  EXPECT_NE(neither.what().find("docker save"), std::string::npos);
}

TEST(DockerArchiveManifest, PathsAreCleanedAndBounded) {
  ImageLimits limits;
  EXPECT_EQ(*clean_archive_path("./a/./b/../c.tar", limits), "a/c.tar");
  EXPECT_FALSE(clean_archive_path("a/../../c", limits).ok());
  EXPECT_FALSE(clean_archive_path("", limits).ok());
  EXPECT_FALSE(clean_archive_path("./", limits).ok());
  EXPECT_FALSE(clean_archive_path(std::string(5000, 'a'), limits).ok());
  EXPECT_FALSE(clean_archive_path(std::string("a\0b", 3), limits).ok());
  limits.max_layers = 1;
  auto many = parse_docker_archive_manifest(R"([{"Config":"c.json","Layers":["a.tar","b.tar"]}])", limits);
  ASSERT_FALSE(many.ok());
  EXPECT_EQ(many.error().code(), ErrorCode::kLimitExceeded);
  auto ok = parse_docker_archive_manifest(R"([{"Config":"c.json","RepoTags":["busybox"],"Layers":["a.tar"]}])", limits);
  ASSERT_TRUE(ok.ok()) << ok.error().what();
  EXPECT_EQ(ok->at(0).repo_tags.at(0), "docker.io/library/busybox:latest");
}

}  // namespace
}  // namespace krunbox::image
