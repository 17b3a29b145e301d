// An OCI bundle's config.json (runtime-spec 1.x), read strictly where it
// matters and bounded everywhere: what a container asks for, in the spec's
// own terms, before it becomes a sandbox (bundle_spec.h). Unknown
// properties are ignored, as the runtime spec requires of runtimes; known
// ones that krunbox cannot honour are refused by name, and the ones it
// ignores on purpose are listed in docs/oci-runtime.md.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/json.h"
#include "krunbox/error.h"

namespace krunbox::oci {

// Bounds on what a bundle may hold; past them the bundle is refused.
inline constexpr size_t kMaxConfigBytes = 4u << 20;
inline constexpr size_t kMaxArrayEntries = 4096;  // args, env, mounts' options, ...
inline constexpr size_t kMaxMounts = 256;
inline constexpr size_t kMaxAnnotations = 1024;
inline constexpr size_t kMaxStringBytes = 64 * 1024;

struct ProcessConfig {
  std::vector<std::string> args;
  std::vector<std::string> env;  // KEY=VALUE
  std::string cwd = "/";
  uint32_t uid = 0;
  uint32_t gid = 0;
  bool terminal = false;
};

struct MountConfig {
  std::string destination;  // absolute, without ".."
  std::string type;
  std::string source;
  std::vector<std::string> options;
};

struct BundleConfig {
  std::string oci_version;
  ProcessConfig process;
  std::string root_path;  // as written: absolute or relative to the bundle
  bool root_readonly = false;
  std::string hostname;
  std::vector<MountConfig> mounts;
  std::optional<int64_t> memory_limit;  // bytes
  std::optional<int64_t> cpu_quota;     // µs per period
  std::optional<uint64_t> cpu_period;   // µs
  std::optional<int64_t> pids_limit;
  // linux.namespaces: whether a network namespace is asked for, and the
  // one to join if it names a path.
  bool network_namespace = false;
  std::string network_namespace_path;
  bool user_namespace = false;
  std::map<std::string, std::string> annotations;
};

// config.json's text; errors say what is wrong and where ("process.args[2]").
Result<BundleConfig> parse_bundle_config(std::string_view text);
// A process object on its own (exec --process FILE).
Result<ProcessConfig> parse_process_config(std::string_view text);
Result<ProcessConfig> process_from_json(const Json& j, const std::string& where);

}  // namespace krunbox::oci
