// Exec sessions: a workload's pipes or pty bridged to one channel, with
// per-stream windows, and its exit status reported exactly once.
#include <signal.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <termios.h>

#include <cstring>

#include "agent/server.h"
#include "agent/spawn.h"
#include "base/log.h"

namespace krunbox::agent {

using proto::FrameType;

class ExecSession : public Op {
 public:
  ExecSession(Server& server, Connection* conn, uint32_t id) : Op(server, conn, id) {}
  ~ExecSession() override {
    for (FdWatch* w : {static_cast<FdWatch*>(&in_), static_cast<FdWatch*>(&out_[0]), static_cast<FdWatch*>(&out_[1])})
      if (w->registered) server_.unwatch(w->fd.get());
  }

  void start(Spawned spawned, const proto::ExecRequest& req) {
    pid_ = spawned.pid;
    tty_ = req.tty;
    in_.fd = std::move(spawned.stdin_w);
    out_[0].fd = std::move(spawned.stdout_r);
    out_[1].fd = std::move(spawned.stderr_r);
    for (FdWatch* w : {static_cast<FdWatch*>(&in_), static_cast<FdWatch*>(&out_[0]), static_cast<FdWatch*>(&out_[1])})
      if (w->fd) (void)set_nonblocking(w->fd.get(), true);
    if (!out_[1].fd) out_[1].eof_pending = true;  // a pty has no separate stderr
    if (req.timeout_ms) timeout_at_ = Clock::now() + std::chrono::milliseconds(req.timeout_ms);
    keep_ = req.keep;
    server_.register_pid(pid_, this);
    conn_->send_response(id_, proto::to_json(proto::ExecStarted{pid_}));
    update();
  }

  pid_t pid() const { return pid_; }
  bool exited() const { return status_.has_value(); }

  Status on_data(uint8_t stream, std::string payload) override {
    if (stream != proto::kStdin) return Error(ErrorCode::kProtocol, "exec DATA on an output stream");
    if (stdin_eof_) return Error(ErrorCode::kProtocol, "stdin DATA after EOF");
    if (payload.size() > stdin_allowed_) return Error(ErrorCode::kProtocol, "stdin DATA beyond the window");
    stdin_allowed_ -= payload.size();
    size_t n = payload.size();
    if (!in_.fd || status_) {
      ack_stdin(n);  // nobody reads it any more: drop, but keep the host's window moving
      return {};
    }
    stdin_bytes_ += n;
    last_stdin_newline_ = payload.back() == '\n';
    stdin_buf_.push_back(std::move(payload));
    write_stdin();
    return {};
  }

  Status on_eof(uint8_t stream) override {
    if (stream != proto::kStdin) return Error(ErrorCode::kProtocol, "exec EOF on an output stream");
    stdin_eof_ = true;
    write_stdin();
    return {};
  }

  Status on_window(uint8_t stream, uint32_t inc) override {
    if (stream == proto::kStdin) return Error(ErrorCode::kProtocol, "WINDOW for stdin, which the agent receives");
    Out& o = out_[stream - 1];
    o.window += inc;
    if (o.window > proto::kMaxWindow) return Error(ErrorCode::kProtocol, "WINDOW beyond the maximum");
    update();
    return {};
  }

  void on_cancel() override { kill_all(); }

  void detach() override {
    if (keep_ && !exit_sent_ && server_.keep_orphan(id_, this)) {
      // The process runs on; its output waits in its pipes (it blocks once
      // they are full) for whoever adopts it.
      KB_INFO("session {} (pid {}) kept for a later host", id_, pid_);
      conn_ = nullptr;
      orphaned_ = true;
      for (FdWatch* w : {static_cast<FdWatch*>(&in_), static_cast<FdWatch*>(&out_[0]), static_cast<FdWatch*>(&out_[1])})
        set_watch(*w, 0);
      return;
    }
    conn_ = nullptr;
    kill_all();
    for (FdWatch* w : {static_cast<FdWatch*>(&in_), static_cast<FdWatch*>(&out_[0]), static_cast<FdWatch*>(&out_[1])}) close_watch(*w);
    if (status_) dead_ = true;
  }

