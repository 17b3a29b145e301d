#include "proto/udp_frame.h"

#include <gtest/gtest.h>

namespace krunbox::proto {
namespace {

TEST(UdpFrameTest, RoundTripsInAnyChunking) {
  std::string stream;
  for (uint32_t i = 1; i <= 3; ++i) {
    auto f = encode_udp_frame(i, static_cast<uint16_t>(9000 + i), std::string(i * 100, static_cast<char>('a' + i)));
    ASSERT_TRUE(f.ok());
    stream += *f;
  }
  auto empty = encode_udp_frame(7, 53, "");
  ASSERT_TRUE(empty.ok());
  stream += *empty;
  for (size_t step : {size_t{1}, size_t{3}, size_t{8}, size_t{1000}}) {
    UdpFrameReader r;
    std::vector<UdpFrame> got;
    for (size_t i = 0; i < stream.size(); i += step) ASSERT_TRUE(r.feed(stream.substr(i, step), got).ok());
    ASSERT_EQ(got.size(), 4u) << step;
    EXPECT_EQ(got[1].flow, 2u);
    EXPECT_EQ(got[1].port, 9002);
    EXPECT_EQ(got[1].payload, std::string(200, 'c'));
    EXPECT_EQ(got[3].payload, "");
    EXPECT_EQ(r.pending(), 0u);
  }
}

TEST(UdpFrameTest, RefusesOversizeAndMalformed) {
  EXPECT_FALSE(encode_udp_frame(1, 80, std::string(kMaxUdpPayload + 1, 'x')).ok());
  EXPECT_TRUE(encode_udp_frame(1, 80, std::string(kMaxUdpPayload, 'x')).ok());
  EXPECT_FALSE(encode_udp_frame(1, 0, "x").ok());
  UdpFrameReader r;
  std::vector<UdpFrame> got;
  // port 0
  EXPECT_FALSE(r.feed(std::string("\0\0\0\1\0\0\0\1x", 9), got).ok());
  EXPECT_FALSE(r.feed(*encode_udp_frame(1, 80, "ok"), got).ok()) << "a failed stream stays failed";
  UdpFrameReader big;
  // length 0xffff > kMaxUdpPayload
  EXPECT_FALSE(big.feed(std::string("\0\0\0\1\0\x50\xff\xff", 8), got).ok());
  EXPECT_TRUE(got.empty());
}

}  // namespace
}  // namespace krunbox::proto
