#include "docker/log_follow.h"

#include <gtest/gtest.h>

#include <fstream>

#include "base/temp_dir.h"

namespace krunbox::docker {
namespace {

TEST(TailLines, CountsFromTheEnd) {
  EXPECT_EQ(tail_lines("a\nb\nc\n", 2), "b\nc\n");
  EXPECT_EQ(tail_lines("a\nb\nc", 1), "c");
  EXPECT_EQ(tail_lines("a\nb\n", 5), "a\nb\n");
  EXPECT_EQ(tail_lines("a\nb\n", 0), "");
  EXPECT_EQ(tail_lines("", 3), "");
}

TEST(LineStamper, StampsEveryLineStartAcrossChunks) {
  LineStamper s;
  std::string out = s.stamp("one\ntw");
  out += s.stamp("o\n");
  // Two stamps, each "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ ".
  EXPECT_EQ(out.size(), std::string("one\ntwo\n").size() + 2 * 31);
  EXPECT_EQ(out.substr(31, 4), "one\n");
  EXPECT_EQ(out.substr(out.size() - 5), " two\n");
}

TEST(LogFollower, ReadsFromStartOrOnlyWhatComesAfter) {
  auto dir = TempDir::create("kbdlog");
  ASSERT_TRUE(dir.ok());
  std::string path = dir->path() + "/output.log";
  { std::ofstream(path) << "old\n"; }
  LogFollower all(path, LogFollower::From::kStart), fresh(path, LogFollower::From::kEnd);
  { std::ofstream(path, std::ios::app) << "new\n"; }
  std::string a, b;
  ASSERT_TRUE(all.read_existing(-1, [&](std::string_view d) { a += d; return true; }));
  int rounds = 0;
  ASSERT_TRUE(fresh.follow([&] { return ++rounds < 2; }, [&](std::string_view d) { b += d; return true; }));
  EXPECT_EQ(a, "old\nnew\n");
  EXPECT_EQ(b, "new\n");
}

TEST(LogFollower, AMissingLogIsReadWholeOnceItAppears) {
  auto dir = TempDir::create("kbdlog");
  ASSERT_TRUE(dir.ok());
  std::string path = dir->path() + "/output.log";
  LogFollower f(path, LogFollower::From::kEnd);
  std::string got;
  int rounds = 0;
  ASSERT_TRUE(f.follow(
      [&] {
        if (++rounds == 2) std::ofstream(path) << "hi\n";
        return rounds < 3;
      },
      [&](std::string_view d) { got += d; return true; }));
  EXPECT_EQ(got, "hi\n");
}

}  // namespace
}  // namespace krunbox::docker
