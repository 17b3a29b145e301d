// IP socket addresses from the text users write ("127.0.0.1", "::1").
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>

#include "krunbox/error.h"

namespace krunbox {

struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;
  int family = AF_INET;

  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
  sockaddr* get() { return reinterpret_cast<sockaddr*>(&storage); }
  // The port, in host order.
  uint16_t port() const;
};

// An IPv4 or IPv6 address (no brackets, no names) and a port.
Result<SocketAddress> parse_socket_address(const std::string& ip, uint16_t port);

}  // namespace krunbox
