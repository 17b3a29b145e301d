#include "image/byte_source.h"

#include <gtest/gtest.h>
#include <zstd.h>

#include "image/test_tar.h"

namespace krunbox::image {
namespace {

Result<std::string> read_all(ByteSource& s) {
  std::string out;
  char buf[4096];
  for (;;) {
    KRUNBOX_ASSIGN_OR_RETURN(size_t n, s.read(buf, sizeof buf));
    if (n == 0) return out;
    out.append(buf, n);
  }
}

std::string payload() {
  std::string p;
  for (int i = 0; i < 200000; ++i) p += std::to_string(i * 7919 % 10007);
  return p;
}

TEST(ByteSourceTest, InflatesGzipWithEveryInflater) {
  std::string p = payload();
  std::string gz = testing::TarBuilder::gzip(p) + testing::TarBuilder::gzip("tail");
  for (Inflater inf : {Inflater::kZlib, Inflater::kIsal, Inflater::kAuto}) {
    if (!inflater_available(inf)) continue;
    auto s = decompressing_source(memory_source(gz), 1 << 30, inf);
    ASSERT_TRUE(s.ok());
    auto out = read_all(**s);
    ASSERT_TRUE(out.ok()) << to_string(inf) << ": " << out.error().what();
    EXPECT_EQ(*out, p + "tail") << to_string(inf);
    std::string half = gz.substr(0, gz.size() / 2);
    auto cut = decompressing_source(memory_source(half), 1 << 30, inf);
    EXPECT_FALSE(read_all(**cut).ok()) << to_string(inf);
    auto bomb = decompressing_source(memory_source(gz), 1000, inf);
    auto r = read_all(**bomb);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code(), ErrorCode::kLimitExceeded);
  }
}

TEST(ByteSourceTest, DecodesZstdAndPlain) {
  std::string p = payload();
  std::string z(ZSTD_compressBound(p.size()), '\0');
  z.resize(ZSTD_compress(z.data(), z.size(), p.data(), p.size(), 3));
  auto s = decompressing_source(memory_source(z), 1 << 30);
  EXPECT_EQ(*read_all(**s), p);
  std::string short_z = z.substr(0, z.size() - 10);
  auto cut = decompressing_source(memory_source(short_z), 1 << 30);
  EXPECT_FALSE(read_all(**cut).ok());
  auto plain = decompressing_source(memory_source(p), 1 << 30);
  EXPECT_EQ(*read_all(**plain), p);
  auto limited = decompressing_source(memory_source(p), 100);
  EXPECT_EQ(read_all(**limited).error().code(), ErrorCode::kLimitExceeded);
}

TEST(ByteSourceTest, ReadAheadHashesAndPropagatesErrors) {
  std::string p = payload();
  Sha256 h;
  auto s = read_ahead_source(memory_source(p), &h, 1000, 2);
  EXPECT_EQ(*read_all(*s), p);
  s.reset();
  EXPECT_EQ(h.finish(), Sha256::of(p));
  auto gz = testing::TarBuilder::gzip(p);
  std::string head = gz.substr(0, 100);
  auto bad = read_ahead_source(std::move(*decompressing_source(memory_source(head), 1 << 30)), nullptr);
  EXPECT_FALSE(read_all(*bad).ok());
  // Dropping a source mid-stream stops its thread.
  auto early = read_ahead_source(memory_source(p), nullptr, 100, 1);
  char buf[10];
  ASSERT_TRUE(early->read(buf, sizeof buf).ok());
}

}  // namespace
}  // namespace krunbox::image
