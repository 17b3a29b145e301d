// Publishes one sandbox TCP port on the host: listens on HOST_IP:HOST_PORT and
// relays each connection to 127.0.0.1:GUEST_PORT inside the sandbox's network
// namespace (a thread joins that namespace with setns just to connect). See
// docs/backends/native.md for why a relay instead of pasta.
#pragma once

#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <thread>

#include "backend/sandbox_spec.h"
#include "base/unique_fd.h"
#include "krunbox/error.h"

namespace krunbox::native {

class PortRelay {
 public:
  // Binds and listens now, so a port already in use fails before the sandbox starts.
  static Result<std::unique_ptr<PortRelay>> bind(const PortMapping& mapping);
  ~PortRelay();
  PortRelay(const PortRelay&) = delete;
  PortRelay& operator=(const PortRelay&) = delete;

  // The bound port (the picked one when the mapping asked for 0).
  uint16_t host_port() const { return host_port_; }
  const PortMapping& mapping() const { return mapping_; }

  // Starts accepting; connections go to the guest port in the network
  // namespace `netns` (an fd of /proc/PID/ns/net; the relay keeps it).
  Status start(UniqueFd netns);
  // Closes the listener and every relayed connection, and joins the threads.
  void stop();

 private:
  PortRelay() = default;
  void accept_loop();
  void relay_connection(UniqueFd client);
  void join_finished();

  PortMapping mapping_;
  uint16_t host_port_ = 0;
  UniqueFd listener_;
  UniqueFd netns_;
  UniqueFd stop_event_;  // eventfd: readable once stop() begins
  std::thread acceptor_;
  struct Connection {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::mutex mu_;
  std::list<Connection> connections_;
  std::atomic<int> active_{0};
};

// Connects to 127.0.0.1:port inside the network namespace `netns`.
Result<UniqueFd> connect_in_netns(int netns, uint16_t port);

}  // namespace krunbox::native
