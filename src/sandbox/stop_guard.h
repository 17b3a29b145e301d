// Stops an ephemeral sandbox (run, sh) on every path out of the code that
// started it.
#pragma once

#include <chrono>
#include <utility>

#include "backend/sandbox.h"
#include "base/log.h"

namespace krunbox {

class StopGuard {
 public:
  StopGuard(Sandbox* sandbox, std::chrono::milliseconds grace) : sandbox_(sandbox), grace_(grace) {}
  StopGuard(const StopGuard&) = delete;
  StopGuard& operator=(const StopGuard&) = delete;
  ~StopGuard() {
    if (sandbox_ && !is_terminal(sandbox_->state())) {
      if (auto st = sandbox_->stop(grace_); !st.ok()) KB_WARN("stopping sandbox {}: {}", sandbox_->id(), st.error().what());
    }
  }
  // After the workload ended: like Docker when a container's main process
  // exits, whatever it left running is killed at once, without a grace period.
  Status stop_after_workload() {
    Sandbox* s = std::exchange(sandbox_, nullptr);
    if (!s || is_terminal(s->state())) return {};
    return s->stop(std::chrono::milliseconds(0));
  }

 private:
  Sandbox* sandbox_;
  std::chrono::milliseconds grace_;
};

}  // namespace krunbox
