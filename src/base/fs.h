// File-system helpers that every layer needs: bounded reads, atomic writes,
// directories with explicit modes, recursive removal that never follows links.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "krunbox/error.h"

namespace krunbox {

// Reads a whole file; fails with kLimitExceeded past `max_bytes`.
Result<std::string> read_file(const std::string& path, size_t max_bytes = 16u << 20);

// Writes `data` to a temp file beside `path`, fsyncs it, renames it over
// `path` and fsyncs the directory: readers see the old or the new file, never
// a half-written one.
Status write_file_atomic(const std::string& path, std::string_view data, mode_t mode = 0644);

// mkdir -p; directories it creates get `mode`. An existing directory keeps its mode.
Status make_dirs(const std::string& path, mode_t mode = 0755);

// rm -rf without following symlinks and without crossing into other mounts'
// contents by path tricks (uses openat/unlinkat relative to directory fds).
Status remove_tree(const std::string& path);

// The names in directory `dir`, without "." and "..", sorted; an empty list
// if `dir` does not exist.
Result<std::vector<std::string>> list_dir(const std::string& dir);
bool path_exists(const std::string& path);
bool is_directory(const std::string& path);

// The directory part of a path ("a/b" -> "a", "b" -> ".").
std::string dirname_of(const std::string& path);
// The last component, trailing slashes ignored ("/a/b/" -> "b"; "/" -> "/").
std::string basename_of(const std::string& path);
std::string join_path(std::string_view a, std::string_view b);

}  // namespace krunbox
