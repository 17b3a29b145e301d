// The byte streams the agent serves on. A transport either accepts many
// connections (vsock listen, unix listen) or opens one at a time and opens it
// again when it ends (vsock connect, virtio-serial), or is a single inherited
// fd that ends the agent when it closes.
#pragma once

#include <string>

#include "agent/config.h"
#include "base/unique_fd.h"
#include "krunbox/error.h"

namespace krunbox::agent {

class Transport {
 public:
  static Result<Transport> open(const TransportSpec& spec);

  const TransportSpec& spec() const { return spec_; }
  // A listening socket to poll for accept(), or -1.
  int listen_fd() const { return listen_.get(); }
  Result<UniqueFd> accept();
  // For transports without a listener: the next connection. The first call on
  // an fd transport returns the fd; later calls fail (nothing to reopen).
  Result<UniqueFd> dial();
  // Whether the agent should keep serving once a connection ends.
  bool serves_again() const { return spec_.kind != TransportKind::kFd; }

 private:
  explicit Transport(TransportSpec spec) : spec_(std::move(spec)) {}
  TransportSpec spec_;
  UniqueFd listen_;
  bool fd_taken_ = false;
};

// /dev/<port> for the virtio-serial port named `name`, found under
// <sysfs>/class/virtio-ports/*/name.
Result<std::string> find_virtio_port(const std::string& name, const std::string& sysfs = "/sys");

}  // namespace krunbox::agent
