// envd's view of files: the EntryInfo message (filesystem.proto) in
// Connect's JSON mapping, made from the library's FileStat, and how envd
// reads a path (relative ones from the user's home).
#pragma once

#include <string>
#include <string_view>

#include "base/json.h"
#include "sandbox/files_client.h"

namespace krunbox::e2b {

// Go's os.FileMode bits as envd reports them in EntryInfo.mode: the
// permission bits, with ModeDir (1<<31) or ModeSymlink (1<<27).
uint32_t go_file_mode(const FileStat& st);
// Go's FileMode.String(): "drwxr-xr-x", "-rw-r--r--", "Lrwxrwxrwx".
std::string permissions_string(const FileStat& st);
// RFC 3339 in UTC with nanoseconds, as google.protobuf.Timestamp's JSON.
std::string rfc3339(int64_t unix_ns);
// "FILE_TYPE_FILE", "FILE_TYPE_DIRECTORY", "FILE_TYPE_SYMLINK", "FILE_TYPE_UNSPECIFIED".
std::string_view file_type_name(FileStat::Type type);

// The EntryInfo of `path` (absolute), named `name`. Owner and group are
// "root" for id 0, otherwise the number.
Json entry_info(const std::string& name, const std::string& path, const FileStat& st);

// The user's home as envd has it: /root for root (or no user), else /home/USER.
std::string home_of(std::string_view user);
// `path` made absolute against `user`'s home and normalised ("." and ".."
// resolved lexically, never above "/"); kInvalidArgument for an empty path
// or one with a NUL.
Result<std::string> resolve_path(std::string_view path, std::string_view user);

// The user of an envd request: the name in its "Authorization: Basic
// base64(user:)" header, or empty when there is none.
std::string user_of_authorization(std::string_view authorization);

}  // namespace krunbox::e2b
