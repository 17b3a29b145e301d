#include "sandbox/exec_client.h"

#include "sandbox/exec_session.h"
#include "sandbox/stdio_bridge.h"

namespace krunbox {

Result<WorkloadOutcome> exec_in_sandbox(Lifecycle& lc, const std::string& id, const ExecOptions& o) {
  // Before any thread starts, so only the bridge sees the forwarded signals.
  BridgeOptions bo;
  bo.forward_stdin = o.interactive;
  bo.tty = o.tty;
  bo.in_fd = o.in_fd;
  bo.out_fd = o.out_fd;
  KRUNBOX_ASSIGN_OR_RETURN(auto bridge, StdioBridge::create(bo));
  Workload w;
  w.argv = o.argv;
  w.env = o.env;
  w.cwd = o.cwd;
  w.user = o.user;
  w.tty = o.tty;
  w.stdin_open = o.interactive;
  w.tty_size = bridge->tty_size();
  KRUNBOX_ASSIGN_OR_RETURN(auto session, ExecSession::start(lc, id, w));
  KRUNBOX_TRY(bridge->start(session.get()));
  ExecSession::Output output;
  output.on_stdout = [&](std::string_view d) { (void)write_all(o.out_fd, d.data(), d.size()); };
  output.on_stderr = [&](std::string_view d) { (void)write_all(o.err_fd, d.data(), d.size()); };
  auto outcome = session->wait(output);
  bridge->stop();
  return outcome;
}

}  // namespace krunbox
