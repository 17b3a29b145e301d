// The agent's single-threaded event loop: connections, their channels
// (exec sessions, file transfers) and the processes it started, all driven
// by one epoll set. Nothing blocks the loop except short local file I/O.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <poll.h>

#include "agent/config.h"
#include "agent/transport.h"
#include "base/unique_fd.h"
#include "base/unique_pid.h"
#include "krunbox/error.h"
#include "proto/frame.h"
#include "proto/messages.h"

namespace krunbox::agent {

using Clock = std::chrono::steady_clock;

class Server;
class Connection;

// Above this much queued output a connection stops taking new work and its
// sessions stop reading their pipes, until the queue drains below it.
inline constexpr size_t kOutHighWater = 4u << 20;
inline constexpr size_t kReadChunk = 128u << 10;
inline constexpr uint32_t kAckBatch = 64u << 10;
inline constexpr auto kLinger = std::chrono::milliseconds(250);

// An fd in the epoll set. Objects are freed only between loop iterations, so
// an event already fetched for a closed one is recognised, not a use-after-free.
class Watch {
 public:
  virtual ~Watch() = default;
  virtual void on_event(uint32_t events) = 0;
};

// One channel of a connection.
class Op {
 public:
  Op(Server& server, Connection* conn, uint32_t id) : server_(server), conn_(conn), id_(id) {}
  virtual ~Op() = default;
  uint32_t id() const { return id_; }
  Connection* conn() const { return conn_; }
  bool dead() const { return dead_; }

  // A protocol error from these closes the connection.
  virtual Status on_data(uint8_t stream, std::string payload) = 0;
  virtual Status on_eof(uint8_t stream) = 0;
  virtual Status on_window(uint8_t stream, uint32_t increment) = 0;
  virtual void on_cancel() = 0;
  // The connection is gone; stop using it.
  virtual void detach() = 0;
  // Called when the connection may take more output.
  virtual void pump() {}
  // The next time this op wants on_deadline(), if any.
  virtual std::optional<Clock::time_point> deadline() const { return std::nullopt; }
  virtual void on_deadline(Clock::time_point) {}
  // Still owes its connection frames that a shutdown should wait for.
  virtual bool busy() const { return false; }

 protected:
  // Leaves the connection's channel table; freed by the server later.
  void finish();
  Server& server_;
  Connection* conn_;
  uint32_t id_;
  bool dead_ = false;
};

class Connection : public Watch {
 public:
  Connection(Server& server, UniqueFd fd);
  ~Connection() override;

  void on_event(uint32_t events) override;
  void send(proto::FrameType type, uint32_t channel, uint8_t stream, std::string_view payload);
  // A frame built in place: header space first (see Frame buffer helpers in server.cc).
  void send_frame(std::string frame);
  void send_response(uint32_t channel, const Result<Json>& result);
  bool congested() const { return out_bytes_ > kOutHighWater; }
  bool closed() const { return closed_; }
  void close(const std::string& why);
  // Sends an ERROR frame, logs, and closes.
  void protocol_error(const Error& error);
  void remove_channel(uint32_t id) { channels_.erase(id); }
  void add_channel(uint32_t id, Op* op) { channels_[id] = op; }
  Op* find_channel(uint32_t id) {
    auto it = channels_.find(id);
    return it == channels_.end() ? nullptr : it->second;
  }
  // Called by the server once per loop iteration if frames were queued.
  void flush_scheduled();
  void flush_and_resume();
  // Writes what is queued, blocking for at most `budget` (used before the agent ends).
  void flush_blocking(std::chrono::milliseconds budget);

 private:
  Status handle(proto::Frame frame);
  // Lets every channel go, as a close does, but keeps the fd for a new host.
  void begin_anew();
  Status handle_request(uint32_t channel, std::string_view payload);
  void flush();
 public:
  // Re-arms epoll for what the connection now wants.
  void update_interest();

 private:

