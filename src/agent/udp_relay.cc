#include "agent/udp_relay.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <thread>
#include <vector>

#include "agent/transport.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/unique_fd.h"
#include "proto/udp_frame.h"

namespace krunbox::agent {
namespace {

constexpr size_t kMaxFlows = 1024;
constexpr auto kFlowIdle = std::chrono::seconds(120);

struct Flow {
  UniqueFd socket;
  uint16_t port = 0;
  std::chrono::steady_clock::time_point last_used;
};

class GuestUdpRelay {
 public:
  GuestUdpRelay(UniqueFd channel, in_addr address) : channel_(std::move(channel)), address_(address) {}

  // Until the channel ends (the host side went away) or breaks.
  void run() {
    std::vector<pollfd> fds;
    std::vector<uint32_t> ids;
    for (;;) {
      fds.assign(1, pollfd{channel_.get(), POLLIN, 0});
      ids.clear();
      for (const auto& [id, f] : flows_) {
        fds.push_back({f.socket.get(), POLLIN, 0});
        ids.push_back(id);
      }
      int n = ::poll(fds.data(), fds.size(), 30000);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return;
      if (fds[0].revents && !from_host()) return;
      for (size_t i = 1; i < fds.size(); ++i)
        if (fds[i].revents & POLLIN) from_guest(ids[i - 1]);
      expire();
    }
  }

 private:
  bool from_host() {
    char buf[65536];
    ssize_t n = ::read(channel_.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) return true;
    if (n <= 0) return false;
    std::vector<proto::UdpFrame> frames;
    if (auto st = reader_.feed(std::string_view(buf, static_cast<size_t>(n)), frames); !st.ok()) {
      KB_WARN("UDP relay: {}", st.error().what());
      return false;
    }
    for (auto& f : frames) {
      Flow* flow = flow_for(f.flow, f.port);
      if (flow) (void)::send(flow->socket.get(), f.payload.data(), f.payload.size(), MSG_DONTWAIT);
    }
    return true;
  }

  Flow* flow_for(uint32_t id, uint16_t port) {
    auto now = std::chrono::steady_clock::now();
    if (auto it = flows_.find(id); it != flows_.end() && it->second.port == port) {
      it->second.last_used = now;
      return &it->second;
    }
    if (flows_.size() >= kMaxFlows) {
      auto oldest = flows_.begin();
      for (auto it = flows_.begin(); it != flows_.end(); ++it)
        if (it->second.last_used < oldest->second.last_used) oldest = it;
      flows_.erase(oldest);
    }
    UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(port);
    to.sin_addr = address_;
    if (!s || ::connect(s.get(), reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
      KB_WARN("UDP relay: socket to guest port {}: {}", port, std::strerror(errno));
      return nullptr;
    }
    Flow& f = flows_[id];
    f = Flow{std::move(s), port, now};
    return &f;
  }

  void from_guest(uint32_t id) {
    auto it = flows_.find(id);
    if (it == flows_.end()) return;
    char buf[proto::kMaxUdpPayload];
    for (;;) {
      ssize_t n = ::recv(it->second.socket.get(), buf, sizeof buf, MSG_DONTWAIT);
      if (n < 0) return;  // drained, or the server's port is closed (ICMP)
      it->second.last_used = std::chrono::steady_clock::now();
      auto frame = proto::encode_udp_frame(id, it->second.port, std::string_view(buf, static_cast<size_t>(n)));
      if (frame.ok()) (void)write_all(channel_.get(), frame->data(), frame->size());
    }
  }

  void expire() {
    auto now = std::chrono::steady_clock::now();
    std::erase_if(flows_, [&](const auto& kv) { return now - kv.second.last_used > kFlowIdle; });
  }

  UniqueFd channel_;
  in_addr address_;
  std::map<uint32_t, Flow> flows_;
  proto::UdpFrameReader reader_;
};

}  // namespace

void start_udp_relay(const std::string& port_name, in_addr guest_address) {
  std::thread([port_name, guest_address] {
    for (;;) {
      auto dev = find_virtio_port(port_name);
      UniqueFd channel;
      if (dev) channel = UniqueFd(::open(dev->c_str(), O_RDWR | O_CLOEXEC | O_NOCTTY));
      if (!channel) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        continue;
      }
      GuestUdpRelay(std::move(channel), guest_address).run();
      // The host side went away (a new owner may connect): open it again.
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }).detach();
}

}  // namespace krunbox::agent
