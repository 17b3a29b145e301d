#include "agent/server.h"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstring>

#include "agent/file_ops.h"
#include "agent/system.h"
#include "base/log.h"

#ifndef KRUNBOX_AGENT_VERSION
#define KRUNBOX_AGENT_VERSION "0.0.0"
#endif

namespace krunbox::agent {

using proto::FrameType;

std::string new_data_frame(size_t size) { return std::string(proto::kHeaderSize + size, '\0'); }

void seal_data_frame(std::string& frame, uint32_t channel, uint8_t stream, size_t size) {
  frame.resize(proto::kHeaderSize + size);
  proto::encode_header(proto::FrameHeader{static_cast<uint32_t>(size), FrameType::kData, stream, channel},
                       reinterpret_cast<uint8_t*>(frame.data()));
}

void Op::finish() {
  if (conn_) conn_->remove_channel(id_);
  dead_ = true;
}

// ---- Connection ----

Connection::Connection(Server& server, UniqueFd fd) : server_(server), fd_(std::move(fd)) {
  (void)set_nonblocking(fd_.get(), true);
  update_interest();
}

Connection::~Connection() = default;

void Connection::update_interest() {
  if (closed_) return;
  uint32_t want = 0;
  // Stop taking new frames while the host is not reading what we send.
  if (!congested()) want |= EPOLLIN;
  if (!out_.empty()) want |= EPOLLOUT;
  if (want == interest_ && interest_ != 0) return;
  bool first = interest_ == 0 && !registered_once_;
  registered_once_ = true;
  interest_ = want;
  auto st = server_.watch(fd_.get(), want, this, !first);
  if (!st.ok()) close("epoll: " + st.error().what());
}

void Connection::send_frame(std::string frame) {
  if (closed_) return;
  out_bytes_ += frame.size();
  out_.push_back(std::move(frame));
  // Frames queued while one loop iteration runs go out in one writev at its
  // end; a congested queue is written at once so it cannot grow further.
  if (congested()) {
    flush();
    update_interest();
  } else if (!flush_scheduled_) {
    flush_scheduled_ = true;
    server_.schedule_flush(this);
  }
}

void Connection::send(FrameType type, uint32_t channel, uint8_t stream, std::string_view payload) {
  send_frame(proto::encode_frame(type, channel, stream, payload));
}

void Connection::send_response(uint32_t channel, const Result<Json>& result) {
  send(FrameType::kResponse, channel, 0,
       result.ok() ? proto::encode_ok(result.value()) : proto::encode_error_response(result.error()));
}

void Connection::flush() {
  while (!out_.empty() && !closed_) {
    iovec iov[64];
    int n = 0;
    for (auto it = out_.begin(); it != out_.end() && n < 64; ++it, ++n) {
      size_t skip = n == 0 ? out_front_ : 0;
      iov[n] = {it->data() + skip, it->size() - skip};
    }
    ssize_t w = ::writev(fd_.get(), iov, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) break;
      close(std::string("write: ") + std::strerror(errno));
      return;
    }
    auto left = static_cast<size_t>(w);
    out_bytes_ -= left;
    while (left > 0) {
      size_t rest = out_.front().size() - out_front_;
      if (left >= rest) {
        left -= rest;
        out_.pop_front();
        out_front_ = 0;
      } else {
        out_front_ += left;
        left = 0;
      }
    }
  }
}

void Connection::flush_scheduled() {
  flush_scheduled_ = false;
  flush_and_resume();
}

void Connection::flush_and_resume() {
  if (closed_) return;
  bool was_congested = congested();
  flush();
  if (closed_) return;
  // Everything that paused for a congested queue waits for this moment.
  if (was_congested && !congested())
    for (auto& [id, op] : std::map<uint32_t, Op*>(channels_)) op->pump();
  update_interest();
}

void Connection::flush_blocking(std::chrono::milliseconds budget) {
  auto deadline = Clock::now() + budget;
  while (!out_.empty() && !closed_ && Clock::now() < deadline) {
    flush();
    if (out_.empty()) break;
    pollfd p{fd_.get(), POLLOUT, 0};
    ::poll(&p, 1, 20);
  }
}

