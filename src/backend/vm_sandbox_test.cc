#include "backend/vm_sandbox.h"

#include <gtest/gtest.h>

#include "base/fs.h"
#include "base/temp_dir.h"

namespace krunbox {
namespace {

TEST(VmLogTest, LastLineWithAndTail) {
  auto dir = TempDir::create("krunbox-vmlog-");
  ASSERT_TRUE(dir.ok());
  std::string log = dir->path() + "/console.log";
  std::string text = "boot\r\nKernel panic - not syncing: sysrq triggered crash\r\n";
  for (int i = 0; i < 200; ++i) text += " ? do_syscall_64+0x69/0x90\r\n";
  ASSERT_TRUE(write_file_atomic(log, text).ok());
  EXPECT_EQ(last_line_with(log, "Kernel panic - not syncing"), "Kernel panic - not syncing: sysrq triggered crash");
  EXPECT_EQ(log_tail(log).find("sysrq"), std::string::npos);  // why the panic line is looked up on its own
  EXPECT_EQ(last_line_with(log, "absent"), "");
  EXPECT_EQ(last_line_with(dir->path() + "/missing", "x"), "");
}

}  // namespace
}  // namespace krunbox
