#include "sandbox/exec_session.h"

#include <sys/socket.h>

#include "sandbox/exec_request.h"
#include "sandbox/monitor_messages.h"
#include "sandbox/secrets.h"

namespace krunbox {

using monitor::FrameType;

Result<std::unique_ptr<ExecSession>> ExecSession::attach(Lifecycle& lc, const std::string& id,
                                                         const std::string& exec_id, bool follow, uint64_t offset) {
  std::string short_id = id.substr(0, 12);
  if (!monitor::is_exec_id(exec_id))
    return Error(ErrorCode::kInvalidArgument, "'" + exec_id + "' is not an exec id (16 lowercase hex digits)");
  KRUNBOX_ASSIGN_OR_RETURN(auto v, lc.view(id));
  KRUNBOX_TRY(require_running(v, id));
  KRUNBOX_ASSIGN_OR_RETURN(auto conn, lc.open_request(id, monitor::AttachRequest{exec_id, follow, offset}));
  KRUNBOX_ASSIGN_OR_RETURN(Json body, read_monitor_reply(conn.get(), id).wrap("attaching to " + exec_id));
  KRUNBOX_ASSIGN_OR_RETURN(auto started, monitor::parse_attach_started(body).wrap("attaching to " + exec_id));
  auto session = std::unique_ptr<ExecSession>(new ExecSession(std::move(conn), short_id, 0));
  session->from_ = started.from;
  session->first_kept_ = started.first_kept;
  return session;
}

Result<std::unique_ptr<ExecSession>> ExecSession::start(Lifecycle& lc, const std::string& id, const Workload& w) {
  std::string short_id = id.substr(0, 12);
  KRUNBOX_ASSIGN_OR_RETURN(auto v, lc.view(id));
  KRUNBOX_TRY(require_running(v, id));
  // What the monitor will ask of the agent, less the secrets only it holds
  // (it measures again with them): too big already, nothing is sent.
  KRUNBOX_TRY_CTX(check_exec_request_size(exec_request_for(v.config.spec, w)), "exec in sandbox " + short_id);
  KRUNBOX_ASSIGN_OR_RETURN(auto conn, lc.open_request(id, monitor::ExecRequest{w}));
  auto first = monitor::read_frame(conn.get());
  if (!first) return std::move(first).error().wrap("exec in sandbox " + short_id);
  if (!*first || (*first)->type != FrameType::kReply)
    return Error(ErrorCode::kProtocol, "the monitor of sandbox " + short_id + " ended without answering");
  auto reply = monitor::parse_reply((*first)->payload);
  if (!reply) return std::move(reply).error().wrap("exec in sandbox " + short_id);
  KRUNBOX_ASSIGN_OR_RETURN(auto started, monitor::parse_exec_started(*reply).wrap("exec in sandbox " + short_id));
  return std::unique_ptr<ExecSession>(new ExecSession(std::move(conn), short_id, started.pid));
}

ExecSession::~ExecSession() {
  if (stdin_feeder_.joinable()) {
    // Unblocks a stdin write the monitor no longer reads.
    abandon();
    stdin_feeder_.join();
  }
  wipe(stdin_data_);
}

void ExecSession::feed_stdin(std::string data) {
  stdin_data_ = std::move(data);
  stdin_feeder_ = std::thread([this] {
    if (write_stdin(stdin_data_).ok()) (void)close_stdin();
  });
}

Status ExecSession::send(FrameType type, std::string_view payload) {
  std::lock_guard lock(write_mu_);
  return monitor::write_frame(conn_.get(), type, payload);
}

Status ExecSession::write_stdin(std::string_view data) {
  // Frames are bounded; a big write goes as several.
  while (!data.empty()) {
    size_t n = std::min(data.size(), monitor::kMaxFramePayload);
    KRUNBOX_TRY(send(FrameType::kStdin, data.substr(0, n)));
    data.remove_prefix(n);
  }
  return {};
}

Status ExecSession::close_stdin() {
  return send(FrameType::kStdinClose, {});
}

Status ExecSession::signal(int sig) {
  return send(FrameType::kSignal, monitor::encode_frame_body(monitor::SignalFrame{sig}));
}

Status ExecSession::resize(uint16_t rows, uint16_t cols) {
  return send(FrameType::kResize, monitor::encode_frame_body(monitor::ResizeFrame{rows, cols}));
}

void ExecSession::abandon() {
  ::shutdown(conn_.get(), SHUT_RDWR);
}

Result<WorkloadOutcome> ExecSession::wait(const Output& output) {
  KRUNBOX_ASSIGN_OR_RETURN(auto outcome, read_output(output));
  if (!outcome)
    return Error(ErrorCode::kProtocol,
                 "the monitor of sandbox " + short_id_ + " ended the output of a running command");
  return std::move(*outcome);
}

Result<std::optional<WorkloadOutcome>> ExecSession::read_output(const Output& output) {
  for (;;) {
    auto frame = monitor::read_frame(conn_.get());
    if (!frame) {
      abandon();
      return std::move(frame).error().wrap("exec in sandbox " + short_id_);
    }
    if (!*frame) break;
    const auto& f = **frame;
    if (f.type == FrameType::kStdout) {
      if (output.on_stdout) output.on_stdout(f.payload);
    } else if (f.type == FrameType::kStderr) {
      if (output.on_stderr) output.on_stderr(f.payload);
    } else if (f.type == FrameType::kExit) {
      auto exit = monitor::parse_exit_frame(f.payload);
      // Unblocks a stdin writer that waits on a monitor that no longer reads.
      abandon();
      if (!exit) return std::move(exit).error().wrap("exec in sandbox " + short_id_);
      return WorkloadOutcome::from_exit(*exit);
    } else if (f.type == FrameType::kOutputEnd) {
      abandon();
      return std::optional<WorkloadOutcome>();
    }
  }
  abandon();
  return WorkloadOutcome::crashed("sandbox " + short_id_ + " stopped before the command ended (see krunbox ps -a)");
}

}  // namespace krunbox
