#include "backend/probe.h"

#include <algorithm>

namespace krunbox {

std::string_view to_string(IsolationLevel level) {
  switch (level) {
    case IsolationLevel::kNone: return "none";
    case IsolationLevel::kContainer: return "container";
    case IsolationLevel::kVm: return "vm";
  }
  return "none";
}

Json BackendReport::to_json() const {
  Json j;
  j["backend"] = backend;
  j["isolation"] = to_string(level);
  j["isolation_detail"] = isolation;
  j["usable"] = usable;
  j["reasons"] = reasons;
  Json cs = Json::array();
  for (const auto& c : checks) cs.push_back({{"name", c.name}, {"ok", c.ok}, {"detail", c.detail}});
  j["checks"] = cs;
  return j;
}

BackendReport probe_mock() {
  BackendReport r;
  r.backend = "mock";
  r.level = IsolationLevel::kNone;
  r.isolation = "none (in-process fake for tests)";
  r.usable = true;
  r.checks.push_back({"in-process", true, "always available; never picked when the backend is auto"});
  return r;
}

std::vector<BackendReport> probe_all_backends() {
  return {probe_krun(), probe_qemu_with_kvm_boot(), probe_native(), probe_mock()};
}

std::optional<BackendReport> pick_auto_backend(const std::vector<BackendReport>& reports) {
  std::optional<BackendReport> best;
  for (const auto& r : reports) {
    if (!r.usable || r.level == IsolationLevel::kNone) continue;
    if (!best || r.level > best->level || (r.level == best->level && r.preference > best->preference)) best = r;
  }
  return best;
}

}  // namespace krunbox
