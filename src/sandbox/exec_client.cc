#include "sandbox/exec_client.h"

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mutex>
#include <optional>
#include <thread>

#include "base/signal_waiter.h"
#include "sandbox/exec_request.h"
#include "sandbox/monitor_protocol.h"
#include "sandbox/terminal.h"

namespace krunbox {
namespace {

using monitor::FrameType;

}  // namespace

Result<ExecResult> exec_in_sandbox(Lifecycle& lc, const std::string& id, const ExecOptions& o) {
  // Before any thread starts, so only the waiter sees the forwarded signals.
  KRUNBOX_ASSIGN_OR_RETURN(auto waiter, SignalWaiter::create({SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGWINCH}));
  KRUNBOX_ASSIGN_OR_RETURN(auto v, lc.view(id));
  KRUNBOX_TRY(require_running(v, id));
  {
    // What the monitor will ask of the agent, less the secrets only it holds
    // (it measures again with them): too big already, nothing is sent.
    proto::ExecRequest est;
    est.argv = o.argv;
    est.env = v.config.spec.env;
    est.env.insert(est.env.end(), o.env.begin(), o.env.end());
    est.cwd = o.cwd.empty() ? v.config.spec.cwd : o.cwd;
    est.user = o.user.empty() ? v.config.spec.user : o.user;
    est.tty = o.tty;
    est.stdin_open = o.interactive;
    KRUNBOX_TRY_CTX(check_exec_request_size(est), "exec in sandbox " + id.substr(0, 12));
  }
  Json req = {{"op", "exec"},   {"argv", o.argv}, {"env", o.env},          {"cwd", o.cwd},
              {"user", o.user}, {"tty", o.tty},   {"stdin", o.interactive}};
  if (o.tty) {
    if (auto size = terminal_size(o.interactive ? o.in_fd : o.out_fd)) {
      req["rows"] = size->first;
      req["cols"] = size->second;
    }
  }
  KRUNBOX_ASSIGN_OR_RETURN(auto conn, lc.open_request(id, req));
  int fd = conn.get();
  auto first = monitor::read_frame(fd);
  if (!first) return std::move(first).error().wrap("exec in sandbox " + id.substr(0, 12));
  if (!*first || (*first)->type != FrameType::kReply)
    return Error(ErrorCode::kProtocol, "the monitor of sandbox " + id.substr(0, 12) + " ended without answering");
  KRUNBOX_ASSIGN_OR_RETURN(auto reply, monitor::parse_object((*first)->payload, "exec reply"));
  if (!reply.value("ok", false))
    return Error(ErrorCode::kIllegalState, reply.value("error", std::string("exec refused")))
        .wrap("exec in sandbox " + id.substr(0, 12));

  std::optional<RawTerminal> raw;
  if (o.tty && o.interactive) {
    KRUNBOX_ASSIGN_OR_RETURN(auto entered, RawTerminal::enter(o.in_fd));
    raw.emplace(std::move(entered));
  }
  std::mutex write_mu;
  auto send = [&](FrameType t, std::string_view p) {
    std::lock_guard lock(write_mu);
    return monitor::write_frame(fd, t, p);
  };
  KRUNBOX_ASSIGN_OR_RETURN(auto stop_pipe, make_pipe());
  std::thread input;
  if (o.interactive) {
    input = std::thread([&] {
      char buf[32768];
      for (;;) {
        pollfd p[2] = {{o.in_fd, POLLIN, 0}, {stop_pipe.read.get(), POLLIN, 0}};
        if (::poll(p, 2, -1) < 0) {
          if (errno == EINTR) continue;
          break;
        }
        if (p[1].revents) return;
        ssize_t n = ::read(o.in_fd, buf, sizeof buf);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n <= 0) break;
        if (!send(FrameType::kStdin, std::string_view(buf, static_cast<size_t>(n))).ok()) return;
      }
      (void)send(FrameType::kStdinClose, {});
    });
  }
  std::thread forwarder([&] {
    while (auto got = waiter.wait()) {
      int sig = *got;
      if (sig == SIGWINCH) {
        if (!o.tty) continue;
        if (auto size = terminal_size(o.interactive ? o.in_fd : o.out_fd))
          (void)send(FrameType::kResize, Json{{"rows", size->first}, {"cols", size->second}}.dump());
        continue;
      }
      (void)send(FrameType::kSignal, Json{{"signal", sig}}.dump());
    }
  });

  std::optional<ExecResult> result;
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
      auto j = monitor::parse_object(f.payload, "exit frame");
      if (!j) {
        failure = std::move(j).error();
        break;
      }
      ExecResult r;
      r.status = ExitStatus{j->value("signaled", false), j->value("code", 0), j->value("signal", 0)};
      r.timed_out = j->value("timed_out", false);
      result = r;
      break;
    }
  }
  waiter.stop();
  (void)write_all(stop_pipe.write.get(), "x", 1);
  ::shutdown(fd, SHUT_RDWR);
  if (input.joinable()) input.join();
  forwarder.join();
  raw.reset();
  if (result) return *result;
  if (!failure.ok()) return std::move(failure).error().wrap("exec in sandbox " + id.substr(0, 12));
  return Error(ErrorCode::kCancelled,
               "sandbox " + id.substr(0, 12) + " stopped before the command ended (see krunbox ps -a)");
}

}  // namespace krunbox