void Connection::on_event(uint32_t events) {
  if (closed_) return;
  if (events & EPOLLOUT) {
    flush_and_resume();
    if (closed_) return;
  }
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
    char buf[64 << 10];
    // Bounded work per wake-up, so one busy connection cannot starve the rest.
    for (int round = 0; round < 16 && !closed_ && !congested(); ++round) {
      ssize_t n = ::read(fd_.get(), buf, sizeof buf);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN) break;
        close(std::string("read: ") + std::strerror(errno));
        return;
      }
      if (n == 0) {
        close(decoder_.idle() ? "host closed the connection" : "connection ended inside a frame");
        return;
      }
      size_t off = 0;
      while (off < static_cast<size_t>(n) && !closed_) {
        off += decoder_.feed(buf + off, static_cast<size_t>(n) - off);
        for (;;) {
          auto f = decoder_.next();
          if (!f.ok()) return protocol_error(f.error());
          if (!*f) break;
          if (auto st = handle(std::move(**f)); !st.ok()) return protocol_error(st.error());
          if (closed_) return;
        }
      }
    }
  }
  update_interest();
}

void Connection::protocol_error(const Error& error) {
  KB_WARN("closing a connection after a protocol error: {}", error.what());
  Error e(ErrorCode::kProtocol, error.what());
  send(FrameType::kError, 0, 0, proto::encode_error(e));
  flush_blocking(std::chrono::milliseconds(200));
  close("protocol error");
}

void Connection::close(const std::string& why) {
  if (closed_) return;
  // A virtio-serial port with no host attached reads as EOF at once; that is not worth a log line.
  if (hello_done_) {
    KB_INFO("connection closed: {}", why);
  } else {
    KB_DEBUG("connection closed before its handshake: {}", why);
  }
  closed_ = true;
  server_.unwatch(fd_.get());
  fd_.reset();
  for (auto& [id, op] : std::map<uint32_t, Op*>(channels_)) op->detach();
  channels_.clear();
  server_.connection_closed(this);
}

void Connection::begin_anew() {
  KB_INFO("a new host on this connection: letting its earlier channels go");
  for (auto& [id, op] : std::map<uint32_t, Op*>(channels_)) op->detach();
  channels_.clear();
  hello_done_ = false;
}

Status Connection::handle(proto::Frame f) {
  uint32_t id = f.channel();
  if (!hello_done_) {
    if (f.type() != FrameType::kHello) return Error(ErrorCode::kProtocol, "expected HELLO first");
    KRUNBOX_ASSIGN_OR_RETURN(auto h, proto::parse_client_hello(f.payload));
    if (h.min_protocol > proto::kProtocolVersion || h.protocol < 1) {
      send(FrameType::kError, 0, 0,
           proto::encode_error(Error(ErrorCode::kUnsupported, "agent speaks protocol 1 only")));
      flush_blocking(std::chrono::milliseconds(200));
      close("no common protocol version");
      return {};
    }
    proto::AgentHello reply;
    reply.protocol = proto::kProtocolVersion;
    reply.agent_version = KRUNBOX_AGENT_VERSION;
    reply.capabilities = {"exec", "pty",  "signal",   "resize", "put",   "get",   "stat",  "ping",
                          "info", "shutdown", "list", "mkdir", "move", "remove", "adopt", "reseed"};
    reply.max_payload = proto::kMaxPayload;
    reply.initial_window = proto::kInitialWindow;
    reply.pid1 = server_.pid1();
    send(FrameType::kHello, 0, 0, proto::encode(reply));
    hello_done_ = true;
    server_.connection_established();
    KB_DEBUG("handshake with '{}' done", h.client);
    return {};
  }
  if (f.type() == FrameType::kHello && server_.serves_again()) {
    // The host side was replaced while the guest ran on (a VM restored from
    // a checkpoint, whose new host connected before the guest noticed the
    // old one go): answer it as a new connection.
    begin_anew();
    return handle(std::move(f));
  }
  switch (f.type()) {
    case FrameType::kRequest:
      return handle_request(id, f.payload);
    case FrameType::kError: {
      auto e = proto::parse_error(f.payload);
      close("host reported: " + (e.ok() ? e->error.what() : std::string("a malformed ERROR")));
      return {};
    }
    case FrameType::kData:
    case FrameType::kEof:
    case FrameType::kWindow:
    case FrameType::kCancel:
      break;
    default:
      return Error(ErrorCode::kProtocol, "a host does not send " + std::string(to_string(f.type())));
  }
  Op* op = find_channel(id);
  if (!op) return {};  // closed already; frames may cross the close
  switch (f.type()) {
    case FrameType::kData:
      return op->on_data(f.stream(), std::move(f.payload));
    case FrameType::kEof:
      return op->on_eof(f.stream());
    case FrameType::kWindow: {
      KRUNBOX_ASSIGN_OR_RETURN(uint32_t inc, proto::parse_window(f.payload));
      return op->on_window(f.stream(), inc);
    }
    default:
      KRUNBOX_TRY(proto::parse_cancel(f.payload));
      op->on_cancel();
      return {};
  }
}

