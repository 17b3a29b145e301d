#include "docker/archive.h"

#include <algorithm>
#include <ctime>

#include "docker/errors.h"
#include "image/registry_auth.h"
#include "sandbox/archive.h"
#include "serve/responses.h"

namespace krunbox::docker {
namespace {

using serve::HttpResponse;

Error bad(std::string message) { return Error(ErrorCode::kInvalidArgument, std::move(message)); }

std::string mtime_text(int64_t ns) {
  std::time_t t = static_cast<std::time_t>(ns / 1000000000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char head[32], out[64];
  std::strftime(head, sizeof head, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(out, sizeof out, "%s.%09lldZ", head, static_cast<long long>(ns % 1000000000));
  return out;
}

std::string base_name(const std::string& path) {
  std::string p = path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  if (p == "/") return "/";
  return p.substr(p.rfind('/') + 1);
}

}  // namespace

uint32_t go_file_mode(const FileStat& st) {
  uint32_t m = st.mode & 0777;
  if (st.mode & 04000) m |= 1u << 23;  // ModeSetuid
  if (st.mode & 02000) m |= 1u << 22;  // ModeSetgid
  if (st.mode & 01000) m |= 1u << 20;  // ModeSticky
  if (st.type == FileStat::Type::kDirectory) m |= 1u << 31;  // ModeDir
  if (st.type == FileStat::Type::kSymlink) m |= 1u << 27;    // ModeSymlink
  if (st.type == FileStat::Type::kOther) m |= 1u << 19;      // ModeIrregular
  return m;
}

Json path_stat_json(const std::string& path, const FileStat& st) {
  return {{"name", base_name(path)},
          {"size", st.size},
          {"mode", go_file_mode(st)},
          {"mtime", mtime_text(st.mtime_ns)},
          {"linkTarget", st.type == FileStat::Type::kSymlink ? st.symlink_target : ""}};
}

Result<HttpResponse> archive_endpoint(Call& c, const std::string& key) {
  std::string path = c.query.get("path").value_or("");
  if (path.empty()) return bad("path is required");
  if (path[0] != '/') path = "/" + path;  // Docker's paths are relative to the root
  if (path.size() > 4096 || path.find('\0') != std::string::npos) return bad("path is too long or holds NUL");
  KRUNBOX_ASSIGN_OR_RETURN(std::string id, resolve_container(c.lc, key));
  KRUNBOX_ASSIGN_OR_RETURN(SandboxView v, c.lc.view(id));
  if (v.status.state != SandboxState::kRunning)
    return Error(ErrorCode::kIllegalState, "Container " + id.substr(0, 12) +
                                               " is not running: krunbox copies files in running containers only");
  if (c.req.method == "PUT") {
    if (c.query.flag("copyUIDGID")) return bad("copyUIDGID is not supported");
    auto st = stat_file(c.lc, id, path);
    if (!st) return std::move(st).error();
    if (st->type != FileStat::Type::kDirectory) return bad("extraction point is not a directory: " + path);
    // The body streams in as it comes (DockerApi::streams_body); a request
    // built without the listener carries it whole.
    size_t used = 0;
    const std::string& body = c.req.body;
    ArchiveSource source = c.req.body_source ? ArchiveSource(c.req.body_source)
                                             : ArchiveSource([&](char* buf, size_t size) -> Result<size_t> {
                                                 size_t n = std::min(size, body.size() - used);
                                                 std::copy_n(body.data() + used, n, buf);
                                                 used += n;
                                                 return n;
                                               });
    KRUNBOX_ASSIGN_OR_RETURN(ExtractCounts counts, extract_archive(c.lc, id, path, source));
    (void)counts;
    HttpResponse r;
    r.content_type = "text/plain; charset=utf-8";
    return r;
  }
  auto st = stat_file(c.lc, id, path);
  if (!st) {
    if (st.error().code() == ErrorCode::kNotFound)
      return Error(ErrorCode::kNotFound, "Could not find the file " + path + " in container " + key);
    return std::move(st).error();
  }
  HttpResponse r;
  r.content_type = "application/x-tar";
  r.headers.emplace_back("X-Docker-Container-Path-Stat", image::base64_encode(serve::dump_json(path_stat_json(path, *st))));
  if (c.req.method == "HEAD") return r;
  r.stream = [id, path](const serve::ChunkWriter& write) {
    Lifecycle own;
    (void)write_archive(own, id, path, [&](std::string_view data) -> Status {
      if (write(data)) return {};
      return Error(ErrorCode::kCancelled, "the client went away");
    });
  };
  return r;
}

}  // namespace krunbox::docker
