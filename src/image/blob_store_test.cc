#include "image/blob_store.h"

#include <gtest/gtest.h>

#include <thread>

#include "base/fs.h"
#include "base/temp_dir.h"

namespace krunbox::image {
namespace {

TEST(BlobStoreTest, StoresVerifiedBlob) {
  auto dir = TempDir::create();
  BlobStore store(dir->path());
  ASSERT_TRUE(store.init().ok());
  std::string data(3 << 20, 'x');
  Digest d = Sha256::of(data);
  ASSERT_TRUE(store.put_bytes(data, d).ok());
  EXPECT_EQ(store.blob_path(d), dir->path() + "/blobs/sha256/" + d.hex().substr(0, 2) + "/" + d.hex());
  EXPECT_EQ(*store.size_of(d), data.size());
  EXPECT_EQ(*store.read_verified(d, 4 << 20), data);
  auto listed = store.list();
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0], d);
}

TEST(BlobStoreTest, RejectsMismatchShortAndLong) {
  auto dir = TempDir::create();
  BlobStore store(dir->path());
  ASSERT_TRUE(store.init().ok());
  std::string data = "hello world";
  Digest d = Sha256::of(data);
  auto tampered = store.put_bytes("hello w0rld", d);
  ASSERT_FALSE(tampered.ok());
  EXPECT_EQ(tampered.error().code(), ErrorCode::kCorrupt);
  size_t off = 0;
  std::string short_data = data.substr(0, 5);
  auto reader = [&](char* buf, size_t cap) -> Result<size_t> {
    size_t n = std::min(cap, short_data.size() - off);
    std::copy_n(short_data.data() + off, n, buf);
    off += n;
    return n;
  };
  auto short_r = store.put(reader, d, data.size(), 1 << 20);
  ASSERT_FALSE(short_r.ok());
  EXPECT_NE(short_r.error().message().find("short"), std::string::npos);
  off = 0;
  short_data = data + "!";
  EXPECT_FALSE(store.put(reader, d, data.size(), 1 << 20).ok());
  EXPECT_FALSE(store.has(d));
  EXPECT_TRUE(store.list()->empty());
  // No temp file survives a failed put.
  EXPECT_TRUE(store.clean_temp().ok());
}

TEST(BlobStoreTest, DetectsTamperingOnRead) {
  auto dir = TempDir::create();
  BlobStore store(dir->path());
  ASSERT_TRUE(store.init().ok());
  Digest d = Sha256::of("{}");
  ASSERT_TRUE(store.put_bytes("{}", d).ok());
  ASSERT_TRUE(write_file_atomic(store.blob_path(d), "[]").ok());
  auto r = store.read_verified(d, 100);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kCorrupt);
}

TEST(BlobStoreTest, ConcurrentWritersOfOneBlob) {
  auto dir = TempDir::create();
  BlobStore store(dir->path());
  ASSERT_TRUE(store.init().ok());
  std::string data(1 << 20, 'q');
  Digest d = Sha256::of(data);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int i = 0; i < 8; ++i)
    threads.emplace_back([&] {
      BlobStore s(dir->path());
      if (!s.put_bytes(data, d).ok()) ++failures;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(*store.read_verified(d, 2 << 20), data);
}

}  // namespace
}  // namespace krunbox::image
