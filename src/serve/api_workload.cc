#include "serve/api_workload.h"

#include <algorithm>

#include "base/fs.h"
#include "base/json.h"
#include "image/registry_auth.h"
#include "sandbox/archive.h"
#include "sandbox/files_client.h"
#include "serve/errors.h"
#include "serve/exec_call.h"
#include "serve/exec_events.h"
#include "serve/request_parse.h"
#include "serve/responses.h"
#include "serve/sandbox_doc.h"

namespace krunbox::serve {
namespace {

// The collected form: output kept up to kMaxCollectedOutput per stream.
Result<HttpResponse> collected(ExecCall& call, bool base64) {
  std::string out, err;
  bool out_cut = false, err_cut = false;
  KRUNBOX_ASSIGN_OR_RETURN(ExecEnd end, call.run([&](OutputStream s, std::string_view data) {
    std::string& buf = s == OutputStream::kStdout ? out : err;
    bool& cut = s == OutputStream::kStdout ? out_cut : err_cut;
    size_t room = kMaxCollectedOutput - std::min(kMaxCollectedOutput, buf.size());
    if (data.size() > room) cut = true;
    buf.append(data.substr(0, room));
    return true;
  }));
  Json j = exec_end_fields(end);
  j["stdout"] = base64 ? image::base64_encode(out) : out;
  j["stderr"] = base64 ? image::base64_encode(err) : err;
  j["stdout_truncated"] = out_cut;
  j["stderr_truncated"] = err_cut;
  HttpResponse r;
  r.body = dump_json(j);
  return r;
}

// The streamed form: one JSON event per line, written as it happens.
HttpResponse streamed(std::shared_ptr<ExecCall> call) {
  HttpResponse r;
  r.content_type = "application/x-ndjson";
  r.stream = [call](const ChunkWriter& write) {
    auto line = [&](const Json& j) { return write(dump_json(j) + "\n"); };
    if (!line({{"type", "start"}, {"pid", call->pid()}})) return;
    auto end = call->run([&](OutputStream s, std::string_view data) { return line(output_event(s, data)); });
    (void)line(end ? exit_event(*end) : error_event(end.error()));
  };
  return r;
}

Json stat_json(const std::string& path, const FileStat& st) {
  const char* type = st.type == FileStat::Type::kFile        ? "file"
                     : st.type == FileStat::Type::kDirectory ? "directory"
                     : st.type == FileStat::Type::kSymlink   ? "symlink"
                                                             : "other";
  Json j = {{"path", path},  {"type", type},  {"mode", st.mode},        {"size", st.size},
            {"uid", st.uid}, {"gid", st.gid}, {"mtime_ns", st.mtime_ns}};
  if (st.type == FileStat::Type::kSymlink) j["symlink_target"] = st.symlink_target;
  return j;
}

}  // namespace

Result<HttpResponse> exec_endpoint(Lifecycle& lc, const std::string& id, const HttpRequest& req) {
  KRUNBOX_ASSIGN_OR_RETURN(auto query, parse_query(req.query, {}));
  (void)query;
  KRUNBOX_ASSIGN_OR_RETURN(ExecBody body, parse_exec_body(req.body));
  if (body.background) return start_background_exec(lc, id, std::move(body.params));
  bool base64 = body.base64;
  KRUNBOX_ASSIGN_OR_RETURN(auto call, ExecCall::start(lc, id, std::move(body.params)));
  if (wants_ndjson(req.accept)) return streamed(std::shared_ptr<ExecCall>(std::move(call)));
  return collected(*call, base64);
}

namespace {

// A GET of a symlink reads what it points to, in memory, up to this.
constexpr size_t kMaxFollowedFileBytes = 64u << 20;

}  // namespace

Result<HttpResponse> files_endpoint(Lifecycle& lc, const std::string& id, const HttpRequest& req) {
  if (req.method == "DELETE") {
    KRUNBOX_ASSIGN_OR_RETURN(FileQuery q, parse_file_query(req.query, FileEndpoint::kRemove));
    KRUNBOX_TRY(remove_path(lc, id, q.path, q.recursive));
    return no_content();
  }
  if (req.method == "PUT") {
    KRUNBOX_ASSIGN_OR_RETURN(FileQuery q, parse_file_query(req.query, FileEndpoint::kWrite));
    PutFileOptions o;
    o.mode = q.mode;
    o.make_parents = q.make_parents;
    KRUNBOX_TRY(put_file_stream(lc, id, q.path, req.body_reader(), o));
    return no_content();
  }
  KRUNBOX_ASSIGN_OR_RETURN(FileQuery q, parse_file_query(req.query, FileEndpoint::kRead));
  // What is read, before the first byte: a missing path or a directory is
  // an error answer, not a broken stream.
  KRUNBOX_ASSIGN_OR_RETURN(FileStat st, stat_file(lc, id, q.path));
  HttpResponse r;
  if (st.type != FileStat::Type::kFile) {
    // A symlink is read through (up to kMaxFollowedFileBytes); anything
    // else the library refuses in its own words (a directory, a device).
    KRUNBOX_ASSIGN_OR_RETURN(r.body, get_file(lc, id, q.path, kMaxFollowedFileBytes));
    r.content_type = "application/octet-stream";
    return r;
  }
  r.content_type = "application/octet-stream";
  r.headers.emplace_back("X-Krunbox-File-Size", std::to_string(st.size));
  r.stream = [id, path = q.path](const ChunkWriter& write) {
    Lifecycle own;
    // A failure after the start can only cut the stream short (no last
    // chunk): the client sees a broken transfer, never a short file as whole.
    (void)get_file_stream(own, id, path, [&](std::string_view data) -> Status {
      if (write(data)) return {};
      return Error(ErrorCode::kCancelled, "the client went away");
    });
  };
  return r;
}

Result<HttpResponse> list_endpoint(Lifecycle& lc, const std::string& id, const HttpRequest& req) {
  KRUNBOX_ASSIGN_OR_RETURN(FileQuery q, parse_file_query(req.query, FileEndpoint::kList));
  KRUNBOX_ASSIGN_OR_RETURN(DirListing listing, list_dir(lc, id, q.path, q.depth));
  Json entries = Json::array();
  for (const auto& e : listing.entries) {
    Json j = stat_json(join_path(q.path, e.name), e.stat);
    j["name"] = basename_of(e.name);
    j["depth"] = 1 + std::count(e.name.begin(), e.name.end(), '/');
    entries.push_back(std::move(j));
  }
  return json_response(200, {{"entries", std::move(entries)}, {"truncated", listing.truncated}});
}

Result<HttpResponse> mkdir_endpoint(Lifecycle& lc, const std::string& id, const HttpRequest& req) {
  KRUNBOX_ASSIGN_OR_RETURN(auto query, parse_query(req.query, {}));
  (void)query;
  KRUNBOX_ASSIGN_OR_RETURN(MakeDirBody body, parse_mkdir_body(req.body));
  KRUNBOX_TRY(make_dir(lc, id, body.path, {body.mode, body.parents}));
  return no_content();
}

Result<HttpResponse> move_endpoint(Lifecycle& lc, const std::string& id, const HttpRequest& req) {
  KRUNBOX_ASSIGN_OR_RETURN(auto query, parse_query(req.query, {}));
  (void)query;
  KRUNBOX_ASSIGN_OR_RETURN(MoveBody body, parse_move_body(req.body));
  KRUNBOX_TRY(move_path(lc, id, body.from, body.to));
  return no_content();
}

Result<HttpResponse> archive_endpoint(Lifecycle& lc, const std::string& id, const HttpRequest& req) {
  KRUNBOX_ASSIGN_OR_RETURN(FileQuery q, parse_file_query(req.query, FileEndpoint::kRead));
  if (req.method == "PUT") {
    KRUNBOX_ASSIGN_OR_RETURN(ExtractCounts counts, extract_archive(lc, id, q.path, req.body_reader()));
    return json_response(200, {{"files", counts.files}, {"directories", counts.directories}, {"bytes", counts.bytes}});
  }
  // What is archived, before the first byte: a missing path is a 404, not
  // a broken stream.
  KRUNBOX_ASSIGN_OR_RETURN(FileStat st, stat_file(lc, id, q.path));
  HttpResponse r;
  r.content_type = "application/x-tar";
  r.headers.emplace_back("X-Krunbox-Path-Stat", image::base64_encode(dump_json(stat_json(q.path, st))));
  std::string path = q.path;
  // The stream runs after this returns, with a lifecycle of its own (the
  // router's is gone by then; both read the same store).
  r.stream = [id, path](const ChunkWriter& write) {
    Lifecycle own;
    // A failure after the start can only cut the stream short: the client
    // sees a tar without its end.
    (void)write_archive(own, id, path, [&](std::string_view data) -> Status {
      if (write(data)) return {};
      return Error(ErrorCode::kCancelled, "the client went away");
    });
  };
  return r;
}

Result<HttpResponse> stat_endpoint(Lifecycle& lc, const std::string& id, const HttpRequest& req) {
  KRUNBOX_ASSIGN_OR_RETURN(FileQuery q, parse_file_query(req.query, FileEndpoint::kRead));
  KRUNBOX_ASSIGN_OR_RETURN(FileStat st, stat_file(lc, id, q.path));
  HttpResponse r;
  r.body = dump_json(stat_json(q.path, st));
  return r;
}

}  // namespace krunbox::serve
