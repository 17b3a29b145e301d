// Which krunbox sandboxes the E2B surface sees, and by what id: those it
// made (they carry kTemplateLabel), named by the first kIdChars of their
// krunbox id (a sandbox id is a DNS label in the SDK's host names, so the
// full 64 digits would not fit). Shared by the control plane and envd.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "base/json.h"
#include "krunbox/error.h"
#include "sandbox/lifecycle.h"

namespace krunbox::e2b {

inline constexpr const char* kTemplateLabel = "krunbox.e2b/template";
inline constexpr size_t kIdChars = 20;
// The envd version the SDK is told: the newest whose features are all
// served (0.5.7: closing stdin and octet-stream uploads; 0.6.2 would
// promise file metadata).
inline constexpr const char* kEnvdVersion = "0.5.7";
// A sandbox's main process: it only keeps the sandbox up.
inline const std::vector<std::string> kKeepAliveCommand = {"sleep", "2147483647"};

std::string e2b_id_of(const std::string& krunbox_id);
bool is_e2b_id(std::string_view id);

// The E2B sandbox `e2b_id` names: kNotFound when there is none, or it was
// not made through the E2B surface.
Result<SandboxView> find_sandbox(Lifecycle& lifecycle, std::string_view e2b_id);

// Whether E2B calls it alive: running or paused. Others (stopped by their
// time to live, crashed) are gone, and removed when next seen.
bool is_live(const SandboxView& view);

// The user's metadata: its labels without the surface's own.
std::map<std::string, std::string> metadata_of(const SandboxView& view);

// "running" or "paused".
std::string state_of(const SandboxView& view);

}  // namespace krunbox::e2b
