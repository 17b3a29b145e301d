#include "sandbox/one_shot.h"

#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <thread>

#include "backend/registry.h"
#include "base/log.h"
#include "base/signal_waiter.h"
#include "base/unique_fd.h"
#include "proto/agent_client.h"
#include "sandbox/exec_request.h"
#include "sandbox/terminal.h"

namespace krunbox {
namespace {

// Stops the sandbox on every path out of run_one_shot.
class StopGuard {
 public:
  StopGuard(Sandbox* sandbox, std::chrono::milliseconds grace) : sandbox_(sandbox), grace_(grace) {}
  ~StopGuard() {
    if (sandbox_ && !is_terminal(sandbox_->state())) {
      if (auto st = sandbox_->stop(grace_); !st.ok()) KB_WARN("stopping sandbox {}: {}", sandbox_->id(), st.error().what());
    }
  }
  // After the workload ended: like Docker when a container's main process
  // exits, whatever it left running is killed at once, without a grace period.
  Status stop_after_workload() {
    Sandbox* s = std::exchange(sandbox_, nullptr);
    if (!s || is_terminal(s->state())) return {};
    return s->stop(std::chrono::milliseconds(0));
  }

 private:
  Sandbox* sandbox_;
  std::chrono::milliseconds grace_;
};

// Copies our stdin into the session until EOF, or until told to stop.
void pump_stdin(int in_fd, int stop_fd, proto::ExecSession* session) {
  char buf[65536];
  for (;;) {
    pollfd pfds[2] = {{in_fd, POLLIN, 0}, {stop_fd, POLLIN, 0}};
    if (::poll(pfds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (pfds[1].revents) return;
    ssize_t n = ::read(in_fd, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) break;
    if (!session->write_stdin(std::string_view(buf, static_cast<size_t>(n))).ok()) return;
  }
  (void)session->close_stdin();
}

void forward_signals(SignalWaiter& waiter, proto::ExecSession* session, bool tty, int tty_fd) {
  while (auto got = waiter.wait()) {
    int sig = *got;
    if (sig == SIGWINCH) {
      if (!tty) continue;
      if (auto size = terminal_size(tty_fd)) (void)session->resize(size->first, size->second);
      continue;
    }
    KB_DEBUG("forwarding signal {} to the workload", sig);
    (void)session->signal(sig, /*group=*/false);
  }
}

}  // namespace

Result<OneShotOutcome> run_one_shot(const OneShotOptions& o) {
  // Before any thread starts, so only the waiter sees the forwarded signals.
  KRUNBOX_ASSIGN_OR_RETURN(auto waiter, SignalWaiter::create({SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGWINCH}));
  proto::ExecRequest req = main_process_request(o.spec, o.secret_env);
  req.tty = o.tty;
  req.stdin_open = o.interactive;
  if (o.tty) {
    auto size = terminal_size(o.interactive ? o.in_fd : o.out_fd);
    if (size) std::tie(req.rows, req.cols) = *size;
  }
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

  proto::ExecCallbacks callbacks;
  int out_fd = o.out_fd, err_fd = o.err_fd;
  // A closed stdout/stderr on our side (EPIPE) must not stop the workload's other stream.
  callbacks.on_stdout = [out_fd](std::string_view data) { (void)write_all(out_fd, data.data(), data.size()); };
  callbacks.on_stderr = [err_fd](std::string_view data) { (void)write_all(err_fd, data.data(), data.size()); };
  KRUNBOX_ASSIGN_OR_RETURN(auto session, agent->exec(req, std::move(callbacks)));

  std::optional<RawTerminal> raw;
  if (o.tty && o.interactive) {
    KRUNBOX_ASSIGN_OR_RETURN(auto entered, RawTerminal::enter(o.in_fd));
    raw.emplace(std::move(entered));
  }
  KRUNBOX_ASSIGN_OR_RETURN(auto stop_pipe, make_pipe());
  std::thread stdin_thread;
  if (o.interactive) stdin_thread = std::thread(pump_stdin, o.in_fd, stop_pipe.read.get(), session.get());
  std::thread signal_thread(forward_signals, std::ref(waiter), session.get(), o.tty,
                            o.interactive ? o.in_fd : o.out_fd);

  auto exit = session->wait();
  waiter.stop();
  (void)write_all(stop_pipe.write.get(), "x", 1);
  if (stdin_thread.joinable()) stdin_thread.join();
  signal_thread.join();
  raw.reset();

  if (!exit.ok()) {
    std::string reason = sandbox->crash_reason_within(std::chrono::seconds(3));
    return std::move(exit).error().wrap("sandbox " + short_id + (reason.empty() ? "" : " (" + reason + ")"));
  }
  outcome.status = exit->status;
  outcome.timed_out = exit->timed_out;
  session.reset();
  KRUNBOX_TRY_CTX(guard.stop_after_workload(), "stopping sandbox " + short_id);
  return outcome;
}

}  // namespace krunbox
