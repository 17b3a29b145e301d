#include "backend/native/cgroup_probe.h"

#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>

#include "base/fs.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

namespace krunbox::native {
namespace {

// Creating and removing a child group is the only honest writability test:
// access(W_OK) says yes for root even on read-only mounts.
bool can_create_group(const std::string& dir, std::string* why) {
  std::string probe = join_path(dir, "krunbox-probe-" + std::to_string(::getpid()));
  if (::mkdir(probe.c_str(), 0755) != 0) {
    *why = std::strerror(errno);
    return false;
  }
  ::rmdir(probe.c_str());
  return true;
}

}  // namespace

const char* to_string(CgroupMode mode) {
  switch (mode) {
    case CgroupMode::kNone: return "none";
    case CgroupMode::kV1: return "v1";
    case CgroupMode::kHybrid: return "hybrid (v1 controllers, v2 mount without controllers)";
    case CgroupMode::kV2: return "v2";
  }
  return "none";
}

CgroupInfo probe_cgroups(const std::string& root) {
  CgroupInfo info;
  struct statfs fs {};
  if (::statfs(root.c_str(), &fs) != 0) return info;
  if (fs.f_type == CGROUP2_SUPER_MAGIC) {
    info.mode = CgroupMode::kV2;
    auto controllers = read_file(join_path(root, "cgroup.controllers"), 4096);
    std::string why;
    bool ok = can_create_group(root, &why);
    std::istringstream in(controllers ? *controllers : "");
    std::string c;
    while (in >> c) {
      if (c != "memory" && c != "cpu" && c != "pids" && c != "cpuset" && c != "io") continue;
      if (ok) info.writable.push_back(c);
      else info.not_writable.push_back(c + " (" + why + ")");
    }
    return info;
  }
  info.mode = CgroupMode::kV1;
  struct statfs unified {};
  if (::statfs(join_path(root, "unified").c_str(), &unified) == 0 && unified.f_type == CGROUP2_SUPER_MAGIC)
    info.mode = CgroupMode::kHybrid;
  for (const char* c : {"memory", "cpu", "pids", "cpuset", "freezer"}) {
    std::string dir = join_path(root, c);
    if (!is_directory(dir)) continue;
    std::string why;
    if (can_create_group(dir, &why)) info.writable.push_back(c);
    else info.not_writable.push_back(std::string(c) + " (" + why + ")");
  }
  return info;
}

}  // namespace krunbox::native
