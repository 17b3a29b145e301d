// GET /events: what happens to containers (and images loaded, pulled or
// removed through this API) in Docker's event shape. One recorder thread
// follows the sandboxes' records with the library's watcher
// (sandbox/events.h) and keeps the latest events, so `since` can replay the
// recent past as Docker's daemon does; each /events request reads that log.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/json.h"
#include "docker/query.h"
#include "krunbox/error.h"
#include "serve/http.h"

namespace krunbox::docker {

// An event as Docker's clients read it: Type, Action, Actor{ID, Attributes},
// scope, time, timeNano (and the old status/id/from of container events).
struct DockerEvent {
  std::string type;    // "container", "image"
  std::string action;  // create, start, pause, unpause, die, destroy; pull, load, delete
  std::string id;
  std::map<std::string, std::string> attributes;
  int64_t time_nano = 0;
};
Json to_json(const DockerEvent& e);

// Docker's event filters: container (id, id prefix or name), type, event
// (the action), image and label (KEY or KEY=VALUE, against the attributes).
struct EventFilter {
  Filters filters;
  static Result<EventFilter> parse(std::string_view json);
  bool matches(const DockerEvent& e) const;
};

// A `since`/`until` value: unix seconds with an optional fraction
// ("1700000000.5"), or an RFC 3339 time; in nanoseconds.
Result<int64_t> parse_event_time(std::string_view text);

class EventLog {
 public:
  // Events kept for replay; older ones are dropped.
  static constexpr size_t kKept = 1024;

  EventLog();
  // Starts the recorder (once). `krunbox serve` calls it; a handler in a
  // test that never asks for events touches no records.
  void start();
  void add(DockerEvent e);
  // Events with a sequence number above `after`, waiting up to `timeout`
  // for one; `after` is moved past what is returned.
  std::vector<DockerEvent> wait(uint64_t& after, std::chrono::milliseconds timeout);
  // Everything kept, and the sequence number to follow from.
  std::vector<DockerEvent> kept(uint64_t& last) const;

 private:
  struct Shared {
    mutable std::mutex mu;
    std::condition_variable cv;
    std::deque<DockerEvent> events;
    uint64_t last = 0;  // sequence number of events.back()
    bool started = false;
  };
  static void add(Shared& s, DockerEvent e);
  static void record(std::shared_ptr<Shared> s);
  std::shared_ptr<Shared> shared_;
};

Result<serve::HttpResponse> events_endpoint(EventLog& log, const DockerQuery& query);

}  // namespace krunbox::docker
