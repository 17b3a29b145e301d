#include "sandbox/exec_client.h"

#include <sys/socket.h>

#include <mutex>
#include <optional>

#include "sandbox/exec_request.h"
#include "sandbox/monitor_messages.h"
#include "sandbox/monitor_protocol.h"
#include "sandbox/stdio_bridge.h"

namespace krunbox {
namespace {

using monitor::FrameType;

// The monitor's end of an exec: stdin, signals and resizes go as frames.
class MonitorStdio final : public StdioTarget {
 public:
  explicit MonitorStdio(int fd) : fd_(fd) {}
  Status write_stdin(std::string_view data) override { return send(FrameType::kStdin, data); }
  Status close_stdin() override { return send(FrameType::kStdinClose, {}); }
  Status signal(int sig) override { return send(FrameType::kSignal, monitor::encode_frame_body(monitor::SignalFrame{sig})); }
  Status resize(uint16_t rows, uint16_t cols) override {
    return send(FrameType::kResize, monitor::encode_frame_body(monitor::ResizeFrame{rows, cols}));
  }

 private:
  Status send(FrameType type, std::string_view payload) {
    std::lock_guard lock(mu_);
    return monitor::write_frame(fd_, type, payload);
  }
  int fd_;
  std::mutex mu_;
};

}  // namespace

Result<WorkloadOutcome> exec_in_sandbox(Lifecycle& lc, const std::string& id, const ExecOptions& o) {
  // Before any thread starts, so only the bridge sees the forwarded signals.
  BridgeOptions bo;
  bo.forward_stdin = o.interactive;
  bo.tty = o.tty;
  bo.in_fd = o.in_fd;
  bo.out_fd = o.out_fd;
  KRUNBOX_ASSIGN_OR_RETURN(auto bridge, StdioBridge::create(bo));
  KRUNBOX_ASSIGN_OR_RETURN(auto v, lc.view(id));
  KRUNBOX_TRY(require_running(v, id));
  std::string short_id = id.substr(0, 12);
  Workload w;
  w.argv = o.argv;
  w.env = o.env;
  w.cwd = o.cwd;
  w.user = o.user;
  w.tty = o.tty;
  w.stdin_open = o.interactive;
  w.tty_size = bridge->tty_size();
  // What the monitor will ask of the agent, less the secrets only it holds
  // (it measures again with them): too big already, nothing is sent.
  KRUNBOX_TRY_CTX(check_exec_request_size(exec_request_for(v.config.spec, w)), "exec in sandbox " + short_id);
  KRUNBOX_ASSIGN_OR_RETURN(auto conn, lc.open_request(id, monitor::ExecRequest{w}));
  int fd = conn.get();
  auto first = monitor::read_frame(fd);
  if (!first) return std::move(first).error().wrap("exec in sandbox " + short_id);
  if (!*first || (*first)->type != FrameType::kReply)
    return Error(ErrorCode::kProtocol, "the monitor of sandbox " + short_id + " ended without answering");
  auto reply = monitor::parse_reply((*first)->payload);
  if (!reply) return std::move(reply).error().wrap("exec in sandbox " + short_id);
  KRUNBOX_TRY_CTX(monitor::parse_exec_started(*reply), "exec in sandbox " + short_id);

  MonitorStdio target(fd);
  KRUNBOX_TRY(bridge->start(&target));
  std::optional<WorkloadOutcome> result;
  Status failure;
  for (;;) {
    auto frame = monitor::read_frame(fd);
    if (!frame) {
      failure = std::move(frame).error();
      break;
    }
    if (!*frame) break;
    const auto& f = **frame;
    if (f.type == FrameType::kStdout) {
      (void)write_all(o.out_fd, f.payload.data(), f.payload.size());
    } else if (f.type == FrameType::kStderr) {
      (void)write_all(o.err_fd, f.payload.data(), f.payload.size());
    } else if (f.type == FrameType::kExit) {
      auto exit = monitor::parse_exit_frame(f.payload);
      if (!exit) {
        failure = std::move(exit).error();
        break;
      }
      result = WorkloadOutcome::from_exit(*exit);
      break;
    }
  }
  // Unblocks a stdin write that waits on a monitor that no longer reads.
  ::shutdown(fd, SHUT_RDWR);
  bridge->stop();
  if (result) return *result;
  if (!failure.ok()) return std::move(failure).error().wrap("exec in sandbox " + short_id);
  return WorkloadOutcome::crashed("sandbox " + short_id + " stopped before the command ended (see krunbox ps -a)");
}

}  // namespace krunbox
