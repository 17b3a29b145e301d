#include "docker/events.h"

#include <algorithm>
#include <charconv>
#include <ctime>
#include <thread>

#include "base/log.h"
#include "sandbox/events.h"
#include "sandbox/lifecycle.h"
#include "serve/responses.h"

namespace krunbox::docker {
namespace {

Error bad(std::string message) {
  return Error(ErrorCode::kInvalidArgument, std::move(message));
}

int64_t now_nano() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The library's event types in Docker's words.
std::string docker_action(const std::string& type) {
  if (type == "created") return "create";
  if (type == "started") return "start";
  if (type == "paused") return "pause";
  if (type == "resumed") return "unpause";
  if (type == "exited" || type == "crashed") return "die";
  if (type == "removed") return "destroy";
  return type;
}

const std::vector<std::string> kFilterNames = {"container", "type", "event", "image", "label"};

}  // namespace

Json to_json(const DockerEvent& e) {
  Json j = {{"Type", e.type},
            {"Action", e.action},
            {"Actor", {{"ID", e.id}, {"Attributes", e.attributes}}},
            {"scope", "local"},
            {"time", e.time_nano / 1000000000},
            {"timeNano", e.time_nano}};
  // Clients before API 1.22 read these; Docker still sends them for containers.
  if (e.type == "container") {
    j["status"] = e.action;
    j["id"] = e.id;
    if (auto it = e.attributes.find("image"); it != e.attributes.end()) j["from"] = it->second;
  }
  return j;
}

Result<EventFilter> EventFilter::parse(std::string_view json) {
  EventFilter f;
  KRUNBOX_ASSIGN_OR_RETURN(f.filters, parse_filters(json));
  for (const auto& [name, values] : f.filters) {
    if (std::find(kFilterNames.begin(), kFilterNames.end(), name) == kFilterNames.end())
      return bad("invalid filter '" + name.substr(0, 64) + "' (container, type, event, image, label)");
    if (name == "label")
      for (const auto& v : values) KRUNBOX_TRY_CTX(parse_label_filter(v), "filter label=" + v.substr(0, 64));
  }
  return f;
}

bool EventFilter::matches(const DockerEvent& e) const {
  auto attr = [&](const char* key) {
    auto it = e.attributes.find(key);
    return it == e.attributes.end() ? std::string() : it->second;
  };
  for (const auto& [name, values] : filters) {
    if (values.empty()) continue;
    if (name == "label") {
      std::vector<LabelFilter> labels;
      for (const auto& v : values)
        if (auto l = parse_label_filter(v)) labels.push_back(*l);
      if (!matches_labels(e.attributes, labels)) return false;
      continue;
    }
    const std::string& filter = name;  // clang 14 cannot capture a structured binding
    bool any = std::any_of(values.begin(), values.end(), [&](const std::string& v) {
      if (filter == "type") return e.type == v;
      if (filter == "event") return e.action == v;
      if (filter == "image") return attr("image") == v || (e.type == "image" && e.id == v);
      // container: the id, a prefix of it, or the name.
      return e.type == "container" && !v.empty() && (e.id.rfind(v, 0) == 0 || attr("name") == v);
    });
    if (!any) return false;
  }
  return true;
}

// The latest time in nanoseconds an int64 holds: the year 2255.
constexpr int64_t kMaxEventSeconds = 9000000000;

Result<int64_t> parse_event_time(std::string_view text) {
  auto invalid = [&] {
    return bad("invalid time \"" + std::string(text.substr(0, 64)) +
               "\": give unix seconds (1700000000, 1700000000.5) or an RFC 3339 time");
  };
  if (text.empty()) return invalid();
  if (text.find('T') != std::string_view::npos) {
    std::tm tm{};
    std::string t(text.substr(0, 19));
    if (text.size() < 20 || !strptime(t.c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) return invalid();
    std::string_view rest = text.substr(19);
    int64_t frac = 0;
    if (rest.starts_with(".")) {
      size_t n = 1;
      int64_t scale = 100000000;
      for (; n < rest.size() && isdigit(static_cast<unsigned char>(rest[n])); ++n, scale /= 10)
        if (scale > 0) frac += (rest[n] - '0') * scale;
      rest = rest.substr(n);
    }
    int64_t offset = 0;
    if (rest == "Z") {
    } else if (rest.size() == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':') {
      int h = 0, m = 0;
      if (std::from_chars(rest.data() + 1, rest.data() + 3, h).ec != std::errc() ||
          std::from_chars(rest.data() + 4, rest.data() + 6, m).ec != std::errc())
        return invalid();
      offset = (rest[0] == '+' ? 1 : -1) * (h * 3600 + m * 60);
    } else {
      return invalid();
    }
    int64_t secs = static_cast<int64_t>(timegm(&tm)) - offset;
    if (secs < 0 || secs > kMaxEventSeconds) return invalid();
    return secs * 1000000000 + frac;
  }
  size_t dot = text.find('.');
  std::string_view whole = text.substr(0, dot), fraction = dot == std::string_view::npos ? "" : text.substr(dot + 1);
  int64_t secs = 0;
  auto [p, ec] = std::from_chars(whole.data(), whole.data() + whole.size(), secs);
  if (ec != std::errc() || p != whole.data() + whole.size() || secs < 0 || secs > kMaxEventSeconds) return invalid();
  if (fraction.size() > 9 ||
      !std::all_of(fraction.begin(), fraction.end(), [](char c) { return isdigit(static_cast<unsigned char>(c)); }))
    return invalid();
  int64_t nanos = 0;
  for (size_t i = 0; i < 9; ++i) nanos = nanos * 10 + (i < fraction.size() ? fraction[i] - '0' : 0);
  return secs * 1000000000 + nanos;
}

EventLog::EventLog() : shared_(std::make_shared<Shared>()) {}

void EventLog::start() {
  {
    std::lock_guard lock(shared_->mu);
    if (shared_->started) return;
    shared_->started = true;
  }
  // Detached: it follows the records for as long as the server runs.
  std::thread(record, shared_).detach();
}

void EventLog::add(DockerEvent e) {
  add(*shared_, std::move(e));
}

void EventLog::add(Shared& s, DockerEvent e) {
  if (e.time_nano == 0) e.time_nano = now_nano();
  {
    std::lock_guard lock(s.mu);
    s.events.push_back(std::move(e));
    ++s.last;
    if (s.events.size() > kKept) s.events.pop_front();
  }
  s.cv.notify_all();
}

void EventLog::record(std::shared_ptr<Shared> s) {
  Lifecycle lc;
  std::map<std::string, std::string> images;  // sandbox id -> image, for events after it is gone
  for (;;) {
    auto watcher = SandboxWatcher::open(lc);
    if (!watcher) {
      KB_WARN("docker events: {}", watcher.error().what());
      std::this_thread::sleep_for(std::chrono::seconds(2));
      continue;
    }
    for (;;) {
      auto events = watcher->next(std::chrono::seconds(60));
      if (!events) {
        KB_WARN("docker events: {}", events.error().what());
        break;
      }
      for (const auto& e : *events) {
        if (!images.contains(e.id))
          if (auto v = lc.view(e.id)) images[e.id] = v->config.image;
        DockerEvent d;
        d.type = "container";
        d.action = docker_action(e.type);
        d.id = e.id;
        d.attributes = e.labels;
        d.attributes["name"] = e.name.empty() ? e.id.substr(0, 12) : e.name;
        d.attributes["image"] = images[e.id];
        if (d.action == "die") d.attributes["exitCode"] = std::to_string(e.exit_code.value_or(-1));
        d.time_nano = e.time_unix_ms * 1000000;
        if (e.type == "removed") images.erase(e.id);
        add(*s, std::move(d));
      }
    }
  }
}

std::vector<DockerEvent> EventLog::kept(uint64_t& last) const {
  std::lock_guard lock(shared_->mu);
  last = shared_->last;
  return {shared_->events.begin(), shared_->events.end()};
}

std::vector<DockerEvent> EventLog::wait(uint64_t& after, std::chrono::milliseconds timeout) {
  std::unique_lock lock(shared_->mu);
  shared_->cv.wait_for(lock, timeout, [&] { return shared_->last > after; });
  std::vector<DockerEvent> out;
  uint64_t fresh = shared_->last - after;
  // Events dropped from the log before this reader got to them are lost to it.
  size_t n = static_cast<size_t>(std::min<uint64_t>(fresh, shared_->events.size()));
  out.assign(shared_->events.end() - static_cast<std::ptrdiff_t>(n), shared_->events.end());
  after = shared_->last;
  return out;
}

Result<serve::HttpResponse> events_endpoint(EventLog& log, const DockerQuery& query) {
  std::optional<int64_t> since, until;
  if (auto t = query.get("since"); t && !t->empty()) {
    KRUNBOX_ASSIGN_OR_RETURN(since, parse_event_time(*t).wrap("since"));
  }
  if (auto t = query.get("until"); t && !t->empty()) {
    KRUNBOX_ASSIGN_OR_RETURN(until, parse_event_time(*t).wrap("until"));
  }
  if (since && until && *until < *since) return bad("until is before since");
  KRUNBOX_ASSIGN_OR_RETURN(EventFilter filter, EventFilter::parse(query.get("filters").value_or("")));
  serve::HttpResponse r;
  r.stream = [log, since, until, filter](const serve::ChunkWriter& write) mutable {
    auto in_range = [&](const DockerEvent& e) {
      return (!since || e.time_nano >= *since) && (!until || e.time_nano <= *until);
    };
    uint64_t seq = 0;
    std::vector<DockerEvent> past = log.kept(seq);
    // Without `since` only what happens from now on, as Docker.
    if (since) {
      std::string lines;
      for (const auto& e : past)
        if (in_range(e) && filter.matches(e)) lines += serve::dump_json(to_json(e)) + "\n";
      if (!lines.empty() && !write(lines)) return;
    }
    for (;;) {
      int64_t now = now_nano();
      if (until && now > *until) return;
      auto timeout = std::chrono::milliseconds(60000);
      if (until) timeout = std::min(timeout, std::chrono::milliseconds((*until - now) / 1000000 + 1));
      std::string lines;
      for (const auto& e : log.wait(seq, timeout))
        if (in_range(e) && filter.matches(e)) lines += serve::dump_json(to_json(e)) + "\n";
      if (!lines.empty() && !write(lines)) return;
    }
  };
  return r;
}

}  // namespace krunbox::docker
