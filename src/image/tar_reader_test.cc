#include "image/tar_reader.h"

#include <gtest/gtest.h>

#include "image/test_tar.h"

namespace krunbox::image {
namespace {

using testing::TarBuilder;
using testing::TarSpec;

Result<std::vector<std::pair<TarEntry, std::string>>> read_all(const std::string& tar) {
  auto src = memory_source(tar);
  TarReader r(*src, {});
  std::vector<std::pair<TarEntry, std::string>> out;
  TarEntry e;
  for (;;) {
    KRUNBOX_ASSIGN_OR_RETURN(bool more, r.next(e));
    if (!more) break;
    std::string data;
    for (;;) {
      KRUNBOX_ASSIGN_OR_RETURN(std::string_view c, r.data_chunk(7));
      if (c.empty()) break;
      data.append(c);
    }
    out.emplace_back(e, data);
  }
  KRUNBOX_TRY(r.drain());
  return out;
}

TEST(TarReaderTest, ReadsUstarPaxAndGnu) {
  std::string long_name = std::string(150, 'n') + "/" + std::string(120, 'f');
  TarBuilder b;
  b.dir("d/").file("d/f", "hello", 04755).symlink("d/l", "/etc").hardlink("d/h", "d/f");
  b.add({.name = "x", .data = "pax", .pax = {{"path", long_name}, {"uid", "123456"}, {"mtime", "1.5"},
                                             {"SCHILY.xattr.security.capability", std::string("\x01\x00\x00\x02", 4)}}});
  b.add({.name = "g/" + std::string(200, 'g'), .data = "gnu", .gnu_long_name = true});
  b.add({.name = "dev", .type = '3', .dev_major = 1, .dev_minor = 3});
  b.end();
  auto r = read_all(b.str());
  ASSERT_TRUE(r.ok()) << r.error().what();
  ASSERT_EQ(r->size(), 7u);
  EXPECT_EQ((*r)[0].first.type, EntryType::kDir);
  EXPECT_EQ((*r)[1].second, "hello");
  EXPECT_EQ((*r)[1].first.mode, 04755u);
  EXPECT_EQ((*r)[2].first.link, "/etc");
  EXPECT_EQ((*r)[3].first.type, EntryType::kHardlink);
  EXPECT_EQ((*r)[4].first.path, long_name);
  EXPECT_EQ((*r)[4].first.uid, 123456);
  EXPECT_EQ((*r)[4].first.mtime_sec, 1);
  EXPECT_EQ((*r)[4].first.mtime_nsec, 500000000u);
  ASSERT_EQ((*r)[4].first.xattrs.size(), 1u);
  EXPECT_EQ((*r)[4].first.xattrs[0].second.size(), 4u);
  EXPECT_EQ((*r)[5].first.path, "g/" + std::string(200, 'g'));
  EXPECT_EQ((*r)[5].second, "gnu");
  EXPECT_EQ((*r)[6].first.dev_minor, 3u);
}

TEST(TarReaderTest, AcceptsMissingEndBlocksAndPadding) {
  TarBuilder b;
  b.file("a", "12345");
  std::string t = b.str();
  ASSERT_TRUE(read_all(t).ok());
  // umoci 0.4 also drops the padding after the last file's data.
  std::string unpadded = t.substr(0, 512 + 5);
  auto r = read_all(unpadded);
  ASSERT_TRUE(r.ok()) << r.error().what();
  EXPECT_EQ((*r)[0].second, "12345");
}

TEST(TarReaderTest, RejectsTruncationAndCorruption) {
  TarBuilder b;
  b.file("a", std::string(2000, 'z'));
  std::string t = b.str();
  auto cut = read_all(t.substr(0, 1000));
  ASSERT_FALSE(cut.ok());
  EXPECT_NE(cut.error().message().find("\"a\""), std::string::npos);
  EXPECT_FALSE(read_all(t.substr(0, 300)).ok());
  std::string bad = t;
  bad[10] ^= 1;
  EXPECT_FALSE(read_all(bad).ok());
  TarBuilder nul;
  nul.add({.name = "x", .pax = {{"path", std::string("a\0b", 3)}}});
  auto rn = read_all(nul.str());
  ASSERT_FALSE(rn.ok());
  EXPECT_NE(rn.error().message().find("NUL"), std::string::npos);
  TarBuilder longp;
  longp.add({.name = "x", .pax = {{"path", std::string(5000, 'p')}}});
  EXPECT_EQ(read_all(longp.str()).error().code(), ErrorCode::kLimitExceeded);
  TarBuilder sparse;
  sparse.add({.name = "s", .type = 'S'});
  EXPECT_EQ(read_all(sparse.str()).error().code(), ErrorCode::kUnsupported);
}

TEST(TarReaderTest, SkipsUnreadDataAndDrains) {
  TarBuilder b;
  b.file("a", std::string(1500, 'a')).file("b", "bb").end().bytes(std::string(4096, '\0'));
  auto src = memory_source(b.str());
  TarReader r(*src, {});
  TarEntry e;
  ASSERT_TRUE(*r.next(e));
  ASSERT_TRUE(*r.next(e));
  EXPECT_EQ(e.path, "b");
  EXPECT_FALSE(*r.next(e));
  EXPECT_TRUE(r.drain().ok());
}

}  // namespace
}  // namespace krunbox::image
