// User and group lookup from the guest's /etc/passwd and /etc/group, parsed
// here: the agent is a static binary, and glibc's getpwnam would dlopen NSS
// modules that do not exist in the guest.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "krunbox/error.h"

namespace krunbox::agent {

struct PasswdEntry {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
  std::string home;
  std::string shell;
};

struct GroupEntry {
  std::string name;
  gid_t gid = 0;
  std::vector<std::string> members;
};

// Malformed lines are skipped, as libc does.
std::vector<PasswdEntry> parse_passwd(std::string_view text);
std::vector<GroupEntry> parse_group(std::string_view text);

struct ResolvedUser {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
  std::string home;  // empty when unknown
  std::string name;  // empty for a numeric user not in passwd
};

// Resolves "name", "uid", "name:group" or "uid:gid" against the files in
// `etc_dir`. A numeric uid need not exist in passwd; a name must.
Result<ResolvedUser> resolve_user(std::string_view spec, const std::string& etc_dir = "/etc");

}  // namespace krunbox::agent
