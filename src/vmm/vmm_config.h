// What krunbox-vmm is asked to boot: one JSON document written by the krun
// backend or krunclient. It is parsed as untrusted input (the helper may be
// run by hand): every field is checked against a limit, unknown keys are
// refused, and errors name the field. See docs/backends/krun.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "krunbox/error.h"

namespace krunbox::vmm {

struct VmmLimits {
  size_t max_document_bytes = 1u << 20;
  size_t max_path = 4096;
  size_t max_args = 4096;
  size_t max_env = 4096;
  size_t max_string = 64 * 1024;
  size_t max_ports = 256;
  size_t max_vsock_ports = 16;
  size_t max_rlimits = 32;
  uint32_t max_vcpus = 255;  // krun_set_vm_config takes a uint8_t
  uint32_t max_memory_mib = 1024 * 1024;
};

enum class VmmNetwork { kTsi, kPasst, kNone };

struct VmmVsockPort {
  uint32_t port = 0;
  std::string path;   // host unix socket
  bool listen = false;  // false: the guest connects, the host must already listen
};

struct VmmRlimit {
  int resource = 0;  // numeric RLIMIT_*
  uint64_t soft = 0;
  uint64_t hard = 0;
};

struct VmmConfig {
  std::string root;              // the root directory (an image root, or a private one)
  bool root_is_private = false;  // use `root` as is; otherwise overlay it under state_dir
  std::string state_dir;         // upper/work/merged for the overlay (required unless private)
  std::string agent;             // host path of krunbox-agent, placed at kAgentGuestPath
  std::string exec_path;         // the guest program
  std::vector<std::string> args;  // without argv[0]
  std::vector<std::string> env;   // KEY=VALUE; exactly what the guest gets
  std::string workdir;            // empty: libkrun's default
  uint32_t vcpus = 1;
  uint32_t memory_mib = 512;
  std::vector<VmmVsockPort> vsock_ports;
  std::vector<std::string> port_map;  // "host:guest"
  VmmNetwork network = VmmNetwork::kTsi;
  std::string console_log;  // empty: no console file
  uint32_t log_level = 0;   // 0-5: off..trace
  std::vector<VmmRlimit> rlimits;
};

// Where the agent appears inside the guest; the overlay places it there, the
// image is never written.
inline constexpr const char* kAgentGuestPath = "/.krunbox/krunbox-agent";

Result<VmmConfig> parse_vmm_config(std::string_view text, const VmmLimits& limits = {});
std::string to_json(const VmmConfig& config);

// "nofile" / "7" -> RLIMIT_NOFILE; refuses unknown names and numbers.
Result<int> rlimit_from_name(std::string_view name);

}  // namespace krunbox::vmm
