#include "sandbox/archive.h"

#include <gtest/gtest.h>

#include <vector>

namespace krunbox {
namespace {

TEST(ArchiveNames, CleanRelativeNamesPass) {
  EXPECT_EQ(clean_archive_entry_name("a"), "a");
  EXPECT_EQ(clean_archive_entry_name("./a/b/"), "a/b");
  EXPECT_EQ(clean_archive_entry_name("a//b/./c"), "a/b/c");
  EXPECT_EQ(clean_archive_entry_name("./"), "");
  EXPECT_EQ(clean_archive_entry_name("..a/b.."), "..a/b..");
}

TEST(ArchiveNames, NamesThatEscapeAreRefused) {
  for (const std::string& bad :
       std::vector<std::string>{"/etc/passwd", "..", "../x", "a/../../x", "a/..", "//x", std::string("a\0b", 3)})
    EXPECT_FALSE(clean_archive_entry_name(bad).has_value()) << bad;
}

}  // namespace
}  // namespace krunbox