  Server& server_;
  UniqueFd fd_;
  proto::FrameDecoder decoder_;
  std::string pending_in_;
  bool hello_done_ = false;
  bool closed_ = false;
  std::deque<std::string> out_;
  size_t out_front_ = 0;
  size_t out_bytes_ = 0;
  uint32_t interest_ = 0;
  bool registered_once_ = false;
  bool flush_scheduled_ = false;
  std::map<uint32_t, Op*> channels_;
};

class Server {
 public:
  Server(AgentConfig config, bool pid1, std::vector<std::string> base_env);
  ~Server();
  // Serves until a shutdown completes; returns what to do then (for finish()).
  Result<proto::ShutdownAction> run(Transport transport);

  // Used by connections and ops.
  bool pid1() const { return pid1_; }
  const std::vector<std::string>& base_env() const { return base_env_; }
  Status watch(int fd, uint32_t events, Watch* w, bool modify = false);
  void unwatch(int fd);
  Op* adopt(std::unique_ptr<Op> op);
  void connection_closed(Connection* c);
  void register_pid(pid_t pid, class ExecSession* s) { by_pid_[pid] = s; }
  // Kept sessions whose connection is gone, by their channel on it, until a
  // later connection adopts them (proto::AdoptRequest).
  bool keep_orphan(uint32_t session, class ExecSession* s);
  class ExecSession* take_orphan(uint32_t session);
  // Whether a host may begin anew on a live connection (a second HELLO):
  // true where the transport is a port a new host can open, such as a
  // virtio-serial port after a restore.
  bool serves_again() const { return transport_ && transport_->serves_again(); }
  void forget_pid(pid_t pid) { by_pid_.erase(pid); }
  void schedule_flush(Connection* c) { to_flush_.push_back(c); }
  void connection_established() { redial_backoff_ = std::chrono::milliseconds(100); }
  void begin_shutdown(std::chrono::milliseconds grace, proto::ShutdownAction action);
  uint64_t uptime_ms() const;

 private:
  class SignalWatch;
  class ListenWatch;
  void reap();
  void on_signal(int sig);
  void dial();
  void check_shutdown();
  std::optional<Clock::time_point> next_deadline();
  void run_deadlines();
  void collect();
  bool has_children() const;

  AgentConfig config_;
  bool pid1_;
  std::vector<std::string> base_env_;
  Clock::time_point started_ = Clock::now();
  UniqueFd epoll_;
  std::unique_ptr<SignalWatch> signals_;
  std::unique_ptr<ListenWatch> listener_;
  std::optional<Transport> transport_;
  std::vector<std::unique_ptr<Connection>> connections_;
  std::vector<std::unique_ptr<Op>> ops_;
  std::map<pid_t, class ExecSession*> by_pid_;
  std::map<uint32_t, class ExecSession*> orphans_;
  std::vector<Connection*> to_flush_;
  std::optional<Clock::time_point> redial_at_;
  std::chrono::milliseconds redial_backoff_{100};
  bool shutting_down_ = false;
  bool killed_ = false;
  proto::ShutdownAction shutdown_action_ = proto::ShutdownAction::kDefault;
  Clock::time_point shutdown_deadline_{};
  bool done_ = false;
};

// Starts ops (session.cc, files.cc, file_ops.cc). Each answers the request itself.
void start_exec(Server& server, Connection& conn, uint32_t channel, const proto::ExecRequest& req);
void session_signal(Connection& conn, uint32_t channel, const proto::SignalRequest& req);
void session_resize(Connection& conn, uint32_t channel, const proto::ResizeRequest& req);
void adopt_session(Server& server, Connection& conn, uint32_t channel, const proto::AdoptRequest& req);
// Called by the reaper.
void session_exited(ExecSession* session, ExitStatus status);
void start_put(Server& server, Connection& conn, uint32_t channel, const proto::PutRequest& req);
void start_get(Server& server, Connection& conn, uint32_t channel, const proto::GetRequest& req);
Result<proto::FileStat> stat_path(const std::string& path);
// file_ops.cc; mkdir, move and remove are plain calls (file_ops.h).
void start_list(Server& server, Connection& conn, uint32_t channel, const proto::ListRequest& req);

// A DATA frame with room for `size` payload bytes after the header; call
// seal_data_frame once the payload is filled and its real size known.
std::string new_data_frame(size_t size);
void seal_data_frame(std::string& frame, uint32_t channel, uint8_t stream, size_t size);

}  // namespace krunbox::agent
