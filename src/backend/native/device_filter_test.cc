#include "backend/native/device_filter.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "base/fs.h"
#include "base/temp_dir.h"

namespace krunbox::native {
namespace {

TEST(DeviceFilterTest, AllowListIsTheStandardCharacterDevices) {
  auto lines = v1_device_allow_lines();
  for (const char* want : {"c 1:3 rw", "c 1:5 rw", "c 1:7 rw", "c 1:8 rw", "c 1:9 rw", "c 5:0 rw", "c 5:2 rw",
                           "c 136:* rw"})
    EXPECT_NE(std::find(lines.begin(), lines.end(), want), lines.end()) << want;
  for (const auto& l : lines) {
    EXPECT_EQ(l[0], 'c') << l;                              // never a block device
    EXPECT_EQ(l.find('m'), std::string::npos) << l;         // never mknod
  }
}

// Where a cgroup v2 hierarchy is mounted (the unified one on hybrid hosts).
std::string cgroup2_mount() {
  std::ifstream mounts("/proc/self/mounts");
  std::string line;
  while (std::getline(mounts, line)) {
    std::istringstream in(line);
    std::string dev, dir, type;
    in >> dev >> dir >> type;
    if (type == "cgroup2") return dir;
  }
  return {};
}

// Exit code bits of the probe child.
constexpr int kNullFailed = 1, kKmsgOpened = 2, kMknodWorked = 4, kJoinFailed = 8;

TEST(DeviceFilterTest, KernelEnforcesTheProgramOnACgroup) {
  if (::geteuid() != 0) GTEST_SKIP() << "loading a BPF program and making cgroups needs root";
  std::string mount = cgroup2_mount();
  if (mount.empty()) GTEST_SKIP() << "no cgroup v2 hierarchy mounted here";
  auto program = load_device_program();
  ASSERT_TRUE(program.ok()) << program.error().what();
  std::string group = join_path(mount, "krunbox-device-test-" + std::to_string(::getpid()));
  ASSERT_EQ(::mkdir(group.c_str(), 0755), 0) << group << ": " << std::strerror(errno);
  auto attached = attach_device_program(group, program->get());
  if (!attached.ok()) {
    ::rmdir(group.c_str());
    FAIL() << attached.error().what();
  }
  auto scratch = TempDir::create();
  ASSERT_TRUE(scratch.ok());
  std::string node = join_path(scratch->path(), "null-copy");
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    int bits = 0;
    int procs = ::open(join_path(group, "cgroup.procs").c_str(), O_WRONLY);
    if (procs < 0 || ::write(procs, "0", 1) != 1) ::_exit(kJoinFailed);
    int fd = ::open("/dev/null", O_RDWR);
    if (fd < 0) bits |= kNullFailed;
    // /dev/kmsg (c 1:11) is on every host and not on the list: root with
    // every capability must still be refused.
    if (::open("/dev/kmsg", O_RDONLY) >= 0) bits |= kKmsgOpened;
    if (::mknod(node.c_str(), S_IFCHR | 0600, makedev(1, 3)) == 0) bits |= kMknodWorked;
    ::_exit(bits);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ::rmdir(group.c_str());
  ASSERT_TRUE(WIFEXITED(status));
  int bits = WEXITSTATUS(status);
  EXPECT_FALSE(bits & kJoinFailed);
  EXPECT_FALSE(bits & kNullFailed) << "/dev/null must stay usable";
  EXPECT_FALSE(bits & kKmsgOpened) << "a device off the list was opened";
  EXPECT_FALSE(bits & kMknodWorked) << "a device node was created";
}

}  // namespace
}  // namespace krunbox::native
