// What a sandbox is made of, validated before anything starts. Built with
// SandboxSpecBuilder so every field is checked against the limits below with
// an error naming the field, the value and the limit.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "krunbox/error.h"

namespace krunbox {

struct SpecLimits {
  uint32_t max_vcpus = 64;
  uint32_t min_memory_mib = 32;
  uint32_t max_memory_mib = 256 * 1024;
  size_t max_env_entries = 4096;
  size_t max_env_bytes = 256 * 1024;  // all KEY=VALUE strings together
  size_t max_argv_entries = 4096;
  size_t max_argv_bytes = 256 * 1024;
  size_t max_volumes = 64;
  size_t max_ports = 256;
  size_t max_path = 4096;
  uint32_t max_pids = 1u << 22;
};

enum class PortProtocol { kTcp, kUdp };

struct PortMapping {
  std::string host_ip = "127.0.0.1";
  uint16_t host_port = 0;  // 0: pick a free port
  uint16_t guest_port = 0;
  PortProtocol protocol = PortProtocol::kTcp;
  bool operator==(const PortMapping&) const = default;
};
std::string_view to_string(PortProtocol protocol);  // "tcp", "udp"
// IP:HOST:GUEST/PROTOCOL, as parse_port_mapping reads it.
std::string to_string(const PortMapping& mapping);

struct VolumeMount {
  std::string host_path;
  std::string guest_path;
  bool read_only = false;
  // Native sandboxes mount volumes nosuid,nodev unless these are set (the
  // "suid" and "dev" options): setuid files and device nodes in a volume
  // then act inside the sandbox as on the host.
  bool allow_suid = false;
  bool allow_devices = false;
  bool operator==(const VolumeMount&) const = default;
};

enum class NetworkMode {
  kNone,  // loopback only
  kHost,  // native only: share the host's network namespace
  kUser,  // VMs: user-mode outbound networking; the host's loopback stays out of reach
  kUserWithHostLoopback,  // VMs: outbound, and the gateway address reaches the host's 127.0.0.1
};
// "none", "host", "user", "user,host-loopback".
std::string_view to_string(NetworkMode mode);
Result<NetworkMode> parse_network_mode(std::string_view text);
// Whether the mode gives a VM outbound networking.
inline bool is_outbound(NetworkMode m) { return m == NetworkMode::kUser || m == NetworkMode::kUserWithHostLoopback; }

// How a VM backend runs the guest's CPU. kAuto: KVM where it is known (or
// found) to boot the guest, else emulation; the others insist.
enum class VmAccel { kAuto, kKvm, kTcg };
std::string_view to_string(VmAccel accel);
// "auto", "kvm" or "tcg".
Result<VmAccel> parse_vm_accel(std::string_view text);

struct SandboxSpec {
  std::string id;        // generated if empty
  std::string name;
  std::string rootfs;    // the image root; never modified unless rootfs_is_private
  // The rootfs is already this sandbox's own writable root (e.g. an overlay
  // the image layer prepared): use it as is instead of layering over it.
  bool rootfs_is_private = false;
  // Names the content of a pristine rootfs made from an image (its top
  // layer's chain ID); backends cache what they derive from the root (the
  // qemu disk image) under it. Empty: they derive a key from the tree.
  std::string rootfs_content_key;
  std::vector<std::string> argv;  // the workload; empty means the image default
  std::vector<std::string> env;   // KEY=VALUE
  std::string cwd = "/";
  std::string user;               // "UID[:GID]" or a name resolved in the guest; empty = root
  std::string hostname;
  uint32_t vcpus = 1;
  uint32_t memory_mib = 512;
  std::optional<uint32_t> pids_limit;
  std::vector<PortMapping> ports;
  std::vector<VolumeMount> volumes;
  NetworkMode network = NetworkMode::kNone;
  bool user_namespace = false;
  VmAccel accel = VmAccel::kAuto;
  bool tty = false;
  std::chrono::seconds timeout{0};  // 0: none
};

// Parsers for the CLI's spellings; each rejects hostile input with an error naming it.
// -p [IP:]HOST:GUEST[/tcp|udp]
Result<PortMapping> parse_port_mapping(std::string_view text);
// -v HOST:GUEST[:ro|:rw]
Result<VolumeMount> parse_volume(std::string_view text);
// -e KEY=VALUE (or KEY alone: taken from `lookup`, skipped if unset there)
Result<std::optional<std::string>> parse_env_entry(std::string_view text, const char* (*lookup)(const char*));
// --env-file: one KEY=VALUE per line, # comments and blank lines skipped.
Result<std::vector<std::string>> parse_env_file(std::string_view content, std::string_view file_name);
bool is_valid_hostname(std::string_view name);

class SandboxSpecBuilder {
 public:
  explicit SandboxSpecBuilder(SpecLimits limits = {}) : limits_(limits) {}
  // Starts from `base` (unchecked until build()).
  explicit SandboxSpecBuilder(SandboxSpec base, SpecLimits limits = {}) : limits_(limits), spec_(std::move(base)) {}

  SandboxSpecBuilder& id(std::string v) { spec_.id = std::move(v); return *this; }
  SandboxSpecBuilder& name(std::string v) { spec_.name = std::move(v); return *this; }
  SandboxSpecBuilder& rootfs(std::string v) { spec_.rootfs = std::move(v); return *this; }
  SandboxSpecBuilder& rootfs_is_private(bool on) { spec_.rootfs_is_private = on; return *this; }
  SandboxSpecBuilder& rootfs_content_key(std::string v) { spec_.rootfs_content_key = std::move(v); return *this; }
  SandboxSpecBuilder& command(std::vector<std::string> v) { spec_.argv = std::move(v); return *this; }
  SandboxSpecBuilder& env(std::string kv) { spec_.env.push_back(std::move(kv)); return *this; }
  SandboxSpecBuilder& cwd(std::string v) { spec_.cwd = std::move(v); return *this; }
  SandboxSpecBuilder& user(std::string v) { spec_.user = std::move(v); return *this; }
  SandboxSpecBuilder& hostname(std::string v) { spec_.hostname = std::move(v); return *this; }
  SandboxSpecBuilder& vcpus(uint32_t v) { spec_.vcpus = v; return *this; }
  SandboxSpecBuilder& memory_mib(uint32_t v) { spec_.memory_mib = v; return *this; }
  SandboxSpecBuilder& pids_limit(uint32_t v) { spec_.pids_limit = v; return *this; }
  SandboxSpecBuilder& port(PortMapping p) { spec_.ports.push_back(std::move(p)); return *this; }
  SandboxSpecBuilder& volume(VolumeMount v) { spec_.volumes.push_back(std::move(v)); return *this; }
  SandboxSpecBuilder& network(NetworkMode m) { spec_.network = m; return *this; }
  SandboxSpecBuilder& user_namespace(bool on) { spec_.user_namespace = on; return *this; }
  SandboxSpecBuilder& accel(VmAccel a) { spec_.accel = a; return *this; }
  SandboxSpecBuilder& tty(bool on) { spec_.tty = on; return *this; }
  SandboxSpecBuilder& timeout(std::chrono::seconds t) { spec_.timeout = t; return *this; }

  // Validates everything and fills defaults (id, hostname).
  Result<SandboxSpec> build() const;

 private:
  SpecLimits limits_;
  SandboxSpec spec_;
};

// A fresh random sandbox id: 64 hex digits, like docker's container ids.
std::string generate_sandbox_id();

}  // namespace krunbox
