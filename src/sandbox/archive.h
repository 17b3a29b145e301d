// Tar archives of a sandbox's files, through the same agent file layer as
// files_client.h on every backend: what `docker cp` moves, and the API's
// .../archive endpoints. libarchive writes and reads the tar streams.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "krunbox/error.h"
#include "sandbox/files_client.h"
#include "sandbox/lifecycle.h"

namespace krunbox {

// Bounds of one archive: entries (each directory listed whole, at most
// 10,000 entries each) and how deep a tree goes.
inline constexpr size_t kMaxArchiveEntries = 100000;
inline constexpr size_t kMaxArchiveDepth = 128;

using ArchiveSink = std::function<Status(std::string_view)>;
using ArchiveSource = std::function<Result<size_t>(char* buf, size_t size)>;

// Writes a tar (POSIX pax) of `guest_path` (a file, a symlink, or a
// directory and everything under it, symlinks not followed) to `sink`. Its
// top entry is named `top_name` (empty: the path's last component, "/" for
// the root), the rest under it. Errors before the first byte (no such path)
// leave the sink untouched.
Status write_archive(Lifecycle& lifecycle, const std::string& id, const std::string& guest_path,
                     const ArchiveSink& sink, const std::string& top_name = "");

struct ExtractCounts {
  size_t files = 0;
  size_t directories = 0;
  uint64_t bytes = 0;
};
// Extracts the tar (plain or gzip) that `source` gives into the existing
// directory `guest_dir`. Entry names are relative ("./" allowed); an
// absolute name or a ".." component is refused, as are symlinks and hard
// links (the agent has no call to make them: kUnsupported), device nodes
// and fifos. Directories keep their mode; files their mode, written
// atomically one by one (a failure leaves those before it in place).
Result<ExtractCounts> extract_archive(Lifecycle& lifecycle, const std::string& id, const std::string& guest_dir,
                                      const ArchiveSource& source);

// An entry's name as extraction uses it: "./a//b/" -> "a/b", "./" -> "";
// nullopt for a name that must not be extracted (absolute, a ".."
// component, a NUL byte).
std::optional<std::string> clean_archive_entry_name(std::string_view name);

}  // namespace krunbox
