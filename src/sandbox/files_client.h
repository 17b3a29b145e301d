// Files in a long-lived sandbox, through its monitor (which relays them to
// the agent): write one (atomically: a failed or cut transfer leaves the old
// file, or none), read one, stat one. For library users; errors name the
// sandbox and the path, never a CLI flag.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "krunbox/error.h"
#include "sandbox/lifecycle.h"

namespace krunbox {

struct PutFileOptions {
  uint32_t mode = 0644;       // permission bits (at most 07777)
  bool make_parents = false;  // create missing parent directories
};

struct FileStat {
  enum class Type { kFile, kDirectory, kSymlink, kOther };
  Type type = Type::kOther;
  uint32_t mode = 0;  // permission bits
  uint64_t size = 0;
  uint32_t uid = 0;
  uint32_t gid = 0;
  int64_t mtime_ns = 0;        // since the epoch
  std::string symlink_target;  // kSymlink only
};

// The largest file get_file returns in memory by default; stream bigger ones
// with get_file_to_fd.
inline constexpr size_t kDefaultMaxGetBytes = 256u << 20;

// `guest_path` is absolute, inside the sandbox; the sandbox must be running.
Status put_file(Lifecycle& lifecycle, const std::string& id, const std::string& guest_path, std::string_view data,
                const PutFileOptions& options = {});
// Streams from `src_fd` until its EOF.
Status put_file_from_fd(Lifecycle& lifecycle, const std::string& id, const std::string& guest_path, int src_fd,
                        const PutFileOptions& options = {});
// kLimitExceeded when the file is larger than `max_bytes`.
Result<std::string> get_file(Lifecycle& lifecycle, const std::string& id, const std::string& guest_path,
                             size_t max_bytes = kDefaultMaxGetBytes);
// Streams the file into `dst_fd`; returns its size.
Result<uint64_t> get_file_to_fd(Lifecycle& lifecycle, const std::string& id, const std::string& guest_path, int dst_fd);
// Streams the file to `sink` as it comes (an error from the sink stops
// it); returns its size.
Result<uint64_t> get_file_stream(Lifecycle& lifecycle, const std::string& id, const std::string& guest_path,
                                 const std::function<Status(std::string_view)>& sink);
// Writes the bytes `source` gives (0: the end) to the file, atomically.
Status put_file_stream(Lifecycle& lifecycle, const std::string& id, const std::string& guest_path,
                       const std::function<Result<size_t>(char* buf, size_t size)>& source,
                       const PutFileOptions& options = {});
// Does not follow a final symlink.
Result<FileStat> stat_file(Lifecycle& lifecycle, const std::string& id, const std::string& guest_path);

struct DirEntry {
  std::string name;  // relative to the listed directory ("a", "a/b" below depth 1), never "..", never absolute
  FileStat stat;     // lstat's: symlinks are listed, never followed
};
struct DirListing {
  std::vector<DirEntry> entries;  // each directory's entries sorted, a directory before what is under it
  bool truncated = false;         // the agent stopped at its bound (10,000 entries or 8 MiB)
};
// The tree under `guest_path` down to `depth` levels (1 to 10).
Result<DirListing> list_dir(Lifecycle& lifecycle, const std::string& id, const std::string& guest_path,
                            uint32_t depth = 1);
struct MakeDirOptions {
  uint32_t mode = 0755;  // of each directory made (no umask)
  bool parents = false;  // mkdir -p: missing parents too, an existing directory is fine
};
Status make_dir(Lifecycle& lifecycle, const std::string& id, const std::string& guest_path,
                const MakeDirOptions& options = {});
// rename(2) inside the sandbox; across its file systems kUnsupported.
Status move_path(Lifecycle& lifecycle, const std::string& id, const std::string& from, const std::string& to);
// A file, symlink or empty directory; with `recursive` a whole tree (never
// through symlinks or into other mounts; "/" is refused).
Status remove_path(Lifecycle& lifecycle, const std::string& id, const std::string& guest_path, bool recursive = false);

}  // namespace krunbox
