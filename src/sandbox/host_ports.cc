#include "sandbox/host_ports.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

#include "backend/capabilities.h"
#include "base/inet.h"
#include "base/unique_fd.h"

namespace krunbox {
namespace {

// Binds ip:port once to learn whether it is free (and which port 0 gives).
Result<uint16_t> probe_bind(const PortMapping& p) {
  KRUNBOX_ASSIGN_OR_RETURN(SocketAddress address,
                           parse_socket_address(p.host_ip, p.host_port).wrap("published port " + describe(p)));
  int type = p.protocol == PortProtocol::kUdp ? SOCK_DGRAM : SOCK_STREAM;
  UniqueFd fd(::socket(address.family, type | SOCK_CLOEXEC, 0));
  if (!fd) return Error::from_errno("socket for published port " + describe(p));
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd.get(), address.get(), address.length) != 0) {
    int err = errno;
    if (err == EADDRINUSE)
      return Error(ErrorCode::kAlreadyExists,
                   "host port " + p.host_ip + ":" + std::to_string(p.host_port) + " of published port " +
                       describe(p) + " is already in use; pick another, or 0 for a free one",
                   err)
          .with_field(spec_field::kPorts, to_string(p));
    return Error::from_errno(
        "binding " + p.host_ip + ":" + std::to_string(p.host_port) + " for published port " + describe(p), err);
  }
  if (type == SOCK_STREAM && ::listen(fd.get(), 1) != 0)
    return Error::from_errno("listen for published port " + describe(p));
  if (::getsockname(fd.get(), address.get(), &address.length) != 0) return Error::from_errno("getsockname");
  return address.port();
}

}  // namespace

std::string describe(const PortMapping& p) {
  return p.host_ip + ":" + std::to_string(p.host_port) + "->" + std::to_string(p.guest_port) +
         (p.protocol == PortProtocol::kUdp ? "/udp" : "/tcp");
}

Result<std::vector<PortMapping>> reserve_host_ports(const std::vector<PortMapping>& ports) {
  std::vector<PortMapping> out;
  for (auto p : ports) {
    for (const auto& q : out)
      if (p.host_port != 0 && q.host_port == p.host_port && q.protocol == p.protocol && q.host_ip == p.host_ip)
        return Error(ErrorCode::kInvalidArgument, "published port " + describe(p) + " uses the same host port twice")
            .with_field(spec_field::kPorts, to_string(p));
    KRUNBOX_ASSIGN_OR_RETURN(p.host_port, probe_bind(p));
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace krunbox
