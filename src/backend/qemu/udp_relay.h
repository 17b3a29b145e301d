// The host side of a VM's published UDP ports (proto/udp_frame.h says why
// they do not go through QEMU's user network): a socket bound on each
// published host address, and a thread that carries every datagram over the
// VM's UDP relay port to the agent and the replies back to the peer that
// sent it. Lives as long as the VM's owner (the CLI of a run, or the
// monitor of a long-lived sandbox).
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "backend/sandbox_spec.h"
#include "base/unique_fd.h"
#include "krunbox/error.h"
#include "proto/udp_frame.h"

namespace krunbox {

class UdpRelay {
 public:
  // Binds host_ip:host_port of every UDP mapping (TCP ones are skipped); a
  // port that is taken is an error naming it.
  static Result<std::unique_ptr<UdpRelay>> bind(const std::vector<PortMapping>& ports);
  ~UdpRelay();
  UdpRelay(const UdpRelay&) = delete;
  UdpRelay& operator=(const UdpRelay&) = delete;

  // Starts relaying over `channel` (the connected relay port). Once.
  Status start(UniqueFd channel);

  // Flows kept at most; the one idle longest goes first.
  static constexpr size_t kMaxFlows = 1024;
  // A flow with no datagram either way for this long is forgotten.
  static constexpr std::chrono::seconds kFlowIdle{120};
  // Datagrams waiting for the relay port beyond this are dropped, as a
  // congested network drops them.
  static constexpr size_t kMaxQueuedBytes = 1u << 20;

 private:
  UdpRelay() = default;
  struct Listener {
    PortMapping mapping;
    UniqueFd socket;
  };
  struct Flow {
    size_t listener = 0;
    sockaddr_storage peer{};
    socklen_t peer_len = 0;
    std::chrono::steady_clock::time_point last_used;
  };
  void run();
  void from_host(size_t listener_index);
  bool from_guest();  // false once the channel ended or broke
  uint32_t flow_for(size_t listener, const sockaddr_storage& peer, socklen_t len);
  void flush();

  std::vector<Listener> listeners_;
  UniqueFd channel_;
  UniqueFd stop_;  // eventfd
  std::thread thread_;
  std::map<uint32_t, Flow> flows_;
  uint32_t next_flow_ = 1;
  std::string out_;  // frames not yet written to the channel
  proto::UdpFrameReader reader_;
};

}  // namespace krunbox
