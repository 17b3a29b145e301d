#include "e2b/filesystem_service.h"

#include <algorithm>

#include "base/fs.h"
#include "e2b/connect.h"
#include "e2b/entry.h"
#include "e2b/rpc_stream.h"
#include "sandbox/files_client.h"
#include "sandbox/lifecycle.h"

namespace krunbox::e2b {
namespace {

Result<std::string> path_field(const Json& message, const char* name, const std::string& user) {
  if (!message.contains(name) || !message[name].is_string())
    return Error(ErrorCode::kInvalidArgument, std::string(name) + " (a path) is required");
  return resolve_path(message[name].get<std::string>(), user);
}

std::string base_name(const std::string& path) {
  if (path == "/") return "/";
  return path.substr(path.rfind('/') + 1);
}

Result<Json> entry_of(Lifecycle& lc, const std::string& id, const std::string& path) {
  KRUNBOX_ASSIGN_OR_RETURN(FileStat st, stat_file(lc, id, path));
  return entry_info(base_name(path), path, st);
}

Result<Json> unary(const std::string& method, const Json& m, const std::string& id, const std::string& user) {
  Lifecycle lc;
  if (method == "Stat") {
    KRUNBOX_ASSIGN_OR_RETURN(std::string path, path_field(m, "path", user));
    KRUNBOX_ASSIGN_OR_RETURN(Json entry, entry_of(lc, id, path));
    return Json{{"entry", entry}};
  }
  if (method == "ListDir") {
    KRUNBOX_ASSIGN_OR_RETURN(std::string path, path_field(m, "path", user));
    uint32_t depth = 1;
    if (m.contains("depth") && m["depth"].is_number_integer()) depth = m["depth"].get<int64_t>() < 1 ? 1 : std::min<int64_t>(m["depth"].get<int64_t>(), 10);
    KRUNBOX_ASSIGN_OR_RETURN(FileStat st, stat_file(lc, id, path));
    if (st.type != FileStat::Type::kDirectory)
      return Error(ErrorCode::kInvalidArgument, "path " + path + " is not a directory");
    KRUNBOX_ASSIGN_OR_RETURN(DirListing listing, list_dir(lc, id, path, depth));
    Json entries = Json::array();
    for (const auto& e : listing.entries) {
      std::string full = join_path(path, e.name);
      entries.push_back(entry_info(base_name(full), full, e.stat));
    }
    return Json{{"entries", entries}};
  }
  if (method == "MakeDir") {
    KRUNBOX_ASSIGN_OR_RETURN(std::string path, path_field(m, "path", user));
    if (stat_file(lc, id, path).ok()) return Error(ErrorCode::kAlreadyExists, "directory " + path + " already exists");
    KRUNBOX_TRY(make_dir(lc, id, path, {0755, /*parents=*/true}));
    KRUNBOX_ASSIGN_OR_RETURN(Json entry, entry_of(lc, id, path));
    return Json{{"entry", entry}};
  }
  if (method == "Move") {
    KRUNBOX_ASSIGN_OR_RETURN(std::string from, path_field(m, "source", user));
    KRUNBOX_ASSIGN_OR_RETURN(std::string to, path_field(m, "destination", user));
    KRUNBOX_TRY(move_path(lc, id, from, to));
    KRUNBOX_ASSIGN_OR_RETURN(Json entry, entry_of(lc, id, to));
    return Json{{"entry", entry}};
  }
  if (method == "Remove") {
    KRUNBOX_ASSIGN_OR_RETURN(std::string path, path_field(m, "path", user));
    Status st = remove_path(lc, id, path, /*recursive=*/true);
    // envd removes as os.RemoveAll does: a missing path is no error.
    if (!st.ok() && st.error().code() != ErrorCode::kNotFound) return std::move(st).error();
    return Json::object();
  }
  return Error(ErrorCode::kUnsupported, "filesystem.Filesystem/" + method + " is not served by krunbox");
}

}  // namespace

serve::HttpResponse filesystem_call(const std::string& method, const Json& message, const std::string& id,
                                    const std::string& user, bool streaming) {
  if (streaming)
    return stream_error({Code::kUnimplemented, "filesystem.Filesystem/" + method +
                                                   " is not served by krunbox as a server stream"});
  auto r = unary(method, message, id, user);
  if (!r) return unary_error(RpcError::of(r.error()));
  return unary_response(*r);
}

}  // namespace krunbox::e2b
