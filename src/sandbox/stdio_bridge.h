// The host's end of a workload's stdio, shared by run, exec and sh: our
// stdin copied in until its EOF (then the workload's stdin is closed),
// SIGINT/SIGTERM/SIGHUP/SIGQUIT forwarded, SIGWINCH turned into a pty resize,
// and the terminal in raw mode for an interactive tty. What it drives is a
// StdioTarget: an agent session (run, sh) or a monitor connection (exec).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>
#include <utility>

#include "base/signal_waiter.h"
#include "base/unique_fd.h"
#include "krunbox/error.h"
#include "proto/agent_client.h"
#include "sandbox/terminal.h"

namespace krunbox {

class StdioTarget {
 public:
  virtual ~StdioTarget() = default;
  virtual Status write_stdin(std::string_view data) = 0;
  virtual Status close_stdin() = 0;
  virtual Status signal(int sig) = 0;
  virtual Status resize(uint16_t rows, uint16_t cols) = 0;
};

// An agent session as a target; `group` sends signals to its process group.
class SessionTarget final : public StdioTarget {
 public:
  SessionTarget(proto::ExecSession* session, bool group) : session_(session), group_(group) {}
  Status write_stdin(std::string_view data) override { return session_->write_stdin(data); }
  Status close_stdin() override { return session_->close_stdin(); }
  Status signal(int sig) override { return session_->signal(sig, group_); }
  Status resize(uint16_t rows, uint16_t cols) override { return session_->resize(rows, cols); }

 private:
  proto::ExecSession* session_;
  bool group_;
};

struct BridgeOptions {
  // kWorkload: the four signals and SIGWINCH (run, exec). kScript: SIGINT,
  // SIGTERM and SIGHUP only; a sh script has no terminal of its own.
  enum class Signals { kWorkload, kScript };
  Signals signals = Signals::kWorkload;
  bool forward_stdin = false;  // -i
  bool tty = false;            // -t
  int in_fd = 0;
  int out_fd = 1;  // whose terminal size counts without -i
};

class StdioBridge {
 public:
  // Blocks the signals in the calling thread, which threads started later
  // inherit: create it before any other thread starts, so that only the
  // bridge receives them.
  static Result<std::unique_ptr<StdioBridge>> create(const BridgeOptions& options);
  ~StdioBridge() { stop(); }
  StdioBridge(const StdioBridge&) = delete;
  StdioBridge& operator=(const StdioBridge&) = delete;

  // The pty size to start a tty workload with (rows, cols), if there is a terminal.
  std::optional<std::pair<uint16_t, uint16_t>> tty_size() const;

  // Starts forwarding to `target` (which must outlive stop(); nullptr: the
  // signals are only recorded): the raw terminal, the stdin pump, the
  // signal thread.
  Status start(StdioTarget* target);
  // Points the forwarding at another target (sh: each line's session).
  void set_target(StdioTarget* target);
  // The last forwarded signal (0: none): sh stops its script on it.
  int last_signal() const { return last_signal_; }
  // Ends the forwarding and restores the terminal; idempotent.
  void stop();

 private:
  StdioBridge(const BridgeOptions& options, SignalWaiter waiter, FdPair stop_pipe)
      : options_(options), waiter_(std::move(waiter)), stop_pipe_(std::move(stop_pipe)) {}
  void pump_stdin();
  void forward_signals();

  BridgeOptions options_;
  SignalWaiter waiter_;
  FdPair stop_pipe_;
  std::optional<RawTerminal> raw_;
  std::mutex target_mu_;
  StdioTarget* target_ = nullptr;
  std::atomic<int> last_signal_{0};
  std::thread stdin_thread_;
  std::thread signal_thread_;
  bool started_ = false;
  bool stopped_ = false;
};

// Output callbacks that write a session's streams to our fds. A closed fd
// on our side (EPIPE) does not stop the other stream.
proto::ExecCallbacks write_streams_to(int out_fd, int err_fd);

}  // namespace krunbox
