#include "docker/stdcopy.h"

#include <gtest/gtest.h>

namespace krunbox::docker {
namespace {

TEST(Stdcopy, FramesWithStreamAndBigEndianSize) {
  std::string f = stdcopy_frame(StdStream::kStderr, "hello");
  ASSERT_EQ(f.size(), 13u);
  EXPECT_EQ(f[0], 2);
  EXPECT_EQ(f.substr(1, 3), std::string(3, '\0'));
  EXPECT_EQ(static_cast<unsigned char>(f[7]), 5);
  EXPECT_EQ(f.substr(8), "hello");
}

TEST(Stdcopy, LargeSizeUsesAllFourBytes) {
  std::string data(0x10203, 'x');
  std::string f = stdcopy_frame(StdStream::kStdout, data);
  EXPECT_EQ(f[0], 1);
  EXPECT_EQ(static_cast<unsigned char>(f[5]), 0x01);
  EXPECT_EQ(static_cast<unsigned char>(f[6]), 0x02);
  EXPECT_EQ(static_cast<unsigned char>(f[7]), 0x03);
  EXPECT_EQ(f.size(), 8 + data.size());
}

TEST(Stdcopy, EmptyDataIsOneEmptyFrame) { EXPECT_EQ(stdcopy_frame(StdStream::kStdout, "").size(), 8u); }

}  // namespace
}  // namespace krunbox::docker
