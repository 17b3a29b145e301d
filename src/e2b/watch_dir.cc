#include "e2b/watch_dir.h"

#include <algorithm>
#include <thread>

#include "backend/sandbox_spec.h"
#include "e2b/entry.h"
#include "e2b/rpc_stream.h"
#include "proto/messages.h"
#include "sandbox/lifecycle.h"

namespace krunbox::e2b {
namespace {

struct WatchSpec {
  std::string path;
  uint32_t depth = 1;
  Listing first;
};

Result<Listing> look(Lifecycle& lc, const std::string& id, const std::string& path, uint32_t depth) {
  KRUNBOX_ASSIGN_OR_RETURN(DirListing listing, list_dir(lc, id, path, depth));
  // Past the agent's bound, entries would seem to come and go at random.
  if (listing.truncated)
    return Error(ErrorCode::kLimitExceeded, "directory " + path + " holds more than " +
                                                std::to_string(proto::kMaxListEntries) +
                                                " entries, more than a watch can look at; watch a smaller one");
  Listing out;
  for (auto& e : listing.entries) out.emplace(std::move(e.name), e.stat);
  return out;
}

Result<WatchSpec> watch_spec(const Json& m, const std::string& id, const std::string& user) {
  if (!m.contains("path") || !m["path"].is_string())
    return Error(ErrorCode::kInvalidArgument, "path (the directory to watch) is required");
  if (m.value("includeEntry", false) == true)
    return Error(ErrorCode::kUnsupported, "includeEntry (envd 0.6.3) is not served by krunbox; watch without it");
  WatchSpec spec;
  KRUNBOX_ASSIGN_OR_RETURN(spec.path, resolve_path(m["path"].get<std::string>(), user));
  // envd watches a whole tree when recursive; a look reaches kMaxListDepth.
  spec.depth = m.value("recursive", false) == true ? proto::kMaxListDepth : 1;
  Lifecycle lc;
  KRUNBOX_ASSIGN_OR_RETURN(FileStat st, stat_file(lc, id, spec.path));
  if (st.type != FileStat::Type::kDirectory)
    return Error(ErrorCode::kInvalidArgument, "path " + spec.path + " is not a directory");
  KRUNBOX_ASSIGN_OR_RETURN(spec.first, look(lc, id, spec.path, spec.depth));
  return spec;
}

bool same_content(const FileStat& a, const FileStat& b) {
  // A directory's size and time change with its entries, which have events of their own.
  if (a.type == FileStat::Type::kDirectory) return true;
  return a.size == b.size && a.mtime_ns == b.mtime_ns && a.symlink_target == b.symlink_target;
}

}  // namespace

std::vector<WatchEvent> listing_changes(const Listing& before, const Listing& after) {
  std::vector<WatchEvent> removed, rest;
  for (const auto& [name, st] : before) {
    auto it = after.find(name);
    if (it == after.end() || it->second.type != st.type) removed.push_back({name, "EVENT_TYPE_REMOVE"});
  }
  for (const auto& [name, st] : after) {
    auto it = before.find(name);
    if (it == before.end() || it->second.type != st.type) {
      rest.push_back({name, "EVENT_TYPE_CREATE"});
      continue;
    }
    if (!same_content(it->second, st)) rest.push_back({name, "EVENT_TYPE_WRITE"});
    if (it->second.mode != st.mode || it->second.uid != st.uid || it->second.gid != st.gid)
      rest.push_back({name, "EVENT_TYPE_CHMOD"});
  }
  removed.insert(removed.end(), rest.begin(), rest.end());
  return removed;
}

serve::HttpResponse watch_dir(const Json& message, const std::string& id, const std::string& user,
                              const serve::HttpRequest& request) {
  auto spec = watch_spec(message, id, user);
  if (!spec) return stream_error(RpcError::of(spec.error()));
  // Keepalives at least every 5 s, more often than the SDK asks (50 s): the
  // write that fails is how a watch learns its client went away.
  auto interval = keepalive_interval(request);
  if (interval.count() == 0 || interval > std::chrono::seconds(5)) interval = std::chrono::seconds(5);
  return stream_response([id, spec = std::move(*spec), interval](const serve::ChunkWriter& write) mutable {
    static const Json keepalive = {{"keepalive", Json::object()}};
    RpcStream out(write, keepalive, interval);
    if (!out.send({{"start", Json::object()}})) return;
    Lifecycle lc;
    Listing last = std::move(spec.first);
    while (!out.gone()) {
      std::this_thread::sleep_for(kWatchInterval);
      auto now = look(lc, id, spec.path, spec.depth);
      if (!now) {
        out.finish(RpcError::of(now.error()));
        return;
      }
      for (const auto& e : listing_changes(last, *now))
        if (!out.send({{"filesystem", {{"name", e.name}, {"type", e.type}}}})) return;
      last = std::move(*now);
    }
  });
}

Result<Json> Watchers::create(const Json& message, const std::string& id, const std::string& user) {
  KRUNBOX_ASSIGN_OR_RETURN(WatchSpec spec, watch_spec(message, id, user));
  std::string watcher = generate_sandbox_id().substr(0, 32);
  std::lock_guard lock(mu_);
  if (watchers_.size() >= kMaxWatchers) {
    auto oldest = std::min_element(watchers_.begin(), watchers_.end(),
                                   [](const auto& a, const auto& b) { return a.second.used < b.second.used; });
    watchers_.erase(oldest);
  }
  watchers_[watcher] = {id, std::move(spec.path), spec.depth, std::move(spec.first), std::chrono::steady_clock::now()};
  return Json{{"watcherId", watcher}};
}

Result<Json> Watchers::events(const std::string& watcher, const std::string& id) {
  Watcher w;
  {
    std::lock_guard lock(mu_);
    auto it = watchers_.find(watcher);
    // Another sandbox's watcher is as unknown here as a made-up one.
    if (it == watchers_.end() || it->second.sandbox != id)
      return Error(ErrorCode::kNotFound, "watcher " + watcher + " not found (removed, or dropped as the oldest of " +
                                             std::to_string(kMaxWatchers) + ")");
    w = it->second;
  }
  Lifecycle lc;
  auto now = look(lc, id, w.path, w.depth);
  std::lock_guard lock(mu_);
  auto it = watchers_.find(watcher);
  if (!now) {
    // The directory or the sandbox is gone: so is the watcher.
    if (it != watchers_.end()) watchers_.erase(it);
    return std::move(now).error();
  }
  Json events = Json::array();
  for (const auto& e : listing_changes(w.last, *now)) events.push_back({{"name", e.name}, {"type", e.type}});
  if (it != watchers_.end()) {
    it->second.last = std::move(*now);
    it->second.used = std::chrono::steady_clock::now();
  }
  return Json{{"events", std::move(events)}};
}

Result<Json> Watchers::call(const std::string& method, const Json& message, const std::string& id,
                            const std::string& user) {
  if (method == "CreateWatcher") return create(message, id, user);
  if (!message.contains("watcherId") || !message["watcherId"].is_string())
    return Error(ErrorCode::kInvalidArgument, "watcherId (from CreateWatcher) is required");
  std::string watcher = message["watcherId"].get<std::string>();
  if (method == "GetWatcherEvents") return events(watcher, id);
  std::lock_guard lock(mu_);
  auto it = watchers_.find(watcher);
  if (it == watchers_.end() || it->second.sandbox != id)
    return Error(ErrorCode::kNotFound, "watcher " + watcher + " not found");
  watchers_.erase(it);
  return Json::object();
}

}  // namespace krunbox::e2b
