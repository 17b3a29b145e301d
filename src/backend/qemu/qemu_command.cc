#include "backend/qemu/qemu_command.h"

#include <algorithm>
#include <cmath>

#include "base/fs.h"

namespace krunbox {
namespace {

// QEMU splits option values at commas; a path holding one must not be able
// to add options. We only pass paths we made, so we refuse rather than escape.
Status check_option_value(std::string_view what, std::string_view value) {
  if (value.empty()) return Error(ErrorCode::kInvalidArgument, std::string(what) + " is empty");
  for (char c : value)
    if (c == ',' || c == '\0' || c == '\n')
      return Error(ErrorCode::kInvalidArgument, std::string(what) + " '" + std::string(value) +
                                                    "' contains a character QEMU's option syntax cannot carry");
  return {};
}

bool cmdline_safe(std::string_view v) {
  return !v.empty() && std::all_of(v.begin(), v.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_' || c == ':';
  });
}

bool has_network(const QemuMachine& m) {
  return m.outbound_network || !m.ports.empty();
}

}  // namespace

bool has_udp_ports(const QemuMachine& m) {
  return std::any_of(m.ports.begin(), m.ports.end(), [](const PortMapping& p) { return p.protocol == PortProtocol::kUdp; });
}

uint64_t host_tsc_khz() {
  auto cpuinfo = read_file("/proc/cpuinfo", 4u << 20);
  if (!cpuinfo) return 0;
  auto pos = cpuinfo->find("cpu MHz");
  if (pos == std::string::npos) return 0;
  auto colon = cpuinfo->find(':', pos);
  if (colon == std::string::npos) return 0;
  double mhz = std::strtod(cpuinfo->c_str() + colon + 1, nullptr);
  return mhz > 0 ? static_cast<uint64_t>(std::llround(mhz * 1000)) : 0;
}

Result<std::string> qemu_kernel_cmdline(const QemuMachine& m) {
  // console on the 8250 UART (microvm's isa-serial), captured to a log file;
  // panic=-1 + reboot=t + -no-reboot turn a guest panic into QEMU exiting.
  // init_on_free=1: freed guest pages are zeroed, so one workload's freed
  // data is not left for the next, and a checkpoint's memory stream (where
  // zero pages cost nothing) carries only what is in use: a fifth smaller
  // for an idle guest.
  std::string cmdline = "console=ttyS0 reboot=t panic=-1 quiet loglevel=3 rdinit=/init init_on_free=1";
  cmdline += " krunbox.transport=virtio-serial:";
  cmdline += kAgentPortName;
  if (!m.root_image.empty()) cmdline += " krunbox.root=/dev/vda";
  // Network drivers only for a sandbox with a network device: loading and
  // probing them is a noticeable part of a boot under emulation.
  cmdline += " krunbox.modules_file=/etc/krunbox/";
  cmdline += has_network(m) ? "modules-net" : "modules";
  if (has_network(m)) {
    cmdline += std::string(" krunbox.ip=") + kGuestAddress + " krunbox.gateway=" + kGuestGateway +
               " krunbox.dns=" + kGuestDns;
  }
  if (has_udp_ports(m)) cmdline += std::string(" krunbox.udp=") + kUdpRelayPortName;
  if (!m.hostname.empty()) {
    if (!cmdline_safe(m.hostname))
      return Error(ErrorCode::kInvalidArgument, "hostname '" + m.hostname + "' cannot go on the kernel command line");
    cmdline += " krunbox.hostname=" + m.hostname;
  }
  if (!m.guest_log_level.empty()) {
    if (!cmdline_safe(m.guest_log_level))
      return Error(ErrorCode::kInvalidArgument,
                   "log level '" + m.guest_log_level + "' cannot go on the kernel command line");
    cmdline += " krunbox.log=" + m.guest_log_level;
  }
  // Without HPET or a PM timer, microvm guests sometimes hang calibrating the
  // TSC against the PIT; giving the frequency skips that calibration.
  if (m.tsc_khz) cmdline += " tsc_early_khz=" + std::to_string(m.tsc_khz);
  return cmdline;
}