Status Connection::handle_request(uint32_t id, std::string_view payload) {
  if (channels_.count(id)) return Error(ErrorCode::kProtocol, "REQUEST on open channel " + std::to_string(id));
  if (channels_.size() >= proto::kMaxChannels)
    return Error(ErrorCode::kProtocol, "more than " + std::to_string(proto::kMaxChannels) + " open channels");
  auto parsed = proto::parse_request(payload);
  if (!parsed.ok()) {
    // An op this agent does not know is answered, so newer hosts can probe; anything else is malformed.
    if (parsed.error().code() != ErrorCode::kUnsupported) return std::move(parsed).error();
    send_response(id, parsed.error());
    return {};
  }
  const proto::Request& r = *parsed;
  KB_DEBUG("request {} on channel {}", proto::request_op(r), id);
  auto reply = [&](Status st) {
    send_response(id, st.ok() ? Result<Json>(Json::object()) : Result<Json>(std::move(st).error()));
  };
  std::visit(
      [&](const auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, proto::ExecRequest>) {
          start_exec(server_, *this, id, m);
        } else if constexpr (std::is_same_v<T, proto::SignalRequest>) {
          session_signal(*this, id, m);
        } else if constexpr (std::is_same_v<T, proto::ResizeRequest>) {
          session_resize(*this, id, m);
        } else if constexpr (std::is_same_v<T, proto::PutRequest>) {
          start_put(server_, *this, id, m);
        } else if constexpr (std::is_same_v<T, proto::GetRequest>) {
          start_get(server_, *this, id, m);
        } else if constexpr (std::is_same_v<T, proto::StatRequest>) {
          auto st = stat_path(m.path);
          send_response(id, st.ok() ? Result<Json>(proto::to_json(*st)) : Result<Json>(st.error()));
        } else if constexpr (std::is_same_v<T, proto::ListRequest>) {
          start_list(server_, *this, id, m);
        } else if constexpr (std::is_same_v<T, proto::MkdirRequest>) {
          reply(make_directory(m));
        } else if constexpr (std::is_same_v<T, proto::MoveRequest>) {
          reply(move_path(m.from, m.to));
        } else if constexpr (std::is_same_v<T, proto::RemoveRequest>) {
          reply(remove_path(m.path, m.recursive));
        } else if constexpr (std::is_same_v<T, proto::AdoptRequest>) {
          adopt_session(server_, *this, id, m);
        } else if constexpr (std::is_same_v<T, proto::ReseedRequest>) {
          reply(reseed(m));
        } else if constexpr (std::is_same_v<T, proto::PingRequest>) {
          send_response(id, proto::to_json(proto::PingReply{server_.uptime_ms()}));
        } else if constexpr (std::is_same_v<T, proto::InfoRequest>) {
          send_response(id, proto::to_json(gather_info(KRUNBOX_AGENT_VERSION, server_.pid1())));
        } else {
          static_assert(std::is_same_v<T, proto::ShutdownRequest>);
          send_response(id, Json::object());
          server_.begin_shutdown(std::chrono::milliseconds(m.grace_ms), m.action);
        }
      },
      r);
  return {};
}

// ---- Server ----

class Server::SignalWatch : public Watch {
 public:
  SignalWatch(Server& s, UniqueFd fd) : server_(s), fd_(std::move(fd)) {}
  int fd() const { return fd_.get(); }
  void on_event(uint32_t) override {
    signalfd_siginfo si;
    while (::read(fd_.get(), &si, sizeof si) == static_cast<ssize_t>(sizeof si)) server_.on_signal(static_cast<int>(si.ssi_signo));
  }

