// The store stays consistent when a load dies at any point (kill -9): every
// visible blob verifies, the index parses, and the next gc and load succeed.
// Also: a tampered or short blob in a layout tar adds nothing.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "base/fs.h"
#include "base/temp_dir.h"
#include "fixture_util.h"
#include "image/image_store.h"
#include "image/test_layout.h"
#include "tree_snapshot.h"

namespace krunbox::image {
namespace {

using namespace krunbox::image::testing;

void expect_store_consistent(ImageStore& store) {
  auto blobs = store.blobs().list();
  ASSERT_TRUE(blobs.ok()) << blobs.error().what();
  for (const auto& d : *blobs) {
    auto fd = store.blobs().open(d);
    ASSERT_TRUE(fd.ok());
    auto data = read_file(store.blobs().blob_path(d), 1ull << 31);
    ASSERT_TRUE(data.ok());
    EXPECT_EQ(Sha256::of(*data), d) << "a visible blob does not match its digest";
  }
  auto list = store.list();
  ASSERT_TRUE(list.ok()) << list.error().what();
  for (const auto& rec : *list) EXPECT_TRUE(store.resolve(rec.name + ":" + rec.tag).ok());
}

TEST(StoreCrashTest, KillDuringLoadLeavesStoreConsistent) {
  auto tmp = TempDir::create("krunbox-crash-", "/var/tmp");
  ASSERT_TRUE(tmp.ok());
  LayoutBuilder layout(tmp->path() + "/layout");
  std::vector<std::string> layers;
  for (unsigned i = 0; i < 4; ++i) {
    TarBuilder b;
    b.file("blob" + std::to_string(i), random_bytes(12 << 20, i));
    layers.push_back(b.end().str());
  }
  layout.image(layers, {{"Cmd", {"/bin/sh"}}}, "big");
  std::string store_dir = tmp->path() + "/store";
  int killed_mid_load = 0;
  for (int delay_ms : {5, 20, 60, 120, 250, 400}) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      auto s = ImageStore::open(store_dir);
      if (!s.ok()) ::_exit(2);
      auto r = (*s)->load(layout.dir(), {.name = "crash"});
      ::_exit(r.ok() ? 0 : 1);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    ::kill(pid, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status)) ++killed_mid_load;
    auto s = ImageStore::open(store_dir);
    ASSERT_TRUE(s.ok());
    expect_store_consistent(**s);
    auto gc = (*s)->gc();
    ASSERT_TRUE(gc.ok()) << gc.error().what();
    EXPECT_TRUE(!path_exists(store_dir + "/tmp") || (*s)->blobs().clean_temp().ok());
    expect_store_consistent(**s);
  }
  EXPECT_GT(killed_mid_load, 0) << "no kill landed during a load; the fixture is too small for this machine";
  auto s = ImageStore::open(store_dir);
  auto r = (*s)->load(layout.dir(), {.name = "crash"});
  ASSERT_TRUE(r.ok()) << r.error().what();
  auto img = (*s)->resolve("crash:big");
  ASSERT_TRUE(img.ok()) << img.error().what();
  expect_store_consistent(**s);
}

TEST(StoreCrashTest, KillDuringSnapshotExtractionLeavesNoPartialSnapshot) {
  if (::geteuid() != 0) GTEST_SKIP() << "snapshots are made for overlay roots, which need root";
  auto tmp = TempDir::create("krunbox-crash-", "/var/tmp");
  LayoutBuilder layout(tmp->path() + "/layout");
  TarBuilder b;
  for (int i = 0; i < 3000; ++i) b.file("d" + std::to_string(i % 30) + "/f" + std::to_string(i), random_bytes(4096, i));
  layout.image({b.end().str()}, {{"Cmd", {"/bin/sh"}}}, "many");
  std::string store_dir = tmp->path() + "/store";
  {
    auto s = ImageStore::open(store_dir);
    ASSERT_TRUE((*s)->load(layout.dir(), {.name = "snap"}).ok());
  }
  for (int delay_ms : {10, 40, 90}) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      auto s = ImageStore::open(store_dir);
      auto img = (*s)->resolve("snap:many");
      if (!img.ok()) ::_exit(2);
      auto r = (*s)->snapshots().prepare(img->layers, {});
      ::_exit(r.ok() ? 0 : 1);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    auto s = ImageStore::open(store_dir);
    auto img = (*s)->resolve("snap:many");
    ASSERT_TRUE(img.ok());
    // A snapshot is either complete (with its metadata) or absent.
    auto chains = (*s)->snapshots().list();
    ASSERT_TRUE(chains.ok());
    for (const auto& chain : *chains) EXPECT_TRUE((*s)->snapshots().info(chain).ok());
    ASSERT_TRUE((*s)->gc().ok());
  }
  auto s = ImageStore::open(store_dir);
  auto img = (*s)->resolve("snap:many");
  auto root = (*s)->create_root("after-crash", *img);
  ASSERT_TRUE(root.ok()) << root.error().what();
  EXPECT_EQ(*read_file(root->path + "/d5/f5"), random_bytes(4096, 5));
  ASSERT_TRUE((*s)->release_root("after-crash").ok());
}

TEST(StoreCrashTest, TamperedOrShortBlobInLayoutTarAddsNothing) {
  auto tmp = TempDir::create("krunbox-tamper-");
  LayoutBuilder layout(tmp->path() + "/layout");
  auto desc = layout.image({TarBuilder().file("f", random_bytes(50000, 9)).end().str()}, {{"Cmd", {"x"}}}, "t");
  auto s = ImageStore::open(tmp->path() + "/store");
  ASSERT_TRUE(s.ok());
  // Find the layer blob: the largest file in the layout.
  std::string biggest;
  uint64_t best = 0;
  for (const auto& [p, n] : snapshot_tree(layout.dir() + "/blobs/sha256"))
    if (n.type == 'f' && n.size > best) {
      best = n.size;
      biggest = layout.dir() + "/blobs/sha256" + p;
    }
  std::string good = *read_file(biggest);
  for (const std::string& bad : {good.substr(0, good.size() / 2), good + "x", std::string(good.size(), 'A')}) {
    ASSERT_TRUE(write_file_atomic(biggest, bad).ok());
    std::string tarball = tmp->path() + "/layout.tar";
    run_ok({"tar", "-C", layout.dir(), "-cf", tarball, "."});
    auto r = (*s)->load(tarball, {.name = "tamper"});
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().what().find("sha256:"), std::string::npos) << r.error().what();
    EXPECT_TRUE((*s)->list()->empty());
    Digest layer = Digest::from_hex(biggest.substr(biggest.rfind('/') + 1));
    EXPECT_FALSE((*s)->blobs().has(layer));
  }
  ASSERT_TRUE(write_file_atomic(biggest, good).ok());
  std::string tarball = tmp->path() + "/layout.tar";
  run_ok({"tar", "-C", layout.dir(), "-cf", tarball, "."});
  ASSERT_TRUE((*s)->load(tarball, {.name = "tamper"}).ok());
}

}  // namespace
}  // namespace krunbox::image
