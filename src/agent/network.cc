#include "agent/network.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <net/route.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <charconv>
#include <cstring>
#include <thread>

#include "base/fs.h"
#include "base/unique_fd.h"

namespace krunbox::agent {
namespace {

Result<in_addr> parse_ipv4(std::string_view text, std::string_view what) {
  in_addr a{};
  std::string s(text);
  // inet_pton takes only the dotted-quad form, with no leading/trailing junk.
  if (s.empty() || s.size() > 15 || ::inet_pton(AF_INET, s.c_str(), &a) != 1)
    return Error(ErrorCode::kInvalidArgument, std::string(what) + " '" + s + "' is not an IPv4 address");
  return a;
}

std::string to_text(in_addr a) {
  char buf[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &a, buf, sizeof buf);
  return buf;
}

uint32_t mask_of(unsigned prefix) { return prefix == 0 ? 0 : htonl(~uint32_t{0} << (32 - prefix)); }

sockaddr to_sockaddr(in_addr a) {
  sockaddr sa{};
  auto* sin = reinterpret_cast<sockaddr_in*>(&sa);
  sin->sin_family = AF_INET;
  sin->sin_addr = a;
  return sa;
}

// The first interface in /sys/class/net that is not the loopback.
std::optional<std::string> first_nic() {
  auto names = list_dir("/sys/class/net");
  if (!names.ok()) return std::nullopt;
  // Sorted, so eth0 comes before eth1.
  for (const auto& name : *names)
    if (name != "lo" && name.size() < IFNAMSIZ) return name;
  return std::nullopt;
}

}  // namespace

std::string GuestNetwork::describe() const {
  std::string s = to_text(address) + "/" + std::to_string(prefix);
  if (gateway) s += " via " + to_text(*gateway);
  if (dns) s += ", dns " + to_text(*dns);
  return s;
}

Result<GuestNetwork> parse_guest_network(std::string_view ip, std::string_view gateway, std::string_view dns) {
  GuestNetwork n;
  auto slash = ip.find('/');
  if (slash == std::string_view::npos)
    return Error(ErrorCode::kInvalidArgument, "guest address '" + std::string(ip) + "' needs a /PREFIX");
  KRUNBOX_ASSIGN_OR_RETURN(n.address, parse_ipv4(ip.substr(0, slash), "guest address"));
  std::string_view p = ip.substr(slash + 1);
  auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), n.prefix);
  if (p.empty() || ec != std::errc() || end != p.data() + p.size() || n.prefix < 1 || n.prefix > 32)
    return Error(ErrorCode::kInvalidArgument, "guest address prefix '" + std::string(p) + "' is not 1-32");
  if (!gateway.empty()) {
    KRUNBOX_ASSIGN_OR_RETURN(in_addr gw, parse_ipv4(gateway, "gateway"));
    if ((gw.s_addr & mask_of(n.prefix)) != (n.address.s_addr & mask_of(n.prefix)))
      return Error(ErrorCode::kInvalidArgument,
                   "gateway " + to_text(gw) + " is outside the guest's subnet " + std::string(ip));
    n.gateway = gw;
  }
  if (!dns.empty()) {
    KRUNBOX_ASSIGN_OR_RETURN(in_addr d, parse_ipv4(dns, "DNS server"));
    n.dns = d;
  }
  return n;
}

Result<std::string> configure_network(const GuestNetwork& net, int wait_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
  std::optional<std::string> nic;
  while (!(nic = first_nic())) {
    if (std::chrono::steady_clock::now() >= deadline)
      return Error(ErrorCode::kNotFound, "no network interface appeared within " + std::to_string(wait_ms) +
                                             " ms (is virtio_net loaded?)");
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!s) return Error::from_errno("socket for " + *nic);
  ifreq ifr{};
  std::memcpy(ifr.ifr_name, nic->c_str(), nic->size() + 1);
  ifr.ifr_addr = to_sockaddr(net.address);
  if (::ioctl(s.get(), SIOCSIFADDR, &ifr) != 0) return Error::from_errno("setting the address of " + *nic);
  in_addr mask{mask_of(net.prefix)};
  ifr.ifr_netmask = to_sockaddr(mask);
  if (::ioctl(s.get(), SIOCSIFNETMASK, &ifr) != 0) return Error::from_errno("setting the netmask of " + *nic);
  if (::ioctl(s.get(), SIOCGIFFLAGS, &ifr) != 0) return Error::from_errno("reading the flags of " + *nic);
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  if (::ioctl(s.get(), SIOCSIFFLAGS, &ifr) != 0) return Error::from_errno("bringing up " + *nic);
  if (net.gateway) {
    rtentry rt{};
    rt.rt_dst = to_sockaddr(in_addr{INADDR_ANY});
    rt.rt_genmask = to_sockaddr(in_addr{INADDR_ANY});
    rt.rt_gateway = to_sockaddr(*net.gateway);
    rt.rt_flags = RTF_UP | RTF_GATEWAY;
    std::string dev = *nic;
    rt.rt_dev = dev.data();
    if (::ioctl(s.get(), SIOCADDRT, &rt) != 0 && errno != EEXIST)
      return Error::from_errno("adding the default route via " + to_text(*net.gateway));
  }
  return *nic;
}

Status write_resolv_conf(const GuestNetwork& net, const std::string& root) {
  if (!net.dns) return {};
  std::string etc = join_path(root, "etc");
  KRUNBOX_TRY(make_dirs(etc, 0755));
  std::string path = join_path(etc, "resolv.conf");
  // A symlink would have us write wherever it points; the sandbox gets a file.
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode) && ::unlink(path.c_str()) != 0)
    return Error::from_errno("replacing " + path);
  return write_file_atomic(path, "nameserver " + to_text(*net.dns) + "\n", 0644);
}

}  // namespace krunbox::agent
