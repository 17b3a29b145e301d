#include "docker/state.h"

#include <thread>

#include "base/log.h"
#include "docker/container_json.h"
#include "sandbox/events.h"
#include "sandbox/lifecycle.h"

namespace krunbox::docker {

DockerState::DockerState() : shared_(std::make_shared<Shared>()) {}

void DockerState::watch_auto_remove(const std::string& id) {
  {
    std::lock_guard lock(shared_->mu);
    if (!shared_->watching.insert(id).second) return;
  }
  // Detached: it outlives any request; the server ends with the process.
  std::thread([shared = shared_, id] {
    Lifecycle lc;
    // Woken by the sandbox's record changing, not on a timer.
    auto watcher = SandboxWatcher::open(lc);
    for (;;) {
      auto v = lc.view(id);
      if (!v) break;  // removed by someone else
      auto s = v->status.state;
      bool ended = (s == SandboxState::kStopped || s == SandboxState::kCrashed) && !v->status.restarting;
      if (ended) {
        remember(*shared, id, docker_exit_code(*v));
        for (int i = 0; i < 500; ++i) {
          {
            std::lock_guard lock(shared->mu);
            if (!shared->attached.contains(id)) break;
          }
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        if (auto r = lc.remove(id, /*force=*/true); !r)
          KB_WARN("auto-remove of {}: {}", id.substr(0, 12), r.error().what());
        break;
      }
      if (watcher) watcher->await_change(std::chrono::milliseconds(500));
      else std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    std::lock_guard lock(shared->mu);
    shared->watching.erase(id);
  }).detach();
}

void DockerState::remember(Shared& s, const std::string& id, int code) {
  std::lock_guard lock(s.mu);
  auto now = std::chrono::steady_clock::now();
  std::erase_if(s.exits, [&](const auto& e) { return now - e.second.second > std::chrono::minutes(1); });
  s.exits[id] = {code, now};
}

void DockerState::remember_exit(const std::string& id, int code) { remember(*shared_, id, code); }

std::optional<int> DockerState::removed_exit(const std::string& id) {
  std::lock_guard lock(shared_->mu);
  auto it = shared_->exits.find(id);
  if (it == shared_->exits.end()) return std::nullopt;
  return it->second.first;
}

DockerState::Attached::Attached(DockerState& state, std::string id) : shared_(state.shared_), id_(std::move(id)) {
  auto& s = *static_cast<Shared*>(shared_.get());
  std::lock_guard lock(s.mu);
  ++s.attached[id_];
}

DockerState::Attached::~Attached() {
  auto& s = *static_cast<Shared*>(shared_.get());
  std::lock_guard lock(s.mu);
  if (--s.attached[id_] <= 0) s.attached.erase(id_);
}

}  // namespace krunbox::docker
