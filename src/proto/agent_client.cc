#include "proto/agent_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include "base/log.h"
#include "proto/frame.h"

namespace krunbox::proto {
namespace {
constexpr size_t kStdinChunk = 256u << 10;
constexpr size_t kReadBuffer = 256u << 10;
// Window is returned in batches, so a byte-at-a-time reader does not cost a frame per byte.
constexpr uint32_t kAckBatch = kInitialWindow / 4;
}  // namespace

namespace detail {

// kGet: any download on stream 1 (get, list).
enum class Kind { kSimple, kExec, kPut, kGet };

struct InStream {
  std::deque<std::string> chunks;
  size_t front_offset = 0;
  bool eof = false;
  bool discard = false;
  OutputCallback callback;
  uint64_t allowed = kInitialWindow;  // what the agent may still send
  uint32_t unacked = 0;               // consumed, not yet returned to the agent
};

struct Channel {
  uint32_t id = 0;
  Kind kind = Kind::kSimple;
  std::optional<Result<Json>> response;
  InStream in[3];
  uint64_t send_window = kInitialWindow;
  bool stdin_closed = false;
  std::optional<ExitMessage> exit;
  std::optional<Error> failure;
  std::condition_variable cv;
};

class Core {
 public:
  explicit Core(UniqueFd fd) : fd_(std::move(fd)) {}
  ~Core() { stop(); }

  void start() {
    reader_ = std::thread([this] { read_loop(); });
    writer_ = std::thread([this] { write_loop(); });
  }

  void stop() {
    fail(Error(ErrorCode::kCancelled, "agent connection closed by the client"));
    // Also unblocks a writer stuck on a peer that does not read.
    ::shutdown(fd_.get(), SHUT_RDWR);
    if (reader_.joinable()) reader_.join();
    if (writer_.joinable()) writer_.join();
  }

  std::mutex mu;

  std::optional<Error> failed() {
    return failed_;  // callers hold mu
  }

  Result<std::shared_ptr<Channel>> open(Kind kind, ExecCallbacks callbacks = {}) {
    std::lock_guard lock(mu);
    if (failed_) return *failed_;
    if (channels_.size() >= kMaxChannels)
      return Error(ErrorCode::kBusy, "too many concurrent agent operations (limit " +
                                                  std::to_string(kMaxChannels) + ")");
    auto ch = std::make_shared<Channel>();
    ch->id = next_id_++;
    ch->kind = kind;
    ch->in[kStdout].callback = std::move(callbacks.on_stdout);
    ch->in[kStderr].callback = std::move(callbacks.on_stderr);
    if (kind != Kind::kExec) ch->in[kStderr].eof = true;
    channels_[ch->id] = ch;
    return ch;
  }

  void close_channel(uint32_t id) {
    std::lock_guard lock(mu);
    channels_.erase(id);
  }

  // Writes a frame from the calling thread, which must not hold `mu` (the
  // write may wait for the agent to read, and the agent may first need us to
  // read). Saves the hand-off to the writer thread on every request.
  void send(FrameType type, uint32_t channel, uint8_t stream, std::string_view payload) {
    {
      std::lock_guard lock(wmu_);
      if (wstop_) return;
    }
    std::string frame = encode_frame(type, channel, stream, payload);
    std::vector<std::string> one;
    one.push_back(std::move(frame));
    std::lock_guard io(io_mu_);
    if (!write_batch(one)) fail(Error::from_errno("writing to the agent"));
  }

  // Queues a frame for the writer thread: for the reader thread and for
  // callers holding `mu`, which must never block on the socket.
  void post(FrameType type, uint32_t channel, uint8_t stream, std::string_view payload) {
    std::string frame = encode_frame(type, channel, stream, payload);
    std::lock_guard lock(wmu_);
    if (wstop_) return;
    wq_.push_back(std::move(frame));
    wcv_.notify_one();
  }

