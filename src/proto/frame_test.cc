#include "proto/frame.h"
#include "proto/messages.h"

#include <gtest/gtest.h>

namespace krunbox::proto {
namespace {

std::vector<Frame> decode_all(const std::string& bytes, size_t step, Status* error = nullptr) {
  FrameDecoder d;
  std::vector<Frame> out;
  size_t off = 0;
  while (off < bytes.size()) {
    size_t n = std::min(step, bytes.size() - off);
    size_t used = 0;
    while (used < n) {
      used += d.feed(bytes.data() + off + used, n - used);
      for (;;) {
        auto f = d.next();
        if (!f.ok()) {
          if (error) *error = std::move(f).error();
          return out;
        }
        if (!*f) break;
        out.push_back(std::move(**f));
      }
    }
    off += n;
  }
  return out;
}

TEST(FrameTest, RoundTripsAcrossAnySplit) {
  std::string bytes = encode_frame(FrameType::kHello, 0, 0, "{}") +
                      encode_frame(FrameType::kData, 7, kStderr, std::string(100000, 'x')) +
                      encode_frame(FrameType::kEof, 7, kStdout, "") +
                      encode_frame(FrameType::kWindow, 9, kStdin, encode_window(1234));
  for (size_t step : {1u, 5u, 12u, 13u, 4096u, 1000000u}) {
    auto frames = decode_all(bytes, step);
    ASSERT_EQ(frames.size(), 4u) << step;
    EXPECT_EQ(frames[0].type(), FrameType::kHello);
    EXPECT_EQ(frames[1].channel(), 7u);
    EXPECT_EQ(frames[1].stream(), kStderr);
    EXPECT_EQ(frames[1].payload, std::string(100000, 'x'));
    EXPECT_EQ(frames[2].type(), FrameType::kEof);
    EXPECT_EQ(*parse_window(frames[3].payload), 1234u);
  }
}

TEST(FrameTest, RejectsOversizedBeforeBufferingPayload) {
  uint8_t h[kHeaderSize];
  encode_header(FrameHeader{kMaxPayload + 1, FrameType::kData, 1, 3}, h);
  auto r = decode_header(h);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kLimitExceeded);
  encode_header(FrameHeader{kMaxControlPayload + 1, FrameType::kRequest, 0, 3}, h);
  EXPECT_FALSE(decode_header(h).ok());
  encode_header(FrameHeader{kMaxControlPayload, FrameType::kRequest, 0, 3}, h);
  EXPECT_TRUE(decode_header(h).ok());
}

TEST(FrameTest, RejectsBadHeaders) {
  auto check_bad = [](std::string bytes) {
    Status st;
    auto frames = decode_all(bytes, 3, &st);
    EXPECT_TRUE(frames.empty());
    EXPECT_FALSE(st.ok());
  };
  std::string f = encode_frame(FrameType::kData, 1, 1, "a");
  std::string t = f;
  t[4] = 0;  // type 0
  check_bad(t);
  t = f;
  t[4] = 10;  // unknown type
  check_bad(t);
  t = f;
  t[5] = 3;  // stream 3
  check_bad(t);
  t = f;
  t[6] = 1;  // reserved
  check_bad(t);
  check_bad(encode_frame(FrameType::kData, 0, 1, "a"));       // data on channel 0
  check_bad(encode_frame(FrameType::kHello, 1, 0, "{}"));     // hello off channel 0
  check_bad(encode_frame(FrameType::kData, 1, 1, ""));        // empty data
  check_bad(encode_frame(FrameType::kEof, 1, 1, "x"));        // eof with payload
  check_bad(encode_frame(FrameType::kWindow, 1, 1, "xyz"));   // short window
}

TEST(FrameTest, ErrorIsSticky) {
  FrameDecoder d;
  std::string bad(kHeaderSize, '\xff');
  d.feed(bad.data(), bad.size());
  EXPECT_FALSE(d.next().ok());
  std::string good = encode_frame(FrameType::kHello, 0, 0, "{}");
  d.feed(good.data(), good.size());
  EXPECT_FALSE(d.next().ok());
}

TEST(FrameTest, IdleOnlyBetweenFrames) {
  FrameDecoder d;
  EXPECT_TRUE(d.idle());
  std::string f = encode_frame(FrameType::kData, 1, 1, "abc");
  d.feed(f.data(), 5);
  EXPECT_TRUE(d.next()->has_value() == false);
  EXPECT_FALSE(d.idle());
  d.feed(f.data() + 5, f.size() - 5);
  EXPECT_TRUE(d.next()->has_value());
  EXPECT_TRUE(d.idle());
}

}  // namespace
}  // namespace krunbox::proto
