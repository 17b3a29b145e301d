// What the Docker API keeps between requests: only what Docker's semantics
// need beyond the sandboxes' records. Containers created with AutoRemove are
// watched and removed when their run ends, and their exit code is kept a
// while so a `wait?condition=removed` still reports it.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "docker/events.h"

namespace krunbox::docker {

class DockerState {
 public:
  DockerState();
  // Starts (once per id) a thread that removes sandbox `id` once its
  // current run has ended.
  void watch_auto_remove(const std::string& id);
  // The exit code of an auto-removed sandbox, for a minute after removal.
  std::optional<int> removed_exit(const std::string& id);
  void remember_exit(const std::string& id, int code);

  // What GET /events reads (started by `krunbox serve`, DockerApi::record_events).
  EventLog events;

  // An attach stream in progress on `id`: AutoRemove waits (up to 10 s)
  // for it to drain the output before removing the log with the sandbox.
  class Attached {
   public:
    Attached(DockerState& state, std::string id);
    ~Attached();
    Attached(const Attached&) = delete;
    Attached& operator=(const Attached&) = delete;

   private:
    std::shared_ptr<void> shared_;
    std::string id_;
  };

 private:
  struct Shared {
    std::mutex mu;
    std::set<std::string> watching;
    std::map<std::string, std::pair<int, std::chrono::steady_clock::time_point>> exits;
    std::map<std::string, int> attached;
  };
  // Shared with the watchers, which may outlive this.
  std::shared_ptr<Shared> shared_;
  static void remember(Shared& s, const std::string& id, int code);
};

}  // namespace krunbox::docker
