// Helpers for tests across the tree.
#pragma once

#include <dirent.h>

#include <set>
#include <string>

namespace krunbox::testing {

// The fds open in this process right now (from /proc/self/fd).
inline std::set<int> open_fds() {
  std::set<int> fds;
  DIR* d = ::opendir("/proc/self/fd");
  if (!d) return fds;
  int self = ::dirfd(d);
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    int fd = std::stoi(e->d_name);
    if (fd != self) fds.insert(fd);
  }
  ::closedir(d);
  return fds;
}

}  // namespace krunbox::testing
