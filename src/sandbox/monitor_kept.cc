// The monitor's side of kept execs (monitor_execs.h): starting one, and the
// requests that come back to it by exec id.
#include <sys/socket.h>

#include <atomic>
#include <thread>

#include "base/log.h"
#include "sandbox/monitor_protocol.h"
#include "sandbox/monitor_supervisor.h"

namespace krunbox {
namespace {

using monitor::FrameType;

constexpr size_t kAttachChunk = 256u << 10;
constexpr auto kFollowPoll = std::chrono::milliseconds(200);

void reply(int fd, const Status& st) {
  (void)monitor::write_frame(fd, FrameType::kReply, monitor::encode_reply(st));
}

}  // namespace

void Monitor::keep_exec(int fd, std::unique_ptr<proto::ExecSession> session, const proto::ExecRequest& request) {
  int64_t pid = session->pid();
  auto kept = kept_.add(std::move(session), request.argv, request.tty);
  if (!kept) return reply(fd, Status(std::move(kept).error()));
  KB_DEBUG("kept exec {} (pid {})", (*kept)->exec_id(), pid);
  (void)monitor::write_frame(fd, FrameType::kReply,
                             monitor::encode_reply(monitor::ExecStarted{pid, (*kept)->exec_id()}));
}

void Monitor::relay_attach(int fd, const monitor::AttachRequest& r) {
  auto found = kept_.find(r.exec_id);
  if (!found) return reply(fd, Status(std::move(found).error()));
  KeptExec& exec = **found;
  OutputRing& ring = exec.output();
  auto first = ring.read(r.offset, 0);
  monitor::AttachStarted started{first.first_kept, first.end};
  if (!monitor::write_frame(fd, FrameType::kReply, monitor::encode_reply(started)).ok()) return;

  std::mutex write_mu;
  auto send = [&](FrameType t, std::string_view p) {
    std::lock_guard lock(write_mu);
    return monitor::write_frame(fd, t, p);
  };
  // The client's input goes to the command; its going leaves the command be.
  std::atomic<bool> client_gone{false};
  std::thread input([&] {
    for (;;) {
      auto frame = monitor::read_frame(fd);
      if (!frame.ok() || !*frame) break;
      const auto& f = **frame;
      proto::ExecSession& s = exec.session();
      if (f.type == FrameType::kStdin) {
        (void)s.write_stdin(f.payload);
      } else if (f.type == FrameType::kStdinClose) {
        (void)s.close_stdin();
      } else if (f.type == FrameType::kSignal) {
        auto sig = monitor::parse_signal_frame(f.payload);
        if (!sig) break;
        (void)s.signal(sig->signal, /*group=*/false);
      } else if (f.type == FrameType::kResize) {
        auto size = monitor::parse_resize_frame(f.payload);
        if (!size) break;
        (void)s.resize(size->rows, size->cols);
      } else {
        break;
      }
    }
    client_gone = true;
  });

  uint64_t offset = started.from;
  while (!client_gone) {
    auto rd = ring.read(offset, kAttachChunk, r.follow ? kFollowPoll : std::chrono::milliseconds(0));
    bool sent = true;
    for (const auto& c : rd.chunks) {
      sent = send(c.stream == OutputStream::kStdout ? FrameType::kStdout : FrameType::kStderr, c.data).ok();
      if (!sent) break;
    }
    if (!sent) break;
    offset = rd.end;
    if (rd.closed) {
      // Without an exit frame the client learns the sandbox went away.
      auto info = exec.info();
      if (info.exit) (void)send(FrameType::kExit, monitor::encode_frame_body(*info.exit));
      break;
    }
    if (!r.follow && rd.chunks.empty()) {
      (void)send(FrameType::kOutputEnd, {});
      break;
    }
  }
  ::shutdown(fd, SHUT_RDWR);
  input.join();
}

// Like a put's bytes: kData frames to the command's stdin until kDataEnd.
void Monitor::relay_exec_stdin(int fd, const monitor::ExecStdinRequest& r) {
  auto found = kept_.find(r.exec_id);
  if (!found) return reply(fd, Status(std::move(found).error()));
  KeptExec& exec = **found;
  auto feed = [&]() -> Status {
    if (exec.ended()) return Error(ErrorCode::kIllegalState, "background command " + r.exec_id + " has ended");
    for (;;) {
      KRUNBOX_ASSIGN_OR_RETURN(auto frame, monitor::read_frame(fd));
      if (!frame) return Error(ErrorCode::kCancelled, "the client went away before the end of the input");
      if (frame->type == FrameType::kDataEnd) break;
      if (frame->type != FrameType::kData)
        return Error(ErrorCode::kProtocol, "stdin for a background command comes in data frames, not frame type " +
                                               std::to_string(static_cast<int>(frame->type)));
      KRUNBOX_TRY_CTX(exec.session().write_stdin(frame->payload), "writing to background command " + r.exec_id);
    }
    if (r.close) KRUNBOX_TRY_CTX(exec.session().close_stdin(), "closing the stdin of background command " + r.exec_id);
    return {};
  };
  reply(fd, feed());
}

Status Monitor::exec_signal(const monitor::ExecSignalRequest& r) {
  KRUNBOX_ASSIGN_OR_RETURN(auto exec, kept_.find(r.exec_id));
  if (exec->ended()) return Error(ErrorCode::kIllegalState, "background command " + r.exec_id + " has ended");
  return exec->session().signal(r.signal, /*group=*/false);
}

Status Monitor::exec_resize(const monitor::ExecResizeRequest& r) {
  KRUNBOX_ASSIGN_OR_RETURN(auto exec, kept_.find(r.exec_id));
  if (exec->ended()) return Error(ErrorCode::kIllegalState, "background command " + r.exec_id + " has ended");
  return exec->session().resize(r.rows, r.cols);
}

}  // namespace krunbox