  // Waits on ch->cv until pred() holds or the channel/connection failed.
  template <typename Pred>
  Status wait(std::unique_lock<std::mutex>& lock, Channel& ch, Pred pred,
              std::optional<std::chrono::steady_clock::time_point> deadline = std::nullopt) {
    auto done = [&] { return pred() || ch.failure || failed_; };
    if (deadline) {
      if (!ch.cv.wait_until(lock, *deadline, done)) return Error(ErrorCode::kTimeout, "timed out");
    } else {
      ch.cv.wait(lock, done);
    }
    if (pred()) return {};
    if (ch.failure) return *ch.failure;
    return *failed_;
  }

  // Returns `n` consumed bytes of `stream` to the agent; caller holds mu.
  void consumed(Channel& ch, uint8_t stream, size_t n) {
    InStream& s = ch.in[stream];
    s.unacked += static_cast<uint32_t>(n);
    if (s.unacked >= kAckBatch && !s.eof) {
      s.allowed += s.unacked;
      post(FrameType::kWindow, ch.id, stream, encode_window(s.unacked));
      s.unacked = 0;
    }
  }

  void fail(Error error, std::string last_frame = {}) {
    {
      std::lock_guard lock(mu);
      if (!failed_) failed_ = std::move(error);
      for (auto& [id, ch] : channels_) ch->cv.notify_all();
    }
    {
      std::lock_guard lock(wmu_);
      if (!last_frame.empty() && !wstop_) {
        wq_.push_back(std::move(last_frame));
        flush_and_stop_ = true;
      }
      wstop_ = true;
      wcv_.notify_all();
    }
    // Wakes the reader; the writer may still flush a final ERROR frame.
    ::shutdown(fd_.get(), SHUT_RD);
  }

 private:
  void protocol_error(Error error) {
    KB_WARN("agent connection: {}", error.what());
    // Tell the agent why before hanging up; the failure is recorded first so
    // nobody who sees the ERROR frame can still find the connection up.
    fail(Error(ErrorCode::kProtocol, error.what()).wrap("agent broke the protocol"),
         encode_frame(FrameType::kError, 0, 0, encode_error(error)));
  }

  void read_loop() {
    std::string buf(kReadBuffer, '\0');
    FrameDecoder decoder;
    for (;;) {
      ssize_t n = ::read(fd_.get(), buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        if (n < 0)
          fail(Error::from_errno("reading from the agent"));
        else
          fail(Error(ErrorCode::kUnavailable, decoder.idle() ? "agent closed the connection"
                                                             : "agent connection ended inside a frame"));
        return;
      }
      size_t off = 0;
      while (off < static_cast<size_t>(n)) {
        off += decoder.feed(buf.data() + off, static_cast<size_t>(n) - off);
        for (;;) {
          auto f = decoder.next();
          if (!f.ok()) return protocol_error(std::move(f).error());
          if (!f->has_value()) break;
          if (auto st = handle(std::move(**f)); !st.ok()) return protocol_error(std::move(st).error());
        }
      }
      // Waiters are woken once per read rather than once per frame: a finished
      // exec's RESPONSE, EOFs and EXIT often arrive together.
      std::lock_guard lock(mu);
      for (auto& ch : to_notify_) ch->cv.notify_all();
      to_notify_.clear();
      if (failed_) return;
    }
  }

