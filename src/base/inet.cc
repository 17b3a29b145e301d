#include "base/inet.h"

#include <arpa/inet.h>
#include <netinet/in.h>

namespace krunbox {

uint16_t SocketAddress::port() const {
  return ntohs(family == AF_INET6 ? reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port
                                  : reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
}

Result<SocketAddress> parse_socket_address(const std::string& ip, uint16_t port) {
  SocketAddress a;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&a.storage);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
  if (::inet_pton(AF_INET, ip.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    a.length = sizeof *v4;
  } else if (::inet_pton(AF_INET6, ip.c_str(), &v6->sin6_addr) == 1) {
    a.family = AF_INET6;
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    a.length = sizeof *v6;
  } else {
    return Error(ErrorCode::kInvalidArgument, "'" + ip + "' is not an IP address");
  }
  return a;
}

}  // namespace krunbox
