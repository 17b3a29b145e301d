#include "e2b/multipart.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace krunbox::e2b {
namespace {

TEST(Multipart, Boundary) {
  auto b = multipart_boundary("multipart/form-data; boundary=----formdata-undici-0123");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*b, "----formdata-undici-0123");
  auto q = multipart_boundary("multipart/form-data; charset=utf-8; boundary=\"a b\"");
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(*q, "a b");
  EXPECT_FALSE(multipart_boundary("application/json").ok());
  EXPECT_FALSE(multipart_boundary("multipart/form-data").ok());
}

TEST(Multipart, SeveralFilesWithBinaryData) {
  std::string bin("a\0b\r\nc--x", 9);
  std::string body =
      "--XyZ\r\n"
      "Content-Disposition: form-data; name=\"file\"; filename=\"/tmp/one.txt\"\r\n"
      "Content-Type: application/octet-stream\r\n\r\n"
      "hello\r\n"
      "--XyZ\r\n"
      "Content-Disposition: form-data; name=\"file\"; filename=\"dir/%22q%22.bin\"\r\n\r\n" +
      bin +
      "\r\n"
      "--XyZ--\r\n";
  auto parts = parse_multipart(body, "XyZ");
  ASSERT_TRUE(parts.ok()) << parts.error().message();
  ASSERT_EQ(parts->size(), 2u);
  EXPECT_EQ((*parts)[0].name, "file");
  EXPECT_EQ((*parts)[0].filename, "/tmp/one.txt");
  EXPECT_EQ((*parts)[0].content_type, "application/octet-stream");
  EXPECT_EQ((*parts)[0].data, "hello");
  EXPECT_EQ((*parts)[1].filename, "dir/\"q\".bin");
  EXPECT_EQ((*parts)[1].data, bin);
}

TEST(Multipart, EmptyFileAndPreamble) {
  std::string body = "preamble\r\n--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"e\"\r\n\r\n\r\n--b--";
  auto parts = parse_multipart(body, "b");
  ASSERT_TRUE(parts.ok()) << parts.error().message();
  ASSERT_EQ(parts->size(), 1u);
  EXPECT_EQ((*parts)[0].data, "");
}

TEST(Multipart, RefusesMalformed) {
  EXPECT_FALSE(parse_multipart("", "b").ok());
  EXPECT_FALSE(parse_multipart("--b\r\nContent-Disposition: form-data\r\n\r\nabc", "b").ok());
  EXPECT_FALSE(parse_multipart("--b\r\nno colon here\r\n\r\nabc\r\n--b--", "b").ok());
  EXPECT_FALSE(parse_multipart("--bX", "b").ok());
}

// A source that hands out at most `step` bytes a read, so boundaries and
// headers fall across reads.
serve::BodySource trickle(const std::string& body, size_t step) {
  return [&body, step, used = size_t{0}](char* buf, size_t size) mutable -> Result<size_t> {
    size_t n = std::min({size, step, body.size() - used});
    std::copy_n(body.data() + used, n, buf);
    used += n;
    return n;
  };
}

std::string read_part(MultipartReader& reader) {
  std::string out;
  char buf[7];
  for (;;) {
    auto n = reader.read(buf, sizeof buf);
    EXPECT_TRUE(n.ok()) << n.error().message();
    if (!n.ok() || *n == 0) return out;
    out.append(buf, *n);
  }
}

TEST(MultipartReader, PartsComeWholeWhateverTheReadSizes) {
  // Data that nearly holds the delimiter, twice.
  std::string a = "x\r\n--Xy\r\n--XyY-no\r\n-", b(300000, 'b');
  b[1000] = '\r';
  std::string body = "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\n" + a +
                     "\r\n--XyZ  \r\nContent-Disposition: form-data; name=\"file\"; filename=\"b\"\r\n\r\n" + b +
                     "\r\n--XyZ--\r\nepilogue";
  for (size_t step : std::vector<size_t>{1, 2, 5, 64, 100000, 1u << 20}) {
    MultipartReader reader(trickle(body, step), "XyZ");
    auto first = reader.next_part();
    ASSERT_TRUE(first.ok() && *first) << step;
    EXPECT_EQ((*first)->filename, "a");
    EXPECT_EQ(read_part(reader), a) << step;
    auto second = reader.next_part();
    ASSERT_TRUE(second.ok() && *second) << step;
    EXPECT_EQ((*second)->filename, "b");
    EXPECT_EQ(read_part(reader), b) << step;
    auto end = reader.next_part();
    ASSERT_TRUE(end.ok()) << end.error().message();
    EXPECT_FALSE(*end);
  }
}

TEST(MultipartReader, SkipsAnUnreadPart) {
  std::string body = "--b\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nnot a file\r\n--b\r\n"
                     "Content-Disposition: form-data; name=\"file\"; filename=\"f\"\r\n\r\ndata\r\n--b--";
  MultipartReader reader(trickle(body, 3), "b");
  auto note = reader.next_part();
  ASSERT_TRUE(note.ok() && *note);
  EXPECT_FALSE((*note)->has_filename);
  auto file = reader.next_part();
  ASSERT_TRUE(file.ok() && *file);
  EXPECT_EQ(read_part(reader), "data");
}

TEST(MultipartReader, ABodyCutShortIsAnErrorNotAShortPart) {
  std::string body = "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f\"\r\n\r\n" +
                     std::string(5000, 'z');
  MultipartReader reader(trickle(body, 512), "b");
  auto part = reader.next_part();
  ASSERT_TRUE(part.ok() && *part);
  char buf[1024];
  Result<size_t> n = size_t{0};
  do n = reader.read(buf, sizeof buf);
  while (n.ok() && *n > 0);
  ASSERT_FALSE(n.ok());
  EXPECT_NE(n.error().message().find("closing boundary"), std::string::npos) << n.error().message();
}

TEST(MultipartReader, TheSourcesErrorComesThrough) {
  MultipartReader reader([](char*, size_t) -> Result<size_t> { return Error(ErrorCode::kTimeout, "client too slow"); },
                         "b");
  auto part = reader.next_part();
  ASSERT_FALSE(part.ok());
  EXPECT_EQ(part.error().code(), ErrorCode::kTimeout);
}

TEST(MultipartReader, RefusesEndlessHeaders) {
  std::string body = "--b\r\nX-Long: " + std::string(100000, 'h');
  MultipartReader reader(trickle(body, 4096), "b");
  auto part = reader.next_part();
  ASSERT_FALSE(part.ok());
  EXPECT_EQ(part.error().code(), ErrorCode::kLimitExceeded);
}

TEST(Query, DecodesAndKeepsTheFirst) {
  auto q = parse_query_params("path=%2Ftmp%2Fa+b&username=root&path=second&flag");
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->at("path"), "/tmp/a b");
  EXPECT_EQ(q->at("username"), "root");
  EXPECT_EQ(q->at("flag"), "");
  EXPECT_FALSE(parse_query_params("a=%2").ok());
  EXPECT_FALSE(parse_query_params("a=%zz").ok());
}

}  // namespace
}  // namespace krunbox::e2b