  Status handle(Frame f) {
    std::unique_lock lock(mu);
    if (failed_) return {};
    uint32_t id = f.channel();
    std::string what = std::string(to_string(f.type())) + " on channel " + std::to_string(id);
    switch (f.type()) {
      case FrameType::kHello:
      case FrameType::kRequest:
        return Error(ErrorCode::kProtocol, "unexpected " + what);
      case FrameType::kError: {
        KRUNBOX_ASSIGN_OR_RETURN(ErrorMessage e, parse_error(f.payload));
        lock.unlock();
        fail(std::move(e.error).wrap("agent reported an error"));
        return {};
      }
      default:
        break;
    }
    auto it = channels_.find(id);
    if (it == channels_.end()) return {};  // closed by us; frames may cross the close
    std::shared_ptr<Channel> held = it->second;  // `it` may not survive a callback
    Channel& ch = *held;
    switch (f.type()) {
      case FrameType::kResponse: {
        if (ch.response) return Error(ErrorCode::kProtocol, "second " + what);
        KRUNBOX_ASSIGN_OR_RETURN(auto r, parse_response(f.payload));
        ch.response = std::move(r);
        break;
      }
      case FrameType::kData: {
        uint8_t s = f.stream();
        bool valid = (ch.kind == Kind::kExec && s != kStdin) || (ch.kind == Kind::kGet && s == kStdout);
        if (!valid) return Error(ErrorCode::kProtocol, what + " on stream " + std::to_string(s));
        InStream& in = ch.in[s];
        if (in.eof) return Error(ErrorCode::kProtocol, what + " after EOF");
        if (f.payload.size() > in.allowed) return Error(ErrorCode::kProtocol, what + " exceeds the window");
        in.allowed -= f.payload.size();
        size_t size = f.payload.size();
        if (in.discard) {
          consumed(ch, s, size);
        } else if (in.callback) {
          // Callbacks run without the lock, in order (only this thread calls them).
          auto cb = in.callback;
          lock.unlock();
          cb(f.payload);
          lock.lock();
          consumed(ch, s, size);
        } else {
          in.chunks.push_back(std::move(f.payload));
        }
        break;
      }
      case FrameType::kEof: {
        uint8_t s = f.stream();
        if (s == kStdin || (ch.kind != Kind::kExec && ch.kind != Kind::kGet))
          return Error(ErrorCode::kProtocol, what + " on stream " + std::to_string(s));
        ch.in[s].eof = true;
        break;
      }
      case FrameType::kWindow: {
        if (f.stream() != kStdin) return Error(ErrorCode::kProtocol, what + " for a stream we do not send");
        KRUNBOX_ASSIGN_OR_RETURN(uint32_t inc, parse_window(f.payload));
        ch.send_window += inc;
        if (ch.send_window > kMaxWindow) return Error(ErrorCode::kProtocol, what + " raises the window too far");
        break;
      }
      case FrameType::kExit: {
        if (ch.kind != Kind::kExec) return Error(ErrorCode::kProtocol, what + " for a channel that is not an exec");
        if (ch.exit) return Error(ErrorCode::kProtocol, "second " + what);
        KRUNBOX_ASSIGN_OR_RETURN(auto m, parse_exit(f.payload));
        ch.exit = m;
        break;
      }
      case FrameType::kCancel: {
        KRUNBOX_ASSIGN_OR_RETURN(auto reason, parse_cancel(f.payload));
        if (!ch.failure) ch.failure = Error(ErrorCode::kIo, "agent cancelled the operation: " + reason);
        break;
      }
      default:
        return Error(ErrorCode::kProtocol, "unexpected " + what);
    }
    if (std::find(to_notify_.begin(), to_notify_.end(), held) == to_notify_.end()) to_notify_.push_back(held);
    return {};
  }

  void write_loop() {
    std::vector<std::string> batch;
    for (;;) {
      {
        std::unique_lock lock(wmu_);
        wcv_.wait(lock, [&] { return !wq_.empty() || wstop_; });
        if (wstop_ && !flush_and_stop_) return;
        while (!wq_.empty() && batch.size() < 64) {
          batch.push_back(std::move(wq_.front()));
          wq_.pop_front();
        }
      }
      bool ok;
      {
        std::lock_guard io(io_mu_);
        ok = batch.empty() || write_batch(batch);
      }
      if (!ok) {
        fail(Error::from_errno("writing to the agent"));
        return;
      }
      batch.clear();
      std::lock_guard lock(wmu_);
      if (wstop_ && wq_.empty()) {
        if (flush_and_stop_) ::shutdown(fd_.get(), SHUT_WR);
        return;
      }
    }
  }

