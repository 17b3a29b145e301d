#include "e2b/sandboxes.h"

namespace krunbox::e2b {

std::string e2b_id_of(const std::string& krunbox_id) { return krunbox_id.substr(0, kIdChars); }

bool is_e2b_id(std::string_view id) {
  if (id.size() != kIdChars) return false;
  for (char c : id)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

Result<SandboxView> find_sandbox(Lifecycle& lc, std::string_view e2b_id) {
  auto missing = [&] { return Error(ErrorCode::kNotFound, "sandbox " + std::string(e2b_id) + " not found"); };
  // Only ids: resolve() also takes names, which are not E2B's to reach.
  if (!is_e2b_id(e2b_id)) return missing();
  auto id = lc.resolve(std::string(e2b_id));
  if (!id) return missing();
  auto view = lc.view(*id);
  if (!view) return std::move(view).error();
  if (!view->config.labels.contains(kTemplateLabel)) return missing();
  return view;
}

bool is_live(const SandboxView& view) {
  return view.status.state == SandboxState::kRunning || view.status.state == SandboxState::kPaused ||
         view.status.state == SandboxState::kStarting;
}

std::map<std::string, std::string> metadata_of(const SandboxView& view) {
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : view.config.labels)
    if (k.rfind("krunbox.e2b/", 0) != 0) out.emplace(k, v);
  return out;
}

std::string state_of(const SandboxView& view) {
  return view.status.state == SandboxState::kPaused ? "paused" : "running";
}

}  // namespace krunbox::e2b
