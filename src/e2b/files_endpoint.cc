#include "e2b/files_endpoint.h"

#include "base/json.h"
#include "e2b/entry.h"
#include "e2b/multipart.h"
#include "sandbox/files_client.h"
#include "sandbox/lifecycle.h"
#include "serve/errors.h"
#include "serve/responses.h"

namespace krunbox::e2b {
namespace {

using serve::HttpRequest;
using serve::HttpResponse;

std::string base_name(const std::string& path) { return path == "/" ? path : path.substr(path.rfind('/') + 1); }

Json written(const std::string& path) { return {{"name", base_name(path)}, {"type", "file"}, {"path", path}}; }

Result<HttpResponse> download(Lifecycle& lc, const std::string& id, const std::string& path) {
  KRUNBOX_ASSIGN_OR_RETURN(FileStat st, stat_file(lc, id, path));
  if (st.type == FileStat::Type::kDirectory)
    return Error(ErrorCode::kInvalidArgument, "path " + path + " is a directory, not a file");
  HttpResponse r;
  r.content_type = "application/octet-stream";
  r.headers.emplace_back("Content-Disposition", "inline; filename=\"" + base_name(path) + "\"");
  if (st.size <= kWholeFileBytes) {
    KRUNBOX_ASSIGN_OR_RETURN(r.body, get_file(lc, id, path, kWholeFileBytes * 2));
    return r;
  }
  r.stream = [id, path](const serve::ChunkWriter& write) {
    Lifecycle own;
    (void)get_file_stream(own, id, path, [&](std::string_view data) -> Status {
      if (write(data)) return {};
      return Error(ErrorCode::kCancelled, "the client went away");
    });
  };
  return r;
}

// Each file goes to the sandbox as it arrives (put_file_stream: a file cut
// short, by the client or a malformed body, is not written at all).
Result<HttpResponse> upload(Lifecycle& lc, const std::string& id, const HttpRequest& req, const std::string& query_path,
                            const std::string& user) {
  std::string_view encoding = req.header("Content-Encoding");
  if (!encoding.empty() && encoding != "identity")
    return Error(ErrorCode::kUnsupported, "uploads with Content-Encoding " + std::string(encoding) +
                                              " are not accepted; send the file's bytes as they are (no gzip option)");
  PutFileOptions o;
  o.make_parents = true;
  Json out = Json::array();
  std::string_view type = req.header("Content-Type");
  if (type.substr(0, 24) == "application/octet-stream") {
    if (query_path.empty()) return Error(ErrorCode::kInvalidArgument, "an octet-stream upload needs ?path=");
    KRUNBOX_ASSIGN_OR_RETURN(std::string path, resolve_path(query_path, user));
    KRUNBOX_TRY(put_file_stream(lc, id, path, req.body_reader(), o));
    out.push_back(written(path));
    return serve::json_response(200, out);
  }
  KRUNBOX_ASSIGN_OR_RETURN(std::string boundary, multipart_boundary(type));
  MultipartReader reader(req.body_reader(), boundary);
  size_t files = 0;
  for (;;) {
    KRUNBOX_ASSIGN_OR_RETURN(auto part, reader.next_part());
    if (!part) break;
    if (!part->has_filename && part->name != "file") continue;
    // With ?path= the upload is one file (the SDK's write(path, data));
    // without, each part's file name is its path (write([...])).
    if (++files > 1 && !query_path.empty())
      return Error(ErrorCode::kInvalidArgument,
                   "an upload with ?path= carries one file; to write several, leave out ?path= and give each part "
                   "its path as its file name (the files before this one were written)");
    std::string target = !query_path.empty() ? query_path : part->filename;
    if (target.empty()) return Error(ErrorCode::kInvalidArgument, "a file part has no path (give ?path= or a file name)");
    KRUNBOX_ASSIGN_OR_RETURN(std::string path, resolve_path(target, user));
    KRUNBOX_TRY(put_file_stream(lc, id, path, [&](char* buf, size_t size) { return reader.read(buf, size); }, o));
    out.push_back(written(path));
  }
  if (files == 0) return Error(ErrorCode::kInvalidArgument, "the upload holds no file part");
  return serve::json_response(200, out);
}

}  // namespace

HttpResponse envd_error(int status, std::string message) {
  return serve::json_response(status, {{"code", status}, {"message", std::move(message)}});
}

HttpResponse files_endpoint(const HttpRequest& req, const std::string& id, const std::string& header_user) {
  auto r = [&]() -> Result<HttpResponse> {
    KRUNBOX_ASSIGN_OR_RETURN(auto q, parse_query_params(req.query));
    std::string user = header_user;
    if (auto it = q.find("username"); it != q.end() && !it->second.empty()) user = it->second;
    std::string path = q.contains("path") ? q["path"] : "";
    Lifecycle lc;
    if (req.method == "GET") {
      if (path.empty()) return Error(ErrorCode::kInvalidArgument, "?path= is required");
      KRUNBOX_ASSIGN_OR_RETURN(std::string full, resolve_path(path, user));
      return download(lc, id, full);
    }
    if (req.method == "POST") return upload(lc, id, req, path, user);
    HttpResponse bad = envd_error(405, req.method + " is not allowed on /files");
    bad.headers.emplace_back("Allow", "GET, POST");
    return bad;
  }();
  if (r) return std::move(*r);
  int status = serve::http_status(r.error().code());
  if (r.error().code() == ErrorCode::kLimitExceeded) status = 413;
  return envd_error(status, r.error().message());
}

}  // namespace krunbox::e2b