  bool write_batch(std::vector<std::string>& batch) {
    std::vector<iovec> iov;
    for (auto& s : batch) iov.push_back({s.data(), s.size()});
    size_t i = 0;
    while (i < iov.size()) {
      size_t count = std::min<size_t>(iov.size() - i, IOV_MAX);
      ssize_t n;
      if (is_socket_) {
        // MSG_NOSIGNAL: a vanished agent must be an error here, not a SIGPIPE that kills the host.
        msghdr msg{};
        msg.msg_iov = iov.data() + i;
        msg.msg_iovlen = count;
        n = ::sendmsg(fd_.get(), &msg, MSG_NOSIGNAL);
        if (n < 0 && errno == ENOTSOCK) {
          is_socket_ = false;
          continue;
        }
      } else {
        n = ::writev(fd_.get(), iov.data() + i, static_cast<int>(count));
      }
      if (n < 0) {
        if (errno == EINTR) continue;
        return false;
      }
      auto left = static_cast<size_t>(n);
      while (i < iov.size() && left >= iov[i].iov_len) left -= iov[i++].iov_len;
      if (i < iov.size()) {
        iov[i].iov_base = static_cast<char*>(iov[i].iov_base) + left;
        iov[i].iov_len -= left;
      }
    }
    return true;
  }

