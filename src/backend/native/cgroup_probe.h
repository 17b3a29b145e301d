// Which cgroup hierarchy this host has and which resource controllers we can
// write (create a group in). Used by `doctor` and by the native backend.
#pragma once

#include <string>
#include <vector>

namespace krunbox::native {

enum class CgroupMode { kNone, kV1, kHybrid, kV2 };
const char* to_string(CgroupMode mode);

struct CgroupInfo {
  CgroupMode mode = CgroupMode::kNone;
  std::vector<std::string> writable;     // controllers where a child group could be made
  std::vector<std::string> not_writable; // controllers present but not writable, with why
};

// root: the cgroup mount point (tests pass a fake tree).
CgroupInfo probe_cgroups(const std::string& root = "/sys/fs/cgroup");

}  // namespace krunbox::native