 private:
  Server& server_;
  UniqueFd fd_;
};

class Server::ListenWatch : public Watch {
 public:
  explicit ListenWatch(Server& s) : server_(s) {}
  void on_event(uint32_t) override {
    auto c = server_.transport_->accept();
    if (!c.ok()) {
      KB_WARN("{}", c.error().what());
      return;
    }
    KB_INFO("accepted a connection on {}", server_.transport_->spec().describe());
    server_.connections_.push_back(std::make_unique<Connection>(server_, std::move(*c)));
  }

 private:
  Server& server_;
};

Server::Server(AgentConfig config, bool pid1, std::vector<std::string> base_env)
    : config_(std::move(config)), pid1_(pid1), base_env_(std::move(base_env)) {}

Server::~Server() = default;

uint64_t Server::uptime_ms() const {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started_).count());
}

Status Server::watch(int fd, uint32_t events, Watch* w, bool modify) {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = w;
  if (::epoll_ctl(epoll_.get(), modify ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) != 0)
    return Error::from_errno("epoll_ctl");
  return {};
}

void Server::unwatch(int fd) { ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr); }

Op* Server::adopt(std::unique_ptr<Op> op) {
  ops_.push_back(std::move(op));
  return ops_.back().get();
}

bool Server::keep_orphan(uint32_t session, ExecSession* s) {
  if (orphans_.size() >= proto::kMaxChannels || orphans_.count(session)) return false;
  orphans_[session] = s;
  return true;
}

ExecSession* Server::take_orphan(uint32_t session) {
  auto it = orphans_.find(session);
  if (it == orphans_.end()) return nullptr;
  ExecSession* s = it->second;
  orphans_.erase(it);
  return s;
}

void Server::connection_closed(Connection*) {
  if (shutting_down_) return;
  if (!transport_->serves_again()) {
    // The inherited connection was the only way in: nobody is left to serve.
    KB_INFO("the host connection is gone; shutting down");
    begin_shutdown(std::chrono::milliseconds(1000), config_.shutdown_action);
  } else if (transport_->listen_fd() < 0) {
    // Backs off while connections end without a handshake (no host on the port yet).
    redial_at_ = Clock::now() + redial_backoff_;
    redial_backoff_ = std::min(redial_backoff_ * 2, std::chrono::milliseconds(2000));
  }
}

void Server::dial() {
  redial_at_.reset();
  auto c = transport_->dial();
  if (!c.ok()) {
    KB_WARN("{}; retrying in {} ms", c.error().what(), redial_backoff_.count());
    redial_at_ = Clock::now() + redial_backoff_;
    redial_backoff_ = std::min(redial_backoff_ * 2, std::chrono::milliseconds(2000));
    return;
  }
  KB_DEBUG("opened {}", transport_->spec().describe());
  connections_.push_back(std::make_unique<Connection>(*this, std::move(*c)));
}

void Server::on_signal(int sig) {
  if (sig == SIGCHLD) {
    reap();
    return;
  }
  if (sig != SIGTERM && sig != SIGINT) return;
  if (pid1_) {
    // As init these come from the VM's end (or a container's stop); the workloads decide.
    KB_INFO("forwarding signal {} to the sessions", sig);
    for (auto& [pid, s] : by_pid_) ::kill(-pid, sig);
  } else {
    KB_INFO("signal {}: shutting down", sig);
    begin_shutdown(std::chrono::milliseconds(5000), proto::ShutdownAction::kExit);
  }
}

void Server::reap() {
  for (;;) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid <= 0) return;
    auto it = by_pid_.find(pid);
    if (it == by_pid_.end()) {
      KB_TRACE("reaped stray process {}", pid);
      continue;
    }
    ExecSession* s = it->second;
    by_pid_.erase(it);
    session_exited(s, ExitStatus::from_wait_status(status));
  }
}

bool Server::has_children() const {
  siginfo_t info{};
  return ::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) == 0;
}