  void pump() override { update(); }

  // Takes the orphaned session onto `channel` of `conn`, with fresh windows
  // (the new host knows nothing of the old ones).
  void adopt(Connection& conn, uint32_t channel) {
    conn_ = &conn;
    id_ = channel;
    orphaned_ = false;
    for (Out& o : out_) o.window = proto::kInitialWindow;
    stdin_allowed_ = proto::kInitialWindow;
    stdin_unacked_ = 0;
    if (status_) linger_at_ = Clock::now() + kLinger;
    conn.add_channel(channel, this);
    conn.send_response(channel, proto::to_json(proto::ExecStarted{pid_}));
    write_stdin();
    update();
  }
  bool busy() const override { return conn_ && !dead_ && !exit_sent_; }

  std::optional<Clock::time_point> deadline() const override {
    std::optional<Clock::time_point> d;
    if (timeout_at_ && !status_) d = timeout_at_;
    if (linger_at_ && (!d || *linger_at_ < *d)) d = linger_at_;
    return d;
  }

  void on_deadline(Clock::time_point now) override {
    if (timeout_at_ && !status_ && now >= *timeout_at_) {
      KB_INFO("session {} timed out; killing it", id_);
      timed_out_ = true;
      timeout_at_.reset();
      kill_all();
    }
    if (linger_at_ && now >= *linger_at_) {
      linger_at_.reset();
      // The workload is gone and a stream being waited on has been idle: a
      // background process holds it open. End it so EXIT can be reported.
      for (Out& o : out_)
        if (o.registered && !o.eof_pending && !o.eof_sent) o.eof_pending = true;
      update();
    }
  }

  void exited(ExitStatus status) {
    KB_DEBUG("session {}: pid {} {}", id_, pid_, status.describe());
    status_ = status;
    // Stdin is pointless now; dropping it also unblocks a host writing to it.
    close_watch(in_);
    stdin_buf_.clear();
    if (stdin_bytes_) ack_stdin(stdin_bytes_);
    stdin_bytes_ = 0;
    if (!conn_) {
      if (!orphaned_) dead_ = true;  // an orphan keeps its status for its adopter
      return;
    }
    linger_at_ = Clock::now() + kLinger;
    update();
  }

  Status signal(int sig, bool group) {
    if (status_) return Error(ErrorCode::kNotFound, "session " + std::to_string(id_) + " has exited");
    if (::kill(group ? -pid_ : pid_, sig) != 0) return Error::from_errno("kill " + std::to_string(pid_));
    return {};
  }

  Status resize(uint16_t rows, uint16_t cols) {
    if (!tty_) return Error(ErrorCode::kInvalidArgument, "session " + std::to_string(id_) + " has no pty");
    if (status_) return Error(ErrorCode::kNotFound, "session " + std::to_string(id_) + " has exited");
    winsize ws{rows, cols, 0, 0};
    if (::ioctl(out_[0].fd.get(), TIOCSWINSZ, &ws) != 0) return Error::from_errno("TIOCSWINSZ");
    return {};
  }

 private:
  struct FdWatch : Watch {
    ExecSession* self = nullptr;
    int which = 0;  // 0 stdin, 1 stdout, 2 stderr
    UniqueFd fd;
    bool registered = false;
    uint32_t events = 0;
    void on_event(uint32_t ev) override {
      if (!fd) return;
      if (which == 0)
        self->write_stdin();
      else
        self->read_output(which - 1, ev);
    }
  };
  struct Out : FdWatch {
    uint64_t window = proto::kInitialWindow;
    bool eof_pending = false;
    bool eof_sent = false;
  };

  void set_watch(FdWatch& w, uint32_t events) {
    if (!w.fd) return;
    if (events == 0) {
      if (w.registered) server_.unwatch(w.fd.get());
      w.registered = false;
      return;
    }
    if (w.registered && w.events == events) return;
    if (server_.watch(w.fd.get(), events, &w, w.registered).ok()) {
      w.registered = true;
      w.events = events;
    }
  }

