// AgentClient's directory operations: list, mkdir, move, remove. A listing
// arrives as lines of JSON on stream 1; it is held to what the agent's
// RESPONSE announced, which is itself bounded, since the agent is hostile.
#include <optional>

#include "proto/agent_client.h"
#include "proto/frame.h"

namespace krunbox::proto {
namespace {

// What the agent would take as a protocol error (ending the connection and
// every session on it) is caught here as the caller's mistake instead.
Status check_path(std::string_view op, const std::string& path) {
  std::string what = std::string(op) + " '" + path.substr(0, 256) + "'";
  if (path.empty() || path[0] != '/') return Error(ErrorCode::kInvalidArgument, what + ": not an absolute path");
  if (path.size() > kMaxPath)
    return Error(ErrorCode::kInvalidArgument, what + ": longer than " + std::to_string(kMaxPath) + " bytes");
  if (path.find('\0') != std::string::npos) return Error(ErrorCode::kInvalidArgument, what + ": holds a NUL byte");
  return {};
}

// Splits the list stream into entries, within the announced lines and bytes.
class ListingReader {
 public:
  explicit ListingReader(const ListStarted& started) : started_(started) { out_.truncated = started.truncated; }

  Status feed(std::string_view data) {
    received_ += data.size();
    if (received_ > started_.size)
      return Error(ErrorCode::kProtocol,
                   "the agent sent more than the " + std::to_string(started_.size) + " bytes of listing it announced");
    while (!data.empty()) {
      size_t nl = data.find('\n');
      std::string_view piece = data.substr(0, nl);
      if (partial_.size() + piece.size() > kMaxControlPayload)
        return Error(ErrorCode::kProtocol,
                     "a list entry from the agent is longer than " + std::to_string(kMaxControlPayload) + " bytes");
      partial_.append(piece);
      if (nl == std::string_view::npos) return {};
      data.remove_prefix(nl + 1);
      if (out_.entries.size() >= started_.entries)
        return Error(ErrorCode::kProtocol,
                     "the agent sent more than the " + std::to_string(started_.entries) + " list entries it announced");
      KRUNBOX_ASSIGN_OR_RETURN(DirEntry e, parse_dir_entry(partial_));
      partial_.clear();
      out_.entries.push_back(std::move(e));
    }
    return {};
  }

  Result<DirListing> finish() && {
    if (!partial_.empty() || received_ != started_.size || out_.entries.size() != started_.entries)
      return Error(ErrorCode::kProtocol, "the listing ended before the " + std::to_string(started_.entries) +
                                             " entries and " + std::to_string(started_.size) +
                                             " bytes the agent announced");
    return std::move(out_);
  }

 private:
  ListStarted started_;
  DirListing out_;
  std::string partial_;
  uint64_t received_ = 0;
};

}  // namespace

Result<DirListing> AgentClient::list_dir(const std::string& guest_path, uint32_t depth) {
  KRUNBOX_TRY(check_path("list", guest_path));
  if (depth < 1 || depth > kMaxListDepth)
    return Error(ErrorCode::kInvalidArgument, "list " + guest_path + ": depth " + std::to_string(depth) +
                                                  " is not in 1.." + std::to_string(kMaxListDepth));
  std::optional<ListingReader> reader;
  auto started = [&](const Json& body) -> Status {
    KRUNBOX_ASSIGN_OR_RETURN(ListStarted s, parse_list_started(body));
    reader.emplace(s);
    return {};
  };
  KRUNBOX_TRY_CTX(
      download(ListRequest{guest_path, depth}, started, [&](std::string_view data) { return reader->feed(data); }),
      "list");
  return std::move(*reader).finish().wrap("list " + guest_path);
}

Status AgentClient::make_dir(const std::string& guest_path, const MkdirOptions& options) {
  KRUNBOX_TRY(check_path("mkdir", guest_path));
  if (options.mode > 07777)
    return Error(ErrorCode::kInvalidArgument,
                 "mkdir " + guest_path + ": mode " + std::to_string(options.mode) + " is more than permission bits");
  KRUNBOX_TRY(simple_request(MkdirRequest{guest_path, options.mode, options.uid, options.gid, options.parents}));
  return {};
}

Status AgentClient::move(const std::string& from, const std::string& to) {
  KRUNBOX_TRY(check_path("move", from));
  KRUNBOX_TRY(check_path("move", to));
  KRUNBOX_TRY(simple_request(MoveRequest{from, to}));
  return {};
}

Status AgentClient::remove(const std::string& guest_path, bool recursive) {
  KRUNBOX_TRY(check_path("remove", guest_path));
  KRUNBOX_TRY(simple_request(RemoveRequest{guest_path, recursive}));
  return {};
}

}  // namespace krunbox::proto
