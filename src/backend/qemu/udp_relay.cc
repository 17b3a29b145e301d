#include "backend/qemu/udp_relay.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstring>

#include "base/inet.h"
#include "base/log.h"

namespace krunbox {
namespace {

Result<UniqueFd> bind_udp(const PortMapping& m) {
  KRUNBOX_ASSIGN_OR_RETURN(SocketAddress address, parse_socket_address(m.host_ip, m.host_port).wrap("host address"));
  UniqueFd s(::socket(address.family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!s) return Error::from_errno("UDP socket for " + m.host_ip);
  if (::bind(s.get(), address.get(), address.length) != 0)
    return Error::from_errno("publishing UDP port " + m.host_ip + ":" + std::to_string(m.host_port) +
                             (errno == EADDRINUSE ? " (it is in use; pick another host port)" : ""));
  return s;
}

}  // namespace

Result<std::unique_ptr<UdpRelay>> UdpRelay::bind(const std::vector<PortMapping>& ports) {
  std::unique_ptr<UdpRelay> r(new UdpRelay());
  for (const auto& p : ports) {
    if (p.protocol != PortProtocol::kUdp) continue;
    KRUNBOX_ASSIGN_OR_RETURN(UniqueFd s, bind_udp(p));
    r->listeners_.push_back({p, std::move(s)});
  }
  r->stop_ = UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!r->stop_) return Error::from_errno("eventfd for the UDP relay");
  return r;
}

UdpRelay::~UdpRelay() {
  if (thread_.joinable()) {
    uint64_t one = 1;
    (void)::write(stop_.get(), &one, sizeof one);
    thread_.join();
  }
}

Status UdpRelay::start(UniqueFd channel) {
  if (thread_.joinable()) return Error(ErrorCode::kIllegalState, "the UDP relay is already running");
  int flags = ::fcntl(channel.get(), F_GETFL);
  if (flags < 0 || ::fcntl(channel.get(), F_SETFL, flags | O_NONBLOCK) != 0)
    return Error::from_errno("making the UDP relay port non-blocking");
  channel_ = std::move(channel);
  thread_ = std::thread([this] { run(); });
  return {};
}

void UdpRelay::run() {
  std::vector<pollfd> fds;
  for (;;) {
    fds.clear();
    fds.push_back({stop_.get(), POLLIN, 0});
    fds.push_back({channel_.get(), static_cast<short>(POLLIN | (out_.empty() ? 0 : POLLOUT)), 0});
    for (const auto& l : listeners_) fds.push_back({l.socket.get(), POLLIN, 0});
    int n = ::poll(fds.data(), fds.size(), -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 || fds[0].revents) return;
    if (fds[1].revents & POLLOUT) flush();
    if (fds[1].revents & (POLLIN | POLLHUP | POLLERR))
      if (!from_guest()) return;
    for (size_t i = 0; i < listeners_.size(); ++i)
      if (fds[i + 2].revents & POLLIN) from_host(i);
  }
}

uint32_t UdpRelay::flow_for(size_t listener, const sockaddr_storage& peer, socklen_t len) {
  auto now = std::chrono::steady_clock::now();
  for (auto it = flows_.begin(); it != flows_.end();) {
    if (it->second.listener == listener && it->second.peer_len == len && std::memcmp(&it->second.peer, &peer, len) == 0) {
      it->second.last_used = now;
      return it->first;
    }
    it = now - it->second.last_used > kFlowIdle ? flows_.erase(it) : std::next(it);
  }
  if (flows_.size() >= kMaxFlows) {
    auto oldest = flows_.begin();
    for (auto it = flows_.begin(); it != flows_.end(); ++it)
      if (it->second.last_used < oldest->second.last_used) oldest = it;
    flows_.erase(oldest);
  }
  uint32_t id = next_flow_++;
  if (next_flow_ == 0) next_flow_ = 1;
  flows_[id] = Flow{listener, peer, len, now};
  return id;
}

void UdpRelay::from_host(size_t i) {
  Listener& l = listeners_[i];
  char buf[proto::kMaxUdpPayload + 1];
  for (;;) {
    sockaddr_storage peer{};
    socklen_t len = sizeof peer;
    ssize_t n = ::recvfrom(l.socket.get(), buf, sizeof buf, MSG_TRUNC, reinterpret_cast<sockaddr*>(&peer), &len);
    if (n < 0) return;  // EAGAIN: drained
    if (static_cast<size_t>(n) > proto::kMaxUdpPayload || out_.size() > kMaxQueuedBytes) continue;  // dropped
    auto frame = proto::encode_udp_frame(flow_for(i, peer, len), l.mapping.guest_port,
                                         std::string_view(buf, static_cast<size_t>(n)));
    if (frame.ok()) out_ += *frame;
    flush();
  }
}

void UdpRelay::flush() {
  while (!out_.empty()) {
    ssize_t n = ::write(channel_.get(), out_.data(), out_.size());
    if (n <= 0) return;  // EAGAIN: POLLOUT will say when
    out_.erase(0, static_cast<size_t>(n));
  }
}

bool UdpRelay::from_guest() {
  char buf[65536];
  ssize_t n = ::read(channel_.get(), buf, sizeof buf);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return true;
  if (n <= 0) return false;  // the VM is gone
  std::vector<proto::UdpFrame> frames;
  if (auto st = reader_.feed(std::string_view(buf, static_cast<size_t>(n)), frames); !st.ok()) {
    // What a guest sends here is not to be trusted; a broken stream ends
    // the relay, and with it only this sandbox's UDP ports.
    KB_WARN("UDP relay: {}; the sandbox's published UDP ports stop answering", st.error().what());
    return false;
  }
  for (const auto& f : frames) {
    auto it = flows_.find(f.flow);
    if (it == flows_.end()) continue;  // expired, or never ours
    it->second.last_used = std::chrono::steady_clock::now();
    const Listener& l = listeners_[it->second.listener];
    (void)::sendto(l.socket.get(), f.payload.data(), f.payload.size(), 0,
                   reinterpret_cast<const sockaddr*>(&it->second.peer), it->second.peer_len);
  }
  return true;
}

}  // namespace krunbox