  void close_watch(FdWatch& w) {
    set_watch(w, 0);
    w.fd.reset();
  }

  void kill_all() {
    if (status_) return;
    ::kill(-pid_, SIGKILL);
    ::kill(pid_, SIGKILL);
  }

  void ack_stdin(size_t n) {
    stdin_unacked_ += n;
    if (conn_ && (stdin_unacked_ >= kAckBatch || stdin_buf_.empty())) {
      stdin_allowed_ += stdin_unacked_;
      conn_->send(FrameType::kWindow, id_, proto::kStdin, proto::encode_window(stdin_unacked_));
      stdin_unacked_ = 0;
    }
  }

  void write_stdin() {
    while (in_.fd && !stdin_buf_.empty()) {
      std::string& front = stdin_buf_.front();
      ssize_t n = ::write(in_.fd.get(), front.data() + stdin_front_, front.size() - stdin_front_);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN) break;
        // EPIPE: the workload closed its stdin. What is left can never be delivered.
        size_t dropped = stdin_bytes_;
        stdin_buf_.clear();
        stdin_bytes_ = 0;
        stdin_front_ = 0;
        if (!tty_) close_watch(in_);
        ack_stdin(dropped);
        break;
      }
      stdin_front_ += static_cast<size_t>(n);
      stdin_bytes_ -= static_cast<size_t>(n);
      if (stdin_front_ == front.size()) {
        stdin_buf_.pop_front();
        stdin_front_ = 0;
      }
      ack_stdin(static_cast<size_t>(n));
    }
    if (in_.fd && stdin_buf_.empty() && stdin_eof_ && !stdin_closed_) {
      stdin_closed_ = true;
      if (tty_) {
        // A pty has no half-close: the line discipline's EOF character ends the
        // reader's read(), twice if a partial line is pending. The fd stays open:
        // closing it (a dup of the master we read from) could hang up the
        // terminal, and the workload died of SIGHUP before reading the EOF.
        termios t{};
        char eof = ::tcgetattr(in_.fd.get(), &t) == 0 ? static_cast<char>(t.c_cc[VEOF]) : '\x04';
        char seq[2] = {eof, eof};
        (void)!::write(in_.fd.get(), seq, last_stdin_newline_ ? 1 : 2);
        set_watch(in_, 0);
      } else {
        close_watch(in_);
      }
    }
    set_watch(in_, in_.fd && !stdin_buf_.empty() ? uint32_t{EPOLLOUT} : 0u);
  }

  void read_output(int i, uint32_t ev) {
    Out& o = out_[i];
    uint8_t stream = static_cast<uint8_t>(i + 1);
    if (!conn_ || o.window == 0 || conn_->congested()) {
      update();
      return;
    }
    size_t want = std::min<uint64_t>(o.window, kReadChunk);
    std::string frame = new_data_frame(want);
    ssize_t n = ::read(o.fd.get(), frame.data() + proto::kHeaderSize, want);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n <= 0) {
      // 0 is EOF on a pipe; a pty master reports EIO once the last slave is closed.
      KB_DEBUG("session {}: stream {} ended ({})", id_, stream, n == 0 ? "EOF" : std::strerror(errno));
      o.eof_pending = true;
    } else {
      seal_data_frame(frame, id_, stream, static_cast<size_t>(n));
      o.window -= static_cast<size_t>(n);
      conn_->send_frame(std::move(frame));
      if (status_) linger_at_ = Clock::now() + kLinger;
    }
    (void)ev;
    update();
  }

  // Re-arms reads, sends pending EOFs and, when all is done, the EXIT.
  void update() {
    if (!conn_) return;
    for (int i = 0; i < 2; ++i) {
      Out& o = out_[i];
      if (o.eof_pending && !o.eof_sent) {
        close_watch(o);
        o.eof_sent = true;
        conn_->send(FrameType::kEof, id_, static_cast<uint8_t>(i + 1), {});
        continue;
      }
      if (o.eof_sent) continue;
      bool want = o.window > 0 && !conn_->congested();
      bool was = o.registered;
      set_watch(o, want ? uint32_t{EPOLLIN} : 0u);
      if (want && !was && status_) linger_at_ = Clock::now() + kLinger;
    }
    if (status_ && out_[0].eof_sent && out_[1].eof_sent && !exit_sent_) {
      exit_sent_ = true;
      conn_->send(FrameType::kExit, id_, 0, proto::encode(proto::ExitMessage{*status_, timed_out_}));
      finish();
    }
  }

  pid_t pid_ = -1;
  bool tty_ = false;
  bool keep_ = false;
  bool orphaned_ = false;
  FdWatch in_;
  Out out_[2];
  std::deque<std::string> stdin_buf_;
  size_t stdin_front_ = 0;
  size_t stdin_bytes_ = 0;
  uint64_t stdin_allowed_ = proto::kInitialWindow;
  uint32_t stdin_unacked_ = 0;
  bool stdin_eof_ = false;
  bool stdin_closed_ = false;
  bool last_stdin_newline_ = true;
  std::optional<ExitStatus> status_;
  bool timed_out_ = false;
  bool exit_sent_ = false;
  std::optional<Clock::time_point> timeout_at_;
  std::optional<Clock::time_point> linger_at_;

 public:
  void init_watches() {
    in_.self = this;
    in_.which = 0;
    for (int i = 0; i < 2; ++i) {
      out_[i].self = this;
      out_[i].which = i + 1;
    }
  }
};

