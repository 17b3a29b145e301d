#include "sandbox/one_shot.h"

#include "backend/registry.h"
#include "base/log.h"
#include "proto/agent_client.h"
#include "sandbox/exec_request.h"
#include "sandbox/secrets.h"
#include "sandbox/stdio_bridge.h"
#include "sandbox/stop_guard.h"

namespace krunbox {
Result<OneShotOutcome> run_one_shot(const OneShotOptions& o) {
  // Before any thread starts, so only the bridge sees the forwarded signals.
  BridgeOptions bo;
  bo.forward_stdin = o.interactive;
  bo.tty = o.tty;
  bo.in_fd = o.in_fd;
  bo.out_fd = o.out_fd;
  KRUNBOX_ASSIGN_OR_RETURN(auto bridge, StdioBridge::create(bo));
  Workload w = main_workload(o.spec, o.secret_env);
  w.tty = o.tty;
  w.stdin_open = o.interactive;
  w.tty_size = bridge->tty_size();
  proto::ExecRequest req = exec_request_for(o.spec, w);
  for (auto& kv : w.env) wipe(kv);
  struct Wipe {
    proto::ExecRequest& r;
    ~Wipe() { wipe_env(r); }
  } wipe_req{req};
  // Before a backend is picked and a sandbox starts: the agent would refuse it anyway.
  KRUNBOX_TRY(check_exec_request_size(req));
  KRUNBOX_ASSIGN_OR_RETURN(auto choice, select_backend(o.backend, o.require_vm));
  if (o.on_backend) o.on_backend(choice.report.backend, choice.report.isolation);
  OneShotOutcome outcome;
  outcome.backend = choice.report.backend;
  std::string short_id = o.spec.id.substr(0, 12);

  KRUNBOX_ASSIGN_OR_RETURN(auto sandbox, choice.backend->create(o.spec));
  StopGuard guard(sandbox.get(), o.stop_grace);
  KRUNBOX_TRY_CTX(sandbox->start(), "starting sandbox " + short_id + " (" + outcome.backend + ")");
  proto::AgentClient* agent = sandbox->agent();
  if (!agent) return Error(ErrorCode::kInternal, "sandbox " + short_id + " has no agent connection");

  KRUNBOX_ASSIGN_OR_RETURN(auto session, agent->exec(req, write_streams_to(o.out_fd, o.err_fd)));
  SessionTarget target(session.get(), /*group=*/false);
  KRUNBOX_TRY(bridge->start(&target));
  auto exit = session->wait();
  bridge->stop();

  if (!exit.ok()) {
    std::string reason = sandbox->crash_reason_within(std::chrono::seconds(3));
    Error e = std::move(exit).error().wrap("sandbox " + short_id + (reason.empty() ? "" : " (" + reason + ")"));
    outcome.workload = WorkloadOutcome::crashed(e.what());
    return outcome;
  }
  outcome.workload = WorkloadOutcome::from_exit(*exit);
  session.reset();
  KRUNBOX_TRY_CTX(guard.stop_after_workload(), "stopping sandbox " + short_id);
  return outcome;
}

}  // namespace krunbox
