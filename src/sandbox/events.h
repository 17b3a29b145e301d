// What happens to sandboxes, as it happens: creates, starts, pauses, exits,
// crashes and removals, whoever caused them (any front end, a monitor, the
// time to live). Seen from the sandboxes' records, since they are the one
// place every change is written: inotify wakes the watcher at each write,
// and a poll every two seconds catches what writes nothing (a monitor
// killed outright turns into a crash only once someone looks).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/json.h"
#include "base/unique_fd.h"
#include "krunbox/error.h"
#include "sandbox/lifecycle.h"

namespace krunbox {

struct SandboxEvent {
  // created, started, paused, resumed, exited, crashed, removed. A sandbox
  // that restarted between two looks gets exited then started.
  std::string type;
  std::string id;
  std::string name;
  std::string state;             // its state after the event ("removed": its last)
  std::optional<int> exit_code;  // the main process's, 128+N for signal N
  std::string reason;
  std::map<std::string, std::string> labels;
  int64_t time_unix_ms = 0;  // when it was noticed
};

// Which events a watcher's caller wants: one of `types` (if any are given),
// of one of `sandboxes` (full ids, id prefixes or names; if any), with
// every label filter matching.
struct SandboxEventFilter {
  std::vector<std::string> types;
  std::vector<std::string> sandboxes;
  std::vector<LabelFilter> labels;
};
bool matches(const SandboxEvent& event, const SandboxEventFilter& filter);
// {type, id, name, state, exit_code (null if none), reason, labels, time_unix_ms}
Json to_json(const SandboxEvent& event);

class SandboxWatcher {
 public:
  // Takes the present as its starting point: only later changes are events.
  static Result<SandboxWatcher> open(Lifecycle& lifecycle);

  // The changes since the last call, in the order found; waits up to
  // `timeout` for the first one (an empty list: nothing happened).
  Result<std::vector<SandboxEvent>> next(std::chrono::milliseconds timeout);
  // Only sleeps: until a record of a sandbox that existed at the last look
  // is written, or `timeout`. For loops that wait for one sandbox's state
  // (Docker's wait, auto-remove) and re-read it themselves.
  void await_change(std::chrono::milliseconds timeout) { (void)wait_for_change(timeout); }

 private:
  struct Seen {
    SandboxState state = SandboxState::kCreated;
    int64_t run = 0;
    std::string name;
    std::map<std::string, std::string> labels;
  };
  SandboxWatcher(Lifecycle& lifecycle, UniqueFd inotify) : lifecycle_(&lifecycle), inotify_(std::move(inotify)) {}
  Result<std::map<std::string, SandboxView>> look();
  void watch_dirs(const std::vector<std::string>& ids);
  std::vector<SandboxEvent> diff(const std::map<std::string, SandboxView>& now);
  bool wait_for_change(std::chrono::milliseconds timeout);

  Lifecycle* lifecycle_;
  UniqueFd inotify_;
  std::map<std::string, Seen> seen_;
  std::map<std::string, int> watched_;  // sandbox id -> watch descriptor
};

// Every event type, for callers that filter by type.
std::vector<std::string> sandbox_event_types();

}  // namespace krunbox
