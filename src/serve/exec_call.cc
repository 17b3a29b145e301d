#include "serve/exec_call.h"

#include "sandbox/secrets.h"

namespace krunbox::serve {

ExecCall::~ExecCall() {
  // Unblocks a stdin write the monitor no longer reads.
  session_->abandon();
  // Exec's env may carry the client's credentials.
  for (auto& e : params_.workload.env) wipe(e);
  if (params_.stdin_data) wipe(*params_.stdin_data);
}

Result<std::unique_ptr<ExecCall>> ExecCall::start(Lifecycle& lc, const std::string& id, ExecParams params) {
  params.workload.stdin_open = params.stdin_data.has_value();
  params.workload.tty = false;
  params.workload.timeout = params.timeout;
  KRUNBOX_ASSIGN_OR_RETURN(auto session, ExecSession::start(lc, id, params.workload));
  std::unique_ptr<ExecCall> call(new ExecCall(std::move(session), id, std::move(params)));
  if (call->params_.stdin_data) call->session_->feed_stdin(*call->params_.stdin_data);
  return call;
}

Result<ExecEnd> ExecCall::run(const OutputSink& sink) {
  bool gone = false;
  auto to = [&](OutputStream s) {
    return [&, s](std::string_view data) {
      if (gone || sink(s, data)) return;
      // The monitor ends the command of a connection that closes.
      gone = true;
      session_->abandon();
    };
  };
  KRUNBOX_ASSIGN_OR_RETURN(WorkloadOutcome outcome,
                           session_->wait({to(OutputStream::kStdout), to(OutputStream::kStderr)}));
  if (gone) return Error(ErrorCode::kCancelled, "the client went away; the command was ended");
  return exec_end_of(outcome);
}

Result<ExecEnd> exec_end_of(const WorkloadOutcome& outcome) {
  if (outcome.crashed()) return Error(ErrorCode::kIllegalState, outcome.reason());
  ExecEnd end;
  end.timed_out = outcome.timed_out();
  end.signal = outcome.status().signaled ? outcome.status().signal : 0;
  end.exit_code = outcome.exit_code();
  return end;
}

}  // namespace krunbox::serve
