#include "e2b/multipart.h"

#include <gtest/gtest.h>

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
