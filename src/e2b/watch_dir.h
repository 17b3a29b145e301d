// filesystem.Filesystem/WatchDir without a watcher in the guest: the
// directory's listing is looked at every kWatchInterval through the
// sandbox's file tree (list_dir) and compared with the last look. So what
// happens between two looks is coalesced: a file made and removed in
// between is not seen, several writes are one, a rename is a remove and a
// create; a directory's own changes show only as its entries' events.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "base/json.h"
#include "sandbox/files_client.h"
#include "serve/http.h"

namespace krunbox::e2b {

inline constexpr std::chrono::milliseconds kWatchInterval{250};

// One look: each entry's lstat, by its name relative to the watched directory.
using Listing = std::map<std::string, FileStat>;

struct WatchEvent {
  std::string name;
  std::string type;  // "EVENT_TYPE_CREATE", "EVENT_TYPE_WRITE", "EVENT_TYPE_REMOVE", "EVENT_TYPE_CHMOD"
};

// What changed from `before` to `after`: removes, then creates, writes and
// mode changes, each in name order.
std::vector<WatchEvent> listing_changes(const Listing& before, const Listing& after);

// The WatchDir call ({path, recursive}); a server stream of start, then
// filesystem events and keepalives until the client goes, or an error
// (the directory gone, the sandbox stopped) ends it.
serve::HttpResponse watch_dir(const Json& message, const std::string& id, const std::string& user,
                              const serve::HttpRequest& request);

// The polled watchers (CreateWatcher, GetWatcherEvents, RemoveWatcher), as
// the Python SDK's synchronous watch_dir uses them: the same looks, taken
// when the client asks for events, so what happened between two asks is
// coalesced. At most kMaxWatchers are kept; past that the one asked for
// least recently is dropped.
class Watchers {
 public:
  static constexpr size_t kMaxWatchers = 256;
  // `id`: the running sandbox's krunbox id.
  Result<Json> call(const std::string& method, const Json& message, const std::string& id, const std::string& user);

 private:
  struct Watcher {
    std::string sandbox;
    std::string path;
    uint32_t depth = 1;
    Listing last;
    std::chrono::steady_clock::time_point used;
  };
  Result<Json> create(const Json& message, const std::string& id, const std::string& user);
  Result<Json> events(const std::string& watcher, const std::string& id);

  std::mutex mu_;
  std::map<std::string, Watcher> watchers_;  // by watcher id
};

}  // namespace krunbox::e2b
