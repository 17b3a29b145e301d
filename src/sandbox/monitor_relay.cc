// The monitor's byte relays between a client connection and the agent:
// exec's streams, and the files of put and get. The monitor owns the only
// agent connection, whose sessions have their own flow control, so a slow
// client stalls only its own relay.
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>

#include "base/log.h"
#include "sandbox/exec_request.h"
#include "sandbox/monitor_protocol.h"
#include "sandbox/monitor_supervisor.h"
#include "sandbox/workload.h"

namespace krunbox {
namespace {

using monitor::FrameType;

void reply(int fd, const Status& st) {
  (void)monitor::write_frame(fd, FrameType::kReply, monitor::encode_reply(st));
}

// Feeds one exec's stdin, signals and resizes from the client until it goes.
void relay_input(int fd, proto::ExecSession& session) {
  for (;;) {
    auto frame = monitor::read_frame(fd);
    if (!frame.ok() || !*frame) return;
    const auto& f = **frame;
    switch (f.type) {
      case FrameType::kStdin: (void)session.write_stdin(f.payload); break;
      case FrameType::kStdinClose: (void)session.close_stdin(); break;
      case FrameType::kSignal: {
        auto s = monitor::parse_signal_frame(f.payload);
        if (!s) return;
        (void)session.signal(s->signal, /*group=*/false);
        break;
      }
      case FrameType::kResize: {
        auto r = monitor::parse_resize_frame(f.payload);
        if (!r) return;
        (void)session.resize(r->rows, r->cols);
        break;
      }
      default: return;
    }
  }
}

// Reads and drops a client's bytes until it closes, for at most kDrainBytes
// or kDrainTime.
void drain_until_eof(int fd) {
  constexpr size_t kDrainBytes = 256u << 20;
  constexpr auto kDrainTime = std::chrono::seconds(5);
  ::shutdown(fd, SHUT_WR);
  timeval tv{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  auto deadline = std::chrono::steady_clock::now() + kDrainTime;
  char buf[65536];
  for (size_t total = 0; total < kDrainBytes && std::chrono::steady_clock::now() < deadline;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    total += static_cast<size_t>(n);
  }
}

}  // namespace

void Monitor::relay_exec(int fd, monitor::ExecRequest request) {
  // The sandbox's env, then the secrets, then exec's own (-e wins).
  Workload w = std::move(request.workload);
  bool keep = request.keep;
  std::vector<std::string> env = secret_env(secrets_);
  env.insert(env.end(), w.env.begin(), w.env.end());
  w.env = std::move(env);
  proto::ExecRequest req = exec_request_for(config_.spec, w);
  for (auto& kv : w.env) wipe(kv);
  // Refused here, not by the agent, whose refusal would cost the sandbox its agent connection.
  Status checked = check_exec_request_size(req);
  std::unique_ptr<proto::ExecSession> session;
  if (checked.ok()) {
    checked = with_agent([&](proto::AgentClient& agent) -> Status {
      KRUNBOX_ASSIGN_OR_RETURN(session, agent.exec(req));
      return {};
    });
  }
  if (!checked.ok()) {
    wipe_env(req);
    KB_DEBUG("exec: {}", checked.error().what());
    return reply(fd, checked);
  }
  // keep_exec wants the argv; the env, which may hold secrets, goes now.
  wipe_env(req);
  if (keep) return keep_exec(fd, std::move(session), req);
  if (!monitor::write_frame(fd, FrameType::kReply, monitor::encode_reply(monitor::ExecStarted{session->pid(), {}}))
           .ok())
    return;

  std::mutex write_mu;
  auto send = [&](FrameType t, std::string_view p) {
    std::lock_guard lock(write_mu);
    return monitor::write_frame(fd, t, p);
  };
  auto pump = [&](bool err) {
    char buf[32768];
    for (;;) {
      auto n = err ? session->read_stderr(buf, sizeof buf) : session->read_stdout(buf, sizeof buf);
      if (!n.ok() || *n == 0) return;
      if (!send(err ? FrameType::kStderr : FrameType::kStdout, std::string_view(buf, *n)).ok()) return;
    }
  };
  std::atomic<bool> exited{false};
  std::thread out(pump, false);
  std::thread err(pump, true);
  std::thread input([&] {
    relay_input(fd, *session);
    // The client went away: the command ends with it.
    if (!exited) (void)session->cancel();
  });
  out.join();
  err.join();
  auto exit = session->wait();
  exited = true;
  // Without an exit frame the client reports that the sandbox went away.
  if (exit.ok()) (void)send(FrameType::kExit, monitor::encode_frame_body(*exit));
  ::shutdown(fd, SHUT_RDWR);
  input.join();
  if (!exit.ok()) KB_DEBUG("exec: {}", exit.error().what());
}

// The client's kData frames go to the agent as they come; a connection that
// ends before kDataEnd cancels the put, so the agent keeps the old file. A
// refusal is answered at once; the monitor then reads and drops what the
// client still sends until it hangs up (bounded), because closing with its
// bytes unread would reset the connection and lose the answer.
void Monitor::relay_put(int fd, const monitor::PutRequest& r) {
  uint64_t total = 0;
  std::string chunk;
  size_t used = 0;
  bool ended = false;
  auto source = [&](char* buf, size_t size) -> Result<size_t> {
    while (used == chunk.size()) {
      if (ended) return size_t{0};
      KRUNBOX_ASSIGN_OR_RETURN(auto frame, monitor::read_frame(fd));
      if (!frame) return Error(ErrorCode::kCancelled, "the client went away before the end of the file");
      if (frame->type == FrameType::kDataEnd) {
        ended = true;
        return size_t{0};
      }
      if (frame->type != FrameType::kData)
        return Error(ErrorCode::kProtocol, "a put's bytes come in data frames, not frame type " +
                                               std::to_string(static_cast<int>(frame->type)));
      chunk = std::move(frame->payload);
      used = 0;
    }
    size_t n = std::min(size, chunk.size() - used);
    std::memcpy(buf, chunk.data() + used, n);
    used += n;
    total += n;
    return n;
  };
  Status st = with_agent([&](proto::AgentClient& agent) {
    proto::PutOptions o;
    o.mode = r.mode;
    o.make_parents = r.make_parents;
    return agent.put_file_stream(r.path, source, o);
  });
  if (!st.ok()) {
    reply(fd, st);
    if (!ended) drain_until_eof(fd);
    return;
  }
  (void)monitor::write_frame(fd, FrameType::kReply, monitor::encode_reply(monitor::PutDone{total}));
}

// The file goes out as kData frames, then the reply; a client that stops
// reading (or goes) fails the next write, which cancels the agent's get.
void Monitor::relay_get(int fd, const monitor::GetRequest& r) {
  uint64_t total = 0;
  Status st = with_agent([&](proto::AgentClient& agent) -> Status {
    KRUNBOX_ASSIGN_OR_RETURN(total, agent.get_file_stream(r.path, [fd](std::string_view data) {
      return monitor::write_frame(fd, FrameType::kData, data);
    }));
    return {};
  });
  if (!st.ok()) return reply(fd, st);
  (void)monitor::write_frame(fd, FrameType::kReply, monitor::encode_reply(monitor::GetDone{total}));
}

void Monitor::relay_stat(int fd, const monitor::StatRequest& r) {
  proto::FileStat stat;
  Status st = with_agent([&](proto::AgentClient& agent) -> Status {
    KRUNBOX_ASSIGN_OR_RETURN(stat, agent.stat(r.path));
    return {};
  });
  if (!st.ok()) return reply(fd, st);
  (void)monitor::write_frame(fd, FrameType::kReply, monitor::encode_reply(stat));
}

// The agent's listing, re-encoded line by line into kData frames (each well
// under the frame limit), then the reply with the count.
void Monitor::relay_list(int fd, const monitor::ListDirRequest& r) {
  proto::DirListing listing;
  Status st = with_agent([&](proto::AgentClient& agent) -> Status {
    KRUNBOX_ASSIGN_OR_RETURN(listing, agent.list_dir(r.path, r.depth));
    return {};
  });
  if (!st.ok()) return reply(fd, st);
  std::string chunk;
  for (const auto& e : listing.entries) {
    chunk += proto::encode_dir_entry(e);
    if (chunk.size() >= (256u << 10)) {
      if (!monitor::write_frame(fd, FrameType::kData, chunk).ok()) return;
      chunk.clear();
    }
  }
  if (!chunk.empty() && !monitor::write_frame(fd, FrameType::kData, chunk).ok()) return;
  (void)monitor::write_frame(fd, FrameType::kReply,
                             monitor::encode_reply(monitor::ListDone{listing.entries.size(), listing.truncated}));
}

// make_dir, move_path, remove_path: one agent call, one reply.
Status Monitor::file_op(const monitor::Request& request) {
  return with_agent([&](proto::AgentClient& agent) -> Status {
    if (const auto* m = std::get_if<monitor::MakeDirRequest>(&request)) {
      proto::MkdirOptions o;
      o.mode = m->mode;
      o.parents = m->parents;
      return agent.make_dir(m->path, o);
    }
    if (const auto* m = std::get_if<monitor::MovePathRequest>(&request)) return agent.move(m->from, m->to);
    if (const auto* m = std::get_if<monitor::RemovePathRequest>(&request)) return agent.remove(m->path, m->recursive);
    return Error(ErrorCode::kInternal, "not a file operation");
  });
}

}  // namespace krunbox
