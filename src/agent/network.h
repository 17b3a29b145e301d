// The guest's network interface, as the host describes it on the kernel
// command line (krunbox.ip=ADDR/PREFIX krunbox.gateway=ADDR krunbox.dns=ADDR):
// the agent brings the NIC up with that address and default route before any
// workload starts, and points the sandbox's /etc/resolv.conf at the DNS.
#pragma once

#include <netinet/in.h>

#include <optional>
#include <string>
#include <string_view>

#include "krunbox/error.h"

namespace krunbox::agent {

struct GuestNetwork {
  in_addr address{};
  unsigned prefix = 24;
  std::optional<in_addr> gateway;
  std::optional<in_addr> dns;

  std::string describe() const;  // "10.0.2.15/24 via 10.0.2.2, dns 10.0.2.3"
};

// ip: "A.B.C.D/N" (N 1-32); gateway and dns: "A.B.C.D" or empty. The gateway
// must lie in the address's subnet, or no route could reach it.
Result<GuestNetwork> parse_guest_network(std::string_view ip, std::string_view gateway, std::string_view dns);

// Waits up to wait_ms for the first network interface other than lo (the
// virtio NIC appears once its driver has probed), then sets its address and
// netmask, brings it up and adds the default route. Returns the interface name.
Result<std::string> configure_network(const GuestNetwork& net, int wait_ms = 5000);

// "nameserver A.B.C.D\n" into <root>/etc/resolv.conf, replacing a symlink
// (e.g. to systemd-resolved's stub) by a file; in the sandbox's writable
// layer, never in the image.
Status write_resolv_conf(const GuestNetwork& net, const std::string& root = "/");

}  // namespace krunbox::agent
