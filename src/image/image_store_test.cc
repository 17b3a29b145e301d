#include "image/image_store.h"

#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "base/fs.h"
#include "base/subprocess.h"
#include "base/temp_dir.h"
#include "image/test_layout.h"

namespace krunbox::image {
namespace {

using testing::LayoutBuilder;
using testing::TarBuilder;

class ImageStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tmp_ = std::move(*TempDir::create("krunbox-store-"));
    auto s = ImageStore::open(tmp_.path() + "/store");
    ASSERT_TRUE(s.ok()) << s.error().what();
    store_ = std::move(*s);
  }
  void TearDown() override {
    if (!store_) return;
    for (const char* id : {"sb", "sb1", "sb2"}) EXPECT_TRUE(store_->release_root(id).ok());
  }
  std::string base_layer() { return TarBuilder().dir("bin/").file("bin/sh", "shell", 0755).dir("etc/").file("etc/os", "v1").end().str(); }
  std::string top_layer() { return TarBuilder().file("etc/os", "v2").file("etc/.wh.gone", "").file("app", "app").end().str(); }
  LayoutBuilder layout(const std::string& name = "layout") {
    LayoutBuilder b(tmp_.path() + "/" + name);
    b.image({base_layer(), top_layer()}, {{"Cmd", {"/bin/sh"}}, {"Env", {"A=1"}}}, "1.0");
    return b;
  }
  TempDir tmp_;
  std::unique_ptr<ImageStore> store_;
};

TEST_F(ImageStoreTest, LoadsListsResolvesAndInspects) {
  auto b = layout("demo");
  auto r = store_->load(b.dir());
  ASSERT_TRUE(r.ok()) << r.error().what();
  ASSERT_EQ(r->images.size(), 1u);
  EXPECT_EQ(r->images[0].name, "docker.io/library/demo");
  EXPECT_EQ(r->images[0].tag, "1.0");
  auto list = store_->list();
  ASSERT_EQ(list->size(), 1u);
  EXPECT_GT((*list)[0].size, 0u);
  auto img = store_->resolve("demo:1.0");
  ASSERT_TRUE(img.ok()) << img.error().what();
  EXPECT_EQ(img->layers.size(), 2u);
  EXPECT_EQ(img->config.cmd->at(0), "/bin/sh");
  EXPECT_TRUE(store_->find(img->record.digest.hex().substr(0, 12)).ok());
  EXPECT_EQ(store_->find("demo:2.0").error().code(), ErrorCode::kNotFound);
  auto j = store_->inspect("demo:1.0");
  ASSERT_TRUE(j.ok());
  EXPECT_EQ((*j)["config"]["Env"][0], "A=1");
  EXPECT_EQ((*j)["layers"].size(), 2u);
  auto named = store_->load(b.dir(), {.name = "registry.example:5000/team/app"});
  ASSERT_TRUE(named.ok());
  EXPECT_TRUE(store_->find("registry.example:5000/team/app:1.0").ok());
}

TEST_F(ImageStoreTest, LoadsLayoutTar) {
  auto b = layout();
  std::string tar = tmp_.path() + "/img.tar";
  auto out = run_capture({"tar", "-C", b.dir(), "-cf", tar, "."});
  ASSERT_TRUE(out.ok() && out->status.success());
  auto r = store_->load(tar, {.name = "fromtar"});
  ASSERT_TRUE(r.ok()) << r.error().what();
  EXPECT_TRUE(store_->resolve("fromtar:1.0").ok());
}

TEST_F(ImageStoreTest, TamperedAndShortBlobsAddNothing) {
  auto b = layout();
  auto layer = b.manifests()[0];
  // Corrupt the first layer blob in place.
  auto img = store_->load(b.dir());
  ASSERT_TRUE(img.ok());
  auto resolved = store_->resolve("layout:1.0");
  std::string layer_path = b.dir() + "/blobs/sha256/" + resolved->layers[0].blob.hex();
  ASSERT_TRUE(store_->remove("layout:1.0").ok());
  ASSERT_TRUE(store_->gc().ok());
  EXPECT_TRUE(store_->blobs().list()->empty());
  std::string data = *read_file(layer_path);
  std::string tampered = data;
  tampered[tampered.size() / 2] ^= 0x55;
  ASSERT_TRUE(write_file_atomic(layer_path, tampered).ok());
  auto bad = store_->load(b.dir());
  ASSERT_FALSE(bad.ok()) << "blobs: " << store_->blobs().list()->size() << " " << layer_path << " " << Sha256::of(*read_file(layer_path)).str();
  EXPECT_EQ(bad.error().code(), ErrorCode::kCorrupt);
  EXPECT_NE(bad.error().what().find(resolved->layers[0].blob.str()), std::string::npos);
  EXPECT_TRUE(store_->list()->empty());
  EXPECT_FALSE(store_->blobs().has(resolved->layers[0].blob));
  ASSERT_TRUE(write_file_atomic(layer_path, data.substr(0, data.size() - 1)).ok());
  auto short_r = store_->load(b.dir());
  ASSERT_FALSE(short_r.ok());
  EXPECT_TRUE(store_->list()->empty());
  EXPECT_FALSE(store_->blobs().has(resolved->layers[0].blob));
}

