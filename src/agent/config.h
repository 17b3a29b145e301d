// The agent's configuration: command-line flags, and when booted as init the
// kernel command line (krunbox.*=) and environment (KRUNBOX_AGENT_*).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "agent/network.h"
#include "base/log.h"
#include "krunbox/error.h"
#include "proto/messages.h"

namespace krunbox::agent {

enum class TransportKind { kFd, kVsockListen, kVsockConnect, kVirtioSerial, kUnixListen };

struct TransportSpec {
  TransportKind kind = TransportKind::kFd;
  int fd = -1;
  uint32_t cid = 2;  // vsock connect: the host
  uint32_t port = 0;
  std::string name;  // virtio-serial port name, or unix socket path

  std::string describe() const;
};

// "fd:3", "vsock-listen:1024", "vsock-connect:1024", "vsock-connect:2:1024",
// "virtio-serial:krunbox.agent", "unix-listen:/run/agent.sock".
Result<TransportSpec> parse_transport(std::string_view spec);

enum class InitMode { kAuto, kOn, kOff };

struct AgentConfig {
  std::optional<TransportSpec> transport;
  std::optional<LogLevel> log_level;
  std::string hostname;
  // .ko paths, loaded in this order; an entry may carry module parameters
  // after the path ("/lib/modules/virtio_blk.ko queue_depth=128").
  std::vector<std::string> modules;
  std::string modules_file;  // one entry a line; '#' comments
  // VMs booted from an initramfs: the block device holding the sandbox's
  // read-only root (EROFS), overlaid with tmpfs and switched to before serving.
  std::string root_device;
  // VMs with a NIC: its address, route and DNS (krunbox.ip=, krunbox.gateway=,
  // krunbox.dns=), configured before serving.
  std::optional<GuestNetwork> network;
  // The virtio-serial port relaying published UDP ports (krunbox.udp=).
  std::string udp_relay_port;
  proto::ShutdownAction shutdown_action = proto::ShutdownAction::kDefault;
  InitMode init = InitMode::kAuto;
  // How long a transport that must be opened (virtio-serial, after modules
  // load) may take to appear.
  uint32_t transport_wait_ms = 10000;
  bool show_version = false;
  bool show_help = false;
};

Result<AgentConfig> parse_args(int argc, const char* const* argv);
// Fills what the flags left unset from the kernel command line text and then
// from the environment.
Status apply_boot_params(AgentConfig& config, std::string_view cmdline, const std::vector<std::string>& env);
// Reads modules_file (if set) and appends its entries to modules.
Status load_modules_file(AgentConfig& config);

// One entry of the module list: the path, and the parameters (if any) that
// follow it after blanks, as finit_module takes them.
struct ModuleEntry {
  std::string path;
  std::string params;
};
ModuleEntry parse_module_entry(std::string_view entry);

std::string usage();

}  // namespace krunbox::agent
