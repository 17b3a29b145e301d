// Helpers for tests across the tree.
#pragma once

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <set>
#include <string>

#include "base/fs.h"
#include "base/unique_fd.h"

namespace krunbox::testing {

// The fds open in this process right now (from /proc/self/fd). A raw
// readdir, not list_dir: the listing's own fd shows up in it and must be
// left out, which only the open DIR can tell (dirfd).
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

// The names in `dir` (none if it does not exist), hidden ones left out.
inline std::set<std::string> dir_entries(const std::string& dir) {
  std::set<std::string> out;
  for (auto& name : list_dir(dir).value_or(std::vector<std::string>{}))
    if (name[0] != '.') out.insert(std::move(name));
  return out;
}

// A TCP socket listening on 127.0.0.1 at a port the kernel picked (stored in
// *port), or an empty UniqueFd if that failed.
inline UniqueFd listen_on_loopback(uint16_t* port) {
  UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (!s || ::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(s.get(), 16) != 0 ||
      ::getsockname(s.get(), reinterpret_cast<sockaddr*>(&a), &len) != 0)
    return {};
  *port = ntohs(a.sin_port);
  return s;
}

// A TCP port on 127.0.0.1 that was free a moment ago (for a server a test
// starts), or 0.
inline uint16_t free_loopback_port() {
  uint16_t port = 0;
  UniqueFd probe = listen_on_loopback(&port);
  return probe ? port : 0;
}

// A TCP connection to 127.0.0.1:port, or an empty UniqueFd if none.
inline UniqueFd connect_to_loopback(uint16_t port) {
  UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (!s || ::connect(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return {};
  return s;
}

}  // namespace krunbox::testing
