// A command in a long-lived sandbox, through its monitor, with no
// process-wide side effects: no signal blocking or forwarding, no terminal
// handling. For the library's callers and servers, which own their signals;
// the CLI's exec_in_sandbox is this plus a StdioBridge.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "base/unique_fd.h"
#include "krunbox/error.h"
#include "sandbox/lifecycle.h"
#include "sandbox/monitor_protocol.h"
#include "sandbox/stdio_bridge.h"
#include "sandbox/workload.h"

namespace krunbox {

class ExecSession final : public StdioTarget {
 public:
  // Starts `workload` (argv, env over the sandbox's, cwd, user, tty,
  // stdin_open, timeout) in running sandbox `id`; fails, sending nothing,
  // when the request is too big or the sandbox is not running.
  static Result<std::unique_ptr<ExecSession>> start(Lifecycle& lifecycle, const std::string& id,
                                                    const Workload& workload);
  // Attaches to background command `exec_id` (kept_exec.h): its output from
  // byte `offset` (what was dropped skipped; see first_kept()), and with
  // `follow` on until it ends. Input goes to it; the session's end, or
  // abandon(), leaves it running.
  static Result<std::unique_ptr<ExecSession>> attach(Lifecycle& lifecycle, const std::string& id,
                                                     const std::string& exec_id, bool follow, uint64_t offset);
  ~ExecSession() override;

  // An attachment's start: the offset of its first byte, and of the first
  // byte still kept (earlier ones were dropped).
  uint64_t from() const { return from_; }
  uint64_t first_kept() const { return first_kept_; }

  // The command's pid inside the sandbox.
  int64_t pid() const { return pid_; }

  // Thread-safe; may be called while another thread is in wait().
  Status write_stdin(std::string_view data) override;
  Status close_stdin() override;
  Status signal(int sig) override;
  Status resize(uint16_t rows, uint16_t cols) override;
  // Writes `data` to the command's stdin, then closes it, on a thread of its
  // own so a command that writes before it reads cannot block the feed.
  // Call at most once, before wait(); the destructor ends and joins it and
  // wipes the data (it may carry credentials).
  void feed_stdin(std::string data);

  struct Output {
    std::function<void(std::string_view)> on_stdout;
    std::function<void(std::string_view)> on_stderr;
  };
  // Hands the output to `output` as it arrives (on this thread) until the
  // command ends; its outcome. A sandbox that goes away first: kCrashed.
  Result<WorkloadOutcome> wait(const Output& output);
  // For an attachment without follow: as wait(), but nullopt once the
  // output kept so far went and the command still runs.
  Result<std::optional<WorkloadOutcome>> read_output(const Output& output);
  // Ends the connection: a wait() in progress returns, and the monitor
  // ends the command, as for any client that goes away.
  void abandon();

 private:
  ExecSession(UniqueFd conn, std::string short_id, int64_t pid)
      : conn_(std::move(conn)), short_id_(std::move(short_id)), pid_(pid) {}
  Status send(monitor::FrameType type, std::string_view payload);

  UniqueFd conn_;
  std::string short_id_;
  int64_t pid_ = 0;
  uint64_t from_ = 0;
  uint64_t first_kept_ = 0;
  std::mutex write_mu_;
  std::string stdin_data_;
  std::thread stdin_feeder_;
};

}  // namespace krunbox
