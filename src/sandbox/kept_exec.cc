#include "sandbox/kept_exec.h"

#include "sandbox/exec_request.h"
#include "sandbox/monitor_protocol.h"

namespace krunbox {
namespace {

using namespace std::chrono_literals;

constexpr auto kKeptCallTimeout = 30s;

Status check_exec_id(const std::string& exec_id) {
  if (monitor::is_exec_id(exec_id)) return {};
  return Error(ErrorCode::kInvalidArgument, "'" + exec_id + "' is not an exec id (16 lowercase hex digits)");
}

Status check_running(Lifecycle& lc, const std::string& id) {
  KRUNBOX_ASSIGN_OR_RETURN(auto v, lc.view(id));
  return require_running(v, id);
}

}  // namespace

Result<KeptExecStarted> start_kept_exec(Lifecycle& lc, const std::string& id, const Workload& w) {
  KRUNBOX_ASSIGN_OR_RETURN(auto v, lc.view(id));
  KRUNBOX_TRY(require_running(v, id));
  KRUNBOX_TRY_CTX(check_exec_request_size(exec_request_for(v.config.spec, w)), "exec in sandbox " + id.substr(0, 12));
  monitor::ExecRequest request{w, /*keep=*/true};
  KRUNBOX_ASSIGN_OR_RETURN(Json body, lc.call(id, request, kKeptCallTimeout));
  KRUNBOX_ASSIGN_OR_RETURN(auto started, monitor::parse_exec_started(body));
  if (started.exec_id.empty())
    return Error(ErrorCode::kProtocol, "the monitor of sandbox " + id.substr(0, 12) + " gave no exec id");
  return KeptExecStarted{started.exec_id, started.pid};
}

Result<std::vector<KeptExecInfo>> list_kept_execs(Lifecycle& lc, const std::string& id) {
  KRUNBOX_TRY(check_running(lc, id));
  KRUNBOX_ASSIGN_OR_RETURN(Json body, lc.call(id, monitor::ExecsRequest{}, kKeptCallTimeout));
  KRUNBOX_ASSIGN_OR_RETURN(auto reply, monitor::parse_execs_reply(body));
  return std::move(reply.execs);
}

Result<KeptExecInfo> kept_exec_info(Lifecycle& lc, const std::string& id, const std::string& exec_id) {
  KRUNBOX_TRY(check_exec_id(exec_id));
  KRUNBOX_ASSIGN_OR_RETURN(auto execs, list_kept_execs(lc, id));
  for (auto& e : execs)
    if (e.exec_id == exec_id) return std::move(e);
  return Error(ErrorCode::kNotFound, "no background command " + exec_id + " in sandbox " + id.substr(0, 12));
}

Status write_kept_exec_stdin(Lifecycle& lc, const std::string& id, const std::string& exec_id, std::string_view data,
                             bool close) {
  KRUNBOX_TRY(check_exec_id(exec_id));
  KRUNBOX_TRY(check_running(lc, id));
  KRUNBOX_ASSIGN_OR_RETURN(auto conn, lc.open_request(id, monitor::ExecStdinRequest{exec_id, close}));
  // A refusal (no such command, ended) comes before the data is read: a
  // failed write means the answer is waiting.
  while (!data.empty()) {
    size_t n = std::min(data.size(), monitor::kMaxFramePayload);
    if (!monitor::write_frame(conn.get(), monitor::FrameType::kData, data.substr(0, n)).ok()) break;
    data.remove_prefix(n);
  }
  if (data.empty()) (void)monitor::write_frame(conn.get(), monitor::FrameType::kDataEnd, {});
  return status_of(read_monitor_reply(conn.get(), id));
}

Status signal_kept_exec(Lifecycle& lc, const std::string& id, const std::string& exec_id, int signal) {
  KRUNBOX_TRY(check_exec_id(exec_id));
  KRUNBOX_TRY(check_running(lc, id));
  return status_of(lc.call(id, monitor::ExecSignalRequest{exec_id, signal}, kKeptCallTimeout));
}

Status resize_kept_exec(Lifecycle& lc, const std::string& id, const std::string& exec_id, uint16_t rows,
                        uint16_t cols) {
  KRUNBOX_TRY(check_exec_id(exec_id));
  KRUNBOX_TRY(check_running(lc, id));
  return status_of(lc.call(id, monitor::ExecResizeRequest{exec_id, rows, cols}, kKeptCallTimeout));
}

}  // namespace krunbox