  UniqueFd fd_;
  std::map<uint32_t, std::shared_ptr<Channel>> channels_;
  std::vector<std::shared_ptr<Channel>> to_notify_;  // reader thread only, under mu
  uint32_t next_id_ = 1;
  std::optional<Error> failed_;
  std::mutex io_mu_;  // serialises writes to fd_
  bool is_socket_ = true;
  std::mutex wmu_;
  std::condition_variable wcv_;
  std::deque<std::string> wq_;
  bool wstop_ = false;
  bool flush_and_stop_ = false;
  std::thread reader_, writer_;
};

}  // namespace detail

using detail::Channel;
using detail::Core;
using detail::Kind;

namespace {

Status poll_read_exact(int fd, char* p, size_t size, std::chrono::steady_clock::time_point deadline) {
  while (size > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return Error(ErrorCode::kTimeout, "no HELLO from the agent in time");
    pollfd pfd{fd, POLLIN, 0};
    int r = ::poll(&pfd, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return Error::from_errno("poll");
    if (r == 0) continue;
    ssize_t n = ::read(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::from_errno("reading the agent's HELLO");
    if (n == 0) return Error(ErrorCode::kUnavailable, "agent closed the connection during the handshake");
    p += n;
    size -= static_cast<size_t>(n);
  }
  return {};
}

Result<AgentHello> handshake(int fd, const ClientOptions& options) {
  ClientHello hello{kProtocolVersion, 1, options.client_name};
  std::string frame = encode_frame(FrameType::kHello, 0, 0, encode(hello));
  ssize_t sent = ::send(fd, frame.data(), frame.size(), MSG_NOSIGNAL);
  if (sent < 0 && errno == ENOTSOCK) {
    KRUNBOX_TRY_CTX(write_all(fd, frame.data(), frame.size()), "sending HELLO to the agent");
  } else if (sent < 0) {
    return Error::from_errno("sending HELLO to the agent");
  } else if (static_cast<size_t>(sent) < frame.size()) {
    KRUNBOX_TRY_CTX(write_all(fd, frame.data() + sent, frame.size() - static_cast<size_t>(sent)),
                    "sending HELLO to the agent");
  }
  auto deadline = std::chrono::steady_clock::now() + options.hello_timeout;
  uint8_t hdr[kHeaderSize];
  KRUNBOX_TRY(poll_read_exact(fd, reinterpret_cast<char*>(hdr), kHeaderSize, deadline));
  KRUNBOX_ASSIGN_OR_RETURN(FrameHeader h, decode_header(hdr));
  std::string payload(h.length, '\0');
  KRUNBOX_TRY(poll_read_exact(fd, payload.data(), payload.size(), deadline));
  if (h.type == FrameType::kError) {
    KRUNBOX_ASSIGN_OR_RETURN(ErrorMessage e, parse_error(payload));
    return std::move(e.error).wrap("agent refused the handshake");
  }
  if (h.type != FrameType::kHello)
    return Error(ErrorCode::kProtocol, "agent sent " + std::string(to_string(h.type)) + " instead of HELLO");
  KRUNBOX_ASSIGN_OR_RETURN(AgentHello ah, parse_agent_hello(payload));
  if (ah.protocol != kProtocolVersion)
    return Error(ErrorCode::kUnsupported, "agent speaks protocol " + std::to_string(ah.protocol) + ", we speak " +
                                              std::to_string(kProtocolVersion));
  return ah;
}

Result<Json> await_response(Core& core, Channel& ch) {
  std::unique_lock lock(core.mu);
  KRUNBOX_TRY(core.wait(lock, ch, [&] { return ch.response.has_value(); }));
  if (!ch.response->ok()) return ch.response->error();
  return ch.response->value();
}

// Sends stream-0 data within the agent's window.
Status send_data(Core& core, Channel& ch, std::string_view data) {
  while (!data.empty()) {
    size_t n;
    {
      std::unique_lock lock(core.mu);
      // For exec the RESPONSE comes first and is no reason to stop; for put any RESPONSE ends the upload.
      auto finished = [&] { return ch.response && (!ch.response->ok() || ch.kind == Kind::kPut); };
      KRUNBOX_TRY(core.wait(lock, ch, [&] { return ch.send_window > 0 || ch.exit || finished(); }));
      if (ch.exit) return Error(ErrorCode::kIo, "stdin is closed: the workload exited");
      if (ch.response && !ch.response->ok()) return ch.response->error();
      if (finished()) return Error(ErrorCode::kIo, "agent finished the operation before all data was sent");
      n = std::min<size_t>({data.size(), ch.send_window, kStdinChunk});
      ch.send_window -= n;
    }
    core.send(FrameType::kData, ch.id, kStdin, data.substr(0, n));
    data.remove_prefix(n);
  }
  return {};
}

Status put_stream(Core& core, const std::string& path, const PutOptions& o,
                  const std::function<Result<size_t>(char*, size_t)>& source) {
  KRUNBOX_ASSIGN_OR_RETURN(auto ch, core.open(Kind::kPut));
  struct Closer {
    Core& c;
    uint32_t id;
    ~Closer() { c.close_channel(id); }
  } closer{core, ch->id};
  core.send(FrameType::kRequest, ch->id, 0,
            encode_request(PutRequest{path, o.mode, o.uid, o.gid, o.make_parents}));
  std::string buf(kStdinChunk, '\0');
  for (;;) {
    auto n = source(buf.data(), buf.size());
    if (!n.ok()) {
      core.send(FrameType::kCancel, ch->id, 0, encode_cancel("the host's source failed"));
      return std::move(n).error();
    }
    if (*n == 0) break;
    auto st = send_data(core, *ch, std::string_view(buf.data(), *n));
    if (!st.ok()) {
      // An early failure response explains more than "finished before all data".
      std::unique_lock lock(core.mu);
      if (ch->response && !ch->response->ok()) return ch->response->error();
      return st;
    }
  }
  core.send(FrameType::kEof, ch->id, kStdin, {});
  KRUNBOX_ASSIGN_OR_RETURN(Json body, await_response(core, *ch));
  return parse_put_done(body).ok() ? Status() : Status(Error(ErrorCode::kProtocol, "bad put RESPONSE"));
}

}  // namespace

// ---- ExecSession ----

ExecSession::~ExecSession() {
  bool running;
  {
    std::lock_guard lock(core_->mu);
    running = !ch_->exit && !core_->failed();
  }
  if (running) core_->send(FrameType::kCancel, ch_->id, 0, encode_cancel("session closed by the host"));
  core_->close_channel(ch_->id);
}

uint32_t ExecSession::id() const { return ch_->id; }

Status ExecSession::write_stdin(std::string_view data) {
  {
    std::lock_guard lock(core_->mu);
    if (ch_->stdin_closed) return Error(ErrorCode::kIllegalState, "stdin already closed");
  }
  return send_data(*core_, *ch_, data);
}

Status ExecSession::close_stdin() {
  {
    std::lock_guard lock(core_->mu);
    if (auto f = core_->failed()) return *f;
    if (ch_->stdin_closed) return {};
    ch_->stdin_closed = true;
  }
  core_->send(FrameType::kEof, ch_->id, kStdin, {});
  return {};
}

Result<size_t> ExecSession::read_stream(uint8_t stream, char* buf, size_t size) {
  std::unique_lock lock(core_->mu);
  detail::InStream& in = ch_->in[stream];
  if (in.callback) return Error(ErrorCode::kIllegalState, "stream has a callback; it cannot also be read");
  KRUNBOX_TRY(core_->wait(lock, *ch_, [&] { return !in.chunks.empty() || in.eof; }));
  size_t got = 0;
  while (got < size && !in.chunks.empty()) {
    std::string& front = in.chunks.front();
    size_t n = std::min(size - got, front.size() - in.front_offset);
    std::memcpy(buf + got, front.data() + in.front_offset, n);
    got += n;
    in.front_offset += n;
    if (in.front_offset == front.size()) {
      in.chunks.pop_front();
      in.front_offset = 0;
    }
  }
  if (got > 0) core_->consumed(*ch_, stream, got);
  return got;
}

Result<size_t> ExecSession::read_stdout(char* buf, size_t size) { return read_stream(kStdout, buf, size); }
Result<size_t> ExecSession::read_stderr(char* buf, size_t size) { return read_stream(kStderr, buf, size); }

Status ExecSession::resize(uint16_t rows, uint16_t cols) {
  KRUNBOX_ASSIGN_OR_RETURN(auto ch, core_->open(Kind::kSimple));
  core_->send(FrameType::kRequest, ch->id, 0, encode_request(ResizeRequest{ch_->id, rows, cols}));
  auto r = await_response(*core_, *ch);
  core_->close_channel(ch->id);
  if (!r.ok()) return std::move(r).error().wrap("resize");
  return {};
}

Status ExecSession::signal(int sig, bool group) {
  KRUNBOX_ASSIGN_OR_RETURN(auto ch, core_->open(Kind::kSimple));
  core_->send(FrameType::kRequest, ch->id, 0, encode_request(SignalRequest{ch_->id, sig, group}));
  auto r = await_response(*core_, *ch);
  core_->close_channel(ch->id);
  if (!r.ok()) return std::move(r).error().wrap("signal " + std::to_string(sig));
  return {};
}

Status ExecSession::cancel() {
  core_->send(FrameType::kCancel, ch_->id, 0, encode_cancel("cancelled by the host"));
  return {};
}

Result<std::optional<ExitMessage>> ExecSession::wait_for(std::chrono::milliseconds timeout) {
  std::unique_lock lock(core_->mu);
  for (uint8_t s : {kStdout, kStderr}) {
    detail::InStream& in = ch_->in[s];
    if (in.discard || in.callback) continue;
    in.discard = true;
    size_t dropped = 0;
    for (auto& c : in.chunks) dropped += c.size();
    dropped -= in.front_offset;
    in.chunks.clear();
    in.front_offset = 0;
    if (dropped) core_->consumed(*ch_, s, dropped);
  }
  auto st = core_->wait(lock, *ch_, [&] { return ch_->exit.has_value(); },
                        std::chrono::steady_clock::now() + timeout);
  if (!st.ok()) {
    if (st.error().code() == ErrorCode::kTimeout && !ch_->failure && !core_->failed())
      return std::optional<ExitMessage>();
    return std::move(st).error();
  }
  return std::optional<ExitMessage>(*ch_->exit);
}

Result<ExitMessage> ExecSession::wait() {
  for (;;) {
    KRUNBOX_ASSIGN_OR_RETURN(auto r, wait_for(std::chrono::hours(24)));
    if (r) return *r;
  }
}

// ---- AgentClient ----

Result<std::unique_ptr<AgentClient>> AgentClient::connect(UniqueFd fd, const ClientOptions& options) {
  if (!fd.valid()) return Error(ErrorCode::kInvalidArgument, "AgentClient::connect: no fd");
  KRUNBOX_TRY(set_nonblocking(fd.get(), false));
  KRUNBOX_ASSIGN_OR_RETURN(AgentHello hello, handshake(fd.get(), options).wrap("agent handshake"));
  auto core = std::make_shared<Core>(std::move(fd));
  core->start();
  return std::unique_ptr<AgentClient>(new AgentClient(std::move(core), std::move(hello)));
}

AgentClient::~AgentClient() { close(); }

void AgentClient::close() { core_->stop(); }

bool AgentClient::connected() const {
  std::lock_guard lock(core_->mu);
  return !core_->failed();
}

Error AgentClient::error() const {
  std::lock_guard lock(core_->mu);
  auto f = core_->failed();
  return f ? *f : Error(ErrorCode::kInternal, "connection is up");
}

Result<Json> AgentClient::simple_request(const Request& request) {
  KRUNBOX_ASSIGN_OR_RETURN(auto ch, core_->open(Kind::kSimple));
  core_->send(FrameType::kRequest, ch->id, 0, encode_request(request));
  auto r = await_response(*core_, *ch);
  core_->close_channel(ch->id);
  if (!r.ok()) return std::move(r).error().wrap(std::string(request_op(request)));
  return r;
}

Result<std::unique_ptr<ExecSession>> AgentClient::exec(const ExecRequest& request, ExecCallbacks callbacks) {
  return start_session(request, std::move(callbacks)).wrap("exec " + request.argv.at(0));
}

Result<std::unique_ptr<ExecSession>> AgentClient::adopt(uint32_t session, ExecCallbacks callbacks) {
  return start_session(AdoptRequest{session}, std::move(callbacks))
      .wrap("taking over session " + std::to_string(session));
}

Result<std::unique_ptr<ExecSession>> AgentClient::start_session(const Request& request, ExecCallbacks callbacks) {
  KRUNBOX_ASSIGN_OR_RETURN(auto ch, core_->open(Kind::kExec, std::move(callbacks)));
  core_->send(FrameType::kRequest, ch->id, 0, encode_request(request));
  auto r = await_response(*core_, *ch);
  if (!r.ok()) {
    core_->close_channel(ch->id);
    return std::move(r).error();
  }
  auto started = parse_exec_started(*r);
  if (!started.ok()) {
    core_->close_channel(ch->id);
    return std::move(started).error();
  }
  return std::unique_ptr<ExecSession>(new ExecSession(core_, std::move(ch), started->pid));
}

Result<ExecOutput> AgentClient::run(const ExecRequest& request, std::string_view stdin_data, size_t max_output) {
  auto out = std::make_shared<ExecOutput>();
  auto mu = std::make_shared<std::mutex>();
  auto append = [out, mu, max_output](std::string ExecOutput::*field) {
    return [out, mu, max_output, field](std::string_view d) {
      std::lock_guard lock(*mu);
      std::string& s = (*out).*field;
      size_t room = max_output - std::min(max_output, s.size());
      if (d.size() > room) out->truncated = true;
      s.append(d.substr(0, room));
    };
  };
  ExecRequest req = request;
  if (stdin_data.empty()) req.stdin_open = false;
  KRUNBOX_ASSIGN_OR_RETURN(auto session, exec(req, {append(&ExecOutput::out), append(&ExecOutput::err)}));
  if (!stdin_data.empty()) {
    auto st = session->write_stdin(stdin_data);
    // A workload that exits without reading all its input is not an error of run().
    if (!st.ok() && st.error().code() != ErrorCode::kIo) return std::move(st).error();
    (void)session->close_stdin();
  }
  KRUNBOX_ASSIGN_OR_RETURN(ExitMessage m, session->wait());
  std::lock_guard lock(*mu);
  out->status = m.status;
  out->timed_out = m.timed_out;
  return std::move(*out);
}

Status AgentClient::put_file(const std::string& guest_path, std::string_view data, const PutOptions& options) {
  size_t off = 0;
  return put_stream(*core_, guest_path, options,
                    [&](char* buf, size_t size) -> Result<size_t> {
                      size_t n = std::min(size, data.size() - off);
                      std::memcpy(buf, data.data() + off, n);
                      off += n;
                      return n;
                    })
      .wrap("put " + guest_path);
}

Status AgentClient::put_file_from_fd(const std::string& guest_path, int fd, const PutOptions& options) {
  return put_stream(*core_, guest_path, options,
                    [fd](char* buf, size_t size) -> Result<size_t> {
                      for (;;) {
                        ssize_t n = ::read(fd, buf, size);
                        if (n >= 0) return static_cast<size_t>(n);
                        if (errno != EINTR) return Error::from_errno("reading the source file");
                      }
                    })
      .wrap("put " + guest_path);
}

Result<uint64_t> AgentClient::download(const Request& request, const std::function<Status(const Json&)>& started,
                                       const FileSink& sink) {
  Core& core = *core_;
  KRUNBOX_ASSIGN_OR_RETURN(auto ch, core.open(Kind::kGet));
  struct Closer {
    Core& c;
    uint32_t id;
    ~Closer() { c.close_channel(id); }
  } closer{core, ch->id};
  core.send(FrameType::kRequest, ch->id, 0, encode_request(request));
  KRUNBOX_ASSIGN_OR_RETURN(Json body, await_response(core, *ch));
  if (auto st = started(body); !st.ok()) {
    // Or the agent would keep the channel open, waiting for window forever.
    core.send(FrameType::kCancel, ch->id, 0, encode_cancel("the host rejected the RESPONSE"));
    return std::move(st).error();
  }
  uint64_t total = 0;
  detail::InStream& in = ch->in[kStdout];
  for (;;) {
    std::string chunk;
    {
      std::unique_lock lock(core.mu);
      KRUNBOX_TRY(core.wait(lock, *ch, [&] { return !in.chunks.empty() || in.eof; }));
      if (in.chunks.empty()) break;
      chunk = std::move(in.chunks.front());
      in.chunks.pop_front();
      core.consumed(*ch, kStdout, chunk.size());
    }
    total += chunk.size();
    auto st = sink(chunk);
    if (!st.ok()) {
      core.send(FrameType::kCancel, ch->id, 0, encode_cancel("the host's sink failed"));
      return std::move(st).error();
    }
  }
  return total;
}

namespace {
Status check_get_started(const Json& body) {
  KRUNBOX_TRY(parse_get_started(body));
  return {};
}
}  // namespace

Result<std::string> AgentClient::get_file(const std::string& guest_path, size_t max_bytes) {
  std::string out;
  KRUNBOX_TRY_CTX(download(GetRequest{guest_path}, check_get_started,
                           [&](std::string_view d) -> Status {
                             if (out.size() + d.size() > max_bytes)
                               return Error(ErrorCode::kLimitExceeded,
                                            "file is larger than " + std::to_string(max_bytes) + " bytes");
                             out.append(d);
                             return {};
                           }),
                  "get " + guest_path);
  return out;
}

Result<uint64_t> AgentClient::get_file_to_fd(const std::string& guest_path, int fd) {
  return download(GetRequest{guest_path}, check_get_started,
                  [fd](std::string_view d) { return write_all(fd, d.data(), d.size()); })
      .wrap("get " + guest_path);
}

Status AgentClient::put_file_stream(const std::string& guest_path, const FileSource& source,
                                    const PutOptions& options) {
  return put_stream(*core_, guest_path, options, source);
}

Result<uint64_t> AgentClient::get_file_stream(const std::string& guest_path, const FileSink& sink) {
  return download(GetRequest{guest_path}, check_get_started, sink);
}

Result<FileStat> AgentClient::stat(const std::string& guest_path) {
  KRUNBOX_ASSIGN_OR_RETURN(Json body, simple_request(StatRequest{guest_path}));
  return parse_file_stat(body);
}

}  // namespace krunbox::proto
