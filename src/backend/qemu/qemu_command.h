// The QEMU command line of one sandbox, built only from values krunbox
// controls: nothing from the image or the user reaches the kernel command
// line or QEMU's option parser unescaped.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "backend/qemu/qemu_assets.h"
#include "backend/sandbox_spec.h"
#include "krunbox/error.h"

namespace krunbox {

// The name of the virtio-serial port the agent talks on.
inline constexpr const char* kAgentPortName = "krunbox.agent";
// The virtio-serial port that carries published UDP ports (proto/udp_frame.h).
inline constexpr const char* kUdpRelayPortName = "krunbox.udp";

// QEMU's user-mode network (slirp): the guest's address (where hostfwd
// delivers published ports), the gateway (which is also the host's
// loopback) and the DNS forwarder. The agent configures eth0 with them.
inline constexpr const char* kGuestAddress = "10.0.2.15/24";
inline constexpr const char* kGuestGateway = "10.0.2.2";
inline constexpr const char* kGuestDns = "10.0.2.3";

struct QemuMachine {
  std::string qemu_binary = "qemu-system-x86_64";
  bool kvm = false;
  uint32_t vcpus = 1;
  uint32_t memory_mib = 512;
  QemuAssets assets;
  std::string root_image;    // read-only EROFS image of the rootfs; empty: the agent serves from the initramfs
  std::string agent_socket;  // unix socket for the virtio-serial agent port
  std::string udp_socket;    // unix socket for the UDP relay port; only with UDP ports
  std::string qmp_socket;
  std::string console_log;
  std::vector<PortMapping> ports;
  // Outbound networking: the NIC is on passt (passt_socket), not on QEMU's
  // slirp, whose gateway always reaches the host's loopback. Without it, a
  // NIC for published ports is on slirp with restrict=on (nothing out).
  bool outbound_network = false;
  bool host_loopback = false;  // outbound only: let 10.0.2.2 reach the host's 127.0.0.1
  std::string passt_socket;
  uint64_t tsc_khz = 0;  // 0: leave calibration to the kernel
  std::string hostname;
  // The agent's log level (krunbox.log=), e.g. "debug" to see its boot
  // milestones in the console log; empty leaves the agent's default.
  std::string guest_log_level;
};

// Whether the machine publishes UDP ports, which go through the relay port
// whatever the network (slirp with restrict=on drops the guest's answers;
// passt without the gateway mapped gives them a source the guest cannot
// answer).
bool has_udp_ports(const QemuMachine& m);

// passt for a machine with outbound networking: foreground, one client
// (QEMU), IPv4, the guest's static address, DNS queries to kGuestDns sent to
// the host's resolver, the published ports, and (unless host_loopback) no
// mapping of the gateway to the host. `runas`: "UID:GID" to drop to, or empty.
Result<std::vector<std::string>> passt_argv(const std::string& passt_binary, const QemuMachine& m,
                                            const std::string& runas);

// Reads the host TSC frequency in kHz (from /proc/cpuinfo's "cpu MHz"); 0 if unknown.
uint64_t host_tsc_khz();

// The kernel command line; every value is checked to hold only safe characters.
Result<std::string> qemu_kernel_cmdline(const QemuMachine& m);
Result<std::vector<std::string>> qemu_argv(const QemuMachine& m);

}  // namespace krunbox
