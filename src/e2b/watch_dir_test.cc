#include "e2b/watch_dir.h"

#include <gtest/gtest.h>

namespace krunbox::e2b {
namespace {

FileStat file(uint64_t size, int64_t mtime, uint32_t mode = 0644) {
  FileStat st;
  st.type = FileStat::Type::kFile;
  st.size = size;
  st.mtime_ns = mtime;
  st.mode = mode;
  return st;
}

FileStat dir(int64_t mtime) {
  FileStat st;
  st.type = FileStat::Type::kDirectory;
  st.mtime_ns = mtime;
  st.mode = 0755;
  return st;
}

std::vector<std::string> seen(const Listing& a, const Listing& b) {
  std::vector<std::string> out;
  for (const auto& e : listing_changes(a, b)) out.push_back(e.type.substr(11) + " " + e.name);
  return out;
}

TEST(WatchDir, NothingChangedNothingSeen) {
  Listing l = {{"a", file(1, 10)}, {"d", dir(5)}};
  EXPECT_TRUE(listing_changes(l, l).empty());
}

TEST(WatchDir, CreatesWritesRemovesAndModes) {
  Listing before = {{"gone", file(1, 10)}, {"grows", file(1, 10)}, {"touched", file(1, 10)}, {"locked", file(1, 10)}};
  Listing after = {
      {"grows", file(2, 10)}, {"touched", file(1, 11)}, {"locked", file(1, 10, 0600)}, {"new", file(0, 12)}};
  EXPECT_EQ(seen(before, after),
            (std::vector<std::string>{"REMOVE gone", "WRITE grows", "CHMOD locked", "CREATE new", "WRITE touched"}));
}

TEST(WatchDir, ADirectorysOwnTimesAreNotWrites) {
  // Its entries changing moves its mtime; that is their events, not its.
  Listing before = {{"d", dir(5)}};
  Listing after = {{"d", dir(9)}, {"d/x", file(1, 9)}};
  EXPECT_EQ(seen(before, after), (std::vector<std::string>{"CREATE d/x"}));
}

TEST(WatchDir, AReplacedTypeIsARemoveAndACreate) {
  Listing before = {{"p", file(1, 10)}};
  Listing after = {{"p", dir(11)}};
  EXPECT_EQ(seen(before, after), (std::vector<std::string>{"REMOVE p", "CREATE p"}));
}

}  // namespace
}  // namespace krunbox::e2b
