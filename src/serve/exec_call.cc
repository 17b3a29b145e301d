#include "serve/exec_call.h"

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>

#include <cerrno>
#include <mutex>
#include <thread>

#include "sandbox/exec_request.h"
#include "sandbox/monitor_messages.h"
#include "sandbox/monitor_protocol.h"
#include "sandbox/secrets.h"

namespace krunbox::serve {

using monitor::FrameType;

// Stdin is written from its own thread: a command that writes before it
// reads would otherwise fill the connection both ways and stall.
struct ExecCall::Writer {
  std::mutex mu;  // one frame at a time on the connection
  std::thread thread;
};

namespace {

constexpr size_t kStdinChunk = 256u << 10;
// After a kill, how long the monitor may take to report the end.
constexpr auto kKillGrace = std::chrono::seconds(10);

}  // namespace

ExecCall::ExecCall(std::string id, UniqueFd conn, ExecParams params, int64_t pid)
    : id_(std::move(id)), conn_(std::move(conn)), params_(std::move(params)), pid_(pid),
      writer_(std::make_unique<Writer>()) {}

ExecCall::~ExecCall() {
  // Unblocks a stdin write the monitor no longer reads.
  if (conn_) ::shutdown(conn_.get(), SHUT_RDWR);
  if (writer_ && writer_->thread.joinable()) writer_->thread.join();
  // Exec's env may carry credentials of the client's.
  for (auto& e : params_.workload.env) wipe(e);
}

Result<std::unique_ptr<ExecCall>> ExecCall::start(Lifecycle& lc, const std::string& id, ExecParams params) {
  std::string short_id = id.substr(0, 12);
  KRUNBOX_ASSIGN_OR_RETURN(auto v, lc.view(id));
  KRUNBOX_TRY(require_running(v, id));
  params.workload.stdin_open = params.stdin_data.has_value();
  params.workload.tty = false;
  KRUNBOX_TRY_CTX(check_exec_request_size(exec_request_for(v.config.spec, params.workload)),
                  "exec in sandbox " + short_id);
  KRUNBOX_ASSIGN_OR_RETURN(UniqueFd conn, lc.open_request(id, monitor::ExecRequest{params.workload}));
  auto first = monitor::read_frame(conn.get());
  if (!first) return std::move(first).error().wrap("exec in sandbox " + short_id);
  if (!*first || (*first)->type != FrameType::kReply)
    return Error(ErrorCode::kProtocol, "the monitor of sandbox " + short_id + " ended without answering");
  KRUNBOX_ASSIGN_OR_RETURN(Json reply, monitor::parse_reply((*first)->payload).wrap("exec in sandbox " + short_id));
  KRUNBOX_ASSIGN_OR_RETURN(auto started, monitor::parse_exec_started(reply).wrap("exec in sandbox " + short_id));
  std::unique_ptr<ExecCall> call(new ExecCall(id, std::move(conn), std::move(params), started.pid));
  if (call->params_.stdin_data) {
    ExecCall* self = call.get();
    call->writer_->thread = std::thread([self] {
      const std::string& data = *self->params_.stdin_data;
      int fd = self->conn_.get();
      for (size_t off = 0; off < data.size(); off += kStdinChunk) {
        std::lock_guard lock(self->writer_->mu);
        if (!monitor::write_frame(fd, FrameType::kStdin, std::string_view(data).substr(off, kStdinChunk)).ok()) return;
      }
      std::lock_guard lock(self->writer_->mu);
      (void)monitor::write_frame(fd, FrameType::kStdinClose, {});
    });
  }
  return call;
}

Status ExecCall::kill() {
  std::lock_guard lock(writer_->mu);
  return monitor::write_frame(conn_.get(), FrameType::kSignal, monitor::encode_frame_body(monitor::SignalFrame{SIGKILL}));
}

Result<ExecEnd> ExecCall::run(const OutputSink& sink) {
  std::string short_id = id_.substr(0, 12);
  using Clock = std::chrono::steady_clock;
  std::optional<Clock::time_point> deadline;
  if (params_.timeout.count() > 0) deadline = Clock::now() + params_.timeout;
  bool timed_out = false, abandoned = false;
  int fd = conn_.get();
  for (;;) {
    if (deadline) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - Clock::now()).count();
      pollfd p{fd, POLLIN, 0};
      int n = left > 0 ? ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left, 60000))) : 0;
      if (n < 0 && errno != EINTR) return Error::from_errno("waiting for the command in sandbox " + short_id);
      if (n == 0 && Clock::now() >= *deadline) {
        if (timed_out || abandoned)
          return Error(ErrorCode::kTimeout, "the command in sandbox " + short_id + " did not end after SIGKILL");
        timed_out = true;
        KRUNBOX_TRY_CTX(kill(), "killing the command in sandbox " + short_id + " at its timeout");
        deadline = Clock::now() + kKillGrace;
        continue;
      }
      if (n <= 0) continue;
    }
    auto frame = monitor::read_frame(fd);
    if (!frame) return std::move(frame).error().wrap("exec in sandbox " + short_id);
    if (!*frame)
      return Error(ErrorCode::kIllegalState,
                   "sandbox " + short_id + " stopped before the command ended (see its state and reason)");
    const auto& f = **frame;
    if (f.type == FrameType::kStdout || f.type == FrameType::kStderr) {
      if (abandoned) continue;
      if (!sink(f.type == FrameType::kStdout ? OutputStream::kStdout : OutputStream::kStderr, f.payload)) {
        abandoned = true;
        KRUNBOX_TRY_CTX(kill(), "killing the command in sandbox " + short_id + " for a client that went away");
        deadline = Clock::now() + kKillGrace;
      }
    } else if (f.type == FrameType::kExit) {
      KRUNBOX_ASSIGN_OR_RETURN(auto exit, monitor::parse_exit_frame(f.payload).wrap("exec in sandbox " + short_id));
      WorkloadOutcome outcome = WorkloadOutcome::from_exit(exit);
      ExecEnd end;
      end.timed_out = timed_out || outcome.timed_out();
      end.signal = outcome.status().signaled ? outcome.status().signal : 0;
      end.exit_code = end.timed_out ? kExitTimedOut : outcome.exit_code();
      return end;
    }
  }
}

}  // namespace krunbox::serve
