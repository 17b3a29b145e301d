#include "sandbox/output_ring.h"

#include <gtest/gtest.h>

#include <thread>

namespace krunbox {
namespace {

std::string joined(const OutputRing::Read& r) {
  std::string s;
  for (const auto& c : r.chunks) s += c.data;
  return s;
}

TEST(OutputRingTest, KeepsBothStreamsInOrderWithOffsets) {
  OutputRing ring(100);
  ring.append(OutputStream::kStdout, "ab");
  ring.append(OutputStream::kStderr, "cd");
  ring.append(OutputStream::kStdout, "ef");
  auto r = ring.read(0, 1000);
  ASSERT_EQ(r.chunks.size(), 3u);
  EXPECT_EQ(r.chunks[0].stream, OutputStream::kStdout);
  EXPECT_EQ(r.chunks[1].stream, OutputStream::kStderr);
  EXPECT_EQ(r.chunks[1].offset, 2u);
  EXPECT_EQ(r.chunks[2].data, "ef");
  EXPECT_EQ(r.end, 6u);
  EXPECT_EQ(r.first_kept, 0u);
  EXPECT_FALSE(r.closed);
  // From the middle of a chunk.
  auto mid = ring.read(3, 1000);
  EXPECT_EQ(joined(mid), "def");
  EXPECT_EQ(mid.chunks[0].offset, 3u);
}

TEST(OutputRingTest, DropsTheOldestBytesBeyondItsSize) {
  OutputRing ring(10);
  ring.append(OutputStream::kStdout, "0123456789");
  ring.append(OutputStream::kStderr, "abcd");
  auto r = ring.read(0, 1000);
  EXPECT_EQ(r.first_kept, 4u);
  EXPECT_EQ(joined(r), "456789abcd");
  EXPECT_EQ(r.chunks.front().offset, 4u);
  EXPECT_EQ(r.end, 14u);
  // One write bigger than the ring keeps its tail.
  ring.append(OutputStream::kStdout, std::string(25, 'x') + "tail");
  auto big = ring.read(0, 1000);
  EXPECT_EQ(big.first_kept, 33u);
  EXPECT_EQ(joined(big), "xxxxxxtail");
  EXPECT_EQ(ring.end(), 43u);
}

TEST(OutputRingTest, ReadsAreBoundedAndResume) {
  OutputRing ring(100);
  ring.append(OutputStream::kStdout, std::string(50, 'a'));
  auto first = ring.read(0, 20);
  EXPECT_EQ(joined(first).size(), 20u);
  EXPECT_EQ(first.end, 20u);
  auto rest = ring.read(first.end, 1000);
  EXPECT_EQ(joined(rest).size(), 30u);
  EXPECT_EQ(rest.end, 50u);
  // Past the end: nothing, at the end.
  auto past = ring.read(999, 10);
  EXPECT_TRUE(past.chunks.empty());
  EXPECT_EQ(past.end, 50u);
}

TEST(OutputRingTest, AFollowerWakesOnOutputAndOnClose) {
  OutputRing ring(100);
  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ring.append(OutputStream::kStdout, "hi");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ring.close();
  });
  auto r = ring.read(0, 100, std::chrono::seconds(10));
  EXPECT_EQ(joined(r), "hi");
  auto end = ring.read(r.end, 100, std::chrono::seconds(10));
  writer.join();
  EXPECT_TRUE(end.chunks.empty());
  EXPECT_TRUE(end.closed);
}

}  // namespace
}  // namespace krunbox
