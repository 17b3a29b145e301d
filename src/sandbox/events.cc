#include "sandbox/events.h"

#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>

#include "base/paths.h"

namespace krunbox {
namespace {

constexpr std::chrono::milliseconds kPoll{2000};
constexpr uint32_t kRootMask = IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM | IN_ONLYDIR;
constexpr uint32_t kDirMask = IN_MOVED_TO | IN_CLOSE_WRITE | IN_DELETE_SELF;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

SandboxEvent event_of(std::string type, const std::string& id, const SandboxView& v) {
  SandboxEvent e;
  e.type = std::move(type);
  e.id = id;
  e.name = v.config.spec.name;
  e.state = std::string(to_string(v.status.state));
  if (v.status.exit_status) e.exit_code = v.status.exit_status->shell_code();
  e.reason = v.status.reason;
  e.labels = v.config.labels;
  e.time_unix_ms = now_ms();
  return e;
}

bool is_up(SandboxState s) {
  return s == SandboxState::kRunning || s == SandboxState::kPaused;
}

}  // namespace

bool matches(const SandboxEvent& e, const SandboxEventFilter& f) {
  if (!f.types.empty() && std::find(f.types.begin(), f.types.end(), e.type) == f.types.end()) return false;
  if (!f.sandboxes.empty()) {
    bool any = std::any_of(f.sandboxes.begin(), f.sandboxes.end(), [&](const std::string& key) {
      return key == e.name || e.id.compare(0, key.size(), key) == 0;
    });
    if (!any) return false;
  }
  return matches_labels(e.labels, f.labels);
}

Json to_json(const SandboxEvent& e) {
  return {{"type", e.type},
          {"id", e.id},
          {"name", e.name},
          {"state", e.state},
          {"exit_code", e.exit_code ? Json(*e.exit_code) : Json(nullptr)},
          {"reason", e.reason},
          {"labels", e.labels},
          {"time_unix_ms", e.time_unix_ms}};
}

std::vector<std::string> sandbox_event_types() {
  return {"created", "started", "paused", "resumed", "exited", "crashed", "removed"};
}

Result<SandboxWatcher> SandboxWatcher::open(Lifecycle& lifecycle) {
  UniqueFd fd(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!fd) return Error::from_errno("inotify for the sandboxes' records");
  const std::string& root = lifecycle.store().root();
  KRUNBOX_TRY_CTX(ensure_private_dir(root), "the sandboxes' records");
  if (::inotify_add_watch(fd.get(), root.c_str(), kRootMask) < 0) return Error::from_errno("watching " + root);
  SandboxWatcher w(lifecycle, std::move(fd));
  KRUNBOX_ASSIGN_OR_RETURN(auto now, w.look());
  for (const auto& [id, v] : now) w.seen_[id] = Seen{v.status.state, v.status.run, v.config.spec.name, v.config.labels};
  return w;
}

Result<std::map<std::string, SandboxView>> SandboxWatcher::look() {
  KRUNBOX_ASSIGN_OR_RETURN(auto ids, lifecycle_->store().list());
  // Watches first, so a change made while we read is not missed.
  watch_dirs(ids);
  std::map<std::string, SandboxView> out;
  for (const auto& id : ids) {
    // One removed or half-made while we look is simply not there yet.
    auto v = lifecycle_->view(id);
    if (v) out.emplace(id, std::move(*v));
  }
  return out;
}

void SandboxWatcher::watch_dirs(const std::vector<std::string>& ids) {
  for (auto it = watched_.begin(); it != watched_.end();) {
    if (!std::binary_search(ids.begin(), ids.end(), it->first)) {
      (void)::inotify_rm_watch(inotify_.get(), it->second);
      it = watched_.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto& id : ids) {
    if (watched_.count(id)) continue;
    int wd = ::inotify_add_watch(inotify_.get(), lifecycle_->store().dir(id).c_str(), kDirMask);
    if (wd >= 0) watched_[id] = wd;
  }
}

std::vector<SandboxEvent> SandboxWatcher::diff(const std::map<std::string, SandboxView>& now) {
  std::vector<SandboxEvent> out;
  for (const auto& [id, v] : now) {
    SandboxState s = v.status.state;
    auto it = seen_.find(id);
    if (it == seen_.end()) {
      out.push_back(event_of("created", id, v));
      if (is_up(s)) out.push_back(event_of("started", id, v));
      if (s == SandboxState::kStopped) out.push_back(event_of("exited", id, v));
      if (s == SandboxState::kCrashed) out.push_back(event_of("crashed", id, v));
      seen_[id] = Seen{s, v.status.run, v.config.spec.name, v.config.labels};
      continue;
    }
    Seen& was = it->second;
    bool new_run = v.status.run != was.run;
    if (new_run && is_up(was.state)) out.push_back(event_of("exited", id, v));
    if (s != was.state || new_run) {
      if (s == SandboxState::kRunning && was.state == SandboxState::kPaused && !new_run)
        out.push_back(event_of("resumed", id, v));
      else if (is_up(s) && (!is_up(was.state) || new_run))
        out.push_back(event_of("started", id, v));
      if (s == SandboxState::kPaused) out.push_back(event_of("paused", id, v));
      if (s == SandboxState::kStopped && s != was.state) out.push_back(event_of("exited", id, v));
      if (s == SandboxState::kCrashed && s != was.state) out.push_back(event_of("crashed", id, v));
    }
    was.state = s;
    was.run = v.status.run;
  }
  for (auto it = seen_.begin(); it != seen_.end();) {
    if (now.count(it->first)) {
      ++it;
      continue;
    }
    SandboxEvent e;
    e.type = "removed";
    e.id = it->first;
    e.name = it->second.name;
    e.state = std::string(to_string(it->second.state));
    e.labels = it->second.labels;
    e.time_unix_ms = now_ms();
    out.push_back(std::move(e));
    it = seen_.erase(it);
  }
  return out;
}

bool SandboxWatcher::wait_for_change(std::chrono::milliseconds timeout) {
  pollfd p{inotify_.get(), POLLIN, 0};
  int n = ::poll(&p, 1, static_cast<int>(timeout.count()));
  if (n <= 0) return false;
  // Drain: one look answers every notification so far. Writes come in
  // bursts (temp file, rename), so let the burst finish first.
  ::usleep(20 * 1000);
  alignas(inotify_event) char buf[16384];
  while (::read(inotify_.get(), buf, sizeof buf) > 0) {
  }
  return true;
}

Result<std::vector<SandboxEvent>> SandboxWatcher::next(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() < 0) left = std::chrono::milliseconds(0);
    (void)wait_for_change(std::min(left, kPoll));
    KRUNBOX_ASSIGN_OR_RETURN(auto now, look());
    auto events = diff(now);
    if (!events.empty() || std::chrono::steady_clock::now() >= deadline) return events;
  }
}

}  // namespace krunbox