void start_exec(Server& server, Connection& conn, uint32_t channel, const proto::ExecRequest& req) {
  auto plan = plan_exec(req, server.base_env());
  if (!plan.ok()) return conn.send_response(channel, std::move(plan).error());
  auto spawned = spawn_workload(*plan);
  if (!spawned.ok()) return conn.send_response(channel, std::move(spawned).error());
  KB_DEBUG("session {}: started {} as pid {}", channel, plan->path, spawned->pid);
  auto s = std::make_unique<ExecSession>(server, &conn, channel);
  s->init_watches();
  auto* raw = static_cast<ExecSession*>(server.adopt(std::move(s)));
  conn.add_channel(channel, raw);
  raw->start(std::move(*spawned), req);
}

namespace {

ExecSession* find_session(Connection& conn, uint32_t session) {
  return dynamic_cast<ExecSession*>(conn.find_channel(session));
}

Error no_session(uint32_t session) {
  return Error(ErrorCode::kNotFound, "no running session on channel " + std::to_string(session));
}

}  // namespace

void session_signal(Connection& conn, uint32_t channel, const proto::SignalRequest& req) {
  ExecSession* s = find_session(conn, req.session);
  if (!s) return conn.send_response(channel, no_session(req.session));
  auto st = s->signal(req.signal, req.group);
  conn.send_response(channel, st.ok() ? Result<Json>(Json::object()) : Result<Json>(st.error()));
}

void session_resize(Connection& conn, uint32_t channel, const proto::ResizeRequest& req) {
  ExecSession* s = find_session(conn, req.session);
  if (!s) return conn.send_response(channel, no_session(req.session));
  auto st = s->resize(req.rows, req.cols);
  conn.send_response(channel, st.ok() ? Result<Json>(Json::object()) : Result<Json>(st.error()));
}

void adopt_session(Server& server, Connection& conn, uint32_t channel, const proto::AdoptRequest& req) {
  ExecSession* s = server.take_orphan(req.session);
  if (!s)
    return conn.send_response(channel, Error(ErrorCode::kNotFound, "no kept session of an earlier connection on channel " +
                                                                       std::to_string(req.session)));
  KB_INFO("session {} (pid {}) adopted on channel {}", req.session, s->pid(), channel);
  s->adopt(conn, channel);
}

void session_exited(ExecSession* session, ExitStatus status) { session->exited(status); }

}  // namespace krunbox::agent
