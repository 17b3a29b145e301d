// The agent's directory operations (list, mkdir, move, remove) as plain
// functions of the file system, so they can be tested without a connection.
// Paths are the guest's, resolved like put/get/stat resolve them (the agent's
// own root and credentials); what an operation then touches below a path is
// reached through directory fds (openat and friends), never by re-resolving
// a longer path, so a concurrent rename or symlink swap cannot redirect it.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <string>

#include "krunbox/error.h"
#include "proto/messages.h"

namespace krunbox::agent {

// The protocol's view of an lstat result for `name` in directory `dir_fd`
// (AT_FDCWD with a path works too); a symlink's target is read from there.
proto::FileStat file_stat_at(int dir_fd, const char* name, const struct stat& st);

struct ListLimits {
  size_t max_entries = proto::kMaxListEntries;
  size_t max_bytes = proto::kMaxListBytes;
};

struct Listing {
  std::string body;  // the list stream: one proto::encode_dir_entry line per entry
  uint64_t entries = 0;
  bool truncated = false;
};

// The entries under directory `path` (itself resolved as any path is), down
// `depth` levels, pre-order with each directory's entries sorted by name.
// Symlinks are listed, never followed. A subdirectory that cannot be opened
// is listed without its contents; an entry that vanishes meanwhile is left out.
Result<Listing> list_tree(const std::string& path, uint32_t depth, const ListLimits& limits = {});

// mkdir, or mkdir -p with `parents`. Each directory created gets exactly the
// request's mode (no umask) and owner; existing ones are left as they are.
Status make_directory(const proto::MkdirRequest& request);

// rename(2). EXDEV becomes kUnsupported: there is no copying fallback.
Status move_path(const std::string& from, const std::string& to);

// unlink, rmdir, or with `recursive` the whole tree. Refuses "/" and any path
// whose last component is "." or ".."; never follows a symlink, and does not
// enter another file system mounted inside the tree (or at `path`).
Status remove_path(const std::string& path, bool recursive);

// How deep remove_path recurses before it gives up (each level holds an fd).
inline constexpr int kMaxRemoveDepth = 512;

}  // namespace krunbox::agent