void Server::begin_shutdown(std::chrono::milliseconds grace, proto::ShutdownAction action) {
  if (shutting_down_) return;
  KB_INFO("shutting down; grace {} ms", grace.count());
  shutting_down_ = true;
  shutdown_action_ = action == proto::ShutdownAction::kDefault ? config_.shutdown_action : action;
  shutdown_deadline_ = Clock::now() + grace;
  for (auto& [pid, s] : by_pid_) ::kill(-pid, SIGTERM);
  signal_all(SIGTERM, pid1_);
}

void Server::check_shutdown() {
  if (!shutting_down_) return;
  reap();
  auto now = Clock::now();
  if (!killed_ && (!has_children() || now >= shutdown_deadline_)) {
    for (auto& [pid, s] : by_pid_) ::kill(-pid, SIGKILL);
    signal_all(SIGKILL, pid1_);
    killed_ = true;
    shutdown_deadline_ = now + std::chrono::milliseconds(2000);
    return;
  }
  // Done when every process is gone and every session's EXIT is queued, or at the deadline.
  bool busy = std::any_of(ops_.begin(), ops_.end(), [](const std::unique_ptr<Op>& op) { return op->busy(); });
  if (killed_ && ((!has_children() && !busy) || now >= shutdown_deadline_)) done_ = true;
}

std::optional<Clock::time_point> Server::next_deadline() {
  std::optional<Clock::time_point> next = redial_at_;
  auto consider = [&](Clock::time_point t) {
    if (!next || t < *next) next = t;
  };
  for (auto& op : ops_)
    if (!op->dead())
      if (auto d = op->deadline()) consider(*d);
  if (shutting_down_) consider(std::min(shutdown_deadline_, Clock::now() + std::chrono::milliseconds(20)));
  return next;
}

void Server::run_deadlines() {
  auto now = Clock::now();
  if (redial_at_ && now >= *redial_at_ && !shutting_down_) dial();
  for (size_t i = 0; i < ops_.size(); ++i) {
    Op* op = ops_[i].get();
    if (op->dead()) continue;
    if (auto d = op->deadline(); d && now >= *d) op->on_deadline(now);
  }
}

void Server::collect() {
  std::erase_if(ops_, [](const std::unique_ptr<Op>& op) { return op->dead(); });
  std::erase_if(connections_, [](const std::unique_ptr<Connection>& c) { return c->closed(); });
}

Result<proto::ShutdownAction> Server::run(Transport transport) {
  transport_.emplace(std::move(transport));
  epoll_.reset(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_) return Error::from_errno("epoll_create1");

  sigset_t mask;
  ::sigemptyset(&mask);
  for (int sig : {SIGCHLD, SIGTERM, SIGINT}) ::sigaddset(&mask, sig);
  UniqueFd sfd(::signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC));
  if (!sfd) return Error::from_errno("signalfd");
  signals_ = std::make_unique<SignalWatch>(*this, std::move(sfd));
  KRUNBOX_TRY(watch(signals_->fd(), EPOLLIN, signals_.get()));

  if (transport_->listen_fd() >= 0) {
    listener_ = std::make_unique<ListenWatch>(*this);
    KRUNBOX_TRY(watch(transport_->listen_fd(), EPOLLIN, listener_.get()));
    KB_INFO("listening on {}", transport_->spec().describe());
  } else {
    dial();
  }

  epoll_event events[64];
  while (!done_) {
    int timeout = -1;
    if (auto d = next_deadline()) {
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(*d - Clock::now()).count();
      timeout = static_cast<int>(std::clamp<int64_t>(ms + 1, 0, 60000));
    }
    int n = ::epoll_wait(epoll_.get(), events, 64, timeout);
    if (n < 0 && errno != EINTR) return Error::from_errno("epoll_wait");
    for (int i = 0; i < n; ++i) static_cast<Watch*>(events[i].data.ptr)->on_event(events[i].events);
    run_deadlines();
    check_shutdown();
    // One writev per connection per iteration, for everything the iteration queued.
    std::vector<Connection*> to_flush;
    to_flush.swap(to_flush_);
    for (Connection* c : to_flush) c->flush_scheduled();
    collect();
  }
  // Last words: the shutdown RESPONSE and final EXITs.
  for (auto& c : connections_) c->flush_blocking(std::chrono::milliseconds(500));
  return shutdown_action_;
}

}  // namespace krunbox::agent
