#include "backend/native/port_relay.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/inet.h"
#include "base/log.h"

namespace krunbox::native {
namespace {

// A stuck or hostile client cannot make the relay spawn threads without bound.
constexpr int kMaxConnections = 256;

std::string endpoint(const PortMapping& m, uint16_t port) { return m.host_ip + ":" + std::to_string(port); }

// Copies what is readable from `from` to `to`; false at EOF or error.
bool pump(int from, int to, char* buf, size_t size) {
  ssize_t n = ::read(from, buf, size);
  if (n <= 0) return false;
  size_t done = 0;
  while (done < static_cast<size_t>(n)) {
    ssize_t w = ::write(to, buf + done, static_cast<size_t>(n) - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    done += static_cast<size_t>(w);
  }
  return true;
}

}  // namespace

Result<UniqueFd> connect_in_netns(int netns, uint16_t port) {
  // setns changes only this thread's namespace, so it runs on a short-lived
  // thread; the socket keeps the namespace it was made in.
  Result<UniqueFd> out = Error(ErrorCode::kInternal, "connector thread did not run");
  std::thread t([&] {
    if (::setns(netns, CLONE_NEWNET) != 0) {
      out = Error::from_errno("entering the sandbox's network namespace");
      return;
    }
    UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!s) {
      out = Error::from_errno("socket in the sandbox's network namespace");
      return;
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      out = Error::from_errno("connecting to port " + std::to_string(port) + " inside the sandbox");
      return;
    }
    out = std::move(s);
  });
  t.join();
  return out;
}

Result<std::unique_ptr<PortRelay>> PortRelay::bind(const PortMapping& mapping) {
  if (mapping.protocol != PortProtocol::kTcp)
    return Error(ErrorCode::kUnsupported, "publishing UDP port " + std::to_string(mapping.guest_port) +
                                              " is not supported by the native backend's relay; publish TCP ports");
  std::unique_ptr<PortRelay> relay(new PortRelay());
  relay->mapping_ = mapping;
  KRUNBOX_ASSIGN_OR_RETURN(SocketAddress address,
                           parse_socket_address(mapping.host_ip, mapping.host_port).wrap("port mapping"));
  int family = address.family;
  relay->listener_.reset(::socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!relay->listener_) return Error::from_errno("socket for " + endpoint(mapping, mapping.host_port));
  int one = 1;
  ::setsockopt(relay->listener_.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(relay->listener_.get(), address.get(), address.length) != 0) {
    int err = errno;
    if (err == EADDRINUSE)
      return Error(ErrorCode::kAlreadyExists, "host port " + endpoint(mapping, mapping.host_port) +
                                                  " is already in use; pick another with -p HOST:GUEST",
                   err);
    return Error::from_errno("binding " + endpoint(mapping, mapping.host_port), err);
  }
  if (::listen(relay->listener_.get(), 128) != 0)
    return Error::from_errno("listening on " + endpoint(mapping, mapping.host_port));
  sockaddr_storage bound{};
  socklen_t blen = sizeof bound;
  ::getsockname(relay->listener_.get(), reinterpret_cast<sockaddr*>(&bound), &blen);
  relay->host_port_ = ntohs(family == AF_INET ? reinterpret_cast<sockaddr_in*>(&bound)->sin_port
                                              : reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
  relay->stop_event_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!relay->stop_event_) return Error::from_errno("eventfd for the port relay");
  return relay;
}

PortRelay::~PortRelay() { stop(); }

Status PortRelay::start(UniqueFd netns) {
  if (acceptor_.joinable()) return Error(ErrorCode::kIllegalState, "port relay already started");
  netns_ = std::move(netns);
  acceptor_ = std::thread([this] { accept_loop(); });
  return {};
}

void PortRelay::stop() {
  if (stop_event_) {
    uint64_t one = 1;
    (void)!::write(stop_event_.get(), &one, sizeof one);
  }
  if (acceptor_.joinable()) acceptor_.join();
  std::list<Connection> threads;
  {
    std::lock_guard lock(mu_);
    threads.swap(connections_);
  }
  for (auto& c : threads) c.thread.join();
  listener_.reset();
}

void PortRelay::accept_loop() {
  while (true) {
    pollfd fds[2] = {{listener_.get(), POLLIN, 0}, {stop_event_.get(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      KB_WARN("port relay {}: poll: {}", endpoint(mapping_, host_port_), std::strerror(errno));
      return;
    }
    if (fds[1].revents) return;
    UniqueFd client(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!client) continue;  // EAGAIN, or the client already left
    if (active_.load() >= kMaxConnections) continue;  // dropped: closes the client
    join_finished();
    std::lock_guard lock(mu_);
    ++active_;
    auto done = std::make_shared<std::atomic<bool>>(false);
    connections_.push_back({std::thread([this, done, c = std::move(client)]() mutable {
                              relay_connection(std::move(c));
                              done->store(true);
                            }),
                            done});
  }
}

void PortRelay::join_finished() {
  std::lock_guard lock(mu_);
  for (auto it = connections_.begin(); it != connections_.end();) {
    if (it->done->load()) {
      it->thread.join();
      it = connections_.erase(it);
    } else {
      ++it;
    }
  }
}

void PortRelay::relay_connection(UniqueFd client) {
  auto guest = connect_in_netns(netns_.get(), mapping_.guest_port);
  if (guest.ok()) {
    int g = guest->get();
    int h = client.get();
    char buf[64 * 1024];
    bool h_open = true, g_open = true;
    while (h_open || g_open) {
      pollfd fds[3] = {{h_open ? h : -1, POLLIN, 0}, {g_open ? g : -1, POLLIN, 0}, {stop_event_.get(), POLLIN, 0}};
      if (::poll(fds, 3, -1) < 0) {
        if (errno == EINTR) continue;
        break;
      }
      if (fds[2].revents) break;
      // Each direction ends on its own, so half-closed protocols keep working.
      if (h_open && fds[0].revents && !pump(h, g, buf, sizeof buf)) {
        h_open = false;
        ::shutdown(g, SHUT_WR);
      }
      if (g_open && fds[1].revents && !pump(g, h, buf, sizeof buf)) {
        g_open = false;
        ::shutdown(h, SHUT_WR);
      }
    }
  } else {
    KB_DEBUG("port relay {} -> {}: {}", endpoint(mapping_, host_port_), mapping_.guest_port, guest.error().what());
  }
  --active_;
}

}  // namespace krunbox::native
