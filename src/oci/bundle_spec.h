// A parsed bundle (bundle_config.h) as a krunbox sandbox: the SandboxSpec
// the monitor runs and the backend it runs on. The mapping, and what is
// ignored or refused, is the table in docs/oci-runtime.md.
#pragma once

#include <string>
#include <vector>

#include "backend/sandbox_spec.h"
#include "krunbox/error.h"
#include "oci/bundle_config.h"

namespace krunbox::oci {

// Annotations krunbox reads from a bundle.
inline constexpr const char* kBackendAnnotation = "io.krunbox.backend";  // native | qemu | krun
inline constexpr const char* kVcpusAnnotation = "io.krunbox.vcpus";
inline constexpr const char* kMemoryAnnotation = "io.krunbox.memory";  // MiB

struct SandboxPlan {
  SandboxSpec spec;
  std::string backend;
  std::string rootfs;              // absolute path of the root directory
  std::vector<std::string> notes;  // what was ignored, for --debug
};

// `bundle`: the bundle directory (absolute); `sandbox_id`: the id the
// sandbox gets. Checks that the root directory and bind sources exist.
Result<SandboxPlan> plan_sandbox(const BundleConfig& config, const std::string& bundle, const std::string& sandbox_id);

}  // namespace krunbox::oci