TEST_F(ImageStoreTest, RootsShareSnapshotsAndGcCollects) {
  auto b = layout();
  ASSERT_TRUE(store_->load(b.dir()).ok());
  auto img = store_->resolve("layout:1.0");
  ASSERT_TRUE(img.ok());
  auto root = store_->create_root("sb1", *img);
  ASSERT_TRUE(root.ok()) << root.error().what();
  EXPECT_EQ(*read_file(root->path + "/etc/os"), "v2");
  EXPECT_EQ(*read_file(root->path + "/bin/sh"), "shell");
  EXPECT_EQ(*read_file(root->path + "/app"), "app");
  ASSERT_TRUE(write_file_atomic(root->path + "/bin/sh", "changed").ok());
  auto root2 = store_->create_root("sb2", *img, {.allow_overlay = false});
  ASSERT_TRUE(root2.ok()) << root2.error().what();
  EXPECT_FALSE(root2->overlay);
  EXPECT_EQ(*read_file(root2->path + "/bin/sh"), "shell");
  EXPECT_EQ(*read_file(root2->path + "/etc/os"), "v2");
  EXPECT_EQ(store_->create_root("sb1", *img).error().code(), ErrorCode::kAlreadyExists);
  if (root->overlay) {
    // Writes went to sb1's upper directory, never to the shared snapshot.
    EXPECT_EQ(*read_file(store_->snapshots().fs_dir(img->chain_ids[0]) + "/bin/sh"), "shell");
    EXPECT_EQ(store_->snapshots().list()->size(), 2u);
  }
  ASSERT_TRUE(store_->remove("layout:1.0").ok());
  auto gc1 = store_->gc();
  ASSERT_TRUE(gc1.ok()) << gc1.error().what();
  EXPECT_EQ(gc1->snapshots_removed, 0u);  // sb1 still uses them
  EXPECT_GT(gc1->blobs_removed, 0u);
  ASSERT_TRUE(store_->release_root("sb1").ok());
  ASSERT_TRUE(store_->release_root("sb2").ok());
  auto gc2 = store_->gc();
  ASSERT_TRUE(gc2.ok());
  EXPECT_TRUE(store_->snapshots().list()->empty());
  EXPECT_TRUE(store_->blobs().list()->empty());
}

TEST_F(ImageStoreTest, WrongDiffIdKeepsNoSnapshot) {
  LayoutBuilder b(tmp_.path() + "/lying");
  std::string real = base_layer();
  Json layer = b.blob(TarBuilder::gzip(real), "application/vnd.oci.image.layer.v1.tar+gzip");
  Json config = {{"architecture", "amd64"}, {"os", "linux"}, {"config", {{"Cmd", {"sh"}}}},
                 {"rootfs", {{"type", "layers"}, {"diff_ids", {Sha256::of("something else").str()}}}}};
  Json cdesc = b.blob(config.dump(), "application/vnd.oci.image.config.v1+json");
  Json manifest = {{"schemaVersion", 2}, {"mediaType", "application/vnd.oci.image.manifest.v1+json"}, {"config", cdesc}, {"layers", {layer}}};
  Json mdesc = b.blob(manifest.dump(), "application/vnd.oci.image.manifest.v1+json");
  mdesc["annotations"] = {{"org.opencontainers.image.ref.name", "bad"}};
  b.manifests().push_back(mdesc);
  b.write_index();
  ASSERT_TRUE(store_->load(b.dir()).ok());
  auto img = store_->resolve("lying:bad");
  ASSERT_TRUE(img.ok());
  auto root = store_->create_root("sb", *img);
  ASSERT_FALSE(root.ok());
  EXPECT_EQ(root.error().code(), ErrorCode::kCorrupt);
  EXPECT_TRUE(store_->snapshots().list()->empty());
  EXPECT_FALSE(path_exists(store_->root() + "/roots/sb"));
}

}  // namespace
}  // namespace krunbox::image
