#include "sandbox/stdio_bridge.h"

#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>

#include "base/log.h"

namespace krunbox {

Result<std::unique_ptr<StdioBridge>> StdioBridge::create(const BridgeOptions& o) {
  auto waiter = o.signals == BridgeOptions::Signals::kScript
                    ? SignalWaiter::create({SIGINT, SIGTERM, SIGHUP})
                    : SignalWaiter::create({SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGWINCH});
  if (!waiter) return std::move(waiter).error();
  KRUNBOX_ASSIGN_OR_RETURN(auto stop_pipe, make_pipe());
  return std::unique_ptr<StdioBridge>(new StdioBridge(o, std::move(*waiter), std::move(stop_pipe)));
}

std::optional<std::pair<uint16_t, uint16_t>> StdioBridge::tty_size() const {
  if (!options_.tty) return std::nullopt;
  return terminal_size(options_.forward_stdin ? options_.in_fd : options_.out_fd);
}

Status StdioBridge::start(StdioTarget* target) {
  if (started_) return Error(ErrorCode::kIllegalState, "the stdio bridge is already started");
  if (options_.tty && options_.forward_stdin) {
    KRUNBOX_ASSIGN_OR_RETURN(auto entered, RawTerminal::enter(options_.in_fd));
    raw_.emplace(std::move(entered));
  }
  target_ = target;
  started_ = true;
  if (options_.forward_stdin && target) stdin_thread_ = std::thread(&StdioBridge::pump_stdin, this);
  signal_thread_ = std::thread(&StdioBridge::forward_signals, this);
  return {};
}

void StdioBridge::set_target(StdioTarget* target) {
  std::lock_guard lock(target_mu_);
  target_ = target;
}

void StdioBridge::stop() {
  if (stopped_) return;
  stopped_ = true;
  waiter_.stop();
  (void)write_all(stop_pipe_.write.get(), "x", 1);
  if (stdin_thread_.joinable()) stdin_thread_.join();
  if (signal_thread_.joinable()) signal_thread_.join();
  raw_.reset();
}

// Stdin goes to the target given at start, without the lock: a write that
// waits for the agent's window must not hold up a Ctrl-C.
void StdioBridge::pump_stdin() {
  StdioTarget* target = target_;
  char buf[65536];
  for (;;) {
    pollfd pfds[2] = {{options_.in_fd, POLLIN, 0}, {stop_pipe_.read.get(), POLLIN, 0}};
    if (::poll(pfds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (pfds[1].revents) return;
    ssize_t n = ::read(options_.in_fd, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) break;
    if (!target->write_stdin(std::string_view(buf, static_cast<size_t>(n))).ok()) return;
  }
  (void)target->close_stdin();
}

void StdioBridge::forward_signals() {
  while (auto got = waiter_.wait()) {
    int sig = *got;
    std::lock_guard lock(target_mu_);
    if (sig == SIGWINCH) {
      if (auto size = tty_size(); size && target_) (void)target_->resize(size->first, size->second);
      continue;
    }
    last_signal_ = sig;
    KB_DEBUG("forwarding signal {} to the workload", sig);
    if (target_) (void)target_->signal(sig);
  }
}

proto::ExecCallbacks write_streams_to(int out_fd, int err_fd) {
  proto::ExecCallbacks callbacks;
  callbacks.on_stdout = [out_fd](std::string_view d) { (void)write_all(out_fd, d.data(), d.size()); };
  callbacks.on_stderr = [err_fd](std::string_view d) { (void)write_all(err_fd, d.data(), d.size()); };
  return callbacks;
}

}  // namespace krunbox