Result<std::vector<std::string>> qemu_argv(const QemuMachine& m) {
  KRUNBOX_TRY(check_option_value("kernel path", m.assets.kernel));
  KRUNBOX_TRY(check_option_value("initramfs path", m.assets.initramfs));
  if (!m.root_image.empty()) KRUNBOX_TRY(check_option_value("root image path", m.root_image));
  KRUNBOX_TRY(check_option_value("agent socket path", m.agent_socket));
  KRUNBOX_TRY(check_option_value("QMP socket path", m.qmp_socket));
  KRUNBOX_TRY(check_option_value("console log path", m.console_log));
  if (has_udp_ports(m)) KRUNBOX_TRY(check_option_value("UDP relay socket path", m.udp_socket));
  KRUNBOX_ASSIGN_OR_RETURN(std::string cmdline, qemu_kernel_cmdline(m));

  std::vector<std::string> a = {m.qemu_binary};
  auto add = [&a](std::initializer_list<std::string> items) { a.insert(a.end(), items); };
  add({"-nodefaults", "-no-user-config", "-nographic", "-no-reboot"});
  // microvm: no PCI, no firmware option ROMs; ACPI stays on because that is
  // how the guest finds the virtio-mmio devices here.
  add({"-M", "microvm,x-option-roms=off,rtc=on"});
  add({"-accel", m.kvm ? "kvm" : "tcg"});
  add({"-cpu", m.kvm ? "host" : "max"});
  add({"-smp", std::to_string(m.vcpus)});
  add({"-m", std::to_string(m.memory_mib) + "M"});
  add({"-kernel", m.assets.kernel, "-initrd", m.assets.initramfs, "-append", cmdline});
  add({"-chardev", "file,id=console,path=" + m.console_log, "-serial", "chardev:console"});
  // Two ports (0 is reserved for a console, 1 is the agent's; 2 relays UDP
  // when there is any) instead of the default 31: the guest driver sets up
  // queues for every port it is offered, which costs ~20 ms of a boot under
  // emulation.
  bool udp = has_udp_ports(m);
  add({"-device", std::string("virtio-serial-device,max_ports=") + (udp ? "3" : "2"), "-chardev",
       "socket,id=agent,path=" + m.agent_socket + ",server=on,wait=off", "-device",
       std::string("virtserialport,chardev=agent,name=") + kAgentPortName});
  if (udp)
    add({"-chardev", "socket,id=udp,path=" + m.udp_socket + ",server=on,wait=off", "-device",
         std::string("virtserialport,chardev=udp,name=") + kUdpRelayPortName});
  if (!m.root_image.empty())
    add({"-drive", "file=" + m.root_image + ",if=none,id=root,format=raw,readonly=on", "-device",
         "virtio-blk-device,drive=root"});
  if (m.outbound_network) {
    KRUNBOX_TRY(check_option_value("passt socket path", m.passt_socket));
    add({"-netdev", "stream,id=net0,server=off,addr.type=unix,addr.path=" + m.passt_socket, "-device",
         "virtio-net-device,netdev=net0"});
  } else if (has_network(m)) {
    std::string netdev = "user,id=net0,restrict=on";
    // UDP goes through the relay port: slirp with restrict=on drops every
    // datagram the guest sends, the replies to a hostfwd'ed port included.
    for (const auto& p : m.ports) {
      if (p.protocol == PortProtocol::kUdp) continue;
      KRUNBOX_TRY(check_option_value("host address", p.host_ip));
      if (p.host_ip.find(':') != std::string::npos)
        return Error(ErrorCode::kUnsupported, "QEMU user networking cannot publish on IPv6 address " + p.host_ip);
      netdev += ",hostfwd=tcp:" + p.host_ip + ":" + std::to_string(p.host_port) + "-:" + std::to_string(p.guest_port);
    }
    add({"-netdev", netdev, "-device", "virtio-net-device,netdev=net0"});
  }
  add({"-qmp", "unix:" + m.qmp_socket + ",server=on,wait=off"});
  // QEMU's own seccomp filter: no exec, no privilege changes, no new namespaces.
  add({"-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"});
  return a;
}

Result<std::vector<std::string>> passt_argv(const std::string& passt_binary, const QemuMachine& m,
                                            const std::string& runas) {
  KRUNBOX_TRY(check_option_value("passt socket path", m.passt_socket));
  std::string address = kGuestAddress;
  std::vector<std::string> a = {passt_binary, "--foreground", "--quiet", "--one-off", "--ipv4-only",
                                "--socket", m.passt_socket, "--address", address.substr(0, address.find('/')),
                                "--netmask", address.substr(address.find('/') + 1), "--gateway", kGuestGateway,
                                "--dns-forward", kGuestDns};
  if (!m.host_loopback) a.push_back("--no-map-gw");
  if (!runas.empty()) a.insert(a.end(), {"--runas", runas});
  for (const auto& p : m.ports) {
    KRUNBOX_TRY(check_option_value("host address", p.host_ip));
    if (p.host_ip.find(':') != std::string::npos)
      return Error(ErrorCode::kUnsupported, "the VM's user network cannot publish on IPv6 address " + p.host_ip);
    // UDP goes through the relay port, as on slirp: passt without the
    // gateway mapped gives forwarded datagrams a source the guest cannot answer.
    if (p.protocol == PortProtocol::kUdp) continue;
    a.push_back("--tcp-ports");
    a.push_back(p.host_ip + "/" + std::to_string(p.host_port) + ":" + std::to_string(p.guest_port));
  }
  return a;
}

}  // namespace krunbox
