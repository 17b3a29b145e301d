#include "sandbox/files_client.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <functional>

#include "sandbox/monitor_messages.h"
#include "sandbox/monitor_protocol.h"

namespace krunbox {
namespace {

using monitor::FrameType;

// Chunks of a put: well under the monitor's 1 MiB frame limit, big enough
// that framing costs nothing.
constexpr size_t kPutChunk = 256u << 10;

std::string in_sandbox(const std::string& path, const std::string& id) {
  return path + " in sandbox " + id.substr(0, 12);
}

Status check_path(const std::string& path) {
  if (path.empty() || path[0] != '/')
    return Error(ErrorCode::kInvalidArgument,
                 "the path '" + path + "' is not absolute; paths in a sandbox start at its root (/)");
  if (path.size() > proto::kMaxPath)
    return Error(ErrorCode::kLimitExceeded, "the path is " + std::to_string(path.size()) +
                                                " bytes, over the limit of " + std::to_string(proto::kMaxPath));
  if (path.find('\0') != std::string::npos) return Error(ErrorCode::kInvalidArgument, "the path holds a NUL byte");
  return {};
}

// A connection to the monitor of a running sandbox, with `request` sent.
Result<UniqueFd> open(Lifecycle& lc, const std::string& id, const monitor::Request& request) {
  KRUNBOX_ASSIGN_OR_RETURN(auto v, lc.view(id));
  KRUNBOX_TRY(require_running(v, id));
  return lc.open_request(id, request);
}

using Source = std::function<Result<size_t>(char* buf, size_t size)>;

Status put_from(Lifecycle& lc, const std::string& id, const std::string& path, const PutFileOptions& o,
                const Source& source) {
  KRUNBOX_TRY(check_path(path));
  if (o.mode > 07777)
    return Error(ErrorCode::kInvalidArgument,
                 "the mode " + std::to_string(o.mode) + " is more than permission bits (07777)");
  KRUNBOX_ASSIGN_OR_RETURN(auto conn, open(lc, id, monitor::PutRequest{path, o.mode, o.make_parents}));
  std::string buf(kPutChunk, '\0');
  Status sent;
  for (bool end = false; !end;) {
    // A chunk is filled before it goes: a source that trickles (a client's
    // socket gives a few KiB a read) would otherwise cost a frame, and the
    // relay's work for one, every few KiB.
    size_t filled = 0;
    while (filled < buf.size()) {
      auto n = source(buf.data() + filled, buf.size() - filled);
      // Without kDataEnd the monitor cancels the put: the old file stays.
      if (!n) return std::move(n).error();
      if (*n == 0) {
        end = true;
        break;
      }
      filled += *n;
    }
    if (filled > 0) sent = monitor::write_frame(conn.get(), FrameType::kData, std::string_view(buf.data(), filled));
    if (!sent.ok()) break;
    if (end) sent = monitor::write_frame(conn.get(), FrameType::kDataEnd, {});
  }
  // A monitor that refused (not running, the agent's error) answered and
  // closed: its reply says more than the failed write.
  auto reply = read_monitor_reply(conn.get(), id);
  if (!reply) return sent.ok() ? Status(std::move(reply).error()) : sent;
  KRUNBOX_TRY(sent);
  KRUNBOX_TRY(monitor::parse_put_done(*reply));
  return {};
}

Result<uint64_t> get_into(Lifecycle& lc, const std::string& id, const std::string& path,
                          const std::function<Status(std::string_view)>& sink) {
  KRUNBOX_TRY(check_path(path));
  KRUNBOX_ASSIGN_OR_RETURN(auto conn, open(lc, id, monitor::GetRequest{path}));
  uint64_t total = 0;
  for (;;) {
    KRUNBOX_ASSIGN_OR_RETURN(auto frame, monitor::read_frame(conn.get()));
    if (!frame)
      return Error(ErrorCode::kCancelled, "the monitor of sandbox " + id.substr(0, 12) +
                                              " ended the connection before the end of the file (see krunbox ps -a)");
    if (frame->type == FrameType::kData) {
      total += frame->payload.size();
      // Returning closes the connection, which cancels the agent's read.
      KRUNBOX_TRY(sink(frame->payload));
      continue;
    }
    if (frame->type != FrameType::kReply)
      return Error(ErrorCode::kProtocol, "the monitor of sandbox " + id.substr(0, 12) + " sent frame type " +
                                             std::to_string(static_cast<int>(frame->type)) + " in a file");
    KRUNBOX_ASSIGN_OR_RETURN(Json body, monitor::parse_reply(frame->payload));
    KRUNBOX_ASSIGN_OR_RETURN(auto done, monitor::parse_get_done(body));
    if (done.size != total)
      return Error(ErrorCode::kProtocol, "the monitor of sandbox " + id.substr(0, 12) + " sent " +
                                             std::to_string(total) + " bytes of a file of " +
                                             std::to_string(done.size));
    return total;
  }
}

FileStat::Type stat_type(const std::string& name) {
  if (name == "file") return FileStat::Type::kFile;
  if (name == "dir") return FileStat::Type::kDirectory;
  if (name == "symlink") return FileStat::Type::kSymlink;
  return FileStat::Type::kOther;
}

FileStat file_stat_of(const proto::FileStat& st) {
  FileStat out;
  out.type = stat_type(st.type);
  out.mode = st.mode;
  out.size = st.size;
  out.uid = st.uid;
  out.gid = st.gid;
  out.mtime_ns = st.mtime_ns;
  out.symlink_target = st.target;
  return out;
}

}  // namespace

Status put_file(Lifecycle& lc, const std::string& id, const std::string& guest_path, std::string_view data,
                const PutFileOptions& options) {
  size_t off = 0;
  return put_from(lc, id, guest_path, options,
                  [&](char* buf, size_t size) -> Result<size_t> {
                    size_t n = std::min(size, data.size() - off);
                    std::copy_n(data.data() + off, n, buf);
                    off += n;
                    return n;
                  })
      .wrap("writing " + in_sandbox(guest_path, id));
}

Status put_file_from_fd(Lifecycle& lc, const std::string& id, const std::string& guest_path, int src_fd,
                        const PutFileOptions& options) {
  return put_from(lc, id, guest_path, options,
                  [src_fd](char* buf, size_t size) -> Result<size_t> {
                    for (;;) {
                      ssize_t n = ::read(src_fd, buf, size);
                      if (n >= 0) return static_cast<size_t>(n);
                      if (errno != EINTR) return Error::from_errno("reading the file to write");
                    }
                  })
      .wrap("writing " + in_sandbox(guest_path, id));
}

Result<std::string> get_file(Lifecycle& lc, const std::string& id, const std::string& guest_path, size_t max_bytes) {
  std::string out;
  auto got = get_into(lc, id, guest_path, [&](std::string_view d) -> Status {
    if (out.size() + d.size() > max_bytes)
      return Error(ErrorCode::kLimitExceeded, "the file is larger than " + std::to_string(max_bytes) +
                                                  " bytes, the most it may have here; stream it into a file instead");
    out.append(d);
    return {};
  });
  if (!got) return std::move(got).error().wrap("reading " + in_sandbox(guest_path, id));
  return out;
}

Result<uint64_t> get_file_to_fd(Lifecycle& lc, const std::string& id, const std::string& guest_path, int dst_fd) {
  return get_into(lc, id, guest_path, [dst_fd](std::string_view d) { return write_all(dst_fd, d.data(), d.size()); })
      .wrap("reading " + in_sandbox(guest_path, id));
}

Result<uint64_t> get_file_stream(Lifecycle& lc, const std::string& id, const std::string& guest_path,
                                 const std::function<Status(std::string_view)>& sink) {
  return get_into(lc, id, guest_path, sink).wrap("reading " + in_sandbox(guest_path, id));
}

Status put_file_stream(Lifecycle& lc, const std::string& id, const std::string& guest_path,
                       const std::function<Result<size_t>(char* buf, size_t size)>& source,
                       const PutFileOptions& options) {
  return put_from(lc, id, guest_path, options, source).wrap("writing " + in_sandbox(guest_path, id));
}

Result<FileStat> stat_file(Lifecycle& lc, const std::string& id, const std::string& guest_path) {
  auto run = [&]() -> Result<FileStat> {
    KRUNBOX_TRY(check_path(guest_path));
    KRUNBOX_ASSIGN_OR_RETURN(auto conn, open(lc, id, monitor::StatRequest{guest_path}));
    KRUNBOX_ASSIGN_OR_RETURN(Json body, read_monitor_reply(conn.get(), id));
    KRUNBOX_ASSIGN_OR_RETURN(auto st, monitor::parse_stat_reply(body));
    return file_stat_of(st);
  };
  return run().wrap("stat of " + in_sandbox(guest_path, id));
}

Result<DirListing> list_dir(Lifecycle& lc, const std::string& id, const std::string& guest_path, uint32_t depth) {
  auto run = [&]() -> Result<DirListing> {
    KRUNBOX_TRY(check_path(guest_path));
    if (depth < 1 || depth > proto::kMaxListDepth)
      return Error(ErrorCode::kInvalidArgument,
                   "the depth must be 1 to " + std::to_string(proto::kMaxListDepth) + ", not " + std::to_string(depth));
    KRUNBOX_ASSIGN_OR_RETURN(auto conn, open(lc, id, monitor::ListDirRequest{guest_path, depth}));
    // The monitor's lines, checked as the agent's are: a clean relative name each.
    DirListing out;
    std::string pending;
    size_t received = 0;
    for (;;) {
      KRUNBOX_ASSIGN_OR_RETURN(auto frame, monitor::read_frame(conn.get()));
      if (!frame)
        return Error(ErrorCode::kCancelled,
                     "the monitor of sandbox " + id.substr(0, 12) + " ended the connection before the listing's end");
      if (frame->type == FrameType::kReply) {
        KRUNBOX_ASSIGN_OR_RETURN(Json body, monitor::parse_reply(frame->payload));
        KRUNBOX_ASSIGN_OR_RETURN(auto done, monitor::parse_list_done(body));
        if (!pending.empty() || done.entries != out.entries.size())
          return Error(ErrorCode::kProtocol, "the monitor of sandbox " + id.substr(0, 12) + " announced " +
                                                 std::to_string(done.entries) + " entries and sent " +
                                                 std::to_string(out.entries.size()));
        out.truncated = done.truncated;
        return out;
      }
      if (frame->type != FrameType::kData)
        return Error(ErrorCode::kProtocol, "the monitor of sandbox " + id.substr(0, 12) + " sent frame type " +
                                               std::to_string(static_cast<int>(frame->type)) + " in a listing");
      received += frame->payload.size();
      if (received > 2 * proto::kMaxListBytes)
        return Error(ErrorCode::kProtocol, "the monitor of sandbox " + id.substr(0, 12) + " sent an oversized listing");
      pending += frame->payload;
      size_t start = 0;
      for (size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
        KRUNBOX_ASSIGN_OR_RETURN(auto e, proto::parse_dir_entry(std::string_view(pending).substr(start, nl - start)));
        if (out.entries.size() >= proto::kMaxListEntries)
          return Error(ErrorCode::kProtocol, "the monitor of sandbox " + id.substr(0, 12) + " sent too many entries");
        out.entries.push_back({std::move(e.name), file_stat_of(e.stat)});
      }
      pending.erase(0, start);
    }
  };
  return run().wrap("listing " + in_sandbox(guest_path, id));
}

Status make_dir(Lifecycle& lc, const std::string& id, const std::string& guest_path, const MakeDirOptions& o) {
  auto run = [&]() -> Status {
    KRUNBOX_TRY(check_path(guest_path));
    if (o.mode > 07777) return Error(ErrorCode::kInvalidArgument, "the mode must be permission bits (at most 07777)");
    KRUNBOX_ASSIGN_OR_RETURN(auto conn, open(lc, id, monitor::MakeDirRequest{guest_path, o.mode, o.parents}));
    return status_of(read_monitor_reply(conn.get(), id));
  };
  return run().wrap("making directory " + in_sandbox(guest_path, id));
}

Status move_path(Lifecycle& lc, const std::string& id, const std::string& from, const std::string& to) {
  auto run = [&]() -> Status {
    KRUNBOX_TRY(check_path(from));
    KRUNBOX_TRY(check_path(to));
    KRUNBOX_ASSIGN_OR_RETURN(auto conn, open(lc, id, monitor::MovePathRequest{from, to}));
    return status_of(read_monitor_reply(conn.get(), id));
  };
  return run().wrap("moving " + in_sandbox(from, id) + " to " + to);
}

Status remove_path(Lifecycle& lc, const std::string& id, const std::string& guest_path, bool recursive) {
  auto run = [&]() -> Status {
    KRUNBOX_TRY(check_path(guest_path));
    KRUNBOX_ASSIGN_OR_RETURN(auto conn, open(lc, id, monitor::RemovePathRequest{guest_path, recursive}));
    return status_of(read_monitor_reply(conn.get(), id));
  };
  return run().wrap("removing " + in_sandbox(guest_path, id));
}

}  // namespace krunbox
